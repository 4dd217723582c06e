/* libFuzzer target: the device side of split virtqueues over hostile guest memory.
 *
 * Input: two header bytes, then the guest's memory image (at most 64 KiB, zero-filled
 * after the input). The rings sit at fixed guest addresses near 0 so mutations hit them:
 * descriptors at 0x0, avail ring at 0x800, used ring at 0xa00; buffers anywhere.
 *   byte 0: queue size = 1 << (b & 7) (1..128); with bit 7 set, the raw value b & 0x7f
 *           (often not a power of two: vq_activate must refuse it)
 *   byte 1: bit 0 INDIRECT_DESC, bit 1 EVENT_IDX, bit 2 unpop/re-pop every other chain,
 *           bit 3 split memory (32 KiB at 0 and 32 KiB at 4 GiB, two regions), bits 4-7
 *           how many bytes (x 256) the device writes into each chain
 * The device pops and pushes until the ring is empty or broken. Checked: every iovec lies
 * inside the guest buffer, chain lengths add up, the readable/writable split holds,
 * vq_chain_write/read copy exactly what fits, a broken queue stays broken and writes
 * nothing, no loop runs unbounded. The guest buffer is one heap block of exactly the
 * RAM size, so ASan reports any access outside it. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/virtio/virtqueue.h"
#include "util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ASSERT(c)                                                                      \
	do {                                                                           \
		if (!(c)) {                                                            \
			fprintf(stderr, "fuzz_virtqueue: %s:%d: assertion failed: %s\n", \
				__FILE__, __LINE__, #c);                               \
			abort();                                                       \
		}                                                                      \
	} while (0)

#define RAM (64u * 1024u)
#define DESC 0x0u
#define AVAIL 0x800u
#define USED 0xa00u

static uint8_t pattern[16 * 256], readback[16 * 256];

static int inside(const uint8_t *ram, const struct iovec *v)
{
	const uint8_t *p = v->iov_base;

	return p >= ram && p <= ram + RAM && v->iov_len <= (size_t)(ram + RAM - p) &&
	       (v->iov_len > 0 || p < ram + RAM);
}

static void check_chain(const uint8_t *ram, const struct vq_chain *c, uint16_t qsize)
{
	uint64_t out = 0, in = 0;

	ASSERT(c->head < qsize);
	ASSERT(c->n >= 1 && c->n <= VQ_MAX_CHAIN);
	ASSERT(c->n_out <= c->n);
	for (unsigned int i = 0; i < c->n; i++) {
		ASSERT(inside(ram, &c->iov[i]));
		if (i < c->n_out)
			out += c->iov[i].iov_len;
		else
			in += c->iov[i].iov_len;
	}
	ASSERT(out == c->out_len && in == c->in_len);
	ASSERT(out <= UINT32_MAX && in <= UINT32_MAX);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int once;
	struct guest_mem mem;
	struct vq q;
	struct vq_chain c;
	uint8_t *ram, *snap;
	uint8_t b0, b1;
	unsigned int rounds = 0;
	int r;

	if (!once) {
		log_threshold = LOG_ERROR;   /* malformed rings are the point here */
		for (unsigned int i = 0; i < sizeof(pattern); i++)
			pattern[i] = (uint8_t)(i * 7 + 3);
		once = 1;
	}
	if (size < 2)
		return 0;
	b0 = data[0];
	b1 = data[1];
	data += 2;
	size -= 2;
	ram = calloc(1, RAM);
	snap = malloc(RAM);
	if (!ram || !snap)
		abort();
	memcpy(ram, data, size < RAM ? size : RAM);
	if (b1 & 8) {
		memset(&mem, 0, sizeof(mem));
		mem.regions[0] = (struct guest_region){ .gpa = 0, .size = RAM / 2, .host = ram };
		mem.regions[1] = (struct guest_region){ .gpa = 1ULL << 32, .size = RAM / 2,
							.host = ram + RAM / 2 };
		mem.nregions = 2;
		mem.ram_size = RAM;
	} else {
		guest_mem_init_from(&mem, ram, RAM);
	}

	memset(&q, 0, sizeof(q));
	q.size = (b0 & 0x80) ? (uint16_t)(b0 & 0x7f) : (uint16_t)(1u << (b0 & 7));
	q.desc_gpa = DESC;
	q.avail_gpa = AVAIL;
	q.used_gpa = USED;
	q.indirect = b1 & 1;
	q.event_idx = (b1 & 2) != 0;
	if (vq_activate(&q, &mem) < 0) {
		ASSERT(q.size == 0 || (q.size & (q.size - 1)) != 0);
		ASSERT(vq_pop(&q, &c) == 0);
		goto out;
	}
	ASSERT(q.ready && !q.broken);

	for (;;) {
		uint16_t before = q.last_avail;

		/* Buffers may overlap the avail ring, so what the device writes can publish
		 * more chains (as a busy guest would): the harness, not the device, stops. */
		if (++rounds > 1024) {
			r = 0;
			break;
		}
		r = vq_pop(&q, &c);
		if (r <= 0)
			break;
		check_chain(ram, &c, q.size);
		ASSERT(q.last_avail == (uint16_t)(before + 1));
		if ((b1 & 4) && (rounds & 1)) {
			struct vq_chain again;
			uint16_t head = c.head;

			vq_unpop(&q);
			ASSERT(q.last_avail == before);
			/* The guest's memory did not change in between: the same chain. */
			ASSERT(vq_pop(&q, &again) == 1);
			ASSERT(again.head == head && again.n == c.n && again.in_len == c.in_len);
		}
		uint64_t want = (uint64_t)(b1 >> 4) * 256;
		uint64_t n = vq_chain_write(&c, 0, pattern, want);

		ASSERT(n == (want < c.in_len ? want : c.in_len));
		n = vq_chain_read(&c, 0, readback, sizeof(readback));
		ASSERT(n == (sizeof(readback) < c.out_len ? sizeof(readback) : c.out_len));
		vq_push(&q, c.head, (uint32_t)(c.in_len < want ? c.in_len : want));
		if (rounds % 4 == 0)
			(void)vq_needs_interrupt(&q);
	}
	(void)vq_needs_interrupt(&q);
	if (r == 0) {
		ASSERT(!q.broken);
		(void)vq_enable_notify(&q, true);
	} else {
		ASSERT(r == -EINVAL && q.broken);
		/* Broken for good: nothing more is popped, nothing is written. */
		memcpy(snap, ram, RAM);
		ASSERT(vq_pop(&q, &c) == -EINVAL);
		vq_push(&q, 0, 1);
		ASSERT(!vq_enable_notify(&q, true));
		ASSERT(!vq_enable_notify(&q, false));
		ASSERT(memcmp(snap, ram, RAM) == 0);
	}
out:
	free(snap);
	free(ram);
	return 0;
}
