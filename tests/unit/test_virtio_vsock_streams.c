/* virtio-vsock streams (src/devices/virtio/virtio_vsock.c, vsock_host.c): MiB relays both
 * ways with checksums and the credit rules checked on every packet, a Unix peer that does
 * not read, half-close, and 100 guest plus 70 host connections at once. The guest is
 * played by vsock_driver.h; the Unix ends are real sockets, some in threads. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "vsock_driver.h"
#include "util/err.h"

/* ---- data relay with checksums ---- */

/* Relays send_host bytes host->guest and send_guest bytes guest->host on one connection
 * whose Unix end is fd, then closes from the guest side. */
static void relay_check(struct fx *f, struct gconn *g, int fd, uint64_t send_host,
			uint64_t send_guest)
{
	struct host_side hs = { .fd = fd, .send_bytes = send_host, .seed = 77 };
	pthread_t wt, rt;
	struct vsock_hdr h;

	g->rx_hash = FNV0;
	g->tx_hash = FNV0;
	g->tx_goal = send_guest;
	g->tx_seed = 99;
	set_timeouts(fd);
	REQUIRE(pthread_create(&wt, NULL, host_writer, &hs) == 0);
	REQUIRE(pthread_create(&rt, NULL, host_reader, &hs) == 0);
	usleep(100 * 1000);   /* let the writer fill the socket: more than the guest's credit */
	g_run(f, g);
	/* Guest closes: SHUTDOWN both ways, the device answers RST once flushed. */
	g_send(f, g, VSOCK_OP_SHUTDOWN, VSOCK_SHUTDOWN_RCV | VSOCK_SHUTDOWN_SEND, NULL, 0);
	for (int i = 0; i < 5000 && !g->got_rst; i++) {
		virtio_vsock_poll(&f->v, 1);
		while (rx_get(f, &h, NULL, 0))
			if (h.op == VSOCK_OP_RST && h.dst_port == g->gport)
				g->got_rst = true;
	}
	pthread_join(wt, NULL);
	pthread_join(rt, NULL);
	CHECK_EQ_INT(hs.failed, 0);
	CHECK(g->host_shut);
	CHECK(g->got_rst);
	CHECK_EQ_U64(g->rx_bytes, send_host);
	CHECK_EQ_U64(g->rx_hash, hs.sent_hash);
	CHECK_EQ_U64(hs.recv_bytes, send_guest);
	CHECK_EQ_U64(hs.recv_hash, g->tx_hash);
	CHECK_EQ_U64(g->credit_violations, 0);
	CHECK_EQ_U64(g->bad_buf_alloc, 0);
	CHECK_EQ_U64(f->v.nconns, 0);
}

TEST(relay_host_initiated_several_mib_both_ways)
{
	struct fx f;
	struct gconn g = { .buf_alloc = 64 * 1024 };   /* small: the device must wait for credit */
	struct vsock_hdr h;
	char line[64], want[64];
	int fd;

	REQUIRE(fx_setup(&f) == 0);
	rx_fill(&f);
	fd = host_client(&f, "CONNECT 7000\n");
	REQUIRE(fd >= 0);
	REQUIRE(rx_wait(&f, &h, NULL, 0, 200) == 1);
	REQUIRE(h.op == VSOCK_OP_REQUEST);
	g.gport = 7000;
	g.hport = h.src_port;
	g.host_buf_alloc = h.buf_alloc;
	g_send(&f, &g, VSOCK_OP_RESPONSE, 0, NULL, 0);
	pump(&f);
	REQUIRE(read_line(fd, line, sizeof(line)) > 0);
	snprintf(want, sizeof(want), "OK %u", g.hport);
	CHECK_STR_EQ(line, want);
	relay_check(&f, &g, fd, 6u << 20, 5u << 20);
	close(fd);
	fx_teardown(&f);
}

struct acceptor {
	int lfd, fd;
};

static void *accept_one(void *arg)
{
	struct acceptor *a = arg;

	a->fd = accept(a->lfd, NULL, NULL);
	return NULL;
}

