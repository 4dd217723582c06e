/* Internal to virtio-vsock: what virtio_vsock.c (queues, worker) and vsock_host.c (Unix
 * sockets, connection lifecycle) call of each other. Not for other devices. */
#ifndef EMBER_DEVICES_VIRTIO_VSOCK_HOST_H
#define EMBER_DEVICES_VIRTIO_VSOCK_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/virtio/virtio_vsock.h"

#define VSOCK_CONN_OF(ptr, member) \
	((struct vsock_conn *)(void *)((char *)(ptr) - offsetof(struct vsock_conn, member)))

/* Frees the record (closing its socket); no packet to the guest. */
void vsock_close_conn(struct virtio_vsock *v, struct vsock_conn *c);
/* Queues control packets (VSOCK_P_*) for the guest. */
void vsock_want(struct virtio_vsock *v, struct vsock_conn *c, uint32_t bits);
/* Ember aborts: the Unix socket closes now, the guest gets an RST, then the record goes. */
void vsock_reset_conn(struct virtio_vsock *v, struct vsock_conn *c);
bool vsock_can_read(const struct vsock_conn *c);
/* Makes epoll watch what the connection can use now. */
void vsock_watch(struct virtio_vsock *v, struct vsock_conn *c);
/* Queues a CREDIT_UPDATE when the guest's view of our free space runs low. */
void vsock_credit_check(struct virtio_vsock *v, struct vsock_conn *c);
/* Writes buffered guest bytes to the Unix socket (resets on a peer error). */
void vsock_flush(struct virtio_vsock *v, struct vsock_conn *c);
void vsock_host_accept(struct virtio_vsock *v);
void vsock_unix_event(struct virtio_vsock *v, struct vsock_conn *c, uint32_t events);
/* A guest REQUEST to the host: connect to <uds>_<port>, RESPONSE or RST. */
void vsock_guest_connect(struct virtio_vsock *v, const struct vsock_hdr *h);
/* Queues an RST answering h (an unknown connection); bounded, never for an RST. */
void vsock_stray_rst(struct virtio_vsock *v, const struct vsock_hdr *h);

#endif
