/* libFuzzer target: the virtio-mmio transport under arbitrary register traffic, with a
 * fake two-queue device over 64 KiB of guest memory that the input can also write.
 *
 * The input is a program; each operation is an opcode byte (op % 8) and its arguments
 * (missing bytes read as 0):
 *   0 reg, v[4]        4-byte write of register table[reg % 28] (or a raw offset)
 *   1 reg              4-byte read, checked where the value is known
 *   2 k                write Status with a meaningful value (k % 8; 7: the next byte)
 *   3 off, k, v[8]     config space access at 0x100 + off, 1/2/4/8 bytes, read or write
 *   4 off, k, v[8]     narrow, wide or misaligned access anywhere below 0x100
 *   5                  the device thread: pop/push on every active queue, interrupts,
 *                      DEVICE_NEEDS_RESET on a malformed ring
 *   6 a[2], n, d[n]    the guest writes n (< 64) bytes of memory at a
 *   7 k                a whole queue setup (select, size, three ring addresses, ready)
 * After every operation the transport's invariants are checked: FEATURES_OK only with
 * accepted features, activation only after FEATURES_OK and DRIVER_OK, activate/reset
 * calls paired, queue layout frozen from DRIVER_OK on, a reset clears everything,
 * interrupt status bits 0-1 only, config callbacks never called out of range. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/virtio/virtio_mmio.h"
#include "util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ASSERT(c)                                                                      \
	do {                                                                           \
		if (!(c)) {                                                            \
			fprintf(stderr, "fuzz_virtio_mmio: %s:%d: assertion failed: %s\n", \
				__FILE__, __LINE__, #c);                               \
			abort();                                                       \
		}                                                                      \
	} while (0)

#define RAM (64u * 1024u)
#define CFG_SIZE 10
#define QMAX 16
#define VER1 (1ULL << VIRTIO_F_VERSION_1)
#define FEATURES ((1ULL << 0) | (1ULL << 5) | (1ULL << VIRTIO_F_RING_INDIRECT_DESC) | \
		  (1ULL << VIRTIO_F_RING_EVENT_IDX) | (1ULL << 35))

static struct {
	int active;           /* activate() succeeded and reset() not yet called */
	unsigned int activates, resets;
	int fail_activate;
	uint8_t config[CFG_SIZE];
} fake;

static void cfg_read(void *dev, uint32_t off, uint8_t *d, uint32_t len)
{
	(void)dev;
	ASSERT(off < CFG_SIZE && len <= CFG_SIZE - off);
	memcpy(d, fake.config + off, len);
}

static void cfg_write(void *dev, uint32_t off, const uint8_t *d, uint32_t len)
{
	(void)dev;
	ASSERT(off < CFG_SIZE && len <= CFG_SIZE - off);
	memcpy(fake.config + off, d, len);
}

static int activate(void *dev)
{
	(void)dev;
	ASSERT(!fake.active);
	fake.activates++;
	if (fake.fail_activate)
		return -EIO;
	fake.active = 1;
	return 0;
}

static void reset(void *dev)
{
	(void)dev;
	ASSERT(fake.active);
	fake.resets++;
	fake.active = 0;
}

static const struct virtio_device_ops ops = {
	.name = "fuzz",
	.device_id = 2,
	.features = FEATURES,
	.num_queues = 2,
	.queue_max = QMAX,
	.config_size = CFG_SIZE,
	.config_read = cfg_read,
	.config_write = cfg_write,
	.activate = activate,
	.reset = reset,
};

static const uint16_t regs[28] = {
	0x000, 0x004, 0x008, 0x00c, 0x010, 0x014, 0x020, 0x024, 0x030, 0x034, 0x038, 0x044,
	0x050, 0x060, 0x064, 0x070, 0x080, 0x084, 0x090, 0x094, 0x0a0, 0x0a4, 0x0ac, 0x0b0,
	0x0fc, 0x100, 0x104, 0x108,
};

struct prog {
	const uint8_t *d;
	size_t n, i;
};

static uint8_t next(struct prog *p) { return p->i < p->n ? p->d[p->i++] : 0; }

static uint32_t next32(struct prog *p)
{
	uint32_t v = 0;

	for (int k = 0; k < 4; k++)
		v |= (uint32_t)next(p) << (8 * k);
	return v;
}