TEST(relay_guest_initiated_several_mib_both_ways)
{
	struct fx f;
	struct gconn g = { .gport = 50000, .hport = 5002, .buf_alloc = 128 * 1024 };
	struct vsock_hdr h;
	struct acceptor a;
	char path[160];
	pthread_t t;

	REQUIRE(fx_setup(&f) == 0);
	rx_fill(&f);
	snprintf(path, sizeof(path), "%s_5002", f.uds);
	a.lfd = unix_listen(path);
	REQUIRE(a.lfd >= 0);
	REQUIRE(pthread_create(&t, NULL, accept_one, &a) == 0);
	g_send(&f, &g, VSOCK_OP_REQUEST, 0, NULL, 0);
	REQUIRE(rx_wait(&f, &h, NULL, 0, 200) == 1);
	CHECK_EQ_U64(h.op, VSOCK_OP_RESPONSE);
	g.host_buf_alloc = h.buf_alloc;
	g.host_fwd_cnt = h.fwd_cnt;
	pthread_join(t, NULL);
	REQUIRE(a.fd >= 0);
	relay_check(&f, &g, a.fd, 3u << 20, 7u << 20);
	close(a.fd);
	close(a.lfd);
	fx_teardown(&f);
}

/* A Unix peer that reads nothing: the device buffers at most its buf_alloc, tells the
 * guest no more credit, and a guest that ignores that is reset. */
TEST(slow_unix_peer_backpressure_and_credit_violation)
{
	struct fx f;
	struct gconn g = { .gport = 50001, .hport = 5003, .buf_alloc = 65536 };
	struct vsock_hdr h;
	struct acceptor a;
	char path[160];
	pthread_t t;
	static uint8_t chunk[32768];
	uint64_t sent = 0;
	bool rst = false;

	REQUIRE(fx_setup(&f) == 0);
	rx_fill(&f);
	snprintf(path, sizeof(path), "%s_5003", f.uds);
	a.lfd = unix_listen(path);
	REQUIRE(a.lfd >= 0);
	REQUIRE(pthread_create(&t, NULL, accept_one, &a) == 0);
	g_send(&f, &g, VSOCK_OP_REQUEST, 0, NULL, 0);
	REQUIRE(rx_wait(&f, &h, NULL, 0, 200) == 1);
	REQUIRE(h.op == VSOCK_OP_RESPONSE);
	pthread_join(t, NULL);
	REQUIRE(a.fd >= 0);
	/* Ignore credit: push until reset. At most socket buffer + buf_alloc get in. */
	memset(chunk, 0x5a, sizeof(chunk));
	for (int i = 0; i < 2000 && !rst; i++) {
		g_send(&f, &g, VSOCK_OP_RW, 0, chunk, sizeof(chunk));
		sent += sizeof(chunk);
		pump(&f);
		while (rx_get(&f, &h, NULL, 0)) {
			if (h.op == VSOCK_OP_RST)
				rst = true;
			else if (h.op == VSOCK_OP_CREDIT_UPDATE || h.op == VSOCK_OP_RW)
				CHECK(h.buf_alloc == VSOCK_BUF_ALLOC);
		}
	}
	CHECK(rst);
	CHECK(sent > VSOCK_BUF_ALLOC);
	CHECK(sent < 64u << 20);
	CHECK_EQ_U64(f.v.nconns, 0);
	{
		/* The peer sees the bytes the device took, then EOF (the socket closed). */
		static uint8_t b[65536];
		uint64_t got = 0;
		ssize_t n;

		set_timeouts(a.fd);
		while ((n = read(a.fd, b, sizeof(b))) > 0)
			got += (uint64_t)n;
		CHECK_EQ_INT(n, 0);
		CHECK(got >= VSOCK_BUF_ALLOC / 2);
		CHECK(got < sent);
	}
	close(a.fd);
	close(a.lfd);
	fx_teardown(&f);
}

