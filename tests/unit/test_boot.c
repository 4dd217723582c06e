/* Direct boot setup: boot_params_fill, boot_cmdline_check and boot_setup end to end over a
 * 64 MiB guest_mem buffer with a synthetic ELF kernel and a buffer initrd.
 *
 * The zero page is read back at the raw offsets of Documentation/arch/x86/zero-page.rst
 * and boot.rst (not through struct boot_params), descriptors are decoded per the Intel SDM
 * (vol. 3, 3.4.5), and the page tables are walked as the MMU would. */
#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "arch/x86/boot.h"
#include "arch/x86/e820.h"
#include "arch/x86/kernel_image.h"
#include "arch/x86/layout.h"
#include "mem/guest_mem.h"
#include "util/err.h"

static uint8_t get8(const uint8_t *p, size_t off)
{
	return p[off];
}

/* zero-page.rst / boot.rst offsets */
#define ZP_EXT_RAMDISK_IMAGE 0x0c0
#define ZP_EXT_RAMDISK_SIZE 0x0c4
#define ZP_EXT_CMD_LINE_PTR 0x0c8
#define ZP_E820_ENTRIES 0x1e8
#define ZP_SENTINEL 0x1ef
#define ZP_SETUP_SECTS 0x1f1
#define ZP_VID_MODE 0x1fa
#define ZP_BOOT_FLAG 0x1fe
#define ZP_HEADER 0x202
#define ZP_VERSION 0x206
#define ZP_TYPE_OF_LOADER 0x210
#define ZP_LOADFLAGS 0x211
#define ZP_RAMDISK_IMAGE 0x218
#define ZP_RAMDISK_SIZE 0x21c
#define ZP_HEAP_END_PTR 0x224
#define ZP_CMD_LINE_PTR 0x228
#define ZP_INITRD_ADDR_MAX 0x22c
#define ZP_KERNEL_ALIGNMENT 0x230
#define ZP_XLOADFLAGS 0x236
#define ZP_CMDLINE_SIZE 0x238
#define ZP_PREF_ADDRESS 0x258
#define ZP_INIT_SIZE 0x260
#define ZP_E820_TABLE 0x2d0

/* A kernel image as kernel_parse would describe a bzImage. */
static void fake_kernel(struct kernel_image *k)
{
	memset(k, 0, sizeof(*k));
	k->format = KERNEL_BZIMAGE;
	k->entry = 0x1000200;
	k->load_start = 0x1000000;
	k->load_end = 0x1800000;
	k->cmdline_max = 255;
	k->initrd_addr_max = 0x37ffffff;
	k->hdr.setup_sects = 3;
	k->hdr.boot_flag = 0xaa55;
	k->hdr.header = 0x53726448;
	k->hdr.version = 0x020f;
	k->hdr.loadflags = 0x01;
	k->hdr.initrd_addr_max = 0x37ffffff;
	k->hdr.kernel_alignment = 0x200000;
	k->hdr.relocatable_kernel = 1;
	k->hdr.xloadflags = 0x1f;
	k->hdr.cmdline_size = 255;
	k->hdr.pref_address = 0x1000000;
	k->hdr.init_size = 0x800000;
	k->hdr.type_of_loader = 0x12;   /* the image's value must be replaced */
}

