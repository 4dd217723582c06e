/* Split virtqueues, device side (src/devices/virtio/virtqueue.c), driven by a small driver
 * (vq_driver.h) over synthetic guest memory. Expectations from the virtio 1.x spec,
 * section 2.7 (split virtqueues): ring layout and alignment, readable-before-writable
 * chains, indirect tables (2.7.5.3), used buffer notification suppression (2.7.7/2.7.10,
 * vring_need_event), and from the project's rule for hostile drivers: every malformed
 * ring is refused with -EINVAL, the queue stays broken, nothing outside guest RAM is
 * touched (an ASan build has RAM as one exact-size heap block). */
#include <errno.h>
#include <string.h>

#include "harness.h"
#include "vq_driver.h"
#include "arch/x86/layout.h"

#define OUT(g, l) { (g), (l), false }
#define IN(g, l) { (g), (l), true }

static bool iov_is(const struct vq_chain *c, unsigned int i, struct vqd *d, uint64_t gpa,
		   uint64_t len)
{
	return c->iov[i].iov_base == guest_mem_ptr(&d->mem, gpa, 1) && c->iov[i].iov_len == len;
}

/* ---- round trips ---- */

TEST(simple_chain_round_trip)
{
	struct vqd d;
	struct vq_chain c;
	const struct vqd_buf b[] = {
		OUT(VQD_DATA, 16), OUT(VQD_DATA + 0x100, 100), IN(VQD_DATA + 0x1000, 512),
		IN(VQD_DATA + 0x2000, 1),
	};
	uint32_t id, len;

	REQUIRE_EQ_INT(vqd_init(&d, 8, false, false), 0);
	CHECK(d.q.ready);
	uint16_t head = vqd_add(&d, b, 4);
	REQUIRE_EQ_INT(vq_pop(&d.q, &c), 1);
	CHECK_EQ_U64(c.head, head);
	CHECK_EQ_U64(c.n, 4);
	CHECK_EQ_U64(c.n_out, 2);
	CHECK_EQ_U64(c.out_len, 116);
	CHECK_EQ_U64(c.in_len, 513);
	for (unsigned int i = 0; i < 4; i++)
		CHECK(iov_is(&c, i, &d, b[i].gpa, b[i].len));
	CHECK(c.iov[0].iov_base == d.ram + VQD_DATA);
	CHECK_EQ_INT(vq_pop(&d.q, &c), 0);          /* only one published */

	vq_push(&d.q, c.head, 513);
	CHECK_EQ_U64(vqd_used_idx(&d), 1);
	vqd_used_elem(&d, 0, &id, &len);
	CHECK_EQ_U64(id, head);
	CHECK_EQ_U64(len, 513);
	CHECK(!d.q.broken);
	vqd_free(&d);
}

TEST(single_buffer_chain_and_order_of_several)
{
	struct vqd d;
	struct vq_chain c;
	uint16_t heads[3];
	uint32_t id, len;

	REQUIRE_EQ_INT(vqd_init(&d, 8, false, false), 0);
	for (unsigned int i = 0; i < 3; i++) {
		const struct vqd_buf b[] = { IN(VQD_DATA + 0x1000ULL * i, 64u + i) };

		heads[i] = vqd_add(&d, b, 1);
	}
	for (unsigned int i = 0; i < 3; i++) {
		REQUIRE_EQ_INT(vq_pop(&d.q, &c), 1);
		CHECK_EQ_U64(c.head, heads[i]);
		CHECK_EQ_U64(c.n, 1);
		CHECK_EQ_U64(c.n_out, 0);
		CHECK_EQ_U64(c.out_len, 0);
		CHECK_EQ_U64(c.in_len, 64 + i);
		CHECK(iov_is(&c, 0, &d, VQD_DATA + 0x1000ULL * i, 64 + i));
	}
	CHECK_EQ_INT(vq_pop(&d.q, &c), 0);
	/* Completed out of order: the used ring records it as pushed. */
	vq_push(&d.q, heads[2], 3);
	vq_push(&d.q, heads[0], 1);
	vq_push(&d.q, heads[1], 2);
	CHECK_EQ_U64(vqd_used_idx(&d), 3);
	vqd_used_elem(&d, 0, &id, &len);
	CHECK_EQ_U64(id, heads[2]);
	CHECK_EQ_U64(len, 3);
	vqd_used_elem(&d, 1, &id, &len);
	CHECK_EQ_U64(id, heads[0]);
	vqd_used_elem(&d, 2, &id, &len);
	CHECK_EQ_U64(id, heads[1]);
	CHECK_EQ_U64(len, 2);
	vqd_free(&d);
}

TEST(ring_positions_wrap_and_indices_wrap_at_65536)
{
	struct vqd d;
	struct vq_chain c;
	uint32_t id, len;

	REQUIRE_EQ_INT(vqd_init(&d, 4, false, false), 0);
	/* Both sides start just below the 16-bit wrap, as after a long uptime. */
	d.q.last_avail = 65533;
	d.q.used_idx = 65533;
	d.avail_idx = 65533;
	vqd_w16(&d, d.q.used_gpa + 2, 65533);
	for (unsigned int round = 0; round < 10; round++) {
		const struct vqd_buf b[] = { OUT(VQD_DATA, 8), IN(VQD_DATA + 0x100 + round, 4) };
		uint16_t head = vqd_add(&d, b, 2);

		REQUIRE_EQ_INT(vq_pop(&d.q, &c), 1);
		CHECK_EQ_U64(c.head, head);
		CHECK(iov_is(&c, 1, &d, VQD_DATA + 0x100 + round, 4));
		CHECK_EQ_INT(vq_pop(&d.q, &c), 0);
		vq_push(&d.q, head, round);
		CHECK_EQ_U64(vqd_used_idx(&d), (uint16_t)(65534 + round));
		vqd_used_elem(&d, (uint16_t)(65533 + round), &id, &len);
		CHECK_EQ_U64(id, head);
		CHECK_EQ_U64(len, round);
	}
	CHECK_EQ_U64(d.q.last_avail, (uint16_t)(65533 + 10));
	CHECK(!d.q.broken);
	vqd_free(&d);
}

TEST(full_ring_of_size_chains_is_fine)
{
	struct vqd d;
	struct vq_chain c;

	REQUIRE_EQ_INT(vqd_init(&d, 8, false, false), 0);
	for (unsigned int i = 0; i < 8; i++) {
		const struct vqd_buf b[] = { IN(VQD_DATA + 16ULL * i, 16) };

		vqd_add(&d, b, 1);
	}
	/* avail->idx is exactly size ahead: allowed. */
	for (unsigned int i = 0; i < 8; i++)
		CHECK_EQ_INT(vq_pop(&d.q, &c), 1);
	CHECK_EQ_INT(vq_pop(&d.q, &c), 0);
	CHECK(!d.q.broken);
	vqd_free(&d);
}

