/* virtio-vsock building blocks with no guest memory and no threads in them: the packet
 * header (virtio 1.2, 5.10.6), the connection record with its guest->host byte buffer and
 * credit counters, and the connection table keyed by (host port, guest port).
 *
 * Naming, from Ember's side of a connection: "local" is the host end (CID 2), "peer" the
 * guest end. rx = towards the guest (the rx virtqueue), tx = from the guest. */
#ifndef EMBER_DEVICES_VIRTIO_VSOCK_CONN_H
#define EMBER_DEVICES_VIRTIO_VSOCK_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define VSOCK_HDR_LEN 44
#define VSOCK_HOST_CID 2
#define VSOCK_TYPE_STREAM 1

enum vsock_op {
	VSOCK_OP_INVALID = 0,
	VSOCK_OP_REQUEST = 1,
	VSOCK_OP_RESPONSE = 2,
	VSOCK_OP_RST = 3,
	VSOCK_OP_SHUTDOWN = 4,
	VSOCK_OP_RW = 5,
	VSOCK_OP_CREDIT_UPDATE = 6,
	VSOCK_OP_CREDIT_REQUEST = 7,
};

#define VSOCK_SHUTDOWN_RCV 1u
#define VSOCK_SHUTDOWN_SEND 2u

/* Bytes Ember buffers per connection from the guest towards its Unix socket, and so the
 * buf_alloc it advertises: the guest never has more than this in flight. The buffer is
 * allocated only while a Unix peer is slower than the guest. */
#define VSOCK_BUF_ALLOC (256u * 1024u)
/* Largest payload of one packet Ember puts in the rx queue. */
#define VSOCK_MAX_PKT (64u * 1024u)
/* Connections at once (each owns one Unix socket), host- and guest-initiated together. */
#define VSOCK_MAX_CONNS 1024u
#define VSOCK_BUCKETS 1024u
/* "CONNECT <port>\n" from a host client: longest line accepted. */
#define VSOCK_LINE_MAX 32u
/* First host port handed to host-initiated connections (as Firecracker: high, so it does
 * not collide with ports guests listen on). */
#define VSOCK_LOCAL_PORT_BASE (1u << 30)

struct vsock_hdr {
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port;
	uint32_t len;
	uint16_t type, op;
	uint32_t flags, buf_alloc, fwd_cnt;
};

/* Little-endian wire format, byte by byte (no alignment or host-order assumptions). */
void vsock_hdr_decode(const uint8_t b[VSOCK_HDR_LEN], struct vsock_hdr *h);
void vsock_hdr_encode(const struct vsock_hdr *h, uint8_t b[VSOCK_HDR_LEN]);

enum vsock_state {
	VSOCK_LINE,         /* host client accepted, reading its "CONNECT <port>" line */
	VSOCK_REQUESTED,    /* REQUEST sent to the guest, waiting for RESPONSE or RST */
	VSOCK_ESTABLISHED,
	VSOCK_DRAIN,        /* guest closed both ways: flushing the buffer, then RST */
	VSOCK_DEAD,         /* Unix socket closed; an RST to the guest is pending */
};

/* Control packets a connection owes the guest (bits of vsock_conn.pending). */
#define VSOCK_P_REQUEST 1u
#define VSOCK_P_RESPONSE 2u
#define VSOCK_P_CREDIT_UPDATE 4u
#define VSOCK_P_CREDIT_REQUEST 8u
#define VSOCK_P_SHUTDOWN 16u
#define VSOCK_P_RST 32u

struct vsock_link {
	struct vsock_link *prev, *next;
};

