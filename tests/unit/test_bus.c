/* The device bus: registration (ordering, overlap and range validation), lookup (checked
 * against a linear search over random ranges) and dispatch (offsets, unclaimed accesses,
 * accesses straddling a range's end). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "util/err.h"
#include "vmm/bus.h"

/* A device that records its last access. */
struct rec {
	int reads, writes;
	uint64_t offset;
	uint32_t len;
	uint8_t data[8];
	uint8_t fill;
};

static void rec_read(void *opaque, uint64_t offset, uint8_t *data, uint32_t len)
{
	struct rec *r = opaque;

	r->reads++;
	r->offset = offset;
	r->len = len;
	memset(data, r->fill, len);
}

static void rec_write(void *opaque, uint64_t offset, const uint8_t *data, uint32_t len)
{
	struct rec *r = opaque;

	r->writes++;
	r->offset = offset;
	r->len = len;
	memcpy(r->data, data, len < 8 ? len : 8);
}

static struct bus_range mk(uint64_t base, uint64_t len, const char *name, struct rec *r)
{
	return (struct bus_range){
		.base = base, .len = len, .name = name,
		.read = r ? rec_read : NULL, .write = r ? rec_write : NULL, .opaque = r,
	};
}

static int reg(struct bus *b, uint64_t base, uint64_t len, const char *name)
{
	struct bus_range r = mk(base, len, name, NULL);

	return bus_register(b, &r);
}

TEST(registration_order_does_not_matter)
{
	static const uint64_t bases[] = { 0x3f8, 0x60, 0x70, 0x64, 0x2f8, 0x0, 0xcf8 };
	static const uint64_t lens[] = { 8, 1, 2, 1, 8, 0x10, 8 };
	static const int orders[3][7] = {
		{ 0, 1, 2, 3, 4, 5, 6 }, { 6, 5, 4, 3, 2, 1, 0 }, { 3, 0, 6, 1, 5, 2, 4 },
	};

	for (int o = 0; o < 3; o++) {
		struct bus b;

		bus_init(&b, "pio");
		for (int i = 0; i < 7; i++) {
			int k = orders[o][i];
			CHECK_EQ_INT(reg(&b, bases[k], lens[k], "dev"), 0);
		}
		CHECK_EQ_U64(b.n, 7);
		for (int k = 0; k < 7; k++) {
			const struct bus_range *r = bus_find(&b, bases[k]);
			const struct bus_range *last = bus_find(&b, bases[k] + lens[k] - 1);

			REQUIRE_NOT_NULL(r);
			CHECK_EQ_U64(r->base, bases[k]);
			CHECK_EQ_U64(r->len, lens[k]);
			CHECK(last == r);
		}
		for (size_t i = 1; i < b.n; i++)
			CHECK(b.ranges[i - 1].base + b.ranges[i - 1].len <= b.ranges[i].base);
		CHECK_NULL(bus_find(&b, 0x10));
		CHECK_NULL(bus_find(&b, 0x61));
		CHECK_NULL(bus_find(&b, 0x400));
		bus_free(&b);
	}
}

/* An existing range [0x100, 0x110) "A" and each kind of overlap with it. */
TEST(overlaps_refused_with_both_ranges_named)
{
	static const struct { uint64_t base, len; const char *what; } cases[] = {
		{ 0x100, 0x10, "exact" },
		{ 0xf8, 0x10, "partial left" },
		{ 0x10f, 0x10, "partial right" },
		{ 0xf0, 0x40, "containing" },
		{ 0x104, 0x4, "contained" },
		{ 0x100, 1, "first byte" },
		{ 0x10f, 1, "last byte" },
		{ 0x0, UINT64_MAX, "everything" },
	};
	struct bus b;

	bus_init(&b, "pio");
	REQUIRE_EQ_INT(reg(&b, 0x100, 0x10, "uartA"), 0);
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		err_clear();
		int r = reg(&b, cases[i].base, cases[i].len, "newdev");

		if (!CHECK_EQ_INT(r, -EEXIST))
			FAIL("case %s", cases[i].what);
		CHECK_STR_CONTAINS(err_msg(), "uartA");
		CHECK_STR_CONTAINS(err_msg(), "newdev");
		CHECK_STR_CONTAINS(err_msg(), "0x100");
		CHECK_EQ_U64(b.n, 1);
	}
	/* The overlapping one is the one named, with a neighbour on each side. */
	REQUIRE_EQ_INT(reg(&b, 0x0, 0x10, "low"), 0);
	REQUIRE_EQ_INT(reg(&b, 0x200, 0x10, "high"), 0);
	err_clear();
	CHECK_EQ_INT(reg(&b, 0x1f0, 0x20, "x"), -EEXIST);
	CHECK_STR_CONTAINS(err_msg(), "high");
	CHECK_STR_CONTAINS(err_msg(), "0x200");
	err_clear();
	CHECK_EQ_INT(reg(&b, 0x8, 0x10, "y"), -EEXIST);
	CHECK_STR_CONTAINS(err_msg(), "low");
	CHECK_EQ_U64(b.n, 3);
	bus_free(&b);
}

