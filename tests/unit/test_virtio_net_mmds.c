/* virtio-net with MMDS attached (virtio_net_attach_mmds), the whole device: transport
 * registers, the worker thread, both queues over synthetic guest memory, and a
 * SOCK_SEQPACKET socket pair standing in for the tap (one frame per message, as a tap
 * reads and writes them). Frames for MMDS never reach the "tap"; MMDS's answers arrive
 * in the guest's receive buffers behind a zeroed virtio header, interleaved with the
 * tap's traffic, which is unchanged. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "vq_driver.h"
#include "devices/virtio/virtio_net.h"
#include "mmds/mmds_stack.h"

#define QSZ 16
#define TX_DESC 0x9000u
#define TX_AVAIL 0xd000u
#define TX_USED 0xe000u
#define RX_BUF 0x20000u         /* + i * 0x1000, 2048 bytes each */
#define TX_BUF 0x40000u
#define RX_BUF_LEN 2048u
#define HDR 12

static const uint8_t GUEST_MAC[6] = { 0x02, 0x11, 0x22, 0x33, 0x44, 0x55 };
#define GUEST_IP 0xac100002u
#define MMDS_IP 0xa9fea9feu

struct fx {
	struct vqd rx, tx;
	struct virtio_net n;
	struct mmds_store *store;
	struct mmds_stack *st;
	int peer;                /* the host side of the fake tap */
	unsigned int tx_count;
};

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

static void queue_setup(struct virtio_mmio *m, uint32_t sel, uint32_t desc, uint32_t avail,
			uint32_t used)
{
	reg_wr(m, 0x030, sel);
	reg_wr(m, 0x038, QSZ);
	reg_wr(m, 0x080, desc);
	reg_wr(m, 0x090, avail);
	reg_wr(m, 0x0a0, used);
	reg_wr(m, 0x044, 1);
}

static int setup(struct fx *f)
{
	static const char *data = "{\"latest\":{\"meta-data\":{\"ami-id\":\"ami-1\"}}}";
	int sp[2];
	struct virtio_mmio *m = &f->n.mmio;

	memset(f, 0, sizeof(*f));
	if (vqd_mem(&f->rx, VQD_RAM) < 0)
		return -1;
	vqd_layout(&f->rx, QSZ, false, false);
	f->tx = f->rx;                       /* the same RAM, another queue */
	vqd_layout(&f->tx, QSZ, false, false);
	f->tx.q.desc_gpa = TX_DESC;
	f->tx.q.avail_gpa = TX_AVAIL;
	f->tx.q.used_gpa = TX_USED;
	f->store = mmds_store_new();
	if (!f->store || mmds_store_put_json(f->store, data, strlen(data), NULL, 0) < 0)
		return -1;
	f->st = mmds_stack_new(f->store);
	if (!f->st)
		return -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sp) < 0)
		return -1;
	f->n.tap_fd = sp[0];
	f->peer = sp[1];
	snprintf(f->n.tap_name, sizeof(f->n.tap_name), "fake0");
	memcpy(f->n.mac, GUEST_MAC, 6);
	if (virtio_net_attach_mmds(&f->n, f->st) < 0)
		return -1;
	if (virtio_mmio_init(m, &virtio_net_ops, &f->n, &f->rx.mem, 0xd0000000ULL, 5) < 0)
		return -1;
	reg_wr(m, 0x070, 1);
	reg_wr(m, 0x070, 3);
	reg_wr(m, 0x024, 1);
	reg_wr(m, 0x020, 1);                 /* VERSION_1 */
	reg_wr(m, 0x070, 3 | 8);
	queue_setup(m, 0, VQD_DESC, VQD_AVAIL, VQD_USED);
	queue_setup(m, 1, TX_DESC, TX_AVAIL, TX_USED);
	reg_wr(m, 0x070, 3 | 8 | 4);
	if (reg_rd(m, 0x070) != (3 | 8 | 4) || !f->n.worker.running)
		return -1;
	/* Receive buffers. */
	for (unsigned int i = 0; i < 8; i++) {
		const struct vqd_buf b = { RX_BUF + i * 0x1000u, RX_BUF_LEN, true };

		vqd_add(&f->rx, &b, 1);
	}
	reg_wr(m, 0x050, 0);
	return 0;
}

static void teardown(struct fx *f)
{
	reg_wr(&f->n.mmio, 0x070, 0);        /* reset: the worker stops */
	virtio_mmio_destroy(&f->n.mmio);
	virtio_net_close(&f->n);
	if (f->peer > 0)
		close(f->peer);
	mmds_stack_free(f->st);
	mmds_store_free(f->store);
	vqd_free(&f->rx);
}

