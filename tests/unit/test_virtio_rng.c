/* virtio-rng (src/devices/virtio/virtio_rng.c): virtio_rng_handle over real chains (built
 * with vq_driver.h, taken with vq_pop). Spec 5.4: the device fills the driver's writable
 * buffers with random bytes and returns how many; readable buffers are not its to touch.
 * Ember caps one request at 64 KiB. */
#include <string.h>

#include "harness.h"
#include "vq_driver.h"
#include "devices/virtio/virtio_rng.h"

#define MAX_REQUEST (64u * 1024u)

static int pop_chain(struct vqd *d, const struct vqd_buf *b, unsigned int n, struct vq_chain *c)
{
	vqd_add(d, b, n);
	return vq_pop(&d->q, c);
}

static bool all_bytes(const uint8_t *p, size_t n, uint8_t v)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != v)
			return false;
	return true;
}

TEST(fills_writable_buffers_and_returns_the_length)
{
	struct vqd d;
	struct virtio_rng r;
	struct vq_chain c;
	const struct vqd_buf b[] = { { 0x10000, 64, true }, { 0x20000, 200, true } };
	uint8_t first[264];

	memset(&r, 0, sizeof(r));
	REQUIRE_EQ_INT(vqd_init(&d, 8, false, false), 0);
	REQUIRE_EQ_INT(pop_chain(&d, b, 2, &c), 1);
	CHECK_EQ_U64(virtio_rng_handle(&r, &c), 264);
	CHECK_EQ_U64(r.bytes, 264);
	/* Random: 64 zero bytes in a row have probability 2^-512. */
	CHECK(!all_bytes(d.ram + 0x10000, 64, 0));
	CHECK(!all_bytes(d.ram + 0x20000, 200, 0));
	CHECK(all_bytes(d.ram + 0x10000 + 64, 64, 0));          /* nothing past the buffers */
	CHECK(all_bytes(d.ram + 0x20000 + 200, 64, 0));
	CHECK(all_bytes(d.ram + 0x10000 - 64, 64, 0));
	memcpy(first, d.ram + 0x10000, 64);
	memcpy(first + 64, d.ram + 0x20000, 200);
	/* A second request gives different bytes. */
	REQUIRE_EQ_INT(pop_chain(&d, b, 2, &c), 1);
	CHECK_EQ_U64(virtio_rng_handle(&r, &c), 264);
	CHECK(memcmp(first, d.ram + 0x10000, 64) != 0);
	CHECK(memcmp(first + 64, d.ram + 0x20000, 200) != 0);
	CHECK_EQ_U64(r.bytes, 528);
	vqd_free(&d);
}

TEST(readable_buffers_are_untouched)
{
	struct vqd d;
	struct virtio_rng r;
	struct vq_chain c;
	const struct vqd_buf b[] = { { 0x10000, 100, false }, { 0x20000, 32, true } };
	const struct vqd_buf only_out[] = { { 0x30000, 128, false } };

	memset(&r, 0, sizeof(r));
	REQUIRE_EQ_INT(vqd_init(&d, 8, false, false), 0);
	memset(d.ram + 0x10000, 0x5a, 100);
	memset(d.ram + 0x30000, 0x5a, 128);
	REQUIRE_EQ_INT(pop_chain(&d, b, 2, &c), 1);
	CHECK_EQ_U64(virtio_rng_handle(&r, &c), 32);
	CHECK(all_bytes(d.ram + 0x10000, 100, 0x5a));
	REQUIRE_EQ_INT(pop_chain(&d, only_out, 1, &c), 1);
	CHECK_EQ_U64(virtio_rng_handle(&r, &c), 0);
	CHECK(all_bytes(d.ram + 0x30000, 128, 0x5a));
	/* Zero-length writable buffers: nothing to do. */
	const struct vqd_buf empty[] = { { 0x40000, 0, true } };
	REQUIRE_EQ_INT(pop_chain(&d, empty, 1, &c), 1);
	CHECK_EQ_U64(virtio_rng_handle(&r, &c), 0);
	CHECK_EQ_U64(r.bytes, 32);
	vqd_free(&d);
}

TEST(one_request_is_capped_at_64_kib)
{
	struct vqd d;
	struct virtio_rng r;
	struct vq_chain c;
	/* 48 KiB + 48 KiB + 4 KiB: the cap falls 16 KiB into the second buffer. */
	const struct vqd_buf b[] = { { 0x10000, 48 * 1024, true }, { 0x30000, 48 * 1024, true },
				     { 0x50000, 4096, true } };

	memset(&r, 0, sizeof(r));
	REQUIRE_EQ_INT(vqd_init(&d, 8, false, false), 0);
	memset(d.ram + 0x10000, 0xa5, 0x50000 + 4096 - 0x10000);
	REQUIRE_EQ_INT(pop_chain(&d, b, 3, &c), 1);
	CHECK_EQ_U64(virtio_rng_handle(&r, &c), MAX_REQUEST);
	CHECK(!all_bytes(d.ram + 0x30000 + 16 * 1024 - 64, 64, 0xa5));   /* up to the cap */
	CHECK(all_bytes(d.ram + 0x30000 + 16 * 1024, 32 * 1024, 0xa5));  /* past it */
	CHECK(all_bytes(d.ram + 0x50000, 4096, 0xa5));
	/* Exactly 64 KiB in one buffer. */
	const struct vqd_buf one[] = { { 0x10000, MAX_REQUEST, true } };
	REQUIRE_EQ_INT(pop_chain(&d, one, 1, &c), 1);
	CHECK_EQ_U64(virtio_rng_handle(&r, &c), MAX_REQUEST);
	vqd_free(&d);
}

TEST(ops)
{
	CHECK_EQ_U64(virtio_rng_ops.device_id, VIRTIO_ID_RNG);
	CHECK_EQ_U64(virtio_rng_ops.num_queues, 1);
	CHECK_EQ_U64(virtio_rng_ops.config_size, 0);
	CHECK(virtio_rng_ops.queue_max >= 1 && virtio_rng_ops.queue_max <= VQ_MAX_SIZE);
	CHECK_EQ_U64(virtio_rng_ops.queue_max & (virtio_rng_ops.queue_max - 1), 0);
}