TEST(params_fill_header_and_pointers)
{
	static struct boot_params bp;
	struct kernel_image k;
	struct e820_map map;
	struct boot_layout bl = {
		.cmdline_gpa = 0x20000, .cmdline_len = 10,
		.initrd_gpa = 0x37f00000, .initrd_size = 0x80000,
	};
	const uint8_t *z = (const uint8_t *)&bp;

	fake_kernel(&k);
	REQUIRE_EQ_INT(e820_build(&map, 1 * GiB), 0);
	memset(&bp, 0xcc, sizeof(bp));   /* fill must not leave stale bytes */
	boot_params_fill(&bp, &k, &map, &bl);

	/* The image's setup header, copied. */
	CHECK_EQ_U64(get8(z, ZP_SETUP_SECTS), 3);
	CHECK_EQ_U64(get16(z, ZP_BOOT_FLAG), 0xaa55);
	CHECK_EQ_U64(get32(z, ZP_HEADER), 0x53726448);
	CHECK_EQ_U64(get16(z, ZP_VERSION), 0x020f);
	CHECK_EQ_U64(get32(z, ZP_INITRD_ADDR_MAX), 0x37ffffff);
	CHECK_EQ_U64(get32(z, ZP_KERNEL_ALIGNMENT), 0x200000);
	CHECK_EQ_U64(get16(z, ZP_XLOADFLAGS), 0x1f);
	CHECK_EQ_U64(get32(z, ZP_CMDLINE_SIZE), 255);
	CHECK_EQ_U64(get64(z, ZP_PREF_ADDRESS), 0x1000000);
	CHECK_EQ_U64(get32(z, ZP_INIT_SIZE), 0x800000);
	/* What the boot loader writes (boot.rst: type_of_loader 0xff = undefined;
	 * vid_mode 0xffff = "normal"; a heap pointer only together with CAN_USE_HEAP). */
	CHECK_EQ_U64(get8(z, ZP_TYPE_OF_LOADER), 0xff);
	CHECK(get8(z, ZP_LOADFLAGS) & 0x01);   /* LOADED_HIGH kept */
	if (get8(z, ZP_LOADFLAGS) & 0x80)
		CHECK_NE_U64(get16(z, ZP_HEAP_END_PTR), 0);
	CHECK_EQ_U64(get16(z, ZP_VID_MODE), 0xffff);
	CHECK_EQ_U64(get32(z, ZP_CMD_LINE_PTR), 0x20000);
	CHECK_EQ_U64(get32(z, ZP_EXT_CMD_LINE_PTR), 0);
	CHECK_EQ_U64(get32(z, ZP_RAMDISK_IMAGE), 0x37f00000);
	CHECK_EQ_U64(get32(z, ZP_RAMDISK_SIZE), 0x80000);
	CHECK_EQ_U64(get32(z, ZP_EXT_RAMDISK_IMAGE), 0);
	CHECK_EQ_U64(get32(z, ZP_EXT_RAMDISK_SIZE), 0);
	/* The sentinel must be zero or the kernel assumes a broken loader and wipes fields. */
	CHECK_EQ_U64(get8(z, ZP_SENTINEL), 0);
	CHECK_EQ_U64(get64(z, 0x070), 0);   /* acpi_rsdp_addr: none */
	/* e820: count and the 20-byte entries, then nothing. */
	REQUIRE_EQ_U64(get8(z, ZP_E820_ENTRIES), map.n);
	for (unsigned int i = 0; i < map.n; i++) {
		size_t off = ZP_E820_TABLE + 20 * i;

		CHECK_EQ_U64(get64(z, off), map.entries[i].addr);
		CHECK_EQ_U64(get64(z, off + 8), map.entries[i].size);
		CHECK_EQ_U64(get32(z, off + 16), map.entries[i].type);
	}
	CHECK_EQ_U64(get64(z, ZP_E820_TABLE + 20 * map.n), 0);
	CHECK_EQ_U64(get32(z, ZP_E820_TABLE + 20 * map.n + 16), 0);
	/* The stale fill is gone everywhere outside the header and the table. */
	CHECK_EQ_U64(get32(z, 0x000), 0);
	CHECK_EQ_U64(get32(z, 0xffc), 0);
}

TEST(params_fill_splits_64bit_addresses)
{
	static struct boot_params bp;
	struct kernel_image k;
	struct e820_map map;
	struct boot_layout bl = {
		.cmdline_gpa = 0x123456789ULL, .cmdline_len = 1,
		.initrd_gpa = 0x1abcde000ULL, .initrd_size = 0x100000010ULL,
	};
	const uint8_t *z = (const uint8_t *)&bp;

	fake_kernel(&k);
	REQUIRE_EQ_INT(e820_build(&map, 8 * GiB), 0);
	boot_params_fill(&bp, &k, &map, &bl);
	/* Low halves in the header, high halves in the ext_ fields. */
	CHECK_EQ_U64(get32(z, ZP_CMD_LINE_PTR), 0x23456789);
	CHECK_EQ_U64(get32(z, ZP_EXT_CMD_LINE_PTR), 0x1);
	CHECK_EQ_U64(get32(z, ZP_RAMDISK_IMAGE), 0xabcde000);
	CHECK_EQ_U64(get32(z, ZP_EXT_RAMDISK_IMAGE), 0x1);
	CHECK_EQ_U64(get32(z, ZP_RAMDISK_SIZE), 0x10);
	CHECK_EQ_U64(get32(z, ZP_EXT_RAMDISK_SIZE), 0x1);
	CHECK_EQ_U64(get8(z, ZP_E820_ENTRIES), 5);
}