/* The guest transmits one frame (behind a zero virtio header). */
static void guest_tx(struct fx *f, const uint8_t *frame, size_t len)
{
	uint64_t gpa = TX_BUF + (f->tx_count % QSZ) * 0x1000u;
	const struct vqd_buf b = { gpa, (uint32_t)(HDR + len), false };

	memset(vqd_ptr(&f->tx, gpa), 0, HDR);
	memcpy((uint8_t *)vqd_ptr(&f->tx, gpa) + HDR, frame, len);
	vqd_add(&f->tx, &b, 1);
	f->tx_count++;
	reg_wr(&f->n.mmio, 0x050, 1);
}

static uint16_t used_idx(struct vqd *d)
{
	return __atomic_load_n((uint16_t *)(d->ram + d->q.used_gpa + 2), __ATOMIC_ACQUIRE);
}

/* Waits up to 5 s for the rx used index to reach want. */
static bool wait_rx(struct fx *f, uint16_t want)
{
	for (int i = 0; i < 5000 && used_idx(&f->rx) < want; i++)
		usleep(1000);
	return used_idx(&f->rx) >= want;
}

static bool wait_tx(struct fx *f, uint16_t want)
{
	for (int i = 0; i < 5000 && used_idx(&f->tx) < want; i++)
		usleep(1000);
	return used_idx(&f->tx) >= want;
}

/* The rx buffer of used entry i: its bytes and length. */
static const uint8_t *rx_elem(struct fx *f, uint16_t i, uint32_t *len)
{
	uint32_t id;

	vqd_used_elem(&f->rx, i, &id, len);
	return vqd_ptr(&f->rx, RX_BUF + id * 0x1000u);
}

static void w16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void w32(uint8_t *p, uint32_t v)
{
	w16(p, v >> 16);
	w16(p + 2, v & 0xffff);
}

static size_t arp_request(uint8_t *f, uint32_t target)
{
	memset(f, 0, 42);
	memset(f, 0xff, 6);
	memcpy(f + 6, GUEST_MAC, 6);
	w16(f + 12, 0x0806);
	w16(f + 14, 1);
	w16(f + 16, 0x0800);
	f[18] = 6;
	f[19] = 4;
	w16(f + 20, 1);
	memcpy(f + 22, GUEST_MAC, 6);
	w32(f + 28, GUEST_IP);
	w32(f + 38, target);
	return 42;
}

static bool peer_empty(struct fx *f)
{
	uint8_t b[64];

	return recv(f->peer, b, sizeof(b), 0) < 0 && errno == EAGAIN;
}

TEST(arp_for_mmds_is_answered_in_the_rx_queue_and_never_reaches_the_tap)
{
	static struct fx f;
	uint8_t frame[64];
	const uint8_t *p;
	uint32_t len;

	REQUIRE_EQ_INT(setup(&f), 0);
	guest_tx(&f, frame, arp_request(frame, MMDS_IP));
	REQUIRE(wait_rx(&f, 1));
	p = rx_elem(&f, 0, &len);
	CHECK_EQ_U64(len, HDR + 42);
	CHECK_EQ_U64(p[0], 0);                        /* flags: no offload */
	CHECK_EQ_U64(p[10], 1);                       /* num_buffers */
	CHECK_MEM_EQ(p + HDR, GUEST_MAC, 6);
	CHECK_MEM_EQ(p + HDR + 6, MMDS_MAC, 6);
	CHECK_EQ_U64(p[HDR + 21], 2);                 /* ARP reply */
	CHECK(wait_tx(&f, 1));
	CHECK(peer_empty(&f));
	CHECK_EQ_U64(f.n.mmds_rx, 1);
	CHECK_EQ_U64(f.n.tx_packets, 0);
	teardown(&f);
}

TEST(other_frames_still_go_to_the_tap_and_tap_frames_to_the_guest)
{
	static struct fx f;
	uint8_t frame[64], got[128];
	const uint8_t *p;
	uint32_t len;
	ssize_t n;

	REQUIRE_EQ_INT(setup(&f), 0);
	guest_tx(&f, frame, arp_request(frame, 0xac100001u));
	REQUIRE(wait_tx(&f, 1));
	n = recv(f.peer, got, sizeof(got), 0);
	CHECK_EQ_INT(n, HDR + 42);
	CHECK_MEM_EQ(got + HDR, frame, 42);
	CHECK_EQ_U64(f.n.tx_packets, 1);
	/* The tap sends the guest a frame: it arrives as before. */
	memset(got, 0, HDR);
	memcpy(got + HDR, frame, 42);
	got[HDR + 40] = 0x77;
	REQUIRE_EQ_INT(send(f.peer, got, HDR + 42, 0), HDR + 42);
	REQUIRE(wait_rx(&f, 1));
	p = rx_elem(&f, 0, &len);
	CHECK_EQ_U64(len, HDR + 42);
	CHECK_EQ_U64(p[HDR + 40], 0x77);
	CHECK_EQ_U64(p[10], 1);
	teardown(&f);
}

