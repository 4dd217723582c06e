/* The virtio-mmio transport's register model (src/devices/virtio/virtio_mmio.c) through
 * virtio_mmio_read/write, with a fake device (two queues, a 12-byte config space) over
 * synthetic guest memory and an irq_line whose fd is -1 (pulses are counted).
 * Expectations from the virtio 1.x spec, section 4.2.2 (MMIO device register layout,
 * version 2) and 3.1 (device initialization: FEATURES_OK only for features the device
 * accepts, DEVICE_NEEDS_RESET), and from the Linux virtio_mmio driver's probe sequence. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "vq_driver.h"
#include "devices/virtio/virtio_mmio.h"
#include "util/log.h"

enum {
	MAGIC = 0x000, VERSION = 0x004, DEVICE_ID = 0x008, VENDOR_ID = 0x00c,
	DEV_FEATURES = 0x010, DEV_FEATURES_SEL = 0x014, DRV_FEATURES = 0x020,
	DRV_FEATURES_SEL = 0x024, QUEUE_SEL = 0x030, QUEUE_NUM_MAX = 0x034, QUEUE_NUM = 0x038,
	QUEUE_READY = 0x044, QUEUE_NOTIFY = 0x050, INT_STATUS = 0x060, INT_ACK = 0x064,
	STATUS = 0x070, DESC_LO = 0x080, DESC_HI = 0x084, DRIVER_LO = 0x090, DRIVER_HI = 0x094,
	DEVICE_LO = 0x0a0, DEVICE_HI = 0x0a4, SHM_SEL = 0x0ac, SHM_LEN_LO = 0x0b0,
	SHM_LEN_HI = 0x0b4, SHM_BASE_LO = 0x0b8, SHM_BASE_HI = 0x0bc, CONFIG_GEN = 0x0fc,
	CONFIG = 0x100,
};

#define ACK VIRTIO_STATUS_ACKNOWLEDGE
#define DRV VIRTIO_STATUS_DRIVER
#define FOK VIRTIO_STATUS_FEATURES_OK
#define DOK VIRTIO_STATUS_DRIVER_OK
#define NEEDS_RESET VIRTIO_STATUS_NEEDS_RESET

#define CFG_SIZE 12
#define QMAX 16
/* Offered: bits 0 and 5, indirect, event idx, and bit 35 (high half). */
#define FAKE_FEATURES ((1ULL << 0) | (1ULL << 5) | (1ULL << VIRTIO_F_RING_INDIRECT_DESC) | \
		       (1ULL << VIRTIO_F_RING_EVENT_IDX) | (1ULL << 35))

/* Ring addresses of queue 0 and 1 in the fake's guest memory. */
#define Q0_DESC 0x1000u
#define Q0_AVAIL 0x2000u
#define Q0_USED 0x3000u
#define Q1_DESC 0x4000u
#define Q1_AVAIL 0x5000u
#define Q1_USED 0x6000u

struct fake {
	struct virtio_mmio m;
	struct vqd d;            /* only its guest memory is used */
	int activates, resets, activate_ret;
	uint8_t config[CFG_SIZE];
	unsigned int cfg_reads, cfg_writes, cfg_out_of_range;
	uint8_t written[CFG_SIZE];
};

static void fake_config_read(void *dev, uint32_t off, uint8_t *data, uint32_t len)
{
	struct fake *f = dev;

	f->cfg_reads++;
	if (off >= CFG_SIZE || len > CFG_SIZE - off) {
		f->cfg_out_of_range++;
		return;
	}
	memcpy(data, f->config + off, len);
}

static void fake_config_write(void *dev, uint32_t off, const uint8_t *data, uint32_t len)
{
	struct fake *f = dev;

	f->cfg_writes++;
	if (off >= CFG_SIZE || len > CFG_SIZE - off) {
		f->cfg_out_of_range++;
		return;
	}
	memcpy(f->written + off, data, len);
}

static int fake_activate(void *dev)
{
	struct fake *f = dev;

	f->activates++;
	return f->activate_ret;
}

static void fake_reset(void *dev)
{
	struct fake *f = dev;

	f->resets++;
}

static const struct virtio_device_ops fake_ops = {
	.name = "fake",
	.device_id = 42,
	.features = FAKE_FEATURES,
	.num_queues = 2,
	.queue_max = QMAX,
	.config_size = CFG_SIZE,
	.config_read = fake_config_read,
	.config_write = fake_config_write,
	.activate = fake_activate,
	.reset = fake_reset,
};

/* Config space and no queues at all: for the bounds of an empty config space. */
static const struct virtio_device_ops bare_ops = {
	.name = "bare",
	.device_id = 4,
	.num_queues = 1,
	.queue_max = 8,
};

static int setup_ops(struct fake *f, const struct virtio_device_ops *ops)
{
	memset(f, 0, sizeof(*f));
	if (vqd_mem(&f->d, VQD_RAM) < 0)
		return -1;
	for (unsigned int i = 0; i < CFG_SIZE; i++)
		f->config[i] = (uint8_t)(0xa0 + i);
	return virtio_mmio_init(&f->m, ops, f, &f->d.mem, 0xd0000000ULL, 5);
}

static int setup(struct fake *f) { return setup_ops(f, &fake_ops); }

static void teardown(struct fake *f)
{
	virtio_mmio_destroy(&f->m);
	vqd_free(&f->d);
}

static uint32_t rd(struct fake *f, uint64_t off)
{
	uint32_t v = 0xdeadbeef;

	virtio_mmio_read(&f->m, off, (uint8_t *)&v, 4);
	return v;
}

static void wr(struct fake *f, uint64_t off, uint32_t v)
{
	virtio_mmio_write(&f->m, off, (const uint8_t *)&v, 4);
}

