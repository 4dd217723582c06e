/* x86 vCPU initialisation for the direct boot. */
#ifndef EMBER_ARCH_X86_VCPU_X86_H
#define EMBER_ARCH_X86_VCPU_X86_H

#include <stdint.h>

#include "kvm/kvm.h"

/* CPUID, MSRs, FPU and LAPIC on every vCPU; registers for the boot vCPU (id 0), which
 * starts at entry. The others stay in wait-for-SIPI, as KVM creates them. */
int arch_vcpu_setup(struct kvm *k, int vcpu_fd, unsigned int id, unsigned int ncpus,
		    uint64_t entry);

/* Halt state of a vCPU outside KVM_RUN: 1 if it is halted (or waiting for SIPI) with
 * interrupts off, i.e. nothing but an NMI or an IPI can wake it. */
int arch_vcpu_halted_for_good(int vcpu_fd);

#endif
