/* virtio-net over an existing TAP device (Ember never creates taps, bridges or routes).
 * The virtio-net header goes to and from the tap as is (IFF_VNET_HDR, 12 bytes), so
 * checksum and TSO offloads pass through (TUNSETOFFLOAD follows what the guest
 * negotiated). Packets move with readv/writev straight between the tap and the guest's
 * buffers: no copy in Ember, except a received frame that arrives while the guest has
 * posted less than a maximal frame's worth of mergeable buffers (one copy, through a
 * bounce buffer). Queue 0 receives, queue 1 transmits. */
#ifndef EMBER_DEVICES_VIRTIO_VIRTIO_NET_H
#define EMBER_DEVICES_VIRTIO_VIRTIO_NET_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "devices/virtio/virtio_mmio.h"
#include "devices/virtio/worker.h"

/* With VIRTIO_NET_F_MRG_RXBUF a received frame may span several small rx buffers (what
 * Linux posts then: ~1.5-4 KiB each, instead of 64 KiB page chains per buffer). */
#define VIRTIO_NET_MAX_FRAME (12 + 65550)  /* vnet header + the largest GSO frame a tap gives */
#define VIRTIO_NET_MRG_MAX_CHAINS 256
#define VIRTIO_NET_MRG_MAX_IOV 1024

struct mmds_stack;

/* The chains gathered for the next frame stay gathered after a frame that did not need
 * them all (one receive pass pops each chain once); given back when the pass ends. */
struct virtio_net_rx_gather {
	uint16_t heads[VIRTIO_NET_MRG_MAX_CHAINS];
	uint32_t caps[VIRTIO_NET_MRG_MAX_CHAINS];   /* writable bytes of each chain */
	uint16_t niovs[VIRTIO_NET_MRG_MAX_CHAINS];  /* its iovecs in iov */
	bool hdr_ok[VIRTIO_NET_MRG_MAX_CHAINS];     /* may start a frame (holds the header) */
	unsigned int nch, niov;                     /* gathered chains, their iovecs */
	size_t total;                               /* their writable bytes */
	struct iovec iov[VIRTIO_NET_MRG_MAX_IOV];
	struct vq_chain chain;                      /* scratch for vq_pop */
	uint8_t bounce[VIRTIO_NET_MAX_FRAME];       /* a frame read before buffers ran short */
	size_t pending;                             /* its length, 0: none */
};

/* Where the data path's work goes (written by the worker; logged at debug level when
 * the device closes, see docs/performance.md#virtio-net-transmit). */
struct virtio_net_prof {
	uint64_t tx_kicks;      /* tx ioeventfd wake-ups */
	uint64_t tx_passes;     /* drains of the tx ring (a kick, or more found on re-arm) */
	uint64_t tx_writes;     /* writev calls to the tap */
	uint64_t tx_bytes;      /* frame + header bytes handed to the tap */
	uint64_t tx_irqs;       /* tx completions that wanted an interrupt */
	uint64_t rx_wakeups;    /* tap readable */
	uint64_t rx_kicks;      /* rx ioeventfd wake-ups */
	uint64_t rx_reads;      /* read/readv calls on the tap, including empty ones */
	uint64_t rx_empty;      /* ... that found nothing */
	uint64_t rx_chains;     /* chains gathered for mergeable receive (vq_pop + checks) */
	uint64_t rx_irqs;       /* received frames that wanted an interrupt */
};

struct virtio_net {
	struct virtio_mmio mmio;
	struct worker worker;
	char tap_name[16];
	int tap_fd;
	uint8_t mac[6];
	bool rx_wait;           /* no rx buffers: waiting for the guest's rx kick */
	bool tap_broken;        /* the tap reported an error: receive stopped */
	/* Within one worker event: used entries are pushed, the interrupt (one for both
	 * queues) waits for the end of it. irq_due: bit per queue with entries pushed. */
	bool irq_defer;
	unsigned int irq_due;
	struct virtio_net_rx_gather *rx;  /* mergeable receive state (allocated at open) */
	uint64_t rx_packets, tx_packets, rx_dropped, tx_dropped, rx_bounced;
	struct virtio_net_prof prof;
	/* MMDS (docs/mmds.md), when attached: frames for it never reach the tap; its
	 * answers go into the rx queue ahead of the tap's packets. */
	struct mmds_stack *mmds;
	uint8_t *mmds_frame;    /* copy of a guest frame for the stack */
	uint64_t mmds_rx, mmds_tx;
};

/* Attaches to tap NAME; mac NULL picks a locally administered one from index. */
int virtio_net_open(struct virtio_net *n, const char *tap, const uint8_t *mac, unsigned int index);
void virtio_net_close(struct virtio_net *n);
/* Moves frames from the tap into the rx queue until one side runs dry (the worker calls
 * it; exposed for unit tests). */
void virtio_net_rx(struct virtio_net *n);
/* Sends what the guest queued for transmission (the worker calls it; for tests). */
void virtio_net_tx(struct virtio_net *n);
/* What the worker does on a transmit kick: virtio_net_tx, then virtio_net_rx for what
 * the tap holds by then (the peer's answers to those frames, TCP's ACKs, are usually
 * already queued: the tap's writev runs the host's receive path), and one interrupt for
 * both queues instead of one each. */
void virtio_net_tx_kick(struct virtio_net *n);
/* Serves MMDS on this interface through st (not owned; it must outlive the device).
 * Before the device is activated (the guest driver starts): -EBUSY after. 0, -ENOMEM. */
int virtio_net_attach_mmds(struct virtio_net *n, struct mmds_stack *st);
extern const struct virtio_device_ops virtio_net_ops;

/* Parses "aa:bb:cc:dd:ee:ff"; 0 or -EINVAL. */
int virtio_net_parse_mac(const char *s, uint8_t mac[6]);

#endif
