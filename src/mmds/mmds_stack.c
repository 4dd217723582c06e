#include "mmds/mmds_stack.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "mmds/mmds_http.h"

const uint8_t MMDS_MAC[6] = { 0x06, 0x01, 0x23, 0x45, 0x67, 0x01 };

#define ETH_HLEN 14
#define ETH_P_IPV4 0x0800
#define ETH_P_ARP 0x0806
#define ARP_LEN 28
#define IP_HLEN 20
#define TCP_HLEN 20
#define IPPROTO_TCP_ 6
#define HTTP_PORT 80

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_PSH 0x08
#define TH_ACK 0x10

enum conn_state { C_FREE = 0, C_SYN_RCVD, C_OPEN };

struct conn {
	enum conn_state state;
	uint32_t guest_ip;
	uint16_t guest_port;
	uint8_t guest_mac[6];
	uint64_t last_active;

	/* Send side. Sequence space: iss (SYN), then the response bytes out[out_off..out_len)
	 * starting at out_seq, then our FIN at fin_seq. */
	uint32_t iss, snd_una, snd_nxt, fin_seq;
	uint32_t snd_max;           /* highest sequence number sent (snd_nxt may rewind) */
	uint16_t snd_wnd, mss;
	char *out;                  /* the response being sent, malloc'd */
	size_t out_off, out_len;    /* out[out_off] has sequence number out_seq */
	uint32_t out_seq;
	unsigned int dupacks;
	bool need_synack, need_ack;
	bool close_after;           /* send FIN once the response is out */
	bool fin_sent, fin_acked;   /* fin_sent: our FIN has sequence number fin_seq */

	/* Receive side. */
	uint32_t irs, rcv_nxt;
	bool fin_rcvd;
	size_t req_len;
	char req[MMDS_HTTP_MAX_REQUEST];
};

struct ctrl_frame {
	uint8_t len;
	uint8_t data[64];
};

struct mmds_stack {
	struct mmds_store *store;
	struct conn conns[MMDS_MAX_CONNS];
	unsigned int rr;            /* round robin over connections when sending */
	struct ctrl_frame ctrl[MMDS_CTRL_QUEUE];
	unsigned int ctrl_head, ctrl_count;
	uint16_t ip_id;
	uint32_t isn_seed;
	struct mmds_stack_stats stats;
};

/* ---- byte order and checksums ---- */

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		sum += get16(p + i);
	if (i < n)
		sum += (uint32_t)p[i] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static bool seq_lt(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

static bool seq_le(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) <= 0;
}

/* ---- stack ---- */

struct mmds_stack *mmds_stack_new(struct mmds_store *store)
{
	struct mmds_stack *st = calloc(1, sizeof(*st));

	if (!st)
		return NULL;
	st->store = store;
	if (getrandom(&st->isn_seed, sizeof(st->isn_seed), GRND_NONBLOCK) !=
	    (ssize_t)sizeof(st->isn_seed))
		st->isn_seed = (uint32_t)mmds_store_now_ms(store) * 2654435761u;
	st->ip_id = (uint16_t)st->isn_seed;
	return st;
}

static void conn_free(struct conn *c)
{
	free(c->out);
	memset(c, 0, offsetof(struct conn, req));  /* the request buffer needs no clearing */
	c->state = C_FREE;
}

void mmds_stack_free(struct mmds_stack *st)
{
	if (!st)
		return;
	for (unsigned int i = 0; i < MMDS_MAX_CONNS; i++)
		conn_free(&st->conns[i]);
	free(st);
}

void mmds_stack_get_stats(const struct mmds_stack *st, struct mmds_stack_stats *out)
{
	*out = st->stats;
}

unsigned int mmds_stack_conns(const struct mmds_stack *st)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < MMDS_MAX_CONNS; i++)
		n += st->conns[i].state != C_FREE;
	return n;
}

