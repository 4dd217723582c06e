/* libFuzzer target: the virtio-vsock packet decoder and connection state machine, driven
 * by a hostile guest and hostile host clients.
 *
 * Input: a list of records, each one tag byte then its bytes:
 *   0 packet:  flags, 44 header bytes, plen, plen payload bytes. Unless flags bit 0, the
 *              CIDs are forced to guest -> host (so the state machine is reached); bit 1
 *              splits header and payload into two descriptors; bit 2 sets len = plen;
 *              bit 3 points dst_port at the listening port 1 (a guest connect that works).
 *   1 client:  n (< 48), n bytes: a host client connects to uds_path and sends them.
 *   2 rx:      n, size: n rx buffers of size bytes (bit 7 of n: read-only).
 *   3 poll     one virtio_vsock_poll round.
 *   4 peer:    action: the newest Unix socket (client or accepted) sends bytes, closes, or
 *              reads what waits.
 * Guest RAM is one exact-size heap block (ASan sees any stray access); rx, tx queues of 16
 * entries at fixed addresses. Checked after every round: each packet the device put in
 * the rx ring is from CID 2 to the guest's CID, a known op, a stream, its len fits the
 * buffer and is what the used ring reports; no connection buffers more than
 * VSOCK_BUF_ALLOC; the connection count and the RST queue stay bounded. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "devices/virtio/virtio_vsock.h"
#include "util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ASSERT(c)                                                                        \
	do {                                                                             \
		if (!(c)) {                                                              \
			fprintf(stderr, "fuzz_virtio_vsock: %s:%d: assertion failed: %s\n", \
				__FILE__, __LINE__, #c);                                 \
			abort();                                                         \
		}                                                                        \
	} while (0)

#define CID 3
#define RAM (256u * 1024u)
#define QSZ 16
#define RX_DESC 0x1000u
#define RX_AVAIL 0x1200u
#define RX_USED 0x1400u
#define TX_DESC 0x2000u
#define TX_AVAIL 0x2200u
#define TX_USED 0x2400u
#define RX_BUF 0x4000u
#define RX_SLOT 0x1000u            /* 16 slots of 4 KiB */
#define TX_BUF 0x20000u
#define TX_SLOT 0x1000u
#define MAX_PEERS 64

static struct virtio_vsock v;
static int listen_fd = -1;
static char uds[96];
static int peers[MAX_PEERS];
static unsigned int npeers;

struct q {
	uint64_t desc, avail, used;
	uint16_t avail_idx, used_seen;
	uint32_t len[QSZ];
};

static uint8_t *ram;

static void w16(uint64_t a, uint16_t x) { memcpy(ram + a, &x, 2); }
static uint16_t r16(uint64_t a) { uint16_t x; memcpy(&x, ram + a, 2); return x; }
static uint32_t r32(uint64_t a) { uint32_t x; memcpy(&x, ram + a, 4); return x; }

static void desc(struct q *q, unsigned int i, uint64_t addr, uint32_t len, uint16_t flags,
		 uint16_t next)
{
	uint64_t p = q->desc + 16ULL * i;

	memcpy(ram + p, &addr, 8);
	memcpy(ram + p + 8, &len, 4);
	w16(p + 12, flags);
	w16(p + 14, next);
}

static void publish(struct q *q, uint16_t head)
{
	w16(q->avail + 4 + 2ULL * (q->avail_idx % QSZ), head);
	q->avail_idx++;
	w16(q->avail + 2, q->avail_idx);
}

static char dir[] = "/tmp/ember-fuzz-vsock-XXXXXX";

/* The device's socket goes with virtio_vsock_close; the listener's and the directory here. */
static void cleanup(void)
{
	char p[128];

	virtio_vsock_close(&v);
	snprintf(p, sizeof(p), "%s_1", uds);
	unlink(p);
	rmdir(dir);
}