TEST(empty_ring_and_inactive_queue_return_0)
{
	struct vqd d;
	struct vq_chain c;

	REQUIRE_EQ_INT(vqd_mem(&d, VQD_RAM), 0);
	vqd_layout(&d, 8, false, false);
	CHECK_EQ_INT(vq_pop(&d.q, &c), 0);          /* never activated */
	REQUIRE_EQ_INT(vq_activate(&d.q, &d.mem), 0);
	CHECK_EQ_INT(vq_pop(&d.q, &c), 0);
	CHECK_EQ_INT(vq_pop(&d.q, &c), 0);
	CHECK(!d.q.broken);
	CHECK_EQ_U64(vqd_used_idx(&d), 0);
	vqd_free(&d);
}

TEST(chain_as_long_as_the_queue_is_fine)
{
	struct vqd d;
	struct vq_chain c;
	struct vqd_buf b[8];

	REQUIRE_EQ_INT(vqd_init(&d, 8, false, false), 0);
	for (unsigned int i = 0; i < 8; i++)
		b[i] = (struct vqd_buf){ VQD_DATA + 0x10ULL * i, 16, i >= 4 };
	vqd_add(&d, b, 8);
	REQUIRE_EQ_INT(vq_pop(&d.q, &c), 1);
	CHECK_EQ_U64(c.n, 8);
	CHECK_EQ_U64(c.n_out, 4);
	vqd_free(&d);
}

TEST(chain_of_vq_max_chain_buffers_is_fine)
{
	struct vqd d;
	struct vq_chain c;
	static struct vqd_buf b[VQ_MAX_CHAIN];

	REQUIRE_EQ_INT(vqd_init(&d, 512, false, false), 0);
	for (unsigned int i = 0; i < VQ_MAX_CHAIN; i++)
		b[i] = (struct vqd_buf){ VQD_DATA + i, 1, false };
	vqd_add(&d, b, VQ_MAX_CHAIN);
	REQUIRE_EQ_INT(vq_pop(&d.q, &c), 1);
	CHECK_EQ_U64(c.n, VQ_MAX_CHAIN);
	CHECK_EQ_U64(c.out_len, VQ_MAX_CHAIN);
	vqd_free(&d);
}

/* ---- malformed rings ---- */

/* Checks that the queue is broken for good: pops keep failing even after the driver
 * publishes a valid chain, pushes and notification changes write nothing. */
static void check_stays_broken(struct vqd *d)
{
	struct vq_chain c;
	uint8_t used_before[64];
	const struct vqd_buf b[] = { IN(VQD_DATA + 0x8000, 8) };

	CHECK(d->q.broken);
	CHECK_EQ_INT(vq_pop(&d->q, &c), -EINVAL);
	vqd_add(d, b, 1);
	CHECK_EQ_INT(vq_pop(&d->q, &c), -EINVAL);
	memcpy(used_before, vqd_ptr(d, d->q.used_gpa), sizeof(used_before));
	vq_push(&d->q, 0, 8);
	CHECK(!vq_enable_notify(&d->q, true));
	CHECK(!vq_enable_notify(&d->q, false));
	CHECK_MEM_EQ(vqd_ptr(d, d->q.used_gpa), used_before, sizeof(used_before));
	CHECK_EQ_U64(vqd_used_idx(d), 0);
}

TEST(avail_idx_running_ahead_by_more_than_size)
{
	struct vqd d;
	struct vq_chain c;

	REQUIRE_EQ_INT(vqd_init(&d, 8, false, false), 0);
	vqd_desc(&d, 0, VQD_DATA, 16, 0, 0);
	vqd_set_avail_idx(&d, 9);
	CHECK_EQ_INT(vq_pop(&d.q, &c), -EINVAL);
	check_stays_broken(&d);
	vqd_free(&d);

	/* Far ahead (and "behind": 0xffff is 65535 ahead of 0). */
	REQUIRE_EQ_INT(vqd_init(&d, 8, false, false), 0);
	vqd_set_avail_idx(&d, 0xffff);
	CHECK_EQ_INT(vq_pop(&d.q, &c), -EINVAL);
	CHECK(d.q.broken);
	vqd_free(&d);
}

TEST(head_index_out_of_range)
{
	static const uint16_t heads[] = { 8, 9, 1024, 0xffff };

	for (unsigned int k = 0; k < ARRAY_LEN(heads); k++) {
		struct vqd d;
		struct vq_chain c;

		REQUIRE_EQ_INT(vqd_init(&d, 8, false, false), 0);
		vqd_publish(&d, heads[k]);
		CHECK_EQ_INT(vq_pop(&d.q, &c), -EINVAL);
		check_stays_broken(&d);
		vqd_free(&d);
	}
}

TEST(next_index_out_of_range)
{
	struct vqd d;
	struct vq_chain c;

	REQUIRE_EQ_INT(vqd_init(&d, 8, false, false), 0);
	vqd_desc(&d, 0, VQD_DATA, 16, VRING_DESC_F_NEXT, 8);
	vqd_publish(&d, 0);
	CHECK_EQ_INT(vq_pop(&d.q, &c), -EINVAL);
	check_stays_broken(&d);
	vqd_free(&d);

	REQUIRE_EQ_INT(vqd_init(&d, 8, false, false), 0);
	vqd_desc(&d, 3, VQD_DATA, 16, VRING_DESC_F_NEXT, 0xffff);
	vqd_publish(&d, 3);
	CHECK_EQ_INT(vq_pop(&d.q, &c), -EINVAL);
	CHECK(d.q.broken);
	vqd_free(&d);
}

