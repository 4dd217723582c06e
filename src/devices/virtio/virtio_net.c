#include "devices/virtio/virtio_net.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "mmds/mmds_stack.h"
#include "util/err.h"
#include "util/hex.h"
#include "util/log.h"

#define QUEUE_SIZE 256
#define RXQ 0
#define TXQ 1
#define VNET_HDR_LEN 12           /* struct virtio_net_hdr_v1 (num_buffers included) */
#define NUM_BUFFERS_OFFSET 10
/* The largest guest frame MMDS looks at in full (a TSO frame: 64 KiB of IP packet);
 * longer ones reach it truncated, so it drops them. */
#define MMDS_GUEST_FRAME_MAX (14 + 65535)

#define VIRTIO_NET_F_CSUM 0
#define VIRTIO_NET_F_GUEST_CSUM 1
#define VIRTIO_NET_F_MAC 5
#define VIRTIO_NET_F_GUEST_TSO4 7
#define VIRTIO_NET_F_GUEST_TSO6 8
#define VIRTIO_NET_F_GUEST_ECN 9
#define VIRTIO_NET_F_HOST_TSO4 11
#define VIRTIO_NET_F_HOST_TSO6 12
#define VIRTIO_NET_F_HOST_ECN 13

/* Worker fd slots. */
enum { FD_RX_KICK = 0, FD_TX_KICK = 1, FD_TAP = 2 };

int virtio_net_parse_mac(const char *s, uint8_t mac[6])
{
	uint8_t m[6];

	/* Exactly "xx:xx:xx:xx:xx:xx": two hex digits per byte, no signs, spaces or 0x. */
	if (strlen(s) != 17)
		return -EINVAL;
	for (int i = 0; i < 6; i++) {
		int hi = hex_digit(s[3 * i]), lo = hex_digit(s[3 * i + 1]);

		if (hi < 0 || lo < 0 || (i < 5 && s[3 * i + 2] != ':'))
			return -EINVAL;
		m[i] = (uint8_t)(hi << 4 | lo);
	}
	if (m[0] & 1)
		return -EINVAL;  /* multicast */
	memcpy(mac, m, 6);
	return 0;
}

int virtio_net_open(struct virtio_net *n, const char *tap, const uint8_t *mac, unsigned int index)
{
	struct ifreq ifr;
	char sys[64 + IFNAMSIZ];
	struct stat st;
	int hdr = VNET_HDR_LEN;

	memset(n, 0, sizeof(*n));
	n->tap_fd = -1;
	if (strlen(tap) >= IFNAMSIZ)
		return err_set(-EINVAL, "--net tap=%s: interface names are at most %d characters",
			       tap, IFNAMSIZ - 1);
	snprintf(n->tap_name, sizeof(n->tap_name), "%s", tap);
	/* TUNSETIFF would create a missing tap: Ember only attaches to existing ones. */
	snprintf(sys, sizeof(sys), "/sys/class/net/%s/tun_flags", tap);
	if (stat(sys, &st) < 0)
		return err_set(-ENODEV, "--net tap=%s: no such tap device (create it first: ip tuntap "
			       "add %s mode tap && ip link set %s up)", tap, tap, tap);
	n->tap_fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (n->tap_fd < 0)
		return err_set(-errno, "--net tap=%s: cannot open /dev/net/tun: %s", tap,
			       strerror(errno));
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", tap);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (ioctl(n->tap_fd, TUNSETIFF, &ifr) < 0 ||
	    ioctl(n->tap_fd, TUNSETVNETHDRSZ, &hdr) < 0) {
		int e = errno;

		close(n->tap_fd);
		n->tap_fd = -1;
		return err_set(-e, "--net tap=%s: cannot attach: %s (is it a tap, owned by this "
			       "user, and not in use?)", tap, strerror(e));
	}
	if (mac) {
		memcpy(n->mac, mac, 6);
	} else {
		/* Locally administered, unicast, stable per position and process. */
		const uint8_t def[6] = { 0x06, 0x00, 0xac, 0x10, (uint8_t)(getpid() & 0xff),
					 (uint8_t)index };
		memcpy(n->mac, def, 6);
	}
	return 0;
}

void virtio_net_close(struct virtio_net *n)
{
	worker_stop(&n->worker);
	if (n->tap_fd >= 0)
		close(n->tap_fd);
	n->tap_fd = -1;
	free(n->mmds_frame);
	n->mmds_frame = NULL;
	n->mmds = NULL;
}

int virtio_net_attach_mmds(struct virtio_net *n, struct mmds_stack *st)
{
	if (n->worker.running)
		return -EBUSY;
	if (!n->mmds_frame) {
		n->mmds_frame = malloc(MMDS_GUEST_FRAME_MAX);
		if (!n->mmds_frame)
			return -ENOMEM;
	}
	n->mmds = st;
	return 0;
}

