/* Kernel images: kernel_parse over synthetic ELF64 vmlinux images and bzImages built in
 * memory (every acceptance rule and every rejection), kernel_load into a guest_mem over a
 * buffer, and initrd_place.
 *
 * Expectations come from the ELF64 format and the Linux boot protocol
 * (Documentation/arch/x86/boot.rst): a vmlinux is loaded by its PT_LOAD segments at their
 * physical addresses and entered at e_entry; a bzImage's protected-mode kernel is the part
 * of the file after the (setup_sects + 1) * 512 setup bytes (setup_sects 0 means 4), loaded
 * at 1 MiB or, for a relocatable kernel (2.10+), at pref_address rounded up to
 * kernel_alignment, and entered in 64-bit mode at load + 0x200. */
#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "arch/x86/kernel_image.h"
#include "arch/x86/layout.h"
#include "mem/guest_mem.h"
#include "util/err.h"

/* ---- ELF images ---- */

struct elf_img {
	Elf64_Ehdr eh;
	Elf64_Phdr ph[70];
	unsigned int nph;     /* how many of ph to write (e_phnum may say otherwise) */
	size_t len;           /* file size */
	uint8_t buf[0x8000];
};

static uint8_t pattern(size_t off)
{
	return (uint8_t)(off * 131 + 7);
}

#define ELF_PADDR 0x1000000ULL
#define ELF_VADDR 0xffffffff81000000ULL

/* A plausible vmlinux: text+data with bss, a second small segment, a PT_NOTE. Virtual
 * addresses differ from physical ones, as in a real vmlinux. */
static void elf_default(struct elf_img *e)
{
	memset(e, 0, sizeof(*e));
	memcpy(e->eh.e_ident, ELFMAG, SELFMAG);
	e->eh.e_ident[EI_CLASS] = ELFCLASS64;
	e->eh.e_ident[EI_DATA] = ELFDATA2LSB;
	e->eh.e_ident[EI_VERSION] = EV_CURRENT;
	e->eh.e_type = ET_EXEC;
	e->eh.e_machine = EM_X86_64;
	e->eh.e_version = EV_CURRENT;
	e->eh.e_entry = ELF_PADDR + 0x40;
	e->eh.e_phoff = sizeof(Elf64_Ehdr);
	e->eh.e_ehsize = sizeof(Elf64_Ehdr);
	e->eh.e_phentsize = sizeof(Elf64_Phdr);
	e->eh.e_phnum = 3;
	e->nph = 3;
	e->ph[0] = (Elf64_Phdr){ .p_type = PT_LOAD, .p_flags = PF_R | PF_X, .p_offset = 0x1000,
				 .p_vaddr = ELF_VADDR, .p_paddr = ELF_PADDR, .p_filesz = 0x2000,
				 .p_memsz = 0x3000, .p_align = 0x1000 };
	e->ph[1] = (Elf64_Phdr){ .p_type = PT_LOAD, .p_flags = PF_R | PF_W, .p_offset = 0x3000,
				 .p_vaddr = ELF_VADDR + 0x4000, .p_paddr = ELF_PADDR + 0x4000,
				 .p_filesz = 0x800, .p_memsz = 0x1000, .p_align = 0x1000 };
	e->ph[2] = (Elf64_Phdr){ .p_type = PT_NOTE, .p_offset = 0x3800, .p_vaddr = 0x123,
				 .p_paddr = 0x123, .p_filesz = 0x20, .p_memsz = 0x20 };
	e->len = 0x3820;
}

/* Writes the headers over the pattern; returns the file length. */
static size_t elf_emit(struct elf_img *e)
{
	for (size_t i = 0; i < e->len; i++)
		e->buf[i] = pattern(i);
	memcpy(e->buf, &e->eh, sizeof(e->eh));
	if (e->eh.e_phoff < e->len)
		memcpy(e->buf + e->eh.e_phoff, e->ph,
		       e->nph * sizeof(Elf64_Phdr) <= e->len - e->eh.e_phoff
			       ? e->nph * sizeof(Elf64_Phdr) : e->len - e->eh.e_phoff);
	return e->len;
}

static int parse_buf(const void *buf, size_t len, struct kernel_image *k)
{
	struct image_src src;

	image_src_from_buffer(&src, "test-kernel", buf, len);
	err_clear();
	return kernel_parse(&src, k);
}

static int parse_elf(struct elf_img *e, struct kernel_image *k)
{
	return parse_buf(e->buf, elf_emit(e), k);
}

static struct elf_img elf;   /* static: too big for a comfortable stack frame */

