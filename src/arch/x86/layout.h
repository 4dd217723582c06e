/* x86 guest-physical memory layout. One place, so the loader, the e820 map, the page
 * tables and the tests agree. See docs/memory-layout.md. */
#ifndef EMBER_ARCH_X86_LAYOUT_H
#define EMBER_ARCH_X86_LAYOUT_H

#include <stdint.h>

#define MiB (1024ULL * 1024)
#define GiB (1024ULL * MiB)

/* Low memory, below 1 MiB: boot structures Ember writes before entry. */
#define LAYOUT_GDT          0x500ULL     /* boot GDT: null, null, code64 (0x10), data (0x18), TSS (0x20, 16 bytes) */
#define LAYOUT_IDT          0x540ULL     /* empty IDT, after the 48-byte GDT: Linux installs its own */
#define LAYOUT_ZERO_PAGE    0x7000ULL    /* struct boot_params, RSI at entry */
#define LAYOUT_BOOT_STACK   0x8ff0ULL    /* RSP at entry */
#define LAYOUT_PML4         0x9000ULL    /* identity map of the first 4 GiB, 2 MiB pages */
#define LAYOUT_PDPT         0xa000ULL
#define LAYOUT_PD           0xb000ULL    /* four page directories: 0xb000..0xefff */
#define LAYOUT_IDENTITY_MAP (4 * GiB)
#define LAYOUT_CMDLINE      0x20000ULL   /* kernel command line */
#define LAYOUT_CMDLINE_MAX  0x10000ULL   /* room reserved for it; the kernel's limit applies first */

/* The PC's legacy holes: the EBDA and the BIOS area are reserved in e820. */
#define LAYOUT_EBDA_START   0x9fc00ULL
#define LAYOUT_VGA_START    0xa0000ULL
#define LAYOUT_BIOS_START   0xf0000ULL   /* MP floating pointer and table live here */
#define LAYOUT_MPTABLE_MAX  0x4000ULL    /* room for the MP table (254 vCPUs: ~5.5 KiB) */
#define LAYOUT_ACPI_START   0xf4000ULL   /* ACPI tables, RSDP first (found by a BIOS-area scan) */
#define LAYOUT_ACPI_END     0x100000ULL
#define LAYOUT_HIMEM_START  0x100000ULL  /* 1 MiB: first byte of high memory */

/* The 32-bit MMIO gap: [3 GiB, 4 GiB). IOAPIC, LAPIC and virtio-mmio windows live here;
 * guest RAM beyond 3 GiB continues at 4 GiB. */
#define LAYOUT_MMIO_GAP_START (3 * GiB)
#define LAYOUT_MMIO_GAP_END   (4 * GiB)
#define LAYOUT_IOAPIC       0xfec00000ULL
#define LAYOUT_LAPIC        0xfee00000ULL

/* KVM needs three pages of guest-physical space for the VMX TSS and one for the identity
 * map page table (Intel without unrestricted guest); they sit just below the BIOS ROM. */
#define LAYOUT_KVM_TSS      0xfffbd000ULL
#define LAYOUT_KVM_IDENTITY 0xfffbc000ULL

/* Bytes of RAM below the gap and above 4 GiB for a guest of ram bytes. */
static inline uint64_t layout_low_ram(uint64_t ram)
{
	return ram < LAYOUT_MMIO_GAP_START ? ram : LAYOUT_MMIO_GAP_START;
}

static inline uint64_t layout_high_ram(uint64_t ram)
{
	return ram - layout_low_ram(ram);
}

#endif
