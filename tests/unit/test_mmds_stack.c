/* MMDS's network stack (src/mmds/mmds_stack.c), driven with synthetic Ethernet frames as
 * a guest would send them: ARP, the TCP handshake, HTTP requests and the close, V2
 * sessions, RSTs, segmentation within MSS and window, resending on duplicate ACKs, the
 * connection limit and idle reclaim, and malformed frames. Every frame the stack emits
 * is checked by an independent parser here: Ethernet addresses, IPv4 header and
 * checksum, lengths, TCP checksum over the pseudo header (RFC 791, RFC 9293). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "mmds/mmds_stack.h"

#define GUEST_IP 0xac100002u      /* 172.16.0.2 */
#define MMDS_IP 0xa9fea9feu

static const uint8_t GUEST_MAC[6] = { 0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0x01 };
static uint64_t fake_now = 100000;

static uint64_t fake_clock(void *ctx)
{
	(void)ctx;
	return fake_now;
}

/* ---- an independent frame writer and reader ---- */

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

static uint32_t r16(const uint8_t *p)
{
	return (uint32_t)p[0] << 8 | p[1];
}

static uint32_t r32(const uint8_t *p)
{
	return r16(p) << 16 | r16(p + 2);
}

/* RFC 1071 sum of n bytes, not yet folded or complemented. */
static uint32_t sum16(const uint8_t *p, size_t n, uint32_t s)
{
	for (size_t i = 0; i < n; i++)
		s += (i & 1) ? p[i] : (uint32_t)p[i] << 8;
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s > 0xffff)
		s = (s >> 16) + (s & 0xffff);
	return (uint16_t)~s;
}

#define F_FIN 0x01
#define F_SYN 0x02
#define F_RST 0x04
#define F_PSH 0x08
#define F_ACK 0x10

/* A TCP/IPv4 frame from the guest; returns its length. */
static size_t mk_tcp(uint8_t *f, uint32_t dst_ip, uint16_t sport, uint16_t dport,
		     uint32_t seq, uint32_t ack, uint8_t flags, uint16_t wnd, uint16_t mss,
		     const void *data, size_t len)
{
	uint8_t *ip = f + 14, *t = ip + 20;
	size_t thl = mss ? 24 : 20, tl = thl + len;
	uint32_t s;

	memcpy(f, MMDS_MAC, 6);
	memcpy(f + 6, GUEST_MAC, 6);
	w16(f + 12, 0x0800);
	memset(ip, 0, 20);
	ip[0] = 0x45;
	w16(ip + 2, (uint32_t)(20 + tl));
	w16(ip + 6, 0x4000);
	ip[8] = 64;
	ip[9] = 6;
	w32(ip + 12, GUEST_IP);
	w32(ip + 16, dst_ip);
	w16(ip + 10, fold(sum16(ip, 20, 0)));
	memset(t, 0, thl);
	w16(t, sport);
	w16(t + 2, dport);
	w32(t + 4, seq);
	w32(t + 8, ack);
	t[12] = (uint8_t)((thl / 4) << 4);
	t[13] = flags;
	w16(t + 14, wnd);
	if (mss) {
		t[20] = 2;
		t[21] = 4;
		w16(t + 22, mss);
	}
	if (len)
		memcpy(t + thl, data, len);
	s = sum16(ip + 12, 8, 6 + (uint32_t)tl);
	w16(t + 16, fold(sum16(t, tl, s)));
	return 14 + 20 + tl;
}

struct out {
	size_t len;
	bool arp, tcp;
	uint32_t src_ip, dst_ip;
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t wnd, mss;
	const uint8_t *data;
	size_t dlen;
	uint8_t frame[2048];
};

/* Pulls the next frame and checks it thoroughly; false when there is none. */
static bool pull_cap(struct mmds_stack *st, struct out *o, size_t cap)
{
	uint8_t *f = o->frame, *ip, *t;
	size_t ihl, tot, thl;

	memset(o, 0, offsetof(struct out, frame));
	o->len = mmds_stack_tx_to_guest(st, f, cap);
	if (!o->len)
		return false;
	CHECK(o->len <= cap);
	CHECK(o->len <= MMDS_FRAME_MAX);
	CHECK_MEM_EQ(f + 6, MMDS_MAC, 6);
	if (r16(f + 12) == 0x0806) {
		o->arp = true;
		CHECK_EQ_U64(o->len, 42);
		return true;
	}
	if (!CHECK_EQ_U64(r16(f + 12), 0x0800))
		return true;  /* recorded as a failure; the caller sees a frame it ignores */
	ip = f + 14;
	ihl = (size_t)(ip[0] & 15) * 4;
	tot = r16(ip + 2);
	CHECK_EQ_U64(ip[0] >> 4, 4);
	CHECK_EQ_U64(ihl, 20);
	CHECK_EQ_U64(tot + 14, o->len);
	CHECK_EQ_U64(fold(sum16(ip, ihl, 0)), 0);           /* IPv4 header checksum */
	CHECK_EQ_U64(ip[9], 6);
	CHECK(ip[8] > 0);
	CHECK_EQ_U64(r16(ip + 6) & 0x3fff, 0);                /* not a fragment */
	o->src_ip = r32(ip + 12);
	o->dst_ip = r32(ip + 16);
	t = ip + ihl;
	/* TCP checksum over pseudo header + segment must verify to zero. */
	CHECK_EQ_U64(fold(sum16(t, tot - ihl, sum16(ip + 12, 8, 6 + (uint32_t)(tot - ihl)))), 0);
	thl = (size_t)(t[12] >> 4) * 4;
	CHECK(thl >= 20 && thl <= tot - ihl);
	o->tcp = true;
	o->sport = (uint16_t)r16(t);
	o->dport = (uint16_t)r16(t + 2);
	o->seq = r32(t + 4);
	o->ack = r32(t + 8);
	o->flags = t[13];
	o->wnd = (uint16_t)r16(t + 14);
	if (thl >= 24 && t[20] == 2 && t[21] == 4)
		o->mss = (uint16_t)r16(t + 22);
	o->data = t + thl;
	o->dlen = tot - ihl - thl;
	CHECK_MEM_EQ(f, GUEST_MAC, 6);
	return true;
}