static void set_driver_features(struct fake *f, uint64_t feat)
{
	wr(f, DRV_FEATURES_SEL, 0);
	wr(f, DRV_FEATURES, (uint32_t)feat);
	wr(f, DRV_FEATURES_SEL, 1);
	wr(f, DRV_FEATURES, (uint32_t)(feat >> 32));
}

/* ACK, DRIVER, features, FEATURES_OK; returns the status read back. */
static uint32_t negotiate(struct fake *f, uint64_t feat)
{
	wr(f, STATUS, ACK);
	wr(f, STATUS, ACK | DRV);
	set_driver_features(f, feat);
	wr(f, STATUS, ACK | DRV | FOK);
	return rd(f, STATUS);
}

static void setup_queue(struct fake *f, uint32_t sel, uint32_t num, uint64_t desc, uint64_t avail,
			uint64_t used)
{
	wr(f, QUEUE_SEL, sel);
	wr(f, QUEUE_NUM, num);
	wr(f, DESC_LO, (uint32_t)desc);
	wr(f, DESC_HI, (uint32_t)(desc >> 32));
	wr(f, DRIVER_LO, (uint32_t)avail);
	wr(f, DRIVER_HI, (uint32_t)(avail >> 32));
	wr(f, DEVICE_LO, (uint32_t)used);
	wr(f, DEVICE_HI, (uint32_t)(used >> 32));
	wr(f, QUEUE_READY, 1);
}

#define VER1 (1ULL << VIRTIO_F_VERSION_1)

/* Negotiated, both queues set up, DRIVER_OK. */
static void bring_up(struct fake *f, uint64_t feat)
{
	negotiate(f, feat);
	setup_queue(f, 0, 8, Q0_DESC, Q0_AVAIL, Q0_USED);
	setup_queue(f, 1, 16, Q1_DESC, Q1_AVAIL, Q1_USED);
	wr(f, STATUS, ACK | DRV | FOK | DOK);
}

TEST(identity_registers)
{
	struct fake f;

	REQUIRE_EQ_INT(setup(&f), 0);
	CHECK_EQ_U64(rd(&f, MAGIC), 0x74726976);       /* "virt" */
	CHECK_EQ_U64(rd(&f, VERSION), 2);
	CHECK_EQ_U64(rd(&f, DEVICE_ID), 42);
	CHECK_EQ_U64(rd(&f, VENDOR_ID), 0x52424d45);   /* "EMBR" */
	CHECK_EQ_U64(rd(&f, STATUS), 0);
	CHECK_EQ_U64(rd(&f, INT_STATUS), 0);
	CHECK_EQ_U64(rd(&f, CONFIG_GEN), 0);
	/* No shared memory regions: length reads as all ones (spec 4.2.2). */
	CHECK_EQ_U64(rd(&f, SHM_LEN_LO), 0xffffffff);
	CHECK_EQ_U64(rd(&f, SHM_LEN_HI), 0xffffffff);
	/* Write-only and unknown registers read as 0; writes to read-only ones are dropped. */
	CHECK_EQ_U64(rd(&f, QUEUE_NOTIFY), 0);
	CHECK_EQ_U64(rd(&f, 0x0f8), 0);
	wr(&f, MAGIC, 0);
	wr(&f, DEVICE_ID, 7);
	wr(&f, VERSION, 1);
	CHECK_EQ_U64(rd(&f, MAGIC), 0x74726976);
	CHECK_EQ_U64(rd(&f, DEVICE_ID), 42);
	CHECK_EQ_U64(rd(&f, VERSION), 2);
	teardown(&f);
}

TEST(device_features_by_halves)
{
	struct fake f;
	uint64_t want = FAKE_FEATURES | VER1;

	REQUIRE_EQ_INT(setup(&f), 0);
	CHECK_EQ_U64(rd(&f, DEV_FEATURES), (uint32_t)want);     /* sel 0 after reset */
	wr(&f, DEV_FEATURES_SEL, 1);
	CHECK_EQ_U64(rd(&f, DEV_FEATURES), (uint32_t)(want >> 32));
	CHECK_EQ_U64(rd(&f, DEV_FEATURES) & 1, 1);             /* VERSION_1 is bit 32 */
	wr(&f, DEV_FEATURES_SEL, 2);
	CHECK_EQ_U64(rd(&f, DEV_FEATURES), 0);
	wr(&f, DEV_FEATURES_SEL, 0xffffffff);
	CHECK_EQ_U64(rd(&f, DEV_FEATURES), 0);
	wr(&f, DEV_FEATURES_SEL, 0);
	CHECK_EQ_U64(rd(&f, DEV_FEATURES), (uint32_t)want);
	/* Per-instance extras are offered too (virtio-blk's RO bit). */
	f.m.extra_features = 1ULL << 7;
	CHECK_EQ_U64(rd(&f, DEV_FEATURES), (uint32_t)(want | (1ULL << 7)));
	teardown(&f);
}

TEST(features_ok_sticks_for_a_subset_with_version_1)
{
	struct fake f;
	uint64_t feat = VER1 | (1ULL << 5) | (1ULL << VIRTIO_F_RING_EVENT_IDX);

	REQUIRE_EQ_INT(setup(&f), 0);
	CHECK_EQ_U64(negotiate(&f, feat), ACK | DRV | FOK);
	CHECK_EQ_U64(f.m.driver_features, feat);
	CHECK(virtio_has_feature(&f.m, VIRTIO_F_RING_EVENT_IDX));
	CHECK(!virtio_has_feature(&f.m, VIRTIO_F_RING_INDIRECT_DESC));
	/* Accepted features are frozen. */
	set_driver_features(&f, VER1 | FAKE_FEATURES);
	CHECK_EQ_U64(f.m.driver_features, feat);
	/* VERSION_1 alone is a subset too. */
	wr(&f, STATUS, 0);
	CHECK_EQ_U64(negotiate(&f, VER1), ACK | DRV | FOK);
	/* So is everything offered. */
	wr(&f, STATUS, 0);
	CHECK_EQ_U64(negotiate(&f, VER1 | FAKE_FEATURES), ACK | DRV | FOK);
	/* Including the per-instance extras. */
	wr(&f, STATUS, 0);
	f.m.extra_features = 1ULL << 7;
	CHECK_EQ_U64(negotiate(&f, VER1 | (1ULL << 7)), ACK | DRV | FOK);
	teardown(&f);
}

