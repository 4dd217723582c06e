/* virtio-net: the MAC address parser (--net tap=NAME,mac=MAC: six colon-separated hex
 * octets, unicast only), the receive path (single and mergeable buffers) and transmit
 * (frames, interrupts per batch and per kick) against a socket pair standing in for the
 * tap. The tap itself is exercised in tier 2 and in the nested tier. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "vq_driver.h"
#include "devices/virtio/virtio_net.h"

TEST(valid_macs)
{
	static const struct { const char *s; uint8_t mac[6]; } ok[] = {
		{ "02:00:00:00:00:01", { 0x02, 0, 0, 0, 0, 0x01 } },
		{ "06:00:ac:10:2a:ff", { 0x06, 0x00, 0xac, 0x10, 0x2a, 0xff } },
		{ "52:54:00:12:34:56", { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 } },
		{ "AA:BB:CC:DD:EE:FF", { 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff } },  /* 0xaa: unicast */
		{ "fe:dc:Ba:98:76:54", { 0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54 } },
		{ "00:00:00:00:00:00", { 0, 0, 0, 0, 0, 0 } },
	};

	for (unsigned int k = 0; k < ARRAY_LEN(ok); k++) {
		uint8_t mac[6] = { 0 };

		if (!CHECK_EQ_INT(virtio_net_parse_mac(ok[k].s, mac), 0))
			FAIL("'%s' refused", ok[k].s);
		CHECK_MEM_EQ(mac, ok[k].mac, 6);
	}
}

TEST(invalid_macs)
{
	static const char *const bad[] = {
		"01:00:5e:00:00:01",          /* multicast */
		"ff:ff:ff:ff:ff:ff",          /* broadcast */
		"03:00:00:00:00:00",
		"02:00:00:00:00",             /* short */
		"02:00:00:00:00:",
		"02",
		"",
		"garbage",
		"zz:00:00:00:00:01",
		"02:00:00:00:00:01:02",       /* trailing octet */
		"02:00:00:00:00:01 ",         /* trailing space */
		"02:00:00:00:00:01\n",
		"02:00:00:00:00:1g",
		"02:00:00:00:00:012",         /* three digits */
		"002:00:00:00:00:01",
		"02-00-00-00-00-01",          /* wrong separator */
		"02:00:00:00:00::01",
		"0200.0000.0001",
	};

	for (unsigned int k = 0; k < ARRAY_LEN(bad); k++) {
		uint8_t mac[6];

		if (!CHECK_EQ_INT(virtio_net_parse_mac(bad[k], mac), -EINVAL))
			FAIL("'%s' accepted", bad[k]);
	}
}

/* Regression (found by this test, fixed in 9d699dd): virtio_net_parse_mac used sscanf
 * "%2x", which accepts leading white space, a sign and a "0x" prefix, so
 * "-2:00:00:00:00:01" parsed as fe:00:00:00:00:01 (the sign wrapped the value and the
 * (uint8_t) cast kept the low byte), "02:00:00:00:00:-1" as 02:...:ff, "+2:..." and
 * " 2:..." as 02:..., "0x:00:00:00:00:01" as 00:...:01. Only two hex digits per octet. */
TEST(regression_parse_mac_accepts_signs_spaces_and_0x)
{
	static const char *const bad[] = {
		"-2:00:00:00:00:01",
		"02:00:00:00:00:-1",
		"+2:00:00:00:00:01",
		" 2:00:00:00:00:01",
		"02: 0:00:00:00:01",
		"0x:00:00:00:00:01",
	};

	for (unsigned int k = 0; k < ARRAY_LEN(bad); k++) {
		uint8_t mac[6] = { 0 };

		if (!CHECK_EQ_INT(virtio_net_parse_mac(bad[k], mac), -EINVAL))
			FAIL("'%s' accepted as %02x:%02x:%02x:%02x:%02x:%02x", bad[k], mac[0], mac[1],
			     mac[2], mac[3], mac[4], mac[5]);
	}
}

TEST(ops)
{
	CHECK_EQ_U64(virtio_net_ops.device_id, VIRTIO_ID_NET);
	CHECK_EQ_U64(virtio_net_ops.num_queues, 2);
	CHECK_EQ_U64(virtio_net_ops.config_size, 6);   /* the MAC */
	CHECK(virtio_net_ops.features & (1ULL << 5));  /* VIRTIO_NET_F_MAC */
	CHECK_EQ_U64(virtio_net_ops.queue_max & (virtio_net_ops.queue_max - 1), 0);
}

