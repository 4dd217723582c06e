/* virtio-vsock (src/devices/virtio/virtio_vsock.c, vsock_conn.c) against real Unix sockets.
 *
 * The test plays the guest driver: rx and tx split queues in synthetic guest memory (one
 * exact-size heap block, so ASan sees any access past guest RAM), packets built and read
 * byte by byte in the virtio 1.2 layout (5.10.6: 44-byte little-endian header src_cid,
 * dst_cid, src_port, dst_port, len, type, op, flags, buf_alloc, fwd_cnt), and
 * virtio_vsock_poll() run by hand in place of the worker thread. The host side is real:
 * Unix clients and listeners, some of them in threads. Expectations come from the spec
 * (ops REQUEST 1 .. CREDIT_REQUEST 7, SHUTDOWN flags RCV 1 / SEND 2, credit = buf_alloc -
 * (tx_cnt - fwd_cnt)) and Firecracker's hybrid model ("CONNECT <port>\n" -> "OK <port>\n",
 * guest connections to port P go to "<uds>_P"). */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "devices/virtio/virtio_vsock.h"
#include "mem/guest_mem.h"
#include "util/err.h"
#include "util/log.h"

#define CID 3u
#define RAM (8u << 20)
#define QSZ 64
#define RX_DESC 0x1000u
#define RX_AVAIL 0x1800u
#define RX_USED 0x2000u
#define TX_DESC 0x3000u
#define TX_AVAIL 0x3800u
#define TX_USED 0x4000u
#define RX_BUF 0x10000u          /* 64 slots of 8 KiB */
#define RX_SLOT 0x2000u
#define TX_BUF 0x100000u         /* 32 slots of 68 KiB */
#define TX_SLOT 0x11000u
#define TX_SLOTS 32u
#define HDR VSOCK_HDR_LEN

struct tq {
	uint64_t desc, avail, used;
	uint16_t avail_idx, used_seen;
};

struct fx {
	struct virtio_vsock v;
	struct guest_mem mem;
	uint8_t *ram;
	struct tq rx, tx;
	uint32_t rx_len;         /* writable bytes per rx buffer */
	char dir[64], uds[128];
};

/* ---- guest memory and rings ---- */

static void w16(struct fx *f, uint64_t a, uint16_t v) { memcpy(f->ram + a, &v, 2); }
static void w32(struct fx *f, uint64_t a, uint32_t v) { memcpy(f->ram + a, &v, 4); }
static void w64(struct fx *f, uint64_t a, uint64_t v) { memcpy(f->ram + a, &v, 8); }
static uint16_t r16(struct fx *f, uint64_t a) { uint16_t v; memcpy(&v, f->ram + a, 2); return v; }
static uint32_t r32(struct fx *f, uint64_t a) { uint32_t v; memcpy(&v, f->ram + a, 4); return v; }

static void desc(struct fx *f, struct tq *q, unsigned int i, uint64_t addr, uint32_t len,
		 uint16_t flags, uint16_t next)
{
	uint64_t p = q->desc + 16ULL * i;

	w64(f, p, addr);
	w32(f, p + 8, len);
	w16(f, p + 12, flags);
	w16(f, p + 14, next);
}

static void publish(struct fx *f, struct tq *q, uint16_t head)
{
	w16(f, q->avail + 4 + 2ULL * (q->avail_idx % QSZ), head);
	q->avail_idx++;
	w16(f, q->avail + 2, q->avail_idx);
}

static void setup_queue(struct fx *f, unsigned int i, uint64_t d, uint64_t a, uint64_t u)
{
	struct vq *q = &f->v.mmio.queues[i];

	q->size = QSZ;
	q->desc_gpa = d;
	q->avail_gpa = a;
	q->used_gpa = u;
	q->ready = true;
}

/* Posts one rx chain (slot = descriptor = avail position modulo the queue size). */
static void rx_post_one(struct fx *f, uint32_t len, uint16_t flags)
{
	uint16_t slot = (uint16_t)(f->rx.avail_idx % QSZ);

	desc(f, &f->rx, slot, RX_BUF + (uint64_t)slot * RX_SLOT, len, flags, 0);
	publish(f, &f->rx, slot);
}

static void rx_fill(struct fx *f)
{
	while ((uint16_t)(f->rx.avail_idx - f->rx.used_seen) < QSZ)
		rx_post_one(f, f->rx_len, VRING_DESC_F_WRITE);
}

static int fx_setup(struct fx *f)
{
	memset(f, 0, sizeof(*f));
	log_threshold = LOG_ERROR;
	snprintf(f->dir, sizeof(f->dir), "%s/ember-vsock-XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (strlen(f->dir) > 40 || !mkdtemp(f->dir))
		return -1;
	snprintf(f->uds, sizeof(f->uds), "%s/v.sock", f->dir);
	f->ram = calloc(1, RAM);
	if (!f->ram)
		return -1;
	guest_mem_init_from(&f->mem, f->ram, RAM);
	if (virtio_vsock_open(&f->v, CID, f->uds) < 0)
		return -1;
	if (virtio_mmio_init(&f->v.mmio, &virtio_vsock_ops, &f->v, &f->mem, 0, 5) < 0)
		return -1;
	f->rx = (struct tq){ RX_DESC, RX_AVAIL, RX_USED, 0, 0 };
	f->tx = (struct tq){ TX_DESC, TX_AVAIL, TX_USED, 0, 0 };
	setup_queue(f, VSOCK_RXQ, RX_DESC, RX_AVAIL, RX_USED);
	setup_queue(f, VSOCK_TXQ, TX_DESC, TX_AVAIL, TX_USED);
	if (vq_activate(&f->v.mmio.queues[VSOCK_RXQ], &f->mem) < 0 ||
	    vq_activate(&f->v.mmio.queues[VSOCK_TXQ], &f->mem) < 0)
		return -1;
	f->rx_len = HDR + 4096;
	return 0;
}

static void fx_teardown(struct fx *f)
{
	char p[160];

	virtio_vsock_close(&f->v);
	virtio_mmio_destroy(&f->v.mmio);
	free(f->ram);
	f->ram = NULL;
	/* Listeners the tests made: <uds>_<port>. */
	for (unsigned int port = 5000; port < 5010; port++) {
		snprintf(p, sizeof(p), "%s_%u", f->uds, port);
		unlink(p);
	}
	rmdir(f->dir);
}

/* ---- packets ---- */

static struct vsock_hdr ghdr(uint32_t src_port, uint32_t dst_port, uint16_t op)
{
	return (struct vsock_hdr){ .src_cid = CID, .dst_cid = VSOCK_HOST_CID, .src_port = src_port,
				   .dst_port = dst_port, .type = VSOCK_TYPE_STREAM, .op = op,
				   .buf_alloc = 256 * 1024 };
}

static void pump(struct fx *f) { virtio_vsock_poll(&f->v, 0); }

/* Puts a packet in the tx queue: header and payload in one buffer, or split in two. */
static void tx_raw(struct fx *f, const uint8_t *bytes, uint32_t len, bool split)
{
	uint16_t slot = (uint16_t)(f->tx.avail_idx % TX_SLOTS);
	uint64_t buf = TX_BUF + (uint64_t)slot * TX_SLOT;
	uint16_t d0 = (uint16_t)(2 * slot);

	if ((uint16_t)(f->tx.avail_idx - r16(f, TX_USED + 2)) >= TX_SLOTS)
		pump(f);  /* the device takes the ring empty every round */
	memcpy(f->ram + buf, bytes, len);
	if (split && len > HDR) {
		desc(f, &f->tx, d0, buf, HDR, VRING_DESC_F_NEXT, (uint16_t)(d0 + 1));
		desc(f, &f->tx, d0 + 1u, buf + HDR, len - HDR, 0, 0);
	} else {
		desc(f, &f->tx, d0, buf, len, 0, 0);
	}
	publish(f, &f->tx, d0);
}

static void tx_pkt(struct fx *f, const struct vsock_hdr *h, const void *payload)
{
	static uint8_t b[HDR + VSOCK_MAX_PKT];
	static unsigned int n;

	vsock_hdr_encode(h, b);
	if (h->len)
		memcpy(b + HDR, payload, h->len);
	tx_raw(f, b, HDR + h->len, (n++ & 1) != 0);
}

static void tx_op(struct fx *f, uint32_t src_port, uint32_t dst_port, uint16_t op, uint32_t flags)
{
	struct vsock_hdr h = ghdr(src_port, dst_port, op);

	h.flags = flags;
	tx_pkt(f, &h, NULL);
}

/* The next packet in the used rx ring: 1 with header and payload (up to cap bytes), 0 if
 * none; used_len gets what the device reported. The buffer is posted again. */
static int rx_get_len(struct fx *f, struct vsock_hdr *h, uint8_t *payload, uint32_t cap,
		      uint32_t *used_len)
{
	uint16_t slot;
	uint32_t id, len;

	if (r16(f, RX_USED + 2) == f->rx.used_seen)
		return 0;
	slot = f->rx.used_seen % QSZ;
	id = r32(f, RX_USED + 4 + 8ULL * slot);
	len = r32(f, RX_USED + 8 + 8ULL * slot);
	f->rx.used_seen++;
	*used_len = len;
	memset(h, 0, sizeof(*h));
	if (len >= HDR && id < QSZ) {
		uint64_t buf = RX_BUF + (uint64_t)id * RX_SLOT;

		vsock_hdr_decode(f->ram + buf, h);
		if (payload && h->len && h->len <= cap && h->len <= len - HDR)
			memcpy(payload, f->ram + buf + HDR, h->len);
	}
	return 1;
}

static int rx_get(struct fx *f, struct vsock_hdr *h, uint8_t *payload, uint32_t cap)
{
	uint32_t used;
	int r = rx_get_len(f, h, payload, cap, &used);

	if (r)
		rx_fill(f);
	return r;
}

/* Pumps until a packet arrives (at most ms); 1 with it, 0 on timeout. */
static int rx_wait(struct fx *f, struct vsock_hdr *h, uint8_t *payload, uint32_t cap, int ms)
{
	for (int i = 0; i < ms; i++) {
		if (rx_get(f, h, payload, cap))
			return 1;
		virtio_vsock_poll(&f->v, 1);
	}
	return rx_get(f, h, payload, cap);
}

/* ---- host side helpers ---- */

static int unix_listen(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(a.sun_path))
		return -1;
	memcpy(a.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 256) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static int unix_connect(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 20 };
	int fd;

	if (strlen(path) >= sizeof(a.sun_path))
		return -1;
	memcpy(a.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return fd;
}

static void set_timeouts(int fd)
{
	struct timeval tv = { .tv_sec = 20 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static int write_all(int fd, const void *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w <= 0)
			return -1;
		p = (const uint8_t *)p + w;
		n -= (size_t)w;
	}
	return 0;
}

/* Reads a line up to '\n' (excluded) a byte at a time; length or -1. */
static int read_line(int fd, char *buf, size_t cap)
{
	size_t n = 0;

	while (n + 1 < cap) {
		char ch;

		if (read(fd, &ch, 1) != 1)
			return -1;
		if (ch == '\n') {
			buf[n] = '\0';
			return (int)n;
		}
		buf[n++] = ch;
	}
	return -1;
}

static uint64_t fnv(uint64_t h, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}

#define FNV0 0xcbf29ce484222325ULL

static void pattern(uint64_t seed, uint64_t off, uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)((off + i) * 131 + seed + ((off + i) >> 11));
}

