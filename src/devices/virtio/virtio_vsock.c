/* virtio-vsock's queues: packets from the guest (tx) through the connection state
 * machine, packets to the guest (rx: queued resets, control packets, then data within the
 * guest's credit), and the worker that polls the queue kicks and the Unix sockets' epoll
 * set. The Unix side is vsock_host.c. */
#include "devices/virtio/virtio_vsock.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "devices/virtio/vsock_host.h"
#include "util/log.h"

#define QUEUE_SIZE 256
#define EPOLL_BATCH 64

/* Worker fd slots. */
enum { FD_RX_KICK = 0, FD_TX_KICK = 1, FD_EV_KICK = 2, FD_EPOLL = 3 };

#define VSOCK_CONN_OF(ptr, member) \
	((struct vsock_conn *)(void *)((char *)(ptr) - offsetof(struct vsock_conn, member)))

/* ---- packets from the guest (tx) ---- */

void vsock_stray_rst(struct virtio_vsock *v, const struct vsock_hdr *h)
{
	struct vsock_hdr *r;

	if (h->op == VSOCK_OP_RST)
		return;  /* never answer an RST with one */
	if (v->rst_count == VSOCK_RST_QUEUE) {
		v->rx_dropped++;
		return;
	}
	r = &v->rst_queue[(v->rst_head + v->rst_count) % VSOCK_RST_QUEUE];
	*r = (struct vsock_hdr){
		.src_cid = VSOCK_HOST_CID, .dst_cid = v->guest_cid, .src_port = h->dst_port,
		.dst_port = h->src_port, .type = h->type, .op = VSOCK_OP_RST,
	};
	v->rst_count++;
}

/* Copies [off, off + len) of the chain's readable part into an iovec array. */
static unsigned int chain_slice(const struct vq_chain *c, uint64_t off, uint64_t len,
				struct iovec *out)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < c->n_out && len; i++) {
		uint64_t l = c->iov[i].iov_len;

		if (off >= l) {
			off -= l;
			continue;
		}
		uint64_t take = l - off < len ? l - off : len;

		out[n].iov_base = (uint8_t *)c->iov[i].iov_base + off;
		out[n].iov_len = (size_t)take;
		n++;
		len -= take;
		off = 0;
	}
	return n;
}

static void guest_data(struct virtio_vsock *v, struct vsock_conn *c, const struct vq_chain *ch,
		       uint32_t len)
{
	uint32_t done = 0;

	if (c->state != VSOCK_ESTABLISHED || (c->shut_rcvd & VSOCK_SHUTDOWN_SEND)) {
		vsock_reset_conn(v, c);
		return;
	}
	if (len > vsock_conn_room(c)) {
		log_debug("virtio-vsock: %u:%u: the guest sent %u bytes past its credit; reset",
			  c->local_port, c->peer_port, len - vsock_conn_room(c));
		vsock_reset_conn(v, c);
		return;
	}
	c->rx_cnt += len;
	if (!vsock_conn_has_output(c) && len) {
		/* Straight from guest memory to the socket; only what it refuses is copied. */
		struct iovec iov[VQ_MAX_CHAIN];
		struct msghdr msg = { .msg_iov = iov };
		ssize_t n;

		msg.msg_iovlen = chain_slice(ch, VSOCK_HDR_LEN, len, iov);
		do
			n = sendmsg(c->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
		while (n < 0 && errno == EINTR);
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
			vsock_reset_conn(v, c);
			return;
		}
		if (n > 0) {
			done = (uint32_t)n;
			c->fwd_cnt += done;
		}
	}
	while (done < len) {
		uint32_t chunk = len - done < VSOCK_MAX_PKT ? len - done : VSOCK_MAX_PKT;

		vq_chain_read(ch, VSOCK_HDR_LEN + (uint64_t)done, v->scratch, chunk);
		if (vsock_conn_buf_put(c, v->scratch, chunk) < 0) {
			vsock_reset_conn(v, c);
			return;
		}
		done += chunk;
	}
	vsock_credit_check(v, c);
	vsock_watch(v, c);
}

static void guest_shutdown(struct virtio_vsock *v, struct vsock_conn *c, uint32_t flags)
{
	if (c->state != VSOCK_ESTABLISHED) {
		vsock_reset_conn(v, c);
		return;
	}
	c->shut_rcvd |= flags & (VSOCK_SHUTDOWN_RCV | VSOCK_SHUTDOWN_SEND);
	if (c->shut_rcvd & VSOCK_SHUTDOWN_RCV)
		vsock_list_del(&c->ready);
	if (c->shut_rcvd == (VSOCK_SHUTDOWN_RCV | VSOCK_SHUTDOWN_SEND)) {
		/* The guest closed: deliver what it sent, then the RST that ends it. */
		if (!vsock_conn_has_output(c)) {
			vsock_reset_conn(v, c);
			return;
		}
		c->state = VSOCK_DRAIN;
	} else if ((c->shut_rcvd & VSOCK_SHUTDOWN_SEND) && !vsock_conn_has_output(c)) {
		shutdown(c->fd, SHUT_WR);
	}
	vsock_watch(v, c);
}