static bool pull(struct mmds_stack *st, struct out *o)
{
	return pull_cap(st, o, sizeof(o->frame));
}

/* A guest's TCP connection to MMDS. */
struct gconn {
	struct mmds_stack *st;
	uint16_t port;
	uint32_t snd_nxt, rcv_nxt;
	uint16_t wnd;
	char rx[70000];            /* bytes received in order */
	size_t rx_len;
	bool got_fin, got_rst;
};

static int gsend(struct gconn *g, uint8_t flags, const char *data, size_t len)
{
	uint8_t f[2048];
	size_t n = mk_tcp(f, MMDS_IP, g->port, 80, g->snd_nxt, g->rcv_nxt, flags, g->wnd, 0,
			  data, len);
	int r = mmds_stack_rx_from_guest(g->st, f, n);

	g->snd_nxt += (uint32_t)len + ((flags & F_FIN) ? 1u : 0u);
	return r;
}

/* Takes every frame the stack has, as the guest would: data in order, FIN, RST. The
 * guest does not ACK here (the caller decides). Returns the number of frames. */
static int drain(struct gconn *g)
{
	struct out o;
	int n = 0;

	while (pull(g->st, &o)) {
		n++;
		if (!o.tcp || o.dport != g->port)
			continue;
		if (o.flags & F_RST) {
			g->got_rst = true;
			continue;
		}
		if (o.dlen && o.seq == g->rcv_nxt && g->rx_len + o.dlen <= sizeof(g->rx)) {
			memcpy(g->rx + g->rx_len, o.data, o.dlen);
			g->rx_len += o.dlen;
			g->rcv_nxt += (uint32_t)o.dlen;
		}
		if ((o.flags & F_FIN) && o.seq + o.dlen == g->rcv_nxt) {
			g->rcv_nxt++;
			g->got_fin = true;
		}
	}
	return n;
}

static struct mmds_store *new_store(const char *version)
{
	static const char *data =
		"{\"latest\":{\"meta-data\":{\"ami-id\":\"ami-12345678\",\"hostname\":\"vm1\"}}}";
	struct mmds_store *s = mmds_store_new();

	if (!s)
		return NULL;
	mmds_store_set_clock(s, fake_clock, NULL);
	if (mmds_store_put_json(s, data, strlen(data), NULL, 0) < 0 ||
	    mmds_config_set(s, version, NULL, NULL, 0) < 0) {
		mmds_store_free(s);
		return NULL;
	}
	return s;
}

/* The three-way handshake; true when established. */
static bool connect_(struct gconn *g, struct mmds_stack *st, uint16_t port, uint16_t mss)
{
	uint8_t f[128];
	struct out o;
	size_t n;

	memset(g, 0, offsetof(struct gconn, rx));
	g->rx_len = 0;
	g->got_fin = g->got_rst = false;
	g->st = st;
	g->port = port;
	g->snd_nxt = 0x10000000u + port * 977u;
	g->wnd = 64240;
	n = mk_tcp(f, MMDS_IP, port, 80, g->snd_nxt, 0, F_SYN, g->wnd, mss, NULL, 0);
	if (!CHECK_EQ_INT(mmds_stack_rx_from_guest(st, f, n), 1))
		return false;
	g->snd_nxt++;
	if (!pull(st, &o) || !CHECK_EQ_U64(o.flags, F_SYN | F_ACK))
		return false;
	CHECK_EQ_U64(o.ack, g->snd_nxt);
	CHECK_EQ_U64(o.sport, 80);
	CHECK_EQ_U64(o.dport, port);
	CHECK_EQ_U64(o.src_ip, MMDS_IP);
	CHECK_EQ_U64(o.dst_ip, GUEST_IP);
	CHECK_EQ_U64(o.mss, MMDS_MSS);
	g->rcv_nxt = o.seq + 1;
	gsend(g, F_ACK, NULL, 0);
	return true;
}

/* Sends a request, collects the response (ACKing as it comes); returns the status. */
static int request(struct gconn *g, const char *req)
{
	int st = 0;
	size_t before = g->rx_len;

	gsend(g, F_ACK | F_PSH, req, strlen(req));
	for (int i = 0; i < 200 && drain(g); i++)
		gsend(g, F_ACK, NULL, 0);
	g->rx[g->rx_len] = '\0';
	sscanf(g->rx + before, "HTTP/1.1 %d", &st);
	return st;
}

static const char *body_of(const struct gconn *g)
{
	const char *b = strstr(g->rx, "\r\n\r\n");

	return b ? b + 4 : "";
}

