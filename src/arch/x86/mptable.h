/* Intel MultiProcessor Specification 1.4 table: how the guest finds its vCPUs, the IOAPIC
 * and the ISA interrupt wiring without ACPI. */
#ifndef EMBER_ARCH_X86_MPTABLE_H
#define EMBER_ARCH_X86_MPTABLE_H

#include <stddef.h>
#include <stdint.h>

#include "mem/guest_mem.h"

/* APIC IDs are 8 bits in the MP table and 0xff is the broadcast ID; the IOAPIC takes the
 * ID after the last vCPU. */
#define MPTABLE_MAX_CPUS 254
#define MPTABLE_IRQS 24   /* IOAPIC pins, all wired 1:1 to ISA IRQs */

/* Bytes the table for ncpus occupies (floating pointer included). */
size_t mptable_size(unsigned int ncpus);

/* Builds the table into buf (the host view of guest-physical gpa). Returns the bytes used
 * or -EINVAL (ncpus out of range) / -ENOSPC (buf too small). Pure, for tests. */
long mptable_build(uint8_t *buf, size_t len, uint64_t gpa, unsigned int ncpus);

/* Writes the table at LAYOUT_BIOS_START in guest memory. */
int mptable_write(const struct guest_mem *m, unsigned int ncpus);

#endif