/* ---- header, parser, table, buffer ---- */

TEST(header_layout)
{
	struct vsock_hdr h = { .src_cid = 0x0102030405060708ULL, .dst_cid = 2, .src_port = 0xaabbccdd,
			       .dst_port = 1234, .len = 77, .type = 1, .op = VSOCK_OP_RW,
			       .flags = 3, .buf_alloc = 0x40000, .fwd_cnt = 0x11223344 }, d;
	uint8_t b[HDR];

	vsock_hdr_encode(&h, b);
	CHECK_EQ_U64(b[0], 0x08);             /* little endian */
	CHECK_EQ_U64(b[7], 0x01);
	CHECK_EQ_U64(b[8], 2);
	CHECK_EQ_U64(b[16], 0xdd);
	CHECK_EQ_U64(b[20], 1234 & 0xff);
	CHECK_EQ_U64(b[24], 77);
	CHECK_EQ_U64(b[28], 1);               /* type */
	CHECK_EQ_U64(b[30], VSOCK_OP_RW);     /* op */
	CHECK_EQ_U64(b[32], 3);               /* flags */
	CHECK_EQ_U64(b[38], 4);               /* buf_alloc 0x00040000 */
	CHECK_EQ_U64(b[40], 0x44);            /* fwd_cnt */
	CHECK_EQ_U64(b[43], 0x11);
	vsock_hdr_decode(b, &d);
	CHECK_MEM_EQ(&d, &h, sizeof(h));
}

TEST(connect_line_parser)
{
	static const struct { const char *s; int ok; uint32_t port; } t[] = {
		{ "CONNECT 1234", 1, 1234 }, { "connect 5", 1, 5 }, { "CoNnEcT   42", 1, 42 },
		{ "CONNECT 4294967295", 1, 4294967295u }, { "CONNECT 80\r", 1, 80 },
		{ "CONNECT 4294967296", 0, 0 }, { "CONNECT", 0, 0 }, { "CONNECT ", 0, 0 },
		{ "CONNECT 12a", 0, 0 }, { "CONNECT -1", 0, 0 }, { "CONNEC 1", 0, 0 },
		{ "CONNECTX 1", 0, 0 }, { " CONNECT 1", 0, 0 }, { "CONNECT 1 ", 0, 0 },
		{ "CONNECT 00000000001", 0, 0 }, { "", 0, 0 }, { "OK 5", 0, 0 },
	};

	for (unsigned int i = 0; i < ARRAY_LEN(t); i++) {
		uint32_t port = 0;
		int r = vsock_parse_connect(t[i].s, strlen(t[i].s), &port);

		if (!CHECK_EQ_INT(r == 0, t[i].ok))
			FAIL("'%s'", t[i].s);
		if (t[i].ok)
			CHECK_EQ_U64(port, t[i].port);
	}
}

TEST(table_add_find_remove_and_port_allocation)
{
	static struct vsock_table t;
	static struct vsock_conn c[600];
	struct vsock_conn dup = { .local_port = 7, .peer_port = 7 };
	uint32_t p;

	vsock_table_init(&t);
	for (unsigned int i = 0; i < ARRAY_LEN(c); i++) {
		c[i].local_port = i % 7;
		c[i].peer_port = i;
		CHECK_EQ_INT(vsock_table_add(&t, &c[i]), 0);
	}
	CHECK_EQ_U64(t.count, ARRAY_LEN(c));
	dup.local_port = 7 % 7;
	CHECK_EQ_INT(vsock_table_add(&t, &dup), -EEXIST);
	for (unsigned int i = 0; i < ARRAY_LEN(c); i++)
		CHECK(vsock_table_find(&t, i % 7, i) == &c[i]);
	CHECK_NULL(vsock_table_find(&t, 1, 0));
	for (unsigned int i = 0; i < ARRAY_LEN(c); i += 2)
		vsock_table_remove(&t, &c[i]);
	CHECK_EQ_U64(t.count, ARRAY_LEN(c) / 2);
	CHECK_NULL(vsock_table_find(&t, 0, 0));
	CHECK(vsock_table_find(&t, 1, 1) == &c[1]);
	/* Host ports start high and skip pairs in use. */
	struct vsock_conn used = { .local_port = VSOCK_LOCAL_PORT_BASE, .peer_port = 99 };

	vsock_table_init(&t);
	CHECK_EQ_INT(vsock_table_add(&t, &used), 0);
	p = vsock_table_alloc_port(&t, 99);
	CHECK_EQ_U64(p, VSOCK_LOCAL_PORT_BASE + 1);
	CHECK_EQ_U64(vsock_table_alloc_port(&t, 98), VSOCK_LOCAL_PORT_BASE + 2);
}