TEST(params_fill_without_initrd)
{
	static struct boot_params bp;
	struct kernel_image k;
	struct e820_map map;
	struct boot_layout bl = { .cmdline_gpa = 0x20000 };
	const uint8_t *z = (const uint8_t *)&bp;

	fake_kernel(&k);
	REQUIRE_EQ_INT(e820_build(&map, 64 * MiB), 0);
	memset(&bp, 0xcc, sizeof(bp));
	boot_params_fill(&bp, &k, &map, &bl);
	CHECK_EQ_U64(get32(z, ZP_RAMDISK_IMAGE), 0);
	CHECK_EQ_U64(get32(z, ZP_RAMDISK_SIZE), 0);
	CHECK_EQ_U64(get32(z, ZP_EXT_RAMDISK_SIZE), 0);
}

static char *repeat(char c, size_t n)
{
	char *s = malloc(n + 1);

	if (s) {
		memset(s, c, n);
		s[n] = '\0';
	}
	return s;
}

TEST(cmdline_check_at_the_limit)
{
	struct kernel_image k;
	char *s;

	fake_kernel(&k);   /* cmdline_max 255 (cmdline_size: without the NUL) */
	s = repeat('a', 255);
	REQUIRE_NOT_NULL(s);
	CHECK_EQ_INT(boot_cmdline_check(&k, s), 0);
	free(s);
	s = repeat('a', 256);
	REQUIRE_NOT_NULL(s);
	err_clear();
	CHECK_EQ_INT(boot_cmdline_check(&k, s), -E2BIG);
	CHECK_STR_CONTAINS(err_msg(), "256");
	CHECK_STR_CONTAINS(err_msg(), "255");
	free(s);
	CHECK_EQ_INT(boot_cmdline_check(&k, ""), 0);
}

TEST(cmdline_check_bounded_by_ember_buffer)
{
	struct kernel_image k;
	char *s;

	/* A kernel that claims to take anything: Ember's own room at 0x20000 (64 KiB with
	 * the NUL) is the limit then. */
	fake_kernel(&k);
	k.cmdline_max = 0x7fffffff;
	s = repeat('b', LAYOUT_CMDLINE_MAX - 1);
	REQUIRE_NOT_NULL(s);
	CHECK_EQ_INT(boot_cmdline_check(&k, s), 0);
	free(s);
	s = repeat('b', LAYOUT_CMDLINE_MAX);
	REQUIRE_NOT_NULL(s);
	CHECK_EQ_INT(boot_cmdline_check(&k, s), -E2BIG);
	free(s);
}

/* ---- boot_setup end to end ---- */

#define RAM (64 * MiB)
#define KADDR 0x1000000ULL
#define INITRD_LEN 10000
static const char cmdline[] = "console=ttyS0 reboot=k panic=1 pci=off";

static uint8_t kfile[0x2000];
static uint8_t initrd_buf[INITRD_LEN];

static struct {
	int done, rc;
	uint8_t *ram;
	struct guest_mem m;
	struct kernel_image k;
	struct boot_layout bl;
	char err[512];
} fx;

/* One ELF vmlinux: a PT_LOAD of 0x1000 file bytes and 2 MiB in memory at 16 MiB. */
static size_t make_elf(uint8_t *buf)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph;

	memset(buf, 0, sizeof(kfile));
	memset(&eh, 0, sizeof(eh));
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	eh.e_type = ET_EXEC;
	eh.e_machine = EM_X86_64;
	eh.e_version = EV_CURRENT;
	eh.e_entry = KADDR;
	eh.e_phoff = sizeof(eh);
	eh.e_ehsize = sizeof(eh);
	eh.e_phentsize = sizeof(ph);
	eh.e_phnum = 1;
	memset(&ph, 0, sizeof(ph));
	ph.p_type = PT_LOAD;
	ph.p_offset = 0x1000;
	ph.p_paddr = KADDR;
	ph.p_vaddr = 0xffffffff81000000ULL;
	ph.p_filesz = 0x1000;
	ph.p_memsz = 0x200000;
	memcpy(buf, &eh, sizeof(eh));
	memcpy(buf + sizeof(eh), &ph, sizeof(ph));
	for (size_t i = 0x1000; i < 0x2000; i++)
		buf[i] = (uint8_t)(i * 7);
	return sizeof(kfile);
}