static void guest_response(struct virtio_vsock *v, struct vsock_conn *c)
{
	int n;

	if (c->state != VSOCK_REQUESTED) {
		vsock_reset_conn(v, c);
		return;
	}
	c->state = VSOCK_ESTABLISHED;
	n = snprintf(c->ok_line, sizeof(c->ok_line), "OK %u\n", c->local_port);
	c->ok_len = (uint8_t)n;
	c->ok_off = 0;
	vsock_flush(v, c);
}

void virtio_vsock_handle_tx(struct virtio_vsock *v, const struct vq_chain *ch)
{
	uint8_t raw[VSOCK_HDR_LEN];
	struct vsock_hdr h;
	struct vsock_conn *c;

	if (ch->out_len < VSOCK_HDR_LEN) {
		v->tx_dropped++;
		return;
	}
	vq_chain_read(ch, 0, raw, VSOCK_HDR_LEN);
	vsock_hdr_decode(raw, &h);
	if (h.src_cid != v->guest_cid || h.dst_cid != VSOCK_HOST_CID) {
		v->tx_dropped++;  /* not from this guest or not for the host: ignored */
		return;
	}
	c = vsock_table_find(&v->table, h.dst_port, h.src_port);
	if (h.len > ch->out_len - VSOCK_HDR_LEN || h.type != VSOCK_TYPE_STREAM) {
		v->tx_dropped++;
		if (c && c->state != VSOCK_DEAD)
			vsock_reset_conn(v, c);
		else if (!c)
			vsock_stray_rst(v, &h);
		return;
	}
	if (!c) {
		if (h.op == VSOCK_OP_REQUEST)
			vsock_guest_connect(v, &h);
		else
			vsock_stray_rst(v, &h);
		return;
	}
	if (c->state == VSOCK_DEAD) {
		if (h.op == VSOCK_OP_RST)
			vsock_close_conn(v, c);  /* both sides reset: nothing left to tell */
		return;
	}
	c->peer_buf_alloc = h.buf_alloc;
	c->peer_fwd_cnt = h.fwd_cnt;
	if (c->credit_wait && vsock_conn_peer_credit(c) > 0) {
		c->credit_wait = false;
		if (vsock_can_read(c))
			vsock_list_add_tail(&v->ready, &c->ready);
	}
	switch (h.op) {
	case VSOCK_OP_RESPONSE:
		guest_response(v, c);
		break;
	case VSOCK_OP_RST:
		vsock_close_conn(v, c);  /* a refusal or an abort: the Unix socket closes */
		break;
	case VSOCK_OP_SHUTDOWN:
		guest_shutdown(v, c, h.flags);
		break;
	case VSOCK_OP_RW:
		guest_data(v, c, ch, h.len);
		break;
	case VSOCK_OP_CREDIT_UPDATE:
		break;
	case VSOCK_OP_CREDIT_REQUEST:
		if (c->state == VSOCK_ESTABLISHED)
			vsock_want(v, c, VSOCK_P_CREDIT_UPDATE);
		break;
	default:  /* a second REQUEST, or an unknown op */
		v->tx_dropped++;
		vsock_reset_conn(v, c);
		break;
	}
}

static void tx_process(struct virtio_vsock *v)
{
	struct vq *q = &v->mmio.queues[VSOCK_TXQ];
	struct vq_chain c;
	int r;

	if (!q->ready)
		return;
	do {
		vq_enable_notify(q, false);
		while ((r = vq_pop(q, &c)) > 0) {
			virtio_vsock_handle_tx(v, &c);
			vq_push(q, c.head, 0);
			v->tx_packets++;
		}
		virtio_mmio_notify_used(&v->mmio, q);
		if (r < 0) {
			virtio_mmio_needs_reset(&v->mmio);
			return;
		}
	} while (vq_enable_notify(q, true));
}

/* ---- packets to the guest (rx) ---- */

/* The next rx chain that can hold a header; unusable ones (too short, read-only) go back
 * empty. 1: got one; 0: none left (notifications are on); -1: broken ring. */