/* Queues a small stateless frame (ARP reply, RST, a last ACK). */
static void ctrl_push(struct mmds_stack *st, const uint8_t *f, size_t len)
{
	struct ctrl_frame *cf;

	if (st->ctrl_count == MMDS_CTRL_QUEUE || len > sizeof(cf->data)) {
		st->stats.ctrl_dropped++;
		return;
	}
	cf = &st->ctrl[(st->ctrl_head + st->ctrl_count) % MMDS_CTRL_QUEUE];
	memcpy(cf->data, f, len);
	cf->len = (uint8_t)len;
	st->ctrl_count++;
}

/* Writes Ethernet + IPv4 + TCP headers (and copies payload) into f; returns the length.
 * f must hold ETH_HLEN + IP_HLEN + TCP_HLEN + 4 + plen bytes. */
static size_t build_tcp(struct mmds_stack *st, uint8_t *f, const uint8_t dst_mac[6],
			uint32_t src_ip, uint32_t dst_ip, uint16_t sport, uint16_t dport,
			uint32_t seq, uint32_t ack, uint8_t flags, uint16_t wnd, uint16_t mss_opt,
			const void *payload, size_t plen)
{
	uint8_t *ip = f + ETH_HLEN, *tcp = ip + IP_HLEN;
	size_t thl = TCP_HLEN + (mss_opt ? 4u : 0u), tlen = thl + plen;
	uint32_t sum;

	memcpy(f, dst_mac, 6);
	memcpy(f + 6, MMDS_MAC, 6);
	put16(f + 12, ETH_P_IPV4);

	ip[0] = 0x45;
	ip[1] = 0;
	put16(ip + 2, (uint16_t)(IP_HLEN + tlen));
	put16(ip + 4, st->ip_id++);
	put16(ip + 6, 0x4000);          /* DF */
	ip[8] = 64;
	ip[9] = IPPROTO_TCP_;
	put16(ip + 10, 0);
	put32(ip + 12, src_ip);
	put32(ip + 16, dst_ip);
	put16(ip + 10, csum_fold(csum_add(0, ip, IP_HLEN)));

	put16(tcp, sport);
	put16(tcp + 2, dport);
	put32(tcp + 4, seq);
	put32(tcp + 8, ack);
	tcp[12] = (uint8_t)((thl / 4) << 4);
	tcp[13] = flags;
	put16(tcp + 14, wnd);
	put16(tcp + 16, 0);
	put16(tcp + 18, 0);
	if (mss_opt) {
		tcp[20] = 2;
		tcp[21] = 4;
		put16(tcp + 22, mss_opt);
	}
	if (plen)
		memcpy(tcp + thl, payload, plen);
	sum = csum_add(0, ip + 12, 8);  /* pseudo header: addresses, protocol, length */
	sum += IPPROTO_TCP_;
	sum += (uint32_t)tlen;
	sum = csum_add(sum, tcp, tlen);
	put16(tcp + 16, csum_fold(sum));
	return ETH_HLEN + IP_HLEN + tlen;
}

/* Parsed headers of a TCP segment from the guest. */
struct seg {
	const uint8_t *src_mac;
	uint32_t src_ip, dst_ip;
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t wnd, mss;          /* mss: 0 when the option is absent */
	const uint8_t *data;
	size_t len;
};

/* RST in answer to seg (RFC 9293 section 3.10.7.1), unless seg is a RST. */
static void send_rst(struct mmds_stack *st, const struct seg *s)
{
	uint8_t f[ETH_HLEN + IP_HLEN + TCP_HLEN + 4];
	size_t n;

	if (s->flags & TH_RST)
		return;
	if (s->flags & TH_ACK)
		n = build_tcp(st, f, s->src_mac, s->dst_ip, s->src_ip, s->dport, s->sport, s->ack,
			      0, TH_RST, 0, 0, NULL, 0);
	else
		n = build_tcp(st, f, s->src_mac, s->dst_ip, s->src_ip, s->dport, s->sport, 0,
			      s->seq + (uint32_t)s->len + (uint32_t)!!(s->flags & TH_SYN) +
			      (uint32_t)!!(s->flags & TH_FIN), TH_RST | TH_ACK, 0, 0, NULL, 0);
	ctrl_push(st, f, n);
}