static void setup_once(void)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };

	log_threshold = LOG_ERROR;
	if (!mkdtemp(dir))
		abort();
	snprintf(uds, sizeof(uds), "%s/v", dir);
	if (virtio_vsock_open(&v, CID, uds) < 0)
		abort();
	snprintf(a.sun_path, sizeof(a.sun_path), "%s_1", uds);
	listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(listen_fd, 64) < 0)
		abort();
	atexit(cleanup);
}

static void add_peer(int fd)
{
	if (npeers == MAX_PEERS) {
		close(fd);
		return;
	}
	peers[npeers++] = fd;
}

/* Checks the packets the device returned in the rx ring since last time. */
static void check_rx(struct q *rx)
{
	while (r16(rx->used + 2) != rx->used_seen) {
		uint64_t e = rx->used + 4 + 8ULL * (rx->used_seen % QSZ);
		uint32_t id = r32(e), len = r32(e + 4);
		struct vsock_hdr h;

		rx->used_seen++;
		ASSERT(id < QSZ);
		ASSERT(len <= rx->len[id]);
		if (len == 0)
			continue;
		ASSERT(len >= VSOCK_HDR_LEN);
		vsock_hdr_decode(ram + RX_BUF + (uint64_t)id * RX_SLOT, &h);
		ASSERT(h.src_cid == VSOCK_HOST_CID && h.dst_cid == CID);
		ASSERT(h.op >= VSOCK_OP_REQUEST && h.op <= VSOCK_OP_CREDIT_REQUEST);
		ASSERT(h.op != VSOCK_OP_RW || h.len > 0);
		ASSERT(h.len == len - VSOCK_HDR_LEN);
		ASSERT(h.op == VSOCK_OP_RST || h.buf_alloc == VSOCK_BUF_ALLOC);
	}
}