TEST(adjacent_ranges_accepted)
{
	struct bus b;

	bus_init(&b, "mmio");
	CHECK_EQ_INT(reg(&b, 0x1000, 0x1000, "mid"), 0);
	CHECK_EQ_INT(reg(&b, 0x2000, 0x1000, "right"), 0);   /* starts at mid's end */
	CHECK_EQ_INT(reg(&b, 0x0, 0x1000, "left"), 0);       /* ends at mid's base */
	CHECK_EQ_U64(b.n, 3);
	CHECK_STR_EQ(bus_find(&b, 0xfff)->name, "left");
	CHECK_STR_EQ(bus_find(&b, 0x1000)->name, "mid");
	CHECK_STR_EQ(bus_find(&b, 0x1fff)->name, "mid");
	CHECK_STR_EQ(bus_find(&b, 0x2000)->name, "right");
	CHECK_NULL(bus_find(&b, 0x3000));
	bus_free(&b);
}

TEST(empty_and_wrapping_ranges_invalid)
{
	struct bus b;

	bus_init(&b, "mmio");
	CHECK_EQ_INT(reg(&b, 0x1000, 0, "empty"), -EINVAL);
	CHECK_STR_CONTAINS(err_msg(), "empty");
	CHECK_EQ_INT(reg(&b, UINT64_MAX, 2, "wrap"), -EINVAL);
	CHECK_STR_CONTAINS(err_msg(), "wrap");
	CHECK_EQ_INT(reg(&b, 2, UINT64_MAX, "wrap2"), -EINVAL);
	CHECK_EQ_INT(reg(&b, UINT64_MAX - 0xff, 0x101, "wrap3"), -EINVAL);
	CHECK_EQ_U64(b.n, 0);
	/* Ranges that end exactly at the top of the address space are fine. */
	CHECK_EQ_INT(reg(&b, UINT64_MAX, 1, "top"), 0);
	CHECK_EQ_INT(reg(&b, UINT64_MAX - 0x100, 0x100, "below-top"), 0);
	CHECK_STR_EQ(bus_find(&b, UINT64_MAX)->name, "top");
	CHECK_STR_EQ(bus_find(&b, UINT64_MAX - 1)->name, "below-top");
	CHECK_STR_EQ(bus_find(&b, UINT64_MAX - 0x100)->name, "below-top");
	CHECK_NULL(bus_find(&b, UINT64_MAX - 0x101));
	/* The whole address space as one range, on an empty bus. */
	struct bus b2;
	bus_init(&b2, "all");
	CHECK_EQ_INT(reg(&b2, 0, UINT64_MAX, "all-but-last"), 0);
	CHECK_NOT_NULL(bus_find(&b2, 0));
	CHECK_NOT_NULL(bus_find(&b2, UINT64_MAX - 1));
	CHECK_NULL(bus_find(&b2, UINT64_MAX));
	bus_free(&b);
	bus_free(&b2);
}

/* Reference model: the ranges accepted so far, searched linearly. */
struct model {
	uint64_t base[600], last[600];
	size_t n;
};

static int model_overlaps(const struct model *mo, uint64_t base, uint64_t last)
{
	for (size_t i = 0; i < mo->n; i++)
		if (base <= mo->last[i] && mo->base[i] <= last)
			return 1;
	return 0;
}

static long model_find(const struct model *mo, uint64_t addr)
{
	for (size_t i = 0; i < mo->n; i++)
		if (mo->base[i] <= addr && addr <= mo->last[i])
			return (long)i;
	return -1;
}