struct vsock_conn {
	uint32_t local_port, peer_port;
	int fd;                          /* the Unix socket, -1 once closed */
	enum vsock_state state;
	bool host_initiated;
	bool in_table;
	bool hup;                        /* the Unix peer hung up (fd left epoll) */
	bool eof;                        /* read() gave 0: the Unix side sends no more */
	bool credit_wait;                /* data to send, the guest has no room */
	uint32_t ep_events;              /* what epoll watches on fd now (0: not added) */
	bool ep_added;
	uint32_t pending;                /* VSOCK_P_* */
	uint32_t shut_sent;              /* VSOCK_SHUTDOWN_* flags we told the guest */
	uint32_t shut_rcvd;              /* ... the guest told us */

	/* Guest -> host: ring buffer of bytes not yet written to fd. */
	uint8_t *buf;                    /* NULL while empty */
	uint32_t buf_head, buf_len;
	char ok_line[24];                /* "OK <port>\n" for a host client, before any data */
	uint8_t ok_len, ok_off;
	char line[VSOCK_LINE_MAX];       /* VSOCK_LINE: bytes of the CONNECT line so far */
	uint32_t line_len;

	/* Credit (5.10.6.3). Ours: buf_alloc VSOCK_BUF_ALLOC, fwd_cnt = bytes written to
	 * fd; rx_cnt = payload bytes taken from the guest; fwd_sent = the fwd_cnt the guest
	 * last saw. The guest's: peer_buf_alloc, peer_fwd_cnt; tx_cnt = bytes we sent it. */
	uint32_t rx_cnt, fwd_cnt, fwd_sent;
	uint32_t tx_cnt, peer_buf_alloc, peer_fwd_cnt;

	struct vsock_conn *hnext;        /* hash chain */
	struct vsock_link ctl, ready, all;
};

/* Intrusive doubly linked lists (a head is a link pointing at itself when empty). */
void vsock_list_init(struct vsock_link *head);
bool vsock_linked(const struct vsock_link *l);
void vsock_list_add_tail(struct vsock_link *head, struct vsock_link *l);
void vsock_list_del(struct vsock_link *l);

struct vsock_table {
	struct vsock_conn *buckets[VSOCK_BUCKETS];
	unsigned int count;              /* in the table */
	uint32_t next_local_port;
};

void vsock_table_init(struct vsock_table *t);
struct vsock_conn *vsock_table_find(const struct vsock_table *t, uint32_t local_port,
				    uint32_t peer_port);
/* 0, or -EEXIST (same ports in use). */
int vsock_table_add(struct vsock_table *t, struct vsock_conn *c);
void vsock_table_remove(struct vsock_table *t, struct vsock_conn *c);
/* A host port for a host-initiated connection to guest port peer_port, unused with it. */
uint32_t vsock_table_alloc_port(struct vsock_table *t, uint32_t peer_port);

/* Credit the guest has left for us: its buf_alloc minus what is in flight (0 when the
 * guest reported counters that make no sense). */
uint32_t vsock_conn_peer_credit(const struct vsock_conn *c);
/* Free room in our buffer as the guest may use it (bounded by what we advertised). */
uint32_t vsock_conn_room(const struct vsock_conn *c);

/* Appends n guest bytes to the connection's buffer (allocated on first use). 0, -ENOSPC
 * (more than the advertised buf_alloc: the guest broke the credit rules) or -ENOMEM. */
int vsock_conn_buf_put(struct vsock_conn *c, const void *p, uint32_t n);
/* Writes the OK line, then buffered bytes, to fd until it would block. Returns 0 when
 * everything went, 1 when something is left, or -errno (the Unix peer failed). fwd_cnt
 * counts the buffered bytes written; the buffer is freed when it empties. */
int vsock_conn_flush(struct vsock_conn *c);
bool vsock_conn_has_output(const struct vsock_conn *c);
void vsock_conn_buf_free(struct vsock_conn *c);

/* Parses a host client's line (without the '\n'; a trailing '\r' is allowed):
 * "CONNECT <port>", case-insensitive, one or more spaces, decimal port < 2^32.
 * Returns 0 with *port, or -EINVAL. */
int vsock_parse_connect(const char *line, size_t len, uint32_t *port);

#endif