TEST(elf_valid_vmlinux)
{
	struct kernel_image k;

	elf_default(&elf);
	REQUIRE_EQ_INT(parse_elf(&elf, &k), 0);
	CHECK_EQ_U64(k.format, KERNEL_ELF);
	CHECK_EQ_U64(k.entry, ELF_PADDR + 0x40);
	REQUIRE_EQ_U64(k.nseg, 2);            /* the PT_NOTE is not loaded */
	CHECK_EQ_U64(k.seg[0].file_off, 0x1000);
	CHECK_EQ_U64(k.seg[0].file_size, 0x2000);
	CHECK_EQ_U64(k.seg[0].gpa, ELF_PADDR);   /* physical, not virtual */
	CHECK_EQ_U64(k.seg[0].mem_size, 0x3000);
	CHECK_EQ_U64(k.seg[1].file_off, 0x3000);
	CHECK_EQ_U64(k.seg[1].file_size, 0x800);
	CHECK_EQ_U64(k.seg[1].gpa, ELF_PADDR + 0x4000);
	CHECK_EQ_U64(k.seg[1].mem_size, 0x1000);
	CHECK_EQ_U64(k.load_start, ELF_PADDR);
	CHECK_EQ_U64(k.load_end, ELF_PADDR + 0x5000);
	/* x86 COMMAND_LINE_SIZE is 2048 with the NUL; a vmlinux has no header to say more.
	 * The synthesized setup header is one a 64-bit kernel accepts. */
	CHECK_EQ_U64(k.cmdline_max, 2047);
	CHECK_EQ_U64(k.hdr.cmdline_size, 2047);
	CHECK_EQ_U64(k.initrd_addr_max, 0x7fffffff);
	CHECK_EQ_U64(k.hdr.boot_flag, 0xaa55);
	CHECK_EQ_U64(k.hdr.header, 0x53726448);
	CHECK(k.hdr.version >= 0x0206);
	CHECK(k.hdr.xloadflags & XLF_KERNEL_64);
}

TEST(elf_segments_in_any_order_and_bss_only)
{
	struct kernel_image k;

	elf_default(&elf);
	/* Second segment first in the table; a pure-bss segment at the top. */
	Elf64_Phdr t = elf.ph[0];
	elf.ph[0] = elf.ph[1];
	elf.ph[1] = t;
	elf.ph[2] = (Elf64_Phdr){ .p_type = PT_LOAD, .p_offset = 0x3800,
				  .p_paddr = ELF_PADDR + 0x10000, .p_filesz = 0, .p_memsz = 0x4000 };
	REQUIRE_EQ_INT(parse_elf(&elf, &k), 0);
	CHECK_EQ_U64(k.nseg, 3);
	CHECK_EQ_U64(k.load_start, ELF_PADDR);
	CHECK_EQ_U64(k.load_end, ELF_PADDR + 0x14000);
	CHECK_EQ_U64(k.seg[2].file_size, 0);
	CHECK_EQ_U64(k.seg[2].mem_size, 0x4000);
}

TEST(elf_segment_ending_exactly_at_eof_ok)
{
	struct kernel_image k;

	elf_default(&elf);
	elf.eh.e_phnum = 2;
	elf.nph = 2;
	elf.len = 0x3800;   /* second segment's file bytes end at EOF */
	CHECK_EQ_INT(parse_elf(&elf, &k), 0);
}

TEST(elf_memsz_zero_segments_skipped)
{
	struct kernel_image k;

	elf_default(&elf);
	elf.ph[2] = (Elf64_Phdr){ .p_type = PT_LOAD, .p_paddr = 0x50000000, .p_memsz = 0 };
	REQUIRE_EQ_INT(parse_elf(&elf, &k), 0);
	CHECK_EQ_U64(k.nseg, 2);
	CHECK_EQ_U64(k.load_end, ELF_PADDR + 0x5000);
}

TEST(elf_64_program_headers_ok_65_rejected)
{
	struct kernel_image k;

	elf_default(&elf);
	elf.eh.e_phoff = 0x4000;
	elf.len = 0x4000 + 65 * sizeof(Elf64_Phdr);
	for (unsigned int i = 3; i < 65; i++)
		elf.ph[i] = (Elf64_Phdr){ .p_type = PT_NULL };
	elf.eh.e_phnum = 64;
	elf.nph = 65;
	CHECK_EQ_INT(parse_elf(&elf, &k), 0);
	elf.eh.e_phnum = 65;
	CHECK_EQ_INT(parse_elf(&elf, &k), -EINVAL);
	CHECK_STR_CONTAINS(err_msg(), "program header");
}

TEST(elf_16_segments_ok_17_rejected)
{
	struct kernel_image k;

	elf_default(&elf);
	elf.eh.e_phoff = 0x4000;
	elf.len = 0x4000 + 17 * sizeof(Elf64_Phdr);
	for (unsigned int i = 0; i < 17; i++)
		elf.ph[i] = (Elf64_Phdr){ .p_type = PT_LOAD, .p_offset = 0x1000,
					  .p_paddr = ELF_PADDR + i * 0x1000, .p_filesz = 0x100,
					  .p_memsz = 0x1000 };
	elf.eh.e_phnum = 16;
	elf.nph = 17;
	REQUIRE_EQ_INT(parse_elf(&elf, &k), 0);
	CHECK_EQ_U64(k.nseg, 16);
	CHECK_EQ_U64(k.load_end, ELF_PADDR + 16 * 0x1000);
	elf.eh.e_phnum = 17;
	CHECK_EQ_INT(parse_elf(&elf, &k), -EINVAL);
}

struct elf_case {
	const char *what;
	int want;
	const char *msg;  /* substring of err_msg, or NULL */
};