TEST(arp_request_for_mmds_is_answered)
{
	struct mmds_store *s = new_store("V1");
	struct mmds_stack *st = s ? mmds_stack_new(s) : NULL;
	uint8_t f[60] = { 0 };
	struct out o;

	REQUIRE_NOT_NULL(st);
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
	w32(f + 38, MMDS_IP);
	CHECK_EQ_INT(mmds_stack_rx_from_guest(st, f, sizeof(f)), 1);
	REQUIRE(pull(st, &o));
	CHECK(o.arp);
	CHECK_MEM_EQ(o.frame, GUEST_MAC, 6);
	CHECK_EQ_U64(r16(o.frame + 20), 2);                  /* reply */
	CHECK_MEM_EQ(o.frame + 22, MMDS_MAC, 6);             /* sender: MMDS */
	CHECK_EQ_U64(r32(o.frame + 28), MMDS_IP);
	CHECK_MEM_EQ(o.frame + 32, GUEST_MAC, 6);            /* target: the asker */
	CHECK_EQ_U64(r32(o.frame + 38), GUEST_IP);
	CHECK(!pull(st, &o));

	/* ARP for another address: not MMDS's, it goes to the tap. */
	w32(f + 38, 0xac100001u);
	CHECK_EQ_INT(mmds_stack_rx_from_guest(st, f, sizeof(f)), 0);
	/* An ARP reply about the MMDS address: consumed, unanswered. */
	w32(f + 38, MMDS_IP);
	w16(f + 20, 2);
	CHECK_EQ_INT(mmds_stack_rx_from_guest(st, f, sizeof(f)), 1);
	CHECK(!mmds_stack_has_output(st));
	/* Truncated ARP: not enough to tell. */
	CHECK_EQ_INT(mmds_stack_rx_from_guest(st, f, 40), 0);
	mmds_stack_free(st);
	mmds_store_free(s);
}

TEST(match_decides_from_the_first_peek_bytes)
{
	struct mmds_store *s = new_store("V1");
	struct mmds_stack *st = s ? mmds_stack_new(s) : NULL;
	uint8_t f[128] = { 0 };
	size_t n;

	REQUIRE_NOT_NULL(st);
	w16(f + 12, 0x0806);
	w32(f + 38, MMDS_IP);
	CHECK(mmds_stack_match(st, f, MMDS_MATCH_PEEK));           /* ARP: target at 38 */
	CHECK(!mmds_stack_match(st, f, MMDS_MATCH_PEEK - 1));
	n = mk_tcp(f, MMDS_IP, 40000, 80, 1, 0, F_SYN, 1000, 0, NULL, 0);
	CHECK(n >= MMDS_MATCH_PEEK);
	CHECK(mmds_stack_match(st, f, MMDS_MATCH_PEEK));
	CHECK(mmds_stack_match(st, f, 34));
	CHECK(!mmds_stack_match(st, f, 33));
	mmds_stack_free(st);
	mmds_store_free(s);
}

TEST(configured_address_is_used)
{
	struct mmds_store *s = new_store("V1");
	struct mmds_stack *st = s ? mmds_stack_new(s) : NULL;
	uint8_t f[128];
	struct out o;
	size_t n;

	REQUIRE_NOT_NULL(st);
	REQUIRE_EQ_INT(mmds_config_set(s, "V1", "169.254.170.2", NULL, 0), 0);
	n = mk_tcp(f, MMDS_IP, 40000, 80, 1, 0, F_SYN, 1000, 0, NULL, 0);
	CHECK_EQ_INT(mmds_stack_rx_from_guest(st, f, n), 0);   /* the old address: not ours */
	n = mk_tcp(f, 0xa9feaa02u, 40000, 80, 1, 0, F_SYN, 1000, 0, NULL, 0);
	CHECK_EQ_INT(mmds_stack_rx_from_guest(st, f, n), 1);
	REQUIRE(pull(st, &o));
	CHECK_EQ_U64(o.src_ip, 0xa9feaa02u);
	CHECK_EQ_U64(o.mss, MMDS_MSS);
	mmds_stack_free(st);
	mmds_store_free(s);
}

TEST(other_traffic_is_not_consumed)
{
	struct mmds_store *s = new_store("V1");
	struct mmds_stack *st = s ? mmds_stack_new(s) : NULL;
	uint8_t f[128];
	size_t n;

	REQUIRE_NOT_NULL(st);
	n = mk_tcp(f, 0x08080808u, 40000, 80, 1, 0, F_SYN, 1000, 0, NULL, 0);
	CHECK_EQ_INT(mmds_stack_rx_from_guest(st, f, n), 0);
	w16(f + 12, 0x86dd);                                     /* IPv6 */
	CHECK_EQ_INT(mmds_stack_rx_from_guest(st, f, n), 0);
	CHECK_EQ_INT(mmds_stack_rx_from_guest(st, f, 0), 0);
	CHECK_EQ_INT(mmds_stack_rx_from_guest(st, f, 13), 0);
	n = mk_tcp(f, MMDS_IP, 40000, 80, 1, 0, F_SYN, 1000, 0, NULL, 0);
	CHECK_EQ_INT(mmds_stack_rx_from_guest(st, f, 33), 0);    /* can't see the address */
	CHECK(!mmds_stack_has_output(st));
	mmds_stack_free(st);
	mmds_store_free(s);
}

TEST(get_meta_data_and_guest_closes)
{
	struct mmds_store *s = new_store("V1");
	struct mmds_stack *st = s ? mmds_stack_new(s) : NULL;
	static struct gconn g;
	struct out o;

	REQUIRE_NOT_NULL(st);
	REQUIRE(connect_(&g, st, 41000, 1460));
	CHECK(!mmds_stack_has_output(st));                       /* nothing to ACK */
	CHECK_EQ_INT(mmds_stack_conns(st), 1);
	CHECK_EQ_INT(request(&g, "GET /latest/meta-data/ HTTP/1.1\r\nHost: 169.254.169.254\r\n"
			     "User-Agent: curl/8.0\r\nAccept: */*\r\n\r\n"), 200);
	CHECK_STR_EQ(body_of(&g), "ami-id\nhostname");
	CHECK(!g.got_fin);
	/* A second request on the same connection. */
	CHECK_EQ_INT(request(&g, "GET /latest/meta-data/hostname HTTP/1.1\r\n\r\n"), 200);
	CHECK(strstr(g.rx, "\r\n\r\nvm1") != NULL);
	/* The guest closes: MMDS ACKs and closes too. */
	gsend(&g, F_FIN | F_ACK, NULL, 0);
	REQUIRE(pull(st, &o));
	CHECK(o.flags & F_FIN);
	CHECK(o.flags & F_ACK);
	CHECK_EQ_U64(o.ack, g.snd_nxt);
	CHECK_EQ_U64(o.seq, g.rcv_nxt);
	CHECK(!pull(st, &o));
	g.rcv_nxt++;
	CHECK_EQ_INT(mmds_stack_conns(st), 1);
	gsend(&g, F_ACK, NULL, 0);
	CHECK_EQ_INT(mmds_stack_conns(st), 0);
	CHECK(!mmds_stack_has_output(st));
	mmds_stack_free(st);
	mmds_store_free(s);
}