/* Runs boot_setup once for the end-to-end tests below (2 vCPUs). */
static int fixture(void)
{
	struct image_src ks, is;

	if (fx.done)
		return fx.rc == 0 && fx.ram;
	fx.done = 1;
	fx.rc = -1;
	fx.ram = calloc(1, RAM);
	if (!fx.ram)
		return 0;
	guest_mem_init_from(&fx.m, fx.ram, RAM);
	image_src_from_buffer(&ks, "vmlinux", kfile, make_elf(kfile));
	if (kernel_parse(&ks, &fx.k) < 0 || kernel_load(&fx.m, &ks, &fx.k) < 0) {
		snprintf(fx.err, sizeof(fx.err), "kernel: %s", err_msg());
		return 0;
	}
	for (size_t i = 0; i < INITRD_LEN; i++)
		initrd_buf[i] = (uint8_t)(i * 13 + 1);
	image_src_from_buffer(&is, "initrd", initrd_buf, INITRD_LEN);
	fx.rc = boot_setup(&fx.m, &fx.k, cmdline, &is, 2, &fx.bl);
	snprintf(fx.err, sizeof(fx.err), "%s", err_msg());
	return fx.rc == 0;
}

#define REQUIRE_FIXTURE() \
	do { if (!fixture()) { FAIL("boot_setup failed: %d %s", fx.rc, fx.err); return; } } \
	while (0)

static const uint8_t *gpa(uint64_t a, uint64_t len)
{
	return guest_mem_ptr(&fx.m, a, len);
}

TEST(setup_command_line_at_0x20000)
{
	REQUIRE_FIXTURE();
	CHECK_EQ_U64(fx.bl.cmdline_gpa, 0x20000);
	CHECK_EQ_U64(fx.bl.cmdline_len, strlen(cmdline));
	CHECK_MEM_EQ(fx.ram + 0x20000, cmdline, sizeof(cmdline));   /* with the NUL */
	CHECK_EQ_U64(fx.ram[0x20000 + strlen(cmdline)], 0);
}

TEST(setup_initrd_highest_page_in_ram_after_kernel)
{
	uint64_t a;

	REQUIRE_FIXTURE();
	a = fx.bl.initrd_gpa;
	CHECK_EQ_U64(fx.bl.initrd_size, INITRD_LEN);
	CHECK_EQ_U64(a % 4096, 0);
	CHECK(a >= fx.k.load_end);
	CHECK(a + INITRD_LEN <= RAM);
	CHECK(a + 4096 + INITRD_LEN > RAM);       /* the highest such page */
	CHECK_EQ_U64(a, (RAM - INITRD_LEN) & ~4095ULL);
	REQUIRE_NOT_NULL(gpa(a, INITRD_LEN));
	CHECK_MEM_EQ(fx.ram + a, initrd_buf, INITRD_LEN);
}

TEST(setup_zero_page_at_0x7000)
{
	const uint8_t *z;
	struct e820_map map;

	REQUIRE_FIXTURE();
	z = fx.ram + 0x7000;
	CHECK_EQ_U64(get16(z, ZP_BOOT_FLAG), 0xaa55);
	CHECK_EQ_U64(get32(z, ZP_HEADER), 0x53726448);
	CHECK_EQ_U64(get8(z, ZP_TYPE_OF_LOADER), 0xff);
	CHECK_EQ_U64(get32(z, ZP_CMD_LINE_PTR), 0x20000);
	CHECK_EQ_U64(get32(z, ZP_EXT_CMD_LINE_PTR), 0);
	CHECK_EQ_U64(get32(z, ZP_RAMDISK_IMAGE), fx.bl.initrd_gpa);
	CHECK_EQ_U64(get32(z, ZP_RAMDISK_SIZE), INITRD_LEN);
	CHECK_EQ_U64(get32(z, ZP_CMDLINE_SIZE), 2047);
	REQUIRE_EQ_INT(e820_build(&map, RAM), 0);
	REQUIRE_EQ_U64(get8(z, ZP_E820_ENTRIES), map.n);
	CHECK_MEM_EQ(z + ZP_E820_TABLE, map.entries, map.n * 20);
}

