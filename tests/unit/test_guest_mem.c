/* Guest memory: the layout around the 32-bit MMIO gap and guest_mem_ptr's range checks.
 * Small guests run over a test buffer (guest_mem_init_from); sizes near and above the
 * gap use guest_mem_init, whose MAP_NORESERVE mapping costs nothing until touched. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "arch/x86/layout.h"
#include "mem/guest_mem.h"

#define GAP_START (3 * GiB)
#define GAP_END (4 * GiB)

TEST(small_buffer_is_one_region_at_zero)
{
	static uint8_t buf[64 * 1024];
	struct guest_mem m;

	guest_mem_init_from(&m, buf, sizeof(buf));
	CHECK_EQ_U64(m.nregions, 1);
	CHECK_EQ_U64(m.regions[0].gpa, 0);
	CHECK_EQ_U64(m.regions[0].size, sizeof(buf));
	CHECK(m.regions[0].host == buf);
	CHECK_EQ_U64(m.ram_size, sizeof(buf));
	CHECK_EQ_U64(guest_mem_low_end(&m), sizeof(buf));
	CHECK(m.map == NULL);
}

TEST(ptr_range_checks_in_small_buffer)
{
	static uint8_t buf[8192];
	struct guest_mem m;

	guest_mem_init_from(&m, buf, sizeof(buf));
	CHECK(guest_mem_ptr(&m, 0, 1) == buf);
	CHECK(guest_mem_ptr(&m, 0, sizeof(buf)) == buf);             /* all of it */
	CHECK(guest_mem_ptr(&m, 100, 28) == buf + 100);
	CHECK(guest_mem_ptr(&m, sizeof(buf) - 1, 1) == buf + sizeof(buf) - 1);  /* last byte */
	CHECK_NULL(guest_mem_ptr(&m, sizeof(buf), 1));                /* one past the end */
	CHECK_NULL(guest_mem_ptr(&m, sizeof(buf) - 1, 2));            /* runs one past */
	CHECK_NULL(guest_mem_ptr(&m, 0, sizeof(buf) + 1));
	CHECK_NULL(guest_mem_ptr(&m, 1, sizeof(buf)));
	/* len 0 is checked as one byte: the address itself must be RAM. */
	CHECK(guest_mem_ptr(&m, sizeof(buf) - 1, 0) == buf + sizeof(buf) - 1);
	CHECK_NULL(guest_mem_ptr(&m, sizeof(buf), 0));
	/* gpa + len overflows 64 bits: must not wrap around into RAM. */
	CHECK_NULL(guest_mem_ptr(&m, 16, UINT64_MAX));
	CHECK_NULL(guest_mem_ptr(&m, 1, UINT64_MAX));
	CHECK_NULL(guest_mem_ptr(&m, UINT64_MAX, 1));
	CHECK_NULL(guest_mem_ptr(&m, UINT64_MAX, 2));
	CHECK_NULL(guest_mem_ptr(&m, UINT64_MAX - 10, 20));
	CHECK_NULL(guest_mem_ptr(&m, 0, UINT64_MAX));
}

