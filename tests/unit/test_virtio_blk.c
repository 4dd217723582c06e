/* virtio-blk request handling (src/devices/virtio/virtio_blk.c) over a temporary raw image:
 * requests are real chains, built by the driver helper (vq_driver.h) in synthetic guest
 * memory and taken with vq_pop, then handed to virtio_blk_handle. Expectations from the
 * virtio 1.x spec, section 5.2 (block device: 16-byte header {type, reserved, sector},
 * data, status byte last; VIRTIO_BLK_S_OK 0, IOERR 1, UNSUPP 2; GET_ID answers 20 bytes,
 * NUL padded; config layout capacity/size_max/seg_max/geometry/blk_size). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "vq_driver.h"
#include "devices/virtio/virtio_blk.h"
#include "util/err.h"

#define T_IN 0
#define T_OUT 1
#define T_FLUSH 4
#define T_GET_ID 8
#define S_OK 0
#define S_IOERR 1
#define S_UNSUPP 2
#define F_FLUSH 9
#define F_RO 5

#define NSECT 64u
#define HDR 0x10000u
#define DATA 0x20000u        /* up to 64 KiB of data */
#define STATUS 0x40000u
#define SENTINEL 0xee

struct fx {
	struct vqd d;
	struct virtio_blk b;
	char path[64];
};

static uint8_t pat(uint64_t sector, unsigned int i)
{
	return (uint8_t)(sector * 37 + i * 3 + 11);
}

