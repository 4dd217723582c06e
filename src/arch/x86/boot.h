/* Everything in guest memory a direct 64-bit Linux boot needs besides the kernel itself:
 * command line, initrd, zero page, GDT, identity page tables, MP table. */
#ifndef EMBER_ARCH_X86_BOOT_H
#define EMBER_ARCH_X86_BOOT_H

#include <stdint.h>

#include "arch/x86/boot_params.h"
#include "arch/x86/e820.h"
#include "arch/x86/kernel_image.h"
#include "mem/guest_mem.h"

struct boot_layout {
	uint64_t cmdline_gpa;
	uint32_t cmdline_len;   /* without NUL */
	uint64_t initrd_gpa;    /* 0 when there is no initrd */
	uint64_t initrd_size;
};

/* Fills a zero page from the kernel's setup header, the e820 map and the layout. Pure. */
void boot_params_fill(struct boot_params *bp, const struct kernel_image *k,
		      const struct e820_map *map, const struct boot_layout *bl);

/* Checks the command line against the kernel's limit; -E2BIG with err_msg if too long. */
int boot_cmdline_check(const struct kernel_image *k, const char *cmdline);

/* Writes command line, initrd (if any), zero page, GDT, IDT, page tables and the MP table
 * for ncpus into guest memory. Returns 0 or -errno with err_msg. */
int boot_setup(const struct guest_mem *m, const struct kernel_image *k, const char *cmdline,
	       struct image_src *initrd, unsigned int ncpus, struct boot_layout *out);

/* The boot GDT's entries, exposed for the vCPU register setup and tests. */
#define BOOT_GDT_ENTRIES 6  /* the 64-bit TSS descriptor takes two slots */
#define BOOT_CS 0x10
#define BOOT_DS 0x18
#define BOOT_TSS 0x20
extern const uint64_t boot_gdt[BOOT_GDT_ENTRIES];

#endif
