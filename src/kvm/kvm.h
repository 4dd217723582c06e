/* /dev/kvm: open it, check the API version and every capability Ember relies on, and
 * create the VM. Each missing piece is named in the error. */
#ifndef EMBER_KVM_KVM_H
#define EMBER_KVM_KVM_H

#include <linux/kvm.h>
#include <stdint.h>

struct kvm {
	int fd;                 /* /dev/kvm */
	int vm_fd;
	int vcpu_mmap_size;
	unsigned int max_vcpus;
	struct kvm_cpuid2 *supported_cpuid;
};

/* Opens path (normally "/dev/kvm") and checks capabilities. */
int kvm_open(struct kvm *k, const char *path);
/* Creates the VM with the in-kernel irqchip and PIT (arch part in arch/). */
int kvm_create_vm(struct kvm *k);
int kvm_set_memslot(struct kvm *k, uint32_t slot, uint64_t gpa, uint64_t size, void *host);
/* Registers eventfd efd to pulse GSI gsi. */
int kvm_irqfd(struct kvm *k, int efd, unsigned int gsi);
/* Registers eventfd efd to be signalled, with no exit to user space, when the guest
 * writes the len-byte value datamatch at MMIO address addr. */
int kvm_ioeventfd(struct kvm *k, int efd, uint64_t addr, uint32_t len, uint64_t datamatch);
void kvm_close(struct kvm *k);

/* Architecture hooks, implemented under arch/. */
int arch_kvm_check_caps(struct kvm *k);
int arch_kvm_vm_setup(struct kvm *k);

#endif