TEST(open_refuses_a_missing_tap_and_a_long_name)
{
	struct virtio_net n;

	/* A failed open leaves nothing to close (nor to leak: the caller does not close). */
	CHECK_EQ_INT(virtio_net_open(&n, "embernotap0", NULL, 0), -ENODEV);
	CHECK_EQ_INT(n.tap_fd, -1);
	CHECK(n.rx == NULL);
	CHECK_EQ_INT(virtio_net_open(&n, "a-name-longer-than-15", NULL, 0), -EINVAL);
	CHECK_EQ_INT(n.tap_fd, -1);
	CHECK(n.rx == NULL);
}

/* ---- receive: single and mergeable buffers, with a SOCK_SEQPACKET socket standing in
 * for the tap (both keep frame boundaries and truncate a frame read short) ---- */

struct rxf {
	struct vqd d;
	struct virtio_net n;
	int peer;
};

static int rxf_setup_ev(struct rxf *f, uint16_t qsize, bool mrg, bool event_idx)
{
	int sv[2];

	memset(f, 0, sizeof(*f));
	if (vqd_init(&f->d, qsize, true, event_idx) != 0)
		return -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sv) < 0)
		return -1;
	f->n.tap_fd = sv[0];
	f->peer = sv[1];
	f->n.rx = calloc(1, sizeof(*f->n.rx));
	if (!f->n.rx)
		return -1;
	/* A big enough socket buffer for 64 KiB frames. */
	{
		int sz = 1 << 20;

		setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
		setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	}
	f->n.mmio.irq.fd = -1;
	f->n.mmio.driver_features = (1ULL << 32) | (mrg ? 1ULL << 15 : 0);
	f->n.mmio.queues[0] = f->d.q;
	return 0;
}

static int rxf_setup(struct rxf *f, uint16_t qsize, bool mrg)
{
	return rxf_setup_ev(f, qsize, mrg, false);
}

static void rxf_teardown(struct rxf *f)
{
	close(f->n.tap_fd);
	close(f->peer);
	free(f->n.rx);
	vqd_free(&f->d);
}

/* A frame of len bytes (vnet header included): byte i = (seed + i * 7) mod 256, with a
 * zero header. */
static int send_frame(struct rxf *f, size_t len, uint8_t seed)
{
	static uint8_t buf[70000];

	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(seed + i * 7);
	memset(buf, 0, 12);
	return send(f->peer, buf, len, 0) == (ssize_t)len ? 0 : -1;
}

/* Posts n one-buffer chains of size bytes from gpa on. */
static void post(struct rxf *f, unsigned int n, uint32_t size, uint64_t gpa)
{
	for (unsigned int i = 0; i < n; i++) {
		struct vqd_buf b = { gpa + (uint64_t)i * size, size, true };

		vqd_add(&f->d, &b, 1);
	}
}

/* Checks the frame (len, seed) spread over used entries [first, first + k) whose buffers
 * are size bytes from base on, buffer index = descriptor id (one-buffer chains). */
static bool frame_in_used(struct rxf *f, uint16_t first, unsigned int k, size_t len, uint8_t seed,
			  uint64_t base, uint32_t size)
{
	size_t off = 0;

	for (unsigned int j = 0; j < k; j++) {
		uint32_t id, ulen;
		const uint8_t *p;

		vqd_used_elem(&f->d, (uint16_t)(first + j), &id, &ulen);
		p = f->d.ram + base + (uint64_t)id * size;
		if (j == 0) {
			uint16_t nb;

			memcpy(&nb, p + 10, 2);
			if (nb != k)
				return false;
		}
		for (uint32_t i = 0; i < ulen; i++, off++) {
			if (off >= 12 && p[i] != (uint8_t)(seed + off * 7))
				return false;
		}
	}
	return off == len;
}

#define RXBASE 0x10000u

