/* virtio-vsock (virtio 1.2, 5.10; device id 19) with Firecracker's hybrid model: the
 * host end of every guest stream socket is a Unix stream socket.
 *
 *   host -> guest: a host program connects to uds_path and writes "CONNECT <port>\n";
 *                  Ember asks the guest (REQUEST from CID 2, a host port it picks) and on
 *                  the guest's RESPONSE answers "OK <hostport>\n"; then bytes flow both
 *                  ways. A refusal (RST) closes the Unix socket.
 *   guest -> host: the guest connects to CID 2 port P; Ember connects to "<uds_path>_P"
 *                  and answers RESPONSE, or RST when nobody listens there.
 *
 * Stream sockets only. Credit-based flow control both ways: Ember never sends the guest
 * more than its advertised credit and advertises VSOCK_BUF_ALLOC per connection, which
 * bounds what it buffers for a slow Unix peer. Everything runs on the device's worker
 * thread: the queue ioeventfds and one epoll set (the listener and every connection's
 * Unix socket) are its fds. See docs/vsock.md. */
#ifndef EMBER_DEVICES_VIRTIO_VIRTIO_VSOCK_H
#define EMBER_DEVICES_VIRTIO_VIRTIO_VSOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/un.h>

#include "devices/virtio/virtio_mmio.h"
#include "devices/virtio/vsock_conn.h"
#include "devices/virtio/worker.h"

#define VIRTIO_ID_VSOCK 19
#define VSOCK_RXQ 0
#define VSOCK_TXQ 1
#define VSOCK_EVQ 2
#define VSOCK_MIN_GUEST_CID 3
/* Longest uds_path: "<uds_path>_<port>" must fit a Unix socket address (108 bytes). */
#define VSOCK_UDS_MAX 96
/* Stray packets answered with RST, queued while the guest gives no rx buffers. */
#define VSOCK_RST_QUEUE 64

struct virtio_vsock {
	struct virtio_mmio mmio;
	struct worker worker;
	uint64_t guest_cid;
	char uds_path[VSOCK_UDS_MAX + 1];
	int listen_fd;
	int epoll_fd;
	struct vsock_table table;
	unsigned int nconns;            /* every connection, in the table or not */
	struct vsock_link all;          /* every connection */
	struct vsock_link ctl;          /* connections owing the guest a control packet */
	struct vsock_link ready;        /* connections whose Unix socket may have data */
	struct vsock_hdr rst_queue[VSOCK_RST_QUEUE];
	unsigned int rst_head, rst_count;
	bool limit_warned;              /* the connection limit was logged */
	uint8_t *scratch;               /* VSOCK_HDR_LEN + VSOCK_MAX_PKT bytes */
	uint64_t rx_packets, tx_packets, tx_dropped, rx_dropped, resets, accepted;
};

/* Creates the listening socket at uds_path (which must not exist yet); errors name the
 * path and the fix. cid >= 3. */
int virtio_vsock_open(struct virtio_vsock *v, uint64_t cid, const char *uds_path);
/* Closes every connection and the listener, and removes uds_path. */
void virtio_vsock_close(struct virtio_vsock *v);
extern const struct virtio_device_ops virtio_vsock_ops;

/* One round of the worker's work: Unix socket events (waiting up to timeout_ms), the tx
 * queue, then the rx queue. The worker calls it; tests and the fuzzer call it directly
 * with the queues set up by hand. */
void virtio_vsock_poll(struct virtio_vsock *v, int timeout_ms);
/* Handles one tx chain (a packet from the guest). Exposed for tests and fuzzing. */
void virtio_vsock_handle_tx(struct virtio_vsock *v, const struct vq_chain *c);
/* Closes every connection (device reset). */
void virtio_vsock_reset_conns(struct virtio_vsock *v);

#endif