static uint16_t rcv_wnd(const struct conn *c)
{
	size_t w = sizeof(c->req) - c->req_len;

	return (uint16_t)(w > 0xffff ? 0xffff : w);
}

/* Answers what is in the request buffer, one request at a time: the next only once the
 * previous response was acknowledged. -ENOMEM: the connection must be aborted. */
static int conn_serve(struct mmds_stack *st, struct conn *c)
{
	struct mmds_http_response resp;
	size_t used = 0;
	int r;

	if (c->out || c->close_after || c->state != C_OPEN)
		return 0;
	if (c->req_len) {
		r = mmds_http_handle(st->store, c->req, c->req_len, &used, &resp);
		if (r < 0)
			return r;
		if (r > 0) {
			c->out = resp.data;
			c->out_len = resp.len;
			c->out_off = 0;
			c->out_seq = c->snd_nxt;
			if (used > c->req_len)
				used = c->req_len;
			memmove(c->req, c->req + used, c->req_len - used);
			c->req_len -= used;
			if (resp.close) {
				c->close_after = true;
				c->req_len = 0;
			}
			return 0;
		}
	}
	if (c->fin_rcvd)
		c->close_after = true;  /* nothing more can come: an incomplete request is moot */
	return 0;
}

/* Takes an acknowledgment up to ack (already checked to be in (snd_una, snd_max]). */
static void conn_acked(struct conn *c, uint32_t ack)
{
	if (c->state == C_SYN_RCVD && seq_le(c->iss + 1, ack))
		c->state = C_OPEN;
	if (c->out) {
		uint32_t end = c->out_seq + (uint32_t)(c->out_len - c->out_off);

		if (seq_le(end, ack)) {
			free(c->out);
			c->out = NULL;
			c->out_off = c->out_len = 0;
			c->out_seq = end;
		} else if (seq_lt(c->out_seq, ack)) {
			c->out_off += ack - c->out_seq;
			c->out_seq = ack;
		}
	}
	if (c->fin_sent && seq_lt(c->fin_seq, ack))
		c->fin_acked = true;
	c->snd_una = ack;
	c->dupacks = 0;
}

static struct conn *conn_find(struct mmds_stack *st, uint32_t ip, uint16_t port)
{
	for (unsigned int i = 0; i < MMDS_MAX_CONNS; i++) {
		struct conn *c = &st->conns[i];

		if (c->state != C_FREE && c->guest_ip == ip && c->guest_port == port)
			return c;
	}
	return NULL;
}

/* A slot for a new connection: a free one, else the longest idle if idle long enough. */
static struct conn *conn_alloc(struct mmds_stack *st, uint64_t now)
{
	struct conn *oldest = NULL;

	for (unsigned int i = 0; i < MMDS_MAX_CONNS; i++) {
		struct conn *c = &st->conns[i];

		if (c->state == C_FREE)
			return c;
		if (!oldest || c->last_active < oldest->last_active)
			oldest = c;
	}
	if (oldest && now - oldest->last_active >= MMDS_IDLE_MS) {
		conn_free(oldest);
		st->stats.conns_reclaimed++;
		return oldest;
	}
	return NULL;
}

static void conn_open(struct mmds_stack *st, const struct seg *s, uint64_t now)
{
	struct conn *c = conn_alloc(st, now);

	if (!c) {
		st->stats.conns_refused++;
		send_rst(st, s);
		return;
	}
	c->state = C_SYN_RCVD;
	c->guest_ip = s->src_ip;
	c->guest_port = s->sport;
	memcpy(c->guest_mac, s->src_mac, 6);
	c->last_active = now;
	/* RFC 6528-style: a secret seed, the four-tuple and the clock. */
	c->iss = st->isn_seed ^ (s->src_ip * 2654435761u) ^ ((uint32_t)s->sport << 16) ^
		 (uint32_t)(now * 250u);
	c->snd_una = c->iss;
	c->snd_nxt = c->iss + 1;
	c->snd_max = c->iss + 1;
	c->out_seq = c->iss + 1;
	c->irs = s->seq;
	c->rcv_nxt = s->seq + 1;
	c->snd_wnd = s->wnd;
	c->mss = s->mss ? s->mss : 536;
	if (c->mss > MMDS_MSS)
		c->mss = MMDS_MSS;
	if (c->mss < 64)
		c->mss = 64;    /* a guest asking for less only wants to waste our time */
	c->need_synack = true;
	c->req_len = 0;
	st->stats.conns_opened++;
}