TEST(features_ok_refused_for_a_superset_or_without_version_1)
{
	static const uint64_t bad[] = {
		1ULL << 5,                          /* no VERSION_1 (legacy) */
		0,
		VER1 | (1ULL << 1),                 /* not offered, low half */
		VER1 | (1ULL << 33),                /* not offered, high half */
		VER1 | (1ULL << 63),
		~0ULL,
		FAKE_FEATURES,                      /* everything but VERSION_1 */
	};

	for (unsigned int k = 0; k < ARRAY_LEN(bad); k++) {
		struct fake f;

		REQUIRE_EQ_INT(setup(&f), 0);
		if (!CHECK_EQ_U64(negotiate(&f, bad[k]), ACK | DRV))
			FAIL("features 0x%llx accepted", (unsigned long long)bad[k]);
		/* The driver may retry with acceptable features. */
		set_driver_features(&f, VER1 | (1ULL << 0));
		wr(&f, STATUS, ACK | DRV | FOK);
		CHECK_EQ_U64(rd(&f, STATUS), ACK | DRV | FOK);
		CHECK_EQ_U64(f.m.driver_features, VER1 | 1);
		/* DRIVER_OK after a refused FEATURES_OK never activates. */
		teardown(&f);
		REQUIRE_EQ_INT(setup(&f), 0);
		negotiate(&f, bad[k]);
		setup_queue(&f, 0, 8, Q0_DESC, Q0_AVAIL, Q0_USED);
		wr(&f, STATUS, ACK | DRV | FOK | DOK);
		CHECK_EQ_U64(rd(&f, STATUS) & FOK, 0);
		CHECK_EQ_INT(f.activates, 0);
		CHECK(!f.m.active);
		teardown(&f);
	}
}

TEST(driver_features_select_beyond_1_is_ignored)
{
	struct fake f;

	REQUIRE_EQ_INT(setup(&f), 0);
	wr(&f, DRV_FEATURES_SEL, 2);
	wr(&f, DRV_FEATURES, 0xffffffff);
	wr(&f, DRV_FEATURES_SEL, 0xffffffff);
	wr(&f, DRV_FEATURES, 0xffffffff);
	CHECK_EQ_U64(f.m.driver_features, 0);
	/* Halves are independent. */
	wr(&f, DRV_FEATURES_SEL, 1);
	wr(&f, DRV_FEATURES, 1);
	wr(&f, DRV_FEATURES_SEL, 0);
	wr(&f, DRV_FEATURES, 0x21);
	CHECK_EQ_U64(f.m.driver_features, VER1 | 0x21);
	wr(&f, DRV_FEATURES, 0x1);
	CHECK_EQ_U64(f.m.driver_features, VER1 | 0x1);
	teardown(&f);
}

TEST(queue_registers)
{
	struct fake f;

	REQUIRE_EQ_INT(setup(&f), 0);
	wr(&f, QUEUE_SEL, 0);
	CHECK_EQ_U64(rd(&f, QUEUE_NUM_MAX), QMAX);
	CHECK_EQ_U64(rd(&f, QUEUE_READY), 0);
	wr(&f, QUEUE_SEL, 1);
	CHECK_EQ_U64(rd(&f, QUEUE_NUM_MAX), QMAX);
	wr(&f, QUEUE_SEL, 2);                         /* no such queue */
	CHECK_EQ_U64(rd(&f, QUEUE_NUM_MAX), 0);
	CHECK_EQ_U64(rd(&f, QUEUE_READY), 0);
	wr(&f, QUEUE_NUM, 8);                         /* ignored, no crash */
	wr(&f, QUEUE_READY, 1);
	wr(&f, DESC_LO, 0x1000);
	CHECK_EQ_U64(rd(&f, QUEUE_READY), 0);
	wr(&f, QUEUE_SEL, 0xffffffff);
	CHECK_EQ_U64(rd(&f, QUEUE_NUM_MAX), 0);
	wr(&f, QUEUE_READY, 1);

	wr(&f, QUEUE_SEL, 1);
	wr(&f, QUEUE_NUM, 8);
	CHECK_EQ_U64(f.m.queues[1].size, 8);
	wr(&f, QUEUE_NUM, QMAX);
	CHECK_EQ_U64(f.m.queues[1].size, QMAX);
	wr(&f, QUEUE_NUM, QMAX + 1);                  /* above the maximum: size 0 */
	CHECK_EQ_U64(f.m.queues[1].size, 0);
	wr(&f, QUEUE_NUM, 0x10008);                   /* would truncate to 8 in 16 bits */
	CHECK_EQ_U64(f.m.queues[1].size, 0);
	wr(&f, QUEUE_NUM, 4);
	wr(&f, DESC_LO, 0x11223340);
	wr(&f, DESC_HI, 0x1);
	wr(&f, DRIVER_LO, 0x55667780);
	wr(&f, DRIVER_HI, 0x2);
	wr(&f, DEVICE_LO, 0x99aabbc0);
	wr(&f, DEVICE_HI, 0x3);
	CHECK_EQ_U64(f.m.queues[1].desc_gpa, 0x111223340ULL);
	CHECK_EQ_U64(f.m.queues[1].avail_gpa, 0x255667780ULL);
	CHECK_EQ_U64(f.m.queues[1].used_gpa, 0x399aabbc0ULL);
	wr(&f, DESC_HI, 0);
	CHECK_EQ_U64(f.m.queues[1].desc_gpa, 0x11223340ULL);
	wr(&f, QUEUE_READY, 1);
	CHECK_EQ_U64(rd(&f, QUEUE_READY), 1);
	wr(&f, QUEUE_SEL, 0);
	CHECK_EQ_U64(rd(&f, QUEUE_READY), 0);         /* per queue */
	CHECK_EQ_U64(f.m.queues[0].size, 0);
	wr(&f, QUEUE_SEL, 1);
	/* While ready, the layout is frozen. */
	wr(&f, QUEUE_NUM, 8);
	wr(&f, DESC_LO, 0x5000);
	wr(&f, DRIVER_LO, 0x5000);
	wr(&f, DEVICE_LO, 0x5000);
	CHECK_EQ_U64(f.m.queues[1].size, 4);
	CHECK_EQ_U64(f.m.queues[1].desc_gpa, 0x11223340ULL);
	CHECK_EQ_U64(f.m.queues[1].avail_gpa, 0x255667780ULL);
	CHECK_EQ_U64(f.m.queues[1].used_gpa, 0x399aabbc0ULL);
	/* Not ready again (before DRIVER_OK): writable again. */
	wr(&f, QUEUE_READY, 0);
	CHECK_EQ_U64(rd(&f, QUEUE_READY), 0);
	wr(&f, QUEUE_NUM, 8);
	CHECK_EQ_U64(f.m.queues[1].size, 8);
	teardown(&f);
}