TEST(descriptor_loops_are_refused)
{
	struct vqd d;
	struct vq_chain c;

	/* a -> b -> a */
	REQUIRE_EQ_INT(vqd_init(&d, 8, false, false), 0);
	vqd_desc(&d, 2, VQD_DATA, 16, VRING_DESC_F_NEXT, 5);
	vqd_desc(&d, 5, VQD_DATA + 16, 16, VRING_DESC_F_NEXT, 2);
	vqd_publish(&d, 2);
	CHECK_EQ_INT(vq_pop(&d.q, &c), -EINVAL);
	check_stays_broken(&d);
	vqd_free(&d);

	/* a -> a */
	REQUIRE_EQ_INT(vqd_init(&d, 8, false, false), 0);
	vqd_desc(&d, 0, VQD_DATA, 16, VRING_DESC_F_NEXT, 0);
	vqd_publish(&d, 0);
	CHECK_EQ_INT(vq_pop(&d.q, &c), -EINVAL);
	vqd_free(&d);

	/* A loop through every descriptor of the biggest queue, of writable zero-length
	 * buffers: the walk still ends (chain bound), and quickly. */
	REQUIRE_EQ_INT(vqd_init(&d, VQ_MAX_SIZE, false, false), 0);
	for (unsigned int i = 0; i < VQ_MAX_SIZE; i++)
		vqd_desc(&d, i, VQD_DATA, 0, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE,
			 (uint16_t)((i + 1) % VQ_MAX_SIZE));
	vqd_publish(&d, 0);
	CHECK_EQ_INT(vq_pop(&d.q, &c), -EINVAL);
	CHECK(c.n <= VQ_MAX_CHAIN);
	vqd_free(&d);

	/* Same in a queue small enough that the loop bound (queue size) trips first. */
	REQUIRE_EQ_INT(vqd_init(&d, 2, false, false), 0);
	vqd_desc(&d, 0, VQD_DATA, 1, VRING_DESC_F_NEXT, 1);
	vqd_desc(&d, 1, VQD_DATA, 1, VRING_DESC_F_NEXT, 0);
	vqd_publish(&d, 1);
	CHECK_EQ_INT(vq_pop(&d.q, &c), -EINVAL);
	CHECK(c.n <= 2);
	vqd_free(&d);
}

TEST(chain_longer_than_vq_max_chain)
{
	struct vqd d;
	struct vq_chain c;
	static struct vqd_buf b[VQ_MAX_CHAIN + 1];

	REQUIRE_EQ_INT(vqd_init(&d, 512, false, false), 0);
	for (unsigned int i = 0; i <= VQ_MAX_CHAIN; i++)
		b[i] = (struct vqd_buf){ VQD_DATA + i, 1, false };
	vqd_add(&d, b, VQ_MAX_CHAIN + 1);
	CHECK_EQ_INT(vq_pop(&d.q, &c), -EINVAL);
	check_stays_broken(&d);
	vqd_free(&d);
}

TEST(buffer_outside_or_straddling_the_end_of_ram)
{
	static const struct { uint64_t gpa; uint32_t len; int ok; } cases[] = {
		{ VQD_RAM - 16, 16, 1 },          /* last 16 bytes: fine */
		{ VQD_RAM - 1, 1, 1 },
		{ VQD_RAM, 1, 0 },                /* one past the end */
		{ VQD_RAM - 8, 16, 0 },           /* straddles the end */
		{ VQD_RAM - 1, 2, 0 },
		{ VQD_RAM + 0x1000, 16, 0 },
		{ 0x80000000ULL, 4096, 0 },
		{ LAYOUT_MMIO_GAP_START, 4, 0 },  /* the MMIO gap (no RAM behind it here) */
		{ 0xd0000000ULL, 4, 0 },          /* a virtio-mmio window */
		{ LAYOUT_MMIO_GAP_END, 4, 0 },
		{ 0, 0xffffffffu, 0 },            /* longer than RAM */
		{ 0xfffffffffffff000ULL, 0x2000, 0 },  /* gpa + len wraps 64 bits */
		{ UINT64_MAX, 1, 0 },
		{ UINT64_MAX - 2, 0xffffffffu, 0 },
	};

	for (unsigned int k = 0; k < ARRAY_LEN(cases); k++) {
		for (int w = 0; w < 2; w++) {
			struct vqd d;
			struct vq_chain c;
			const struct vqd_buf b[] = { OUT(VQD_DATA, 16),
						     { cases[k].gpa, cases[k].len, w != 0 } };

			REQUIRE_EQ_INT(vqd_init(&d, 8, false, false), 0);
			vqd_add(&d, b, 2);
			int r = vq_pop(&d.q, &c);

			if (cases[k].ok) {
				if (!CHECK_EQ_INT(r, 1))
					FAIL("case %u (gpa 0x%llx len %u) refused", k,
					     (unsigned long long)cases[k].gpa, cases[k].len);
				CHECK(iov_is(&c, 1, &d, cases[k].gpa, cases[k].len));
			} else {
				if (!CHECK_EQ_INT(r, -EINVAL))
					FAIL("case %u (gpa 0x%llx len %u) accepted", k,
					     (unsigned long long)cases[k].gpa, cases[k].len);
				CHECK(d.q.broken);
			}
			vqd_free(&d);
		}
	}
}

TEST(zero_length_buffer_must_still_be_ram)
{
	struct vqd d;
	struct vq_chain c;
	const struct vqd_buf ok[] = { OUT(VQD_DATA, 0), IN(VQD_RAM - 1, 0) };
	const struct vqd_buf bad[] = { IN(VQD_RAM, 0) };

	REQUIRE_EQ_INT(vqd_init(&d, 8, false, false), 0);
	vqd_add(&d, ok, 2);
	REQUIRE_EQ_INT(vq_pop(&d.q, &c), 1);
	CHECK_EQ_U64(c.n, 2);
	CHECK_EQ_U64(c.out_len + c.in_len, 0);
	vqd_add(&d, bad, 1);
	CHECK_EQ_INT(vq_pop(&d.q, &c), -EINVAL);
	vqd_free(&d);
}