/* Collects what the device sends g's connection: RW payload into the hash and count
 * (checking it never sends past the guest's buf_alloc beyond what the guest announced as
 * consumed), CREDIT_REQUESTs, SHUTDOWN flags. Polls until at least `until` bytes arrived
 * (or the host's SHUTDOWN) and then `quiet` polls in a row brought nothing; at most 10 s,
 * so that a slow writer thread on a loaded machine does not make it stop early. */
struct slow_reader {
	uint64_t rx_bytes, rx_hash;
	unsigned int credit_requests, violations;
	uint32_t shut_flags;
};

static void slow_collect(struct fx *f, struct gconn *g, struct slow_reader *s, uint64_t until,
			 int quiet)
{
	static uint8_t p[VSOCK_MAX_PKT];
	struct vsock_hdr h;
	double end = now_s() + 10;

	for (int idle = 0; now_s() < end;) {
		bool any = false;

		virtio_vsock_poll(&f->v, 1);
		while (rx_get(f, &h, p, sizeof(p))) {
			if (h.src_port != g->hport || h.dst_port != g->gport)
				continue;
			any = true;
			if (h.op == VSOCK_OP_RW) {
				if ((uint32_t)(s->rx_bytes + h.len) - g->fwd_cnt > g->buf_alloc)
					s->violations++;
				s->rx_hash = fnv(s->rx_hash, p, h.len);
				s->rx_bytes += h.len;
			} else if (h.op == VSOCK_OP_CREDIT_REQUEST) {
				s->credit_requests++;
			} else if (h.op == VSOCK_OP_SHUTDOWN) {
				s->shut_flags |= h.flags;
			}
		}
		idle = any ? 0 : idle + 1;
		if (idle >= quiet && (s->rx_bytes >= until || (s->shut_flags & VSOCK_SHUTDOWN_SEND)))
			return;
	}
}

/* A guest reader slower than the Unix writer, answering the way Linux does: the device
 * stops at the guest's buf_alloc and asks for credit; the guest's answer that frees
 * nothing (its program has not read yet) must not restart the data; a later
 * CREDIT_UPDATE that frees space must, without a second request, until the stream ends
 * intact. */
TEST(slow_guest_reader_zero_credit_answer_then_update_resumes)
{
	struct fx f;
	struct gconn g = { .gport = 50002, .hport = 5004, .buf_alloc = 32768 };
	struct host_side hs = { .send_bytes = 160 * 1024, .seed = 9 };
	struct slow_reader s = { .rx_hash = FNV0 };
	struct vsock_hdr h;
	struct acceptor a;
	char path[160];
	pthread_t t, wt;

	REQUIRE(fx_setup(&f) == 0);
	rx_fill(&f);
	snprintf(path, sizeof(path), "%s_5004", f.uds);
	a.lfd = unix_listen(path);
	REQUIRE(a.lfd >= 0);
	REQUIRE(pthread_create(&t, NULL, accept_one, &a) == 0);
	g_send(&f, &g, VSOCK_OP_REQUEST, 0, NULL, 0);
	REQUIRE(rx_wait(&f, &h, NULL, 0, 200) == 1);
	REQUIRE(h.op == VSOCK_OP_RESPONSE);
	pthread_join(t, NULL);
	REQUIRE(a.fd >= 0);
	hs.fd = a.fd;
	set_timeouts(a.fd);
	REQUIRE(pthread_create(&wt, NULL, host_writer, &hs) == 0);

	/* The first window, then a request for credit. */
	slow_collect(&f, &g, &s, 32768, 50);
	CHECK_EQ_U64(s.rx_bytes, 32768);
	CHECK_EQ_U64(s.credit_requests, 1);
	/* Answered with nothing consumed: no data follows, and no request loop either. */
	g_send(&f, &g, VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0);
	slow_collect(&f, &g, &s, 0, 50);
	CHECK_EQ_U64(s.rx_bytes, 32768);
	CHECK(s.credit_requests <= 2);
	/* The program reads everything, a window at a time; the guest announces it
	 * unasked (Linux does once its free space runs low), never again on a request. */
	for (int i = 0; i < 40 && !(s.shut_flags & VSOCK_SHUTDOWN_SEND); i++) {
		uint64_t before = s.rx_bytes;

		g.fwd_cnt = (uint32_t)s.rx_bytes;
		g_send(&f, &g, VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0);
		slow_collect(&f, &g, &s, before + 1, 20);
		if (!(s.shut_flags & VSOCK_SHUTDOWN_SEND))
			CHECK(s.rx_bytes > before);   /* each update moves the stream on */
	}
	pthread_join(wt, NULL);
	CHECK_EQ_INT(hs.failed, 0);
	CHECK(s.shut_flags & VSOCK_SHUTDOWN_SEND);
	CHECK_EQ_U64(s.rx_bytes, hs.send_bytes);
	CHECK_EQ_U64(s.rx_hash, hs.sent_hash);
	CHECK_EQ_U64(s.violations, 0);
	close(a.fd);
	close(a.lfd);
	fx_teardown(&f);
}

