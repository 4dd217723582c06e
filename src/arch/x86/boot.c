#include "arch/x86/boot.h"

#include <errno.h>
#include <string.h>

#include "arch/x86/layout.h"
#include "arch/x86/mptable.h"
#include "util/err.h"

/* Flat descriptors: 64-bit code (L=1), read/write data, and a 64-bit TSS (type 0xb). */
const uint64_t boot_gdt[BOOT_GDT_ENTRIES] = {
	[0] = 0,
	[1] = 0,
	[BOOT_CS >> 3] = 0x00af9b000000ffffULL,
	[BOOT_DS >> 3] = 0x00cf93000000ffffULL,
	[BOOT_TSS >> 3] = 0x00008b0000000067ULL,
	[(BOOT_TSS >> 3) + 1] = 0,   /* upper half of the TSS descriptor: base bits 63:32 */
};
_Static_assert(LAYOUT_GDT + sizeof(boot_gdt) <= LAYOUT_IDT, "the IDT must not overlap the GDT");

void boot_params_fill(struct boot_params *bp, const struct kernel_image *k,
		      const struct e820_map *map, const struct boot_layout *bl)
{
	memset(bp, 0, sizeof(*bp));
	bp->hdr = k->hdr;
	bp->hdr.type_of_loader = LOADER_TYPE_UNDEFINED;
	bp->hdr.loadflags |= LOADFLAG_CAN_USE_HEAP;
	bp->hdr.heap_end_ptr = 0xfe00;
	bp->hdr.vid_mode = 0xffff;  /* "normal": no video mode switch */
	bp->hdr.cmd_line_ptr = (uint32_t)bl->cmdline_gpa;
	bp->ext_cmd_line_ptr = (uint32_t)(bl->cmdline_gpa >> 32);
	bp->hdr.ramdisk_image = (uint32_t)bl->initrd_gpa;
	bp->hdr.ramdisk_size = (uint32_t)bl->initrd_size;
	bp->ext_ramdisk_image = (uint32_t)(bl->initrd_gpa >> 32);
	bp->ext_ramdisk_size = (uint32_t)(bl->initrd_size >> 32);
	bp->e820_entries = (uint8_t)map->n;
	memcpy(bp->e820_table, map->entries, map->n * sizeof(map->entries[0]));
}

int boot_cmdline_check(const struct kernel_image *k, const char *cmdline)
{
	size_t len = strlen(cmdline);

	if (len > k->cmdline_max || len >= LAYOUT_CMDLINE_MAX)
		return err_set(-E2BIG, "kernel command line is %zu bytes; this kernel accepts at "
			       "most %u: shorten --cmdline", len, k->cmdline_max);
	return 0;
}

static int write_page_tables(const struct guest_mem *m)
{
	uint64_t *pml4 = guest_mem_ptr(m, LAYOUT_PML4, 4096);
	uint64_t *pdpt = guest_mem_ptr(m, LAYOUT_PDPT, 4096);
	uint64_t *pd = guest_mem_ptr(m, LAYOUT_PD, 4 * 4096);

	if (!pml4 || !pdpt || !pd)
		return err_set(-ENOMEM, "guest RAM too small for the boot page tables");
	memset(pml4, 0, 4096);
	memset(pdpt, 0, 4096);
	/* Identity-map the first 4 GiB with 2 MiB pages: enough for the kernel, the zero page,
	 * the command line and the initrd wherever they are below 4 GiB. */
	pml4[0] = LAYOUT_PDPT | 0x3;              /* present, writable */
	for (uint64_t i = 0; i < 4; i++)
		pdpt[i] = (LAYOUT_PD + i * 4096) | 0x3;
	for (uint64_t i = 0; i < 4 * 512; i++)
		pd[i] = (i << 21) | 0x83;             /* present, writable, 2 MiB page */
	return 0;
}

int boot_setup(const struct guest_mem *m, const struct kernel_image *k, const char *cmdline,
	       struct image_src *initrd, unsigned int ncpus, struct boot_layout *out)
{
	struct e820_map map;
	struct boot_params *bp;
	int r;

	memset(out, 0, sizeof(*out));
	r = e820_build(&map, m->ram_size);
	if (r < 0)
		return r;
	r = boot_cmdline_check(k, cmdline);
	if (r < 0)
		return r;
	out->cmdline_gpa = LAYOUT_CMDLINE;
	out->cmdline_len = (uint32_t)strlen(cmdline);
	if (guest_mem_write(m, LAYOUT_CMDLINE, cmdline, out->cmdline_len + 1ULL) < 0)
		return err_set(-ENOMEM, "guest RAM too small for the command line");

	if (initrd) {
		uint64_t addr;
		void *dst;

		if (initrd_place(guest_mem_low_end(m), k->load_end, k->initrd_addr_max,
				 initrd->size, &addr) < 0)
			return err_set(-ENOSPC, "%s: initrd of %llu bytes does not fit between the "
				       "kernel's end (0x%llx) and the top of low RAM (0x%llx, limit "
				       "0x%x): give more --memory or use a smaller initrd",
				       initrd->name, (unsigned long long)initrd->size,
				       (unsigned long long)k->load_end,
				       (unsigned long long)guest_mem_low_end(m), k->initrd_addr_max);
		dst = guest_mem_ptr(m, addr, initrd->size);
		if (!dst)
			return err_set(-EFAULT, "%s: initrd placement outside RAM", initrd->name);
		r = initrd->read_at(initrd, dst, (size_t)initrd->size, 0);
		if (r < 0)
			return err_set(r, "%s: cannot read initrd: %s", initrd->name, strerror(-r));
		out->initrd_gpa = addr;
		out->initrd_size = initrd->size;
	}

	bp = guest_mem_ptr(m, LAYOUT_ZERO_PAGE, sizeof(*bp));
	if (!bp)
		return err_set(-ENOMEM, "guest RAM too small for the zero page");
	boot_params_fill(bp, k, &map, out);

	if (guest_mem_write(m, LAYOUT_GDT, boot_gdt, sizeof(boot_gdt)) < 0 ||
	    guest_mem_write(m, LAYOUT_IDT, &(uint64_t){0}, sizeof(uint64_t)) < 0)
		return err_set(-ENOMEM, "guest RAM too small for the boot GDT");
	r = write_page_tables(m);
	if (r < 0)
		return r;
	return mptable_write(m, ncpus);
}
