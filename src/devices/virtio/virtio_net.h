/* virtio-net over an existing TAP device (Ember never creates taps, bridges or routes).
 * The virtio-net header goes to and from the tap as is (IFF_VNET_HDR, 12 bytes), so
 * checksum and TSO offloads pass through (TUNSETOFFLOAD follows what the guest
 * negotiated). Packets move with readv/writev straight between the tap and the guest's
 * buffers: no copy in Ember. Queue 0 receives, queue 1 transmits. */
#ifndef EMBER_DEVICES_VIRTIO_VIRTIO_NET_H
#define EMBER_DEVICES_VIRTIO_VIRTIO_NET_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/virtio/virtio_mmio.h"
#include "devices/virtio/worker.h"

struct mmds_stack;

struct virtio_net {
	struct virtio_mmio mmio;
	struct worker worker;
	char tap_name[16];
	int tap_fd;
	uint8_t mac[6];
	bool rx_wait;           /* no rx buffers: waiting for the guest's rx kick */
	uint64_t rx_packets, tx_packets, rx_dropped, tx_dropped;
	/* MMDS (docs/mmds.md), when attached: frames for it never reach the tap; its
	 * answers go into the rx queue between the tap's packets. */
	struct mmds_stack *mmds;
	uint8_t *mmds_frame;    /* copy of a guest frame for the stack */
	bool mmds_turn;         /* the next rx buffer goes to MMDS if it has a frame */
	uint64_t mmds_rx, mmds_tx;
};

/* Attaches to tap NAME; mac NULL picks a locally administered one from index. */
int virtio_net_open(struct virtio_net *n, const char *tap, const uint8_t *mac, unsigned int index);
void virtio_net_close(struct virtio_net *n);
/* Serves MMDS on this interface through st (not owned; it must outlive the device).
 * Before the device is activated (the guest driver starts): -EBUSY after. 0, -ENOMEM. */
int virtio_net_attach_mmds(struct virtio_net *n, struct mmds_stack *st);
extern const struct virtio_device_ops virtio_net_ops;

/* Parses "aa:bb:cc:dd:ee:ff"; 0 or -EINVAL. */
int virtio_net_parse_mac(const char *s, uint8_t mac[6]);

#endif