static void elf_reject(struct elf_img *e, const struct elf_case *c)
{
	struct kernel_image k;
	int r = parse_elf(e, &k);

	if (!CHECK_EQ_INT(r, c->want))
		FAIL("case: %s (%s)", c->what, err_msg());
	if (c->msg && !CHECK_STR_CONTAINS(err_msg(), c->msg))
		FAIL("case: %s", c->what);
	CHECK_STR_CONTAINS(err_msg(), "test-kernel");   /* names the file */
}

TEST(elf_rejections)
{
	elf_default(&elf);
	elf.eh.e_ident[EI_CLASS] = ELFCLASS32;
	elf_reject(&elf, &(struct elf_case){ "32-bit", -ENOEXEC, "64-bit" });

	elf_default(&elf);
	elf.eh.e_ident[EI_DATA] = ELFDATA2MSB;
	elf_reject(&elf, &(struct elf_case){ "big-endian", -ENOEXEC, NULL });

	elf_default(&elf);
	elf.eh.e_machine = EM_386;
	elf_reject(&elf, &(struct elf_case){ "i386", -ENOEXEC, "x86-64" });

	elf_default(&elf);
	elf.eh.e_machine = EM_AARCH64;
	elf_reject(&elf, &(struct elf_case){ "arm64", -ENOEXEC, NULL });

	elf_default(&elf);
	elf.eh.e_type = ET_DYN;
	elf_reject(&elf, &(struct elf_case){ "ET_DYN", -ENOEXEC, NULL });

	elf_default(&elf);
	elf.eh.e_type = ET_REL;
	elf_reject(&elf, &(struct elf_case){ "ET_REL", -ENOEXEC, NULL });

	elf_default(&elf);
	elf.eh.e_phentsize = sizeof(Elf64_Phdr) - 1;
	elf_reject(&elf, &(struct elf_case){ "phentsize", -EINVAL, NULL });

	elf_default(&elf);
	elf.eh.e_phentsize = 32;   /* an Elf32_Phdr's size */
	elf_reject(&elf, &(struct elf_case){ "phentsize 32", -EINVAL, NULL });

	elf_default(&elf);
	elf.eh.e_phnum = 0;
	elf_reject(&elf, &(struct elf_case){ "phnum 0", -EINVAL, NULL });

	elf_default(&elf);
	elf.eh.e_phnum = 0xffff;
	elf_reject(&elf, &(struct elf_case){ "phnum 0xffff", -EINVAL, NULL });

	elf_default(&elf);
	elf.eh.e_phoff = elf.len - sizeof(Elf64_Phdr);   /* 3 headers, room for 1 */
	elf_reject(&elf, &(struct elf_case){ "phdrs past EOF", -EIO, "truncated" });

	elf_default(&elf);
	elf.eh.e_phoff = UINT64_MAX - 8;
	elf_reject(&elf, &(struct elf_case){ "phoff huge", -EIO, "truncated" });

	elf_default(&elf);
	elf.ph[1].p_filesz = elf.len - elf.ph[1].p_offset + 1;
	elf.ph[1].p_memsz = 0x10000;
	elf_reject(&elf, &(struct elf_case){ "segment 1 byte past EOF", -EIO, "truncated" });

	elf_default(&elf);
	elf.ph[1].p_offset = UINT64_MAX - 0x10;
	elf_reject(&elf, &(struct elf_case){ "segment offset huge", -EIO, "truncated" });

	elf_default(&elf);
	elf.ph[1].p_filesz = 0x1001;   /* memsz is 0x1000 */
	elf_reject(&elf, &(struct elf_case){ "filesz > memsz", -EINVAL, NULL });

	elf_default(&elf);
	elf.ph[1].p_paddr = UINT64_MAX - 0xfff;   /* paddr + memsz = 2^64 */
	elf_reject(&elf, &(struct elf_case){ "paddr wrap", -EINVAL, "wraps" });

	elf_default(&elf);
	elf.eh.e_entry = ELF_VADDR + 0x40;   /* virtual entry: not a physical-address vmlinux */
	elf_reject(&elf, &(struct elf_case){ "virtual entry", -EINVAL, "entry" });

	elf_default(&elf);
	elf.eh.e_entry = ELF_PADDR + 0x2000;   /* in the bss of segment 0, not its file bytes */
	elf_reject(&elf, &(struct elf_case){ "entry in bss", -EINVAL, "entry" });

	elf_default(&elf);
	elf.eh.e_entry = ELF_PADDR - 1;
	elf_reject(&elf, &(struct elf_case){ "entry just below", -EINVAL, "entry" });

	elf_default(&elf);
	elf.ph[0].p_type = PT_NOTE;
	elf.ph[1].p_type = PT_DYNAMIC;
	elf_reject(&elf, &(struct elf_case){ "no PT_LOAD", -EINVAL, "loadable" });
}

TEST(elf_entry_at_segment_edges)
{
	struct kernel_image k;

	elf_default(&elf);
	elf.eh.e_entry = ELF_PADDR;                     /* first byte */
	CHECK_EQ_INT(parse_elf(&elf, &k), 0);
	elf.eh.e_entry = ELF_PADDR + 0x1fff;            /* last file byte */
	CHECK_EQ_INT(parse_elf(&elf, &k), 0);
	elf.eh.e_entry = ELF_PADDR + 0x4000 + 0x7ff;    /* last file byte of segment 1 */
	CHECK_EQ_INT(parse_elf(&elf, &k), 0);
	CHECK_EQ_U64(k.entry, ELF_PADDR + 0x47ff);
}