TEST(rx_mergeable_frame_spans_small_buffers_zero_copy)
{
	struct rxf f;

	REQUIRE_EQ_INT(rxf_setup(&f, 256, true), 0);
	post(&f, 40, 2048, RXBASE);            /* 80 KiB: room for a maximal frame */
	REQUIRE_EQ_INT(send_frame(&f, 10000, 1), 0);
	virtio_net_rx(&f.n);
	CHECK_EQ_INT(vqd_used_idx(&f.d), 5);   /* 4 x 2048 + 1808 */
	CHECK(frame_in_used(&f, 0, 5, 10000, 1, RXBASE, 2048));
	CHECK_EQ_U64(f.n.rx_bounced, 0);
	/* The chains it did not need are used for the next frames. */
	REQUIRE_EQ_INT(send_frame(&f, 100, 2), 0);
	REQUIRE_EQ_INT(send_frame(&f, 65562, 3), 0);
	virtio_net_rx(&f.n);
	/* 34 buffers (68 KiB) were left: enough to read the maximal frame straight in. */
	REQUIRE_EQ_INT(vqd_used_idx(&f.d), 6 + 33);
	CHECK(frame_in_used(&f, 5, 1, 100, 2, RXBASE, 2048));
	CHECK(frame_in_used(&f, 6, 33, 65562, 3, RXBASE, 2048));
	CHECK_EQ_U64(f.n.rx_packets, 3);
	CHECK_EQ_U64(f.n.rx_bounced, 0);
	rxf_teardown(&f);
}

/* Small frames (a TCP sender's ACKs) into small buffers: the chains gathered for a
 * maximal frame and not needed by one stay gathered for the next, instead of going back
 * to the ring and being walked again (33 chains per frame and per empty read before). */
TEST(rx_mergeable_small_frames_walk_each_chain_once)
{
	struct rxf f;

	REQUIRE_EQ_INT(rxf_setup(&f, 256, true), 0);
	post(&f, 40, 2048, RXBASE);
	for (uint8_t k = 0; k < 3; k++)
		REQUIRE_EQ_INT(send_frame(&f, 66, k), 0);
	virtio_net_rx(&f.n);
	REQUIRE_EQ_INT(vqd_used_idx(&f.d), 3);
	for (uint16_t k = 0; k < 3; k++) {
		uint32_t id, len;

		vqd_used_elem(&f.d, k, &id, &len);
		CHECK_EQ_U64(id, k);
		CHECK(frame_in_used(&f, k, 1, 66, (uint8_t)k, RXBASE, 2048));
	}
	/* 33 x 2048 >= a maximal frame, then one more after each frame. */
	CHECK_EQ_U64(f.n.prof.rx_chains, 33 + 3);
	CHECK_EQ_U64(f.n.prof.rx_reads, 4);
	CHECK_EQ_U64(f.n.rx->nch, 0);          /* the rest went back */
	/* ...and are the next frame's, in ring order. */
	REQUIRE_EQ_INT(send_frame(&f, 5000, 7), 0);
	virtio_net_rx(&f.n);
	REQUIRE_EQ_INT(vqd_used_idx(&f.d), 6);
	CHECK(frame_in_used(&f, 3, 3, 5000, 7, RXBASE, 2048));
	rxf_teardown(&f);
}

TEST(rx_mergeable_bounce_and_wait_for_buffers)
{
	struct rxf f;

	REQUIRE_EQ_INT(rxf_setup(&f, 256, true), 0);
	post(&f, 1, 2048, RXBASE);
	REQUIRE_EQ_INT(send_frame(&f, 5000, 9), 0);
	virtio_net_rx(&f.n);
	CHECK_EQ_INT(vqd_used_idx(&f.d), 0);   /* waits in the bounce buffer */
	CHECK_EQ_U64(f.n.rx->pending, 5000);
	CHECK(f.n.rx_wait);
	post(&f, 2, 2048, RXBASE + 2048);
	virtio_net_rx(&f.n);
	REQUIRE_EQ_INT(vqd_used_idx(&f.d), 3);
	CHECK(frame_in_used(&f, 0, 3, 5000, 9, RXBASE, 2048));
	CHECK_EQ_U64(f.n.rx_bounced, 1);
	CHECK_EQ_U64(f.n.rx->pending, 0);
	rxf_teardown(&f);
}

TEST(rx_mergeable_frame_larger_than_the_ring_is_dropped)
{
	struct rxf f;

	REQUIRE_EQ_INT(rxf_setup(&f, 4, true), 0);
	post(&f, 4, 1024, RXBASE);
	REQUIRE_EQ_INT(send_frame(&f, 6000, 4), 0);
	REQUIRE_EQ_INT(send_frame(&f, 1500, 5), 0);
	virtio_net_rx(&f.n);
	CHECK_EQ_U64(f.n.rx_dropped, 1);
	REQUIRE_EQ_INT(vqd_used_idx(&f.d), 2);
	CHECK(frame_in_used(&f, 0, 2, 1500, 5, RXBASE, 1024));
	rxf_teardown(&f);
}

