/* virtio-vsock (src/devices/virtio/virtio_vsock.c, vsock_host.c, vsock_conn.c): the packet
 * header, the CONNECT line parser, the connection table and buffer, both handshakes
 * against real Unix sockets, malformed packets and buffers, and the worker thread behind
 * the virtio-mmio transport. The guest is played by vsock_driver.h. Expectations come from
 * the virtio 1.2 spec, 5.10 (ops REQUEST 1 .. CREDIT_REQUEST 7, SHUTDOWN flags RCV 1 /
 * SEND 2, credit = buf_alloc - (tx_cnt - fwd_cnt)) and Firecracker's hybrid model
 * ("CONNECT <port>\n" -> "OK <port>\n", guest connections to port P go to "<uds>_P"). */
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

/* ---- header, parser, table, buffer ---- */

TEST(header_layout)
{
	struct vsock_hdr h = { .src_cid = 0x0102030405060708ULL, .dst_cid = 2, .src_port = 0xaabbccdd,
			       .dst_port = 1234, .len = 77, .type = 1, .op = VSOCK_OP_RW,
			       .flags = 3, .buf_alloc = 0x40000, .fwd_cnt = 0x11223344 }, d;
	uint8_t b[HDR];

	vsock_hdr_encode(&h, b);
	CHECK_EQ_U64(b[0], 0x08);             /* little endian */
	CHECK_EQ_U64(b[7], 0x01);
	CHECK_EQ_U64(b[8], 2);
	CHECK_EQ_U64(b[16], 0xdd);
	CHECK_EQ_U64(b[20], 1234 & 0xff);
	CHECK_EQ_U64(b[24], 77);
	CHECK_EQ_U64(b[28], 1);               /* type */
	CHECK_EQ_U64(b[30], VSOCK_OP_RW);     /* op */
	CHECK_EQ_U64(b[32], 3);               /* flags */
	CHECK_EQ_U64(b[38], 4);               /* buf_alloc 0x00040000 */
	CHECK_EQ_U64(b[40], 0x44);            /* fwd_cnt */
	CHECK_EQ_U64(b[43], 0x11);
	vsock_hdr_decode(b, &d);
	CHECK_MEM_EQ(&d, &h, sizeof(h));
}

TEST(connect_line_parser)
{
	static const struct { const char *s; int ok; uint32_t port; } t[] = {
		{ "CONNECT 1234", 1, 1234 }, { "connect 5", 1, 5 }, { "CoNnEcT   42", 1, 42 },
		{ "CONNECT 4294967295", 1, 4294967295u }, { "CONNECT 80\r", 1, 80 },
		{ "CONNECT 4294967296", 0, 0 }, { "CONNECT", 0, 0 }, { "CONNECT ", 0, 0 },
		{ "CONNECT 12a", 0, 0 }, { "CONNECT -1", 0, 0 }, { "CONNEC 1", 0, 0 },
		{ "CONNECTX 1", 0, 0 }, { " CONNECT 1", 0, 0 }, { "CONNECT 1 ", 0, 0 },
		{ "CONNECT 00000000001", 0, 0 }, { "", 0, 0 }, { "OK 5", 0, 0 },
	};

	for (unsigned int i = 0; i < ARRAY_LEN(t); i++) {
		uint32_t port = 0;
		int r = vsock_parse_connect(t[i].s, strlen(t[i].s), &port);

		if (!CHECK_EQ_INT(r == 0, t[i].ok))
			FAIL("'%s'", t[i].s);
		if (t[i].ok)
			CHECK_EQ_U64(port, t[i].port);
	}
}