TEST(too_small_and_unknown_formats)
{
	static uint8_t zeros[4096];
	struct kernel_image k;

	CHECK_EQ_INT(parse_buf(zeros, 0, &k), -ENOEXEC);
	CHECK_STR_CONTAINS(err_msg(), "too small");
	CHECK_EQ_INT(parse_buf(zeros, sizeof(Elf64_Ehdr) - 1, &k), -ENOEXEC);
	CHECK_STR_CONTAINS(err_msg(), "too small");
	CHECK_EQ_INT(parse_buf(zeros, sizeof(zeros), &k), -ENOEXEC);
	CHECK_STR_CONTAINS(err_msg(), "neither");
	/* ELF magic but only a header's worth of file: the program headers are missing. */
	elf_default(&elf);
	elf_emit(&elf);
	CHECK_EQ_INT(parse_buf(elf.buf, sizeof(Elf64_Ehdr), &k), -EIO);
	CHECK_STR_CONTAINS(err_msg(), "truncated");
}

/* ---- bzImages ---- */

struct bz_spec {
	uint8_t setup_sects;
	uint16_t version;
	uint8_t loadflags;
	uint16_t xloadflags;
	uint8_t relocatable;
	uint32_t kernel_alignment;
	uint64_t pref_address;
	uint32_t init_size;
	uint32_t cmdline_size;
	uint32_t initrd_addr_max;
	size_t payload;
	int syssize_delta;   /* added to payload / 16 */
	uint8_t hdr_len_byte;  /* byte at 0x201 */
};

static struct bz_spec bz_default(void)
{
	return (struct bz_spec){
		.setup_sects = 1, .version = 0x020f, .loadflags = 0x01, .xloadflags = 0x01,
		.relocatable = 1, .kernel_alignment = 0x200000, .pref_address = 0x1000000,
		.init_size = 0x40000, .cmdline_size = 2047, .initrd_addr_max = 0x7fffffff,
		.payload = 0x2000, .syssize_delta = 0, .hdr_len_byte = 0x6a,
	};
}

static void put16(uint8_t *p, size_t off, uint16_t v)
{
	memcpy(p + off, &v, 2);
}

static void put32(uint8_t *p, size_t off, uint32_t v)
{
	memcpy(p + off, &v, 4);
}

static void put64(uint8_t *p, size_t off, uint64_t v)
{
	memcpy(p + off, &v, 8);
}

static uint8_t bzbuf[0x10000];

static size_t bz_setup_bytes(const struct bz_spec *s)
{
	return ((size_t)(s->setup_sects ? s->setup_sects : 4) + 1) * 512;
}

/* Lays out a bzImage: setup sectors with the header at 0x1f1 (offsets from boot.rst),
 * then the payload. Returns its length. */
static size_t bz_emit(const struct bz_spec *s)
{
	size_t setup = bz_setup_bytes(s);
	size_t len = setup + s->payload;

	for (size_t i = 0; i < len; i++)
		bzbuf[i] = pattern(i);
	memset(bzbuf + 0x1f1, 0, 0x270 - 0x1f1);
	bzbuf[0x1f1] = s->setup_sects;
	put32(bzbuf, 0x1f4, (uint32_t)((long)(s->payload / 16) + s->syssize_delta));
	put16(bzbuf, 0x1fe, 0xaa55);
	bzbuf[0x200] = 0xeb;                 /* short jump over the header */
	bzbuf[0x201] = s->hdr_len_byte;
	put32(bzbuf, 0x202, 0x53726448);     /* "HdrS" */
	put16(bzbuf, 0x206, s->version);
	bzbuf[0x211] = s->loadflags;
	put32(bzbuf, 0x214, 0x100000);       /* code32_start */
	put32(bzbuf, 0x22c, s->initrd_addr_max);
	put32(bzbuf, 0x230, s->kernel_alignment);
	bzbuf[0x234] = s->relocatable;
	put16(bzbuf, 0x236, s->xloadflags);
	put32(bzbuf, 0x238, s->cmdline_size);
	put64(bzbuf, 0x258, s->pref_address);
	put32(bzbuf, 0x260, s->init_size);
	put32(bzbuf, 0x268, 0xdeadbeef);     /* kernel_info_offset (2.15) */
	return len;
}

static int parse_bz(const struct bz_spec *s, struct kernel_image *k)
{
	return parse_buf(bzbuf, bz_emit(s), k);
}

