#include "devices/virtio/virtio_vsock.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/err.h"
#include "util/log.h"

#define QUEUE_SIZE 256
#define ACCEPT_BATCH 16
#define EPOLL_BATCH 64

/* Worker fd slots. */
enum { FD_RX_KICK = 0, FD_TX_KICK = 1, FD_EV_KICK = 2, FD_EPOLL = 3 };

#define CONN_OF(ptr, member) \
	((struct vsock_conn *)(void *)((char *)(ptr) - offsetof(struct vsock_conn, member)))

/* ---- connections ---- */

static struct vsock_conn *conn_new(struct virtio_vsock *v, int fd)
{
	struct vsock_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->fd = fd;
	vsock_list_add_tail(&v->all, &c->all);
	v->nconns++;
	return c;
}

static void conn_close_fd(struct vsock_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);  /* also leaves the epoll set */
	c->fd = -1;
	c->ep_added = false;
	c->ep_events = 0;
}

static void conn_free(struct virtio_vsock *v, struct vsock_conn *c)
{
	conn_close_fd(c);
	vsock_table_remove(&v->table, c);
	vsock_list_del(&c->all);
	vsock_list_del(&c->ctl);
	vsock_list_del(&c->ready);
	vsock_conn_buf_free(c);
	free(c);
	v->nconns--;
}

static void conn_want(struct virtio_vsock *v, struct vsock_conn *c, uint32_t bits)
{
	c->pending |= bits;
	vsock_list_add_tail(&v->ctl, &c->ctl);
}

/* Ember aborts the connection: the Unix socket closes now, the guest gets an RST (the
 * record goes once that is sent). A host client still in its CONNECT line just goes. */
static void conn_reset(struct virtio_vsock *v, struct vsock_conn *c)
{
	if (c->state == VSOCK_LINE) {
		conn_free(v, c);
		return;
	}
	v->resets++;
	conn_close_fd(c);
	vsock_conn_buf_free(c);
	c->ok_len = c->ok_off = 0;
	c->state = VSOCK_DEAD;
	c->pending = 0;
	vsock_list_del(&c->ready);
	conn_want(v, c, VSOCK_P_RST);
}

static bool conn_can_read(const struct vsock_conn *c)
{
	return c->state == VSOCK_ESTABLISHED && !c->eof && !(c->shut_rcvd & VSOCK_SHUTDOWN_RCV);
}

/* Makes epoll watch what the connection can use now: input while it may read and is
 * not already queued for reading, output while bytes wait for the Unix peer. */
static void conn_update_epoll(struct virtio_vsock *v, struct vsock_conn *c)
{
	struct epoll_event ev = { .data.ptr = c };
	uint32_t want = 0;

	if (c->fd < 0 || c->hup)
		return;
	if (c->state == VSOCK_LINE)
		want = EPOLLIN;
	if (conn_can_read(c) && !vsock_linked(&c->ready) && !c->credit_wait)
		want |= EPOLLIN;
	if ((c->state == VSOCK_ESTABLISHED || c->state == VSOCK_DRAIN) && vsock_conn_has_output(c))
		want |= EPOLLOUT;
	if (c->ep_added && want == c->ep_events)
		return;
	ev.events = want;
	if (epoll_ctl(v->epoll_fd, c->ep_added ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c->fd, &ev) < 0) {
		log_warn("virtio-vsock: epoll_ctl: %s; connection %u:%u reset", strerror(errno),
			 c->local_port, c->peer_port);
		conn_reset(v, c);
		return;
	}
	c->ep_added = true;
	c->ep_events = want;
}

/* The guest has room only for what it advertised; tell it when our buffer frees up, before
 * its view of our free space runs low (it also learns fwd_cnt from every packet). */
static void conn_maybe_credit_update(struct virtio_vsock *v, struct vsock_conn *c)
{
	uint32_t seen_used = c->rx_cnt - c->fwd_sent;

	if (c->state != VSOCK_ESTABLISHED || c->fwd_cnt == c->fwd_sent)
		return;
	if (seen_used > VSOCK_BUF_ALLOC || VSOCK_BUF_ALLOC - seen_used < VSOCK_BUF_ALLOC / 2)
		conn_want(v, c, VSOCK_P_CREDIT_UPDATE);
}