TEST(driver_ok_with_valid_rings_activates)
{
	struct fake f;

	REQUIRE_EQ_INT(setup(&f), 0);
	bring_up(&f, VER1 | (1ULL << VIRTIO_F_RING_INDIRECT_DESC));
	CHECK_EQ_U64(rd(&f, STATUS), ACK | DRV | FOK | DOK);
	CHECK_EQ_INT(f.activates, 1);
	CHECK(f.m.active);
	for (unsigned int i = 0; i < 2; i++) {
		CHECK(f.m.queues[i].ready);
		CHECK(f.m.queues[i].indirect);
		CHECK(!f.m.queues[i].event_idx);
		CHECK(!f.m.queues[i].broken);
		CHECK(f.m.queues[i].mem == &f.d.mem);
	}
	CHECK_EQ_U64(f.m.queues[0].size, 8);
	CHECK_EQ_U64(f.m.queues[1].size, 16);
	CHECK_EQ_U64(rd(&f, INT_STATUS), 0);
	CHECK_EQ_U64(f.m.irq.pulses, 0);
	CHECK_EQ_U64(rd(&f, CONFIG_GEN), 0);
	/* Writing DRIVER_OK again does not activate twice. */
	wr(&f, STATUS, ACK | DRV | FOK | DOK);
	CHECK_EQ_INT(f.activates, 1);
	teardown(&f);
	CHECK_EQ_INT(f.resets, 1);                    /* destroy stops an active device */
}

TEST(driver_ok_with_one_queue_left_unused_activates)
{
	struct fake f;

	REQUIRE_EQ_INT(setup(&f), 0);
	negotiate(&f, VER1 | (1ULL << VIRTIO_F_RING_EVENT_IDX));
	setup_queue(&f, 1, 16, Q1_DESC, Q1_AVAIL, Q1_USED);
	wr(&f, STATUS, ACK | DRV | FOK | DOK);
	CHECK_EQ_INT(f.activates, 1);
	CHECK(!f.m.queues[0].ready);
	CHECK(f.m.queues[1].ready);
	CHECK(f.m.queues[1].event_idx);
	CHECK_EQ_U64(rd(&f, STATUS) & NEEDS_RESET, 0);
	teardown(&f);
}

/* Queue 1 set up with this layout while queue 0 is fine; DRIVER_OK must refuse it. */
static void check_bad_queue(uint32_t num, uint64_t desc, uint64_t avail, uint64_t used,
			    const char *what)
{
	struct fake f;

	if (setup(&f) < 0) {
		FAIL("setup");
		return;
	}
	negotiate(&f, VER1);
	setup_queue(&f, 0, 8, Q0_DESC, Q0_AVAIL, Q0_USED);
	setup_queue(&f, 1, num, desc, avail, used);
	wr(&f, STATUS, ACK | DRV | FOK | DOK);
	if (!CHECK_EQ_U64(rd(&f, STATUS), ACK | DRV | FOK | DOK | NEEDS_RESET))
		FAIL("%s: no DEVICE_NEEDS_RESET", what);
	CHECK_EQ_INT(f.activates, 0);
	CHECK(!f.m.active);
	CHECK_EQ_U64(rd(&f, INT_STATUS), VIRTIO_INT_CONFIG);
	CHECK_EQ_U64(rd(&f, CONFIG_GEN), 1);
	CHECK_EQ_U64(f.m.irq.pulses, 1);
	wr(&f, QUEUE_SEL, 1);
	CHECK_EQ_U64(rd(&f, QUEUE_READY), 0);
	/* The driver cannot clear NEEDS_RESET but by a reset. */
	wr(&f, STATUS, ACK | DRV | FOK | DOK);
	CHECK_EQ_U64(rd(&f, STATUS) & NEEDS_RESET, NEEDS_RESET);
	wr(&f, STATUS, 0);
	CHECK_EQ_U64(rd(&f, STATUS), 0);
	CHECK_EQ_U64(rd(&f, INT_STATUS), 0);
	CHECK_EQ_INT(f.resets, 0);                    /* never activated: nothing to stop */
	/* And the device works after the reset. */
	bring_up(&f, VER1);
	CHECK_EQ_U64(rd(&f, STATUS), ACK | DRV | FOK | DOK);
	CHECK_EQ_INT(f.activates, 1);
	teardown(&f);
}