TEST(table_add_find_remove_and_port_allocation)
{
	static struct vsock_table t;
	static struct vsock_conn c[600];
	struct vsock_conn dup = { .local_port = 7, .peer_port = 7 };
	uint32_t p;

	vsock_table_init(&t);
	for (unsigned int i = 0; i < ARRAY_LEN(c); i++) {
		c[i].local_port = i % 7;
		c[i].peer_port = i;
		CHECK_EQ_INT(vsock_table_add(&t, &c[i]), 0);
	}
	CHECK_EQ_U64(t.count, ARRAY_LEN(c));
	dup.local_port = 7 % 7;
	CHECK_EQ_INT(vsock_table_add(&t, &dup), -EEXIST);
	for (unsigned int i = 0; i < ARRAY_LEN(c); i++)
		CHECK(vsock_table_find(&t, i % 7, i) == &c[i]);
	CHECK_NULL(vsock_table_find(&t, 1, 0));
	for (unsigned int i = 0; i < ARRAY_LEN(c); i += 2)
		vsock_table_remove(&t, &c[i]);
	CHECK_EQ_U64(t.count, ARRAY_LEN(c) / 2);
	CHECK_NULL(vsock_table_find(&t, 0, 0));
	CHECK(vsock_table_find(&t, 1, 1) == &c[1]);
	/* Host ports start high and skip pairs in use. */
	struct vsock_conn used = { .local_port = VSOCK_LOCAL_PORT_BASE, .peer_port = 99 };

	vsock_table_init(&t);
	CHECK_EQ_INT(vsock_table_add(&t, &used), 0);
	p = vsock_table_alloc_port(&t, 99);
	CHECK_EQ_U64(p, VSOCK_LOCAL_PORT_BASE + 1);
	CHECK_EQ_U64(vsock_table_alloc_port(&t, 98), VSOCK_LOCAL_PORT_BASE + 2);
}

TEST(conn_buffer_partial_writes_and_bound)
{
	struct vsock_conn c = { .fd = -1 };
	int sv[2];
	static uint8_t data[VSOCK_BUF_ALLOC], got[VSOCK_BUF_ALLOC];
	size_t have = 0;
	int sndbuf = 4096, r;

	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	c.fd = sv[0];
	pattern(1, 0, data, sizeof(data));
	CHECK_EQ_INT(vsock_conn_buf_put(&c, data, 1000), 0);
	CHECK_EQ_INT(vsock_conn_buf_put(&c, data + 1000, VSOCK_BUF_ALLOC - 1000), 0);
	CHECK_EQ_INT(vsock_conn_buf_put(&c, data, 1), -ENOSPC);   /* past buf_alloc */
	CHECK_EQ_U64(vsock_conn_room(&c), 0);
	c.ok_len = (uint8_t)snprintf(c.ok_line, sizeof(c.ok_line), "OK 9\n");
	r = vsock_conn_flush(&c);
	CHECK_EQ_INT(r, 1);                       /* the small socket buffer filled */
	CHECK(c.buf_len > 0);
	/* Drain the peer and flush again until done: order and content kept. */
	while (have < 5 + sizeof(data)) {
		static uint8_t tmp[65536];
		ssize_t n = read(sv[1], tmp, sizeof(tmp));

		if (n <= 0)
			break;
		if (have < 5) {
			size_t okn = (size_t)n < 5 - have ? (size_t)n : 5 - have;

			CHECK(memcmp(tmp, "OK 9\n" + have, okn) == 0);
			memcpy(got, tmp + okn, (size_t)n - okn);
			have += (size_t)n;
		} else {
			memcpy(got + have - 5, tmp, (size_t)n);
			have += (size_t)n;
		}
		r = vsock_conn_flush(&c);
		if (r < 0)
			break;
	}
	CHECK_EQ_INT(r, 0);
	CHECK_EQ_U64(have, 5 + sizeof(data));
	CHECK(memcmp(got, data, sizeof(data)) == 0);
	CHECK_EQ_U64(c.fwd_cnt, sizeof(data));   /* the OK line is not guest data */
	CHECK_NULL(c.buf);                        /* freed once empty */
	close(sv[1]);
	CHECK_EQ_INT(vsock_conn_buf_put(&c, data, 10), 0);
	CHECK_EQ_INT(vsock_conn_flush(&c), -EPIPE);
	vsock_conn_buf_free(&c);
	close(sv[0]);
}