TEST(half_close_both_directions)
{
	struct fx f;
	struct vsock_hdr h;
	struct acceptor a;
	char path[160];
	pthread_t t;
	uint8_t b[64];
	bool shut = false, rst = false;

	REQUIRE(fx_setup(&f) == 0);
	rx_fill(&f);
	snprintf(path, sizeof(path), "%s_5004", f.uds);
	a.lfd = unix_listen(path);
	REQUIRE(a.lfd >= 0);
	REQUIRE(pthread_create(&t, NULL, accept_one, &a) == 0);
	tx_op(&f, 41000, 5004, VSOCK_OP_REQUEST, 0);
	REQUIRE(rx_wait(&f, &h, NULL, 0, 200) == 1);
	REQUIRE(h.op == VSOCK_OP_RESPONSE);
	pthread_join(t, NULL);
	REQUIRE(a.fd >= 0);
	set_timeouts(a.fd);
	/* Guest SHUTDOWN SEND: the peer reads EOF but can still write. */
	{
		struct vsock_hdr d = ghdr(41000, 5004, VSOCK_OP_RW);

		d.len = 5;
		tx_pkt(&f, &d, "hello");
	}
	tx_op(&f, 41000, 5004, VSOCK_OP_SHUTDOWN, VSOCK_SHUTDOWN_SEND);
	pump(&f);
	CHECK_EQ_INT(read(a.fd, b, sizeof(b)), 5);
	CHECK_EQ_INT(read(a.fd, b, sizeof(b)), 0);
	CHECK_EQ_INT(write(a.fd, "back", 4), 4);
	close(a.fd);   /* the peer hangs up: data, then SHUTDOWN from the host */
	{
		uint8_t p[64];

		for (int i = 0; i < 500 && !shut; i++) {
			if (!rx_get(&f, &h, p, sizeof(p))) {
				virtio_vsock_poll(&f.v, 1);
				continue;
			}
			if (h.op == VSOCK_OP_RW) {
				CHECK_EQ_U64(h.len, 4);
				CHECK(memcmp(p, "back", 4) == 0);
			} else if (h.op == VSOCK_OP_SHUTDOWN) {
				shut = true;
				CHECK(h.flags & VSOCK_SHUTDOWN_SEND);
			}
		}
	}
	CHECK(shut);
	tx_op(&f, 41000, 5004, VSOCK_OP_SHUTDOWN, VSOCK_SHUTDOWN_RCV | VSOCK_SHUTDOWN_SEND);
	pump(&f);
	while (rx_get(&f, &h, NULL, 0))
		if (h.op == VSOCK_OP_RST)
			rst = true;
	CHECK(rst);
	CHECK_EQ_U64(f.v.nconns, 0);
	close(a.lfd);
	fx_teardown(&f);
}

/* ---- many connections ---- */

#define NCONC 100

struct echo_srv {
	int lfd;
	unsigned int want;
	unsigned int accepted, closed;
};