TEST(bzimage_relocatable_at_pref_address)
{
	struct bz_spec s = bz_default();
	struct kernel_image k;

	REQUIRE_EQ_INT(parse_bz(&s, &k), 0);
	CHECK_EQ_U64(k.format, KERNEL_BZIMAGE);
	CHECK_EQ_U64(k.load_start, 0x1000000);
	CHECK_EQ_U64(k.entry, 0x1000000 + 0x200);
	CHECK_EQ_U64(k.load_end, 0x1000000 + 0x40000);    /* load + init_size */
	REQUIRE_EQ_U64(k.nseg, 1);
	CHECK_EQ_U64(k.seg[0].file_off, 1024);             /* (1 + 1) * 512 */
	CHECK_EQ_U64(k.seg[0].file_size, 0x2000);
	CHECK_EQ_U64(k.seg[0].gpa, 0x1000000);
	CHECK_EQ_U64(k.seg[0].mem_size, 0x2000);
	CHECK_EQ_U64(k.cmdline_max, 2047);
	CHECK_EQ_U64(k.initrd_addr_max, 0x7fffffff);
	/* The image's own header goes to the zero page. */
	CHECK_EQ_U64(k.hdr.version, 0x020f);
	CHECK_EQ_U64(k.hdr.header, 0x53726448);
	CHECK_EQ_U64(k.hdr.cmdline_size, 2047);
	CHECK_EQ_U64(k.hdr.init_size, 0x40000);
	CHECK_EQ_U64(k.hdr.pref_address, 0x1000000);
	CHECK_EQ_U64(k.hdr.kernel_info_offset, 0xdeadbeef);  /* header ends at 0x202 + 0x6a */
	CHECK_EQ_U64(k.hdr.code32_start, 0x1000000);       /* where it was really loaded */
}

TEST(bzimage_setup_sects_zero_means_four)
{
	struct bz_spec s = bz_default();
	struct kernel_image k;

	s.setup_sects = 0;
	REQUIRE_EQ_INT(parse_bz(&s, &k), 0);
	CHECK_EQ_U64(k.seg[0].file_off, 5 * 512);
	CHECK_EQ_U64(k.seg[0].file_size, 0x2000);
}

TEST(bzimage_not_relocatable_loads_at_1m)
{
	struct bz_spec s = bz_default();
	struct kernel_image k;

	s.relocatable = 0;
	REQUIRE_EQ_INT(parse_bz(&s, &k), 0);
	CHECK_EQ_U64(k.load_start, 0x100000);
	CHECK_EQ_U64(k.entry, 0x100200);
	CHECK_EQ_U64(k.seg[0].gpa, 0x100000);
	CHECK_EQ_U64(k.hdr.code32_start, 0x100000);
}

TEST(bzimage_pref_address_rounded_up_to_alignment)
{
	struct bz_spec s = bz_default();
	struct kernel_image k;

	s.pref_address = 0x1000001;
	REQUIRE_EQ_INT(parse_bz(&s, &k), 0);
	CHECK_EQ_U64(k.load_start, 0x1200000);
	CHECK_EQ_U64(k.entry, 0x1200200);
	s.pref_address = 0x3200000;   /* already aligned: kept */
	REQUIRE_EQ_INT(parse_bz(&s, &k), 0);
	CHECK_EQ_U64(k.load_start, 0x3200000);
}

TEST(bzimage_before_2_10_ignores_pref_address_and_init_size)
{
	struct bz_spec s = bz_default();
	struct kernel_image k;

	s.version = 0x0209;
	s.xloadflags = 0;   /* xloadflags is 2.12+ */
	REQUIRE_EQ_INT(parse_bz(&s, &k), 0);
	CHECK_EQ_U64(k.load_start, 0x100000);
	CHECK_EQ_U64(k.load_end, 0x100000 + 0x2000);   /* just the image */
}

TEST(bzimage_init_size_below_payload_still_covers_payload)
{
	struct bz_spec s = bz_default();
	struct kernel_image k;

	s.init_size = 0x100;
	REQUIRE_EQ_INT(parse_bz(&s, &k), 0);
	CHECK(k.load_end >= k.load_start + 0x2000);
}

TEST(bzimage_header_length_from_jump_byte)
{
	struct bz_spec s = bz_default();
	struct kernel_image k;

	/* Header ends at 0x202 + 0x66 = 0x268: kernel_info_offset is not part of it. */
	s.hdr_len_byte = 0x66;
	REQUIRE_EQ_INT(parse_bz(&s, &k), 0);
	CHECK_EQ_U64(k.hdr.kernel_info_offset, 0);
	CHECK_EQ_U64(k.hdr.init_size, 0x40000);
}

TEST(bzimage_cmdline_size_and_initrd_max_from_header)
{
	struct bz_spec s = bz_default();
	struct kernel_image k;

	s.cmdline_size = 255;
	s.initrd_addr_max = 0x37ffffff;
	REQUIRE_EQ_INT(parse_bz(&s, &k), 0);
	CHECK_EQ_U64(k.cmdline_max, 255);
	CHECK_EQ_U64(k.initrd_addr_max, 0x37ffffff);
}

TEST(bzimage_xloadflags_required_from_2_12)
{
	struct bz_spec s = bz_default();
	struct kernel_image k;

	s.xloadflags = 0;
	CHECK_EQ_INT(parse_bz(&s, &k), -ENOEXEC);
	CHECK_STR_CONTAINS(err_msg(), "64-bit");
	s.version = 0x020c;
	CHECK_EQ_INT(parse_bz(&s, &k), -ENOEXEC);
	s.version = 0x020b;   /* before xloadflags existed: accepted */
	CHECK_EQ_INT(parse_bz(&s, &k), 0);
	s.version = 0x020f;
	s.xloadflags = 0x02;  /* only XLF_CAN_BE_LOADED_ABOVE_4G */
	CHECK_EQ_INT(parse_bz(&s, &k), -ENOEXEC);
}

