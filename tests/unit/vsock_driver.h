/* The guest side of virtio-vsock for the unit tests (test_virtio_vsock*.c): rx and tx
 * split queues in synthetic guest memory (one exact-size heap block, so ASan sees any
 * access past guest RAM), packets built and read in the virtio 1.2 layout (5.10.6: a
 * 44-byte little-endian header src_cid, dst_cid, src_port, dst_port, len, type, op, flags,
 * buf_alloc, fwd_cnt), a model of one guest connection that keeps the credit rules and
 * checks the device keeps them too, and Unix socket helpers for the host side.
 * virtio_vsock_poll() runs by hand in place of the worker thread. */
#ifndef EMBER_TESTS_UNIT_VSOCK_DRIVER_H
#define EMBER_TESTS_UNIT_VSOCK_DRIVER_H

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "devices/virtio/virtio_vsock.h"
#include "mem/guest_mem.h"
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

static inline void w16(struct fx *f, uint64_t a, uint16_t v) { memcpy(f->ram + a, &v, 2); }
static inline void w32(struct fx *f, uint64_t a, uint32_t v) { memcpy(f->ram + a, &v, 4); }
static inline void w64(struct fx *f, uint64_t a, uint64_t v) { memcpy(f->ram + a, &v, 8); }
static inline uint16_t r16(struct fx *f, uint64_t a) { uint16_t v; memcpy(&v, f->ram + a, 2); return v; }
static inline uint32_t r32(struct fx *f, uint64_t a) { uint32_t v; memcpy(&v, f->ram + a, 4); return v; }

static inline void desc(struct fx *f, struct tq *q, unsigned int i, uint64_t addr, uint32_t len,
		 uint16_t flags, uint16_t next)
{
	uint64_t p = q->desc + 16ULL * i;

	w64(f, p, addr);
	w32(f, p + 8, len);
	w16(f, p + 12, flags);
	w16(f, p + 14, next);
}

static inline void publish(struct fx *f, struct tq *q, uint16_t head)
{
	w16(f, q->avail + 4 + 2ULL * (q->avail_idx % QSZ), head);
	q->avail_idx++;
	w16(f, q->avail + 2, q->avail_idx);
}

static inline void setup_queue(struct fx *f, unsigned int i, uint64_t d, uint64_t a, uint64_t u)
{
	struct vq *q = &f->v.mmio.queues[i];

	q->size = QSZ;
	q->desc_gpa = d;
	q->avail_gpa = a;
	q->used_gpa = u;
	q->ready = true;
}

/* Posts one rx chain (slot = descriptor = avail position modulo the queue size). */
static inline void rx_post_one(struct fx *f, uint32_t len, uint16_t flags)
{
	uint16_t slot = (uint16_t)(f->rx.avail_idx % QSZ);

	desc(f, &f->rx, slot, RX_BUF + (uint64_t)slot * RX_SLOT, len, flags, 0);
	publish(f, &f->rx, slot);
}

static inline void rx_fill(struct fx *f)
{
	while ((uint16_t)(f->rx.avail_idx - f->rx.used_seen) < QSZ)
		rx_post_one(f, f->rx_len, VRING_DESC_F_WRITE);
}

static inline int fx_setup(struct fx *f)
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

static inline void fx_teardown(struct fx *f)
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

static inline struct vsock_hdr ghdr(uint32_t src_port, uint32_t dst_port, uint16_t op)
{
	return (struct vsock_hdr){ .src_cid = CID, .dst_cid = VSOCK_HOST_CID, .src_port = src_port,
				   .dst_port = dst_port, .type = VSOCK_TYPE_STREAM, .op = op,
				   .buf_alloc = 256 * 1024 };
}

static inline void pump(struct fx *f) { virtio_vsock_poll(&f->v, 0); }

/* Puts a packet in the tx queue: header and payload in one buffer, or split in two. */
static inline void tx_raw(struct fx *f, const uint8_t *bytes, uint32_t len, bool split)
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

static inline void tx_pkt(struct fx *f, const struct vsock_hdr *h, const void *payload)
{
	static uint8_t b[HDR + VSOCK_MAX_PKT];
	static unsigned int n;

	vsock_hdr_encode(h, b);
	if (h->len && payload)
		memcpy(b + HDR, payload, h->len);
	tx_raw(f, b, HDR + h->len, (n++ & 1) != 0);
}

static inline void tx_op(struct fx *f, uint32_t src_port, uint32_t dst_port, uint16_t op, uint32_t flags)
{
	struct vsock_hdr h = ghdr(src_port, dst_port, op);

	h.flags = flags;
	tx_pkt(f, &h, NULL);
}

/* The next packet in the used rx ring: 1 with header and payload (up to cap bytes), 0 if
 * none; used_len gets what the device reported. The buffer is posted again. */
static inline int rx_get_len(struct fx *f, struct vsock_hdr *h, uint8_t *payload, uint32_t cap,
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

static inline int rx_get(struct fx *f, struct vsock_hdr *h, uint8_t *payload, uint32_t cap)
{
	uint32_t used;
	int r = rx_get_len(f, h, payload, cap, &used);

	if (r)
		rx_fill(f);
	return r;
}

/* Pumps until a packet arrives (at most ms); 1 with it, 0 on timeout. */
static inline int rx_wait(struct fx *f, struct vsock_hdr *h, uint8_t *payload, uint32_t cap, int ms)
{
	for (int i = 0; i < ms; i++) {
		if (rx_get(f, h, payload, cap))
			return 1;
		virtio_vsock_poll(&f->v, 1);
	}
	return rx_get(f, h, payload, cap);
}

/* ---- host side helpers ---- */

static inline int unix_listen(const char *path)
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

static inline int unix_connect(const char *path)
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

static inline void set_timeouts(int fd)
{
	struct timeval tv = { .tv_sec = 20 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static inline int write_all(int fd, const void *p, size_t n)
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
static inline int read_line(int fd, char *buf, size_t cap)
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

static inline uint64_t fnv(uint64_t h, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}

#define FNV0 0xcbf29ce484222325ULL

static inline void pattern(uint64_t seed, uint64_t off, uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)((off + i) * 131 + seed + ((off + i) >> 11));
}

/* ---- host-initiated ---- */

/* Connects a host client asking for guest port; returns the fd, or -1. */
static inline int host_client(struct fx *f, const char *line)
{
	int fd = unix_connect(f->uds);

	if (fd >= 0 && write_all(fd, line, strlen(line)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* ---- data relay with checksums ---- */

struct host_side {
	int fd;
	uint64_t send_bytes, sent_hash, seed;
	uint64_t recv_bytes, recv_hash;
	int failed;
};

static inline void *host_writer(void *arg)
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

static inline void *host_reader(void *arg)
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

static inline void g_send(struct fx *f, struct gconn *g, uint16_t op, uint32_t flags, const void *p,
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
static inline void g_recv(struct fx *f, struct gconn *g, const struct vsock_hdr *h, const uint8_t *p)
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
static inline void g_push(struct fx *f, struct gconn *g)
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

static inline double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs the guest side of g until both directions ended (or 60 s). */
static inline void g_run(struct fx *f, struct gconn *g)
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

/* ---- malformed input ---- */

/* Everything in the rx used ring: how many packets, and the last header. */
static inline unsigned int rx_drain(struct fx *f, struct vsock_hdr *last)
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
static inline int establish(struct fx *f, uint32_t gport, uint32_t lport, int *lfd, int *afd)
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

#endif