TEST(buffers_around_the_mmio_gap)
{
	/* 3 GiB + 2 MiB: RAM [0, 3 GiB) and [4 GiB, 4 GiB + 2 MiB). Nothing but the rings and
	 * one page at 4 GiB is touched. */
	static const struct { uint64_t gpa; uint32_t len; int ok; } cases[] = {
		{ LAYOUT_MMIO_GAP_START - 16, 16, 1 },
		{ LAYOUT_MMIO_GAP_START - 8, 16, 0 },       /* straddles into the gap */
		{ LAYOUT_MMIO_GAP_START, 16, 0 },
		{ 0xd0000000ULL, 0x100, 0 },                /* a virtio-mmio window */
		{ LAYOUT_IOAPIC, 4, 0 },
		{ LAYOUT_MMIO_GAP_END - 8, 16, 0 },         /* straddles out of the gap */
		{ LAYOUT_MMIO_GAP_END, 4096, 1 },
		{ LAYOUT_MMIO_GAP_END + 2 * MiB - 4096, 4096, 1 },
		{ LAYOUT_MMIO_GAP_END + 2 * MiB - 4096, 4097, 0 },
		{ LAYOUT_MMIO_GAP_START - 4096, 0xffffffffu, 0 },  /* spans the whole gap */
	};

	for (unsigned int k = 0; k < ARRAY_LEN(cases); k++) {
		struct vqd d;
		struct vq_chain c;
		const struct vqd_buf b[] = { { cases[k].gpa, cases[k].len, true } };

		REQUIRE_EQ_INT(vqd_mem_big(&d, 3 * GiB + 2 * MiB), 0);
		REQUIRE_EQ_U64(d.mem.nregions, 2);
		vqd_layout(&d, 8, false, false);
		REQUIRE_EQ_INT(vq_activate(&d.q, &d.mem), 0);
		vqd_add(&d, b, 1);
		int r = vq_pop(&d.q, &c);

		if (cases[k].ok) {
			if (CHECK_EQ_INT(r, 1))
				CHECK(iov_is(&c, 0, &d, cases[k].gpa, cases[k].len));
			if (cases[k].gpa >= LAYOUT_MMIO_GAP_END)
				CHECK((uint8_t *)c.iov[0].iov_base ==
				      d.mem.regions[1].host + (cases[k].gpa - LAYOUT_MMIO_GAP_END));
		} else if (!CHECK_EQ_INT(r, -EINVAL)) {
			FAIL("case %u (gpa 0x%llx len %u) accepted", k,
			     (unsigned long long)cases[k].gpa, cases[k].len);
		}
		vqd_free(&d);
	}
}

TEST(readable_after_writable_is_refused)
{
	struct vqd d;
	struct vq_chain c;
	const struct vqd_buf b[] = { OUT(VQD_DATA, 16), IN(VQD_DATA + 0x100, 16),
				     OUT(VQD_DATA + 0x200, 16) };

	REQUIRE_EQ_INT(vqd_init(&d, 8, false, false), 0);
	vqd_add(&d, b, 3);
	CHECK_EQ_INT(vq_pop(&d.q, &c), -EINVAL);
	check_stays_broken(&d);
	vqd_free(&d);
}

TEST(total_length_over_4_gib_is_refused)
{
	/* Buffers that are each in RAM but add up past UINT32_MAX (the used ring's len is 32
	 * bits): 3 GiB + 2 MiB of MAP_NORESERVE RAM, of which the buffers are never touched. */
	for (int w = 0; w < 2; w++) {
		struct vqd d;
		struct vq_chain c;
		const struct vqd_buf big[] = { { 0x1000000, 0xa0000000u, w != 0 },
					       { 0x1000000, 0xa0000000u, w != 0 } };
		const struct vqd_buf edge[] = { { 0x1000000, 0x7fffffffu, w != 0 },
						{ 0x1000000, 0x80000000u, w != 0 } };
		const struct vqd_buf over[] = { { 0x1000000, 0x7fffffffu, w != 0 },
						{ 0x1000000, 0x80000000u, w != 0 },
						{ 0x1000000, 1, w != 0 } };

		REQUIRE_EQ_INT(vqd_mem_big(&d, 3 * GiB + 2 * MiB), 0);
		vqd_layout(&d, 8, false, false);
		REQUIRE_EQ_INT(vq_activate(&d.q, &d.mem), 0);
		vqd_add(&d, edge, 2);                       /* exactly UINT32_MAX: fine */
		REQUIRE_EQ_INT(vq_pop(&d.q, &c), 1);
		CHECK_EQ_U64(w ? c.in_len : c.out_len, UINT32_MAX);
		vqd_add(&d, over, 3);                       /* one more byte */
		CHECK_EQ_INT(vq_pop(&d.q, &c), -EINVAL);
		vqd_free(&d);

		REQUIRE_EQ_INT(vqd_mem_big(&d, 3 * GiB + 2 * MiB), 0);
		vqd_layout(&d, 8, false, false);
		REQUIRE_EQ_INT(vq_activate(&d.q, &d.mem), 0);
		vqd_add(&d, big, 2);
		CHECK_EQ_INT(vq_pop(&d.q, &c), -EINVAL);
		CHECK(d.q.broken);
		vqd_free(&d);
	}
}

/* ---- indirect tables ---- */

#define ITABLE 0x20000u   /* an indirect table's guest address */

TEST(indirect_round_trip)
{
	struct vqd d;
	struct vq_chain c;
	uint32_t id, len;

	REQUIRE_EQ_INT(vqd_init(&d, 8, true, false), 0);
	/* Table entries chained out of order: 0 -> 2 -> 1. */
	vqd_desc_at(&d, ITABLE, 0, VQD_DATA, 16, VRING_DESC_F_NEXT, 2);
	vqd_desc_at(&d, ITABLE, 2, VQD_DATA + 0x100, 512, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 1);
	vqd_desc_at(&d, ITABLE, 1, VQD_DATA + 0x400, 1, VRING_DESC_F_WRITE, 0);
	vqd_desc(&d, 5, ITABLE, 3 * 16, VRING_DESC_F_INDIRECT, 0);
	vqd_publish(&d, 5);
	REQUIRE_EQ_INT(vq_pop(&d.q, &c), 1);
	CHECK_EQ_U64(c.head, 5);
	CHECK_EQ_U64(c.n, 3);
	CHECK_EQ_U64(c.n_out, 1);
	CHECK_EQ_U64(c.out_len, 16);
	CHECK_EQ_U64(c.in_len, 513);
	CHECK(iov_is(&c, 0, &d, VQD_DATA, 16));
	CHECK(iov_is(&c, 1, &d, VQD_DATA + 0x100, 512));
	CHECK(iov_is(&c, 2, &d, VQD_DATA + 0x400, 1));
	vq_push(&d.q, c.head, 513);
	vqd_used_elem(&d, 0, &id, &len);
	CHECK_EQ_U64(id, 5);
	CHECK_EQ_U64(len, 513);
	vqd_free(&d);
}

TEST(indirect_write_flag_on_the_outer_descriptor_is_ignored)
{
	/* Spec 2.7.5.3.2: the device MUST ignore the write-only flag of the descriptor that
	 * refers to an indirect table. */
	struct vqd d;
	struct vq_chain c;

	REQUIRE_EQ_INT(vqd_init(&d, 8, true, false), 0);
	vqd_desc_at(&d, ITABLE, 0, VQD_DATA, 16, VRING_DESC_F_NEXT, 1);
	vqd_desc_at(&d, ITABLE, 1, VQD_DATA + 0x100, 8, VRING_DESC_F_WRITE, 0);
	vqd_desc(&d, 0, ITABLE, 32, VRING_DESC_F_INDIRECT | VRING_DESC_F_WRITE, 0);
	vqd_publish(&d, 0);
	REQUIRE_EQ_INT(vq_pop(&d.q, &c), 1);
	CHECK_EQ_U64(c.n_out, 1);
	CHECK_EQ_U64(c.in_len, 8);
	vqd_free(&d);
}