TEST(driver_ok_with_invalid_rings_needs_reset)
{
	check_bad_queue(0, Q1_DESC, Q1_AVAIL, Q1_USED, "size 0");
	check_bad_queue(12, Q1_DESC, Q1_AVAIL, Q1_USED, "size 12");
	check_bad_queue(QMAX + 1, Q1_DESC, Q1_AVAIL, Q1_USED, "size above max");
	check_bad_queue(16, Q1_DESC + 8, Q1_AVAIL, Q1_USED, "misaligned descriptors");
	check_bad_queue(16, Q1_DESC, Q1_AVAIL + 1, Q1_USED, "misaligned avail");
	check_bad_queue(16, Q1_DESC, Q1_AVAIL, Q1_USED + 2, "misaligned used");
	check_bad_queue(16, VQD_RAM, Q1_AVAIL, Q1_USED, "descriptors outside RAM");
	check_bad_queue(16, Q1_DESC, VQD_RAM - 8, Q1_USED, "avail straddles RAM end");
	check_bad_queue(16, Q1_DESC, Q1_AVAIL, 0xd0000000ULL, "used in the MMIO gap");
	check_bad_queue(16, Q1_DESC, Q1_AVAIL, 0xfffffffffffffff0ULL, "used wraps");
}

TEST(activate_failure_needs_reset)
{
	struct fake f;

	REQUIRE_EQ_INT(setup(&f), 0);
	f.activate_ret = -EIO;
	bring_up(&f, VER1);
	CHECK_EQ_INT(f.activates, 1);
	CHECK(!f.m.active);
	CHECK_EQ_U64(rd(&f, STATUS) & NEEDS_RESET, NEEDS_RESET);
	CHECK_EQ_U64(rd(&f, INT_STATUS), VIRTIO_INT_CONFIG);
	teardown(&f);
	CHECK_EQ_INT(f.resets, 0);
}

TEST(driver_ok_needs_features_ok)
{
	struct fake f;

	REQUIRE_EQ_INT(setup(&f), 0);
	wr(&f, STATUS, ACK | DRV);
	setup_queue(&f, 0, 8, Q0_DESC, Q0_AVAIL, Q0_USED);
	wr(&f, STATUS, ACK | DRV | DOK);
	CHECK_EQ_INT(f.activates, 0);
	CHECK(!f.m.active);
	/* FAILED set with DRIVER_OK: not activated either. */
	wr(&f, STATUS, 0);
	negotiate(&f, VER1);
	setup_queue(&f, 0, 8, Q0_DESC, Q0_AVAIL, Q0_USED);
	wr(&f, STATUS, ACK | DRV | FOK | DOK | VIRTIO_STATUS_FAILED);
	CHECK_EQ_INT(f.activates, 0);
	teardown(&f);
}

TEST(status_0_resets_everything)
{
	struct fake f;

	REQUIRE_EQ_INT(setup(&f), 0);
	bring_up(&f, VER1 | (1ULL << VIRTIO_F_RING_EVENT_IDX));
	REQUIRE(f.m.active);
	wr(&f, DEV_FEATURES_SEL, 1);
	wr(&f, QUEUE_SEL, 1);
	virtio_mmio_config_changed(&f.m);
	CHECK_EQ_U64(rd(&f, INT_STATUS), VIRTIO_INT_CONFIG);
	wr(&f, STATUS, 0);
	CHECK_EQ_INT(f.resets, 1);
	CHECK(!f.m.active);
	CHECK_EQ_U64(rd(&f, STATUS), 0);
	CHECK_EQ_U64(rd(&f, INT_STATUS), 0);
	CHECK_EQ_U64(f.m.driver_features, 0);
	CHECK_EQ_U64(f.m.dev_features_sel, 0);
	CHECK_EQ_U64(f.m.drv_features_sel, 0);
	CHECK_EQ_U64(f.m.queue_sel, 0);
	for (unsigned int i = 0; i < 2; i++) {
		const struct vq *q = &f.m.queues[i];

		CHECK(!q->ready && !q->broken && !q->event_idx && !q->indirect);
		CHECK_EQ_U64(q->size, 0);
		CHECK_EQ_U64(q->desc_gpa | q->avail_gpa | q->used_gpa, 0);
		CHECK_EQ_U64(q->last_avail | q->used_idx, 0);
		CHECK(q->mem == &f.d.mem);
	}
	for (uint32_t sel = 0; sel < 2; sel++) {
		wr(&f, QUEUE_SEL, sel);
		CHECK_EQ_U64(rd(&f, QUEUE_READY), 0);
	}
	/* A second reset with nothing active calls nothing. */
	wr(&f, STATUS, 0);
	CHECK_EQ_INT(f.resets, 1);
	/* Up again. */
	bring_up(&f, VER1);
	CHECK_EQ_INT(f.activates, 2);
	CHECK(f.m.active);
	teardown(&f);
}