TEST(setup_initrd_and_kernel_in_e820_ram)
{
	struct e820_map map;
	int initrd_ok = 0, kernel_ok = 0;

	REQUIRE_FIXTURE();
	REQUIRE_EQ_INT(e820_build(&map, RAM), 0);
	for (unsigned int i = 0; i < map.n; i++) {
		uint64_t s = map.entries[i].addr, e = s + map.entries[i].size;

		if (map.entries[i].type != E820_RAM)
			continue;
		if (fx.bl.initrd_gpa >= s && fx.bl.initrd_gpa + INITRD_LEN <= e)
			initrd_ok = 1;
		if (fx.k.load_start >= s && fx.k.load_end <= e)
			kernel_ok = 1;
	}
	CHECK(initrd_ok);
	CHECK(kernel_ok);
}

/* Decodes a segment descriptor (SDM vol. 3, 3.4.5). */
struct desc {
	uint32_t base, limit;
	unsigned int type, s, dpl, p, l, db, g;
};

static struct desc decode(uint64_t d)
{
	struct desc x;

	x.limit = (uint32_t)((d & 0xffff) | ((d >> 32) & 0xf0000));
	x.base = (uint32_t)(((d >> 16) & 0xffffff) | ((d >> 32) & 0xff000000));
	x.type = (unsigned int)(d >> 40) & 0xf;
	x.s = (unsigned int)(d >> 44) & 1;
	x.dpl = (unsigned int)(d >> 45) & 3;
	x.p = (unsigned int)(d >> 47) & 1;
	x.l = (unsigned int)(d >> 53) & 1;
	x.db = (unsigned int)(d >> 54) & 1;
	x.g = (unsigned int)(d >> 55) & 1;
	return x;
}

TEST(boot_gdt_descriptors_per_64bit_boot_protocol)
{
	/* boot.rst, 64-bit protocol: __BOOT_CS (0x10) execute/read, __BOOT_DS (0x18)
	 * read/write, flat 4 GiB segments; a 64-bit code segment has L=1 and D=0. */
	struct desc cs = decode(boot_gdt[0x10 >> 3]);
	struct desc ds = decode(boot_gdt[0x18 >> 3]);
	struct desc tss = decode(boot_gdt[0x20 >> 3]);

	CHECK_EQ_U64(BOOT_CS, 0x10);
	CHECK_EQ_U64(BOOT_DS, 0x18);
	CHECK_EQ_U64(boot_gdt[0], 0);                 /* null descriptor */
	CHECK_EQ_U64(cs.p, 1);
	CHECK_EQ_U64(cs.s, 1);
	CHECK(cs.type & 0x8);                          /* code */
	CHECK(cs.type & 0x2);                          /* readable */
	CHECK_EQ_U64(cs.l, 1);
	CHECK_EQ_U64(cs.db, 0);
	CHECK_EQ_U64(cs.dpl, 0);
	CHECK_EQ_U64(ds.p, 1);
	CHECK_EQ_U64(ds.s, 1);
	CHECK(!(ds.type & 0x8));                       /* data */
	CHECK(ds.type & 0x2);                          /* writable */
	CHECK_EQ_U64(ds.dpl, 0);
	CHECK_EQ_U64(ds.base, 0);
	CHECK_EQ_U64(ds.limit, 0xfffff);
	CHECK_EQ_U64(ds.g, 1);                         /* 4 GiB */
	CHECK_EQ_U64(tss.p, 1);
	CHECK_EQ_U64(tss.s, 0);                        /* system descriptor */
	CHECK_EQ_U64(tss.type, 0xb);                   /* busy 64-bit TSS, as VMX requires */
}

/* The boot GDT in guest memory must be exactly boot_gdt, and the IDT written next to it
 * must not overwrite any of it. */
