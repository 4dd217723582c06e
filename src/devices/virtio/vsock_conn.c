#include "devices/virtio/vsock_conn.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

static uint64_t get_le(const uint8_t *b, unsigned int n)
{
	uint64_t v = 0;

	for (unsigned int i = n; i > 0; i--)
		v = v << 8 | b[i - 1];
	return v;
}

static void put_le(uint8_t *b, uint64_t v, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		b[i] = (uint8_t)(v & 0xff);
		v >>= 8;
	}
}

/* Field offsets of struct virtio_vsock_hdr (packed, 44 bytes). */
enum {
	H_SRC_CID = 0, H_DST_CID = 8, H_SRC_PORT = 16, H_DST_PORT = 20, H_LEN = 24,
	H_TYPE = 28, H_OP = 30, H_FLAGS = 32, H_BUF_ALLOC = 36, H_FWD_CNT = 40,
};

void vsock_hdr_decode(const uint8_t b[VSOCK_HDR_LEN], struct vsock_hdr *h)
{
	h->src_cid = get_le(b + H_SRC_CID, 8);
	h->dst_cid = get_le(b + H_DST_CID, 8);
	h->src_port = (uint32_t)get_le(b + H_SRC_PORT, 4);
	h->dst_port = (uint32_t)get_le(b + H_DST_PORT, 4);
	h->len = (uint32_t)get_le(b + H_LEN, 4);
	h->type = (uint16_t)get_le(b + H_TYPE, 2);
	h->op = (uint16_t)get_le(b + H_OP, 2);
	h->flags = (uint32_t)get_le(b + H_FLAGS, 4);
	h->buf_alloc = (uint32_t)get_le(b + H_BUF_ALLOC, 4);
	h->fwd_cnt = (uint32_t)get_le(b + H_FWD_CNT, 4);
}

void vsock_hdr_encode(const struct vsock_hdr *h, uint8_t b[VSOCK_HDR_LEN])
{
	put_le(b + H_SRC_CID, h->src_cid, 8);
	put_le(b + H_DST_CID, h->dst_cid, 8);
	put_le(b + H_SRC_PORT, h->src_port, 4);
	put_le(b + H_DST_PORT, h->dst_port, 4);
	put_le(b + H_LEN, h->len, 4);
	put_le(b + H_TYPE, h->type, 2);
	put_le(b + H_OP, h->op, 2);
	put_le(b + H_FLAGS, h->flags, 4);
	put_le(b + H_BUF_ALLOC, h->buf_alloc, 4);
	put_le(b + H_FWD_CNT, h->fwd_cnt, 4);
}

/* ---- lists ---- */

void vsock_list_init(struct vsock_link *head)
{
	head->prev = head->next = head;
}

bool vsock_linked(const struct vsock_link *l)
{
	return l->next != NULL;
}

void vsock_list_add_tail(struct vsock_link *head, struct vsock_link *l)
{
	if (vsock_linked(l))
		return;
	l->prev = head->prev;
	l->next = head;
	head->prev->next = l;
	head->prev = l;
}

void vsock_list_del(struct vsock_link *l)
{
	if (!vsock_linked(l))
		return;
	l->prev->next = l->next;
	l->next->prev = l->prev;
	l->prev = l->next = NULL;
}

/* ---- table ---- */

static unsigned int bucket(uint32_t local, uint32_t peer)
{
	uint64_t k = ((uint64_t)local << 32 | peer) * 0x9e3779b97f4a7c15ULL;

	return (unsigned int)(k >> 54) % VSOCK_BUCKETS;
}

void vsock_table_init(struct vsock_table *t)
{
	memset(t, 0, sizeof(*t));
	t->next_local_port = VSOCK_LOCAL_PORT_BASE;
}

struct vsock_conn *vsock_table_find(const struct vsock_table *t, uint32_t local_port,
				    uint32_t peer_port)
{
	struct vsock_conn *c = t->buckets[bucket(local_port, peer_port)];

	while (c && (c->local_port != local_port || c->peer_port != peer_port))
		c = c->hnext;
	return c;
}

int vsock_table_add(struct vsock_table *t, struct vsock_conn *c)
{
	unsigned int b = bucket(c->local_port, c->peer_port);

	if (vsock_table_find(t, c->local_port, c->peer_port))
		return -EEXIST;
	c->hnext = t->buckets[b];
	t->buckets[b] = c;
	c->in_table = true;
	t->count++;
	return 0;
}