TEST(connection_close_makes_mmds_close_first)
{
	struct mmds_store *s = new_store("V1");
	struct mmds_stack *st = s ? mmds_stack_new(s) : NULL;
	static struct gconn g;
	struct out o;

	REQUIRE_NOT_NULL(st);
	REQUIRE(connect_(&g, st, 41001, 1460));
	/* busybox wget style. */
	CHECK_EQ_INT(request(&g, "GET /latest/meta-data/ami-id HTTP/1.1\r\nHost: 169.254.169.254\r\n"
			     "User-Agent: Wget\r\nConnection: close\r\n\r\n"), 200);
	CHECK_STR_EQ(body_of(&g), "ami-12345678");
	CHECK(g.got_fin);
	CHECK_EQ_INT(mmds_stack_conns(st), 1);                   /* waiting for the guest's FIN */
	gsend(&g, F_FIN | F_ACK, NULL, 0);
	REQUIRE(pull(st, &o));                                   /* the last ACK */
	CHECK_EQ_U64(o.flags, F_ACK);
	CHECK_EQ_U64(o.ack, g.snd_nxt);
	CHECK_EQ_INT(mmds_stack_conns(st), 0);
	mmds_stack_free(st);
	mmds_store_free(s);
}

TEST(v2_token_flow_over_tcp)
{
	struct mmds_store *s = new_store("V2");
	struct mmds_stack *st = s ? mmds_stack_new(s) : NULL;
	static struct gconn g;
	char tok[MMDS_TOKEN_LEN + 1], req[256];

	REQUIRE_NOT_NULL(st);
	REQUIRE(connect_(&g, st, 42000, 1460));
	CHECK_EQ_INT(request(&g, "GET /latest/meta-data/ami-id HTTP/1.1\r\n\r\n"), 401);
	g.rx_len = 0;
	CHECK_EQ_INT(request(&g, "PUT /latest/api/token HTTP/1.1\r\n"
			     "X-metadata-token-ttl-seconds: 21600\r\n\r\n"), 200);
	REQUIRE_EQ_U64(strlen(body_of(&g)), MMDS_TOKEN_LEN);
	strcpy(tok, body_of(&g));
	g.rx_len = 0;
	snprintf(req, sizeof(req), "GET /latest/meta-data/ami-id HTTP/1.1\r\n"
		 "X-metadata-token: %s\r\n\r\n", tok);
	CHECK_EQ_INT(request(&g, req), 200);
	CHECK_STR_EQ(body_of(&g), "ami-12345678");
	g.rx_len = 0;
	CHECK_EQ_INT(request(&g, "DELETE /latest HTTP/1.1\r\n\r\n"), 405);
	g.rx_len = 0;
	snprintf(req, sizeof(req), "GET /latest/nope HTTP/1.1\r\nX-metadata-token: %s\r\n\r\n", tok);
	CHECK_EQ_INT(request(&g, req), 404);
	mmds_stack_free(st);
	mmds_store_free(s);
}

TEST(pipelined_requests_in_one_segment)
{
	struct mmds_store *s = new_store("V1");
	struct mmds_stack *st = s ? mmds_stack_new(s) : NULL;
	static struct gconn g;

	REQUIRE_NOT_NULL(st);
	REQUIRE(connect_(&g, st, 42001, 1460));
	request(&g, "GET /latest/meta-data/ami-id HTTP/1.1\r\n\r\n"
		    "GET /latest/meta-data/hostname HTTP/1.1\r\n\r\n");
	g.rx[g.rx_len] = '\0';
	CHECK(strstr(g.rx, "\r\n\r\nami-12345678HTTP/1.1 200 OK") != NULL);
	CHECK(strstr(g.rx, "\r\n\r\nvm1") != NULL);
	mmds_stack_free(st);
	mmds_store_free(s);
}

TEST(rst_for_other_ports_and_unknown_connections)
{
	struct mmds_store *s = new_store("V1");
	struct mmds_stack *st = s ? mmds_stack_new(s) : NULL;
	uint8_t f[128];
	struct out o;
	size_t n;

	REQUIRE_NOT_NULL(st);
	/* SYN to port 8080: RST|ACK acknowledging the SYN. */
	n = mk_tcp(f, MMDS_IP, 43000, 8080, 500, 0, F_SYN, 1000, 0, NULL, 0);
	CHECK_EQ_INT(mmds_stack_rx_from_guest(st, f, n), 1);
	REQUIRE(pull(st, &o));
	CHECK_EQ_U64(o.flags, F_RST | F_ACK);
	CHECK_EQ_U64(o.ack, 501);
	CHECK_EQ_U64(o.sport, 8080);
	/* An ACK for no connection: RST with seq = its ack. */
	n = mk_tcp(f, MMDS_IP, 43001, 80, 500, 7777, F_ACK, 1000, 0, "x", 1);
	CHECK_EQ_INT(mmds_stack_rx_from_guest(st, f, n), 1);
	REQUIRE(pull(st, &o));
	CHECK_EQ_U64(o.flags, F_RST);
	CHECK_EQ_U64(o.seq, 7777);
	/* A RST is never answered. */
	n = mk_tcp(f, MMDS_IP, 43001, 80, 500, 7777, F_RST | F_ACK, 0, 0, NULL, 0);
	CHECK_EQ_INT(mmds_stack_rx_from_guest(st, f, n), 1);
	CHECK(!mmds_stack_has_output(st));
	CHECK_EQ_INT(mmds_stack_conns(st), 0);
	mmds_stack_free(st);
	mmds_store_free(s);
}