/* Accepts want connections and echoes everything back until each one closes. */
static void *echo_thread(void *arg)
{
	struct echo_srv *s = arg;
	struct pollfd p[NCONC + 1];
	unsigned int n = 1;
	static uint8_t buf[8192];

	p[0] = (struct pollfd){ .fd = s->lfd, .events = POLLIN };
	while (s->closed < s->want) {
		int r = poll(p, n, 20000);

		if (r <= 0)
			break;
		if ((p[0].revents & POLLIN) && s->accepted < s->want) {
			int fd = accept(s->lfd, NULL, NULL);

			if (fd >= 0) {
				p[n++] = (struct pollfd){ .fd = fd, .events = POLLIN };
				s->accepted++;
			}
		}
		for (unsigned int i = 1; i < n; i++) {
			ssize_t k;

			if (p[i].fd < 0 || !p[i].revents)
				continue;
			k = read(p[i].fd, buf, sizeof(buf));
			if (k <= 0) {
				close(p[i].fd);
				p[i].fd = -1;
				s->closed++;
				continue;
			}
			if (write_all(p[i].fd, buf, (size_t)k) < 0) {
				close(p[i].fd);
				p[i].fd = -1;
				s->closed++;
			}
		}
	}
	for (unsigned int i = 1; i < n; i++)
		if (p[i].fd >= 0)
			close(p[i].fd);
	return NULL;
}

TEST(many_guest_connections_at_once_with_echo)
{
	static struct gconn g[NCONC];
	static uint8_t buf[8192], p[VSOCK_MAX_PKT];
	struct fx f;
	struct echo_srv s = { .want = NCONC };
	char path[160];
	pthread_t t;
	unsigned int responses = 0, done = 0, peak;
	uint64_t want_hash[NCONC];
	double end;

	REQUIRE(fx_setup(&f) == 0);
	rx_fill(&f);
	snprintf(path, sizeof(path), "%s_5005", f.uds);
	s.lfd = unix_listen(path);
	REQUIRE(s.lfd >= 0);
	REQUIRE(pthread_create(&t, NULL, echo_thread, &s) == 0);
	for (unsigned int i = 0; i < NCONC; i++) {
		g[i] = (struct gconn){ .gport = 60000 + i, .hport = 5005, .buf_alloc = 65536,
				       .rx_hash = FNV0 };
		g_send(&f, &g[i], VSOCK_OP_REQUEST, 0, NULL, 0);
		if (i % 16 == 15)
			pump(&f);
	}
	end = now_s() + 30;
	while (responses < NCONC && now_s() < end) {
		struct vsock_hdr h;

		virtio_vsock_poll(&f.v, 1);
		while (rx_get(&f, &h, NULL, 0))
			if (h.op == VSOCK_OP_RESPONSE && h.dst_port - 60000 < NCONC) {
				g[h.dst_port - 60000].host_buf_alloc = h.buf_alloc;
				responses++;
			}
	}
	CHECK_EQ_U64(responses, NCONC);
	peak = f.v.nconns;
	CHECK_EQ_U64(peak, NCONC);
	/* A different message on each, echoed back through the same connection. */
	for (unsigned int i = 0; i < NCONC; i++) {
		uint32_t len = 2000 + 37 * i;

		pattern(i, 0, buf, len);
		want_hash[i] = fnv(FNV0, buf, len);
		g[i].tx_goal = len;
		g_send(&f, &g[i], VSOCK_OP_RW, 0, buf, len);
		if (i % 16 == 15)
			pump(&f);
	}
	while (done < NCONC && now_s() < end) {
		struct vsock_hdr h;

		virtio_vsock_poll(&f.v, 1);
		while (rx_get(&f, &h, p, sizeof(p))) {
			struct gconn *c;

			if (h.dst_port - 60000 >= NCONC || h.op != VSOCK_OP_RW)
				continue;
			c = &g[h.dst_port - 60000];
			g_recv(&f, c, &h, p);
			if (c->rx_bytes == c->tx_goal)
				done++;
		}
	}
	CHECK_EQ_U64(done, NCONC);
	for (unsigned int i = 0; i < NCONC; i++) {
		if (!CHECK_EQ_U64(g[i].rx_hash, want_hash[i]))
			FAIL("connection %u echoed other bytes", i);
		g_send(&f, &g[i], VSOCK_OP_SHUTDOWN, VSOCK_SHUTDOWN_RCV | VSOCK_SHUTDOWN_SEND, NULL, 0);
		if (i % 16 == 15)
			pump(&f);
	}
	for (int i = 0; i < 200 && f.v.nconns; i++) {
		struct vsock_hdr h;

		virtio_vsock_poll(&f.v, 1);
		while (rx_get(&f, &h, NULL, 0))
			;
	}
	CHECK_EQ_U64(f.v.nconns, 0);
	pthread_join(t, NULL);
	CHECK_EQ_U64(s.accepted, NCONC);
	CHECK_EQ_U64(s.closed, NCONC);
	close(s.lfd);
	fx_teardown(&f);
}