TEST(bzimage_rejections)
{
	struct bz_spec s;
	struct kernel_image k;

	s = bz_default();
	s.version = 0x0205;
	CHECK_EQ_INT(parse_bz(&s, &k), -ENOEXEC);
	CHECK_STR_CONTAINS(err_msg(), "2.05");
	s.version = 0x0206;
	s.xloadflags = 0;
	CHECK_EQ_INT(parse_bz(&s, &k), 0);   /* the oldest accepted */

	s = bz_default();
	s.loadflags = 0;   /* no LOADED_HIGH: a zImage */
	CHECK_EQ_INT(parse_bz(&s, &k), -ENOEXEC);
	CHECK_STR_CONTAINS(err_msg(), "zImage");

	/* syssize claims one paragraph more than the file holds. */
	s = bz_default();
	s.syssize_delta = 1;
	CHECK_EQ_INT(parse_bz(&s, &k), -EIO);
	CHECK_STR_CONTAINS(err_msg(), "truncated");
	s.syssize_delta = 0;
	CHECK_EQ_INT(parse_bz(&s, &k), 0);

	/* Relocatable kernel preferring an address below 1 MiB, or at the top of memory. */
	s = bz_default();
	s.pref_address = 0x80000;
	s.kernel_alignment = 0x1000;
	CHECK_EQ_INT(parse_bz(&s, &k), -EINVAL);
	CHECK_STR_CONTAINS(err_msg(), "load address");
	s.pref_address = UINT64_MAX - 0x1000;
	CHECK_EQ_INT(parse_bz(&s, &k), -EINVAL);
	s.pref_address = UINT64_MAX - 0xff;   /* rounding up would wrap past 2^64 */
	s.kernel_alignment = 0x200000;
	CHECK_EQ_INT(parse_bz(&s, &k), -EINVAL);
	s.kernel_alignment = 0x1000;
	/* ... while rounding up to the alignment may lift a low preference above 1 MiB. */
	s.pref_address = 0x80000;
	s.kernel_alignment = 0x200000;
	CHECK_EQ_INT(parse_bz(&s, &k), 0);
	CHECK_EQ_U64(k.load_start, 0x200000);
}

TEST(bzimage_setup_larger_than_file)
{
	struct bz_spec s = bz_default();
	struct kernel_image k;
	size_t len = bz_emit(&s);

	/* setup_sects says 40 sectors; the file has 2 + the payload. */
	bzbuf[0x1f1] = 40;
	put32(bzbuf, 0x1f4, 0);
	CHECK_EQ_INT(parse_buf(bzbuf, len, &k), -EIO);
	CHECK_STR_CONTAINS(err_msg(), "truncated");
	/* Exactly the setup bytes and no kernel at all. */
	s.payload = 0;
	len = bz_emit(&s);
	CHECK_EQ_INT(parse_buf(bzbuf, len, &k), -EIO);
	CHECK_STR_CONTAINS(err_msg(), "truncated");
}

TEST(bzimage_magic_checks)
{
	struct bz_spec s = bz_default();
	struct kernel_image k;
	size_t len = bz_emit(&s);

	put16(bzbuf, 0x1fe, 0xaa56);
	CHECK_EQ_INT(parse_buf(bzbuf, len, &k), -ENOEXEC);
	bz_emit(&s);
	put32(bzbuf, 0x202, 0x53726449);
	CHECK_EQ_INT(parse_buf(bzbuf, len, &k), -ENOEXEC);
	/* A fragment with the magic but shorter than the setup code: a truncated bzImage
	 * (the magic ends at 0x206; anything shorter cannot be recognised at all). */
	bz_emit(&s);
	CHECK_EQ_INT(parse_buf(bzbuf, 0x300, &k), -EIO);
	CHECK_STR_CONTAINS(err_msg(), "truncated");
	CHECK_EQ_INT(parse_buf(bzbuf, 0x206, &k), -EIO);
	CHECK_EQ_INT(parse_buf(bzbuf, 0x205, &k), -ENOEXEC);
}

/* ---- kernel_load ---- */

#define RAM_SIZE (32 * MiB)

static uint8_t *ram;
static struct guest_mem gm;

static void ram_setup(void)
{
	if (!ram)
		ram = calloc(1, RAM_SIZE);
	else
		memset(ram, 0, RAM_SIZE);
	guest_mem_init_from(&gm, ram, RAM_SIZE);
}

static int load(const void *buf, size_t len, struct kernel_image *k)
{
	struct image_src src;
	int r;

	image_src_from_buffer(&src, "test-kernel", buf, len);
	err_clear();
	r = kernel_parse(&src, k);
	if (r < 0)
		return FAIL("parse failed: %s", err_msg()), r;
	return kernel_load(&gm, &src, k);
}

static int all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

TEST(load_elf_bytes_land_at_physical_addresses)
{
	struct kernel_image k;

	ram_setup();
	REQUIRE_NOT_NULL(ram);
	elf_default(&elf);
	size_t len = elf_emit(&elf);
	REQUIRE_EQ_INT(load(elf.buf, len, &k), 0);
	CHECK_MEM_EQ(ram + ELF_PADDR, elf.buf + 0x1000, 0x2000);
	CHECK(all_zero(ram + ELF_PADDR + 0x2000, 0x1000));          /* bss */
	CHECK_MEM_EQ(ram + ELF_PADDR + 0x4000, elf.buf + 0x3000, 0x800);
	CHECK(all_zero(ram + ELF_PADDR + 0x4800, 0x800));
	CHECK(all_zero(ram + ELF_PADDR - 0x1000, 0x1000));          /* nothing before */
	CHECK(all_zero(ram + ELF_PADDR + 0x5000, 0x1000));          /* nor after */
	CHECK(all_zero(ram + 0x123, 0x20));                         /* PT_NOTE not loaded */
}