TEST(guest_rst_closes_the_connection)
{
	struct mmds_store *s = new_store("V1");
	struct mmds_stack *st = s ? mmds_stack_new(s) : NULL;
	static struct gconn g;

	REQUIRE_NOT_NULL(st);
	REQUIRE(connect_(&g, st, 43100, 1460));
	CHECK_EQ_INT(mmds_stack_conns(st), 1);
	g.snd_nxt += 100000;                    /* out of window: ignored */
	gsend(&g, F_RST, NULL, 0);
	CHECK_EQ_INT(mmds_stack_conns(st), 1);
	g.snd_nxt -= 100000;
	gsend(&g, F_RST, NULL, 0);
	CHECK_EQ_INT(mmds_stack_conns(st), 0);
	CHECK(!mmds_stack_has_output(st));
	mmds_stack_free(st);
	mmds_store_free(s);
}

TEST(repeated_syn_gets_the_same_syn_ack)
{
	struct mmds_store *s = new_store("V1");
	struct mmds_stack *st = s ? mmds_stack_new(s) : NULL;
	uint8_t f[128];
	struct out a, b;
	size_t n;

	REQUIRE_NOT_NULL(st);
	n = mk_tcp(f, MMDS_IP, 43200, 80, 900, 0, F_SYN, 1000, 536, NULL, 0);
	CHECK_EQ_INT(mmds_stack_rx_from_guest(st, f, n), 1);
	REQUIRE(pull(st, &a));
	CHECK_EQ_INT(mmds_stack_rx_from_guest(st, f, n), 1);
	REQUIRE(pull(st, &b));
	CHECK_EQ_U64(b.flags, F_SYN | F_ACK);
	CHECK_EQ_U64(a.seq, b.seq);
	CHECK_EQ_U64(b.ack, 901);
	CHECK_EQ_INT(mmds_stack_conns(st), 1);
	/* An ACK that does not acknowledge the SYN: RST. */
	n = mk_tcp(f, MMDS_IP, 43200, 80, 901, a.seq + 5, F_ACK, 1000, 0, NULL, 0);
	mmds_stack_rx_from_guest(st, f, n);
	n = mk_tcp(f, MMDS_IP, 43200, 80, 901, a.seq, F_ACK, 1000, 0, NULL, 0);
	mmds_stack_rx_from_guest(st, f, n);
	REQUIRE(pull(st, &b));
	CHECK(b.flags & F_RST);
	mmds_stack_free(st);
	mmds_store_free(s);
}

/* A response bigger than the guest's MSS and window: segments of at most MSS bytes, no
 * more unacknowledged than the window, reassembled exactly. */
TEST(large_response_respects_mss_and_window)
{
	struct mmds_store *s = mmds_store_new();
	struct mmds_stack *st = s ? mmds_stack_new(s) : NULL;
	static struct gconn g;
	static char json[20100];
	struct out o;
	size_t vlen = 20000;
	uint32_t max_inflight = 0;
	int segs = 0, rounds = 0;

	REQUIRE_NOT_NULL(st);
	memcpy(json, "{\"v\":\"", 6);
	for (size_t i = 0; i < vlen; i++)
		json[6 + i] = (char)('a' + i % 26);
	memcpy(json + 6 + vlen, "\"}", 3);
	REQUIRE_EQ_INT(mmds_store_put_json(s, json, strlen(json), NULL, 0), 0);
	REQUIRE(connect_(&g, st, 44000, 536));
	g.wnd = 3000;
	gsend(&g, F_ACK | F_PSH, "GET /v HTTP/1.1\r\n\r\n", 19);
	while (rounds++ < 1000) {
		uint32_t first_unacked = g.rcv_nxt;
		bool any = false;

		while (pull(st, &o)) {
			any = true;
			if (!o.dlen)
				continue;
			segs++;
			CHECK(o.dlen <= 536);
			CHECK_EQ_U64(o.seq, g.rcv_nxt);
			if (o.seq + o.dlen - first_unacked > max_inflight)
				max_inflight = o.seq + (uint32_t)o.dlen - first_unacked;
			memcpy(g.rx + g.rx_len, o.data, o.dlen);
			g.rx_len += o.dlen;
			g.rcv_nxt += (uint32_t)o.dlen;
		}
		if (!any)
			break;
		gsend(&g, F_ACK, NULL, 0);
	}
	g.rx[g.rx_len] = '\0';
	CHECK(max_inflight <= 3000);
	CHECK(max_inflight > 2000);
	CHECK(segs >= 40);
	CHECK_EQ_U64(strlen(body_of(&g)), vlen);
	CHECK_MEM_EQ(body_of(&g), json + 6, vlen);
	mmds_stack_free(st);
	mmds_store_free(s);
}

TEST(small_receive_buffers_get_smaller_segments)
{
	struct mmds_store *s = new_store("V1");
	struct mmds_stack *st = s ? mmds_stack_new(s) : NULL;
	static struct gconn g;
	struct out o;

	REQUIRE_NOT_NULL(st);
	REQUIRE(connect_(&g, st, 44100, 1460));
	gsend(&g, F_ACK | F_PSH, "GET /latest HTTP/1.1\r\n\r\n", 24);
	CHECK(!pull_cap(st, &o, MMDS_FRAME_MIN - 1));         /* too small: nothing */
	REQUIRE(pull_cap(st, &o, 80));
	CHECK(o.len <= 80);
	CHECK_EQ_U64(o.dlen, 80 - 54);
	CHECK_EQ_U64(o.seq, g.rcv_nxt);
	mmds_stack_free(st);
	mmds_store_free(s);
}