TEST(conn_buffer_partial_writes_and_bound)
{
	struct vsock_conn c = { .fd = -1 };
	int sv[2];
	static uint8_t data[VSOCK_BUF_ALLOC], got[VSOCK_BUF_ALLOC];
	size_t have = 0;
	int sndbuf = 4096, r;

	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	c.fd = sv[0];
	pattern(1, 0, data, sizeof(data));
	CHECK_EQ_INT(vsock_conn_buf_put(&c, data, 1000), 0);
	CHECK_EQ_INT(vsock_conn_buf_put(&c, data + 1000, VSOCK_BUF_ALLOC - 1000), 0);
	CHECK_EQ_INT(vsock_conn_buf_put(&c, data, 1), -ENOSPC);   /* past buf_alloc */
	CHECK_EQ_U64(vsock_conn_room(&c), 0);
	c.ok_len = (uint8_t)snprintf(c.ok_line, sizeof(c.ok_line), "OK 9\n");
	r = vsock_conn_flush(&c);
	CHECK_EQ_INT(r, 1);                       /* the small socket buffer filled */
	CHECK(c.buf_len > 0);
	/* Drain the peer and flush again until done: order and content kept. */
	while (have < 5 + sizeof(data)) {
		static uint8_t tmp[65536];
		ssize_t n = read(sv[1], tmp, sizeof(tmp));

		if (n <= 0)
			break;
		if (have < 5) {
			size_t okn = (size_t)n < 5 - have ? (size_t)n : 5 - have;

			CHECK(memcmp(tmp, "OK 9\n" + have, okn) == 0);
			memcpy(got, tmp + okn, (size_t)n - okn);
			have += (size_t)n;
		} else {
			memcpy(got + have - 5, tmp, (size_t)n);
			have += (size_t)n;
		}
		r = vsock_conn_flush(&c);
		if (r < 0)
			break;
	}
	CHECK_EQ_INT(r, 0);
	CHECK_EQ_U64(have, 5 + sizeof(data));
	CHECK(memcmp(got, data, sizeof(data)) == 0);
	CHECK_EQ_U64(c.fwd_cnt, sizeof(data));   /* the OK line is not guest data */
	CHECK_NULL(c.buf);                        /* freed once empty */
	close(sv[1]);
	CHECK_EQ_INT(vsock_conn_buf_put(&c, data, 10), 0);
	CHECK_EQ_INT(vsock_conn_flush(&c), -EPIPE);
	vsock_conn_buf_free(&c);
	close(sv[0]);
}