TEST(queue_registers_frozen_after_driver_ok)
{
	struct fake f;

	REQUIRE_EQ_INT(setup(&f), 0);
	negotiate(&f, VER1);
	setup_queue(&f, 0, 8, Q0_DESC, Q0_AVAIL, Q0_USED);
	wr(&f, STATUS, ACK | DRV | FOK | DOK);
	REQUIRE(f.m.active);
	/* Queue 0 (ready) and queue 1 (never set up) both stay as they are. */
	for (uint32_t sel = 0; sel < 2; sel++) {
		struct vq before = f.m.queues[sel];

		wr(&f, QUEUE_SEL, sel);
		wr(&f, QUEUE_NUM, 4);
		wr(&f, DESC_LO, 0x8000);
		wr(&f, DESC_HI, 1);
		wr(&f, DRIVER_LO, 0x9000);
		wr(&f, DRIVER_HI, 1);
		wr(&f, DEVICE_LO, 0xa000);
		wr(&f, DEVICE_HI, 1);
		wr(&f, QUEUE_READY, sel == 0 ? 0 : 1);
		CHECK_EQ_U64(f.m.queues[sel].size, before.size);
		CHECK_EQ_U64(f.m.queues[sel].desc_gpa, before.desc_gpa);
		CHECK_EQ_U64(f.m.queues[sel].avail_gpa, before.avail_gpa);
		CHECK_EQ_U64(f.m.queues[sel].used_gpa, before.used_gpa);
		CHECK_EQ_U64(f.m.queues[sel].ready, before.ready);
	}
	/* Features are frozen too. */
	set_driver_features(&f, VER1 | FAKE_FEATURES);
	CHECK_EQ_U64(f.m.driver_features, VER1);
	teardown(&f);
}

TEST(only_aligned_4_byte_register_accesses)
{
	struct fake f;
	uint8_t b[8];

	REQUIRE_EQ_INT(setup(&f), 0);
	static const uint32_t lens[] = { 1, 2, 8 };
	for (unsigned int k = 0; k < ARRAY_LEN(lens); k++) {
		memset(b, 0xcc, sizeof(b));
		virtio_mmio_read(&f.m, MAGIC, b, lens[k]);
		for (uint32_t i = 0; i < lens[k]; i++)
			CHECK_EQ_U64(b[i], 0);
		CHECK_EQ_U64(b[lens[k] < 8 ? lens[k] : 7], lens[k] < 8 ? 0xcc : 0);
	}
	memset(b, 0xcc, sizeof(b));
	virtio_mmio_read(&f.m, MAGIC + 2, b, 4);      /* misaligned */
	CHECK_EQ_U64(b[0] | b[1] | b[2] | b[3], 0);
	/* Narrow or misaligned writes change nothing. */
	uint8_t one = ACK, two[2] = { ACK, 0 }, four[4] = { ACK, 0, 0, 0 };
	virtio_mmio_write(&f.m, STATUS, &one, 1);
	virtio_mmio_write(&f.m, STATUS, two, 2);
	virtio_mmio_write(&f.m, STATUS + 1, four, 4);
	memset(b, 0, sizeof(b));
	b[0] = ACK;
	virtio_mmio_write(&f.m, STATUS, b, 8);
	CHECK_EQ_U64(rd(&f, STATUS), 0);
	wr(&f, QUEUE_SEL, 0);
	virtio_mmio_write(&f.m, QUEUE_NUM, &one, 1);
	CHECK_EQ_U64(f.m.queues[0].size, 0);
	teardown(&f);
}

TEST(config_space_reads_and_bounds)
{
	struct fake f;
	uint8_t b[8];
	uint32_t v;

	REQUIRE_EQ_INT(setup(&f), 0);
	v = rd(&f, CONFIG);
	CHECK_EQ_U64(v, 0xa3a2a1a0);
	CHECK_EQ_U64(rd(&f, CONFIG + 8), 0xabaaa9a8);
	memset(b, 0xcc, sizeof(b));
	virtio_mmio_read(&f.m, CONFIG + 11, b, 1);    /* last byte */
	CHECK_EQ_U64(b[0], 0xab);
	virtio_mmio_read(&f.m, CONFIG + 3, b, 2);     /* unaligned, narrow: fine */
	CHECK_EQ_U64(b[0], 0xa3);
	CHECK_EQ_U64(b[1], 0xa4);
	virtio_mmio_read(&f.m, CONFIG + 4, b, 8);
	CHECK_MEM_EQ(b, f.config + 4, 8);
	unsigned int calls = f.cfg_reads;

	/* Past or straddling the end: zeros, and config_read is not called. */
	CHECK_EQ_U64(rd(&f, CONFIG + 10), 0);
	CHECK_EQ_U64(rd(&f, CONFIG + 12), 0);
	CHECK_EQ_U64(rd(&f, CONFIG + 0x100), 0);
	CHECK_EQ_U64(rd(&f, 0xffc), 0);
	memset(b, 0xcc, sizeof(b));
	virtio_mmio_read(&f.m, CONFIG + 8, b, 8);
	CHECK_EQ_U64(b[0] | b[7], 0);
	virtio_mmio_read(&f.m, 0xfff, b, 1);
	CHECK_EQ_U64(b[0], 0);
	CHECK_EQ_U64(f.cfg_reads, calls);
	CHECK_EQ_U64(f.cfg_out_of_range, 0);
	teardown(&f);
}

TEST(config_space_writes_and_bounds)
{
	struct fake f;
	uint8_t b[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };

	REQUIRE_EQ_INT(setup(&f), 0);
	virtio_mmio_write(&f.m, CONFIG + 4, b, 4);
	CHECK_MEM_EQ(f.written + 4, b, 4);
	CHECK_EQ_U64(f.cfg_writes, 1);
	virtio_mmio_write(&f.m, CONFIG + 10, b, 4);   /* straddles the end */
	virtio_mmio_write(&f.m, CONFIG + 12, b, 1);
	virtio_mmio_write(&f.m, CONFIG + 8, b, 8);
	virtio_mmio_write(&f.m, 0xfff, b, 1);
	CHECK_EQ_U64(f.cfg_writes, 1);
	CHECK_EQ_U64(f.cfg_out_of_range, 0);
	teardown(&f);
}