/* A transmitted chain (virtio header + frame): MMDS's? Then the stack takes it. */
static bool tx_to_mmds(struct virtio_net *n, const struct vq_chain *c)
{
	uint8_t peek[VNET_HDR_LEN + MMDS_MATCH_PEEK];
	uint64_t got = vq_chain_read(c, 0, peek, sizeof(peek)), len;

	if (got < VNET_HDR_LEN ||
	    !mmds_stack_match(n->mmds, peek + VNET_HDR_LEN, (size_t)(got - VNET_HDR_LEN)))
		return false;
	/* Copied first: the guest may change its buffers while the stack reads. */
	len = vq_chain_read(c, VNET_HDR_LEN, n->mmds_frame, MMDS_GUEST_FRAME_MAX);
	mmds_stack_rx_from_guest(n->mmds, n->mmds_frame, (size_t)len);
	n->mmds_rx++;
	return true;
}

/* Fills an rx chain with MMDS's next frame, behind a zeroed virtio header (no offload
 * flags: MMDS's checksums are complete). Returns the bytes written, 0 if none. */
static ssize_t rx_from_mmds(struct virtio_net *n, const struct vq_chain *c)
{
	uint8_t buf[VNET_HDR_LEN + MMDS_FRAME_MAX];
	uint64_t room = c->in_len - VNET_HDR_LEN;
	size_t len = mmds_stack_tx_to_guest(n->mmds, buf + VNET_HDR_LEN,
					    room < MMDS_FRAME_MAX ? (size_t)room : MMDS_FRAME_MAX);

	if (!len)
		return 0;
	memset(buf, 0, VNET_HDR_LEN);
	buf[NUM_BUFFERS_OFFSET] = 1;    /* num_buffers, little endian */
	vq_chain_write(c, 0, buf, VNET_HDR_LEN + len);
	n->mmds_tx++;
	return (ssize_t)(VNET_HDR_LEN + len);
}

static void tx_process(struct virtio_net *n)
{
	struct vq *q = &n->mmio.queues[TXQ];
	struct vq_chain c;
	int r;

	do {
		vq_enable_notify(q, false);
		while ((r = vq_pop(q, &c)) > 0) {
			/* The readable part is header + frame, exactly what the tap takes. */
			if (c.out_len >= VNET_HDR_LEN && n->mmds && tx_to_mmds(n, &c)) {
				/* MMDS's: the tap never sees it */
			} else if (c.out_len < VNET_HDR_LEN ||
				   writev(n->tap_fd, c.iov, (int)c.n_out) < 0) {
				n->tx_dropped++;
			} else {
				n->tx_packets++;
			}
			vq_push(q, c.head, 0);
		}
		virtio_mmio_notify_used(&n->mmio, q);
		if (r < 0) {
			virtio_mmio_needs_reset(&n->mmio);
			return;
		}
	} while (vq_enable_notify(q, true));
}

static void rx_process(struct virtio_net *n);

/* After the guest transmitted: MMDS may have answers for it (when the guest has no rx
 * buffers, its next rx kick delivers them). */
static void tx_then_mmds(struct virtio_net *n)
{
	tx_process(n);
	if (n->mmds && !n->rx_wait && mmds_stack_has_output(n->mmds))
		rx_process(n);
}

/* Moves packets from the tap into rx buffers until one side runs dry. */
static void rx_process(struct virtio_net *n)
{
	struct vq *q = &n->mmio.queues[RXQ];
	struct vq_chain c;
	bool pushed = false;

	for (;;) {
		int r = vq_pop(q, &c);
		ssize_t len;

		if (r < 0) {
			virtio_mmio_needs_reset(&n->mmio);
			break;
		}
		if (r == 0) {
			/* No buffers: stop polling the tap until the guest adds some. */
			if (vq_enable_notify(q, true))
				continue;
			n->rx_wait = true;
			worker_set_events(&n->worker, FD_TAP, 0);
			break;
		}
		if (c.in_len < VNET_HDR_LEN) {
			vq_push(q, c.head, 0);  /* unusable buffer: hand it back empty */
			n->rx_dropped++;
			pushed = true;
			continue;
		}
		/* With MMDS attached, its frames and the tap's take turns. */
		len = n->mmds && n->mmds_turn ? rx_from_mmds(n, &c) : 0;
		if (len > 0) {
			n->mmds_turn = false;
		} else if ((len = readv(n->tap_fd, &c.iov[c.n_out], (int)(c.n - c.n_out))) >= 0) {
			uint16_t one = 1;  /* num_buffers: the tap leaves it alone */

			vq_chain_write(&c, NUM_BUFFERS_OFFSET, &one, sizeof(one));
			n->mmds_turn = true;
		} else if (n->mmds && (len = rx_from_mmds(n, &c)) > 0) {
			n->mmds_turn = false;
		} else {
			/* Nothing to read (or an error): give the chain back unused. */
			vq_unpop(q);
			break;
		}
		vq_push(q, c.head, (uint32_t)len);
		n->rx_packets++;
		pushed = true;
	}
	if (pushed)
		virtio_mmio_notify_used(&n->mmio, q);
}