TEST(rx_mergeable_hostile_buffers)
{
	struct rxf f;
	struct vqd_buf tiny = { RXBASE, 8, true }, ro = { RXBASE + 4096, 2048, false };

	REQUIRE_EQ_INT(rxf_setup(&f, 256, true), 0);
	vqd_add(&f.d, &tiny, 1);               /* shorter than the header */
	vqd_add(&f.d, &ro, 1);                 /* read-only: nothing to write into */
	post(&f, 2, 2048, RXBASE + 8192);
	REQUIRE_EQ_INT(send_frame(&f, 3000, 6), 0);
	virtio_net_rx(&f.n);
	CHECK_EQ_U64(f.n.rx_dropped, 2);       /* both handed back empty */
	REQUIRE_EQ_INT(vqd_used_idx(&f.d), 4);
	{
		uint32_t id, len;

		vqd_used_elem(&f.d, 0, &id, &len);
		CHECK_EQ_U64(len, 0);
		vqd_used_elem(&f.d, 1, &id, &len);
		CHECK_EQ_U64(len, 0);
	}
	CHECK_EQ_U64(f.n.rx_packets, 1);
	rxf_teardown(&f);
}

/* An unusable chain behind chains the device still holds must not be handed back ahead
 * of them (a used entry out of ring order, and the held ones given back over it). */
TEST(rx_mergeable_unusable_chain_behind_held_ones)
{
	struct rxf f;
	struct vqd_buf ro = { RXBASE + 4096, 2048, false };
	uint32_t ids[4], len;

	REQUIRE_EQ_INT(rxf_setup(&f, 256, true), 0);
	post(&f, 1, 2048, RXBASE);             /* descriptor 0 */
	vqd_add(&f.d, &ro, 1);                 /* 1: read-only */
	post(&f, 40, 2048, RXBASE + 8192);     /* 2..41 */
	for (uint8_t k = 0; k < 3; k++)
		REQUIRE_EQ_INT(send_frame(&f, 66, k), 0);
	virtio_net_rx(&f.n);
	CHECK_EQ_U64(f.n.rx_packets, 3);
	CHECK_EQ_U64(f.n.rx_dropped, 1);
	REQUIRE_EQ_INT(vqd_used_idx(&f.d), 4);
	for (uint16_t k = 0; k < 4; k++)
		vqd_used_elem(&f.d, k, &ids[k], &len);
	CHECK_EQ_U64(ids[0], 0);
	CHECK_EQ_U64(ids[1], 1);               /* handed back empty, once */
	vqd_used_elem(&f.d, 1, &ids[1], &len);
	CHECK_EQ_U64(len, 0);
	CHECK_EQ_U64(ids[2], 2);
	CHECK_EQ_U64(ids[3], 3);
	CHECK(frame_in_used(&f, 0, 1, 66, 0, RXBASE, 2048));
	/* Every available chain accounted for: 4 used, 38 still available. */
	CHECK_EQ_INT((uint16_t)(f.d.avail_idx - f.n.mmio.queues[0].last_avail), 38);
	rxf_teardown(&f);
}

TEST(rx_single_buffer_per_frame_without_mrg)
{
	struct rxf f;

	REQUIRE_EQ_INT(rxf_setup(&f, 256, false), 0);
	post(&f, 2, 65562, RXBASE);
	REQUIRE_EQ_INT(send_frame(&f, 65562, 7), 0);
	REQUIRE_EQ_INT(send_frame(&f, 60, 8), 0);
	virtio_net_rx(&f.n);
	REQUIRE_EQ_INT(vqd_used_idx(&f.d), 2);
	CHECK(frame_in_used(&f, 0, 1, 65562, 7, RXBASE, 65562));
	CHECK(frame_in_used(&f, 1, 1, 60, 8, RXBASE, 65562));
	/* No buffers left: the device stops polling the tap until the guest posts more. */
	REQUIRE_EQ_INT(send_frame(&f, 60, 9), 0);
	virtio_net_rx(&f.n);
	CHECK(f.n.rx_wait);
	rxf_teardown(&f);
}

/* With EVENT_IDX, a device waiting for more buffers than the ring holds must ask to be
 * notified past the ones it already saw, or the driver never kicks it again. */
