/* The Unix side of virtio-vsock: connection records and their Unix sockets, the listener
 * and host clients' CONNECT lines, guest connects to <uds>_<port>, and the device's
 * set-up. Runs on the device's worker thread (or the caller of virtio_vsock_poll). */
#include "devices/virtio/vsock_host.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/err.h"
#include "util/fd_reserve.h"
#include "util/log.h"

#define ACCEPT_BATCH 16

/* ---- connections ---- */

/* Once per time the limit is reached (a guest could otherwise flood the log). */
static void limit_warn(struct virtio_vsock *v, const char *what)
{
	if (v->limit_warned)
		return;
	v->limit_warned = true;
	log_warn("virtio-vsock %s: %u connections open, the most Ember keeps; %s until some "
		 "close", v->uds_path, v->nconns, what);
}

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

void vsock_close_conn(struct virtio_vsock *v, struct vsock_conn *c)
{
	conn_close_fd(c);
	vsock_table_remove(&v->table, c);
	vsock_list_del(&c->all);
	vsock_list_del(&c->ctl);
	vsock_list_del(&c->ready);
	vsock_conn_buf_free(c);
	free(c);
	v->nconns--;
	if (v->nconns < VSOCK_MAX_CONNS / 2)
		v->limit_warned = false;
}

void vsock_want(struct virtio_vsock *v, struct vsock_conn *c, uint32_t bits)
{
	c->pending |= bits;
	vsock_list_add_tail(&v->ctl, &c->ctl);
}

/* Ember aborts the connection: the Unix socket closes now, the guest gets an RST (the
 * record goes once that is sent). A host client still in its CONNECT line just goes. */
void vsock_reset_conn(struct virtio_vsock *v, struct vsock_conn *c)
{
	if (c->state == VSOCK_LINE) {
		vsock_close_conn(v, c);
		return;
	}
	v->resets++;
	conn_close_fd(c);
	vsock_conn_buf_free(c);
	c->ok_len = c->ok_off = 0;
	c->state = VSOCK_DEAD;
	c->pending = 0;
	vsock_list_del(&c->ready);
	vsock_want(v, c, VSOCK_P_RST);
}

bool vsock_can_read(const struct vsock_conn *c)
{
	return c->state == VSOCK_ESTABLISHED && !c->eof && !(c->shut_rcvd & VSOCK_SHUTDOWN_RCV);
}

/* Makes epoll watch what the connection can use now: input while it may read and is
 * not already queued for reading, output while bytes wait for the Unix peer. */
void vsock_watch(struct virtio_vsock *v, struct vsock_conn *c)
{
	struct epoll_event ev = { .data.ptr = c };
	uint32_t want = 0;

	if (c->fd < 0 || c->hup)
		return;
	if (c->state == VSOCK_LINE)
		want = EPOLLIN;
	if (vsock_can_read(c) && !vsock_linked(&c->ready) && !c->credit_wait)
		want |= EPOLLIN;
	if ((c->state == VSOCK_ESTABLISHED || c->state == VSOCK_DRAIN) && vsock_conn_has_output(c))
		want |= EPOLLOUT;
	if (c->ep_added && want == c->ep_events)
		return;
	ev.events = want;
	if (epoll_ctl(v->epoll_fd, c->ep_added ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c->fd, &ev) < 0) {
		log_warn_guest("virtio-vsock: epoll_ctl: %s; connection %u:%u reset", strerror(errno),
			 c->local_port, c->peer_port);
		vsock_reset_conn(v, c);
		return;
	}
	c->ep_added = true;
	c->ep_events = want;
}

/* The guest has room only for what it advertised; tell it when our buffer frees up, before
 * its view of our free space runs low (it also learns fwd_cnt from every packet). */
void vsock_credit_check(struct virtio_vsock *v, struct vsock_conn *c)
{
	uint32_t seen_used = c->rx_cnt - c->fwd_sent;

	if (c->state != VSOCK_ESTABLISHED || c->fwd_cnt == c->fwd_sent)
		return;
	if (seen_used > VSOCK_BUF_ALLOC || VSOCK_BUF_ALLOC - seen_used < VSOCK_BUF_ALLOC / 2)
		vsock_want(v, c, VSOCK_P_CREDIT_UPDATE);
}

void vsock_flush(struct virtio_vsock *v, struct vsock_conn *c)
{
	int r = vsock_conn_flush(c);

	if (r < 0) {
		log_debug("virtio-vsock: %u:%u: write to the Unix socket: %s", c->local_port,
			  c->peer_port, strerror(-r));
		vsock_reset_conn(v, c);
		return;
	}
	vsock_credit_check(v, c);
	if (r == 0) {
		if (c->state == VSOCK_DRAIN) {
			vsock_reset_conn(v, c);  /* flushed: the RST completes the guest's close */
			return;
		}
		if (c->shut_rcvd & VSOCK_SHUTDOWN_SEND)
			shutdown(c->fd, SHUT_WR);
	}
	vsock_watch(v, c);
}