static void check_state(void)
{
	unsigned int n = 0;

	ASSERT(v.nconns <= VSOCK_MAX_CONNS);
	ASSERT(v.rst_count <= VSOCK_RST_QUEUE);
	for (struct vsock_link *l = v.all.next; l != &v.all; l = l->next) {
		const struct vsock_conn *c = (const struct vsock_conn *)(const void *)
			((const char *)l - offsetof(struct vsock_conn, all));

		ASSERT(c->buf_len <= VSOCK_BUF_ALLOC);
		ASSERT(c->buf_len == 0 || c->buf != NULL);
		n++;
	}
	ASSERT(n == v.nconns);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int once;
	struct guest_mem mem;
	struct q rx = { RX_DESC, RX_AVAIL, RX_USED, 0, 0, { 0 } };
	struct q tx = { TX_DESC, TX_AVAIL, TX_USED, 0, 0, { 0 } };
	size_t i = 0;
	unsigned int steps = 0;

	if (!once) {
		setup_once();
		once = 1;
	}
	ram = calloc(1, RAM);
	if (!ram)
		abort();
	guest_mem_init_from(&mem, ram, RAM);
	if (virtio_mmio_init(&v.mmio, &virtio_vsock_ops, &v, &mem, 0, 5) < 0)
		abort();
	v.mmio.status = VIRTIO_STATUS_DRIVER_OK;
	struct { unsigned int qi; struct q *q; } qs[2] = { { VSOCK_RXQ, &rx }, { VSOCK_TXQ, &tx } };
	for (unsigned int k = 0; k < 2; k++) {
		struct vq *vq = &v.mmio.queues[qs[k].qi];

		vq->size = QSZ;
		vq->desc_gpa = qs[k].q->desc;
		vq->avail_gpa = qs[k].q->avail;
		vq->used_gpa = qs[k].q->used;
		ASSERT(vq_activate(vq, &mem) == 0);
	}

	while (i < size && steps++ < 256) {
		uint8_t tag = data[i++] % 5;

		switch (tag) {
		case 0: {
			uint8_t flags, raw[VSOCK_HDR_LEN], plen;
			struct vsock_hdr h;
			uint16_t slot = (uint16_t)(tx.avail_idx % (QSZ / 2));
			uint64_t buf = TX_BUF + (uint64_t)slot * TX_SLOT;
			uint16_t d0 = (uint16_t)(2 * slot);

			if (size - i < 1 + VSOCK_HDR_LEN + 1)
				goto done;
			flags = data[i++];
			memcpy(raw, data + i, VSOCK_HDR_LEN);
			i += VSOCK_HDR_LEN;
			plen = data[i++];
			if (plen > size - i)
				plen = (uint8_t)(size - i);
			vsock_hdr_decode(raw, &h);
			if (!(flags & 1)) {
				h.src_cid = CID;
				h.dst_cid = VSOCK_HOST_CID;
			}
			if (flags & 4)
				h.len = plen;
			if (flags & 8)
				h.dst_port = 1;
			vsock_hdr_encode(&h, raw);
			if ((uint16_t)(tx.avail_idx - r16(tx.used + 2)) >= QSZ / 2)
				virtio_vsock_poll(&v, 0);
			memcpy(ram + buf, raw, VSOCK_HDR_LEN);
			memcpy(ram + buf + VSOCK_HDR_LEN, data + i, plen);
			i += plen;
			if ((flags & 2) && plen) {
				desc(&tx, d0, buf, VSOCK_HDR_LEN, VRING_DESC_F_NEXT, (uint16_t)(d0 + 1));
				desc(&tx, d0 + 1u, buf + VSOCK_HDR_LEN, plen, 0, 0);
			} else {
				desc(&tx, d0, buf, VSOCK_HDR_LEN + (uint32_t)plen, 0, 0);
			}
			publish(&tx, d0);
			break;
		}
		case 1: {
			struct sockaddr_un a = { .sun_family = AF_UNIX };
			size_t n;
			int fd;

			if (i >= size)
				goto done;
			n = data[i++] % 48;
			if (n > size - i)
				n = size - i;
			memcpy(a.sun_path, uds, strlen(uds) + 1);
			fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
			if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
				(void)!send(fd, data + i, n, MSG_NOSIGNAL);
				add_peer(fd);
			} else if (fd >= 0) {
				close(fd);
			}
			i += n;
			break;
		}
		case 2: {
			uint8_t n, sz;

			if (size - i < 2)
				goto done;
			n = data[i++];
			sz = data[i++];
			for (unsigned int k = 0; k < (n & 15u) + 1; k++) {
				uint16_t slot = (uint16_t)(rx.avail_idx % QSZ);
				uint32_t len = (uint32_t)sz * 16u;

				if ((uint16_t)(rx.avail_idx - rx.used_seen) >= QSZ)
					break;
				if (len > RX_SLOT)
					len = RX_SLOT;
				rx.len[slot] = (n & 0x80) ? 0 : len;
				desc(&rx, slot, RX_BUF + (uint64_t)slot * RX_SLOT, len,
				     (n & 0x80) ? 0 : VRING_DESC_F_WRITE, 0);
				publish(&rx, slot);
			}
			break;
		}
		case 3:
			virtio_vsock_poll(&v, 0);
			check_rx(&rx);
			check_state();
			break;
		case 4: {
			uint8_t act, buf[4096];
			int fd;

			if (i >= size)
				goto done;
			act = data[i++];
			while ((fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0)
				add_peer(fd);
			if (!npeers)
				break;
			fd = peers[npeers - 1];
			if (act % 3 == 0) {
				memset(buf, act, sizeof(buf));
				(void)!send(fd, buf, (size_t)(act / 3u) * 48u, MSG_NOSIGNAL | MSG_DONTWAIT);
			} else if (act % 3 == 1) {
				close(fd);
				npeers--;
			} else {
				(void)!recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
			}
			break;
		}
		default:
			break;
		}
	}
done:
	virtio_vsock_poll(&v, 0);
	check_rx(&rx);
	check_state();
	while (npeers)
		close(peers[--npeers]);
	{
		int fd;

		while ((fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC)) >= 0)
			close(fd);
	}
	/* Host clients still in the device's backlog are closed: let it take them now. */
	virtio_vsock_poll(&v, 0);
	virtio_vsock_reset_conns(&v);
	virtio_mmio_destroy(&v.mmio);
	free(ram);
	return 0;
}