static void conn_flush(struct virtio_vsock *v, struct vsock_conn *c)
{
	int r = vsock_conn_flush(c);

	if (r < 0) {
		log_debug("virtio-vsock: %u:%u: write to the Unix socket: %s", c->local_port,
			  c->peer_port, strerror(-r));
		conn_reset(v, c);
		return;
	}
	conn_maybe_credit_update(v, c);
	if (r == 0) {
		if (c->state == VSOCK_DRAIN) {
			conn_reset(v, c);  /* flushed: the RST completes the guest's close */
			return;
		}
		if (c->shut_rcvd & VSOCK_SHUTDOWN_SEND)
			shutdown(c->fd, SHUT_WR);
	}
	conn_update_epoll(v, c);
}

/* ---- the Unix side ---- */

static void host_connect_line(struct virtio_vsock *v, struct vsock_conn *c)
{
	uint32_t port;

	if (vsock_parse_connect(c->line, c->line_len, &port) < 0) {
		log_debug("virtio-vsock: a host client sent no valid CONNECT line; closed");
		conn_free(v, c);
		return;
	}
	c->host_initiated = true;
	c->peer_port = port;
	c->local_port = vsock_table_alloc_port(&v->table, port);
	if (vsock_table_add(&v->table, c) < 0) {
		conn_free(v, c);
		return;
	}
	c->state = VSOCK_REQUESTED;
	conn_want(v, c, VSOCK_P_REQUEST);
	conn_update_epoll(v, c);
}

/* Reads the CONNECT line a byte at a time, so nothing after the '\n' is consumed. */
static void host_read_line(struct virtio_vsock *v, struct vsock_conn *c)
{
	for (;;) {
		char ch;
		ssize_t n = recv(c->fd, &ch, 1, MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			conn_free(v, c);  /* gone before asking for a port */
			return;
		}
		if (ch == '\n') {
			host_connect_line(v, c);
			return;
		}
		if (c->line_len == VSOCK_LINE_MAX) {
			log_debug("virtio-vsock: a host client's CONNECT line is too long; closed");
			conn_free(v, c);
			return;
		}
		c->line[c->line_len++] = ch;
	}
}

static void host_accept(struct virtio_vsock *v)
{
	for (unsigned int i = 0; i < ACCEPT_BATCH; i++) {
		int fd = accept4(v->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct vsock_conn *c;

		if (fd < 0)
			return;
		if (v->nconns >= VSOCK_MAX_CONNS) {
			log_warn("virtio-vsock %s: %u connections open; a host client was refused",
				 v->uds_path, v->nconns);
			close(fd);
			continue;
		}
		c = conn_new(v, fd);
		if (!c) {
			close(fd);
			continue;
		}
		v->accepted++;
		c->state = VSOCK_LINE;
		conn_update_epoll(v, c);
	}
}

static void conn_event(struct virtio_vsock *v, struct vsock_conn *c, uint32_t events)
{
	if (c->fd < 0)
		return;
	if (events & EPOLLERR) {
		conn_reset(v, c);
		return;
	}
	switch (c->state) {
	case VSOCK_LINE:
		host_read_line(v, c);
		return;
	case VSOCK_REQUESTED:
		if (events & EPOLLHUP)
			conn_reset(v, c);  /* the client left before the guest answered */
		return;
	case VSOCK_ESTABLISHED:
	case VSOCK_DRAIN:
		break;
	default:
		return;
	}
	if (events & EPOLLOUT) {
		conn_flush(v, c);
		if (c->fd < 0)
			return;
	}
	if (events & EPOLLHUP) {
		/* Reported whatever we ask for: leave epoll, read what is left, then EOF. */
		epoll_ctl(v->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
		c->hup = true;
		c->ep_added = false;
		c->ep_events = 0;
		if (vsock_conn_has_output(c)) {
			/* Bytes for a peer that hung up: fails (EPIPE) or goes now. */
			conn_flush(v, c);
			if (c->fd < 0)
				return;
			if (vsock_conn_has_output(c)) {
				conn_reset(v, c);
				return;
			}
		}
	}
	if ((events & (EPOLLIN | EPOLLHUP)) && conn_can_read(c))
		vsock_list_add_tail(&v->ready, &c->ready);
	conn_update_epoll(v, c);
}

/* ---- packets from the guest (tx) ---- */

static void stray_rst(struct virtio_vsock *v, const struct vsock_hdr *h)
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

/* The guest connects to CID 2 port h->dst_port: connect to "<uds_path>_<port>". */
static void guest_connect(struct virtio_vsock *v, const struct vsock_hdr *h)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct vsock_conn *c;
	int fd;

	if (v->nconns >= VSOCK_MAX_CONNS) {
		log_warn("virtio-vsock %s: %u connections open; the guest's connection to port %u "
			 "was refused", v->uds_path, v->nconns, h->dst_port);
		stray_rst(v, h);
		return;
	}
	snprintf(a.sun_path, sizeof(a.sun_path), "%s_%u", v->uds_path, h->dst_port);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		log_debug("virtio-vsock: guest connection to %s refused: %s", a.sun_path,
			  strerror(errno));
		if (fd >= 0)
			close(fd);
		stray_rst(v, h);
		return;
	}
	c = conn_new(v, fd);
	if (!c) {
		close(fd);
		stray_rst(v, h);
		return;
	}
	c->local_port = h->dst_port;
	c->peer_port = h->src_port;
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	c->state = VSOCK_ESTABLISHED;
	if (vsock_table_add(&v->table, c) < 0) {
		conn_free(v, c);  /* cannot happen: the caller found no such connection */
		stray_rst(v, h);
		return;
	}
	conn_want(v, c, VSOCK_P_RESPONSE);
	conn_update_epoll(v, c);
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
		conn_reset(v, c);
		return;
	}
	if (len > vsock_conn_room(c)) {
		log_debug("virtio-vsock: %u:%u: the guest sent %u bytes past its credit; reset",
			  c->local_port, c->peer_port, len - vsock_conn_room(c));
		conn_reset(v, c);
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
			conn_reset(v, c);
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
			conn_reset(v, c);
			return;
		}
		done += chunk;
	}
	conn_maybe_credit_update(v, c);
	conn_update_epoll(v, c);
}

