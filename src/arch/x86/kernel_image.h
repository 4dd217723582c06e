/* Kernel images Ember boots directly: ELF vmlinux (PT_LOAD segments, entered at e_entry in
 * 64-bit mode) and bzImage (boot protocol >= 2.06, protected-mode kernel at its load
 * address, 64-bit entry at +0x200).
 *
 * Parsing is separate from loading so every check on an untrusted image runs (and is unit
 * tested and fuzzed) without guest memory. */
#ifndef EMBER_ARCH_X86_KERNEL_IMAGE_H
#define EMBER_ARCH_X86_KERNEL_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "arch/x86/boot_params.h"
#include "mem/guest_mem.h"

/* Where image bytes come from: a file (pread) or a buffer (tests, fuzzing). */
struct image_src {
	const char *name;  /* for messages: the path the user gave */
	uint64_t size;
	/* Reads exactly len bytes at off; returns 0 or -errno. */
	int (*read_at)(const struct image_src *src, void *buf, size_t len, uint64_t off);
	int fd;              /* file sources */
	const uint8_t *buf;  /* buffer sources */
};

int image_src_open_file(struct image_src *src, const char *path);
void image_src_close_file(struct image_src *src);
void image_src_from_buffer(struct image_src *src, const char *name, const void *buf, size_t len);

enum kernel_format { KERNEL_ELF = 1, KERNEL_BZIMAGE = 2 };

#define KERNEL_MAX_SEGMENTS 16

struct kernel_segment {
	uint64_t file_off;
	uint64_t file_size;
	uint64_t gpa;
	uint64_t mem_size;   /* >= file_size; the rest is left zero (fresh guest RAM is zero) */
};

struct kernel_image {
	enum kernel_format format;
	uint64_t entry;            /* guest-physical 64-bit entry point */
	uint64_t load_start;       /* lowest guest-physical byte the kernel occupies */
	uint64_t load_end;         /* one past the highest (bzImage: load + init_size) */
	struct kernel_segment seg[KERNEL_MAX_SEGMENTS];
	unsigned int nseg;
	/* Setup header for the zero page: the image's own (bzImage) or a synthesized one. */
	struct setup_header hdr;
	uint32_t cmdline_max;      /* longest command line the kernel accepts, without NUL */
	uint32_t initrd_addr_max;  /* highest address the initrd's last byte may occupy */
};

/* Identifies and validates the image; fills out. Returns 0, or -ENOEXEC (not a kernel
 * Ember can boot), -EINVAL (malformed), -EIO (truncated / unreadable), with err_msg. */
int kernel_parse(struct image_src *src, struct kernel_image *out);

/* Copies the segments into guest memory. -ENOMEM with err_msg if they do not fit. */
int kernel_load(const struct guest_mem *m, struct image_src *src, const struct kernel_image *k);

/* Highest page-aligned address for an initrd of size bytes below min(initrd_addr_max + 1,
 * low_end) and not below kernel_end. 0 and *addr set, or -ENOSPC. */
int initrd_place(uint64_t low_end, uint64_t kernel_end, uint32_t initrd_addr_max,
		 uint64_t size, uint64_t *addr);

#endif