TEST(indirect_table_of_vq_max_chain_entries_is_fine)
{
	struct vqd d;
	struct vq_chain c;

	REQUIRE_EQ_INT(vqd_init(&d, 8, true, false), 0);
	for (unsigned int i = 0; i < VQ_MAX_CHAIN; i++)
		vqd_desc_at(&d, ITABLE, i, VQD_DATA + i, 1,
			    i + 1 < VQ_MAX_CHAIN ? VRING_DESC_F_NEXT : 0, (uint16_t)(i + 1));
	vqd_desc(&d, 0, ITABLE, VQ_MAX_CHAIN * 16, VRING_DESC_F_INDIRECT, 0);
	vqd_publish(&d, 0);
	REQUIRE_EQ_INT(vq_pop(&d.q, &c), 1);
	CHECK_EQ_U64(c.n, VQ_MAX_CHAIN);
	vqd_free(&d);
}

/* One malformed indirect descriptor at head 0: how it is set up. */
enum ind_case {
	IND_NOT_NEGOTIATED, IND_LEN_NOT_16N, IND_LEN_0, IND_OUTSIDE_RAM, IND_STRADDLES_END,
	IND_NESTED, IND_WITH_NEXT, IND_LOOP, IND_SELF_LOOP, IND_NEXT_OUT_OF_RANGE, IND_TOO_LONG,
	IND_BUFFER_OUTSIDE_RAM, IND_READ_AFTER_WRITE, IND_ADDR_WRAPS,
	IND_COUNT
};

static const char *const ind_names[IND_COUNT] = {
	"not negotiated", "len not a multiple of 16", "len 0", "table outside RAM",
	"table straddles the end of RAM", "nested indirect", "indirect with NEXT",
	"loop in the table", "self loop in the table", "next out of the table",
	"table longer than VQ_MAX_CHAIN", "buffer outside RAM", "readable after writable",
	"table address wraps",
};

static void setup_bad_indirect(struct vqd *d, enum ind_case k)
{
	uint64_t table = ITABLE;
	uint32_t len = 32;
	uint16_t flags = VRING_DESC_F_INDIRECT;

	/* A valid two-entry table, then the breakage. */
	vqd_desc_at(d, ITABLE, 0, VQD_DATA, 16, VRING_DESC_F_NEXT, 1);
	vqd_desc_at(d, ITABLE, 1, VQD_DATA + 0x100, 16, VRING_DESC_F_WRITE, 0);
	switch (k) {
	case IND_NOT_NEGOTIATED: d->q.indirect = false; break;
	case IND_LEN_NOT_16N: len = 24; break;
	case IND_LEN_0: len = 0; break;
	case IND_OUTSIDE_RAM: table = VQD_RAM + 0x1000; break;
	case IND_STRADDLES_END: table = VQD_RAM - 16; break;
	case IND_NESTED:
		vqd_desc_at(d, ITABLE, 1, ITABLE, 32, VRING_DESC_F_INDIRECT, 0);
		break;
	case IND_WITH_NEXT: flags |= VRING_DESC_F_NEXT; vqd_desc(d, 1, VQD_DATA, 4, 0, 0); break;
	case IND_LOOP:
		vqd_desc_at(d, ITABLE, 1, VQD_DATA + 0x100, 16, VRING_DESC_F_NEXT, 0);
		break;
	case IND_SELF_LOOP: vqd_desc_at(d, ITABLE, 0, VQD_DATA, 16, VRING_DESC_F_NEXT, 0); break;
	case IND_NEXT_OUT_OF_RANGE:
		vqd_desc_at(d, ITABLE, 1, VQD_DATA + 0x100, 16, VRING_DESC_F_NEXT, 2);
		/* entry 2 exists in memory but is outside the table's len */
		vqd_desc_at(d, ITABLE, 2, VQD_DATA + 0x200, 16, VRING_DESC_F_WRITE, 0);
		break;
	case IND_TOO_LONG: len = (VQ_MAX_CHAIN + 1) * 16; break;
	case IND_BUFFER_OUTSIDE_RAM:
		vqd_desc_at(d, ITABLE, 1, VQD_RAM - 4, 16, VRING_DESC_F_WRITE, 0);
		break;
	case IND_READ_AFTER_WRITE:
		vqd_desc_at(d, ITABLE, 0, VQD_DATA, 16, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 1);
		vqd_desc_at(d, ITABLE, 1, VQD_DATA + 0x100, 16, 0, 0);
		break;
	case IND_ADDR_WRAPS: table = 0xfffffffffffffff0ULL; break;
	case IND_COUNT: break;
	}
	vqd_desc(d, 0, table, len, flags, 1);
	vqd_publish(d, 0);
}

TEST(malformed_indirect_tables_are_refused)
{
	for (unsigned int k = 0; k < IND_COUNT; k++) {
		struct vqd d;
		struct vq_chain c;

		REQUIRE_EQ_INT(vqd_init(&d, 8, true, false), 0);
		setup_bad_indirect(&d, (enum ind_case)k);
		int r = vq_pop(&d.q, &c);

		if (!CHECK_EQ_INT(r, -EINVAL))
			FAIL("indirect case '%s' accepted", ind_names[k]);
		else
			check_stays_broken(&d);
		vqd_free(&d);
	}
}

TEST(indirect_table_loop_in_a_long_table_ends)
{
	/* 256 entries, each pointing at the next, the last back to 0. */
	struct vqd d;
	struct vq_chain c;

	REQUIRE_EQ_INT(vqd_init(&d, 8, true, false), 0);
	for (unsigned int i = 0; i < VQ_MAX_CHAIN; i++)
		vqd_desc_at(&d, ITABLE, i, VQD_DATA, 0, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE,
			    (uint16_t)((i + 1) % VQ_MAX_CHAIN));
	vqd_desc(&d, 0, ITABLE, VQ_MAX_CHAIN * 16, VRING_DESC_F_INDIRECT, 0);
	vqd_publish(&d, 0);
	CHECK_EQ_INT(vq_pop(&d.q, &c), -EINVAL);
	CHECK(c.n <= VQ_MAX_CHAIN);
	vqd_free(&d);
}

/* ---- vq_activate ---- */