TEST(ops_config_and_open_errors)
{
	struct fx f;
	struct virtio_vsock v2;
	uint8_t cfg[8];
	char longp[200];

	REQUIRE(fx_setup(&f) == 0);
	CHECK_EQ_U64(virtio_vsock_ops.device_id, 19);
	CHECK_EQ_U64(virtio_vsock_ops.num_queues, 3);
	CHECK_EQ_U64(virtio_vsock_ops.config_size, 8);
	virtio_vsock_ops.config_read(&f.v, 0, cfg, 8);
	CHECK_EQ_U64(cfg[0], CID);
	CHECK_EQ_U64(cfg[4], 0);
	CHECK_EQ_INT(virtio_vsock_open(&v2, 2, "/tmp/x"), -EINVAL);
	CHECK_STR_CONTAINS(err_msg(), "cid=2");
	CHECK_EQ_INT(virtio_vsock_open(&v2, 0xffffffffULL, "/tmp/x"), -EINVAL);
	CHECK_EQ_INT(virtio_vsock_open(&v2, 3, f.uds), -EADDRINUSE);    /* exists already */
	CHECK_STR_CONTAINS(err_msg(), "exists already");
	memset(longp, 'a', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = '\0';
	CHECK_EQ_INT(virtio_vsock_open(&v2, 3, longp), -EINVAL);
	CHECK_EQ_INT(virtio_vsock_open(&v2, 3, "/nonexistent-dir/x.sock"), -ENOENT);
	virtio_vsock_close(&v2);
	fx_teardown(&f);
	CHECK(access(f.uds, F_OK) < 0);   /* the socket file is removed at close */
}

/* ---- guest-initiated ---- */

TEST(guest_request_gets_response_and_unix_connection)
{
	struct fx f;
	struct vsock_hdr h;
	char path[160];
	int lfd, afd;

	REQUIRE(fx_setup(&f) == 0);
	rx_fill(&f);
	snprintf(path, sizeof(path), "%s_5000", f.uds);
	lfd = unix_listen(path);
	REQUIRE(lfd >= 0);
	tx_op(&f, 40000, 5000, VSOCK_OP_REQUEST, 0);
	REQUIRE(rx_wait(&f, &h, NULL, 0, 100) == 1);
	CHECK_EQ_U64(h.op, VSOCK_OP_RESPONSE);
	CHECK_EQ_U64(h.src_cid, VSOCK_HOST_CID);
	CHECK_EQ_U64(h.dst_cid, CID);
	CHECK_EQ_U64(h.src_port, 5000);
	CHECK_EQ_U64(h.dst_port, 40000);
	CHECK_EQ_U64(h.type, VSOCK_TYPE_STREAM);
	CHECK_EQ_U64(h.buf_alloc, VSOCK_BUF_ALLOC);
	CHECK_EQ_U64(h.len, 0);
	afd = accept(lfd, NULL, NULL);
	CHECK(afd >= 0);
	CHECK_EQ_U64(f.v.table.count, 1);
	/* A second REQUEST on the same ports is a protocol error: reset. */
	tx_op(&f, 40000, 5000, VSOCK_OP_REQUEST, 0);
	REQUIRE(rx_wait(&f, &h, NULL, 0, 100) == 1);
	CHECK_EQ_U64(h.op, VSOCK_OP_RST);
	CHECK_EQ_U64(f.v.nconns, 0);
	close(afd);
	close(lfd);
	fx_teardown(&f);
}

TEST(guest_request_without_listener_gets_rst)
{
	struct fx f;
	struct vsock_hdr h;

	REQUIRE(fx_setup(&f) == 0);
	rx_fill(&f);
	tx_op(&f, 40001, 5001, VSOCK_OP_REQUEST, 0);
	REQUIRE(rx_wait(&f, &h, NULL, 0, 100) == 1);
	CHECK_EQ_U64(h.op, VSOCK_OP_RST);
	CHECK_EQ_U64(h.src_port, 5001);
	CHECK_EQ_U64(h.dst_port, 40001);
	CHECK_EQ_U64(h.dst_cid, CID);
	CHECK_EQ_U64(f.v.nconns, 0);
	/* An RST for an unknown connection is never answered. */
	tx_op(&f, 40001, 5001, VSOCK_OP_RST, 0);
	pump(&f);
	CHECK_EQ_INT(rx_get(&f, &h, NULL, 0), 0);
	fx_teardown(&f);
}

/* ---- host-initiated ---- */

TEST(host_connect_ok_handshake_and_refusal)
{
	struct fx f;
	struct vsock_hdr h;
	char line[64];
	int fd, fd2;
	uint8_t b[16];

	REQUIRE(fx_setup(&f) == 0);
	rx_fill(&f);
	fd = host_client(&f, "connect 1234\n");
	REQUIRE(fd >= 0);
	REQUIRE(rx_wait(&f, &h, NULL, 0, 200) == 1);
	CHECK_EQ_U64(h.op, VSOCK_OP_REQUEST);
	CHECK_EQ_U64(h.src_cid, VSOCK_HOST_CID);
	CHECK_EQ_U64(h.dst_cid, CID);
	CHECK_EQ_U64(h.dst_port, 1234);
	CHECK(h.src_port >= VSOCK_LOCAL_PORT_BASE);
	tx_op(&f, 1234, h.src_port, VSOCK_OP_RESPONSE, 0);
	pump(&f);
	REQUIRE(read_line(fd, line, sizeof(line)) > 0);
	{
		char want[32];

		snprintf(want, sizeof(want), "OK %u", h.src_port);
		CHECK_STR_EQ(line, want);
	}
	/* The guest refuses the second one: the Unix socket closes. */
	fd2 = host_client(&f, "CONNECT 99\n");
	REQUIRE(fd2 >= 0);
	REQUIRE(rx_wait(&f, &h, NULL, 0, 200) == 1);
	CHECK_EQ_U64(h.op, VSOCK_OP_REQUEST);
	CHECK_EQ_U64(h.dst_port, 99);
	tx_op(&f, 99, h.src_port, VSOCK_OP_RST, 0);
	pump(&f);
	CHECK_EQ_INT(read(fd2, b, sizeof(b)), 0);  /* EOF, no OK */
	close(fd2);
	CHECK_EQ_U64(f.v.nconns, 1);
	close(fd);
	fx_teardown(&f);
}

TEST(host_bad_lines_close_the_client)
{
	static const char *const bad[] = {
		"HELLO 12\n", "CONNECT\n", "CONNECT 99999999999\n",
		"CONNECT 1111111111111111111111111111111111111111\n",   /* past the line limit */
	};
	struct fx f;
	struct vsock_hdr h;

	REQUIRE(fx_setup(&f) == 0);
	rx_fill(&f);
	for (unsigned int i = 0; i < ARRAY_LEN(bad); i++) {
		uint8_t b[8];
		int fd = host_client(&f, bad[i]);

		REQUIRE(fd >= 0);
		for (int k = 0; k < 50; k++)
			virtio_vsock_poll(&f.v, 1);
		/* EOF, or ECONNRESET when the device closed with the line's tail unread. */
		ssize_t n = read(fd, b, sizeof(b));

		if (!CHECK(n == 0 || (n < 0 && errno == ECONNRESET)))
			FAIL("line %u not refused (read %zd)", i, n);
		close(fd);
	}
	CHECK_EQ_INT(rx_get(&f, &h, NULL, 0), 0);  /* no REQUEST reached the guest */
	CHECK_EQ_U64(f.v.nconns, 0);
	fx_teardown(&f);
}

/* ---- malformed input ---- */

TEST(malformed_tx_packets_are_dropped_or_reset)
{
	struct fx f;
	struct vsock_hdr h, last;
	uint8_t raw[HDR + 16];
	int lfd, afd;

	REQUIRE(fx_setup(&f) == 0);
	rx_fill(&f);
	/* Shorter than a header: dropped, nothing to answer. */
	memset(raw, 0, sizeof(raw));
	tx_raw(&f, raw, 20, false);
	pump(&f);
	CHECK_EQ_U64(f.v.tx_dropped, 1);
	CHECK_EQ_INT(rx_drain(&f, &last), 0);
	/* Not from this guest's CID, or not for the host: dropped silently. */
	h = ghdr(1, 5000, VSOCK_OP_REQUEST);
	h.src_cid = 4;
	tx_pkt(&f, &h, NULL);
	h = ghdr(1, 5000, VSOCK_OP_REQUEST);
	h.dst_cid = 7;
	tx_pkt(&f, &h, NULL);
	pump(&f);
	CHECK_EQ_U64(f.v.tx_dropped, 3);
	CHECK_EQ_INT(rx_drain(&f, &last), 0);
	/* len beyond the buffer, unknown op, SEQPACKET, data for nobody: RST each. */
	h = ghdr(2, 5000, VSOCK_OP_RW);
	h.len = 100;
	vsock_hdr_encode(&h, raw);
	tx_raw(&f, raw, HDR + 10, false);
	tx_op(&f, 3, 5000, 99, 0);
	h = ghdr(4, 5000, VSOCK_OP_REQUEST);
	h.type = 2;
	tx_pkt(&f, &h, NULL);
	tx_op(&f, 5, 5000, VSOCK_OP_CREDIT_REQUEST, 0);
	pump(&f);
	{
		unsigned int n = 0;

		while (rx_get(&f, &h, NULL, 0)) {
			CHECK_EQ_U64(h.op, VSOCK_OP_RST);
			CHECK_EQ_U64(h.dst_port, 2 + n);
			CHECK_EQ_U64(h.src_port, 5000);
			n++;
		}
		CHECK_EQ_U64(n, 4);
	}
	/* On a live connection: an unknown op resets it and closes the Unix socket. */
	REQUIRE(establish(&f, 300, 5005, &lfd, &afd) == 0);
	CHECK_EQ_U64(f.v.nconns, 1);
	tx_op(&f, 300, 5005, 42, 0);
	pump(&f);
	CHECK_EQ_INT(rx_drain(&f, &last), 1);
	CHECK_EQ_U64(last.op, VSOCK_OP_RST);
	CHECK_EQ_U64(f.v.nconns, 0);
	{
		uint8_t b[4];

		set_timeouts(afd);
		CHECK_EQ_INT(read(afd, b, sizeof(b)), 0);
	}
	close(afd);
	close(lfd);
	fx_teardown(&f);
}

TEST(malformed_len_on_a_connection_and_data_after_shutdown_reset_it)
{
	struct fx f;
	struct vsock_hdr h, last;
	uint8_t raw[HDR + 16];
	int lfd, afd, lfd2, afd2;

	REQUIRE(fx_setup(&f) == 0);
	rx_fill(&f);
	REQUIRE(establish(&f, 301, 5006, &lfd, &afd) == 0);
	h = ghdr(301, 5006, VSOCK_OP_RW);
	h.len = 1000;                      /* only 16 bytes follow */
	vsock_hdr_encode(&h, raw);
	tx_raw(&f, raw, sizeof(raw), true);
	pump(&f);
	CHECK_EQ_INT(rx_drain(&f, &last), 1);
	CHECK_EQ_U64(last.op, VSOCK_OP_RST);
	CHECK_EQ_U64(f.v.nconns, 0);
	REQUIRE(establish(&f, 302, 5007, &lfd2, &afd2) == 0);
	tx_op(&f, 302, 5007, VSOCK_OP_SHUTDOWN, VSOCK_SHUTDOWN_SEND);
	h = ghdr(302, 5007, VSOCK_OP_RW);
	h.len = 3;
	tx_pkt(&f, &h, "abc");
	pump(&f);
	CHECK_EQ_INT(rx_drain(&f, &last), 1);
	CHECK_EQ_U64(last.op, VSOCK_OP_RST);
	CHECK_EQ_U64(f.v.nconns, 0);
	close(afd);
	close(lfd);
	close(afd2);
	close(lfd2);
	fx_teardown(&f);
}

TEST(unusable_rx_buffers_are_returned_empty)
{
	struct fx f;
	struct vsock_hdr h;
	uint32_t used;
	uint64_t ro = RX_BUF;   /* slot 0 */

	REQUIRE(fx_setup(&f) == 0);
	memset(f.ram + ro, 0xab, 64);
	rx_post_one(&f, HDR + 100, 0);                      /* read-only */
	rx_post_one(&f, 20, VRING_DESC_F_WRITE);            /* shorter than a header */
	rx_post_one(&f, HDR + 100, VRING_DESC_F_WRITE);     /* fine */
	tx_op(&f, 7, 5009, VSOCK_OP_REQUEST, 0);            /* nobody listens: an RST */
	pump(&f);
	REQUIRE(rx_get_len(&f, &h, NULL, 0, &used) == 1);
	CHECK_EQ_U64(used, 0);
	CHECK_EQ_U64(f.ram[ro], 0xab);                      /* untouched */
	CHECK_EQ_U64(f.ram[ro + 63], 0xab);
	REQUIRE(rx_get_len(&f, &h, NULL, 0, &used) == 1);
	CHECK_EQ_U64(used, 0);
	REQUIRE(rx_get_len(&f, &h, NULL, 0, &used) == 1);
	CHECK_EQ_U64(used, HDR);
	CHECK_EQ_U64(h.op, VSOCK_OP_RST);
	CHECK_EQ_U64(f.v.rx_dropped, 2);
	fx_teardown(&f);
}

TEST(no_rx_buffers_bounds_the_stray_rst_queue)
{
	struct fx f;
	struct vsock_hdr last;

	REQUIRE(fx_setup(&f) == 0);
	for (uint32_t i = 0; i < 200; i++) {
		tx_op(&f, 1000 + i, 5008, VSOCK_OP_RW, 0);
		if (i % 16 == 15)
			pump(&f);
	}
	pump(&f);
	CHECK_EQ_U64(f.v.rst_count, VSOCK_RST_QUEUE);
	CHECK_EQ_U64(f.v.rx_dropped, 200 - VSOCK_RST_QUEUE);
	rx_fill(&f);
	pump(&f);
	CHECK_EQ_INT(rx_drain(&f, &last), VSOCK_RST_QUEUE);
	pump(&f);
	CHECK_EQ_INT(rx_drain(&f, &last), 0);
	fx_teardown(&f);
}

TEST(tx_descriptor_outside_guest_ram_needs_reset)
{
	struct fx f;

	REQUIRE(fx_setup(&f) == 0);
	f.v.mmio.status = VIRTIO_STATUS_DRIVER_OK;
	desc(&f, &f.tx, 0, RAM - 8, 64, 0, 0);
	publish(&f, &f.tx, 0);
	pump(&f);
	CHECK(f.v.mmio.status & VIRTIO_STATUS_NEEDS_RESET);
	CHECK(f.v.mmio.queues[VSOCK_TXQ].broken);
	CHECK_EQ_U64(f.v.nconns, 0);
	fx_teardown(&f);
}

/* At the connection limit (the counter set by hand: 1024 real sockets would pass the
 * test process's fd limit) both directions are refused, and work again below it. */
TEST(connection_limit_refuses_both_directions)
{
	struct fx f;
	struct vsock_hdr h;
	char path[160];
	uint8_t b[4];
	int lfd, fd;

	REQUIRE(fx_setup(&f) == 0);
	rx_fill(&f);
	snprintf(path, sizeof(path), "%s_5001", f.uds);
	lfd = unix_listen(path);
	REQUIRE(lfd >= 0);
	f.v.nconns = VSOCK_MAX_CONNS;
	tx_op(&f, 900, 5001, VSOCK_OP_REQUEST, 0);
	REQUIRE(rx_wait(&f, &h, NULL, 0, 100) == 1);
	CHECK_EQ_U64(h.op, VSOCK_OP_RST);
	fd = host_client(&f, "CONNECT 5\n");
	REQUIRE(fd >= 0);
	for (int i = 0; i < 20; i++)
		virtio_vsock_poll(&f.v, 1);
	{
		/* Closed at once: EOF, or ECONNRESET since its line was never read. */
		ssize_t n = read(fd, b, sizeof(b));

		CHECK(n == 0 || (n < 0 && errno == ECONNRESET));
	}
	close(fd);
	CHECK_EQ_U64(f.v.nconns, VSOCK_MAX_CONNS);
	CHECK(f.v.limit_warned);
	f.v.nconns = 0;
	tx_op(&f, 900, 5001, VSOCK_OP_REQUEST, 0);
	REQUIRE(rx_wait(&f, &h, NULL, 0, 100) == 1);
	CHECK_EQ_U64(h.op, VSOCK_OP_RESPONSE);
	CHECK_EQ_U64(f.v.nconns, 1);
	close(lfd);
	fx_teardown(&f);
}

/* ---- through the transport, with the worker thread ---- */

static void mmio_wr(struct fx *f, uint64_t off, uint32_t val)
{
	virtio_mmio_write(&f->v.mmio, off, (const uint8_t *)&val, 4);
}

static uint32_t mmio_rd(struct fx *f, uint64_t off)
{
	uint32_t val = 0;

	virtio_mmio_read(&f->v.mmio, off, (uint8_t *)&val, 4);
	return val;
}

static void mmio_queue(struct fx *f, uint32_t sel, uint64_t d, uint64_t a, uint64_t u)
{
	mmio_wr(f, 0x030, sel);
	mmio_wr(f, 0x038, QSZ);
	mmio_wr(f, 0x080, (uint32_t)d);
	mmio_wr(f, 0x090, (uint32_t)a);
	mmio_wr(f, 0x0a0, (uint32_t)u);
	mmio_wr(f, 0x044, 1);
}

/* Waits (up to 5 s) for a packet the worker put in the rx ring. */
static int rx_wait_worker(struct fx *f, struct vsock_hdr *h, uint8_t *p, uint32_t cap)
{
	for (int i = 0; i < 5000; i++) {
		if (rx_get(f, h, p, cap)) {
			mmio_wr(f, 0x050, VSOCK_RXQ);   /* the reposted buffer */
			return 1;
		}
		usleep(1000);
	}
	return 0;
}

TEST(worker_thread_through_the_mmio_transport)
{
	struct fx f;
	struct vsock_hdr h;
	uint8_t p[64], b[8];
	char line[64], want[64];
	int fd;

	memset(&f, 0, sizeof(f));
	log_threshold = LOG_ERROR;
	snprintf(f.dir, sizeof(f.dir), "/tmp/ember-vsock-XXXXXX");
	REQUIRE(mkdtemp(f.dir) != NULL);
	snprintf(f.uds, sizeof(f.uds), "%s/v.sock", f.dir);
	f.ram = calloc(1, RAM);
	REQUIRE(f.ram != NULL);
	guest_mem_init_from(&f.mem, f.ram, RAM);
	REQUIRE(virtio_vsock_open(&f.v, 0x123456789ULL & 0xffffffffULL, f.uds) == 0);
	REQUIRE(virtio_mmio_init(&f.v.mmio, &virtio_vsock_ops, &f.v, &f.mem, 0, 5) == 0);
	f.rx = (struct tq){ RX_DESC, RX_AVAIL, RX_USED, 0, 0 };
	f.tx = (struct tq){ TX_DESC, TX_AVAIL, TX_USED, 0, 0 };
	f.rx_len = HDR + 4096;
	CHECK_EQ_U64(mmio_rd(&f, 0x008), 19);                 /* device id */
	CHECK_EQ_U64(mmio_rd(&f, 0x100), 0x23456789u);        /* guest_cid, low word */
	CHECK_EQ_U64(mmio_rd(&f, 0x104), 0);
	mmio_wr(&f, 0x070, VIRTIO_STATUS_ACKNOWLEDGE);
	mmio_wr(&f, 0x070, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	mmio_wr(&f, 0x024, 1);
	mmio_wr(&f, 0x020, 1);                                /* VERSION_1 */
	mmio_wr(&f, 0x070, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
		VIRTIO_STATUS_FEATURES_OK);
	mmio_queue(&f, VSOCK_RXQ, RX_DESC, RX_AVAIL, RX_USED);
	mmio_queue(&f, VSOCK_TXQ, TX_DESC, TX_AVAIL, TX_USED);
	rx_fill(&f);
	mmio_wr(&f, 0x070, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
		VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
	REQUIRE(f.v.mmio.active);
	CHECK(f.v.worker.running);
	/* A host client: the worker's epoll takes it, the REQUEST arrives with an interrupt. */
	fd = host_client(&f, "CONNECT 77\n");
	REQUIRE(fd >= 0);
	REQUIRE(rx_wait_worker(&f, &h, NULL, 0) == 1);
	CHECK_EQ_U64(h.op, VSOCK_OP_REQUEST);
	CHECK_EQ_U64(h.dst_cid, 0x23456789u);
	CHECK(f.v.mmio.irq.pulses > 0);
	/* The guest accepts (a tx kick through QUEUE_NOTIFY), data goes both ways. */
	{
		struct vsock_hdr r = ghdr(77, h.src_port, VSOCK_OP_RESPONSE);

		r.src_cid = 0x23456789u;
		tx_pkt(&f, &r, NULL);
		mmio_wr(&f, 0x050, VSOCK_TXQ);
		REQUIRE(read_line(fd, line, sizeof(line)) > 0);
		snprintf(want, sizeof(want), "OK %u", h.src_port);
		CHECK_STR_EQ(line, want);
		CHECK_EQ_INT(write_all(fd, "ping", 4), 0);
		REQUIRE(rx_wait_worker(&f, &h, p, sizeof(p)) == 1);
		CHECK_EQ_U64(h.op, VSOCK_OP_RW);
		CHECK_EQ_U64(h.len, 4);
		CHECK(memcmp(p, "ping", 4) == 0);
		r = ghdr(77, h.src_port, VSOCK_OP_RW);
		r.src_cid = 0x23456789u;
		r.len = 4;
		tx_pkt(&f, &r, "pong");
		mmio_wr(&f, 0x050, VSOCK_TXQ);
		CHECK_EQ_INT(read(fd, b, 4), 4);
		CHECK(memcmp(b, "pong", 4) == 0);
	}
	/* Driver reset: the worker stops and every connection closes. */
	mmio_wr(&f, 0x070, 0);
	CHECK(!f.v.worker.running);
	CHECK_EQ_U64(f.v.nconns, 0);
	CHECK_EQ_INT(read(fd, b, sizeof(b)), 0);
	close(fd);
	fx_teardown(&f);
}