#define NHOST 70

TEST(many_host_clients_at_once)
{
	static int fds[NHOST];
	static uint32_t hport[NHOST];
	struct fx f;
	unsigned int requests = 0, got = 0, shut = 0;
	double end;

	REQUIRE(fx_setup(&f) == 0);
	rx_fill(&f);
	for (unsigned int i = 0; i < NHOST; i++) {
		char line[32];

		snprintf(line, sizeof(line), "CONNECT %u\n", 8000 + i);
		fds[i] = host_client(&f, line);
		REQUIRE(fds[i] >= 0);
		if (i % 8 == 7)
			pump(&f);
	}
	end = now_s() + 30;
	while (requests < NHOST && now_s() < end) {
		struct vsock_hdr h;

		virtio_vsock_poll(&f.v, 1);
		while (rx_get(&f, &h, NULL, 0)) {
			if (h.op != VSOCK_OP_REQUEST || h.dst_port - 8000 >= NHOST)
				continue;
			hport[h.dst_port - 8000] = h.src_port;
			tx_op(&f, h.dst_port, h.src_port, VSOCK_OP_RESPONSE, 0);
			requests++;
		}
	}
	CHECK_EQ_U64(requests, NHOST);
	pump(&f);
	for (unsigned int i = 0; i < NHOST; i++) {
		char line[32], want[32], msg[32];

		snprintf(want, sizeof(want), "OK %u", hport[i]);
		if (read_line(fds[i], line, sizeof(line)) < 0 || strcmp(line, want))
			FAIL("client %u: no '%s'", i, want);
		snprintf(msg, sizeof(msg), "client %u", i);
		CHECK_EQ_INT(write_all(fds[i], msg, strlen(msg)), 0);
		close(fds[i]);   /* then hang up */
	}
	while ((got < NHOST || shut < NHOST) && now_s() < end) {
		struct vsock_hdr h;
		uint8_t p[64];

		virtio_vsock_poll(&f.v, 1);
		while (rx_get(&f, &h, p, sizeof(p))) {
			unsigned int i = h.dst_port - 8000;
			char msg[32];

			if (i >= NHOST || h.src_port != hport[i])
				continue;
			if (h.op == VSOCK_OP_RW) {
				snprintf(msg, sizeof(msg), "client %u", i);
				CHECK(h.len == strlen(msg) && memcmp(p, msg, h.len) == 0);
				got++;
			} else if (h.op == VSOCK_OP_SHUTDOWN) {
				/* The peer hung up: it neither sends nor receives any more. */
				CHECK_EQ_U64(h.flags, VSOCK_SHUTDOWN_RCV | VSOCK_SHUTDOWN_SEND);
				shut++;
				tx_op(&f, h.dst_port, h.src_port, VSOCK_OP_RST, 0);
			}
		}
	}
	CHECK_EQ_U64(got, NHOST);
	CHECK_EQ_U64(shut, NHOST);
	pump(&f);
	CHECK_EQ_U64(f.v.nconns, 0);
	fx_teardown(&f);
}