TEST(activate_checks_size_alignment_and_placement)
{
	static const struct {
		uint16_t size;
		uint64_t desc, avail, used;
		int ok;
		const char *what;
	} cases[] = {
		{ 8, VQD_DESC, VQD_AVAIL, VQD_USED, 1, "valid" },
		{ 1, VQD_DESC, VQD_AVAIL, VQD_USED, 1, "size 1" },
		{ VQ_MAX_SIZE, VQD_DESC, VQD_AVAIL, VQD_USED, 1, "size max" },
		{ 0, VQD_DESC, VQD_AVAIL, VQD_USED, 0, "size 0" },
		{ 3, VQD_DESC, VQD_AVAIL, VQD_USED, 0, "size 3" },
		{ 6, VQD_DESC, VQD_AVAIL, VQD_USED, 0, "size 6" },
		{ 1000, VQD_DESC, VQD_AVAIL, VQD_USED, 0, "size 1000" },
		{ 2 * VQ_MAX_SIZE, VQD_DESC, VQD_AVAIL, VQD_USED, 0, "size above max" },
		{ 0x8000, VQD_DESC, VQD_AVAIL, VQD_USED, 0, "size 32768" },
		{ 8, VQD_DESC + 8, VQD_AVAIL, VQD_USED, 0, "desc 8-aligned" },
		{ 8, VQD_DESC + 1, VQD_AVAIL, VQD_USED, 0, "desc odd" },
		{ 8, VQD_DESC, VQD_AVAIL + 1, VQD_USED, 0, "avail odd" },
		{ 8, VQD_DESC, VQD_AVAIL + 2, VQD_USED, 1, "avail 2-aligned" },
		{ 8, VQD_DESC, VQD_AVAIL, VQD_USED + 2, 0, "used 2-aligned" },
		{ 8, VQD_DESC, VQD_AVAIL, VQD_USED + 4, 1, "used 4-aligned" },
		{ 8, VQD_RAM, VQD_AVAIL, VQD_USED, 0, "desc past RAM" },
		{ 8, VQD_RAM - 64, VQD_AVAIL, VQD_USED, 0, "desc straddles RAM end" },
		{ 8, VQD_RAM - 128, VQD_AVAIL, VQD_USED, 1, "desc ends at RAM end" },
		{ 8, VQD_DESC, VQD_RAM - 20, VQD_USED, 0, "avail straddles RAM end" },
		{ 8, VQD_DESC, VQD_RAM - 22, VQD_USED, 1, "avail ends at RAM end" },
		{ 8, VQD_DESC, VQD_AVAIL, VQD_RAM - 68, 0, "used straddles RAM end" },
		{ 8, VQD_DESC, VQD_AVAIL, VQD_RAM - 72, 1, "used ends at RAM end" },
		{ 8, 0xd0000000ULL, VQD_AVAIL, VQD_USED, 0, "desc in the MMIO gap" },
		{ 8, VQD_DESC, 0xfffffffffffffff0ULL, VQD_USED, 0, "avail wraps" },
		{ 8, VQD_DESC, VQD_AVAIL, 0xfffffffffffffff0ULL, 0, "used wraps" },
	};

	for (unsigned int k = 0; k < ARRAY_LEN(cases); k++) {
		struct vqd d;
		struct vq_chain c;

		REQUIRE_EQ_INT(vqd_mem(&d, VQD_RAM), 0);
		vqd_layout(&d, cases[k].size, false, false);
		d.q.desc_gpa = cases[k].desc;
		d.q.avail_gpa = cases[k].avail;
		d.q.used_gpa = cases[k].used;
		int r = vq_activate(&d.q, &d.mem);

		if (cases[k].ok) {
			if (!CHECK_EQ_INT(r, 0))
				FAIL("'%s' refused", cases[k].what);
			CHECK(d.q.ready);
			/* The rings work where they are, right up to the end of RAM. */
			const struct vqd_buf b[] = { IN(VQD_DATA, 4) };
			uint16_t head = vqd_add(&d, b, 1);

			CHECK_EQ_INT(vq_pop(&d.q, &c), 1);
			vq_push(&d.q, head, 4);
			CHECK_EQ_U64(vqd_used_idx(&d), 1);
			CHECK(vq_enable_notify(&d.q, true) == false);
		} else {
			if (!CHECK_EQ_INT(r, -EINVAL))
				FAIL("'%s' accepted", cases[k].what);
			CHECK(!d.q.ready);
			CHECK_EQ_INT(vq_pop(&d.q, &c), 0);
		}
		vqd_free(&d);
	}
}

TEST(activate_resets_indices_and_broken)
{
	struct vqd d;
	struct vq_chain c;

	REQUIRE_EQ_INT(vqd_init(&d, 8, false, false), 0);
	vqd_publish(&d, 9);
	CHECK_EQ_INT(vq_pop(&d.q, &c), -EINVAL);
	CHECK(d.q.broken);
	/* What a device reset + re-setup does. */
	vq_reset(&d.q);
	CHECK(d.q.mem == &d.mem);
	CHECK(!d.q.ready && !d.q.broken && d.q.size == 0);
	memset(d.ram, 0, VQD_RAM);
	vqd_layout(&d, 8, false, false);
	REQUIRE_EQ_INT(vq_activate(&d.q, &d.mem), 0);
	CHECK(!d.q.broken);
	CHECK_EQ_U64(d.q.last_avail, 0);
	CHECK_EQ_U64(d.q.used_idx, 0);
	const struct vqd_buf b[] = { IN(VQD_DATA, 4) };
	vqd_add(&d, b, 1);
	CHECK_EQ_INT(vq_pop(&d.q, &c), 1);
	vqd_free(&d);
}

/* ---- notification suppression ---- */

TEST(no_interrupt_flag_without_event_idx)
{
	struct vqd d;
	struct vq_chain c;
	const struct vqd_buf b[] = { IN(VQD_DATA, 4) };

	REQUIRE_EQ_INT(vqd_init(&d, 8, false, false), 0);
	vqd_add(&d, b, 1);
	REQUIRE_EQ_INT(vq_pop(&d.q, &c), 1);
	vq_push(&d.q, c.head, 4);
	CHECK(vq_needs_interrupt(&d.q));
	vqd_set_avail_flags(&d, VRING_AVAIL_F_NO_INTERRUPT);
	vq_push(&d.q, c.head, 4);
	CHECK(!vq_needs_interrupt(&d.q));
	vqd_set_avail_flags(&d, 0);
	vq_push(&d.q, c.head, 4);
	CHECK(vq_needs_interrupt(&d.q));
	/* used_event means nothing without EVENT_IDX. */
	vqd_set_used_event(&d, 100);
	CHECK(vq_needs_interrupt(&d.q));
	vqd_free(&d);
}