TEST(load_elf_segment_past_ram_enomem)
{
	struct kernel_image k;

	ram_setup();
	REQUIRE_NOT_NULL(ram);
	elf_default(&elf);
	elf.ph[1].p_paddr = RAM_SIZE - 0x800;   /* memsz 0x1000: half of it past the end */
	elf.eh.e_entry = ELF_PADDR;
	size_t len = elf_emit(&elf);
	CHECK_EQ_INT(load(elf.buf, len, &k), -ENOMEM);
	CHECK_STR_CONTAINS(err_msg(), "--memory");
	/* Fits exactly at the end. */
	elf.ph[1].p_paddr = RAM_SIZE - 0x1000;
	len = elf_emit(&elf);
	ram_setup();
	CHECK_EQ_INT(load(elf.buf, len, &k), 0);
	CHECK_MEM_EQ(ram + RAM_SIZE - 0x1000, elf.buf + 0x3000, 0x800);
	/* A kernel linked above 4 GiB in a small guest. */
	elf_default(&elf);
	elf.ph[0].p_paddr = 5 * GiB;
	elf.ph[1].p_paddr = 5 * GiB + 0x4000;
	elf.eh.e_entry = 5 * GiB;
	len = elf_emit(&elf);
	CHECK_EQ_INT(load(elf.buf, len, &k), -ENOMEM);
	CHECK_STR_CONTAINS(err_msg(), "--memory");
}

TEST(load_elf_below_1m_refused)
{
	struct kernel_image k;

	/* Low memory holds the zero page, GDT, page tables and MP table. */
	ram_setup();
	REQUIRE_NOT_NULL(ram);
	elf_default(&elf);
	elf.ph[0].p_paddr = 0x7000;
	elf.eh.e_entry = 0x7000;
	size_t len = elf_emit(&elf);
	CHECK(load(elf.buf, len, &k) < 0);
	CHECK(all_zero(ram + 0x7000, 0x2000));
}

TEST(load_bzimage_payload_at_load_address)
{
	struct bz_spec s = bz_default();
	struct kernel_image k;

	ram_setup();
	REQUIRE_NOT_NULL(ram);
	size_t len = bz_emit(&s);
	REQUIRE_EQ_INT(load(bzbuf, len, &k), 0);
	CHECK_MEM_EQ(ram + 0x1000000, bzbuf + 1024, 0x2000);
	CHECK(all_zero(ram + 0x100000, 0x1000));    /* not at 1 MiB as well */
	CHECK(all_zero(ram + 0x1000000 + 0x2000, 0x1000));
}

TEST(load_bzimage_init_size_past_ram_enomem)
{
	struct bz_spec s = bz_default();
	struct kernel_image k;

	ram_setup();
	REQUIRE_NOT_NULL(ram);
	/* The payload fits, but the kernel needs init_size bytes from its load address. */
	s.init_size = RAM_SIZE - 0x1000000 + 0x1000;
	size_t len = bz_emit(&s);
	CHECK_EQ_INT(load(bzbuf, len, &k), -ENOMEM);
	CHECK_STR_CONTAINS(err_msg(), "--memory");
	s.init_size = RAM_SIZE - 0x1000000;   /* exactly to the end of RAM */
	len = bz_emit(&s);
	CHECK_EQ_INT(load(bzbuf, len, &k), 0);
}

/* ---- initrd_place ---- */

TEST(initrd_highest_page_aligned_below_low_end)
{
	uint64_t a = 0;

	CHECK_EQ_INT(initrd_place(64 * MiB, 2 * MiB, 0x7fffffff, 3 * 4096 + 1, &a), 0);
	CHECK_EQ_U64(a, 64 * MiB - 4 * 4096);
	CHECK_EQ_INT(initrd_place(64 * MiB, 2 * MiB, 0x7fffffff, 4096, &a), 0);
	CHECK_EQ_U64(a, 64 * MiB - 4096);
	/* low_end not page aligned */
	CHECK_EQ_INT(initrd_place(64 * MiB + 100, 2 * MiB, 0x7fffffff, 4096, &a), 0);
	CHECK_EQ_U64(a, 64 * MiB - 4096);
}

TEST(initrd_respects_initrd_addr_max)
{
	uint64_t a = 0;

	/* initrd_addr_max is the highest address the last byte may occupy. */
	CHECK_EQ_INT(initrd_place(2 * GiB, 16 * MiB, 0x37ffffff, 0x100000, &a), 0);
	CHECK_EQ_U64(a, 0x38000000 - 0x100000);
	CHECK(a + 0x100000 - 1 <= 0x37ffffff);
	/* A 32-bit maximum in a 3 GiB guest: low_end wins. */
	CHECK_EQ_INT(initrd_place(3 * GiB, 16 * MiB, 0xffffffff, 0x1000, &a), 0);
	CHECK_EQ_U64(a, 3 * GiB - 0x1000);
	/* ... and in a small guest too. */
	CHECK_EQ_INT(initrd_place(64 * MiB, 16 * MiB, 0xffffffff, 0x1000, &a), 0);
	CHECK_EQ_U64(a, 64 * MiB - 0x1000);
}

