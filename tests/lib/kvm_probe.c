// kvm_probe: is this machine's /dev/kvm usable? Used by tests/kvm-host.sh to decide
// between the host's KVM and the nested test host.
//
//   kvm_probe [DEVICE]      exit 0 and print "usable: <what>" if DEVICE (default
//                           /dev/kvm) opens, creates a VM and runs a one-instruction
//                           guest to a HLT exit; otherwise exit 1 and print why.
//
// "Exists" is not enough: a /dev/kvm can be present yet refuse VMs (no virtualization
// underneath, a module half loaded, no permission). The guest is one HLT byte in real
// mode at guest-physical 0x1000; the probe is bounded by an alarm so a KVM that never
// returns from KVM_RUN cannot hang the test run.
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

static int fail(const char *what)
{
	printf("not usable: %s: %s\n", what, strerror(errno));
	return 1;
}

// The module behind the device, for the report ("kvm_amd", "kvm_intel", "kvm_pvm"...).
static const char *kvm_flavour(void)
{
	static const char *const mods[] = { "kvm_pvm", "kvm_amd", "kvm_intel" };
	char path[64];
	for (size_t i = 0; i < sizeof(mods) / sizeof(mods[0]); i++) {
		snprintf(path, sizeof(path), "/sys/module/%s", mods[i]);
		if (access(path, F_OK) == 0)
			return mods[i];
	}
	return "kvm";
}

int main(int argc, char **argv)
{
	const char *dev = argc > 1 ? argv[1] : "/dev/kvm";
	alarm(10);
	int kvm = open(dev, O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		return fail(dev);
	int api = ioctl(kvm, KVM_GET_API_VERSION, 0);
	if (api != KVM_API_VERSION) {
		printf("not usable: %s: KVM API version %d, want %d\n", dev, api, KVM_API_VERSION);
		return 1;
	}
	int vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0)
		return fail("KVM_CREATE_VM");
	size_t mem_size = 0x2000;
	unsigned char *mem = mmap(NULL, mem_size, PROT_READ | PROT_WRITE,
	                          MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return fail("mmap");
	mem[0x1000] = 0xf4;  // hlt
	struct kvm_userspace_memory_region region = {
		.slot = 0, .guest_phys_addr = 0, .memory_size = mem_size,
		.userspace_addr = (unsigned long)mem,
	};
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		return fail("KVM_SET_USER_MEMORY_REGION");
	int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	if (vcpu < 0)
		return fail("KVM_CREATE_VCPU");
	int run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (run_size <= 0)
		return fail("KVM_GET_VCPU_MMAP_SIZE");
	struct kvm_run *run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE,
	                           MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED)
		return fail("mmap kvm_run");
	struct kvm_sregs sregs;
	if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0)
		return fail("KVM_GET_SREGS");
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0)
		return fail("KVM_SET_SREGS");
	struct kvm_regs regs = { .rip = 0x1000, .rflags = 0x2 };
	if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0)
		return fail("KVM_SET_REGS");
	if (ioctl(vcpu, KVM_RUN, 0) < 0)
		return fail("KVM_RUN");
	if (run->exit_reason != KVM_EXIT_HLT) {
		printf("not usable: the one-instruction guest exited with reason %u, want HLT (%d)\n",
		       run->exit_reason, KVM_EXIT_HLT);
		return 1;
	}
	printf("usable: %s (%s)\n", dev, kvm_flavour());
	return 0;
}