TEST(event_idx_follows_vring_need_event)
{
	struct vqd d;
	struct vq_chain c;
	const struct vqd_buf b[] = { IN(VQD_DATA, 4) };

	REQUIRE_EQ_INT(vqd_init(&d, 8, false, true), 0);
	vqd_add(&d, b, 1);
	REQUIRE_EQ_INT(vq_pop(&d.q, &c), 1);
	vq_push(&d.q, c.head, 4);                    /* used 1 */
	vqd_set_used_event(&d, 5);
	CHECK(vq_needs_interrupt(&d.q));             /* first time: always */
	/* used_event 5: interrupt when used->idx moves past 5 (i.e. from <= 5 to >= 6). */
	for (uint16_t now = 2; now <= 5; now++) {
		vq_push(&d.q, c.head, 4);
		if (!CHECK(!vq_needs_interrupt(&d.q)))
			FAIL("interrupt at used idx %u with used_event 5", now);
	}
	vq_push(&d.q, c.head, 4);                    /* used 6 */
	CHECK(vq_needs_interrupt(&d.q));
	/* Several pushes at once: old 6, new 10; event 7 is crossed, event 20 and 5 are not. */
	for (int i = 0; i < 4; i++)
		vq_push(&d.q, c.head, 4);
	vqd_set_used_event(&d, 7);
	CHECK(vq_needs_interrupt(&d.q));
	for (int i = 0; i < 4; i++)
		vq_push(&d.q, c.head, 4);
	vqd_set_used_event(&d, 20);
	CHECK(!vq_needs_interrupt(&d.q));
	vq_push(&d.q, c.head, 4);
	vqd_set_used_event(&d, 5);                   /* behind: already passed long ago */
	CHECK(!vq_needs_interrupt(&d.q));
	/* Event exactly at the previous index: crossed. */
	vqd_set_used_event(&d, d.q.used_idx);
	vq_push(&d.q, c.head, 4);
	CHECK(vq_needs_interrupt(&d.q));
	/* NO_INTERRUPT is ignored with EVENT_IDX: used_event decides. */
	vqd_set_avail_flags(&d, VRING_AVAIL_F_NO_INTERRUPT);
	vqd_set_used_event(&d, d.q.used_idx);
	vq_push(&d.q, c.head, 4);
	CHECK(vq_needs_interrupt(&d.q));
	vqd_free(&d);
}

TEST(event_idx_across_the_16_bit_wrap)
{
	struct vqd d;

	REQUIRE_EQ_INT(vqd_init(&d, 8, false, true), 0);
	d.q.used_idx = 65534;
	d.q.signalled_used = 65534;
	d.q.signalled_valid = true;
	vqd_set_used_event(&d, 65535);
	for (int i = 0; i < 4; i++)
		vq_push(&d.q, 0, 0);                 /* 65534 -> 2 */
	CHECK_EQ_U64(d.q.used_idx, 2);
	CHECK(vq_needs_interrupt(&d.q));
	for (int i = 0; i < 2; i++)
		vq_push(&d.q, 0, 0);                 /* 2 -> 4 */
	vqd_set_used_event(&d, 65535);
	CHECK(!vq_needs_interrupt(&d.q));
	vqd_free(&d);
}

TEST(enable_notify_without_event_idx_uses_the_no_notify_flag)
{
	struct vqd d;
	struct vq_chain c;
	const struct vqd_buf b[] = { IN(VQD_DATA, 4) };

	REQUIRE_EQ_INT(vqd_init(&d, 8, false, false), 0);
	CHECK(!vq_enable_notify(&d.q, false));
	CHECK_EQ_U64(vqd_used_flags(&d), VRING_USED_F_NO_NOTIFY);
	CHECK(!vq_enable_notify(&d.q, true));         /* nothing new */
	CHECK_EQ_U64(vqd_used_flags(&d), 0);
	CHECK_EQ_U64(vqd_avail_event(&d), 0);
	/* A chain published while notifications were off: enable reports the race. */
	vq_enable_notify(&d.q, false);
	vqd_add(&d, b, 1);
	CHECK(vq_enable_notify(&d.q, true));
	CHECK_EQ_U64(vqd_used_flags(&d), 0);
	REQUIRE_EQ_INT(vq_pop(&d.q, &c), 1);
	CHECK(!vq_enable_notify(&d.q, true));
	vqd_free(&d);
}

TEST(enable_notify_with_event_idx_writes_avail_event)
{
	struct vqd d;
	struct vq_chain c;
	const struct vqd_buf b[] = { IN(VQD_DATA, 4) };

	REQUIRE_EQ_INT(vqd_init(&d, 8, false, true), 0);
	vqd_add(&d, b, 1);
	vqd_add(&d, b, 1);
	REQUIRE_EQ_INT(vq_pop(&d.q, &c), 1);
	REQUIRE_EQ_INT(vq_pop(&d.q, &c), 1);
	CHECK(!vq_enable_notify(&d.q, true));
	CHECK_EQ_U64(vqd_avail_event(&d), 2);
	CHECK_EQ_U64(vqd_used_flags(&d), 0);          /* the flag is not used with EVENT_IDX */
	vqd_add(&d, b, 1);
	CHECK(vq_enable_notify(&d.q, true));          /* one more arrived */
	CHECK_EQ_U64(vqd_avail_event(&d), 2);
	REQUIRE_EQ_INT(vq_pop(&d.q, &c), 1);
	CHECK(!vq_enable_notify(&d.q, true));
	CHECK_EQ_U64(vqd_avail_event(&d), 3);
	CHECK(!vq_enable_notify(&d.q, false));
	CHECK_EQ_U64(vqd_used_flags(&d), 0);
	vqd_free(&d);
}

/* ---- copying in and out of chains ---- */

