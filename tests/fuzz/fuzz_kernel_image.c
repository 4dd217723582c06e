/* libFuzzer target: the kernel image parser and loader, on untrusted bytes.
 *
 * Each input is a kernel file. kernel_parse must accept it or reject it with a message;
 * what it accepts must be self-consistent (segments inside the file, no address
 * wrap-around, entry inside the image), and then kernel_load into a 64 MiB guest and
 * boot_setup over it must either succeed or fail cleanly. Guest RAM is one malloc'd block
 * so AddressSanitizer sees any write past it. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/boot.h"
#include "arch/x86/kernel_image.h"
#include "arch/x86/layout.h"
#include "mem/guest_mem.h"
#include "util/err.h"

#define RAM_SIZE (64 * MiB)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t *ram;
static struct guest_mem gm;
static const uint8_t initrd[5000] = { 1, 2, 3, 4 };

#define ASSERT(c)                                                                      \
	do {                                                                           \
		if (!(c)) {                                                            \
			fprintf(stderr, "fuzz_kernel_image: %s:%d: assertion failed: %s (%s)\n", \
				__FILE__, __LINE__, #c, err_msg());                    \
			abort();                                                       \
		}                                                                      \
	} while (0)

static int segments_overlap(const struct kernel_image *k)
{
	for (unsigned int i = 0; i < k->nseg; i++)
		for (unsigned int j = i + 1; j < k->nseg; j++)
			if (k->seg[i].gpa < k->seg[j].gpa + k->seg[j].mem_size &&
			    k->seg[j].gpa < k->seg[i].gpa + k->seg[i].mem_size)
				return 1;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct image_src src, isrc;
	struct kernel_image k;
	struct boot_layout bl;
	int r;

	if (!ram) {
		ram = malloc(RAM_SIZE);
		if (!ram)
			abort();
		memset(ram, 0, RAM_SIZE);
		guest_mem_init_from(&gm, ram, RAM_SIZE);
	}

	image_src_from_buffer(&src, "fuzz.img", data, size);
	err_clear();
	r = kernel_parse(&src, &k);
	if (r < 0) {
		ASSERT(r == -ENOEXEC || r == -EINVAL || r == -EIO);
		ASSERT(err_msg()[0] != '\0');
		return 0;
	}

	/* What was accepted is consistent. */
	ASSERT(k.format == KERNEL_ELF || k.format == KERNEL_BZIMAGE);
	ASSERT(k.nseg >= 1 && k.nseg <= KERNEL_MAX_SEGMENTS);
	ASSERT(k.load_start <= k.load_end);
	for (unsigned int i = 0; i < k.nseg; i++) {
		const struct kernel_segment *s = &k.seg[i];

		ASSERT(s->file_size <= s->mem_size);
		ASSERT(s->file_off <= size && s->file_size <= size - s->file_off);
		ASSERT(s->gpa <= UINT64_MAX - s->mem_size);
		ASSERT(s->gpa >= k.load_start && s->gpa + s->mem_size <= k.load_end);
	}
	if (k.format == KERNEL_BZIMAGE)
		ASSERT(k.load_start >= LAYOUT_HIMEM_START && k.entry == k.load_start + 0x200);
	/* The entry point is code from the file: inside some segment's file bytes (this
	 * found the bzImage case, see regression_bzimage_entry_beyond_payload_rejected). */
	{
		int inside = 0;

		for (unsigned int i = 0; i < k.nseg; i++)
			if (k.entry >= k.seg[i].gpa && k.entry - k.seg[i].gpa < k.seg[i].file_size)
				inside = 1;
		ASSERT(inside);
	}

	err_clear();
	r = kernel_load(&gm, &src, &k);
	if (r < 0) {
		ASSERT(err_msg()[0] != '\0');
		return 0;
	}
	/* Loaded bytes are the file's bytes (unless segments overwrite each other). */
	if (!segments_overlap(&k)) {
		for (unsigned int i = 0; i < k.nseg; i++) {
			const struct kernel_segment *s = &k.seg[i];
			const uint8_t *p = guest_mem_ptr(&gm, s->gpa, s->mem_size);

			ASSERT(p != NULL);
			ASSERT(memcmp(p, data + s->file_off, (size_t)s->file_size) == 0);
		}
	}

	image_src_from_buffer(&isrc, "fuzz.initrd", initrd, sizeof(initrd));
	err_clear();
	r = boot_setup(&gm, &k, "console=ttyS0 reboot=k panic=1 pci=off", &isrc, 2, &bl);
	if (r < 0) {
		ASSERT(err_msg()[0] != '\0');
		return 0;
	}
	ASSERT(bl.initrd_gpa >= k.load_end);
	ASSERT(bl.initrd_gpa % 4096 == 0);
	ASSERT(bl.initrd_gpa + sizeof(initrd) <= RAM_SIZE);
	ASSERT((uint64_t)bl.initrd_gpa + sizeof(initrd) - 1 <= k.initrd_addr_max);
	ASSERT(bl.cmdline_gpa == LAYOUT_CMDLINE);
	return 0;
}