/* Ranges with bases in [off, off + space) and lengths up to maxlen. */
static void random_ranges_vs_linear_search(uint64_t seed, uint64_t off, uint64_t space,
					   uint64_t maxlen)
{
	static struct model mo;
	struct bus b;
	uint64_t rs = seed;
	unsigned int accepted = 0, refused = 0, mismatches = 0;

	memset(&mo, 0, sizeof(mo));
	bus_init(&b, "rand");
	for (int i = 0; i < 600 && mo.n < ARRAY_LEN(mo.base); i++) {
		uint64_t base = off + test_rand(&rs) % space;
		uint64_t len = 1 + test_rand(&rs) % maxlen;
		uint64_t last = base + len - 1;
		int want = model_overlaps(&mo, base, last) ? -EEXIST : 0;
		struct bus_range r = mk(base, len, "r", NULL);

		r.opaque = (void *)(uintptr_t)(mo.n + 1);  /* identifies the range */
		int got = bus_register(&b, &r);
		if (got != want) {
			mismatches++;
			if (mismatches < 5)
				FAIL("register [0x%llx, +0x%llx): got %d, linear model says %d",
				     (unsigned long long)base, (unsigned long long)len, got, want);
		}
		if (got == 0) {
			mo.base[mo.n] = base;
			mo.last[mo.n] = last;
			mo.n++;
			accepted++;
		} else {
			refused++;
		}
	}
	CHECK_EQ_U64(mismatches, 0);
	CHECK(accepted > 20);
	CHECK(refused > 20);      /* the overlap path was exercised too */
	CHECK_EQ_U64(b.n, mo.n);
	/* Every range's edges and their neighbours, and random addresses. */
	mismatches = 0;
	for (size_t i = 0; i < mo.n; i++) {
		uint64_t probes[] = { mo.base[i], mo.last[i], mo.base[i] - 1, mo.last[i] + 1,
				      mo.base[i] + (mo.last[i] - mo.base[i]) / 2 };
		for (size_t k = 0; k < ARRAY_LEN(probes); k++) {
			long want = model_find(&mo, probes[k]);
			const struct bus_range *got = bus_find(&b, probes[k]);
			uintptr_t got_id = got ? (uintptr_t)got->opaque : 0;

			if (got_id != (uintptr_t)(want + 1))
				mismatches++;
		}
	}
	for (int i = 0; i < 20000; i++) {
		uint64_t a = off + test_rand(&rs) % (space + maxlen);
		long want = model_find(&mo, a);
		const struct bus_range *got = bus_find(&b, a);

		if ((got ? (uintptr_t)got->opaque : 0) != (uintptr_t)(want + 1))
			mismatches++;
	}
	CHECK_EQ_U64(mismatches, 0);
	bus_free(&b);
}

TEST(lookup_matches_linear_search_dense)
{
	random_ranges_vs_linear_search(0x1234567, 0, 0x10000, 0x80);
}

TEST(lookup_matches_linear_search_sparse_64bit)
{
	/* Near the top of the 64-bit space, where a careless base + len would wrap. */
	random_ranges_vs_linear_search(0xdeadbeef, UINT64_MAX - (1ULL << 48) - (1ULL << 40),
				       1ULL << 48, 1ULL << 40);
}

TEST(lookup_on_empty_bus)
{
	struct bus b;
	uint8_t d[4];

	bus_init(&b, "pio");
	CHECK_NULL(bus_find(&b, 0));
	CHECK_NULL(bus_find(&b, UINT64_MAX));
	bus_read(&b, 0x80, d, 4);
	CHECK_EQ_U64(b.unclaimed_reads, 1);
	bus_free(&b);
}

TEST(handler_gets_offset_and_data)
{
	struct bus b;
	struct rec dev = { .fill = 0x42 };
	struct bus_range r = mk(0x3f8, 8, "uart", &dev);
	uint8_t d[4] = { 0, 0, 0, 0 };
	const uint8_t w[2] = { 0xab, 0xcd };

	bus_init(&b, "pio");
	REQUIRE_EQ_INT(bus_register(&b, &r), 0);
	bus_read(&b, 0x3fd, d, 1);
	CHECK_EQ_INT(dev.reads, 1);
	CHECK_EQ_U64(dev.offset, 5);
	CHECK_EQ_U64(dev.len, 1);
	CHECK_EQ_U64(d[0], 0x42);
	CHECK_EQ_U64(d[1], 0);     /* bytes past len untouched */
	bus_write(&b, 0x3fe, w, 2);  /* the last two bytes of the range */
	CHECK_EQ_INT(dev.writes, 1);
	CHECK_EQ_U64(dev.offset, 6);
	CHECK_EQ_U64(dev.len, 2);
	CHECK_MEM_EQ(dev.data, w, 2);
	bus_read(&b, 0x3f8, d, 4);
	CHECK_EQ_U64(dev.offset, 0);
	CHECK_EQ_U64(dev.len, 4);
	CHECK_EQ_U64(b.unclaimed_reads, 0);
	CHECK_EQ_U64(b.unclaimed_writes, 0);
	bus_free(&b);
}