TEST(chain_read_and_write_offsets_and_bounds)
{
	struct vqd d;
	struct vq_chain c;
	const struct vqd_buf b[] = { OUT(0x10000, 4), OUT(0x10100, 8), IN(0x10200, 3),
				     IN(0x10300, 5) };
	uint8_t buf[64], zeros[64] = { 0 };
	uint8_t *A, *B, *C, *D;

	REQUIRE_EQ_INT(vqd_init(&d, 8, false, false), 0);
	A = d.ram + 0x10000;
	B = d.ram + 0x10100;
	C = d.ram + 0x10200;
	D = d.ram + 0x10300;
	memcpy(A, "abcd", 4);
	memcpy(B, "efghijkl", 8);
	memset(C - 16, 0xee, 64);                      /* guards around C */
	memset(D - 16, 0xdd, 64);
	vqd_add(&d, b, 4);
	REQUIRE_EQ_INT(vq_pop(&d.q, &c), 1);

	memset(buf, 0, sizeof(buf));
	CHECK_EQ_U64(vq_chain_read(&c, 0, buf, 64), 12);     /* capped at out_len */
	CHECK_MEM_EQ(buf, "abcdefghijkl", 12);
	CHECK_MEM_EQ(buf + 12, zeros, 52);
	memset(buf, 0, sizeof(buf));
	CHECK_EQ_U64(vq_chain_read(&c, 2, buf, 5), 5);       /* across the boundary */
	CHECK_MEM_EQ(buf, "cdefg", 5);
	CHECK_EQ_U64(vq_chain_read(&c, 4, buf, 3), 3);       /* exactly at buffer 2 */
	CHECK_MEM_EQ(buf, "efg", 3);
	CHECK_EQ_U64(vq_chain_read(&c, 11, buf, 10), 1);
	CHECK_EQ_U64(buf[0], 'l');
	CHECK_EQ_U64(vq_chain_read(&c, 12, buf, 10), 0);     /* at the end */
	CHECK_EQ_U64(vq_chain_read(&c, UINT64_MAX, buf, 10), 0);
	CHECK_EQ_U64(vq_chain_read(&c, 0, buf, 0), 0);

	CHECK_EQ_U64(vq_chain_write(&c, 1, "XYZUV", 5), 5);  /* C[1..2], D[0..2] */
	CHECK_MEM_EQ(C, "\xeeXY", 3);
	CHECK_MEM_EQ(D, "ZUV\xdd\xdd", 5);
	CHECK_EQ_U64(vq_chain_write(&c, 0, "0123456789abcdef", 16), 8);  /* capped at in_len */
	CHECK_MEM_EQ(C, "012", 3);
	CHECK_MEM_EQ(D, "34567", 5);
	CHECK_EQ_U64(C[-1], 0xee);                           /* nothing around them moved */
	CHECK_EQ_U64(C[3], 0xee);
	CHECK_EQ_U64(D[-1], 0xdd);
	CHECK_EQ_U64(D[5], 0xdd);
	CHECK_EQ_U64(vq_chain_write(&c, 8, "x", 1), 0);
	CHECK_EQ_U64(vq_chain_write(&c, UINT64_MAX, "x", 1), 0);
	/* The readable buffers never change through vq_chain_write. */
	CHECK_MEM_EQ(A, "abcd", 4);
	CHECK_MEM_EQ(B, "efghijkl", 8);
	vqd_free(&d);
}

TEST(chain_write_never_touches_driver_read_only_buffers)
{
	struct vqd d;
	struct vq_chain c;
	const struct vqd_buf b[] = { OUT(0x10000, 64), OUT(0x10040, 64) };
	uint8_t junk[256], before[256];

	REQUIRE_EQ_INT(vqd_init(&d, 8, false, false), 0);
	memset(junk, 0x5a, sizeof(junk));
	for (unsigned int i = 0; i < sizeof(before); i++)
		d.ram[0x10000 + i] = (uint8_t)i;
	memcpy(before, d.ram + 0x10000, sizeof(before));
	vqd_add(&d, b, 2);
	REQUIRE_EQ_INT(vq_pop(&d.q, &c), 1);
	CHECK_EQ_U64(c.in_len, 0);
	for (uint64_t off = 0; off < 130; off += 13)
		CHECK_EQ_U64(vq_chain_write(&c, off, junk, sizeof(junk)), 0);
	CHECK_MEM_EQ(d.ram + 0x10000, before, sizeof(before));
	vqd_free(&d);
}

TEST(unpop_gives_the_same_chain_again)
{
	struct vqd d;
	struct vq_chain c1, c2;
	const struct vqd_buf b1[] = { OUT(VQD_DATA, 10), IN(VQD_DATA + 0x100, 20) };
	const struct vqd_buf b2[] = { IN(VQD_DATA + 0x200, 30) };

	REQUIRE_EQ_INT(vqd_init(&d, 8, false, false), 0);
	vqd_add(&d, b1, 2);
	vqd_add(&d, b2, 1);
	REQUIRE_EQ_INT(vq_pop(&d.q, &c1), 1);
	vq_unpop(&d.q);
	REQUIRE_EQ_INT(vq_pop(&d.q, &c2), 1);
	CHECK_EQ_U64(c2.head, c1.head);
	CHECK_EQ_U64(c2.n, c1.n);
	CHECK_EQ_U64(c2.n_out, c1.n_out);
	CHECK_EQ_U64(c2.in_len, 20);
	CHECK(c2.iov[0].iov_base == c1.iov[0].iov_base && c2.iov[1].iov_base == c1.iov[1].iov_base);
	CHECK_EQ_U64(vqd_used_idx(&d), 0);            /* nothing was used */
	REQUIRE_EQ_INT(vq_pop(&d.q, &c2), 1);
	CHECK_EQ_U64(c2.in_len, 30);
	CHECK_EQ_INT(vq_pop(&d.q, &c2), 0);
	vqd_free(&d);
}

/* Regression (found by this test, fixed in 9d699dd): vq_enable_notify did not check
 * q->ready. On a queue the driver never set up (ready false, size 0, ring addresses 0, as
 * vq_reset leaves it and driver_ok skips it) it wrote VRING_USED_F_NO_NOTIFY / 0 into
 * guest-physical address 0 and reported "more chains arrived" whenever the 16-bit word at
 * GPA 2 was not 0, which made blk_process, rng_event and rx_process loop for ever (see
 * test_virtio_blk.c). Such a queue is never read or written and has nothing pending;
 * vq_push and vq_needs_interrupt leave it alone too (vq_push used to divide by its size 0). */
TEST(regression_enable_notify_on_a_queue_never_set_up)
{
	struct vqd d;
	static const uint8_t guest[4] = { 0xcd, 0xab, 0x01, 0x00 };

	REQUIRE_EQ_INT(vqd_mem(&d, VQD_RAM), 0);
	memset(&d.q, 0, sizeof(d.q));
	d.q.mem = &d.mem;                 /* what virtio_mmio_init / vq_reset leave */
	memcpy(d.ram, guest, sizeof(guest));
	CHECK(!vq_enable_notify(&d.q, false));
	CHECK_MEM_EQ(d.ram, guest, sizeof(guest));
	if (!CHECK(!vq_enable_notify(&d.q, true)))
		FAIL("an inactive queue reports new chains (the 16-bit word at GPA 2)");
	CHECK_MEM_EQ(d.ram, guest, sizeof(guest));
	vq_push(&d.q, 0, 0);
	CHECK(!vq_needs_interrupt(&d.q));
	CHECK_MEM_EQ(d.ram, guest, sizeof(guest));
	vqd_free(&d);
}