/* A segment for an existing connection. */
static void conn_input(struct mmds_stack *st, struct conn *c, const struct seg *s, uint64_t now)
{
	c->last_active = now;
	memcpy(c->guest_mac, s->src_mac, 6);
	if (s->flags & TH_RST) {
		/* Accept a RST within the window (RFC 5961 would want exactly rcv_nxt). */
		if (seq_le(c->rcv_nxt, s->seq) && seq_lt(s->seq, c->rcv_nxt + rcv_wnd(c) + 1))
			conn_free(c);
		return;
	}
	if (s->flags & TH_SYN) {
		bool old = seq_le(c->irs, s->seq) && seq_lt(s->seq, c->rcv_nxt);

		if (s->flags & TH_ACK) {
			c->need_ack = true;  /* nonsense from a client: say where we are */
		} else if (s->seq == c->irs && c->state == C_SYN_RCVD) {
			c->need_synack = true;   /* the guest repeated its SYN */
		} else if (old) {
			c->need_ack = true;      /* an old SYN: a challenge ACK (RFC 5961) */
		} else {
			/* A new connection on the same port (the old one's end got lost). */
			conn_free(c);
			conn_open(st, s, now);
		}
		return;
	}
	if (!(s->flags & TH_ACK))
		return;
	/* The acknowledgment. */
	if (seq_lt(c->snd_max, s->ack)) {
		c->need_ack = true;      /* acknowledges what was never sent */
		return;
	}
	if (seq_lt(c->snd_nxt, s->ack))
		c->snd_nxt = s->ack;     /* sent before a rewind, and it arrived after all */
	if (c->state == C_SYN_RCVD && !seq_lt(c->iss, s->ack)) {
		send_rst(st, s);         /* does not acknowledge our SYN */
		return;
	}
	if (seq_lt(c->snd_una, s->ack)) {
		c->snd_wnd = s->wnd;
		conn_acked(c, s->ack);
	} else if (s->ack == c->snd_una) {
		if (s->len == 0 && !(s->flags & TH_FIN) && s->wnd == c->snd_wnd &&
		    c->snd_nxt != c->snd_una && ++c->dupacks >= MMDS_DUPACKS) {
			/* The guest keeps asking for snd_una: send again from there. */
			c->snd_nxt = c->snd_una;   /* a FIN already sent goes again at fin_seq */
			c->dupacks = 0;
		}
		c->snd_wnd = s->wnd;
	}

	/* The data, in order only. */
	if (s->len || (s->flags & TH_FIN)) {
		c->need_ack = true;
		if (!c->fin_rcvd && seq_le(s->seq, c->rcv_nxt)) {
			uint32_t off = c->rcv_nxt - s->seq;

			if (off < s->len || (off == s->len && (s->flags & TH_FIN))) {
				size_t n = s->len - off, room = sizeof(c->req) - c->req_len;

				/* When closing, the rest is acknowledged and discarded. */
				if (!c->close_after) {
					if (n > room)
						n = room;
					memcpy(c->req + c->req_len, s->data + off, n);
					c->req_len += n;
				}
				c->rcv_nxt += (uint32_t)n;
				if (n == s->len - off && (s->flags & TH_FIN)) {
					c->rcv_nxt++;
					c->fin_rcvd = true;
				}
			}
		}
	}
	if (conn_serve(st, c) < 0) {
		send_rst(st, s);
		conn_free(c);
		return;
	}
	if (c->fin_acked && c->fin_rcvd) {
		if (c->need_ack) {
			/* The guest's FIN came after ours was acknowledged: the last ACK. */
			uint8_t f[ETH_HLEN + IP_HLEN + TCP_HLEN + 4];
			size_t n = build_tcp(st, f, c->guest_mac, s->dst_ip, c->guest_ip, HTTP_PORT,
					     c->guest_port, c->snd_nxt, c->rcv_nxt, TH_ACK,
					     rcv_wnd(c), 0, NULL, 0);

			ctrl_push(st, f, n);
		}
		conn_free(c);
	}
}