TEST(duplicate_acks_make_mmds_resend)
{
	struct mmds_store *s = new_store("V1");
	struct mmds_stack *st = s ? mmds_stack_new(s) : NULL;
	static struct gconn g;
	struct out o;
	uint32_t first;
	size_t len;

	REQUIRE_NOT_NULL(st);
	REQUIRE(connect_(&g, st, 44200, 1460));
	gsend(&g, F_ACK | F_PSH, "GET /latest HTTP/1.1\r\n\r\n", 24);
	REQUIRE(pull(st, &o));
	REQUIRE(o.dlen > 0);
	first = o.seq;
	len = o.dlen;
	CHECK(!pull(st, &o));
	/* "Lost": the guest ACKs only what it had, twice. */
	gsend(&g, F_ACK, NULL, 0);
	CHECK(!mmds_stack_has_output(st));
	gsend(&g, F_ACK, NULL, 0);
	REQUIRE(pull(st, &o));
	CHECK_EQ_U64(o.seq, first);
	CHECK_EQ_U64(o.dlen, len);
	mmds_stack_free(st);
	mmds_store_free(s);
}

/* Sends the request with Connection: close and pulls the answer and the FIN without
 * acknowledging them; returns the FIN's sequence number, the first data byte in *first. */
static uint32_t close_unacked(struct gconn *g, uint32_t *first, size_t *dlen)
{
	struct out o;
	uint32_t fin = 0;
	const char *req = "GET /latest HTTP/1.1\r\nConnection: close\r\n\r\n";

	*dlen = 0;
	*first = 0;
	gsend(g, F_ACK | F_PSH, req, strlen(req));
	while (pull(g->st, &o)) {
		if (o.dlen && !*dlen)
			*first = o.seq;
		*dlen += o.dlen;
		if (o.flags & F_FIN)
			fin = o.seq + (uint32_t)o.dlen;
	}
	return fin;
}

TEST(resend_after_close_includes_the_fin)
{
	struct mmds_store *s = new_store("V1");
	struct mmds_stack *st = s ? mmds_stack_new(s) : NULL;
	static struct gconn g;
	struct out o;
	uint32_t first, fin;
	size_t dlen, again = 0;
	bool fin_again = false;

	REQUIRE_NOT_NULL(st);
	REQUIRE(connect_(&g, st, 44250, 1460));
	fin = close_unacked(&g, &first, &dlen);
	REQUIRE(dlen > 0);
	CHECK_EQ_U64(fin, first + dlen);
	gsend(&g, F_ACK, NULL, 0);
	gsend(&g, F_ACK, NULL, 0);                 /* the guest still wants `first` */
	while (pull(st, &o)) {
		if (o.dlen && !again)
			CHECK_EQ_U64(o.seq, first);
		again += o.dlen;
		if (o.flags & F_FIN) {
			fin_again = true;
			CHECK_EQ_U64(o.seq + o.dlen, fin);
		}
	}
	CHECK_EQ_U64(again, dlen);
	CHECK(fin_again);
	/* Everything acknowledged, then the guest's FIN: closed. */
	g.rcv_nxt = fin + 1;
	gsend(&g, F_ACK | F_FIN, NULL, 0);
	REQUIRE(pull(st, &o));
	CHECK_EQ_U64(o.flags, F_ACK);
	CHECK_EQ_U64(o.seq, fin + 1);
	CHECK_EQ_INT(mmds_stack_conns(st), 0);
	mmds_stack_free(st);
	mmds_store_free(s);
}

TEST(ack_for_what_was_sent_before_a_resend_is_taken)
{
	struct mmds_store *s = new_store("V1");
	struct mmds_stack *st = s ? mmds_stack_new(s) : NULL;
	static struct gconn g;
	struct out o;
	uint32_t first, fin;
	size_t dlen;

	REQUIRE_NOT_NULL(st);
	REQUIRE(connect_(&g, st, 44260, 1460));
	fin = close_unacked(&g, &first, &dlen);
	gsend(&g, F_ACK, NULL, 0);
	gsend(&g, F_ACK, NULL, 0);                 /* MMDS rewinds... */
	g.rcv_nxt = fin + 1;
	gsend(&g, F_ACK, NULL, 0);                 /* ...but everything had arrived */
	CHECK(!mmds_stack_has_output(st));
	CHECK_EQ_INT(mmds_stack_conns(st), 1);
	gsend(&g, F_ACK | F_FIN, NULL, 0);
	REQUIRE(pull(st, &o));
	CHECK_EQ_U64(o.flags, F_ACK);
	CHECK_EQ_U64(o.seq, fin + 1);
	CHECK_EQ_INT(mmds_stack_conns(st), 0);
	mmds_stack_free(st);
	mmds_store_free(s);
}

TEST(out_of_order_and_old_data)
{
	struct mmds_store *s = new_store("V1");
	struct mmds_stack *st = s ? mmds_stack_new(s) : NULL;
	static struct gconn g;
	const char *req = "GET /latest HTTP/1.1\r\n\r\n";
	struct out o;

	REQUIRE_NOT_NULL(st);
	REQUIRE(connect_(&g, st, 44300, 1460));
	/* The second half first: dropped, answered with an ACK for what is expected. */
	g.snd_nxt += 10;
	gsend(&g, F_ACK, req + 10, strlen(req) - 10);
	REQUIRE(pull(st, &o));
	CHECK_EQ_U64(o.flags, F_ACK);
	CHECK_EQ_U64(o.ack, g.snd_nxt - strlen(req));
	CHECK_EQ_U64(o.dlen, 0);
	/* Now all of it from the start, overlapping what was dropped: answered once. */
	g.snd_nxt -= (uint32_t)strlen(req);
	gsend(&g, F_ACK, req, 5);
	g.snd_nxt -= 5;
	gsend(&g, F_ACK, req, strlen(req));        /* overlaps the first 5 bytes */
	drain(&g);
	g.rx[g.rx_len] = '\0';
	CHECK_STR_CONTAINS(g.rx, "HTTP/1.1 200 OK");
	CHECK_STR_EQ(body_of(&g), "meta-data/");
	mmds_stack_free(st);
	mmds_store_free(s);
}

