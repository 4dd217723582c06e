/* vCPU state for the 64-bit direct boot: long mode, identity paging, flat segments,
 * RSI = zero page. Pure builders, applied by the KVM layer. */
#ifndef EMBER_ARCH_X86_CPU_BOOT_H
#define EMBER_ARCH_X86_CPU_BOOT_H

#include <linux/kvm.h>
#include <stdint.h>

void cpu_boot_regs(struct kvm_regs *regs, uint64_t entry);
/* Starts from the vCPU's current sregs (KVM fills fields we leave alone). */
void cpu_boot_sregs(struct kvm_sregs *sregs);
void cpu_boot_fpu(struct kvm_fpu *fpu);

/* MSRs set on every vCPU; returns the number of entries written into out (<= max). */
unsigned int cpu_boot_msrs(struct kvm_msr_entry *out, unsigned int max);

/* LAPIC LVT setup: LINT0 = ExtINT, LINT1 = NMI, in a KVM_GET_LAPIC register page. */
void cpu_boot_lapic(struct kvm_lapic_state *lapic);

#endif