TEST(http_get_through_the_device)
{
	static struct fx f;
	uint8_t frame[256];
	const uint8_t *p;
	uint32_t len, mmds_seq;
	const char *req = "GET /latest/meta-data/ami-id HTTP/1.1\r\nHost: x\r\n\r\n";
	char resp[512] = "";
	size_t n, got = 0;
	uint16_t seen;

	REQUIRE_EQ_INT(setup(&f), 0);
	/* SYN */
	memset(frame, 0, sizeof(frame));
	memcpy(frame, MMDS_MAC, 6);
	memcpy(frame + 6, GUEST_MAC, 6);
	w16(frame + 12, 0x0800);
	{
		uint8_t *ip = frame + 14, *t = ip + 20;
		uint32_t s = 0;

		ip[0] = 0x45;
		ip[8] = 64;
		ip[9] = 6;
		w32(ip + 12, GUEST_IP);
		w32(ip + 16, MMDS_IP);
		w16(t, 40000);
		w16(t + 2, 80);
		w32(t + 4, 1000);
		t[12] = 0x50;
		t[13] = 0x02;                          /* SYN */
		w16(t + 14, 64000);
		w16(ip + 2, 40);
		for (int i = 0; i < 20; i += 2)
			s += (uint32_t)ip[i] << 8 | ip[i + 1];
		while (s >> 16)
			s = (s & 0xffff) + (s >> 16);
		w16(ip + 10, ~s & 0xffff);
		n = 54;
	}
	guest_tx(&f, frame, n);
	REQUIRE(wait_rx(&f, 1));
	p = rx_elem(&f, 0, &len);
	REQUIRE(len >= HDR + 54);
	CHECK_EQ_U64(p[HDR + 14 + 20 + 13], 0x12);   /* SYN|ACK */
	mmds_seq = (uint32_t)p[HDR + 38] << 24 | (uint32_t)p[HDR + 39] << 16 |
		   (uint32_t)p[HDR + 40] << 8 | p[HDR + 41];
	/* ACK with the request (TCP checksum not needed: see mmds_stack.h). */
	{
		uint8_t *ip = frame + 14, *t = ip + 20;
		uint32_t s = 0;

		w32(t + 4, 1001);
		w32(t + 8, mmds_seq + 1);
		t[13] = 0x18;                          /* PSH|ACK */
		memcpy(t + 20, req, strlen(req));
		w16(ip + 2, (uint32_t)(40 + strlen(req)));
		w16(ip + 10, 0);
		for (int i = 0; i < 20; i += 2)
			s += (uint32_t)ip[i] << 8 | ip[i + 1];
		while (s >> 16)
			s = (s & 0xffff) + (s >> 16);
		w16(ip + 10, ~s & 0xffff);
		n = 54 + strlen(req);
	}
	guest_tx(&f, frame, n);
	/* The response: an ACK and/or data segments; collect the payload. */
	seen = 1;
	for (int tries = 0; tries < 3 && got < 20; tries++) {
		if (!wait_rx(&f, (uint16_t)(seen + 1)))
			break;
		while (seen < used_idx(&f.rx)) {
			size_t thl, pl;

			p = rx_elem(&f, seen++, &len);
			if (len < HDR + 54)
				continue;
			thl = (size_t)(p[HDR + 46] >> 4) * 4;
			pl = len - HDR - 34 - thl;
			if (got + pl < sizeof(resp)) {
				memcpy(resp + got, p + HDR + 34 + thl, pl);
				got += pl;
			}
		}
	}
	resp[got] = '\0';
	CHECK_STR_CONTAINS(resp, "HTTP/1.1 200 OK");
	CHECK_STR_CONTAINS(resp, "\r\n\r\nami-1");
	CHECK(peer_empty(&f));
	CHECK_EQ_U64(f.n.tx_packets, 0);
	CHECK_EQ_U64(f.n.mmds_rx, 2);
	teardown(&f);
}

TEST(attach_after_activation_is_refused)
{
	static struct fx f;

	REQUIRE_EQ_INT(setup(&f), 0);
	CHECK_EQ_INT(virtio_net_attach_mmds(&f.n, f.st), -EBUSY);
	teardown(&f);
}