static int rx_chain(struct virtio_vsock *v, struct vq_chain *c, bool *pushed)
{
	struct vq *q = &v->mmio.queues[VSOCK_RXQ];

	for (;;) {
		int r = vq_pop(q, c);

		if (r < 0) {
			virtio_mmio_needs_reset(&v->mmio);
			return -1;
		}
		if (r == 0) {
			if (vq_enable_notify(q, true))
				continue;
			return 0;
		}
		if (c->in_len >= VSOCK_HDR_LEN)
			return 1;
		vq_push(q, c->head, 0);
		*pushed = true;
		v->rx_dropped++;
	}
}

static void rx_put(struct virtio_vsock *v, struct vq_chain *ch, const struct vsock_hdr *h,
		   const uint8_t *payload)
{
	uint8_t raw[VSOCK_HDR_LEN];

	vsock_hdr_encode(h, raw);
	vq_chain_write(ch, 0, raw, VSOCK_HDR_LEN);
	if (h->len)
		vq_chain_write(ch, VSOCK_HDR_LEN, payload, h->len);
	vq_push(&v->mmio.queues[VSOCK_RXQ], ch->head, VSOCK_HDR_LEN + h->len);
	v->rx_packets++;
}

static struct vsock_hdr conn_hdr(struct virtio_vsock *v, struct vsock_conn *c, uint16_t op)
{
	c->fwd_sent = c->fwd_cnt;
	return (struct vsock_hdr){
		.src_cid = VSOCK_HOST_CID, .dst_cid = v->guest_cid, .src_port = c->local_port,
		.dst_port = c->peer_port, .type = VSOCK_TYPE_STREAM, .op = op,
		.buf_alloc = VSOCK_BUF_ALLOC, .fwd_cnt = c->fwd_cnt,
	};
}

/* Sends the connection's most urgent control packet. */
static void rx_control(struct virtio_vsock *v, struct vsock_conn *c, struct vq_chain *ch)
{
	static const struct { uint32_t bit; uint16_t op; } order[] = {
		{ VSOCK_P_RST, VSOCK_OP_RST },
		{ VSOCK_P_REQUEST, VSOCK_OP_REQUEST },
		{ VSOCK_P_RESPONSE, VSOCK_OP_RESPONSE },
		{ VSOCK_P_CREDIT_UPDATE, VSOCK_OP_CREDIT_UPDATE },
		{ VSOCK_P_CREDIT_REQUEST, VSOCK_OP_CREDIT_REQUEST },
		{ VSOCK_P_SHUTDOWN, VSOCK_OP_SHUTDOWN },
	};

	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		struct vsock_hdr h;

		if (!(c->pending & order[i].bit))
			continue;
		c->pending &= ~order[i].bit;
		h = conn_hdr(v, c, order[i].op);
		if (order[i].op == VSOCK_OP_SHUTDOWN)
			h.flags = c->shut_sent;
		rx_put(v, ch, &h, NULL);
		if (order[i].op == VSOCK_OP_RST) {
			vsock_close_conn(v, c);
			return;
		}
		break;
	}
	if (!c->pending)
		vsock_list_del(&c->ctl);
}

/* Moves Unix bytes into the chain within the guest's credit. Returns false when the chain
 * was not used (given back). */
static bool rx_data(struct virtio_vsock *v, struct vsock_conn *c, struct vq_chain *ch)
{
	uint64_t room = ch->in_len - VSOCK_HDR_LEN;
	uint32_t max = vsock_conn_peer_credit(c);
	struct vsock_hdr h;
	ssize_t n;

	if (max > room)
		max = (uint32_t)room;
	if (max > VSOCK_MAX_PKT)
		max = VSOCK_MAX_PKT;
	if (max == 0) {
		/* A buffer of exactly one header: unusable for data, keep it for control. */
		vsock_list_del(&c->ready);
		vsock_list_add_tail(&v->ready, &c->ready);
		return false;
	}
	do
		n = recv(c->fd, v->scratch, max, MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		vsock_list_del(&c->ready);
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			vsock_watch(v, c);  /* wait for more */
		else
			vsock_reset_conn(v, c);
		return false;
	}
	if (n == 0) {
		/* EOF: the host side sends no more (and receives no more if it hung up). */
		vsock_list_del(&c->ready);
		c->eof = true;
		c->shut_sent |= VSOCK_SHUTDOWN_SEND | (c->hup ? VSOCK_SHUTDOWN_RCV : 0);
		vsock_want(v, c, VSOCK_P_SHUTDOWN);
		vsock_watch(v, c);
		return false;
	}
	h = conn_hdr(v, c, VSOCK_OP_RW);
	h.len = (uint32_t)n;
	rx_put(v, ch, &h, v->scratch);
	c->tx_cnt += (uint32_t)n;
	vsock_list_del(&c->ready);
	vsock_list_add_tail(&v->ready, &c->ready);  /* round robin */
	return true;
}