TEST(empty_config_space_without_callbacks)
{
	struct fake f;
	uint8_t b[4] = { 9, 9, 9, 9 };

	REQUIRE_EQ_INT(setup_ops(&f, &bare_ops), 0);
	CHECK_EQ_U64(rd(&f, DEVICE_ID), 4);
	CHECK_EQ_U64(rd(&f, CONFIG), 0);
	virtio_mmio_write(&f.m, CONFIG, b, 4);
	/* No activate/reset callbacks: DRIVER_OK and reset still work. */
	negotiate(&f, VER1);
	setup_queue(&f, 0, 8, Q0_DESC, Q0_AVAIL, Q0_USED);
	wr(&f, STATUS, ACK | DRV | FOK | DOK);
	CHECK(f.m.active);
	wr(&f, STATUS, 0);
	CHECK(!f.m.active);
	teardown(&f);
}

TEST(interrupt_status_and_ack)
{
	struct fake f;

	REQUIRE_EQ_INT(setup(&f), 0);
	virtio_mmio_config_changed(&f.m);
	CHECK_EQ_U64(rd(&f, INT_STATUS), VIRTIO_INT_CONFIG);
	CHECK_EQ_U64(rd(&f, CONFIG_GEN), 1);
	CHECK_EQ_U64(f.m.irq.pulses, 1);
	virtio_mmio_config_changed(&f.m);
	CHECK_EQ_U64(rd(&f, CONFIG_GEN), 2);
	CHECK_EQ_U64(f.m.irq.pulses, 2);
	wr(&f, INT_ACK, VIRTIO_INT_USED);             /* not pending: no change */
	CHECK_EQ_U64(rd(&f, INT_STATUS), VIRTIO_INT_CONFIG);
	wr(&f, INT_ACK, VIRTIO_INT_CONFIG);
	CHECK_EQ_U64(rd(&f, INT_STATUS), 0);
	wr(&f, INT_STATUS, 3);                        /* read-only */
	CHECK_EQ_U64(rd(&f, INT_STATUS), 0);
	CHECK_EQ_U64(rd(&f, CONFIG_GEN), 2);          /* the generation does not go back */
	teardown(&f);
}

static uint64_t read_eventfd(int fd)
{
	uint64_t v = 0;

	if (read(fd, &v, sizeof(v)) != (ssize_t)sizeof(v))
		return 0;
	return v;
}

TEST(queue_notify_signals_the_queue_eventfd)
{
	struct fake f;

	REQUIRE_EQ_INT(setup(&f), 0);
	REQUIRE(f.m.notify_fd[0] >= 0 && f.m.notify_fd[1] >= 0);
	CHECK_EQ_INT(f.m.notify_fd[2], -1);
	wr(&f, QUEUE_NOTIFY, 1);
	wr(&f, QUEUE_NOTIFY, 1);
	CHECK_EQ_U64(read_eventfd(f.m.notify_fd[1]), 2);
	CHECK_EQ_U64(read_eventfd(f.m.notify_fd[0]), 0);
	wr(&f, QUEUE_NOTIFY, 0);
	CHECK_EQ_U64(read_eventfd(f.m.notify_fd[0]), 1);
	wr(&f, QUEUE_NOTIFY, 2);                      /* no such queue */
	wr(&f, QUEUE_NOTIFY, 0xffffffff);
	CHECK_EQ_U64(read_eventfd(f.m.notify_fd[0]), 0);
	CHECK_EQ_U64(read_eventfd(f.m.notify_fd[1]), 0);
	teardown(&f);
}

TEST(notify_used_raises_the_used_interrupt_only_when_wanted)
{
	struct fake f;

	REQUIRE_EQ_INT(setup(&f), 0);
	bring_up(&f, VER1);
	REQUIRE(f.m.active);
	struct vq *q = &f.m.queues[0];

	vq_push(q, 0, 0);
	virtio_mmio_notify_used(&f.m, q);
	CHECK_EQ_U64(rd(&f, INT_STATUS), VIRTIO_INT_USED);
	CHECK_EQ_U64(f.m.irq.pulses, 1);
	wr(&f, INT_ACK, VIRTIO_INT_USED);
	/* The driver set VRING_AVAIL_F_NO_INTERRUPT. */
	uint16_t flags = VRING_AVAIL_F_NO_INTERRUPT;
	REQUIRE_EQ_INT(guest_mem_write(&f.d.mem, Q0_AVAIL, &flags, 2), 0);
	vq_push(q, 0, 0);
	virtio_mmio_notify_used(&f.m, q);
	CHECK_EQ_U64(rd(&f, INT_STATUS), 0);
	CHECK_EQ_U64(f.m.irq.pulses, 1);
	teardown(&f);

	/* EVENT_IDX: used_event decides. */
	REQUIRE_EQ_INT(setup(&f), 0);
	bring_up(&f, VER1 | (1ULL << VIRTIO_F_RING_EVENT_IDX));
	q = &f.m.queues[0];
	vq_push(q, 0, 0);
	virtio_mmio_notify_used(&f.m, q);            /* first: always */
	CHECK_EQ_U64(f.m.irq.pulses, 1);
	uint16_t used_event = 5;
	REQUIRE_EQ_INT(guest_mem_write(&f.d.mem, Q0_AVAIL + 4 + 2 * 8, &used_event, 2), 0);
	vq_push(q, 0, 0);
	virtio_mmio_notify_used(&f.m, q);
	CHECK_EQ_U64(f.m.irq.pulses, 1);
	for (int i = 0; i < 4; i++)
		vq_push(q, 0, 0);                    /* used idx 2 -> 6: crosses 5 */
	virtio_mmio_notify_used(&f.m, q);
	CHECK_EQ_U64(f.m.irq.pulses, 2);
	CHECK_EQ_U64(rd(&f, INT_STATUS), VIRTIO_INT_USED);
	teardown(&f);
}