TEST(oversized_request_is_413_and_closed)
{
	struct mmds_store *s = new_store("V1");
	struct mmds_stack *st = s ? mmds_stack_new(s) : NULL;
	static struct gconn g;
	char chunk[1000];
	int i;

	REQUIRE_NOT_NULL(st);
	REQUIRE(connect_(&g, st, 44400, 1460));
	memcpy(chunk, "GET / HTTP/1.1\r\nX: ", 19);
	memset(chunk + 19, 'a', sizeof(chunk) - 19);
	gsend(&g, F_ACK, chunk, sizeof(chunk));
	memset(chunk, 'b', sizeof(chunk));
	for (i = 0; i < 10 && !g.got_fin; i++) {
		gsend(&g, F_ACK, chunk, sizeof(chunk));
		drain(&g);
	}
	g.rx[g.rx_len] = '\0';
	CHECK_STR_CONTAINS(g.rx, "HTTP/1.1 413");
	gsend(&g, F_ACK, NULL, 0);
	CHECK(g.got_fin);
	mmds_stack_free(st);
	mmds_store_free(s);
}

TEST(connection_limit_and_idle_reclaim)
{
	struct mmds_store *s = new_store("V1");
	struct mmds_stack *st = s ? mmds_stack_new(s) : NULL;
	static struct gconn g[MMDS_MAX_CONNS + 1];
	uint8_t f[128];
	struct out o;
	size_t n;

	REQUIRE_NOT_NULL(st);
	for (unsigned int i = 0; i < MMDS_MAX_CONNS; i++)
		REQUIRE(connect_(&g[i], st, (uint16_t)(50000 + i), 1460));
	CHECK_EQ_INT(mmds_stack_conns(st), MMDS_MAX_CONNS);
	n = mk_tcp(f, MMDS_IP, 51000, 80, 1, 0, F_SYN, 1000, 0, NULL, 0);
	CHECK_EQ_INT(mmds_stack_rx_from_guest(st, f, n), 1);
	REQUIRE(pull(st, &o));
	CHECK_EQ_U64(o.flags, F_RST | F_ACK);                   /* refused */
	CHECK_EQ_INT(mmds_stack_conns(st), MMDS_MAX_CONNS);
	/* Every connection still works. */
	CHECK_EQ_INT(request(&g[7], "GET /latest HTTP/1.1\r\n\r\n"), 200);
	/* After the idle timeout, a new connection gets a slot. */
	fake_now += MMDS_IDLE_MS;
	CHECK(connect_(&g[MMDS_MAX_CONNS], st, 51001, 1460));
	CHECK(mmds_stack_conns(st) <= MMDS_MAX_CONNS);
	{
		struct mmds_stack_stats stats;

		mmds_stack_get_stats(st, &stats);
		CHECK_EQ_U64(stats.conns_refused, 1);
		CHECK(stats.conns_reclaimed >= 1);
	}
	mmds_stack_free(st);
	mmds_store_free(s);
}

TEST(many_sequential_connections)
{
	struct mmds_store *s = new_store("V1");
	struct mmds_stack *st = s ? mmds_stack_new(s) : NULL;
	static struct gconn g;
	int ok = 0;

	REQUIRE_NOT_NULL(st);
	for (unsigned int i = 0; i < 200; i++) {
		if (!connect_(&g, st, (uint16_t)(30000 + i), 1460))
			break;
		if (request(&g, "GET /latest/meta-data/ami-id HTTP/1.1\r\nConnection: close\r\n\r\n")
		    == 200 && g.got_fin)
			ok++;
		gsend(&g, F_FIN | F_ACK, NULL, 0);
		drain(&g);
	}
	CHECK_EQ_INT(ok, 200);
	CHECK_EQ_INT(mmds_stack_conns(st), 0);
	mmds_stack_free(st);
	mmds_store_free(s);
}