TEST(rx_mergeable_wait_sets_avail_event_past_seen_buffers)
{
	struct rxf f;

	REQUIRE_EQ_INT(rxf_setup_ev(&f, 256, true, true), 0);
	post(&f, 2, 2048, RXBASE);
	REQUIRE_EQ_INT(send_frame(&f, 9000, 10), 0);
	virtio_net_rx(&f.n);
	CHECK_EQ_INT(vqd_used_idx(&f.d), 0);
	CHECK(f.n.rx_wait);
	/* avail_event sits after the used ring's 256 entries. */
	CHECK_EQ_INT(vqd_r16(&f.d, f.d.q.used_gpa + 4 + 8 * 256), 2);
	post(&f, 3, 2048, RXBASE + 2 * 2048);
	virtio_net_rx(&f.n);
	REQUIRE_EQ_INT(vqd_used_idx(&f.d), 5);
	CHECK(frame_in_used(&f, 0, 5, 9000, 10, RXBASE, 2048));
	rxf_teardown(&f);
}

/* ---- transmit: a second synthetic guest (its own RAM and rings) holds the tx queue;
 * the socket pair's peer plays the host behind the tap ---- */

struct txf {
	struct rxf r;           /* queue 0, the tap and its peer */
	struct vqd t;           /* queue 1 */
};

#define TXBASE 0x10000u
#define TXSLOT 4096u

static int txf_setup(struct txf *f, bool event_idx)
{
	memset(f, 0, sizeof(*f));
	if (rxf_setup_ev(&f->r, 256, true, event_idx) != 0 ||
	    vqd_init(&f->t, 256, true, event_idx) != 0)
		return -1;
	f->r.n.mmio.queues[1] = f->t.q;
	return 0;
}

static void txf_teardown(struct txf *f)
{
	rxf_teardown(&f->r);
	vqd_free(&f->t);
}

/* Queues frame k: a zero vnet header and len - 12 bytes (k + i) in one readable buffer. */
static void tx_queue(struct txf *f, unsigned int k, uint32_t len)
{
	uint64_t gpa = TXBASE + (uint64_t)(k % 64) * TXSLOT;
	uint8_t *p = vqd_ptr(&f->t, gpa);
	struct vqd_buf b = { gpa, len, false };

	memset(p, 0, 12);
	for (uint32_t i = 12; i < len; i++)
		p[i] = (uint8_t)(k + i);
	vqd_add(&f->t, &b, 1);
}

/* The next frame the peer got is frame k of len bytes. */
static bool peer_got(struct txf *f, unsigned int k, uint32_t len)
{
	static uint8_t buf[TXSLOT];
	ssize_t got = recv(f->r.peer, buf, sizeof(buf), 0);

	if (got != (ssize_t)len)
		return false;
	for (uint32_t i = 12; i < len; i++)
		if (buf[i] != (uint8_t)(k + i))
			return false;
	return true;
}

TEST(tx_sends_each_frame_and_interrupts_once_per_batch)
{
	struct txf f;

	REQUIRE_EQ_INT(txf_setup(&f, false), 0);
	for (unsigned int k = 0; k < 8; k++)
		tx_queue(&f, k, 100 + 10 * k);
	tx_queue(&f, 8, 6);                    /* shorter than the vnet header: dropped */
	virtio_net_tx(&f.r.n);
	CHECK_EQ_INT(vqd_used_idx(&f.t), 9);   /* all handed back, the short one too */
	for (unsigned int k = 0; k < 8; k++)
		CHECK(peer_got(&f, k, 100 + 10 * k));
	CHECK_EQ_U64(f.r.n.tx_packets, 8);
	CHECK_EQ_U64(f.r.n.tx_dropped, 1);
	CHECK_EQ_U64(f.r.n.prof.tx_writes, 8);
	CHECK_EQ_U64(f.r.n.mmio.irq.pulses, 1);
	CHECK_EQ_U64(f.r.n.mmio.interrupt_status, VIRTIO_INT_USED);
	/* Nothing new: no interrupt. */
	virtio_net_tx(&f.r.n);
	CHECK_EQ_U64(f.r.n.mmio.irq.pulses, 1);
	txf_teardown(&f);
}

/* EVENT_IDX on tx: Linux asks for an interrupt only once most of what it queued is done
 * (virtqueue_enable_cb_delayed); the device signals when used->idx passes used_event. */