/* Connections idle for MMDS_IDLE_MS are dropped (quietly: the guest gave up on them). */
static void reap_idle(struct mmds_stack *st, uint64_t now)
{
	for (unsigned int i = 0; i < MMDS_MAX_CONNS; i++) {
		struct conn *c = &st->conns[i];

		if (c->state != C_FREE && now - c->last_active >= MMDS_IDLE_MS) {
			conn_free(c);
			st->stats.conns_reclaimed++;
		}
	}
}

static void tcp_input(struct mmds_stack *st, const uint8_t *frame, const uint8_t *tcp,
		      size_t tlen, uint32_t src_ip, uint32_t dst_ip)
{
	struct seg s;
	size_t doff;
	struct conn *c;
	uint64_t now;

	if (tlen < TCP_HLEN)
		goto drop;
	doff = (size_t)(tcp[12] >> 4) * 4;
	if (doff < TCP_HLEN || doff > tlen)
		goto drop;
	memset(&s, 0, sizeof(s));
	s.src_mac = frame + 6;
	s.src_ip = src_ip;
	s.dst_ip = dst_ip;
	s.sport = get16(tcp);
	s.dport = get16(tcp + 2);
	s.seq = get32(tcp + 4);
	s.ack = get32(tcp + 8);
	s.flags = tcp[13];
	s.wnd = get16(tcp + 14);
	s.data = tcp + doff;
	s.len = tlen - doff;
	/* Options: only MSS matters (on a SYN). */
	for (size_t i = TCP_HLEN; i < doff;) {
		uint8_t kind = tcp[i];

		if (kind == 0)
			break;
		if (kind == 1) {
			i++;
			continue;
		}
		if (i + 1 >= doff || tcp[i + 1] < 2 || i + tcp[i + 1] > doff)
			break;  /* malformed options: ignore the rest */
		if (kind == 2 && tcp[i + 1] == 4)
			s.mss = get16(tcp + i + 2);
		i += tcp[i + 1];
	}
	if (s.sport == 0 || (s.flags & (TH_SYN | TH_FIN)) == (TH_SYN | TH_FIN) ||
	    (s.flags & (TH_SYN | TH_RST)) == (TH_SYN | TH_RST))
		goto drop;
	if (s.dport != HTTP_PORT) {
		send_rst(st, &s);
		return;
	}
	now = mmds_store_now_ms(st->store);
	reap_idle(st, now);
	c = conn_find(st, src_ip, s.sport);
	if (c) {
		conn_input(st, c, &s, now);
		return;
	}
	if ((s.flags & (TH_SYN | TH_ACK | TH_RST)) == TH_SYN) {
		if (s.len)
			goto drop;  /* data on a SYN: no fast open */
		conn_open(st, &s, now);
		return;
	}
	send_rst(st, &s);
	return;
drop:
	st->stats.rx_dropped++;
}

