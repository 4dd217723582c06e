/* Per-vCPU CPUID: KVM's supported set with this vCPU's APIC ID and the VM's topology
 * (ncpus cores, one thread each, one package), and the hypervisor bit set. */
#ifndef EMBER_ARCH_X86_CPUID_H
#define EMBER_ARCH_X86_CPUID_H

#include <linux/kvm.h>

/* Rewrites entries in place for vCPU cpu of ncpus. Pure, for tests. */
void cpuid_filter(struct kvm_cpuid_entry2 *e, unsigned int n, unsigned int cpu,
		  unsigned int ncpus);

#endif