static uint64_t reg_offset(uint8_t b)
{
	return (b & 0xe0) == 0xe0 ? (uint64_t)(b & 0x1f) * 4 + 0xe0 : regs[b % 28];
}

static uint32_t rd(struct virtio_mmio *m, uint64_t off)
{
	uint32_t v;

	virtio_mmio_read(m, off, (uint8_t *)&v, 4);
	return v;
}

static int reset_written;

static void wr(struct virtio_mmio *m, uint64_t off, uint32_t v)
{
	virtio_mmio_write(m, off, (const uint8_t *)&v, 4);
	if (off == 0x070 && v == 0)
		reset_written = 1;
}

/* What the device thread does on activity: like blk_process. */
static void device_step(struct virtio_mmio *m)
{
	if (!fake.active)
		return;
	for (unsigned int i = 0; i < ops.num_queues; i++) {
		struct vq *q = &m->queues[i];
		struct vq_chain c;
		int r = 0;

		if (!q->ready)
			continue;
		for (int k = 0; k < 8 && (r = vq_pop(q, &c)) > 0; k++)
			vq_push(q, c.head, (uint32_t)(c.in_len > 4 ? 4 : c.in_len));
		virtio_mmio_notify_used(m, q);
		if (r < 0)
			virtio_mmio_needs_reset(m);
		(void)vq_enable_notify(q, true);
	}
}

struct qsnap {
	uint16_t size;
	uint64_t desc, avail, used;
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int once;
	struct virtio_mmio m;
	struct guest_mem mem;
	struct prog p = { data, size, 0 };
	struct qsnap snap[2];
	uint8_t *ram;
	int snapped = 0;
	uint32_t last_gen = 0;
	uint64_t last_pulses = 0;

	if (!once) {
		log_threshold = LOG_ERROR;
		once = 1;
	}
	memset(&fake, 0, sizeof(fake));
	reset_written = 0;
	for (unsigned int i = 0; i < CFG_SIZE; i++)
		fake.config[i] = (uint8_t)(0x40 + i);
	fake.fail_activate = size > 0 && data[size - 1] == 0xfa;
	ram = calloc(1, RAM);
	if (!ram)
		abort();
	guest_mem_init_from(&mem, ram, RAM);
	if (virtio_mmio_init(&m, &ops, NULL, &mem, 0xd0000000ULL, 5) < 0)
		abort();