static void ipv4_input(struct mmds_stack *st, const uint8_t *frame, size_t len)
{
	const uint8_t *ip = frame + ETH_HLEN;
	size_t avail = len - ETH_HLEN, ihl, tot;

	if (avail < IP_HLEN || (ip[0] >> 4) != 4)
		goto drop;
	ihl = (size_t)(ip[0] & 0xf) * 4;
	tot = get16(ip + 2);
	if (ihl < IP_HLEN || ihl > avail || tot < ihl || tot > avail)
		goto drop;
	if (csum_fold(csum_add(0, ip, ihl)) != 0)
		goto drop;
	if (get16(ip + 6) & 0x3fff)
		goto drop;  /* a fragment (MF set or an offset) */
	if (frame[6] & 1)
		goto drop;  /* multicast source MAC */
	if (ip[9] != IPPROTO_TCP_)
		goto drop;  /* ICMP, UDP...: MMDS only speaks TCP */
	{
		uint32_t src = get32(ip + 12);

		if (src == 0 || src == 0xffffffffu || (src >> 28) == 0xe)
			goto drop;
		tcp_input(st, frame, ip + ihl, tot - ihl, src, get32(ip + 16));
	}
	return;
drop:
	st->stats.rx_dropped++;
}

static void arp_input(struct mmds_stack *st, const uint8_t *frame, size_t len, uint32_t mmds_ip)
{
	const uint8_t *a = frame + ETH_HLEN;
	uint8_t r[ETH_HLEN + ARP_LEN];

	if (len < ETH_HLEN + ARP_LEN || get16(a) != 1 || get16(a + 2) != ETH_P_IPV4 ||
	    a[4] != 6 || a[5] != 4 || get16(a + 6) != 1 || (a[8] & 1)) {
		st->stats.rx_dropped++;  /* not a request we answer (replies, probes...) */
		return;
	}
	memcpy(r, a + 8, 6);            /* to the asker */
	memcpy(r + 6, MMDS_MAC, 6);
	put16(r + 12, ETH_P_ARP);
	put16(r + 14, 1);
	put16(r + 16, ETH_P_IPV4);
	r[18] = 6;
	r[19] = 4;
	put16(r + 20, 2);               /* reply */
	memcpy(r + 22, MMDS_MAC, 6);
	put32(r + 28, mmds_ip);
	memcpy(r + 32, a + 8, 10);      /* target: the asker's MAC and IPv4 address */
	ctrl_push(st, r, sizeof(r));
}

bool mmds_stack_match(struct mmds_stack *st, const uint8_t *frame, size_t len)
{
	uint32_t ip;

	if (len < ETH_HLEN + 2)
		return false;
	ip = mmds_store_ipv4(st->store);
	switch (get16(frame + 12)) {
	case ETH_P_ARP:
		/* Target protocol address at 24 in the ARP packet. */
		return len >= ETH_HLEN + 28 && get32(frame + ETH_HLEN + 24) == ip;
	case ETH_P_IPV4:
		return len >= ETH_HLEN + IP_HLEN && get32(frame + ETH_HLEN + 16) == ip;
	default:
		return false;
	}
}

int mmds_stack_rx_from_guest(struct mmds_stack *st, const uint8_t *frame, size_t len)
{
	if (!mmds_stack_match(st, frame, len))
		return 0;
	st->stats.rx_frames++;
	if (get16(frame + 12) == ETH_P_ARP)
		arp_input(st, frame, len, mmds_store_ipv4(st->store));
	else
		ipv4_input(st, frame, len);
	return 1;
}

/* What the connection would send next: 0 nothing, else the segment's flags with *plen
 * payload bytes (limited to max). */
static uint8_t conn_next(const struct conn *c, size_t max, size_t *plen)
{
	*plen = 0;
	if (c->state == C_FREE)
		return 0;
	if (c->need_synack)
		return TH_SYN | TH_ACK;
	if (c->state != C_OPEN)
		return c->need_ack ? TH_SYN | TH_ACK : 0;   /* our SYN again */
	if (c->out && seq_le(c->out_seq, c->snd_nxt)) {
		uint32_t end = c->out_seq + (uint32_t)(c->out_len - c->out_off);
		uint32_t unsent = seq_lt(c->snd_nxt, end) ? end - c->snd_nxt : 0;
		uint32_t inflight = c->snd_nxt - c->snd_una;
		uint32_t room = c->snd_wnd > inflight ? c->snd_wnd - inflight : 0;
		size_t n = unsent < room ? unsent : room;

		if (n > c->mss)
			n = c->mss;
		if (n > max)
			n = max;
		if (n) {
			*plen = n;
			return TH_ACK | TH_PSH;
		}
		if (unsent)
			return c->need_ack ? TH_ACK : 0;   /* window closed */
	}
	/* Here every byte of the response was sent: the FIN follows at once. */
	if (c->close_after && (!c->out || seq_le(c->out_seq, c->snd_nxt)) &&
	    (!c->fin_sent || c->snd_nxt == c->fin_seq))
		return TH_FIN | TH_ACK;
	return c->need_ack ? TH_ACK : 0;
}