TEST(needs_reset_from_the_device)
{
	struct fake f;

	REQUIRE_EQ_INT(setup(&f), 0);
	/* Before DRIVER_OK: the bit, no interrupt. */
	wr(&f, STATUS, ACK);
	virtio_mmio_needs_reset(&f.m);
	CHECK_EQ_U64(rd(&f, STATUS), ACK | NEEDS_RESET);
	CHECK_EQ_U64(f.m.irq.pulses, 0);
	wr(&f, STATUS, 0);
	CHECK_EQ_U64(rd(&f, STATUS), 0);
	/* After DRIVER_OK: a config change interrupt. */
	bring_up(&f, VER1);
	virtio_mmio_needs_reset(&f.m);
	CHECK_EQ_U64(rd(&f, STATUS) & NEEDS_RESET, NEEDS_RESET);
	CHECK_EQ_U64(rd(&f, INT_STATUS), VIRTIO_INT_CONFIG);
	CHECK_EQ_U64(rd(&f, CONFIG_GEN), 1);
	CHECK_EQ_U64(f.m.irq.pulses, 1);
	/* The driver cannot set it either. */
	wr(&f, STATUS, 0);
	wr(&f, STATUS, ACK | NEEDS_RESET);
	CHECK_EQ_U64(rd(&f, STATUS), ACK);
	teardown(&f);
}

TEST(too_many_queues_refused)
{
	struct fake f;
	struct virtio_device_ops many = fake_ops;

	many.num_queues = VIRTIO_MMIO_MAX_QUEUES + 1;
	CHECK_EQ_INT(setup_ops(&f, &many), -EINVAL);
	teardown(&f);
}

TEST(linux_probe_sequence)
{
	/* What drivers/virtio/virtio_mmio.c does at probe, in order (for virtio-blk-like
	 * devices): magic, version, device id, vendor; reset; ACK; DRIVER; features; FOK;
	 * queue setup (select, check ready 0, num max, num, addresses, ready); DRIVER_OK. */
	struct fake f;

	REQUIRE_EQ_INT(setup(&f), 0);
	REQUIRE_EQ_U64(rd(&f, MAGIC), 0x74726976);
	REQUIRE_EQ_U64(rd(&f, VERSION), 2);
	REQUIRE_EQ_U64(rd(&f, DEVICE_ID), 42);
	rd(&f, VENDOR_ID);
	wr(&f, STATUS, 0);
	wr(&f, STATUS, ACK);
	wr(&f, STATUS, ACK | DRV);
	wr(&f, DEV_FEATURES_SEL, 1);
	uint64_t feat = (uint64_t)rd(&f, DEV_FEATURES) << 32;
	wr(&f, DEV_FEATURES_SEL, 0);
	feat |= rd(&f, DEV_FEATURES);
	feat &= VER1 | (1ULL << VIRTIO_F_RING_EVENT_IDX) | (1ULL << VIRTIO_F_RING_INDIRECT_DESC);
	set_driver_features(&f, feat);
	wr(&f, STATUS, ACK | DRV | FOK);
	REQUIRE_EQ_U64(rd(&f, STATUS) & FOK, FOK);
	wr(&f, QUEUE_SEL, 0);
	CHECK_EQ_U64(rd(&f, QUEUE_READY), 0);
	uint32_t num = rd(&f, QUEUE_NUM_MAX);
	REQUIRE_EQ_U64(num, QMAX);
	setup_queue(&f, 0, num, Q0_DESC, Q0_AVAIL, Q0_USED);
	CHECK_EQ_U64(rd(&f, QUEUE_READY), 1);
	wr(&f, STATUS, ACK | DRV | FOK | DOK);
	CHECK_EQ_U64(rd(&f, STATUS), ACK | DRV | FOK | DOK);
	CHECK_EQ_INT(f.activates, 1);
	CHECK(f.m.queues[0].event_idx && f.m.queues[0].indirect);
	teardown(&f);
}

/* A guest that sets DRIVER_OK with a bad queue and resets, in a loop, gets a bounded
 * number of warning lines: the log is rate-limited (log_warn_guest), not one line per
 * try. stderr goes to a file for the loop. */
TEST(bad_queue_loop_does_not_flood_the_log)
{
	char path[64];
	struct fake f;
	int saved = dup(2), fd;

	snprintf(path, sizeof(path), "/tmp/ember-test-logflood.%d", (int)getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	REQUIRE(fd >= 0 && saved >= 0);
	REQUIRE_EQ_INT(setup(&f), 0);
	enum log_level saved_level = log_threshold;
	log_threshold = LOG_WARN;  /* (the fixture silences warnings) */
	fflush(stderr);
	dup2(fd, 2);
	for (int i = 0; i < 1000; i++) {
		negotiate(&f, VER1);
		setup_queue(&f, 0, 8, Q0_DESC, Q0_AVAIL, Q0_USED);
		setup_queue(&f, 1, 12, Q1_DESC, Q1_AVAIL, Q1_USED);
		wr(&f, STATUS, ACK | DRV | FOK | DOK);
		wr(&f, STATUS, 0);
	}
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	log_threshold = saved_level;
	teardown(&f);
	char buf[256 * 1024];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	close(fd);
	unlink(path);
	REQUIRE(n >= 0);
	int lines = 0;
	for (ssize_t i = 0; i < n; i++)
		lines += buf[i] == '\n';
	/* The loop ran in well under one LOG_RL_WINDOW_MS window: one burst at most (fewer
	 * when the tests before this one used up the call site's budget), against 1000
	 * lines unlimited. */
	CHECK(lines <= LOG_RL_BURST + 1);
}