static void rx_process(struct virtio_vsock *v)
{
	struct vq *q = &v->mmio.queues[VSOCK_RXQ];
	struct vq_chain ch;
	bool pushed = false;
	bool have = false;      /* ch holds a popped, unused chain */

	if (!q->ready)
		return;
	for (;;) {
		struct vsock_conn *c;

		if (!v->rst_count && v->ctl.next == &v->ctl && v->ready.next == &v->ready)
			break;
		if (!have) {
			int r = rx_chain(v, &ch, &pushed);

			if (r <= 0)
				break;
			have = true;
		}
		if (v->rst_count) {
			rx_put(v, &ch, &v->rst_queue[v->rst_head], NULL);
			v->rst_head = (v->rst_head + 1) % VSOCK_RST_QUEUE;
			v->rst_count--;
		} else if (v->ctl.next != &v->ctl) {
			rx_control(v, VSOCK_CONN_OF(v->ctl.next, ctl), &ch);
		} else {
			c = VSOCK_CONN_OF(v->ready.next, ready);
			if (!vsock_can_read(c)) {
				vsock_list_del(&c->ready);
				continue;
			}
			if (vsock_conn_peer_credit(c) == 0) {
				vsock_list_del(&c->ready);
				c->credit_wait = true;
				vsock_want(v, c, VSOCK_P_CREDIT_REQUEST);
				continue;
			}
			if (!rx_data(v, c, &ch)) {
				/* The chain is still ours, unless only one-header buffers remain:
				 * a one-entry ready list would then spin, so give it back. */
				if (ch.in_len == VSOCK_HDR_LEN && !v->rst_count &&
				    v->ctl.next == &v->ctl) {
					vq_unpop(q);
					have = false;
					break;
				}
				continue;
			}
		}
		have = false;
		pushed = true;
	}
	if (have)
		vq_unpop(q);
	if (pushed)
		virtio_mmio_notify_used(&v->mmio, q);
}

/* ---- the worker ---- */

void virtio_vsock_poll(struct virtio_vsock *v, int timeout_ms)
{
	struct epoll_event evs[EPOLL_BATCH];
	int n = epoll_wait(v->epoll_fd, evs, EPOLL_BATCH, timeout_ms);

	for (int i = 0; i < n; i++) {
		if (!evs[i].data.ptr)
			vsock_host_accept(v);
		else
			vsock_unix_event(v, evs[i].data.ptr, evs[i].events);
	}
	tx_process(v);
	rx_process(v);
}

static void vsock_event(void *dev, unsigned int idx)
{
	struct virtio_vsock *v = dev;

	if (idx <= FD_EV_KICK)
		eventfd_drain(v->mmio.notify_fd[idx]);
	/* The event queue carries only transport resets, which Ember never sends. */
	virtio_vsock_poll(v, 0);
}

void virtio_vsock_reset_conns(struct virtio_vsock *v)
{
	while (v->all.next != &v->all)
		vsock_close_conn(v, VSOCK_CONN_OF(v->all.next, all));
	v->rst_head = v->rst_count = 0;
}

static int vsock_activate(void *dev)
{
	struct virtio_vsock *v = dev;
	int fds[4] = { v->mmio.notify_fd[VSOCK_RXQ], v->mmio.notify_fd[VSOCK_TXQ],
		       v->mmio.notify_fd[VSOCK_EVQ], v->epoll_fd };
	short ev[4] = { POLLIN, POLLIN, POLLIN, POLLIN };

	return worker_start(&v->worker, "virtio-vsock", fds, ev, 4, vsock_event, v);
}

static void vsock_reset(void *dev)
{
	struct virtio_vsock *v = dev;

	worker_stop(&v->worker);
	virtio_vsock_reset_conns(v);
}

static void vsock_config_read(void *dev, uint32_t off, uint8_t *data, uint32_t len)
{
	struct virtio_vsock *v = dev;
	uint8_t cfg[8];

	for (unsigned int i = 0; i < 8; i++)
		cfg[i] = (uint8_t)(v->guest_cid >> (8 * i));
	memcpy(data, cfg + off, len);
}

const struct virtio_device_ops virtio_vsock_ops = {
	.name = "virtio-vsock",
	.device_id = VIRTIO_ID_VSOCK,
	.features = (1ULL << VIRTIO_F_RING_INDIRECT_DESC) | (1ULL << VIRTIO_F_RING_EVENT_IDX),
	.num_queues = 3,
	.queue_max = QUEUE_SIZE,
	.config_size = 8,
	.config_read = vsock_config_read,
	.activate = vsock_activate,
	.reset = vsock_reset,
};