TEST(malformed_frames_are_consumed_and_dropped)
{
	struct mmds_store *s = new_store("V1");
	struct mmds_stack *st = s ? mmds_stack_new(s) : NULL;
	uint8_t good[128], f[128];
	size_t n;
	struct mmds_stack_stats stats;
	struct {
		const char *what;
		void (*mutate)(uint8_t *f, size_t *n);
	} cases[] = {
		{ "ihl < 5", NULL }, { "ihl beyond the frame", NULL }, { "total length > frame", NULL },
		{ "total length < ihl", NULL }, { "bad ip checksum", NULL }, { "MF fragment", NULL },
		{ "fragment offset", NULL }, { "tcp doff < 5", NULL }, { "tcp doff > segment", NULL },
		{ "truncated tcp", NULL }, { "udp", NULL }, { "ip version 6 in v4 frame", NULL },
		{ "syn+fin", NULL }, { "source port 0", NULL }, { "multicast source", NULL },
	};

	REQUIRE_NOT_NULL(st);
	n = mk_tcp(good, MMDS_IP, 45000, 80, 1, 0, F_SYN, 1000, 1460, NULL, 0);
	for (unsigned int i = 0; i < ARRAY_LEN(cases); i++) {
		size_t m = n;
		uint8_t *ip = f + 14, *t = ip + 20;

		memcpy(f, good, n);
		switch (i) {
		case 0: ip[0] = 0x44; break;
		case 1: ip[0] = 0x4f; break;
		case 2: w16(ip + 2, (uint32_t)(n - 14 + 1)); break;
		case 3: w16(ip + 2, 10); break;
		case 4: ip[10] ^= 0x55; break;
		case 5: w16(ip + 6, 0x2000); break;
		case 6: w16(ip + 6, 0x0010); break;
		case 7: t[12] = 0x40; break;
		case 8: t[12] = 0xf0; break;
		case 9: m = 14 + 20 + 10; w16(ip + 2, 30); break;
		case 10: ip[9] = 17; break;
		case 11: ip[0] = 0x65; break;
		case 12: t[13] = F_SYN | F_FIN; break;
		case 13: t[0] = t[1] = 0; break;
		case 14: f[6] |= 1; break;
		}
		/* Keep the IP checksum right unless that is the point. */
		if (i != 4 && (ip[0] & 15) >= 5 && (size_t)(ip[0] & 15) * 4 <= m - 14) {
			ip[10] = ip[11] = 0;
			w16(ip + 10, fold(sum16(ip, (size_t)(ip[0] & 15) * 4, 0)));
		}
		if (!CHECK_EQ_INT(mmds_stack_rx_from_guest(st, f, m), 1))
			FAIL("%s: not consumed", cases[i].what);
		if (!CHECK(!mmds_stack_has_output(st)))
			FAIL("%s: answered", cases[i].what);
		while (mmds_stack_has_output(st)) {
			struct out o;

			pull(st, &o);
		}
	}
	mmds_stack_get_stats(st, &stats);
	CHECK_EQ_U64(stats.rx_dropped, ARRAY_LEN(cases));
	CHECK_EQ_INT(mmds_stack_conns(st), 0);
	/* The unmutated frame does open a connection (the cases above were the cause). */
	CHECK_EQ_INT(mmds_stack_rx_from_guest(st, good, n), 1);
	CHECK_EQ_INT(mmds_stack_conns(st), 1);
	mmds_stack_free(st);
	mmds_store_free(s);
}

TEST(ip_options_and_ethernet_padding_are_fine)
{
	struct mmds_store *s = new_store("V1");
	struct mmds_stack *st = s ? mmds_stack_new(s) : NULL;
	uint8_t f[128] = { 0 }, g[128] = { 0 };
	struct out o;
	size_t n;

	REQUIRE_NOT_NULL(st);
	n = mk_tcp(f, MMDS_IP, 45100, 80, 1, 0, F_SYN, 1000, 0, NULL, 0);
	/* Insert 4 bytes of IP options (NOPs) after the 20-byte header. */
	memcpy(g, f, 34);
	memset(g + 34, 1, 4);
	memcpy(g + 38, f + 34, n - 34);
	g[14] = 0x46;
	w16(g + 16, (uint32_t)(n - 14 + 4));
	g[24] = g[25] = 0;
	w16(g + 24, fold(sum16(g + 14, 24, 0)));
	/* And 10 bytes of Ethernet padding after the packet. */
	CHECK_EQ_INT(mmds_stack_rx_from_guest(st, g, n + 4 + 10), 1);
	REQUIRE(pull(st, &o));
	CHECK_EQ_U64(o.flags, F_SYN | F_ACK);
	CHECK_EQ_U64(o.ack, 2);
	mmds_stack_free(st);
	mmds_store_free(s);
}

/* Random corruption of frames of a live exchange: whatever happens, nothing crashes
 * (ASan in make check-asan), the connection count stays bounded and the output is
 * well formed (pull checks every frame). */
TEST(random_frames_keep_the_stack_sane)
{
	struct mmds_store *s = new_store("V2");
	struct mmds_stack *st = s ? mmds_stack_new(s) : NULL;
	uint64_t rng = 0xfeedbeef;
	uint8_t f[256];
	struct out o;
	int frames = 0;

	REQUIRE_NOT_NULL(st);
	for (int iter = 0; iter < 30000; iter++) {
		uint16_t port = (uint16_t)(1000 + test_rand(&rng) % 50);
		uint8_t flags = (uint8_t)test_rand(&rng);
		const char *reqs[] = { "GET / HTTP/1.1\r\n\r\n", "PUT /latest/api/token HTTP/1.1\r\n"
				       "X-metadata-token-ttl-seconds: 5\r\n\r\n", "", "GARBAGE" };
		const char *d = reqs[test_rand(&rng) % 4];
		size_t n = mk_tcp(f, MMDS_IP, port, test_rand(&rng) % 8 ? 80 : 81,
				  (uint32_t)test_rand(&rng) % 4, (uint32_t)test_rand(&rng),
				  test_rand(&rng) % 3 ? flags : F_SYN, (uint16_t)test_rand(&rng),
				  (uint16_t)(test_rand(&rng) % 2 ? test_rand(&rng) : 0), d, strlen(d));

		if (test_rand(&rng) % 3 == 0)
			f[14 + test_rand(&rng) % (n - 14)] ^= (uint8_t)(1u << test_rand(&rng) % 8);
		if (test_rand(&rng) % 5 == 0)
			n = 14 + test_rand(&rng) % (n - 13);
		mmds_stack_rx_from_guest(st, f, n);
		while (test_rand(&rng) % 4 && pull(st, &o))
			frames++;
		if (test_rand(&rng) % 1000 == 0)
			fake_now += 30000;
		if (mmds_stack_conns(st) > MMDS_MAX_CONNS)
			break;
	}
	CHECK(mmds_stack_conns(st) <= MMDS_MAX_CONNS);
	CHECK(frames > 1000);
	mmds_stack_free(st);
	mmds_store_free(s);
}