static void guest_shutdown(struct virtio_vsock *v, struct vsock_conn *c, uint32_t flags)
{
	if (c->state != VSOCK_ESTABLISHED) {
		conn_reset(v, c);
		return;
	}
	c->shut_rcvd |= flags & (VSOCK_SHUTDOWN_RCV | VSOCK_SHUTDOWN_SEND);
	if (c->shut_rcvd & VSOCK_SHUTDOWN_RCV)
		vsock_list_del(&c->ready);
	if (c->shut_rcvd == (VSOCK_SHUTDOWN_RCV | VSOCK_SHUTDOWN_SEND)) {
		/* The guest closed: deliver what it sent, then the RST that ends it. */
		if (!vsock_conn_has_output(c)) {
			conn_reset(v, c);
			return;
		}
		c->state = VSOCK_DRAIN;
	} else if ((c->shut_rcvd & VSOCK_SHUTDOWN_SEND) && !vsock_conn_has_output(c)) {
		shutdown(c->fd, SHUT_WR);
	}
	conn_update_epoll(v, c);
}

static void guest_response(struct virtio_vsock *v, struct vsock_conn *c)
{
	int n;

	if (c->state != VSOCK_REQUESTED) {
		conn_reset(v, c);
		return;
	}
	c->state = VSOCK_ESTABLISHED;
	n = snprintf(c->ok_line, sizeof(c->ok_line), "OK %u\n", c->local_port);
	c->ok_len = (uint8_t)n;
	c->ok_off = 0;
	conn_flush(v, c);
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
			conn_reset(v, c);
		else if (!c)
			stray_rst(v, &h);
		return;
	}
	if (!c) {
		if (h.op == VSOCK_OP_REQUEST)
			guest_connect(v, &h);
		else
			stray_rst(v, &h);
		return;
	}
	if (c->state == VSOCK_DEAD) {
		if (h.op == VSOCK_OP_RST)
			conn_free(v, c);  /* both sides reset: nothing left to tell */
		return;
	}
	c->peer_buf_alloc = h.buf_alloc;
	c->peer_fwd_cnt = h.fwd_cnt;
	if (c->credit_wait && vsock_conn_peer_credit(c) > 0) {
		c->credit_wait = false;
		if (conn_can_read(c))
			vsock_list_add_tail(&v->ready, &c->ready);
	}
	switch (h.op) {
	case VSOCK_OP_RESPONSE:
		guest_response(v, c);
		break;
	case VSOCK_OP_RST:
		conn_free(v, c);  /* a refusal or an abort: the Unix socket closes */
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
			conn_want(v, c, VSOCK_P_CREDIT_UPDATE);
		break;
	default:  /* a second REQUEST, or an unknown op */
		v->tx_dropped++;
		conn_reset(v, c);
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
			conn_free(v, c);
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
			conn_update_epoll(v, c);  /* wait for more */
		else
			conn_reset(v, c);
		return false;
	}
	if (n == 0) {
		/* EOF: the host side sends no more (and receives no more if it hung up). */
		vsock_list_del(&c->ready);
		c->eof = true;
		c->shut_sent |= VSOCK_SHUTDOWN_SEND | (c->hup ? VSOCK_SHUTDOWN_RCV : 0);
		conn_want(v, c, VSOCK_P_SHUTDOWN);
		conn_update_epoll(v, c);
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
			rx_control(v, CONN_OF(v->ctl.next, ctl), &ch);
		} else {
			c = CONN_OF(v->ready.next, ready);
			if (!conn_can_read(c)) {
				vsock_list_del(&c->ready);
				continue;
			}
			if (vsock_conn_peer_credit(c) == 0) {
				vsock_list_del(&c->ready);
				c->credit_wait = true;
				conn_want(v, c, VSOCK_P_CREDIT_REQUEST);
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
			host_accept(v);
		else
			conn_event(v, evs[i].data.ptr, evs[i].events);
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
		conn_free(v, CONN_OF(v->all.next, all));
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

/* ---- set-up ---- */

int virtio_vsock_open(struct virtio_vsock *v, uint64_t cid, const char *uds_path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	size_t max = VSOCK_UDS_MAX;
	int r;

	memset(v, 0, sizeof(*v));
	v->listen_fd = v->epoll_fd = -1;
	vsock_table_init(&v->table);
	vsock_list_init(&v->all);
	vsock_list_init(&v->ctl);
	vsock_list_init(&v->ready);
	if (cid < VSOCK_MIN_GUEST_CID || cid >= UINT32_MAX)
		return err_set(-EINVAL, "--vsock cid=%llu: the guest CID must be from 3 to %u "
			       "(0-2 and %u are reserved)", (unsigned long long)cid,
			       UINT32_MAX - 1, UINT32_MAX);
	v->guest_cid = cid;
	if (!uds_path || !*uds_path || strlen(uds_path) > max)
		return err_set(-EINVAL, "--vsock uds=%s: expected a socket path of 1 to %zu "
			       "characters (PATH_<port> must fit a Unix socket address)",
			       uds_path ? uds_path : "", max);
	snprintf(v->uds_path, sizeof(v->uds_path), "%s", uds_path);
	v->scratch = malloc(VSOCK_HDR_LEN + VSOCK_MAX_PKT);
	if (!v->scratch)
		return err_set(-ENOMEM, "out of memory");
	v->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (v->listen_fd < 0) {
		r = err_set(-errno, "--vsock: cannot create a Unix socket: %s", strerror(errno));
		goto fail;
	}
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", uds_path);
	if (bind(v->listen_fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		if (errno == EADDRINUSE)
			r = err_set(-EADDRINUSE, "--vsock uds=%s: the path exists already (remove the "
				    "stale socket or pick another path)", uds_path);
		else
			r = err_set(-errno, "--vsock uds=%s: cannot create the socket: %s "
				    "(does the directory exist and is it writable?)", uds_path,
				    strerror(errno));
		goto fail;
	}
	if (listen(v->listen_fd, 128) < 0) {
		r = err_set(-errno, "--vsock uds=%s: listen: %s", uds_path, strerror(errno));
		unlink(uds_path);
		goto fail;
	}
	v->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (v->epoll_fd < 0 || epoll_ctl(v->epoll_fd, EPOLL_CTL_ADD, v->listen_fd, &ev) < 0) {
		r = err_set(-errno, "--vsock: epoll: %s", strerror(errno));
		unlink(uds_path);
		goto fail;
	}
	return 0;
fail:
	if (v->epoll_fd >= 0)
		close(v->epoll_fd);
	if (v->listen_fd >= 0)
		close(v->listen_fd);
	v->epoll_fd = v->listen_fd = -1;
	free(v->scratch);
	v->scratch = NULL;
	return r;
}

void virtio_vsock_close(struct virtio_vsock *v)
{
	worker_stop(&v->worker);
	if (v->all.next)
		virtio_vsock_reset_conns(v);
	if (v->listen_fd >= 0) {
		close(v->listen_fd);
		unlink(v->uds_path);
	}
	if (v->epoll_fd >= 0)
		close(v->epoll_fd);
	v->listen_fd = v->epoll_fd = -1;
	free(v->scratch);
	v->scratch = NULL;
}