/* A temporary image of nsect sectors with pat() in it; 0 or -1. */
static int make_image(char *path, size_t size, uint64_t bytes)
{
	uint8_t sec[512];
	int fd;

	snprintf(path, size, "%s/ember-blk-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	fd = mkstemp(path);
	if (fd < 0)
		return -1;
	for (uint64_t s = 0; s * 512 < bytes; s++) {
		uint64_t n = bytes - s * 512 < 512 ? bytes - s * 512 : 512;

		for (unsigned int i = 0; i < 512; i++)
			sec[i] = pat(s, i);
		if (pwrite(fd, sec, (size_t)n, (off_t)(s * 512)) != (ssize_t)n) {
			close(fd);
			return -1;
		}
	}
	close(fd);
	return 0;
}

static int setup_ro(struct fx *f, bool read_only, uint64_t features)
{
	memset(f, 0, sizeof(*f));
	if (vqd_init(&f->d, 256, true, false) != 0)
		return -1;
	if (make_image(f->path, sizeof(f->path), NSECT * 512) < 0)
		return -1;
	if (virtio_blk_open(&f->b, f->path, read_only, 0) < 0)
		return -1;
	f->b.mmio.driver_features = features;
	memset(f->d.ram + STATUS, SENTINEL, 16);
	return 0;
}

static int setup(struct fx *f) { return setup_ro(f, false, 1ULL << F_FLUSH); }

static void teardown(struct fx *f)
{
	virtio_blk_close(&f->b);
	unlink(f->path);
	vqd_free(&f->d);
}

static void put_hdr(struct fx *f, uint64_t gpa, uint32_t type, uint64_t sector)
{
	vqd_w32(&f->d, gpa, type);
	vqd_w32(&f->d, gpa + 4, 0);
	vqd_w64(&f->d, gpa + 8, sector);
}

/* Publishes the chain, pops it and runs the request; returns what the device would put
 * in the used ring, or UINT32_MAX when vq_pop did not give a chain. */
static uint32_t run(struct fx *f, const struct vqd_buf *b, unsigned int n)
{
	struct vq_chain c;

	vqd_add(&f->d, b, n);
	if (vq_pop(&f->d.q, &c) != 1)
		return UINT32_MAX;
	return virtio_blk_handle(&f->b, &c);
}

/* The usual three-descriptor request: header, data (len bytes), status. */
static uint32_t simple(struct fx *f, uint32_t type, uint64_t sector, uint32_t len)
{
	bool in = type != T_OUT;
	struct vqd_buf b[3] = { { HDR, 16, false }, { DATA, len, in }, { STATUS, 1, true } };

	put_hdr(f, HDR, type, sector);
	if (len == 0) {
		b[1] = b[2];
		return run(f, b, 2);
	}
	return run(f, b, 3);
}

static uint8_t status(struct fx *f) { return f->d.ram[STATUS]; }

static bool data_is_pattern(const uint8_t *p, uint64_t sector, uint64_t len)
{
	for (uint64_t k = 0; k < len; k++)
		if (p[k] != pat(sector + k / 512, (unsigned int)(k % 512)))
			return false;
	return true;
}

/* p holds len bytes of the disk from byte off of sector on. */
static bool data_is_pattern_at(const uint8_t *p, uint64_t sector, uint64_t off, uint64_t len)
{
	for (uint64_t k = 0; k < len; k++) {
		uint64_t o = off + k;

		if (p[k] != pat(sector + o / 512, (unsigned int)(o % 512)))
			return false;
	}
	return true;
}

static bool file_is_pattern(struct fx *f, uint64_t sector, uint64_t nsect)
{
	uint8_t sec[512];

	for (uint64_t s = sector; s < sector + nsect; s++) {
		if (pread(f->b.fd, sec, 512, (off_t)(s * 512)) != 512 || !data_is_pattern(sec, s, 512))
			return false;
	}
	return true;
}

static bool file_is_pattern_all(struct fx *f) { return file_is_pattern(f, 0, NSECT); }

/* ---- opening images ---- */

TEST(open_reports_missing_file_and_odd_size)
{
	struct virtio_blk b;
	char path[64];

	CHECK_EQ_INT(virtio_blk_open(&b, "/nonexistent/ember-no-such.img", false, 0), -ENOENT);
	CHECK_STR_CONTAINS(err_msg(), "ember-no-such.img");
	CHECK_EQ_INT(b.fd, -1);

	REQUIRE_EQ_INT(make_image(path, sizeof(path), 1000), 0);
	CHECK_EQ_INT(virtio_blk_open(&b, path, false, 0), -EINVAL);
	CHECK_STR_CONTAINS(err_msg(), "512");
	CHECK_EQ_INT(b.fd, -1);
	unlink(path);

	/* A directory: open(O_RDWR) fails with EISDIR; read-only, fstat refuses it. */
	CHECK_EQ_INT(virtio_blk_open(&b, "/tmp", false, 0), -EISDIR);
	CHECK_STR_CONTAINS(err_msg(), "/tmp");
	CHECK_EQ_INT(b.fd, -1);
	CHECK_EQ_INT(virtio_blk_open(&b, "/tmp", true, 0), -EINVAL);
	CHECK_STR_CONTAINS(err_msg(), "not a regular file");
	CHECK_EQ_INT(b.fd, -1);
	/* A character device is not a disk either. */
	CHECK_EQ_INT(virtio_blk_open(&b, "/dev/null", true, 0), -EINVAL);
	CHECK_EQ_INT(b.fd, -1);
}

/* A FIFO named as a disk (or as PATCH /drives' new file) is refused at once: open()
 * without O_NONBLOCK waited for a writer forever, on the API's main thread. In a child
 * with an alarm, so the old behaviour fails the test instead of hanging it. */
static int open_fifo_as_disk(void *arg)
{
	const char *fifo = arg;
	struct virtio_blk b;
	struct fx f;
	int r = 0;

	if (virtio_blk_open(&b, fifo, true, 0) != -EINVAL ||
	    virtio_blk_open(&b, fifo, false, 0) != -EINVAL)
		return 2;
	if (!strstr(err_msg(), "not a regular file"))
		return 3;
	if (setup(&f) != 0)
		return 4;
	if (virtio_blk_swap(&f.b, fifo) != -EINVAL || f.b.sectors != NSECT)
		r = 5;
	teardown(&f);
	return r;
}

TEST(fifo_is_refused_without_blocking)
{
	char fifo[64];

	REQUIRE_EQ_INT(harness_make_fifo(fifo, sizeof(fifo), "blk-fifo"), 0);
	CHECK_EQ_INT(harness_in_child(open_fifo_as_disk, fifo, 5), 0);
	unlink(fifo);
}

TEST(open_sizes_serial_and_read_only_feature)
{
	struct virtio_blk b;
	char path[64];

	REQUIRE_EQ_INT(make_image(path, sizeof(path), 7 * 512), 0);
	REQUIRE_EQ_INT(virtio_blk_open(&b, path, false, 3), 0);
	CHECK_EQ_U64(b.sectors, 7);
	CHECK_STR_EQ(b.serial, "ember-disk3");
	CHECK(!b.read_only);
	CHECK_EQ_U64(b.features & (1ULL << F_RO), 0);
	virtio_blk_close(&b);
	CHECK_EQ_INT(b.fd, -1);

	REQUIRE_EQ_INT(virtio_blk_open(&b, path, true, 12), 0);
	CHECK(b.read_only);
	CHECK_EQ_U64(b.features & (1ULL << F_RO), 1ULL << F_RO);
	CHECK_STR_EQ(b.serial, "ember-disk12");
	virtio_blk_close(&b);

	/* An empty image is a disk of 0 sectors. */
	REQUIRE_EQ_INT(truncate(path, 0), 0);
	REQUIRE_EQ_INT(virtio_blk_open(&b, path, false, 0), 0);
	CHECK_EQ_U64(b.sectors, 0);
	virtio_blk_close(&b);
	unlink(path);
}

TEST(config_space_and_ops)
{
	struct fx f;
	uint8_t cfg[24];
	uint64_t cap;
	uint32_t v;

	REQUIRE_EQ_INT(setup(&f), 0);
	CHECK_EQ_U64(virtio_blk_ops.device_id, VIRTIO_ID_BLOCK);
	CHECK_EQ_U64(virtio_blk_ops.num_queues, 1);
	CHECK_EQ_U64(virtio_blk_ops.config_size, 24);
	CHECK(virtio_blk_ops.features & (1ULL << F_FLUSH));
	REQUIRE(virtio_blk_ops.config_read != NULL);
	virtio_blk_ops.config_read(&f.b, 0, cfg, 24);
	memcpy(&cap, cfg, 8);
	CHECK_EQ_U64(cap, NSECT);
	memcpy(&v, cfg + 12, 4);
	CHECK(v >= 1 && v <= VQ_MAX_CHAIN - 2);                /* seg_max */
	memcpy(&v, cfg + 20, 4);
	CHECK_EQ_U64(v, 512);                                  /* blk_size */
	virtio_blk_ops.config_read(&f.b, 4, cfg, 4);           /* capacity's high half */
	memcpy(&v, cfg, 4);
	CHECK_EQ_U64(v, 0);
	teardown(&f);
}

/* ---- requests ---- */

TEST(read_sectors)
{
	struct fx f;

	REQUIRE_EQ_INT(setup(&f), 0);
	CHECK_EQ_U64(simple(&f, T_IN, 2, 1024), 1025);
	CHECK_EQ_U64(status(&f), S_OK);
	CHECK(data_is_pattern(f.d.ram + DATA, 2, 1024));
	/* The last sector. */
	CHECK_EQ_U64(simple(&f, T_IN, NSECT - 1, 512), 513);
	CHECK_EQ_U64(status(&f), S_OK);
	CHECK(data_is_pattern(f.d.ram + DATA, NSECT - 1, 512));
	/* The whole disk. */
	CHECK_EQ_U64(simple(&f, T_IN, 0, NSECT * 512), NSECT * 512 + 1);
	CHECK(data_is_pattern(f.d.ram + DATA, 0, NSECT * 512));
	CHECK_EQ_U64(f.b.reads, 3);
	CHECK_EQ_U64(f.b.errors, 0);
	/* No data at all (only the status byte), at the end of the disk: nothing to do. */
	CHECK_EQ_U64(simple(&f, T_IN, NSECT, 0), 1);
	CHECK_EQ_U64(status(&f), S_OK);
	teardown(&f);
}

TEST(write_sectors_with_and_without_flush_negotiated)
{
	for (int flush = 0; flush < 2; flush++) {
		struct fx f;

		REQUIRE_EQ_INT(setup_ro(&f, false, flush ? 1ULL << F_FLUSH : 0), 0);
		for (unsigned int i = 0; i < 1024; i++)
			f.d.ram[DATA + i] = (uint8_t)(0x5a ^ i);
		CHECK_EQ_U64(simple(&f, T_OUT, 5, 1024), 1);       /* only the status is written */
		CHECK_EQ_U64(status(&f), S_OK);
		uint8_t back[1024];

		REQUIRE_EQ_INT(pread(f.b.fd, back, sizeof(back), 5 * 512), (ssize_t)sizeof(back));
		CHECK_MEM_EQ(back, f.d.ram + DATA, 1024);
		CHECK(file_is_pattern(&f, 0, 5));                  /* neighbours untouched */
		CHECK(file_is_pattern(&f, 7, NSECT - 7));
		CHECK_EQ_U64(f.b.writes, 1);
		/* Read it back through the device. */
		memset(f.d.ram + DATA, 0, 1024);
		CHECK_EQ_U64(simple(&f, T_IN, 5, 1024), 1025);
		CHECK_MEM_EQ(f.d.ram + DATA, back, 1024);
		teardown(&f);
	}
}

TEST(out_of_range_requests_are_ioerr)
{
	static const struct { uint32_t type; uint64_t sector; uint32_t len; } cases[] = {
		{ T_IN, NSECT, 512 },                 /* just past the end */
		{ T_IN, NSECT - 1, 1024 },            /* straddles the end */
		{ T_IN, 0, (NSECT + 1) * 512 },       /* longer than the disk */
		{ T_IN, NSECT + 1, 0 },               /* past the end, no data */
		{ T_IN, 1ULL << 55, 512 },            /* sector * 512 = 2^64: overflows */
		{ T_IN, 1ULL << 60, 512 },
		{ T_IN, UINT64_MAX, 512 },
		{ T_IN, UINT64_MAX / 512 + 1, 512 },
		{ T_OUT, NSECT, 512 },
		{ T_OUT, NSECT - 1, 1024 },
		{ T_OUT, 1ULL << 60, 512 },
		{ T_OUT, UINT64_MAX, 512 },
		{ T_OUT, (1ULL << 55) - 1, 1024 },
	};

	for (unsigned int k = 0; k < ARRAY_LEN(cases); k++) {
		struct fx f;

		REQUIRE_EQ_INT(setup(&f), 0);
		memset(f.d.ram + DATA, 0x77, 64 * 1024);
		uint32_t r = simple(&f, cases[k].type, cases[k].sector, cases[k].len);

		if (!CHECK_EQ_U64(status(&f), S_IOERR))
			FAIL("case %u: type %u sector 0x%llx len %u: status %u", k, cases[k].type,
			     (unsigned long long)cases[k].sector, cases[k].len, status(&f));
		CHECK_EQ_U64(r, 1);                                /* status only */
		CHECK(file_is_pattern_all(&f));
		if (cases[k].type == T_IN && cases[k].len)         /* nothing was read into RAM */
			CHECK_EQ_U64(f.d.ram[DATA] & f.d.ram[DATA + cases[k].len - 1], 0x77);
		CHECK_EQ_U64(f.b.errors, 1);
		teardown(&f);
	}
}

TEST(length_not_a_multiple_of_512_is_ioerr)
{
	static const uint32_t lens[] = { 1, 100, 511, 513, 1000, 4095 };

	for (unsigned int k = 0; k < ARRAY_LEN(lens); k++) {
		for (int w = 0; w < 2; w++) {
			struct fx f;

			REQUIRE_EQ_INT(setup(&f), 0);
			memset(f.d.ram + DATA, 0x77, 8192);
			CHECK_EQ_U64(simple(&f, w ? T_OUT : T_IN, 1, lens[k]), 1);
			if (!CHECK_EQ_U64(status(&f), S_IOERR))
				FAIL("len %u (%s) accepted", lens[k], w ? "write" : "read");
			CHECK(file_is_pattern_all(&f));
			CHECK_EQ_U64(f.d.ram[DATA], 0x77);
			teardown(&f);
		}
	}
}

TEST(flush)
{
	struct fx f;

	REQUIRE_EQ_INT(setup(&f), 0);
	CHECK_EQ_U64(simple(&f, T_FLUSH, 0, 0), 1);
	CHECK_EQ_U64(status(&f), S_OK);
	/* The sector field is ignored (spec: reserved, 0 for flush); data buffers too. */
	memset(f.d.ram + STATUS, SENTINEL, 1);
	CHECK_EQ_U64(simple(&f, T_FLUSH, 12345, 512), 1);
	CHECK_EQ_U64(status(&f), S_OK);
	CHECK_EQ_U64(f.b.flushes, 2);
	CHECK(file_is_pattern_all(&f));
	teardown(&f);
}

TEST(get_id_answers_the_serial_nul_padded)
{
	struct fx f;
	uint8_t want[VIRTIO_BLK_ID_BYTES] = "ember-disk0";

	REQUIRE_EQ_INT(setup(&f), 0);
	memset(f.d.ram + DATA, 0x77, 64);
	CHECK_EQ_U64(simple(&f, T_GET_ID, 0, VIRTIO_BLK_ID_BYTES), VIRTIO_BLK_ID_BYTES + 1);
	CHECK_EQ_U64(status(&f), S_OK);
	CHECK_MEM_EQ(f.d.ram + DATA, want, VIRTIO_BLK_ID_BYTES);
	/* A bigger buffer: still 20 bytes, the rest untouched. */
	memset(f.d.ram + DATA, 0x77, 64);
	CHECK_EQ_U64(simple(&f, T_GET_ID, 0, 40), VIRTIO_BLK_ID_BYTES + 1);
	CHECK_MEM_EQ(f.d.ram + DATA, want, VIRTIO_BLK_ID_BYTES);
	CHECK_EQ_U64(f.d.ram[DATA + 20], 0x77);
	CHECK_EQ_U64(f.d.ram[DATA + 39], 0x77);
	/* A smaller one: truncated. */
	memset(f.d.ram + DATA, 0x77, 64);
	CHECK_EQ_U64(simple(&f, T_GET_ID, 0, 5), 6);
	CHECK_MEM_EQ(f.d.ram + DATA, "ember", 5);
	CHECK_EQ_U64(f.d.ram[DATA + 5], 0x77);
	CHECK_EQ_U64(status(&f), S_OK);
	teardown(&f);

	/* A long serial fills all 20 bytes without a NUL. */
	REQUIRE_EQ_INT(setup(&f), 0);
	snprintf(f.b.serial, sizeof(f.b.serial), "%s", "ABCDEFGHIJKLMNOPQRST");
	CHECK_EQ_U64(simple(&f, T_GET_ID, 0, 32), 21);
	CHECK_MEM_EQ(f.d.ram + DATA, "ABCDEFGHIJKLMNOPQRST", 20);
	teardown(&f);
}

TEST(unknown_types_are_unsupp)
{
	static const uint32_t types[] = { 2, 3, 5, 7, 11 /* discard */, 13 /* write zeroes */,
					  0x80000000u, 0xffffffffu };

	for (unsigned int k = 0; k < ARRAY_LEN(types); k++) {
		struct fx f;

		REQUIRE_EQ_INT(setup(&f), 0);
		memset(f.d.ram + DATA, 0x77, 512);
		CHECK_EQ_U64(simple(&f, types[k], 0, 512), 1);
		if (!CHECK_EQ_U64(status(&f), S_UNSUPP))
			FAIL("type %u: status %u", types[k], status(&f));
		CHECK_EQ_U64(f.d.ram[DATA], 0x77);
		CHECK(file_is_pattern_all(&f));
		teardown(&f);
	}
}

TEST(short_header_is_dropped_without_writing)
{
	static const uint32_t lens[] = { 0, 1, 8, 15 };

	for (unsigned int k = 0; k < ARRAY_LEN(lens); k++) {
		struct fx f;
		struct vqd_buf b[] = { { HDR, lens[k], false }, { DATA, 512, true }, { STATUS, 1, true } };

		REQUIRE_EQ_INT(setup(&f), 0);
		put_hdr(&f, HDR, T_IN, 0);
		memset(f.d.ram + DATA, 0x77, 512);
		CHECK_EQ_U64(run(&f, b, 3), 0);
		CHECK_EQ_U64(status(&f), SENTINEL);
		CHECK_EQ_U64(f.d.ram[DATA], 0x77);
		CHECK_EQ_U64(f.b.errors, 1);
		teardown(&f);
	}
	/* No readable buffer at all. */
	struct fx f;
	const struct vqd_buf only_in[] = { { DATA, 512, true }, { STATUS, 1, true } };

	REQUIRE_EQ_INT(setup(&f), 0);
	memset(f.d.ram + DATA, 0x77, 512);
	CHECK_EQ_U64(run(&f, only_in, 2), 0);
	CHECK_EQ_U64(status(&f), SENTINEL);
	CHECK_EQ_U64(f.d.ram[DATA], 0x77);
	teardown(&f);
}

TEST(request_without_a_writable_byte_writes_nothing)
{
	static const uint32_t types[] = { T_IN, T_OUT, T_FLUSH, T_GET_ID, 99 };

	for (unsigned int k = 0; k < ARRAY_LEN(types); k++) {
		struct fx f;
		const struct vqd_buf b[] = { { HDR, 16, false }, { DATA, 512, false } };
		uint8_t before[1024];

		REQUIRE_EQ_INT(setup(&f), 0);
		put_hdr(&f, HDR, types[k], 0);
		memset(f.d.ram + DATA, 0x77, 512);
		memcpy(before, f.d.ram + HDR, 16);
		memcpy(before + 16, f.d.ram + DATA, 512);
		CHECK_EQ_U64(run(&f, b, 2), 0);
		CHECK_MEM_EQ(f.d.ram + HDR, before, 16);
		CHECK_MEM_EQ(f.d.ram + DATA, before + 16, 512);
		CHECK(file_is_pattern_all(&f));
		teardown(&f);
	}
}

TEST(header_split_across_descriptors)
{
	struct fx f;

	REQUIRE_EQ_INT(setup(&f), 0);
	/* type | reserved+sector low byte | the rest of the sector, from three places */
	put_hdr(&f, HDR, T_IN, 3);
	memcpy(f.d.ram + HDR + 0x100, f.d.ram + HDR + 4, 5);
	memcpy(f.d.ram + HDR + 0x200, f.d.ram + HDR + 9, 7);
	const struct vqd_buf b[] = { { HDR, 4, false }, { HDR + 0x100, 5, false },
				     { HDR + 0x200, 7, false }, { DATA, 512, true },
				     { STATUS, 1, true } };
	CHECK_EQ_U64(run(&f, b, 5), 513);
	CHECK_EQ_U64(status(&f), S_OK);
	CHECK(data_is_pattern(f.d.ram + DATA, 3, 512));
	/* One byte per descriptor. */
	const struct vqd_buf one[] = {
		{ HDR, 1, false }, { HDR + 1, 1, false }, { HDR + 2, 1, false }, { HDR + 3, 1, false },
		{ HDR + 4, 1, false }, { HDR + 5, 1, false }, { HDR + 6, 1, false },
		{ HDR + 7, 1, false }, { HDR + 8, 1, false }, { HDR + 9, 1, false },
		{ HDR + 10, 1, false }, { HDR + 11, 1, false }, { HDR + 12, 1, false },
		{ HDR + 13, 1, false }, { HDR + 14, 1, false }, { HDR + 15, 1, false },
		{ DATA, 512, true }, { STATUS, 1, true },
	};
	put_hdr(&f, HDR, T_IN, 9);
	CHECK_EQ_U64(run(&f, one, ARRAY_LEN(one)), 513);
	CHECK(data_is_pattern(f.d.ram + DATA, 9, 512));
	/* Header and write data in one readable buffer. */
	put_hdr(&f, HDR, T_OUT, 1);
	memset(f.d.ram + HDR + 16, 0x42, 512);
	const struct vqd_buf merged[] = { { HDR, 16 + 512, false }, { STATUS, 1, true } };
	CHECK_EQ_U64(run(&f, merged, 2), 1);
	CHECK_EQ_U64(status(&f), S_OK);
	uint8_t back[512];
	REQUIRE_EQ_INT(pread(f.b.fd, back, 512, 512), 512);
	CHECK_EQ_U64(back[0], 0x42);
	CHECK_EQ_U64(back[511], 0x42);
	CHECK(file_is_pattern(&f, 2, NSECT - 2));
	teardown(&f);
}

TEST(data_split_across_many_descriptors)
{
	struct fx f;
	static struct vqd_buf b[VQ_MAX_CHAIN];
	unsigned int n = 0;

	REQUIRE_EQ_INT(setup(&f), 0);
	/* Read 4 sectors into 64 buffers of 32 bytes, scattered (every other 64 bytes). */
	put_hdr(&f, HDR, T_IN, 10);
	b[n++] = (struct vqd_buf){ HDR, 16, false };
	for (unsigned int i = 0; i < 64; i++)
		b[n++] = (struct vqd_buf){ DATA + 64ULL * i, 32, true };
	b[n++] = (struct vqd_buf){ STATUS, 1, true };
	CHECK_EQ_U64(run(&f, b, n), 2049);
	CHECK_EQ_U64(status(&f), S_OK);
	for (unsigned int i = 0; i < 64; i++)
		if (!CHECK(data_is_pattern_at(f.d.ram + DATA + 64ULL * i, 10, 32ULL * i, 32)))
			break;

	/* Write 4 sectors from pieces of odd sizes: 100 + 412 + 1 + 511 + 1024 = 2048. */
	static const uint32_t pieces[] = { 100, 412, 1, 511, 1024 };
	uint8_t want[2048];
	uint64_t at = 0;

	n = 0;
	put_hdr(&f, HDR, T_OUT, 20);
	b[n++] = (struct vqd_buf){ HDR, 16, false };
	for (unsigned int i = 0; i < ARRAY_LEN(pieces); i++) {
		uint64_t gpa = DATA + 0x1000ULL * i;

		for (uint32_t k = 0; k < pieces[i]; k++) {
			f.d.ram[gpa + k] = (uint8_t)(at * 13 + 7);
			want[at] = (uint8_t)(at * 13 + 7);
			at++;
		}
		b[n++] = (struct vqd_buf){ gpa, pieces[i], false };
	}
	b[n++] = (struct vqd_buf){ STATUS, 1, true };
	CHECK_EQ_U64(run(&f, b, n), 1);
	CHECK_EQ_U64(status(&f), S_OK);
	uint8_t back[2048];
	REQUIRE_EQ_INT(pread(f.b.fd, back, sizeof(back), 20 * 512), (ssize_t)sizeof(back));
	CHECK_MEM_EQ(back, want, sizeof(want));

	/* The most buffers a chain may have: 254 one-sector buffers. */
	n = 0;
	put_hdr(&f, HDR, T_IN, 0);
	b[n++] = (struct vqd_buf){ HDR, 16, false };
	for (unsigned int i = 0; i < VQ_MAX_CHAIN - 2; i++)
		b[n++] = (struct vqd_buf){ 0x50000 + 512ULL * (i % NSECT), 512, true };
	b[n++] = (struct vqd_buf){ STATUS, 1, true };
	/* 254 sectors are more than the 64-sector disk: IOERR, nothing read. */
	CHECK_EQ_U64(run(&f, b, n), 1);
	CHECK_EQ_U64(status(&f), S_IOERR);
	teardown(&f);
}

TEST(status_byte_inside_the_data_buffer)
{
	/* Data and status in one writable buffer of 513 bytes: the status is its last byte. */
	struct fx f;
	const struct vqd_buf b[] = { { HDR, 16, false }, { DATA, 513, true } };

	REQUIRE_EQ_INT(setup(&f), 0);
	put_hdr(&f, HDR, T_IN, 4);
	f.d.ram[DATA + 512] = SENTINEL;
	CHECK_EQ_U64(run(&f, b, 2), 513);
	CHECK(data_is_pattern(f.d.ram + DATA, 4, 512));
	CHECK_EQ_U64(f.d.ram[DATA + 512], S_OK);
	teardown(&f);
}

TEST(read_only_image_refuses_writes)
{
	struct fx f;

	REQUIRE_EQ_INT(setup_ro(&f, true, 1ULL << F_FLUSH), 0);
	memset(f.d.ram + DATA, 0x42, 1024);
	CHECK_EQ_U64(simple(&f, T_OUT, 0, 1024), 1);
	CHECK_EQ_U64(status(&f), S_IOERR);
	CHECK(file_is_pattern_all(&f));
	CHECK_EQ_U64(f.b.errors, 1);
	/* Reads, flushes and GET_ID still work. */
	CHECK_EQ_U64(simple(&f, T_IN, 1, 512), 513);
	CHECK_EQ_U64(status(&f), S_OK);
	CHECK(data_is_pattern(f.d.ram + DATA, 1, 512));
	CHECK_EQ_U64(simple(&f, T_FLUSH, 0, 0), 1);
	CHECK_EQ_U64(status(&f), S_OK);
	CHECK_EQ_U64(simple(&f, T_GET_ID, 0, 20), 21);
	CHECK_EQ_U64(status(&f), S_OK);
	teardown(&f);

	/* The file itself is unchanged on disk (reopen it). */
	REQUIRE_EQ_INT(setup_ro(&f, true, 0), 0);
	memset(f.d.ram + DATA, 0x42, 512);
	CHECK_EQ_U64(simple(&f, T_OUT, NSECT - 1, 512), 1);
	CHECK_EQ_U64(status(&f), S_IOERR);
	virtio_blk_close(&f.b);
	REQUIRE_EQ_INT(virtio_blk_open(&f.b, f.path, false, 0), 0);
	CHECK(file_is_pattern_all(&f));
	teardown(&f);
}

TEST(data_buffer_at_the_very_end_of_ram)
{
	struct fx f;
	const struct vqd_buf b[] = { { HDR, 16, false }, { VQD_RAM - 1025, 1024, true },
				     { VQD_RAM - 1, 1, true } };

	REQUIRE_EQ_INT(setup(&f), 0);
	put_hdr(&f, HDR, T_IN, 6);
	f.d.ram[VQD_RAM - 1] = SENTINEL;
	CHECK_EQ_U64(run(&f, b, 3), 1025);
	CHECK(data_is_pattern(f.d.ram + VQD_RAM - 1025, 6, 1024));
	CHECK_EQ_U64(f.d.ram[VQD_RAM - 1], S_OK);
	teardown(&f);
}

/* ---- the whole device: transport registers, worker thread, queue ---- */

static void reg_wr(struct virtio_mmio *m, uint64_t off, uint32_t v)
{
	virtio_mmio_write(m, off, (const uint8_t *)&v, 4);
}

static uint32_t reg_rd(struct virtio_mmio *m, uint64_t off)
{
	uint32_t v = 0;

	virtio_mmio_read(m, off, (uint8_t *)&v, 4);
	return v;
}

/* Waits up to 5 s for cond(f) to hold. */
static bool wait_for(bool (*cond)(struct fx *), struct fx *f)
{
	for (int i = 0; i < 5000; i++) {
		if (cond(f))
			return true;
		usleep(1000);
	}
	return cond(f);
}

static bool used_1(struct fx *f) { return __atomic_load_n((uint16_t *)(f->d.ram + VQD_USED + 2), __ATOMIC_ACQUIRE) == 1; }
static bool needs_reset(struct fx *f) { return reg_rd(&f->b.mmio, 0x070) & VIRTIO_STATUS_NEEDS_RESET; }

TEST(worker_serves_notified_requests_and_flags_a_malformed_ring)
{
	struct fx f;
	struct virtio_mmio *m = &f.b.mmio;
	uint32_t id, len;

	REQUIRE_EQ_INT(setup(&f), 0);
	REQUIRE_EQ_INT(virtio_mmio_init(m, &virtio_blk_ops, &f.b, &f.d.mem, 0xd0000000ULL, 5), 0);
	m->extra_features = f.b.features;
	reg_wr(m, 0x070, 1);
	reg_wr(m, 0x070, 3);
	reg_wr(m, 0x024, 1);
	reg_wr(m, 0x020, 1);                                   /* VERSION_1 */
	reg_wr(m, 0x024, 0);
	reg_wr(m, 0x020, 1u << F_FLUSH);
	reg_wr(m, 0x070, 3 | 8);
	REQUIRE_EQ_U64(reg_rd(m, 0x070), 3 | 8);
	reg_wr(m, 0x030, 0);
	REQUIRE_EQ_U64(reg_rd(m, 0x034), 256);
	reg_wr(m, 0x038, 16);
	reg_wr(m, 0x080, VQD_DESC);
	reg_wr(m, 0x090, VQD_AVAIL);
	reg_wr(m, 0x0a0, VQD_USED);
	reg_wr(m, 0x044, 1);
	reg_wr(m, 0x070, 3 | 8 | 4);
	REQUIRE_EQ_U64(reg_rd(m, 0x070), 3 | 8 | 4);
	REQUIRE(f.b.worker.running);

	/* The driver's view of the same queue, for building requests. */
	vqd_layout(&f.d, 16, false, false);
	put_hdr(&f, HDR, T_IN, 8);
	const struct vqd_buf b[] = { { HDR, 16, false }, { DATA, 512, true }, { STATUS, 1, true } };
	vqd_add(&f.d, b, 3);
	reg_wr(m, 0x050, 0);                                   /* QueueNotify */
	REQUIRE(wait_for(used_1, &f));
	vqd_used_elem(&f.d, 0, &id, &len);
	CHECK_EQ_U64(id, 0);
	CHECK_EQ_U64(len, 513);
	CHECK_EQ_U64(status(&f), S_OK);
	CHECK(data_is_pattern(f.d.ram + DATA, 8, 512));
	CHECK_EQ_U64(reg_rd(m, 0x060) & VIRTIO_INT_USED, VIRTIO_INT_USED);
	CHECK(m->irq.pulses >= 1);
	reg_wr(m, 0x064, VIRTIO_INT_USED);

	/* A descriptor loop: DEVICE_NEEDS_RESET and a config interrupt, no crash. */
	vqd_desc(&f.d, 5, HDR, 16, VRING_DESC_F_NEXT, 6);
	vqd_desc(&f.d, 6, DATA, 512, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 5);
	vqd_publish(&f.d, 5);
	reg_wr(m, 0x050, 0);
	CHECK(wait_for(needs_reset, &f));
	CHECK_EQ_U64(reg_rd(m, 0x060) & VIRTIO_INT_CONFIG, VIRTIO_INT_CONFIG);
	CHECK_EQ_U64(vqd_used_idx(&f.d), 1);                   /* nothing more was used */
	/* More notifies on the broken queue are harmless. */
	reg_wr(m, 0x050, 0);
	reg_wr(m, 0x050, 0);
	/* The reset stops the worker; the device comes back clean. */
	reg_wr(m, 0x070, 0);
	CHECK(!f.b.worker.running);
	CHECK_EQ_U64(reg_rd(m, 0x070), 0);
	virtio_mmio_destroy(m);
	teardown(&f);
}

/* Regression (found by this test, fixed in 9d699dd): a driver sets DRIVER_OK without making
 * queue 0 ready (legal: driver_ok skips queues that are not ready and activates the
 * device), puts a non-zero 16-bit word at guest-physical address 2 and writes QueueNotify
 * 0. blk_process's `do { ... } while (vq_enable_notify(q, true))` never ended: vq_pop
 * returned 0 (not ready), vq_enable_notify wrote the "used flags" at GPA 0 and returned
 * true because the "avail idx" at GPA 2 differed from last_avail. The worker spun at 100%
 * CPU writing GPA 0, and the next device reset (Status 0, or Ember's exit) blocked in
 * worker_stop's pthread_join with the transport lock held (rng_event and rx_process had
 * the same loop). Expected: GPA 0 is never written, the worker goes back to poll(), the
 * reset returns promptly. This test is last in the file: should it fail again, it leaves
 * the spinning worker and the stuck reset thread behind (their fixture is leaked on
 * purpose) until the binary exits. */
struct stuck {
	struct fx f;
	volatile int reset_done;
};

static struct stuck *stuck_fixture;   /* a root for LeakSanitizer while threads use it */

static void *reset_thread(void *arg)
{
	struct stuck *s = arg;

	reg_wr(&s->f.b.mmio, 0x070, 0);
	s->reset_done = 1;
	return NULL;
}

TEST(regression_notify_without_a_ready_queue_spins_the_worker)
{
	struct stuck *s = calloc(1, sizeof(*s));
	struct virtio_mmio *m;
	pthread_t t;

	REQUIRE_NOT_NULL(s);
	stuck_fixture = s;
	REQUIRE_EQ_INT(setup(&s->f), 0);
	m = &s->f.b.mmio;
	REQUIRE_EQ_INT(virtio_mmio_init(m, &virtio_blk_ops, &s->f.b, &s->f.d.mem, 0xd0000000ULL, 5), 0);
	reg_wr(m, 0x070, 3);
	reg_wr(m, 0x024, 1);
	reg_wr(m, 0x020, 1);                                   /* VERSION_1 */
	reg_wr(m, 0x024, 0);
	reg_wr(m, 0x020, 0);
	reg_wr(m, 0x070, 3 | 8);
	reg_wr(m, 0x070, 3 | 8 | 4);                           /* DRIVER_OK, queue 0 not ready */
	REQUIRE_EQ_U64(reg_rd(m, 0x070), 3 | 8 | 4);
	REQUIRE(s->f.b.worker.running);
	memcpy(s->f.d.ram, "\xcd\xab\x01\x00", 4);             /* GPA 0..3 */
	reg_wr(m, 0x050, 0);                                   /* QueueNotify 0 */
	usleep(200 * 1000);
	CHECK_MEM_EQ(s->f.d.ram, "\xcd\xab\x01\x00", 4);
	REQUIRE_EQ_INT(pthread_create(&t, NULL, reset_thread, s), 0);
	for (int i = 0; i < 2000 && !s->reset_done; i++)
		usleep(1000);
	if (!CHECK(s->reset_done)) {
		FAIL("the device reset did not return within 2 s (worker spinning, join blocked)");
		pthread_detach(t);
		return;                                        /* s stays allocated: in use */
	}
	pthread_join(t, NULL);
	virtio_mmio_destroy(m);
	teardown(&s->f);
	stuck_fixture = NULL;
	free(s);
}

/* ---- backing-file swap (Firecracker's PATCH /drives/{id}) ---- */

TEST(swap_switches_file_capacity_and_raises_config_change)
{
	struct fx f;
	char other[64], empty[80];
	uint8_t cfg[8];
	uint64_t cap;
	uint32_t gen;
	int fd;

	REQUIRE_EQ_INT(setup(&f), 0);
	REQUIRE_EQ_INT(make_image(other, sizeof(other), 8 * 512), 0);
	/* A file of 8 sectors whose sector 0 differs: overwrite it with sector 5's pattern. */
	{
		uint8_t sec[512];

		for (unsigned int i = 0; i < 512; i++)
			sec[i] = pat(5, i);
		fd = open(other, O_WRONLY);
		REQUIRE(fd >= 0);
		CHECK_EQ_INT(pwrite(fd, sec, 512, 0), 512);
		close(fd);
	}
	f.b.mmio.status = VIRTIO_STATUS_DRIVER_OK;
	f.b.mmio.irq.fd = -1;
	gen = f.b.mmio.config_generation;
	REQUIRE_EQ_INT(virtio_blk_swap(&f.b, other), 0);
	CHECK_EQ_U64(f.b.mmio.config_generation, gen + 1);
	CHECK(f.b.mmio.interrupt_status & 0x2);                   /* configuration change interrupt */
	virtio_blk_ops.config_read(&f.b, 0, cfg, 8);
	memcpy(&cap, cfg, 8);
	CHECK_EQ_U64(cap, 8);
	CHECK_STR_EQ(f.b.path, other);
	/* Reads come from the new file; past its end is an error now. */
	CHECK_EQ_U64(simple(&f, T_IN, 0, 512), 513);
	CHECK_EQ_U64(status(&f), S_OK);
	CHECK(data_is_pattern(f.d.ram + DATA, 5, 512));
	simple(&f, T_IN, 8, 512);
	CHECK_EQ_U64(status(&f), S_IOERR);
	/* A 0-byte placeholder is accepted: capacity 0. */
	snprintf(empty, sizeof(empty), "%s.empty", other);
	fd = open(empty, O_CREAT | O_WRONLY | O_TRUNC, 0600);
	REQUIRE(fd >= 0);
	close(fd);
	REQUIRE_EQ_INT(virtio_blk_swap(&f.b, empty), 0);
	CHECK_EQ_U64(f.b.sectors, 0);
	CHECK_EQ_U64(f.b.swaps, 2);
	teardown(&f);
	unlink(other);
	unlink(empty);
}

/* PATCH /drives never waits behind guest I/O: with a request in flight (a file taken
 * with virtio_blk_get, as virtio_blk_handle does), a swap returns at once, the request's
 * file stays open until it is done, and is closed then. (The swap used to take the lock
 * the worker held across whole queue drains: a busy or hung disk froze the API.) */
TEST(swap_never_waits_for_requests_in_flight)
{
	struct fx f;
	char img[5][64];

	REQUIRE_EQ_INT(setup(&f), 0);
	for (int i = 0; i < 5; i++)
		REQUIRE_EQ_INT(make_image(img[i], sizeof(img[i]), 4096), 0);
	struct blk_file inflight = virtio_blk_get(&f.b);
	CHECK_EQ_U64(inflight.sectors, NSECT);
	REQUIRE_EQ_INT(virtio_blk_swap(&f.b, img[0]), 0);
	CHECK(fcntl(inflight.fd, F_GETFD) >= 0);     /* still open for the request */
	CHECK(f.b.fd != inflight.fd);
	CHECK_EQ_U64(f.b.sectors, 8);
	/* More swaps while that request hangs: each retires a file, until the table is full. */
	for (int i = 1; i < 4; i++)
		CHECK_EQ_INT(virtio_blk_swap(&f.b, img[i]), 0);
	CHECK_EQ_INT(virtio_blk_swap(&f.b, img[4]), -EBUSY);
	CHECK_STR_CONTAINS(err_msg(), "retry later");
	int retired0 = f.b.retired[0];
	virtio_blk_put(&f.b);
	/* The last request done: every retired file is closed, the current one is not. */
	CHECK(fcntl(retired0, F_GETFD) < 0 && errno == EBADF);
	CHECK(fcntl(f.b.fd, F_GETFD) >= 0);
	CHECK_EQ_INT(virtio_blk_swap(&f.b, img[4]), 0);
	CHECK_EQ_U64(simple(&f, T_IN, 0, 512), 513);
	teardown(&f);
	for (int i = 0; i < 5; i++)
		unlink(img[i]);
}

TEST(swap_failure_keeps_the_old_file)
{
	struct fx f;
	char odd[64];

	REQUIRE_EQ_INT(setup(&f), 0);
	CHECK_EQ_INT(virtio_blk_swap(&f.b, "/nonexistent/ember-none.img"), -ENOENT);
	CHECK_STR_CONTAINS(err_msg(), "path_on_host /nonexistent/ember-none.img");
	REQUIRE_EQ_INT(make_image(odd, sizeof(odd), 700), 0);
	CHECK_EQ_INT(virtio_blk_swap(&f.b, odd), -EINVAL);
	CHECK_EQ_U64(f.b.sectors, NSECT);
	CHECK_EQ_U64(simple(&f, T_IN, NSECT - 1, 512), 513);
	CHECK(data_is_pattern(f.d.ram + DATA, NSECT - 1, 512));
	/* Before DRIVER_OK there is no interrupt to raise. */
	CHECK_EQ_U64(f.b.mmio.interrupt_status, 0);
	teardown(&f);
	unlink(odd);
}
