/* x86 parts of VM and vCPU creation: irqchip, PIT, TSS, CPUID, boot register state. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "arch/x86/cpu_boot.h"
#include "arch/x86/cpuid.h"
#include "arch/x86/layout.h"
#include "arch/x86/vcpu_x86.h"
#include "kvm/kvm.h"
#include "util/err.h"
#include "util/log.h"

#define CPUID_MAX_ENTRIES 256
#define RFLAGS_IF (1ULL << 9)

int arch_kvm_check_caps(struct kvm *k)
{
	static const struct { int cap; const char *name; } caps[] = {
		{ KVM_CAP_PIT2, "KVM_CAP_PIT2" },
		{ KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR" },
		{ KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID" },
	};
	struct kvm_cpuid2 *cpuid;

	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
		if (ioctl(k->fd, KVM_CHECK_EXTENSION, caps[i].cap) <= 0)
			return err_set(-ENOTSUP, "the host KVM lacks %s, which Ember needs",
				       caps[i].name);

	cpuid = calloc(1, sizeof(*cpuid) + CPUID_MAX_ENTRIES * sizeof(cpuid->entries[0]));
	if (!cpuid)
		return err_set(-ENOMEM, "out of memory");
	cpuid->nent = CPUID_MAX_ENTRIES;
	if (ioctl(k->fd, KVM_GET_SUPPORTED_CPUID, cpuid) < 0) {
		int e = errno;

		free(cpuid);
		return err_set(-e, "KVM_GET_SUPPORTED_CPUID failed: %s", strerror(e));
	}
	k->supported_cpuid = cpuid;
	return 0;
}

int arch_kvm_vm_setup(struct kvm *k)
{
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	uint64_t identity = LAYOUT_KVM_IDENTITY;

	/* Intel without unrestricted guest needs these two pages; harmless elsewhere. */
	if (ioctl(k->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)LAYOUT_KVM_TSS) < 0)
		return err_set(-errno, "KVM_SET_TSS_ADDR failed: %s", strerror(errno));
	if (ioctl(k->fd, KVM_CHECK_EXTENSION, KVM_CAP_SET_IDENTITY_MAP_ADDR) > 0 &&
	    ioctl(k->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &identity) < 0)
		return err_set(-errno, "KVM_SET_IDENTITY_MAP_ADDR failed: %s", strerror(errno));
	if (ioctl(k->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
		return err_set(-errno, "KVM_CREATE_IRQCHIP (in-kernel PIC, IOAPIC, LAPIC) failed: %s",
			       strerror(errno));
	if (ioctl(k->vm_fd, KVM_CREATE_PIT2, &pit) < 0)
		return err_set(-errno, "KVM_CREATE_PIT2 failed: %s", strerror(errno));
	return 0;
}

static int set_cpuid(struct kvm *k, int fd, unsigned int id, unsigned int ncpus)
{
	const struct kvm_cpuid2 *sup = k->supported_cpuid;
	size_t bytes = sizeof(*sup) + sup->nent * sizeof(sup->entries[0]);
	struct kvm_cpuid2 *c = malloc(bytes);
	int r = 0;

	if (!c)
		return err_set(-ENOMEM, "out of memory");
	memcpy(c, sup, bytes);
	cpuid_filter(c->entries, c->nent, id, ncpus);
	if (ioctl(fd, KVM_SET_CPUID2, c) < 0)
		r = err_set(-errno, "vCPU %u: KVM_SET_CPUID2 failed: %s", id, strerror(errno));
	free(c);
	return r;
}

static int set_msrs(int fd, unsigned int id)
{
	enum { MAX_MSRS = 16 };
	union {
		struct kvm_msrs hdr;
		uint8_t bytes[sizeof(struct kvm_msrs) + MAX_MSRS * sizeof(struct kvm_msr_entry)];
	} m;
	int n;

	memset(&m, 0, sizeof(m));
	m.hdr.nmsrs = cpu_boot_msrs(m.hdr.entries, MAX_MSRS);
	n = ioctl(fd, KVM_SET_MSRS, &m);
	if (n < 0)
		return err_set(-errno, "vCPU %u: KVM_SET_MSRS failed: %s", id, strerror(errno));
	if ((unsigned int)n != m.hdr.nmsrs)
		return err_set(-EINVAL, "vCPU %u: KVM refused MSR 0x%x", id, m.hdr.entries[n].index);
	return 0;
}

static int set_lapic(int fd, unsigned int id)
{
	struct kvm_lapic_state lapic;

	if (ioctl(fd, KVM_GET_LAPIC, &lapic) < 0)
		return err_set(-errno, "vCPU %u: KVM_GET_LAPIC failed: %s", id, strerror(errno));
	cpu_boot_lapic(&lapic);
	if (ioctl(fd, KVM_SET_LAPIC, &lapic) < 0)
		return err_set(-errno, "vCPU %u: KVM_SET_LAPIC failed: %s", id, strerror(errno));
	return 0;
}

static int set_boot_regs(int fd, uint64_t entry)
{
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_fpu fpu;

	if (ioctl(fd, KVM_GET_SREGS, &sregs) < 0)
		return err_set(-errno, "KVM_GET_SREGS failed: %s", strerror(errno));
	cpu_boot_sregs(&sregs);
	if (ioctl(fd, KVM_SET_SREGS, &sregs) < 0)
		return err_set(-errno, "KVM_SET_SREGS failed: %s", strerror(errno));
	cpu_boot_regs(&regs, entry);
	if (ioctl(fd, KVM_SET_REGS, &regs) < 0)
		return err_set(-errno, "KVM_SET_REGS failed: %s", strerror(errno));
	cpu_boot_fpu(&fpu);
	if (ioctl(fd, KVM_SET_FPU, &fpu) < 0)
		return err_set(-errno, "KVM_SET_FPU failed: %s", strerror(errno));
	return 0;
}

int arch_vcpu_setup(struct kvm *k, int vcpu_fd, unsigned int id, unsigned int ncpus,
		    uint64_t entry)
{
	int r;

	r = set_cpuid(k, vcpu_fd, id, ncpus);
	if (r < 0)
		return r;
	r = set_msrs(vcpu_fd, id);
	if (r < 0)
		return r;
	r = set_lapic(vcpu_fd, id);
	if (r < 0)
		return r;
	if (id == 0)
		return set_boot_regs(vcpu_fd, entry);
	return 0;
}

int arch_vcpu_halted_for_good(int vcpu_fd)
{
	struct kvm_mp_state mp;
	struct kvm_regs regs;

	if (ioctl(vcpu_fd, KVM_GET_MP_STATE, &mp) < 0)
		return 0;
	if (mp.mp_state == KVM_MP_STATE_UNINITIALIZED || mp.mp_state == KVM_MP_STATE_INIT_RECEIVED)
		return 1;  /* an AP nobody started: only another vCPU's IPI can wake it */
	if (mp.mp_state != KVM_MP_STATE_HALTED)
		return 0;
	if (ioctl(vcpu_fd, KVM_GET_REGS, &regs) < 0)
		return 0;
	return !(regs.rflags & RFLAGS_IF);
}