TEST(unclaimed_reads_all_ones_and_counted)
{
	struct bus b;
	struct rec dev = { .fill = 0 };
	struct bus_range r = mk(0x70, 2, "cmos", &dev);
	uint8_t d[8];
	const uint8_t w[4] = { 1, 2, 3, 4 };

	bus_init(&b, "pio");
	REQUIRE_EQ_INT(bus_register(&b, &r), 0);
	memset(d, 0, sizeof(d));
	bus_read(&b, 0x80, d, 8);
	for (int i = 0; i < 8; i++)
		CHECK_EQ_U64(d[i], 0xff);
	CHECK_EQ_U64(b.unclaimed_reads, 1);
	memset(d, 0, sizeof(d));
	bus_read(&b, 0x6f, d, 1);    /* just below */
	CHECK_EQ_U64(d[0], 0xff);
	CHECK_EQ_U64(b.unclaimed_reads, 2);
	bus_write(&b, 0x72, w, 1);   /* just above */
	bus_write(&b, 0x1000, w, 4);
	CHECK_EQ_U64(b.unclaimed_writes, 2);
	CHECK_EQ_INT(dev.reads, 0);
	CHECK_EQ_INT(dev.writes, 0);
	bus_free(&b);
}

TEST(access_straddling_range_end_is_unclaimed)
{
	struct bus b;
	struct rec dev = { .fill = 0x00 };
	struct bus_range r = mk(0x70, 2, "cmos", &dev);
	uint8_t d[4];
	const uint8_t w[4] = { 1, 2, 3, 4 };

	bus_init(&b, "pio");
	REQUIRE_EQ_INT(bus_register(&b, &r), 0);
	memset(d, 0, sizeof(d));
	bus_read(&b, 0x71, d, 2);          /* first byte in the range, second past it */
	CHECK_EQ_U64(d[0], 0xff);
	CHECK_EQ_U64(d[1], 0xff);
	CHECK_EQ_INT(dev.reads, 0);
	CHECK_EQ_U64(b.unclaimed_reads, 1);
	bus_read(&b, 0x70, d, 4);
	CHECK_EQ_INT(dev.reads, 0);
	CHECK_EQ_U64(b.unclaimed_reads, 2);
	bus_write(&b, 0x71, w, 2);
	bus_write(&b, 0x70, w, 4);
	CHECK_EQ_INT(dev.writes, 0);
	CHECK_EQ_U64(b.unclaimed_writes, 2);
	/* ... while an access that fits exactly is the device's. */
	bus_read(&b, 0x70, d, 2);
	CHECK_EQ_INT(dev.reads, 1);
	bus_free(&b);
}

TEST(straddling_at_top_of_address_space)
{
	struct bus b;
	struct rec dev = { .fill = 0x11 };
	struct bus_range r = mk(UINT64_MAX - 1, 2, "top", &dev);
	uint8_t d[4];

	bus_init(&b, "mmio");
	REQUIRE_EQ_INT(bus_register(&b, &r), 0);
	bus_read(&b, UINT64_MAX - 1, d, 2);
	CHECK_EQ_INT(dev.reads, 1);
	CHECK_EQ_U64(dev.offset, 0);
	bus_read(&b, UINT64_MAX, d, 4);      /* would run past 2^64 */
	CHECK_EQ_INT(dev.reads, 1);
	CHECK_EQ_U64(d[0], 0xff);
	CHECK_EQ_U64(b.unclaimed_reads, 1);
	bus_free(&b);
}

TEST(range_without_handlers_reads_ones_not_counted)
{
	struct bus b;
	uint8_t d[2] = { 0, 0 };
	const uint8_t w[1] = { 9 };

	bus_init(&b, "pio");
	REQUIRE_EQ_INT(reg(&b, 0x80, 1, "post"), 0);   /* claimed, no handlers */
	bus_read(&b, 0x80, d, 1);
	CHECK_EQ_U64(d[0], 0xff);
	bus_write(&b, 0x80, w, 1);
	CHECK_EQ_U64(b.unclaimed_reads, 0);
	CHECK_EQ_U64(b.unclaimed_writes, 0);
	bus_free(&b);
}

TEST(many_registrations_grow_array)
{
	struct bus b;
	int ok = 1;

	bus_init(&b, "pio");
	for (uint64_t i = 0; i < 1000; i++)
		ok &= reg(&b, (999 - i) * 4, 4, "d") == 0;
	CHECK(ok);
	CHECK_EQ_U64(b.n, 1000);
	for (uint64_t i = 0; i < 1000; i++)
		ok &= bus_find(&b, i * 4 + 3) != NULL && bus_find(&b, i * 4 + 3)->base == i * 4;
	CHECK(ok);
	CHECK_NULL(bus_find(&b, 4000));
	bus_free(&b);
	CHECK_EQ_U64(b.n, 0);
}