	while (p.i < p.n) {
		uint8_t op = next(&p);
		uint32_t status_before = m.status;

		switch (op % 8) {
		case 0: {
			uint64_t off = reg_offset(next(&p));

			wr(&m, off, next32(&p));
			break;
		}
		case 1: {
			uint64_t off = reg_offset(next(&p));
			uint32_t v = rd(&m, off);

			if (off == 0x000)
				ASSERT(v == 0x74726976);
			if (off == 0x004)
				ASSERT(v == 2);
			if (off == 0x008)
				ASSERT(v == 2);
			if (off == 0x070)
				ASSERT(v == m.status);
			if (off == 0x060)
				ASSERT((v & ~3u) == 0);
			if (off == 0x034)
				ASSERT(v == (m.queue_sel < 2 ? QMAX : 0));
			if (off >= 0x100 && off + 4 > 0x100 + CFG_SIZE)
				ASSERT(v == 0);
			break;
		}
		case 2: {
			static const uint32_t vals[7] = { 0, 1, 3, 11, 15, 0x80 | 15, 0x40 | 15 };
			uint8_t k = next(&p);

			wr(&m, 0x070, k % 8 == 7 ? next(&p) : vals[k % 8]);
			break;
		}
		case 3:
		case 4: {
			static const uint32_t lens[4] = { 1, 2, 4, 8 };
			uint8_t off = next(&p), k = next(&p), v[8];
			uint64_t at = (op % 8 == 3) ? 0x100u + off : off;
			uint32_t len = lens[k & 3];

			for (int j = 0; j < 8; j++)
				v[j] = next(&p);
			if (op % 8 == 4 && len == 4 && !(at & 3))
				at |= 1;   /* this op is for the accesses the model must ignore */
			if (k & 4) {
				virtio_mmio_write(&m, at, v, len);
			} else {
				uint8_t out[8];

				memset(out, 0xcc, sizeof(out));
				virtio_mmio_read(&m, at, out, len);
				for (uint32_t j = len; j < 8; j++)
					ASSERT(out[j] == 0xcc);   /* never past len */
				if (op % 8 == 4) {
					for (uint32_t j = 0; j < len; j++)
						ASSERT(out[j] == 0);
				} else if (off >= CFG_SIZE || len > CFG_SIZE - off) {
					for (uint32_t j = 0; j < len; j++)
						ASSERT(out[j] == 0);
				} else {
					ASSERT(memcmp(out, fake.config + off, len) == 0);
				}
			}
			break;
		}
		case 5:
			device_step(&m);
			break;
		case 6: {
			uint32_t a = next(&p) | (uint32_t)next(&p) << 8;
			uint8_t n = next(&p) & 63;

			for (uint8_t j = 0; j < n; j++) {
				uint8_t b = next(&p);

				if (a + j < RAM)
					ram[a + j] = b;
			}
			break;
		}
		case 7: {
			uint8_t k = next(&p);
			uint32_t sel = k & 1, num = 1u << ((k >> 1) % 6);
			uint32_t base = 0x1000u * (1 + 4 * sel);

			wr(&m, 0x030, (k & 0x80) ? 7 : sel);
			wr(&m, 0x038, num);
			wr(&m, 0x080, base + ((k & 0x40) ? 8 : 0));
			wr(&m, 0x084, 0);
			wr(&m, 0x090, base + 0x1000);
			wr(&m, 0x094, 0);
			wr(&m, 0x0a0, base + 0x2000);
			wr(&m, 0x0a4, 0);
			wr(&m, 0x044, 1);
			break;
		}
		}

		/* ---- invariants ---- */
		uint64_t offered = FEATURES | VER1 | m.extra_features;

		if (m.status & VIRTIO_STATUS_FEATURES_OK) {
			ASSERT((m.driver_features & ~offered) == 0);
			ASSERT(m.driver_features & VER1);
		}
		/* activate() and reset() pair up (the fake asserts it) and match m.active. */
		ASSERT(m.active == (fake.active != 0));
		if (m.active) {
			ASSERT(m.status & VIRTIO_STATUS_DRIVER_OK);
			ASSERT(m.status & VIRTIO_STATUS_FEATURES_OK);
			for (unsigned int i = 0; i < 2; i++) {
				const struct vq *q = &m.queues[i];

				if (!q->ready)
					continue;
				ASSERT(q->size && q->size <= QMAX && !(q->size & (q->size - 1)));
				ASSERT(guest_mem_ptr(&mem, q->used_gpa, 6 + 8ULL * q->size));
			}
		}
		if (m.status == 0)
			ASSERT(!m.active);
		if (reset_written) {
			/* Status 0 written: back to the initial state. */
			ASSERT(m.status == 0 && m.driver_features == 0 && m.interrupt_status == 0);
			ASSERT(m.queue_sel == 0 && m.dev_features_sel == 0 && m.drv_features_sel == 0);
			for (unsigned int i = 0; i < 2; i++)
				ASSERT(!m.queues[i].ready && m.queues[i].size == 0 &&
				       m.queues[i].desc_gpa == 0 && m.queues[i].used_gpa == 0);
			reset_written = 0;
		}
		if ((status_before & VIRTIO_STATUS_NEEDS_RESET) && m.status != 0)
			ASSERT(m.status & VIRTIO_STATUS_NEEDS_RESET);   /* only a reset clears it */
		ASSERT((m.interrupt_status & ~3u) == 0);
		ASSERT(m.irq.pulses >= last_pulses);
		ASSERT(m.config_generation >= last_gen);
		last_pulses = m.irq.pulses;
		last_gen = m.config_generation;
		/* The queue layout is frozen while DRIVER_OK is set. */
		if (m.status & VIRTIO_STATUS_DRIVER_OK) {
			for (unsigned int i = 0; i < 2; i++) {
				const struct vq *q = &m.queues[i];

				if (!snapped) {
					snap[i] = (struct qsnap){ q->size, q->desc_gpa, q->avail_gpa,
								  q->used_gpa };
					continue;
				}
				ASSERT(q->size == snap[i].size && q->desc_gpa == snap[i].desc &&
				       q->avail_gpa == snap[i].avail && q->used_gpa == snap[i].used);
			}
			snapped = 1;
		} else {
			snapped = 0;
		}
	}
	virtio_mmio_destroy(&m);
	ASSERT(!fake.active);
	free(ram);
	return 0;
}