TEST(regression_setup_gdt_at_0x500_intact_idt_overlaps_it)
{
	uint64_t gdt_end = LAYOUT_GDT + sizeof(boot_gdt);

	REQUIRE_FIXTURE();
	CHECK_MEM_EQ(fx.ram + 0x500, boot_gdt, sizeof(boot_gdt));
	if (!CHECK(LAYOUT_IDT >= gdt_end || LAYOUT_IDT + 8 <= LAYOUT_GDT))
		FAIL("IDT at 0x%llx overlaps the GDT [0x%llx, 0x%llx)",
		     (unsigned long long)LAYOUT_IDT, (unsigned long long)LAYOUT_GDT,
		     (unsigned long long)gdt_end);
}

TEST(setup_page_tables_identity_map_4g_with_2m_pages)
{
	const uint64_t addr_mask = 0x000ffffffffff000ULL;
	unsigned int bad = 0;
	uint64_t rs = 7;

	REQUIRE_FIXTURE();
	/* Walk every 2 MiB page of the first 4 GiB, plus random byte addresses. */
	for (uint64_t i = 0; i < 2048 + 4096; i++) {
		uint64_t va = i < 2048 ? i << 21 : test_rand(&rs) % (4 * GiB);
		const uint8_t *t;
		uint64_t e;

		t = gpa(LAYOUT_PML4, 4096);
		if (!t) { bad++; break; }
		e = get64(t, ((va >> 39) & 511) * 8);
		if (!(e & 1) || !(e & 2)) { bad++; continue; }
		t = gpa(e & addr_mask, 4096);
		if (!t) { bad++; continue; }
		e = get64(t, ((va >> 30) & 511) * 8);
		if (!(e & 1) || !(e & 2) || (e & 0x80)) { bad++; continue; }   /* no 1 GiB page */
		t = gpa(e & addr_mask, 4096);
		if (!t) { bad++; continue; }
		e = get64(t, ((va >> 21) & 511) * 8);
		if (!(e & 1) || !(e & 2) || !(e & 0x80)) { bad++; continue; }  /* 2 MiB page */
		uint64_t pa = (e & 0x000fffffffe00000ULL) + (va & 0x1fffff);
		if (pa != va) {
			if (++bad <= 3)
				FAIL("va 0x%llx maps to 0x%llx", (unsigned long long)va,
				     (unsigned long long)pa);
		}
	}
	CHECK_EQ_U64(bad, 0);
	/* Nothing beyond 4 GiB is mapped by the first PML4 entry's other PDPT slots. */
	const uint8_t *pml4 = gpa(LAYOUT_PML4, 4096);
	REQUIRE_NOT_NULL(pml4);
	const uint8_t *pdpt = gpa(get64(pml4, 0) & addr_mask, 4096);
	REQUIRE_NOT_NULL(pdpt);
	CHECK_EQ_U64(get64(pdpt, 4 * 8) & 1, 0);
	CHECK_EQ_U64(get64(pml4, 8) & 1, 0);
}

TEST(setup_mp_table_at_0xf0000)
{
	const uint8_t *f;
	uint8_t sum = 0;

	REQUIRE_FIXTURE();
	f = fx.ram + 0xf0000;
	CHECK_MEM_EQ(f, "_MP_", 4);
	for (int i = 0; i < 16; i++)
		sum = (uint8_t)(sum + f[i]);
	CHECK_EQ_U64(sum, 0);
	uint32_t phys = get32(f, 4);
	const uint8_t *c = gpa(phys, 44);
	REQUIRE_NOT_NULL(c);
	CHECK_MEM_EQ(c, "PCMP", 4);
	/* Two processor entries (type 0) right after the 44-byte header. */
	CHECK_EQ_U64(c[44], 0);
	CHECK_EQ_U64(c[64], 0);
	CHECK_NE_U64(c[84], 0);
}