void vsock_table_remove(struct vsock_table *t, struct vsock_conn *c)
{
	struct vsock_conn **p;

	if (!c->in_table)
		return;
	for (p = &t->buckets[bucket(c->local_port, c->peer_port)]; *p; p = &(*p)->hnext) {
		if (*p == c) {
			*p = c->hnext;
			c->hnext = NULL;
			c->in_table = false;
			t->count--;
			return;
		}
	}
}

uint32_t vsock_table_alloc_port(struct vsock_table *t, uint32_t peer_port)
{
	/* At most VSOCK_MAX_CONNS ports are taken, so this ends within that many steps. */
	for (;;) {
		uint32_t p = t->next_local_port;

		t->next_local_port = p == UINT32_MAX ? VSOCK_LOCAL_PORT_BASE : p + 1;
		if (!vsock_table_find(t, p, peer_port))
			return p;
	}
}

/* ---- credit and buffer ---- */

uint32_t vsock_conn_peer_credit(const struct vsock_conn *c)
{
	uint32_t in_flight = c->tx_cnt - c->peer_fwd_cnt;

	return in_flight > c->peer_buf_alloc ? 0 : c->peer_buf_alloc - in_flight;
}

uint32_t vsock_conn_room(const struct vsock_conn *c)
{
	return VSOCK_BUF_ALLOC - c->buf_len;
}

int vsock_conn_buf_put(struct vsock_conn *c, const void *p, uint32_t n)
{
	uint32_t tail, first;

	if (n == 0)
		return 0;
	if (n > VSOCK_BUF_ALLOC - c->buf_len)
		return -ENOSPC;
	if (!c->buf) {
		c->buf = malloc(VSOCK_BUF_ALLOC);
		if (!c->buf)
			return -ENOMEM;
		c->buf_head = c->buf_len = 0;
	}
	tail = (c->buf_head + c->buf_len) % VSOCK_BUF_ALLOC;
	first = VSOCK_BUF_ALLOC - tail < n ? VSOCK_BUF_ALLOC - tail : n;
	memcpy(c->buf + tail, p, first);
	memcpy(c->buf, (const uint8_t *)p + first, n - first);
	c->buf_len += n;
	return 0;
}

void vsock_conn_buf_free(struct vsock_conn *c)
{
	free(c->buf);
	c->buf = NULL;
	c->buf_head = c->buf_len = 0;
}

bool vsock_conn_has_output(const struct vsock_conn *c)
{
	return c->ok_off < c->ok_len || c->buf_len > 0;
}

int vsock_conn_flush(struct vsock_conn *c)
{
	while (c->ok_off < c->ok_len) {
		ssize_t n = send(c->fd, c->ok_line + c->ok_off, (size_t)(c->ok_len - c->ok_off),
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN || errno == EWOULDBLOCK ? 1 : -errno;
		}
		c->ok_off = (uint8_t)(c->ok_off + n);
	}
	while (c->buf_len) {
		struct iovec iov[2];
		struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 1 };
		uint32_t first = VSOCK_BUF_ALLOC - c->buf_head;
		ssize_t n;

		if (first > c->buf_len)
			first = c->buf_len;
		iov[0] = (struct iovec){ c->buf + c->buf_head, first };
		if (first < c->buf_len) {
			iov[1] = (struct iovec){ c->buf, c->buf_len - first };
			msg.msg_iovlen = 2;
		}
		n = sendmsg(c->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN || errno == EWOULDBLOCK ? 1 : -errno;
		}
		c->buf_head = (c->buf_head + (uint32_t)n) % VSOCK_BUF_ALLOC;
		c->buf_len -= (uint32_t)n;
		c->fwd_cnt += (uint32_t)n;
	}
	vsock_conn_buf_free(c);
	return 0;
}

int vsock_parse_connect(const char *line, size_t len, uint32_t *port)
{
	static const char kw[] = "connect";
	uint64_t v = 0;
	size_t i = 0, digits = 0;

	if (len && line[len - 1] == '\r')
		len--;
	for (; i < sizeof(kw) - 1; i++) {
		char ch = i < len ? line[i] : '\0';

		if ((ch | 0x20) != kw[i])
			return -EINVAL;
	}
	if (i >= len || line[i] != ' ')
		return -EINVAL;
	while (i < len && line[i] == ' ')
		i++;
	for (; i < len; i++, digits++) {
		if (line[i] < '0' || line[i] > '9' || digits >= 10)
			return -EINVAL;
		v = v * 10 + (uint64_t)(line[i] - '0');
	}
	if (digits == 0 || v > UINT32_MAX)
		return -EINVAL;
	*port = (uint32_t)v;
	return 0;
}