bool mmds_stack_has_output(struct mmds_stack *st)
{
	size_t plen;

	if (st->ctrl_count)
		return true;
	for (unsigned int i = 0; i < MMDS_MAX_CONNS; i++)
		if (conn_next(&st->conns[i], MMDS_MSS, &plen))
			return true;
	return false;
}

size_t mmds_stack_tx_to_guest(struct mmds_stack *st, uint8_t *buf, size_t cap)
{
	size_t hdrs = ETH_HLEN + IP_HLEN + TCP_HLEN, n;   /* a SYN-ACK's 4 more fit in MIN */
	uint32_t ip;

	if (cap < MMDS_FRAME_MIN)
		return 0;
	if (st->ctrl_count) {
		struct ctrl_frame *cf = &st->ctrl[st->ctrl_head];

		n = cf->len;
		memcpy(buf, cf->data, n);
		st->ctrl_head = (st->ctrl_head + 1) % MMDS_CTRL_QUEUE;
		st->ctrl_count--;
		st->stats.tx_frames++;
		return n;
	}
	if (cap > MMDS_FRAME_MAX)
		cap = MMDS_FRAME_MAX;
	ip = mmds_store_ipv4(st->store);
	for (unsigned int k = 0; k < MMDS_MAX_CONNS; k++) {
		unsigned int i = (st->rr + k) % MMDS_MAX_CONNS;
		struct conn *c = &st->conns[i];
		size_t plen;
		uint8_t flags = conn_next(c, cap - hdrs, &plen);

		if (!flags)
			continue;
		st->rr = (i + 1) % MMDS_MAX_CONNS;
		if (flags & TH_SYN) {
			n = build_tcp(st, buf, c->guest_mac, ip, c->guest_ip, HTTP_PORT,
				      c->guest_port, c->iss, c->rcv_nxt, flags, rcv_wnd(c), MMDS_MSS,
				      NULL, 0);
			c->need_synack = false;
		} else if (plen) {
			const char *p = c->out + c->out_off + (c->snd_nxt - c->out_seq);

			n = build_tcp(st, buf, c->guest_mac, ip, c->guest_ip, HTTP_PORT,
				      c->guest_port, c->snd_nxt, c->rcv_nxt, flags, rcv_wnd(c), 0,
				      p, plen);
			c->snd_nxt += (uint32_t)plen;
			if (seq_lt(c->snd_max, c->snd_nxt))
				c->snd_max = c->snd_nxt;
		} else if (flags & TH_FIN) {
			n = build_tcp(st, buf, c->guest_mac, ip, c->guest_ip, HTTP_PORT,
				      c->guest_port, c->snd_nxt, c->rcv_nxt, flags, rcv_wnd(c), 0,
				      NULL, 0);
			c->fin_sent = true;
			c->fin_seq = c->snd_nxt;
			c->snd_nxt++;
			if (seq_lt(c->snd_max, c->snd_nxt))
				c->snd_max = c->snd_nxt;
		} else {
			n = build_tcp(st, buf, c->guest_mac, ip, c->guest_ip, HTTP_PORT,
				      c->guest_port, c->snd_nxt, c->rcv_nxt, flags, rcv_wnd(c), 0,
				      NULL, 0);
		}
		c->need_ack = false;
		st->stats.tx_frames++;
		return n;
	}
	return 0;
}
