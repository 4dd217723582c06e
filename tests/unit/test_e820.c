/* The e820 map: exact entries for sizes below, at and above the MMIO gap, ordering, RAM
 * accounting, agreement with guest memory, and the minimum size. */
#include <errno.h>
#include <string.h>

#include "harness.h"
#include "arch/x86/e820.h"
#include "arch/x86/layout.h"
#include "mem/guest_mem.h"

struct want { uint64_t addr, size; uint32_t type; };

/* The map the PC convention gives for ram bytes, written out independently of e820.c:
 * conventional memory up to the EBDA at 0x9fc00, the EBDA (1 KiB) reserved, the BIOS
 * area 0xf0000-0xfffff reserved, RAM from 1 MiB up to the gap at 3 GiB, the rest of RAM
 * from 4 GiB. */
static unsigned int expected_map(uint64_t ram, struct want *w)
{
	unsigned int n = 0;
	uint64_t low_top = ram < 3 * GiB ? ram : 3 * GiB;

	w[n++] = (struct want){ 0, 0x9fc00, E820_RAM };
	w[n++] = (struct want){ 0x9fc00, 0x400, E820_RESERVED };
	w[n++] = (struct want){ 0xf0000, 0x10000, E820_RESERVED };
	w[n++] = (struct want){ 0x100000, low_top - 0x100000, E820_RAM };
	if (ram > 3 * GiB)
		w[n++] = (struct want){ 4 * GiB, ram - 3 * GiB, E820_RAM };
	return n;
}

static void check_map(uint64_t ram)
{
	struct e820_map map;
	struct want w[8];
	unsigned int n = expected_map(ram, w);
	uint64_t ram_total = 0;

	memset(&map, 0xa5, sizeof(map));
	if (!CHECK_EQ_INT(e820_build(&map, ram), 0))
		return;
	REQUIRE_EQ_U64(map.n, n);
	for (unsigned int i = 0; i < n; i++) {
		if (!CHECK_EQ_U64(map.entries[i].addr, w[i].addr) ||
		    !CHECK_EQ_U64(map.entries[i].size, w[i].size) ||
		    !CHECK_EQ_U64(map.entries[i].type, w[i].type))
			FAIL("entry %u of the map for %llu MiB", i, (unsigned long long)(ram >> 20));
	}
	/* Sorted, non-overlapping, non-empty. */
	for (unsigned int i = 0; i < map.n; i++) {
		CHECK(map.entries[i].size > 0);
		if (i)
			CHECK(map.entries[i - 1].addr + map.entries[i - 1].size <=
			      map.entries[i].addr);
		if (map.entries[i].type == E820_RAM)
			ram_total += map.entries[i].size;
	}
	/* All of the guest's memory is RAM in the map except the legacy holes between the
	 * EBDA and 1 MiB. */
	CHECK_EQ_U64(ram_total, ram - (0x100000 - 0x9fc00));
	/* Nothing in the map touches the MMIO gap. */
	for (unsigned int i = 0; i < map.n; i++)
		CHECK(map.entries[i].addr + map.entries[i].size <= 3 * GiB ||
		      map.entries[i].addr >= 4 * GiB);
}

TEST(map_128m)
{
	check_map(128 * MiB);
}

TEST(map_3071m)
{
	check_map(3071 * MiB);
}

TEST(map_3072m)
{
	check_map(3072 * MiB);
}

TEST(map_3073m)
{
	check_map(3073 * MiB);
}

TEST(map_5g)
{
	check_map(5 * GiB);
}

TEST(map_2m_minimum_cli_size)
{
	check_map(2 * MiB);
}

/* Every RAM entry must be memory the guest really has (guest_mem agrees). */
static void check_ram_entries_backed(uint64_t ram)
{
	struct e820_map map;
	struct guest_mem m;

	REQUIRE_EQ_INT(e820_build(&map, ram), 0);
	REQUIRE_EQ_INT(guest_mem_init(&m, ram), 0);
	for (unsigned int i = 0; i < map.n; i++) {
		if (map.entries[i].type != E820_RAM)
			continue;
		if (!CHECK_NOT_NULL(guest_mem_ptr(&m, map.entries[i].addr, map.entries[i].size)))
			FAIL("RAM entry [0x%llx, +0x%llx) is not guest memory",
			     (unsigned long long)map.entries[i].addr,
			     (unsigned long long)map.entries[i].size);
	}
	guest_mem_free(&m);
}

TEST(ram_entries_are_guest_memory)
{
	check_ram_entries_backed(128 * MiB);
	check_ram_entries_backed(3 * GiB);
	check_ram_entries_backed(5 * GiB);
}

TEST(too_small_rejected)
{
	struct e820_map map;

	CHECK_EQ_INT(e820_build(&map, 0), -EINVAL);
	CHECK_EQ_INT(e820_build(&map, 640 * 1024), -EINVAL);
	CHECK_EQ_INT(e820_build(&map, 1 * MiB), -EINVAL);
	CHECK_EQ_U64(map.n, 0);
}

/* e820.h: "ram must be at least 1 MiB + 4 KiB; returns -EINVAL otherwise". */
TEST(regression_below_1m_plus_4k_rejected_as_documented)
{
	struct e820_map map;

	CHECK_EQ_INT(e820_build(&map, 1 * MiB + 1), -EINVAL);
	CHECK_EQ_INT(e820_build(&map, 1 * MiB + 4095), -EINVAL);
	CHECK_EQ_INT(e820_build(&map, 1 * MiB + 4096), 0);
}