TEST(initrd_exact_fit_and_enospc)
{
	uint64_t a = 0x1234;

	/* Exactly the room between kernel end and low_end. */
	CHECK_EQ_INT(initrd_place(64 * MiB, 48 * MiB, 0x7fffffff, 16 * MiB, &a), 0);
	CHECK_EQ_U64(a, 48 * MiB);
	/* One byte more, or a kernel end one byte higher: no room. */
	a = 0x1234;
	CHECK_EQ_INT(initrd_place(64 * MiB, 48 * MiB, 0x7fffffff, 16 * MiB + 1, &a), -ENOSPC);
	CHECK_EQ_INT(initrd_place(64 * MiB, 48 * MiB + 1, 0x7fffffff, 16 * MiB, &a), -ENOSPC);
	CHECK_EQ_U64(a, 0x1234);   /* untouched on failure */
	/* Larger than all of memory, or than the limit. */
	CHECK_EQ_INT(initrd_place(64 * MiB, 0, 0x7fffffff, 65 * MiB, &a), -ENOSPC);
	CHECK_EQ_INT(initrd_place(64 * MiB, 0, 0xfffff, 0x100001, &a), -ENOSPC);
	CHECK_EQ_INT(initrd_place(64 * MiB, 0, 0x7fffffff, UINT64_MAX, &a), -ENOSPC);
	/* Kernel above the limit. */
	CHECK_EQ_INT(initrd_place(2 * GiB, 0x40000000, 0x37ffffff, 4096, &a), -ENOSPC);
}

TEST(initrd_place_matches_brute_force)
{
	uint64_t rs = 42;
	unsigned int bad = 0;

	for (int i = 0; i < 3000; i++) {
		uint64_t low_end = test_rand(&rs) % (1 << 20);
		uint64_t kend = test_rand(&rs) % (1 << 20);
		uint32_t maxa = (uint32_t)(test_rand(&rs) % (1 << 20));
		uint64_t size = 1 + test_rand(&rs) % (1 << 18);
		uint64_t got = UINT64_MAX, want = UINT64_MAX;
		int found = 0;

		/* The highest page-aligned a with a >= kend, a + size <= low_end and
		 * a + size - 1 <= maxa, by search. */
		for (uint64_t a = (low_end & ~4095ULL) + 4096; ; a -= 4096) {
			if (a >= kend && a + size <= low_end && a + size - 1 <= maxa) {
				want = a;
				found = 1;
				break;
			}
			if (a < 4096 || a < kend)
				break;
		}
		int r = initrd_place(low_end, kend, maxa, size, &got);
		if ((r == 0) != found || (found && got != want)) {
			if (++bad <= 3)
				FAIL("low_end 0x%llx kend 0x%llx max 0x%x size 0x%llx: got %d/0x%llx, "
				     "want %s/0x%llx", (unsigned long long)low_end,
				     (unsigned long long)kend, maxa, (unsigned long long)size, r,
				     (unsigned long long)got, found ? "ok" : "ENOSPC",
				     (unsigned long long)want);
		}
	}
	CHECK_EQ_U64(bad, 0);
}

/* A bzImage is entered at load + 0x200 (boot.rst, 64-bit boot protocol): that is code in
 * the protected-mode part of the file. A payload of 0x200 bytes or less has no code
 * there; the guest would jump into zeroed memory. (An ELF entry outside the segments'
 * file bytes is refused; a bzImage's should be too.) Found by fuzz_kernel_image. */
TEST(regression_bzimage_entry_beyond_payload_rejected)
{
	struct bz_spec s = bz_default();
	struct kernel_image k;

	s.payload = 0x100;
	CHECK(parse_bz(&s, &k) < 0);
	s.payload = 0x200;
	CHECK(parse_bz(&s, &k) < 0);
	s.init_size = 0;             /* and with init_size not covering the entry either */
	s.payload = 0x10;
	CHECK(parse_bz(&s, &k) < 0);
	s.payload = 0x210;           /* code at the entry: fine */
	s.init_size = 0x40000;
	CHECK_EQ_INT(parse_bz(&s, &k), 0);
}

/* A FIFO named as a kernel or initrd is refused at once (open() without O_NONBLOCK
 * waited for a writer, on the API's main thread at InstanceStart). In a child with an
 * alarm, so the old behaviour fails the test instead of hanging it. */
static int open_fifo_as_image(void *arg)
{
	struct image_src src;

	if (image_src_open_file(&src, arg) != -EINVAL)
		return 2;
	return strstr(err_msg(), "not a regular file") ? 0 : 3;
}

TEST(fifo_image_is_refused_without_blocking)
{
	char fifo[64];

	REQUIRE_EQ_INT(harness_make_fifo(fifo, sizeof(fifo), "kernel-fifo"), 0);
	CHECK_EQ_INT(harness_in_child(open_fifo_as_image, fifo, 5), 0);
	unlink(fifo);
}