/* ---- the Unix side ---- */

static void host_connect_line(struct virtio_vsock *v, struct vsock_conn *c)
{
	uint32_t port;

	if (vsock_parse_connect(c->line, c->line_len, &port) < 0) {
		log_debug("virtio-vsock: a host client sent no valid CONNECT line; closed");
		vsock_close_conn(v, c);
		return;
	}
	c->host_initiated = true;
	c->peer_port = port;
	c->local_port = vsock_table_alloc_port(&v->table, port);
	if (vsock_table_add(&v->table, c) < 0) {
		vsock_close_conn(v, c);
		return;
	}
	c->state = VSOCK_REQUESTED;
	vsock_want(v, c, VSOCK_P_REQUEST);
	vsock_watch(v, c);
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
			vsock_close_conn(v, c);  /* gone before asking for a port */
			return;
		}
		if (ch == '\n') {
			host_connect_line(v, c);
			return;
		}
		if (c->line_len == VSOCK_LINE_MAX) {
			log_debug("virtio-vsock: a host client's CONNECT line is too long; closed");
			vsock_close_conn(v, c);
			return;
		}
		c->line[c->line_len++] = ch;
	}
}

void vsock_host_accept(struct virtio_vsock *v)
{
	for (unsigned int i = 0; i < ACCEPT_BATCH; i++) {
		int shed, fd = accept_or_shed(v->listen_fd, SOCK_NONBLOCK | SOCK_CLOEXEC, &shed);
		struct vsock_conn *c;

		if (fd < 0) {
			/* Out of descriptors: the queued client was shed (else the listener
			 * would stay readable and the worker spin). */
			if (shed)
				limit_warn(v, "out of file descriptors: a host client was refused");
			return;
		}
		if (v->nconns >= VSOCK_MAX_CONNS) {
			limit_warn(v, "a host client was refused");
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
		vsock_watch(v, c);
	}
}

void vsock_unix_event(struct virtio_vsock *v, struct vsock_conn *c, uint32_t events)
{
	if (c->fd < 0)
		return;
	if (events & EPOLLERR) {
		vsock_reset_conn(v, c);
		return;
	}
	switch (c->state) {
	case VSOCK_LINE:
		host_read_line(v, c);
		return;
	case VSOCK_REQUESTED:
		if (events & EPOLLHUP)
			vsock_reset_conn(v, c);  /* the client left before the guest answered */
		return;
	case VSOCK_ESTABLISHED:
	case VSOCK_DRAIN:
		break;
	default:
		return;
	}
	if (events & EPOLLOUT) {
		vsock_flush(v, c);
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
			vsock_flush(v, c);
			if (c->fd < 0)
				return;
			if (vsock_conn_has_output(c)) {
				vsock_reset_conn(v, c);
				return;
			}
		}
	}
	if ((events & (EPOLLIN | EPOLLHUP)) && vsock_can_read(c))
		vsock_list_add_tail(&v->ready, &c->ready);
	vsock_watch(v, c);
}

/* The guest connects to CID 2 port h->dst_port: connect to "<uds_path>_<port>". */
void vsock_guest_connect(struct virtio_vsock *v, const struct vsock_hdr *h)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct vsock_conn *c;
	int fd;

	if (v->nconns >= VSOCK_MAX_CONNS) {
		limit_warn(v, "the guest's connections are refused");
		vsock_stray_rst(v, h);
		return;
	}
	snprintf(a.sun_path, sizeof(a.sun_path), "%s_%u", v->uds_path, h->dst_port);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		log_debug("virtio-vsock: guest connection to %s refused: %s", a.sun_path,
			  strerror(errno));
		if (fd >= 0)
			close(fd);
		vsock_stray_rst(v, h);
		return;
	}
	c = conn_new(v, fd);
	if (!c) {
		close(fd);
		vsock_stray_rst(v, h);
		return;
	}
	c->local_port = h->dst_port;
	c->peer_port = h->src_port;
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	c->state = VSOCK_ESTABLISHED;
	if (vsock_table_add(&v->table, c) < 0) {
		vsock_close_conn(v, c);  /* cannot happen: the caller found no such connection */
		vsock_stray_rst(v, h);
		return;
	}
	vsock_want(v, c, VSOCK_P_RESPONSE);
	vsock_watch(v, c);
}

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
