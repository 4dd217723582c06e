#include "kvm/kvm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "util/err.h"

struct cap_need {
	int cap;
	const char *name;
};

/* Capabilities every architecture's VM uses. */
static const struct cap_need common_caps[] = {
	{ KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY" },
	{ KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP" },
	{ KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD" },
	{ KVM_CAP_IRQFD, "KVM_CAP_IRQFD" },
	{ KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT" },
	{ KVM_CAP_MP_STATE, "KVM_CAP_MP_STATE" },
};

int kvm_open(struct kvm *k, const char *path)
{
	int v, r;

	memset(k, 0, sizeof(*k));
	k->vm_fd = -1;
	k->fd = open(path, O_RDWR | O_CLOEXEC);
	if (k->fd < 0) {
		int e = errno;

		if (e == ENOENT)
			return err_set(-e, "%s does not exist: load the KVM module (modprobe kvm_intel "
				       "or kvm_amd) and enable virtualization in the firmware", path);
		if (e == EACCES || e == EPERM)
			return err_set(-e, "%s: permission denied: add yourself to the group that owns "
				       "it (usually 'kvm') or run as root", path);
		return err_set(-e, "%s: cannot open: %s", path, strerror(e));
	}
	v = ioctl(k->fd, KVM_GET_API_VERSION, 0);
	if (v != KVM_API_VERSION) {
		r = err_set(-ENOTSUP, "%s: KVM API version %d, Ember needs %d", path, v,
			    KVM_API_VERSION);
		goto fail;
	}
	for (size_t i = 0; i < sizeof(common_caps) / sizeof(common_caps[0]); i++) {
		if (ioctl(k->fd, KVM_CHECK_EXTENSION, common_caps[i].cap) <= 0) {
			r = err_set(-ENOTSUP, "%s: the host KVM lacks %s, which Ember needs", path,
				    common_caps[i].name);
			goto fail;
		}
	}
	v = ioctl(k->fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_MEMSLOTS);
	if (v < 2) {
		r = err_set(-ENOTSUP, "%s: KVM offers %d memory slots, Ember needs 2", path, v);
		goto fail;
	}
	v = ioctl(k->fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	if (v <= 0)
		v = ioctl(k->fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	k->max_vcpus = v > 0 ? (unsigned int)v : 1;
	k->vcpu_mmap_size = ioctl(k->fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (k->vcpu_mmap_size <= 0) {
		r = err_set(-ENOTSUP, "%s: KVM_GET_VCPU_MMAP_SIZE failed", path);
		goto fail;
	}
	r = arch_kvm_check_caps(k);
	if (r < 0)
		goto fail;
	return 0;
fail:
	kvm_close(k);
	return r;
}

int kvm_create_vm(struct kvm *k)
{
	int r;

	k->vm_fd = ioctl(k->fd, KVM_CREATE_VM, 0);
	if (k->vm_fd < 0)
		return err_set(-errno, "KVM_CREATE_VM failed: %s", strerror(errno));
	r = arch_kvm_vm_setup(k);
	if (r < 0)
		return r;
	return 0;
}

int kvm_set_memslot(struct kvm *k, uint32_t slot, uint64_t gpa, uint64_t size, void *host)
{
	struct kvm_userspace_memory_region region = {
		.slot = slot,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uint64_t)(uintptr_t)host,
	};

	if (ioctl(k->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		return err_set(-errno, "KVM refused %llu MiB of guest memory at 0x%llx: %s "
			       "(use a smaller --memory)", (unsigned long long)(size >> 20),
			       (unsigned long long)gpa, strerror(errno));
	return 0;
}

int kvm_irqfd(struct kvm *k, int efd, unsigned int gsi)
{
	struct kvm_irqfd irqfd = { .fd = (uint32_t)efd, .gsi = gsi };

	if (ioctl(k->vm_fd, KVM_IRQFD, &irqfd) < 0)
		return err_set(-errno, "KVM_IRQFD for GSI %u failed: %s", gsi, strerror(errno));
	return 0;
}

int kvm_ioeventfd(struct kvm *k, int efd, uint64_t addr, uint32_t len, uint64_t datamatch)
{
	struct kvm_ioeventfd io = {
		.datamatch = datamatch, .addr = addr, .len = len, .fd = efd,
		.flags = KVM_IOEVENTFD_FLAG_DATAMATCH,
	};

	if (ioctl(k->vm_fd, KVM_IOEVENTFD, &io) < 0)
		return err_set(-errno, "KVM_IOEVENTFD at 0x%llx failed: %s", (unsigned long long)addr,
			       strerror(errno));
	return 0;
}

void kvm_close(struct kvm *k)
{
	if (k->vm_fd >= 0)
		close(k->vm_fd);
	if (k->fd > 0)
		close(k->fd);
	free(k->supported_cpuid);
	memset(k, 0, sizeof(*k));
	k->fd = -1;
	k->vm_fd = -1;
}