TEST(setup_structures_do_not_overlap)
{
	struct { const char *name; uint64_t start, end; } r[] = {
		{ "gdt", LAYOUT_GDT, LAYOUT_GDT + sizeof(boot_gdt) },
		{ "zero page", 0x7000, 0x8000 },
		{ "stack", 0x8000, LAYOUT_BOOT_STACK },
		{ "pml4", LAYOUT_PML4, LAYOUT_PML4 + 4096 },
		{ "pdpt", LAYOUT_PDPT, LAYOUT_PDPT + 4096 },
		{ "pd", LAYOUT_PD, LAYOUT_PD + 4 * 4096 },
		{ "cmdline", 0x20000, 0x20000 + strlen(cmdline) + 1 },
		{ "mptable", 0xf0000, 0xf0000 + 4096 },
		{ "kernel", 0, 0 },
		{ "initrd", 0, 0 },
	};

	REQUIRE_FIXTURE();
	r[8].start = fx.k.load_start;
	r[8].end = fx.k.load_end;
	r[9].start = fx.bl.initrd_gpa;
	r[9].end = fx.bl.initrd_gpa + INITRD_LEN;
	for (size_t i = 0; i < ARRAY_LEN(r); i++)
		for (size_t j = i + 1; j < ARRAY_LEN(r); j++)
			if (!CHECK(r[i].end <= r[j].start || r[j].end <= r[i].start))
				FAIL("%s overlaps %s", r[i].name, r[j].name);
	/* The stack pointer is 16-byte aligned and below the page tables. */
	CHECK_EQ_U64(LAYOUT_BOOT_STACK % 16, 0);
	CHECK(LAYOUT_BOOT_STACK <= LAYOUT_PML4);
}

TEST(setup_rejects_oversized_initrd_and_cmdline)
{
	static uint8_t big[1];
	struct guest_mem m;
	struct kernel_image k;
	struct boot_layout bl;
	struct image_src ks, is;
	uint8_t *ram = calloc(1, RAM);
	char *longcmd;

	REQUIRE_NOT_NULL(ram);
	guest_mem_init_from(&m, ram, RAM);
	image_src_from_buffer(&ks, "vmlinux", kfile, make_elf(kfile));
	REQUIRE_EQ_INT(kernel_parse(&ks, &k), 0);
	/* An initrd larger than the RAM above the kernel (a fake size: never read). */
	image_src_from_buffer(&is, "big.img", big, sizeof(big));
	is.size = RAM - k.load_end + 1;
	err_clear();
	CHECK_EQ_INT(boot_setup(&m, &k, "x", &is, 1, &bl), -ENOSPC);
	CHECK_STR_CONTAINS(err_msg(), "big.img");
	CHECK_STR_CONTAINS(err_msg(), "--memory");
	/* A command line one byte too long for the ELF kernel's 2047. */
	longcmd = repeat('c', 2048);
	REQUIRE_NOT_NULL(longcmd);
	CHECK_EQ_INT(boot_setup(&m, &k, longcmd, NULL, 1, &bl), -E2BIG);
	longcmd[2047] = '\0';
	CHECK_EQ_INT(boot_setup(&m, &k, longcmd, NULL, 1, &bl), 0);
	CHECK_EQ_U64(bl.initrd_gpa, 0);
	CHECK_EQ_U64(bl.initrd_size, 0);
	CHECK_EQ_U64(ram[0x20000 + 2047], 0);
	CHECK_EQ_U64(ram[0x20000 + 2046], 'c');
	/* vCPU counts the MP table cannot describe. */
	CHECK(boot_setup(&m, &k, "x", NULL, 0, &bl) < 0);
	CHECK(boot_setup(&m, &k, "x", NULL, 255, &bl) < 0);
	free(longcmd);
	free(ram);
}

TEST(setup_bzimage_initrd_below_initrd_addr_max)
{
	struct guest_mem m;
	struct kernel_image k;
	struct boot_layout bl;
	struct image_src is;
	static uint8_t rd[4096 * 3];

	/* 1 GiB guest (MAP_NORESERVE: only touched pages cost), kernel limit 0x37ffffff. */
	REQUIRE_EQ_INT(guest_mem_init(&m, 1 * GiB), 0);
	fake_kernel(&k);
	memset(rd, 0x5c, sizeof(rd));
	image_src_from_buffer(&is, "initrd", rd, sizeof(rd));
	if (CHECK_EQ_INT(boot_setup(&m, &k, "console=ttyS0", &is, 4, &bl), 0)) {
		CHECK_EQ_U64(bl.initrd_gpa, 0x38000000 - sizeof(rd));
		CHECK(bl.initrd_gpa + sizeof(rd) - 1 <= 0x37ffffff);
		const uint8_t *p = guest_mem_ptr(&m, bl.initrd_gpa, sizeof(rd));
		CHECK_NOT_NULL(p);
		if (p)
			CHECK_MEM_EQ(p, rd, sizeof(rd));
	}
	guest_mem_free(&m);
}