static void net_event(void *dev, unsigned int idx)
{
	struct virtio_net *n = dev;

	switch (idx) {
	case FD_RX_KICK:
		eventfd_drain(n->mmio.notify_fd[RXQ]);
		if (n->rx_wait && n->worker.pfd[FD_TAP].fd >= 0) {
			n->rx_wait = false;
			vq_enable_notify(&n->mmio.queues[RXQ], false);
			worker_set_events(&n->worker, FD_TAP, POLLIN);
		}
		rx_process(n);
		break;
	case FD_TX_KICK:
		eventfd_drain(n->mmio.notify_fd[TXQ]);
		tx_then_mmds(n);
		break;
	case FD_TAP:
		if (n->worker.pfd[FD_TAP].revents & (POLLERR | POLLHUP | POLLNVAL)) {
			/* The tap went away or broke: stop polling it rather than spin. */
			log_warn("virtio-net %s: the tap reports an error; receive stops", n->tap_name);
			worker_set_events(&n->worker, FD_TAP, 0);
			n->worker.pfd[FD_TAP].fd = -1;
			break;
		}
		rx_process(n);
		break;
	default:
		break;
	}
}

static int net_activate(void *dev)
{
	struct virtio_net *n = dev;
	unsigned int off = 0;
	int fds[3] = { n->mmio.notify_fd[RXQ], n->mmio.notify_fd[TXQ], n->tap_fd };
	short ev[3] = { POLLIN, POLLIN, POLLIN };

	/* What the guest can receive decides what the tap may hand us. */
	if (virtio_has_feature(&n->mmio, VIRTIO_NET_F_GUEST_CSUM)) {
		off |= TUN_F_CSUM;
		if (virtio_has_feature(&n->mmio, VIRTIO_NET_F_GUEST_TSO4))
			off |= TUN_F_TSO4;
		if (virtio_has_feature(&n->mmio, VIRTIO_NET_F_GUEST_TSO6))
			off |= TUN_F_TSO6;
		if (virtio_has_feature(&n->mmio, VIRTIO_NET_F_GUEST_ECN))
			off |= TUN_F_TSO_ECN;
	}
	if (ioctl(n->tap_fd, TUNSETOFFLOAD, (unsigned long)off) < 0)
		log_warn("virtio-net %s: TUNSETOFFLOAD 0x%x failed: %s", n->tap_name, off,
			 strerror(errno));
	n->rx_wait = false;
	vq_enable_notify(&n->mmio.queues[RXQ], false);
	return worker_start(&n->worker, "virtio-net", fds, ev, 3, net_event, n);
}

static void net_reset(void *dev)
{
	worker_stop(&((struct virtio_net *)dev)->worker);
}

static void net_config_read(void *dev, uint32_t off, uint8_t *data, uint32_t len)
{
	struct virtio_net *n = dev;
	uint8_t cfg[6];

	memcpy(cfg, n->mac, 6);
	memcpy(data, cfg + off, len);
}

const struct virtio_device_ops virtio_net_ops = {
	.name = "virtio-net",
	.device_id = VIRTIO_ID_NET,
	.features = (1ULL << VIRTIO_NET_F_CSUM) | (1ULL << VIRTIO_NET_F_GUEST_CSUM) |
		    (1ULL << VIRTIO_NET_F_MAC) | (1ULL << VIRTIO_NET_F_GUEST_TSO4) |
		    (1ULL << VIRTIO_NET_F_GUEST_TSO6) | (1ULL << VIRTIO_NET_F_GUEST_ECN) |
		    (1ULL << VIRTIO_NET_F_HOST_TSO4) | (1ULL << VIRTIO_NET_F_HOST_TSO6) |
		    (1ULL << VIRTIO_NET_F_HOST_ECN) | (1ULL << VIRTIO_F_RING_INDIRECT_DESC) |
		    (1ULL << VIRTIO_F_RING_EVENT_IDX),
	.num_queues = 2,
	.queue_max = QUEUE_SIZE,
	.config_size = 6,
	.config_read = net_config_read,
	.activate = net_activate,
	.reset = net_reset,
};