TEST(tx_event_idx_interrupts_only_past_used_event)
{
	struct txf f;

	REQUIRE_EQ_INT(txf_setup(&f, true), 0);
	for (unsigned int k = 0; k < 4; k++)
		tx_queue(&f, k, 200);
	virtio_net_tx(&f.r.n);                 /* the first signal is unconditional */
	CHECK_EQ_INT(vqd_used_idx(&f.t), 4);
	CHECK_EQ_U64(f.r.n.mmio.irq.pulses, 1);
	/* The driver is asked to kick for anything after what the device saw. */
	CHECK_EQ_INT(vqd_avail_event(&f.t), 4);
	vqd_set_used_event(&f.t, 9);           /* not before entry 9 */
	for (unsigned int k = 4; k < 8; k++)
		tx_queue(&f, k, 200);
	virtio_net_tx(&f.r.n);
	CHECK_EQ_INT(vqd_used_idx(&f.t), 8);
	CHECK_EQ_U64(f.r.n.mmio.irq.pulses, 1);
	for (unsigned int k = 8; k < 10; k++)
		tx_queue(&f, k, 200);
	virtio_net_tx(&f.r.n);
	CHECK_EQ_INT(vqd_used_idx(&f.t), 10);
	CHECK_EQ_U64(f.r.n.mmio.irq.pulses, 2);
	CHECK_EQ_U64(f.r.n.prof.tx_irqs, 2);
	CHECK_EQ_INT(vqd_avail_event(&f.t), 10);
	for (unsigned int k = 0; k < 10; k++)
		CHECK(peer_got(&f, k, 200));
	txf_teardown(&f);
}

/* A transmit kick also takes what the tap holds for the guest (the peer's replies: a
 * host's TCP ACKs are queued by the time the tap's writev returns) and signals both
 * queues with one interrupt. Before, the transmit completions and the reply were two
 * interrupts, each a handler run with two register exits in the guest. */
TEST(tx_kick_takes_the_reply_and_interrupts_once_for_both_queues)
{
	struct txf f;

	REQUIRE_EQ_INT(txf_setup(&f, false), 0);
	post(&f.r, 40, 2048, RXBASE);
	for (unsigned int k = 0; k < 3; k++)
		tx_queue(&f, k, 1000);
	REQUIRE_EQ_INT(send_frame(&f.r, 66, 42), 0);   /* the reply, already queued */
	virtio_net_tx_kick(&f.r.n);
	CHECK_EQ_INT(vqd_used_idx(&f.t), 3);
	for (unsigned int k = 0; k < 3; k++)
		CHECK(peer_got(&f, k, 1000));
	REQUIRE_EQ_INT(vqd_used_idx(&f.r.d), 1);
	CHECK(frame_in_used(&f.r, 0, 1, 66, 42, RXBASE, 2048));
	CHECK_EQ_U64(f.r.n.prof.tx_irqs, 1);
	CHECK_EQ_U64(f.r.n.prof.rx_irqs, 1);
	CHECK_EQ_U64(f.r.n.mmio.irq.pulses, 1);
	CHECK_EQ_U64(f.r.n.mmio.interrupt_status, VIRTIO_INT_USED);
	CHECK_EQ_U64(f.r.n.prof.rx_empty, 1);  /* the read after the reply */
	/* A kick with nothing to send: no answer to look for, no interrupt. */
	virtio_net_tx_kick(&f.r.n);
	CHECK_EQ_U64(f.r.n.mmio.irq.pulses, 1);
	CHECK_EQ_U64(f.r.n.prof.rx_reads, 2);
	txf_teardown(&f);
}

/* Waiting for rx buffers (the guest's rx kick ends it), a transmit kick leaves the tap
 * alone. */
TEST(tx_kick_without_rx_buffers_leaves_the_tap)
{
	struct txf f;
	uint8_t b;

	REQUIRE_EQ_INT(txf_setup(&f, false), 0);
	REQUIRE_EQ_INT(send_frame(&f.r, 66, 1), 0);
	virtio_net_rx(&f.r.n);                 /* no buffers posted */
	REQUIRE(f.r.n.rx_wait);
	tx_queue(&f, 0, 500);
	virtio_net_tx_kick(&f.r.n);
	CHECK(peer_got(&f, 0, 500));
	CHECK_EQ_U64(f.r.n.mmio.irq.pulses, 1);
	CHECK_EQ_INT(vqd_used_idx(&f.r.d), 0);
	CHECK_EQ_INT((int)recv(f.r.n.tap_fd, &b, 1, MSG_PEEK | MSG_TRUNC), 66);  /* still there */
	txf_teardown(&f);
}