TEST(ops_config_and_open_errors)
{
	struct fx f;
	struct virtio_vsock v2;
	uint8_t cfg[8];
	char longp[200];

	REQUIRE(fx_setup(&f) == 0);
	CHECK_EQ_U64(virtio_vsock_ops.device_id, 19);
	CHECK_EQ_U64(virtio_vsock_ops.num_queues, 3);
	CHECK_EQ_U64(virtio_vsock_ops.config_size, 8);
	virtio_vsock_ops.config_read(&f.v, 0, cfg, 8);
	CHECK_EQ_U64(cfg[0], CID);
	CHECK_EQ_U64(cfg[4], 0);
	CHECK_EQ_INT(virtio_vsock_open(&v2, 2, "/tmp/x"), -EINVAL);
	CHECK_STR_CONTAINS(err_msg(), "cid=2");
	CHECK_EQ_INT(virtio_vsock_open(&v2, 0xffffffffULL, "/tmp/x"), -EINVAL);
	CHECK_EQ_INT(virtio_vsock_open(&v2, 3, f.uds), -EADDRINUSE);    /* exists already */
	CHECK_STR_CONTAINS(err_msg(), "exists already");
	memset(longp, 'a', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = '\0';
	CHECK_EQ_INT(virtio_vsock_open(&v2, 3, longp), -EINVAL);
	CHECK_EQ_INT(virtio_vsock_open(&v2, 3, "/nonexistent-dir/x.sock"), -ENOENT);
	virtio_vsock_close(&v2);
	fx_teardown(&f);
	CHECK(access(f.uds, F_OK) < 0);   /* the socket file is removed at close */
}

/* ---- guest-initiated ---- */

TEST(guest_request_gets_response_and_unix_connection)
{
	struct fx f;
	struct vsock_hdr h;
	char path[160];
	int lfd, afd;

	REQUIRE(fx_setup(&f) == 0);
	rx_fill(&f);
	snprintf(path, sizeof(path), "%s_5000", f.uds);
	lfd = unix_listen(path);
	REQUIRE(lfd >= 0);
	tx_op(&f, 40000, 5000, VSOCK_OP_REQUEST, 0);
	REQUIRE(rx_wait(&f, &h, NULL, 0, 100) == 1);
	CHECK_EQ_U64(h.op, VSOCK_OP_RESPONSE);
	CHECK_EQ_U64(h.src_cid, VSOCK_HOST_CID);
	CHECK_EQ_U64(h.dst_cid, CID);
	CHECK_EQ_U64(h.src_port, 5000);
	CHECK_EQ_U64(h.dst_port, 40000);
	CHECK_EQ_U64(h.type, VSOCK_TYPE_STREAM);
	CHECK_EQ_U64(h.buf_alloc, VSOCK_BUF_ALLOC);
	CHECK_EQ_U64(h.len, 0);
	afd = accept(lfd, NULL, NULL);
	CHECK(afd >= 0);
	CHECK_EQ_U64(f.v.table.count, 1);
	/* A second REQUEST on the same ports is a protocol error: reset. */
	tx_op(&f, 40000, 5000, VSOCK_OP_REQUEST, 0);
	REQUIRE(rx_wait(&f, &h, NULL, 0, 100) == 1);
	CHECK_EQ_U64(h.op, VSOCK_OP_RST);
	CHECK_EQ_U64(f.v.nconns, 0);
	close(afd);
	close(lfd);
	fx_teardown(&f);
}

TEST(guest_request_without_listener_gets_rst)
{
	struct fx f;
	struct vsock_hdr h;

	REQUIRE(fx_setup(&f) == 0);
	rx_fill(&f);
	tx_op(&f, 40001, 5001, VSOCK_OP_REQUEST, 0);
	REQUIRE(rx_wait(&f, &h, NULL, 0, 100) == 1);
	CHECK_EQ_U64(h.op, VSOCK_OP_RST);
	CHECK_EQ_U64(h.src_port, 5001);
	CHECK_EQ_U64(h.dst_port, 40001);
	CHECK_EQ_U64(h.dst_cid, CID);
	CHECK_EQ_U64(f.v.nconns, 0);
	/* An RST for an unknown connection is never answered. */
	tx_op(&f, 40001, 5001, VSOCK_OP_RST, 0);
	pump(&f);
	CHECK_EQ_INT(rx_get(&f, &h, NULL, 0), 0);
	fx_teardown(&f);
}

/* ---- host-initiated ---- */

/* Connects a host client asking for guest port; returns the fd, or -1. */
static int host_client(struct fx *f, const char *line)
{
	int fd = unix_connect(f->uds);

	if (fd >= 0 && write_all(fd, line, strlen(line)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

TEST(host_connect_ok_handshake_and_refusal)
{
	struct fx f;
	struct vsock_hdr h;
	char line[64];
	int fd, fd2;
	uint8_t b[16];

	REQUIRE(fx_setup(&f) == 0);
	rx_fill(&f);
	fd = host_client(&f, "connect 1234\n");
	REQUIRE(fd >= 0);
	REQUIRE(rx_wait(&f, &h, NULL, 0, 200) == 1);
	CHECK_EQ_U64(h.op, VSOCK_OP_REQUEST);
	CHECK_EQ_U64(h.src_cid, VSOCK_HOST_CID);
	CHECK_EQ_U64(h.dst_cid, CID);
	CHECK_EQ_U64(h.dst_port, 1234);
	CHECK(h.src_port >= VSOCK_LOCAL_PORT_BASE);
	tx_op(&f, 1234, h.src_port, VSOCK_OP_RESPONSE, 0);
	pump(&f);
	REQUIRE(read_line(fd, line, sizeof(line)) > 0);
	{
		char want[32];

		snprintf(want, sizeof(want), "OK %u", h.src_port);
		CHECK_STR_EQ(line, want);
	}
	/* The guest refuses the second one: the Unix socket closes. */
	fd2 = host_client(&f, "CONNECT 99\n");
	REQUIRE(fd2 >= 0);
	REQUIRE(rx_wait(&f, &h, NULL, 0, 200) == 1);
	CHECK_EQ_U64(h.op, VSOCK_OP_REQUEST);
	CHECK_EQ_U64(h.dst_port, 99);
	tx_op(&f, 99, h.src_port, VSOCK_OP_RST, 0);
	pump(&f);
	CHECK_EQ_INT(read(fd2, b, sizeof(b)), 0);  /* EOF, no OK */
	close(fd2);
	CHECK_EQ_U64(f.v.nconns, 1);
	close(fd);
	fx_teardown(&f);
}

TEST(host_bad_lines_close_the_client)
{
	static const char *const bad[] = {
		"HELLO 12\n", "CONNECT\n", "CONNECT 99999999999\n",
		"CONNECT 1111111111111111111111111111111111111111\n",   /* past the line limit */
	};
	struct fx f;
	struct vsock_hdr h;

	REQUIRE(fx_setup(&f) == 0);
	rx_fill(&f);
	for (unsigned int i = 0; i < ARRAY_LEN(bad); i++) {
		uint8_t b[8];
		int fd = host_client(&f, bad[i]);

		REQUIRE(fd >= 0);
		for (int k = 0; k < 50; k++)
			virtio_vsock_poll(&f.v, 1);
		/* EOF, or ECONNRESET when the device closed with the line's tail unread. */
		ssize_t n = read(fd, b, sizeof(b));

		if (!CHECK(n == 0 || (n < 0 && errno == ECONNRESET)))
			FAIL("line %u not refused (read %zd)", i, n);
		close(fd);
	}
	CHECK_EQ_INT(rx_get(&f, &h, NULL, 0), 0);  /* no REQUEST reached the guest */
	CHECK_EQ_U64(f.v.nconns, 0);
	fx_teardown(&f);
}

/* ---- data relay with checksums ---- */

struct host_side {
	int fd;
	uint64_t send_bytes, sent_hash, seed;
	uint64_t recv_bytes, recv_hash;
	int failed;
};

static void *host_writer(void *arg)
{
	struct host_side *s = arg;
	static __thread uint8_t buf[65536];
	uint64_t off = 0, seed = 12345;

	s->sent_hash = FNV0;
	while (off < s->send_bytes) {
		size_t n = (size_t)(s->send_bytes - off < 4099 + (seed % 30000) ?
				    s->send_bytes - off : 4099 + (seed % 30000));

		seed = seed * 6364136223846793005ULL + 1;
		pattern(s->seed, off, buf, n);
		s->sent_hash = fnv(s->sent_hash, buf, n);
		if (write_all(s->fd, buf, n) < 0) {
			s->failed = 1;
			break;
		}
		off += n;
	}
	shutdown(s->fd, SHUT_WR);
	return NULL;
}

static void *host_reader(void *arg)
{
	struct host_side *s = arg;
	static __thread uint8_t buf[65536];

	s->recv_hash = FNV0;
	for (;;) {
		ssize_t n = read(s->fd, buf, sizeof(buf));

		if (n == 0)
			break;
		if (n < 0) {
			s->failed = 2;
			break;
		}
		s->recv_hash = fnv(s->recv_hash, buf, (size_t)n);
		s->recv_bytes += (uint64_t)n;
	}
	return NULL;
}

/* The guest end of one connection. */
struct gconn {
	uint32_t gport, hport;
	uint32_t buf_alloc, fwd_cnt, announced;   /* guest receive side */
	uint32_t seen;                            /* announced, as of the last poll */
	uint64_t rx_bytes, rx_hash;
	uint32_t tx_cnt, host_buf_alloc, host_fwd_cnt;
	uint64_t tx_total, tx_goal, tx_hash, tx_seed;
	bool host_shut, sent_shut, got_rst;
	unsigned int credit_violations, bad_buf_alloc;
};

static void g_send(struct fx *f, struct gconn *g, uint16_t op, uint32_t flags, const void *p,
		   uint32_t len)
{
	struct vsock_hdr h = ghdr(g->gport, g->hport, op);

	h.flags = flags;
	h.len = len;
	h.buf_alloc = g->buf_alloc;
	h.fwd_cnt = g->fwd_cnt;
	g->announced = g->fwd_cnt;
	tx_pkt(f, &h, p);
}

/* Handles one packet for g. */
static void g_recv(struct fx *f, struct gconn *g, const struct vsock_hdr *h, const uint8_t *p)
{
	g->host_buf_alloc = h->buf_alloc;
	g->host_fwd_cnt = h->fwd_cnt;
	if (h->buf_alloc != VSOCK_BUF_ALLOC)
		g->bad_buf_alloc++;
	switch (h->op) {
	case VSOCK_OP_RW:
		/* In flight past the consumption the device had seen when it sent this: never
		 * above the guest's buf_alloc. */
		if ((uint32_t)(g->rx_bytes + h->len) - g->seen > g->buf_alloc)
			g->credit_violations++;
		g->rx_hash = fnv(g->rx_hash, p, h->len);
		g->rx_bytes += h->len;
		g->fwd_cnt += h->len;   /* consumed at once, announced lazily */
		if (g->fwd_cnt - g->announced >= g->buf_alloc / 2)
			g_send(f, g, VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0);
		break;
	case VSOCK_OP_CREDIT_REQUEST:
		g_send(f, g, VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0);
		break;
	case VSOCK_OP_SHUTDOWN:
		if (h->flags & VSOCK_SHUTDOWN_SEND)
			g->host_shut = true;
		break;
	case VSOCK_OP_RST:
		g->got_rst = true;
		break;
	default:
		break;
	}
}

/* Sends what the host's credit allows of the guest's stream, in packets of varied size. */
static void g_push(struct fx *f, struct gconn *g)
{
	static uint8_t buf[VSOCK_MAX_PKT];

	while (g->tx_total < g->tx_goal) {
		uint32_t in_flight = g->tx_cnt - g->host_fwd_cnt;
		uint32_t credit = in_flight > g->host_buf_alloc ? 0 : g->host_buf_alloc - in_flight;
		uint64_t n = g->tx_goal - g->tx_total;
		uint32_t want = 1000 + (uint32_t)((g->tx_total * 7) % 60000);

		if (n > want)
			n = want;
		if (n > credit)
			n = credit;
		if (n == 0)
			return;
		pattern(g->tx_seed, g->tx_total, buf, (size_t)n);
		g->tx_hash = fnv(g->tx_hash, buf, (size_t)n);
		g_send(f, g, VSOCK_OP_RW, 0, buf, (uint32_t)n);
		g->tx_cnt += (uint32_t)n;
		g->tx_total += n;
	}
	if (!g->sent_shut) {
		g_send(f, g, VSOCK_OP_SHUTDOWN, VSOCK_SHUTDOWN_SEND, NULL, 0);
		g->sent_shut = true;
	}
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs the guest side of g until both directions ended (or 60 s). */
static void g_run(struct fx *f, struct gconn *g)
{
	static uint8_t p[VSOCK_MAX_PKT];
	double end = now_s() + 60;

	while (now_s() < end && !(g->host_shut && g->sent_shut) && !g->got_rst) {
		struct vsock_hdr h;

		g_push(f, g);
		g->seen = g->announced;
		virtio_vsock_poll(&f->v, 1);
		while (rx_get(f, &h, p, sizeof(p))) {
			if (h.src_port == g->hport && h.dst_port == g->gport)
				g_recv(f, g, &h, p);
		}
	}
}

/* Relays send_host bytes host->guest and send_guest bytes guest->host on one connection
 * whose Unix end is fd, then closes from the guest side. */
static void relay_check(struct fx *f, struct gconn *g, int fd, uint64_t send_host,
			uint64_t send_guest)
{
	struct host_side hs = { .fd = fd, .send_bytes = send_host, .seed = 77 };
	pthread_t wt, rt;
	struct vsock_hdr h;

	g->rx_hash = FNV0;
	g->tx_hash = FNV0;
	g->tx_goal = send_guest;
	g->tx_seed = 99;
	set_timeouts(fd);
	REQUIRE(pthread_create(&wt, NULL, host_writer, &hs) == 0);
	REQUIRE(pthread_create(&rt, NULL, host_reader, &hs) == 0);
	usleep(100 * 1000);   /* let the writer fill the socket: more than the guest's credit */
	g_run(f, g);
	/* Guest closes: SHUTDOWN both ways, the device answers RST once flushed. */
	g_send(f, g, VSOCK_OP_SHUTDOWN, VSOCK_SHUTDOWN_RCV | VSOCK_SHUTDOWN_SEND, NULL, 0);
	for (int i = 0; i < 5000 && !g->got_rst; i++) {
		virtio_vsock_poll(&f->v, 1);
		while (rx_get(f, &h, NULL, 0))
			if (h.op == VSOCK_OP_RST && h.dst_port == g->gport)
				g->got_rst = true;
	}
	pthread_join(wt, NULL);
	pthread_join(rt, NULL);
	CHECK_EQ_INT(hs.failed, 0);
	CHECK(g->host_shut);
	CHECK(g->got_rst);
	CHECK_EQ_U64(g->rx_bytes, send_host);
	CHECK_EQ_U64(g->rx_hash, hs.sent_hash);
	CHECK_EQ_U64(hs.recv_bytes, send_guest);
	CHECK_EQ_U64(hs.recv_hash, g->tx_hash);
	CHECK_EQ_U64(g->credit_violations, 0);
	CHECK_EQ_U64(g->bad_buf_alloc, 0);
	CHECK_EQ_U64(f->v.nconns, 0);
}

TEST(relay_host_initiated_several_mib_both_ways)
{
	struct fx f;
	struct gconn g = { .buf_alloc = 64 * 1024 };   /* small: the device must wait for credit */
	struct vsock_hdr h;
	char line[64], want[64];
	int fd;

	REQUIRE(fx_setup(&f) == 0);
	rx_fill(&f);
	fd = host_client(&f, "CONNECT 7000\n");
	REQUIRE(fd >= 0);
	REQUIRE(rx_wait(&f, &h, NULL, 0, 200) == 1);
	REQUIRE(h.op == VSOCK_OP_REQUEST);
	g.gport = 7000;
	g.hport = h.src_port;
	g.host_buf_alloc = h.buf_alloc;
	g_send(&f, &g, VSOCK_OP_RESPONSE, 0, NULL, 0);
	pump(&f);
	REQUIRE(read_line(fd, line, sizeof(line)) > 0);
	snprintf(want, sizeof(want), "OK %u", g.hport);
	CHECK_STR_EQ(line, want);
	relay_check(&f, &g, fd, 6u << 20, 5u << 20);
	close(fd);
	fx_teardown(&f);
}

struct acceptor {
	int lfd, fd;
};

static void *accept_one(void *arg)
{
	struct acceptor *a = arg;

	a->fd = accept(a->lfd, NULL, NULL);
	return NULL;
}

TEST(relay_guest_initiated_several_mib_both_ways)
{
	struct fx f;
	struct gconn g = { .gport = 50000, .hport = 5002, .buf_alloc = 128 * 1024 };
	struct vsock_hdr h;
	struct acceptor a;
	char path[160];
	pthread_t t;

	REQUIRE(fx_setup(&f) == 0);
	rx_fill(&f);
	snprintf(path, sizeof(path), "%s_5002", f.uds);
	a.lfd = unix_listen(path);
	REQUIRE(a.lfd >= 0);
	REQUIRE(pthread_create(&t, NULL, accept_one, &a) == 0);
	g_send(&f, &g, VSOCK_OP_REQUEST, 0, NULL, 0);
	REQUIRE(rx_wait(&f, &h, NULL, 0, 200) == 1);
	CHECK_EQ_U64(h.op, VSOCK_OP_RESPONSE);
	g.host_buf_alloc = h.buf_alloc;
	g.host_fwd_cnt = h.fwd_cnt;
	pthread_join(t, NULL);
	REQUIRE(a.fd >= 0);
	relay_check(&f, &g, a.fd, 3u << 20, 7u << 20);
	close(a.fd);
	close(a.lfd);
	fx_teardown(&f);
}

/* A Unix peer that reads nothing: the device buffers at most its buf_alloc, tells the
 * guest no more credit, and a guest that ignores that is reset. */
TEST(slow_unix_peer_backpressure_and_credit_violation)
{
	struct fx f;
	struct gconn g = { .gport = 50001, .hport = 5003, .buf_alloc = 65536 };
	struct vsock_hdr h;
	struct acceptor a;
	char path[160];
	pthread_t t;
	static uint8_t chunk[32768];
	uint64_t sent = 0;
	bool rst = false;

	REQUIRE(fx_setup(&f) == 0);
	rx_fill(&f);
	snprintf(path, sizeof(path), "%s_5003", f.uds);
	a.lfd = unix_listen(path);
	REQUIRE(a.lfd >= 0);
	REQUIRE(pthread_create(&t, NULL, accept_one, &a) == 0);
	g_send(&f, &g, VSOCK_OP_REQUEST, 0, NULL, 0);
	REQUIRE(rx_wait(&f, &h, NULL, 0, 200) == 1);
	REQUIRE(h.op == VSOCK_OP_RESPONSE);
	pthread_join(t, NULL);
	REQUIRE(a.fd >= 0);
	/* Ignore credit: push until reset. At most socket buffer + buf_alloc get in. */
	memset(chunk, 0x5a, sizeof(chunk));
	for (int i = 0; i < 2000 && !rst; i++) {
		g_send(&f, &g, VSOCK_OP_RW, 0, chunk, sizeof(chunk));
		sent += sizeof(chunk);
		pump(&f);
		while (rx_get(&f, &h, NULL, 0)) {
			if (h.op == VSOCK_OP_RST)
				rst = true;
			else if (h.op == VSOCK_OP_CREDIT_UPDATE || h.op == VSOCK_OP_RW)
				CHECK(h.buf_alloc == VSOCK_BUF_ALLOC);
		}
	}
	CHECK(rst);
	CHECK(sent > VSOCK_BUF_ALLOC);
	CHECK(sent < 64u << 20);
	CHECK_EQ_U64(f.v.nconns, 0);
	{
		/* The peer sees the bytes the device took, then EOF (the socket closed). */
		static uint8_t b[65536];
		uint64_t got = 0;
		ssize_t n;

		set_timeouts(a.fd);
		while ((n = read(a.fd, b, sizeof(b))) > 0)
			got += (uint64_t)n;
		CHECK_EQ_INT(n, 0);
		CHECK(got >= VSOCK_BUF_ALLOC / 2);
		CHECK(got < sent);
	}
	close(a.fd);
	close(a.lfd);
	fx_teardown(&f);
}

TEST(half_close_both_directions)
{
	struct fx f;
	struct vsock_hdr h;
	struct acceptor a;
	char path[160];
	pthread_t t;
	uint8_t b[64];
	bool shut = false, rst = false;

	REQUIRE(fx_setup(&f) == 0);
	rx_fill(&f);
	snprintf(path, sizeof(path), "%s_5004", f.uds);
	a.lfd = unix_listen(path);
	REQUIRE(a.lfd >= 0);
	REQUIRE(pthread_create(&t, NULL, accept_one, &a) == 0);
	tx_op(&f, 41000, 5004, VSOCK_OP_REQUEST, 0);
	REQUIRE(rx_wait(&f, &h, NULL, 0, 200) == 1);
	REQUIRE(h.op == VSOCK_OP_RESPONSE);
	pthread_join(t, NULL);
	REQUIRE(a.fd >= 0);
	set_timeouts(a.fd);
	/* Guest SHUTDOWN SEND: the peer reads EOF but can still write. */
	{
		struct vsock_hdr d = ghdr(41000, 5004, VSOCK_OP_RW);

		d.len = 5;
		tx_pkt(&f, &d, "hello");
	}
	tx_op(&f, 41000, 5004, VSOCK_OP_SHUTDOWN, VSOCK_SHUTDOWN_SEND);
	pump(&f);
	CHECK_EQ_INT(read(a.fd, b, sizeof(b)), 5);
	CHECK_EQ_INT(read(a.fd, b, sizeof(b)), 0);
	CHECK_EQ_INT(write(a.fd, "back", 4), 4);
	close(a.fd);   /* the peer hangs up: data, then SHUTDOWN from the host */
	{
		uint8_t p[64];

		for (int i = 0; i < 500 && !shut; i++) {
			if (!rx_get(&f, &h, p, sizeof(p))) {
				virtio_vsock_poll(&f.v, 1);
				continue;
			}
			if (h.op == VSOCK_OP_RW) {
				CHECK_EQ_U64(h.len, 4);
				CHECK(memcmp(p, "back", 4) == 0);
			} else if (h.op == VSOCK_OP_SHUTDOWN) {
				shut = true;
				CHECK(h.flags & VSOCK_SHUTDOWN_SEND);
			}
		}
	}
	CHECK(shut);
	tx_op(&f, 41000, 5004, VSOCK_OP_SHUTDOWN, VSOCK_SHUTDOWN_RCV | VSOCK_SHUTDOWN_SEND);
	pump(&f);
	while (rx_get(&f, &h, NULL, 0))
		if (h.op == VSOCK_OP_RST)
			rst = true;
	CHECK(rst);
	CHECK_EQ_U64(f.v.nconns, 0);
	close(a.lfd);
	fx_teardown(&f);
}

/* ---- malformed input ---- */

/* Everything in the rx used ring: how many packets, and the last header. */
static unsigned int rx_drain(struct fx *f, struct vsock_hdr *last)
{
	struct vsock_hdr h;
	unsigned int n = 0;

	while (rx_get(f, &h, NULL, 0)) {
		*last = h;
		n++;
	}
	return n;
}

/* An established guest-initiated connection on port lport (listener at <uds>_lport). */
static int establish(struct fx *f, uint32_t gport, uint32_t lport, int *lfd, int *afd)
{
	struct vsock_hdr h;
	char path[160];

	snprintf(path, sizeof(path), "%s_%u", f->uds, lport);
	*lfd = unix_listen(path);
	if (*lfd < 0)
		return -1;
	tx_op(f, gport, lport, VSOCK_OP_REQUEST, 0);
	if (rx_wait(f, &h, NULL, 0, 200) != 1 || h.op != VSOCK_OP_RESPONSE)
		return -1;
	*afd = accept(*lfd, NULL, NULL);
	return *afd >= 0 ? 0 : -1;
}

TEST(malformed_tx_packets_are_dropped_or_reset)
{
	struct fx f;
	struct vsock_hdr h, last;
	uint8_t raw[HDR + 16];
	int lfd, afd;

	REQUIRE(fx_setup(&f) == 0);
	rx_fill(&f);
	/* Shorter than a header: dropped, nothing to answer. */
	memset(raw, 0, sizeof(raw));
	tx_raw(&f, raw, 20, false);
	pump(&f);
	CHECK_EQ_U64(f.v.tx_dropped, 1);
	CHECK_EQ_INT(rx_drain(&f, &last), 0);
	/* Not from this guest's CID, or not for the host: dropped silently. */
	h = ghdr(1, 5000, VSOCK_OP_REQUEST);
	h.src_cid = 4;
	tx_pkt(&f, &h, NULL);
	h = ghdr(1, 5000, VSOCK_OP_REQUEST);
	h.dst_cid = 7;
	tx_pkt(&f, &h, NULL);
	pump(&f);
	CHECK_EQ_U64(f.v.tx_dropped, 3);
	CHECK_EQ_INT(rx_drain(&f, &last), 0);
	/* len beyond the buffer, unknown op, SEQPACKET, data for nobody: RST each. */
	h = ghdr(2, 5000, VSOCK_OP_RW);
	h.len = 100;
	vsock_hdr_encode(&h, raw);
	tx_raw(&f, raw, HDR + 10, false);
	tx_op(&f, 3, 5000, 99, 0);
	h = ghdr(4, 5000, VSOCK_OP_REQUEST);
	h.type = 2;
	tx_pkt(&f, &h, NULL);
	tx_op(&f, 5, 5000, VSOCK_OP_CREDIT_REQUEST, 0);
	pump(&f);
	{
		unsigned int n = 0;

		while (rx_get(&f, &h, NULL, 0)) {
			CHECK_EQ_U64(h.op, VSOCK_OP_RST);
			CHECK_EQ_U64(h.dst_port, 2 + n);
			CHECK_EQ_U64(h.src_port, 5000);
			n++;
		}
		CHECK_EQ_U64(n, 4);
	}
	/* On a live connection: an unknown op resets it and closes the Unix socket. */
	REQUIRE(establish(&f, 300, 5005, &lfd, &afd) == 0);
	CHECK_EQ_U64(f.v.nconns, 1);
	tx_op(&f, 300, 5005, 42, 0);
	pump(&f);
	CHECK_EQ_INT(rx_drain(&f, &last), 1);
	CHECK_EQ_U64(last.op, VSOCK_OP_RST);
	CHECK_EQ_U64(f.v.nconns, 0);
	{
		uint8_t b[4];

		set_timeouts(afd);
		CHECK_EQ_INT(read(afd, b, sizeof(b)), 0);
	}
	close(afd);
	close(lfd);
	fx_teardown(&f);
}

TEST(malformed_len_on_a_connection_and_data_after_shutdown_reset_it)
{
	struct fx f;
	struct vsock_hdr h, last;
	uint8_t raw[HDR + 16];
	int lfd, afd, lfd2, afd2;

	REQUIRE(fx_setup(&f) == 0);
	rx_fill(&f);
	REQUIRE(establish(&f, 301, 5006, &lfd, &afd) == 0);
	h = ghdr(301, 5006, VSOCK_OP_RW);
	h.len = 1000;                      /* only 16 bytes follow */
	vsock_hdr_encode(&h, raw);
	tx_raw(&f, raw, sizeof(raw), true);
	pump(&f);
	CHECK_EQ_INT(rx_drain(&f, &last), 1);
	CHECK_EQ_U64(last.op, VSOCK_OP_RST);
	CHECK_EQ_U64(f.v.nconns, 0);
	REQUIRE(establish(&f, 302, 5007, &lfd2, &afd2) == 0);
	tx_op(&f, 302, 5007, VSOCK_OP_SHUTDOWN, VSOCK_SHUTDOWN_SEND);
	h = ghdr(302, 5007, VSOCK_OP_RW);
	h.len = 3;
	tx_pkt(&f, &h, "abc");
	pump(&f);
	CHECK_EQ_INT(rx_drain(&f, &last), 1);
	CHECK_EQ_U64(last.op, VSOCK_OP_RST);
	CHECK_EQ_U64(f.v.nconns, 0);
	close(afd);
	close(lfd);
	close(afd2);
	close(lfd2);
	fx_teardown(&f);
}

TEST(unusable_rx_buffers_are_returned_empty)
{
	struct fx f;
	struct vsock_hdr h;
	uint32_t used;
	uint64_t ro = RX_BUF;   /* slot 0 */

	REQUIRE(fx_setup(&f) == 0);
	memset(f.ram + ro, 0xab, 64);
	rx_post_one(&f, HDR + 100, 0);                      /* read-only */
	rx_post_one(&f, 20, VRING_DESC_F_WRITE);            /* shorter than a header */
	rx_post_one(&f, HDR + 100, VRING_DESC_F_WRITE);     /* fine */
	tx_op(&f, 7, 5009, VSOCK_OP_REQUEST, 0);            /* nobody listens: an RST */
	pump(&f);
	REQUIRE(rx_get_len(&f, &h, NULL, 0, &used) == 1);
	CHECK_EQ_U64(used, 0);
	CHECK_EQ_U64(f.ram[ro], 0xab);                      /* untouched */
	CHECK_EQ_U64(f.ram[ro + 63], 0xab);
	REQUIRE(rx_get_len(&f, &h, NULL, 0, &used) == 1);
	CHECK_EQ_U64(used, 0);
	REQUIRE(rx_get_len(&f, &h, NULL, 0, &used) == 1);
	CHECK_EQ_U64(used, HDR);
	CHECK_EQ_U64(h.op, VSOCK_OP_RST);
	CHECK_EQ_U64(f.v.rx_dropped, 2);
	fx_teardown(&f);
}

TEST(no_rx_buffers_bounds_the_stray_rst_queue)
{
	struct fx f;
	struct vsock_hdr last;

	REQUIRE(fx_setup(&f) == 0);
	for (uint32_t i = 0; i < 200; i++) {
		tx_op(&f, 1000 + i, 5008, VSOCK_OP_RW, 0);
		if (i % 16 == 15)
			pump(&f);
	}
	pump(&f);
	CHECK_EQ_U64(f.v.rst_count, VSOCK_RST_QUEUE);
	CHECK_EQ_U64(f.v.rx_dropped, 200 - VSOCK_RST_QUEUE);
	rx_fill(&f);
	pump(&f);
	CHECK_EQ_INT(rx_drain(&f, &last), VSOCK_RST_QUEUE);
	pump(&f);
	CHECK_EQ_INT(rx_drain(&f, &last), 0);
	fx_teardown(&f);
}

TEST(tx_descriptor_outside_guest_ram_needs_reset)
{
	struct fx f;

	REQUIRE(fx_setup(&f) == 0);
	f.v.mmio.status = VIRTIO_STATUS_DRIVER_OK;
	desc(&f, &f.tx, 0, RAM - 8, 64, 0, 0);
	publish(&f, &f.tx, 0);
	pump(&f);
	CHECK(f.v.mmio.status & VIRTIO_STATUS_NEEDS_RESET);
	CHECK(f.v.mmio.queues[VSOCK_TXQ].broken);
	CHECK_EQ_U64(f.v.nconns, 0);
	fx_teardown(&f);
}

/* ---- many connections ---- */

#define NCONC 100

struct echo_srv {
	int lfd;
	unsigned int want;
	unsigned int accepted, closed;
};

/* Accepts want connections and echoes everything back until each one closes. */
static void *echo_thread(void *arg)
{
	struct echo_srv *s = arg;
	struct pollfd p[NCONC + 1];
	unsigned int n = 1;
	static uint8_t buf[8192];

	p[0] = (struct pollfd){ .fd = s->lfd, .events = POLLIN };
	while (s->closed < s->want) {
		int r = poll(p, n, 20000);

		if (r <= 0)
			break;
		if ((p[0].revents & POLLIN) && s->accepted < s->want) {
			int fd = accept(s->lfd, NULL, NULL);

			if (fd >= 0) {
				p[n++] = (struct pollfd){ .fd = fd, .events = POLLIN };
				s->accepted++;
			}
		}
		for (unsigned int i = 1; i < n; i++) {
			ssize_t k;

			if (p[i].fd < 0 || !p[i].revents)
				continue;
			k = read(p[i].fd, buf, sizeof(buf));
			if (k <= 0) {
				close(p[i].fd);
				p[i].fd = -1;
				s->closed++;
				continue;
			}
			if (write_all(p[i].fd, buf, (size_t)k) < 0) {
				close(p[i].fd);
				p[i].fd = -1;
				s->closed++;
			}
		}
	}
	for (unsigned int i = 1; i < n; i++)
		if (p[i].fd >= 0)
			close(p[i].fd);
	return NULL;
}

TEST(many_guest_connections_at_once_with_echo)
{
	static struct gconn g[NCONC];
	static uint8_t buf[8192], p[VSOCK_MAX_PKT];
	struct fx f;
	struct echo_srv s = { .want = NCONC };
	char path[160];
	pthread_t t;
	unsigned int responses = 0, done = 0, peak;
	uint64_t want_hash[NCONC];
	double end;

	REQUIRE(fx_setup(&f) == 0);
	rx_fill(&f);
	snprintf(path, sizeof(path), "%s_5005", f.uds);
	s.lfd = unix_listen(path);
	REQUIRE(s.lfd >= 0);
	REQUIRE(pthread_create(&t, NULL, echo_thread, &s) == 0);
	for (unsigned int i = 0; i < NCONC; i++) {
		g[i] = (struct gconn){ .gport = 60000 + i, .hport = 5005, .buf_alloc = 65536,
				       .rx_hash = FNV0 };
		g_send(&f, &g[i], VSOCK_OP_REQUEST, 0, NULL, 0);
		if (i % 16 == 15)
			pump(&f);
	}
	end = now_s() + 30;
	while (responses < NCONC && now_s() < end) {
		struct vsock_hdr h;

		virtio_vsock_poll(&f.v, 1);
		while (rx_get(&f, &h, NULL, 0))
			if (h.op == VSOCK_OP_RESPONSE && h.dst_port - 60000 < NCONC) {
				g[h.dst_port - 60000].host_buf_alloc = h.buf_alloc;
				responses++;
			}
	}
	CHECK_EQ_U64(responses, NCONC);
	peak = f.v.nconns;
	CHECK_EQ_U64(peak, NCONC);
	/* A different message on each, echoed back through the same connection. */
	for (unsigned int i = 0; i < NCONC; i++) {
		uint32_t len = 2000 + 37 * i;

		pattern(i, 0, buf, len);
		want_hash[i] = fnv(FNV0, buf, len);
		g[i].tx_goal = len;
		g_send(&f, &g[i], VSOCK_OP_RW, 0, buf, len);
		if (i % 16 == 15)
			pump(&f);
	}
	while (done < NCONC && now_s() < end) {
		struct vsock_hdr h;

		virtio_vsock_poll(&f.v, 1);
		while (rx_get(&f, &h, p, sizeof(p))) {
			struct gconn *c;

			if (h.dst_port - 60000 >= NCONC || h.op != VSOCK_OP_RW)
				continue;
			c = &g[h.dst_port - 60000];
			g_recv(&f, c, &h, p);
			if (c->rx_bytes == c->tx_goal)
				done++;
		}
	}
	CHECK_EQ_U64(done, NCONC);
	for (unsigned int i = 0; i < NCONC; i++) {
		if (!CHECK_EQ_U64(g[i].rx_hash, want_hash[i]))
			FAIL("connection %u echoed other bytes", i);
		g_send(&f, &g[i], VSOCK_OP_SHUTDOWN, VSOCK_SHUTDOWN_RCV | VSOCK_SHUTDOWN_SEND, NULL, 0);
		if (i % 16 == 15)
			pump(&f);
	}
	for (int i = 0; i < 200 && f.v.nconns; i++) {
		struct vsock_hdr h;

		virtio_vsock_poll(&f.v, 1);
		while (rx_get(&f, &h, NULL, 0))
			;
	}
	CHECK_EQ_U64(f.v.nconns, 0);
	pthread_join(t, NULL);
	CHECK_EQ_U64(s.accepted, NCONC);
	CHECK_EQ_U64(s.closed, NCONC);
	close(s.lfd);
	fx_teardown(&f);
}

#define NHOST 70

TEST(many_host_clients_at_once)
{
	static int fds[NHOST];
	static uint32_t hport[NHOST];
	struct fx f;
	unsigned int requests = 0, got = 0, shut = 0;
	double end;

	REQUIRE(fx_setup(&f) == 0);
	rx_fill(&f);
	for (unsigned int i = 0; i < NHOST; i++) {
		char line[32];

		snprintf(line, sizeof(line), "CONNECT %u\n", 8000 + i);
		fds[i] = host_client(&f, line);
		REQUIRE(fds[i] >= 0);
		if (i % 8 == 7)
			pump(&f);
	}
	end = now_s() + 30;
	while (requests < NHOST && now_s() < end) {
		struct vsock_hdr h;

		virtio_vsock_poll(&f.v, 1);
		while (rx_get(&f, &h, NULL, 0)) {
			if (h.op != VSOCK_OP_REQUEST || h.dst_port - 8000 >= NHOST)
				continue;
			hport[h.dst_port - 8000] = h.src_port;
			tx_op(&f, h.dst_port, h.src_port, VSOCK_OP_RESPONSE, 0);
			requests++;
		}
	}
	CHECK_EQ_U64(requests, NHOST);
	pump(&f);
	for (unsigned int i = 0; i < NHOST; i++) {
		char line[32], want[32], msg[32];

		snprintf(want, sizeof(want), "OK %u", hport[i]);
		if (read_line(fds[i], line, sizeof(line)) < 0 || strcmp(line, want))
			FAIL("client %u: no '%s'", i, want);
		snprintf(msg, sizeof(msg), "client %u", i);
		CHECK_EQ_INT(write_all(fds[i], msg, strlen(msg)), 0);
		close(fds[i]);   /* then hang up */
	}
	while ((got < NHOST || shut < NHOST) && now_s() < end) {
		struct vsock_hdr h;
		uint8_t p[64];

		virtio_vsock_poll(&f.v, 1);
		while (rx_get(&f, &h, p, sizeof(p))) {
			unsigned int i = h.dst_port - 8000;
			char msg[32];

			if (i >= NHOST || h.src_port != hport[i])
				continue;
			if (h.op == VSOCK_OP_RW) {
				snprintf(msg, sizeof(msg), "client %u", i);
				CHECK(h.len == strlen(msg) && memcmp(p, msg, h.len) == 0);
				got++;
			} else if (h.op == VSOCK_OP_SHUTDOWN) {
				/* The peer hung up: it neither sends nor receives any more. */
				CHECK_EQ_U64(h.flags, VSOCK_SHUTDOWN_RCV | VSOCK_SHUTDOWN_SEND);
				shut++;
				tx_op(&f, h.dst_port, h.src_port, VSOCK_OP_RST, 0);
			}
		}
	}
	CHECK_EQ_U64(got, NHOST);
	CHECK_EQ_U64(shut, NHOST);
	pump(&f);
	CHECK_EQ_U64(f.v.nconns, 0);
	fx_teardown(&f);
}

/* ---- through the transport, with the worker thread ---- */

static void mmio_wr(struct fx *f, uint64_t off, uint32_t val)
{
	virtio_mmio_write(&f->v.mmio, off, (const uint8_t *)&val, 4);
}

static uint32_t mmio_rd(struct fx *f, uint64_t off)
{
	uint32_t val = 0;

	virtio_mmio_read(&f->v.mmio, off, (uint8_t *)&val, 4);
	return val;
}

static void mmio_queue(struct fx *f, uint32_t sel, uint64_t d, uint64_t a, uint64_t u)
{
	mmio_wr(f, 0x030, sel);
	mmio_wr(f, 0x038, QSZ);
	mmio_wr(f, 0x080, (uint32_t)d);
	mmio_wr(f, 0x090, (uint32_t)a);
	mmio_wr(f, 0x0a0, (uint32_t)u);
	mmio_wr(f, 0x044, 1);
}

/* Waits (up to 5 s) for a packet the worker put in the rx ring. */
static int rx_wait_worker(struct fx *f, struct vsock_hdr *h, uint8_t *p, uint32_t cap)
{
	for (int i = 0; i < 5000; i++) {
		if (rx_get(f, h, p, cap)) {
			mmio_wr(f, 0x050, VSOCK_RXQ);   /* the reposted buffer */
			return 1;
		}
		usleep(1000);
	}
	return 0;
}

TEST(worker_thread_through_the_mmio_transport)
{
	struct fx f;
	struct vsock_hdr h;
	uint8_t p[64], b[8];
	char line[64], want[64];
	int fd;

	memset(&f, 0, sizeof(f));
	log_threshold = LOG_ERROR;
	snprintf(f.dir, sizeof(f.dir), "/tmp/ember-vsock-XXXXXX");
	REQUIRE(mkdtemp(f.dir) != NULL);
	snprintf(f.uds, sizeof(f.uds), "%s/v.sock", f.dir);
	f.ram = calloc(1, RAM);
	REQUIRE(f.ram != NULL);
	guest_mem_init_from(&f.mem, f.ram, RAM);
	REQUIRE(virtio_vsock_open(&f.v, 0x123456789ULL & 0xffffffffULL, f.uds) == 0);
	REQUIRE(virtio_mmio_init(&f.v.mmio, &virtio_vsock_ops, &f.v, &f.mem, 0, 5) == 0);
	f.rx = (struct tq){ RX_DESC, RX_AVAIL, RX_USED, 0, 0 };
	f.tx = (struct tq){ TX_DESC, TX_AVAIL, TX_USED, 0, 0 };
	f.rx_len = HDR + 4096;
	CHECK_EQ_U64(mmio_rd(&f, 0x008), 19);                 /* device id */
	CHECK_EQ_U64(mmio_rd(&f, 0x100), 0x23456789u);        /* guest_cid, low word */
	CHECK_EQ_U64(mmio_rd(&f, 0x104), 0);
	mmio_wr(&f, 0x070, VIRTIO_STATUS_ACKNOWLEDGE);
	mmio_wr(&f, 0x070, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	mmio_wr(&f, 0x024, 1);
	mmio_wr(&f, 0x020, 1);                                /* VERSION_1 */
	mmio_wr(&f, 0x070, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
		VIRTIO_STATUS_FEATURES_OK);
	mmio_queue(&f, VSOCK_RXQ, RX_DESC, RX_AVAIL, RX_USED);
	mmio_queue(&f, VSOCK_TXQ, TX_DESC, TX_AVAIL, TX_USED);
	rx_fill(&f);
	mmio_wr(&f, 0x070, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
		VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
	REQUIRE(f.v.mmio.active);
	CHECK(f.v.worker.running);
	/* A host client: the worker's epoll takes it, the REQUEST arrives with an interrupt. */
	fd = host_client(&f, "CONNECT 77\n");
	REQUIRE(fd >= 0);
	REQUIRE(rx_wait_worker(&f, &h, NULL, 0) == 1);
	CHECK_EQ_U64(h.op, VSOCK_OP_REQUEST);
	CHECK_EQ_U64(h.dst_cid, 0x23456789u);
	CHECK(f.v.mmio.irq.pulses > 0);
	/* The guest accepts (a tx kick through QUEUE_NOTIFY), data goes both ways. */
	{
		struct vsock_hdr r = ghdr(77, h.src_port, VSOCK_OP_RESPONSE);

		r.src_cid = 0x23456789u;
		tx_pkt(&f, &r, NULL);
		mmio_wr(&f, 0x050, VSOCK_TXQ);
		REQUIRE(read_line(fd, line, sizeof(line)) > 0);
		snprintf(want, sizeof(want), "OK %u", h.src_port);
		CHECK_STR_EQ(line, want);
		CHECK_EQ_INT(write_all(fd, "ping", 4), 0);
		REQUIRE(rx_wait_worker(&f, &h, p, sizeof(p)) == 1);
		CHECK_EQ_U64(h.op, VSOCK_OP_RW);
		CHECK_EQ_U64(h.len, 4);
		CHECK(memcmp(p, "ping", 4) == 0);
		r = ghdr(77, h.src_port, VSOCK_OP_RW);
		r.src_cid = 0x23456789u;
		r.len = 4;
		tx_pkt(&f, &r, "pong");
		mmio_wr(&f, 0x050, VSOCK_TXQ);
		CHECK_EQ_INT(read(fd, b, 4), 4);
		CHECK(memcmp(b, "pong", 4) == 0);
	}
	/* Driver reset: the worker stops and every connection closes. */
	mmio_wr(&f, 0x070, 0);
	CHECK(!f.v.worker.running);
	CHECK_EQ_U64(f.v.nconns, 0);
	CHECK_EQ_INT(read(fd, b, sizeof(b)), 0);
	close(fd);
	fx_teardown(&f);
}