TEST(read_write_copy_and_fault)
{
	static uint8_t buf[4096];
	struct guest_mem m;
	uint8_t in[16], out[16];

	for (unsigned int i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(0xa0 + i);
	guest_mem_init_from(&m, buf, sizeof(buf));
	CHECK_EQ_INT(guest_mem_write(&m, 4096 - 16, in, 16), 0);
	CHECK_MEM_EQ(buf + 4096 - 16, in, 16);
	memset(out, 0, sizeof(out));
	CHECK_EQ_INT(guest_mem_read(&m, 4096 - 16, out, 16), 0);
	CHECK_MEM_EQ(out, in, 16);
	CHECK_EQ_INT(guest_mem_write(&m, 4096 - 15, in, 16), -EFAULT);
	CHECK_EQ_INT(guest_mem_read(&m, 4096 - 15, out, 16), -EFAULT);
	CHECK_EQ_INT(guest_mem_read(&m, UINT64_MAX - 3, out, 8), -EFAULT);
	/* A failed write leaves memory alone. */
	memset(buf, 0, sizeof(buf));
	CHECK_EQ_INT(guest_mem_write(&m, 4000, in, 100), -EFAULT);
	CHECK_EQ_U64(buf[4000], 0);
}

TEST(init_rejects_zero_size)
{
	struct guest_mem m;

	CHECK_EQ_INT(guest_mem_init(&m, 0), -EINVAL);
	CHECK_EQ_U64(m.nregions, 0);
}

TEST(init_maps_zeroed_aligned_ram)
{
	struct guest_mem m;
	uint8_t *p;

	REQUIRE_EQ_INT(guest_mem_init(&m, 16 * MiB), 0);
	CHECK_EQ_U64(m.nregions, 1);
	CHECK_EQ_U64(m.regions[0].size, 16 * MiB);
	p = guest_mem_ptr(&m, 0, 16 * MiB);
	CHECK_NOT_NULL(p);
	/* Fresh guest RAM reads as zero; RAM starts on a 2 MiB boundary (for THP). */
	if (p) {
		CHECK_EQ_U64(p[0], 0);
		CHECK_EQ_U64(p[16 * MiB - 1], 0);
		CHECK_EQ_U64((uintptr_t)p % (2 * MiB), 0);
		p[16 * MiB - 1] = 0x5a;   /* writable to the last byte */
		CHECK_EQ_U64(*(uint8_t *)guest_mem_ptr(&m, 16 * MiB - 1, 1), 0x5a);
	}
	guest_mem_free(&m);
	CHECK_EQ_U64(m.nregions, 0);
	CHECK(m.map == NULL);
}

/* Sizes below, at and above the gap: low RAM is min(ram, 3 GiB), the rest from 4 GiB. */
static void check_layout(uint64_t ram)
{
	struct guest_mem m;
	uint64_t low = ram < GAP_START ? ram : GAP_START;
	uint64_t high = ram - low;

	if (!CHECK_EQ_INT(guest_mem_init(&m, ram), 0))
		return;
	CHECK_EQ_U64(m.ram_size, ram);
	CHECK_EQ_U64(m.nregions, high ? 2 : 1);
	CHECK_EQ_U64(m.regions[0].gpa, 0);
	CHECK_EQ_U64(m.regions[0].size, low);
	CHECK_EQ_U64(guest_mem_low_end(&m), low);
	if (high) {
		CHECK_EQ_U64(m.regions[1].gpa, GAP_END);
		CHECK_EQ_U64(m.regions[1].size, high);
	}
	/* Last byte of low RAM. */
	CHECK_NOT_NULL(guest_mem_ptr(&m, low - 1, 1));
	CHECK_NULL(guest_mem_ptr(&m, low, 1));
	/* Nothing in the gap is RAM, nor anything between low RAM's end and the gap. */
	CHECK_NULL(guest_mem_ptr(&m, GAP_START, 1));
	CHECK_NULL(guest_mem_ptr(&m, GAP_START + GiB / 2, 1));
	CHECK_NULL(guest_mem_ptr(&m, GAP_END - 1, 1));
	CHECK_NULL(guest_mem_ptr(&m, LAYOUT_IOAPIC, 4));
	CHECK_NULL(guest_mem_ptr(&m, LAYOUT_LAPIC, 4));
	/* A range from low RAM into what follows it is refused. */
	CHECK_NULL(guest_mem_ptr(&m, low - 1, 2));
	CHECK_NULL(guest_mem_ptr(&m, low - 4096, 8192));
	if (high) {
		/* A range starting in the gap and ending in high RAM is refused too, and one
		 * spanning the whole gap. */
		CHECK_NULL(guest_mem_ptr(&m, GAP_END - 1, 2));
		CHECK_NULL(guest_mem_ptr(&m, low - 1, GAP_END - low + 2));
		CHECK_NOT_NULL(guest_mem_ptr(&m, GAP_END, 1));
		CHECK_NOT_NULL(guest_mem_ptr(&m, GAP_END, high));
		CHECK_NOT_NULL(guest_mem_ptr(&m, GAP_END + high - 1, 1));
		CHECK_NULL(guest_mem_ptr(&m, GAP_END + high, 1));
		CHECK_NULL(guest_mem_ptr(&m, GAP_END + high - 1, 2));
		CHECK_NULL(guest_mem_ptr(&m, GAP_END, high + 1));
		CHECK_NULL(guest_mem_ptr(&m, GAP_END + 1, UINT64_MAX));
		/* Low and high RAM are different memory: no aliasing between them. */
		uint8_t a = 0x11, b = 0x22, c = 0x33, r;
		CHECK_EQ_INT(guest_mem_write(&m, 0, &a, 1), 0);
		CHECK_EQ_INT(guest_mem_write(&m, low - 1, &b, 1), 0);
		CHECK_EQ_INT(guest_mem_write(&m, GAP_END, &c, 1), 0);
		CHECK_EQ_INT(guest_mem_read(&m, 0, &r, 1), 0);
		CHECK_EQ_U64(r, a);
		CHECK_EQ_INT(guest_mem_read(&m, low - 1, &r, 1), 0);
		CHECK_EQ_U64(r, b);
		CHECK_EQ_INT(guest_mem_read(&m, GAP_END, &r, 1), 0);
		CHECK_EQ_U64(r, c);
		CHECK(guest_mem_ptr(&m, GAP_END, 1) != guest_mem_ptr(&m, 0, 1));
	} else {
		CHECK_NULL(guest_mem_ptr(&m, GAP_END, 1));
	}
	guest_mem_free(&m);
}

TEST(layout_128m)
{
	check_layout(128 * MiB);
}

TEST(layout_just_below_gap)
{
	check_layout(3 * GiB - MiB);
}

TEST(layout_exactly_gap)
{
	check_layout(3 * GiB);
}

TEST(layout_just_above_gap)
{
	check_layout(3 * GiB + MiB);
}

TEST(layout_5g)
{
	check_layout(5 * GiB);
}

TEST(layout_from_buffer_above_gap_uses_contiguous_host_memory)
{
	/* guest_mem_init_from lays out the regions over the caller's memory the same way:
	 * high RAM follows low RAM in the host buffer. No byte is touched here. */
	struct guest_mem m;
	uint8_t *fake = (uint8_t *)(uintptr_t)0x100000000000ULL;

	guest_mem_init_from(&m, fake, 3 * GiB + 8192);
	CHECK_EQ_U64(m.nregions, 2);
	CHECK(guest_mem_ptr(&m, 0, 1) == fake);
	CHECK(guest_mem_ptr(&m, GAP_END, 1) == fake + GAP_START);
	CHECK(guest_mem_ptr(&m, GAP_END + 8191, 1) == fake + GAP_START + 8191);
	CHECK_NULL(guest_mem_ptr(&m, GAP_END + 8192, 1));
	CHECK_NULL(guest_mem_ptr(&m, GAP_START, 1));
}
