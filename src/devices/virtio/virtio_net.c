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
/* A guest frame MMDS may be handed: the largest a transmit chain can carry to a tap. */
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
#define VIRTIO_NET_F_MRG_RXBUF 15

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
	/* Last: every failure above leaves nothing to free. */
	n->rx = calloc(1, sizeof(*n->rx));
	if (!n->rx) {
		close(n->tap_fd);
		n->tap_fd = -1;
		return err_set(-ENOMEM, "out of memory");
	}
	return 0;
}

/* The data path's profile (docs/performance.md#virtio-net-transmit): what each side cost
 * in wake-ups, syscalls and interrupts. */
static void log_prof(const struct virtio_net *n)
{
	const struct virtio_net_prof *p = &n->prof;

	log_debug("virtio-net %s: tx packets=%llu bytes=%llu kicks=%llu passes=%llu "
		  "writes=%llu irqs=%llu", n->tap_name, (unsigned long long)n->tx_packets,
		  (unsigned long long)p->tx_bytes, (unsigned long long)p->tx_kicks,
		  (unsigned long long)p->tx_passes, (unsigned long long)p->tx_writes,
		  (unsigned long long)p->tx_irqs);
	log_debug("virtio-net %s: rx packets=%llu wakeups=%llu kicks=%llu reads=%llu "
		  "empty=%llu chains=%llu irqs=%llu; interrupts %llu, driver acks %llu",
		  n->tap_name, (unsigned long long)n->rx_packets, (unsigned long long)p->rx_wakeups,
		  (unsigned long long)p->rx_kicks, (unsigned long long)p->rx_reads,
		  (unsigned long long)p->rx_empty, (unsigned long long)p->rx_chains,
		  (unsigned long long)p->rx_irqs,
		  (unsigned long long)n->mmio.irq.pulses, (unsigned long long)n->mmio.int_acks);
}

void virtio_net_close(struct virtio_net *n)
{
	worker_stop(&n->worker);
	if (n->tap_fd >= 0 && (n->tx_packets || n->rx_packets))
		log_prof(n);
	if (n->tap_fd >= 0)
		close(n->tap_fd);
	n->tap_fd = -1;
	free(n->rx);
	n->rx = NULL;
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

/* One interrupt for every queue with entries pushed since the last. */
static void irq_flush(struct virtio_net *n)
{
	unsigned int want = virtio_mmio_notify_used_queues(&n->mmio, n->irq_due);

	n->irq_due = 0;
	n->prof.tx_irqs += want >> TXQ & 1;
	n->prof.rx_irqs += want >> RXQ & 1;
}

/* Signals the entries pushed on queue qi now, or at the end of the worker's event when
 * one is being handled (irq_defer). */
static void used_irq(struct virtio_net *n, unsigned int qi)
{
	n->irq_due |= 1u << qi;
	if (!n->irq_defer)
		irq_flush(n);
}

static ssize_t tap_write(struct virtio_net *n, const struct vq_chain *c)
{
	n->prof.tx_writes++;
	n->prof.tx_bytes += c->out_len;
	return writev(n->tap_fd, c->iov, (int)c->n_out);
}

void virtio_net_tx(struct virtio_net *n)
{
	struct vq *q = &n->mmio.queues[TXQ];
	struct vq_chain c;
	bool pushed = false;
	int r;

	do {
		vq_enable_notify(q, false);
		n->prof.tx_passes++;
		while ((r = vq_pop(q, &c)) > 0) {
			/* The readable part is header + frame, exactly what the tap takes. */
			if (c.out_len >= VNET_HDR_LEN && n->mmds && tx_to_mmds(n, &c)) {
				/* MMDS's: the tap never sees it */
			} else if (c.out_len < VNET_HDR_LEN || tap_write(n, &c) < 0) {
				n->tx_dropped++;
			} else {
				n->tx_packets++;
			}
			vq_push(q, c.head, 0);
			pushed = true;
		}
		if (r < 0)
			break;
	} while (vq_enable_notify(q, true));
	/* Once, after the ring is drained and re-armed: a guest that waits for this
	 * interrupt to free its buffers has already queued what it will. */
	if (pushed)
		used_irq(n, TXQ);
	if (r < 0)
		virtio_mmio_needs_reset(&n->mmio);
}

/* MMDS's frames first, one buffer each (they are small: the stack sizes its segments to
 * the buffer). */
static bool rx_mmds(struct virtio_net *n, struct vq *q);

void virtio_net_tx_kick(struct virtio_net *n)
{
	uint64_t sent = n->tx_packets + n->mmds_rx;
	bool mmds_out;

	n->irq_defer = true;
	virtio_net_tx(n);
	mmds_out = n->mmds && mmds_stack_has_output(n->mmds);
	/* Nothing sent (a spurious kick): no answer to look for, unless MMDS has one. Not
	 * while waiting for rx buffers: the guest's rx kick ends that. */
	if (!n->rx_wait && (mmds_out ||
			    (!n->tap_broken && n->tx_packets + n->mmds_rx != sent)))
		virtio_net_rx(n);
	n->irq_defer = false;
	irq_flush(n);
}

static void rx_count_read(struct virtio_net *n, ssize_t len)
{
	n->prof.rx_reads++;
	if (len <= 0)
		n->prof.rx_empty++;
}

/* Not enough rx buffers (seen: the available chains that were too few): stop polling
 * the tap until the guest adds more. Returns true when more arrived meanwhile (go on). */
static bool rx_out_of_buffers(struct virtio_net *n, struct vq *q, uint16_t seen)
{
	if (vq_enable_notify_beyond(q, true, seen))
		return true;
	n->rx_wait = true;
	worker_set_events(&n->worker, FD_TAP, 0);
	return false;
}

/* One buffer per frame (no MRG_RXBUF): each chain is big enough for any frame (the
 * driver's promise when it negotiates TSO without mergeable buffers). */
static void rx_single(struct virtio_net *n, struct vq *q)
{
	struct vq_chain *c = &n->rx->chain;
	bool pushed = false;

	for (;;) {
		int r = vq_pop(q, c);
		ssize_t len;

		if (r < 0) {
			virtio_mmio_needs_reset(&n->mmio);
			break;
		}
		if (r == 0) {
			if (rx_out_of_buffers(n, q, 0))
				continue;
			break;
		}
		if (c->in_len < VNET_HDR_LEN) {
			vq_push(q, c->head, 0);  /* unusable buffer: hand it back empty */
			n->rx_dropped++;
			pushed = true;
			continue;
		}
		len = readv(n->tap_fd, &c->iov[c->n_out], (int)(c->n - c->n_out));
		rx_count_read(n, len);
		if (len < 0) {
			/* Nothing to read (or an error): give the chain back unused. */
			vq_unpop(q);
			break;
		}
		{
			uint16_t one = 1;  /* num_buffers: the tap leaves it alone */

			vq_chain_write(c, NUM_BUFFERS_OFFSET, &one, sizeof(one));
		}
		vq_push(q, c->head, (uint32_t)len);
		n->rx_packets++;
		pushed = true;
	}
	if (pushed)
		used_irq(n, RXQ);
}

/* Gives every gathered chain back to the ring (they were popped last, in order). */
static void rx_release(struct vq *q, struct virtio_net_rx_gather *g)
{
	for (unsigned int i = 0; i < g->nch; i++)
		vq_unpop(q);
	g->nch = g->niov = 0;
	g->total = 0;
}

/* Hands the first gathered chains, which hold len bytes of frame, to the driver:
 * num_buffers in the header and each chain's used length. The rest stay gathered, moved
 * to the front, for the next frame. */
static void rx_deliver(struct vq *q, struct virtio_net_rx_gather *g, size_t len)
{
	unsigned int used = 0, iovs = 0;
	size_t left = len, room = 0;
	uint16_t nb;

	while (used < g->nch && (used == 0 || left)) {
		size_t take = left < g->caps[used] ? left : g->caps[used];

		left -= take;
		room += g->caps[used];
		iovs += g->niovs[used];
		used++;
	}
	nb = (uint16_t)used;
	/* The header sits at the start of the first chain's first writable buffer (the
	 * gather checked that it is at least VNET_HDR_LEN long). */
	memcpy((uint8_t *)g->iov[0].iov_base + NUM_BUFFERS_OFFSET, &nb, sizeof(nb));
	left = len;
	for (unsigned int i = 0; i < used; i++) {
		size_t take = left < g->caps[i] ? left : g->caps[i];

		vq_push(q, g->heads[i], (uint32_t)take);
		left -= take;
	}
	g->nch -= used;
	g->niov -= iovs;
	g->total -= room;
	memmove(g->heads, g->heads + used, g->nch * sizeof(g->heads[0]));
	memmove(g->caps, g->caps + used, g->nch * sizeof(g->caps[0]));
	memmove(g->niovs, g->niovs + used, g->nch * sizeof(g->niovs[0]));
	memmove(g->hdr_ok, g->hdr_ok + used, g->nch * sizeof(g->hdr_ok[0]));
	memmove(g->iov, g->iov + iovs, g->niov * sizeof(g->iov[0]));
	/* A chain that cannot start a frame goes back; the next gather drops it. */
	if (g->nch && !g->hdr_ok[0])
		rx_release(q, g);
}

/* Adds available chains to the gather until they can hold a maximal frame. -EINVAL for
 * a broken ring; *ring_empty when it ran out. */
static int rx_gather(struct virtio_net *n, struct vq *q, bool *ring_empty, bool *pushed)
{
	struct virtio_net_rx_gather *g = n->rx;

	*ring_empty = false;
	while (g->total < VIRTIO_NET_MAX_FRAME && g->nch < VIRTIO_NET_MRG_MAX_CHAINS) {
		struct vq_chain *c = &g->chain;
		int r = vq_pop(q, c);
		unsigned int k = c->n - c->n_out;

		if (r <= 0) {
			*ring_empty = r == 0;
			return r;
		}
		if (g->nch && c->in_len == 0) {
			/* Unusable, behind chains still held: handing it back now would put it
			 * out of ring order with them. It comes first next time. */
			vq_unpop(q);
			break;
		}
		if (c->in_len == 0 || (g->nch == 0 && (c->n_out || c->iov[0].iov_len < VNET_HDR_LEN))) {
			vq_push(q, c->head, 0);  /* unusable: hand it back empty */
			n->rx_dropped++;
			*pushed = true;
			continue;
		}
		if (g->niov + k > VIRTIO_NET_MRG_MAX_IOV) {
			vq_unpop(q);
			break;
		}
		memcpy(&g->iov[g->niov], &c->iov[c->n_out], k * sizeof(struct iovec));
		g->heads[g->nch] = c->head;
		g->caps[g->nch] = (uint32_t)c->in_len;
		g->niovs[g->nch] = (uint16_t)k;
		g->hdr_ok[g->nch] = !c->n_out && c->iov[0].iov_len >= VNET_HDR_LEN;
		g->niov += k;
		g->nch++;
		g->total += c->in_len;
		n->prof.rx_chains++;
	}
	return 0;
}

/* The waiting frame is larger than the gathered chains: they go back, then the frame is
 * dropped if it can never fit, or waits for more buffers. Returns true to go on. */
static bool rx_short(struct virtio_net *n, struct vq *q, bool ring_empty)
{
	struct virtio_net_rx_gather *g = n->rx;
	unsigned int nch = g->nch;

	rx_release(q, g);
	if (!ring_empty || nch >= q->size) {
		/* As much as one frame may use, or the whole ring, cannot hold it: it never
		 * will. */
		g->pending = 0;
		n->rx_dropped++;
		return true;
	}
	return rx_out_of_buffers(n, q, (uint16_t)nch);
}

/* Copies len bytes of src into the gathered iovecs. */
static void iov_fill(const struct iovec *iov, unsigned int niov, const uint8_t *src, size_t len)
{
	for (unsigned int i = 0; i < niov && len; i++) {
		size_t k = len < iov[i].iov_len ? len : iov[i].iov_len;

		memcpy(iov[i].iov_base, src, k);
		src += k;
		len -= k;
	}
}

/* Mergeable rx buffers: gather chains until they can hold a maximal frame, then readv
 * straight into them. When the guest has posted less than that, the frame goes through
 * the bounce buffer and waits there until enough buffers arrive. */
static void rx_mergeable(struct virtio_net *n, struct vq *q)
{
	struct virtio_net_rx_gather *g = n->rx;
	bool pushed = false;

	for (;;) {
		bool ring_empty;
		ssize_t len;

		if (rx_gather(n, q, &ring_empty, &pushed) < 0) {
			rx_release(q, g);
			virtio_mmio_needs_reset(&n->mmio);
			break;
		}
		if (g->nch == 0) {
			if (ring_empty && rx_out_of_buffers(n, q, 0))
				continue;
			break;
		}
		if (!g->pending && g->total >= VIRTIO_NET_MAX_FRAME) {
			len = readv(n->tap_fd, g->iov, (int)g->niov);
			rx_count_read(n, len);
			if (len <= 0)
				break;  /* nothing to read */
			rx_deliver(q, g, (size_t)len);
			n->rx_packets++;
			pushed = true;
			continue;
		}
		if (!g->pending) {
			len = read(n->tap_fd, g->bounce, sizeof(g->bounce));
			rx_count_read(n, len);
			if (len <= 0)
				break;
			g->pending = (size_t)len;
			n->rx_bounced++;
		}
		if (g->pending <= g->total) {
			iov_fill(g->iov, g->niov, g->bounce, g->pending);
			rx_deliver(q, g, g->pending);
			g->pending = 0;
			n->rx_packets++;
			pushed = true;
			continue;
		}
		if (!rx_short(n, q, ring_empty))
			break;
	}
	rx_release(q, g);  /* what the last frame did not need */
	if (pushed)
		used_irq(n, RXQ);
}

static bool rx_mmds(struct virtio_net *n, struct vq *q)
{
	struct vq_chain *c = &n->rx->chain;
	bool pushed = false, more = true;

	while (mmds_stack_has_output(n->mmds)) {
		int r = vq_pop(q, c);
		ssize_t len;

		if (r < 0) {
			virtio_mmio_needs_reset(&n->mmio);
			more = false;
			break;
		}
		if (r == 0) {
			if (rx_out_of_buffers(n, q, 0))
				continue;
			more = false;
			break;
		}
		if (c->n_out || c->in_len < VNET_HDR_LEN + MMDS_FRAME_MIN) {
			vq_push(q, c->head, 0);  /* unusable: hand it back empty */
			n->rx_dropped++;
			pushed = true;
			continue;
		}
		len = rx_from_mmds(n, c);
		if (len <= 0) {
			vq_unpop(q);
			break;
		}
		vq_push(q, c->head, (uint32_t)len);
		pushed = true;
	}
	if (pushed)
		used_irq(n, RXQ);
	return more;
}

void virtio_net_rx(struct virtio_net *n)
{
	struct vq *q = &n->mmio.queues[RXQ];

	if (n->mmds && !rx_mmds(n, q))
		return;
	if (virtio_has_feature(&n->mmio, VIRTIO_NET_F_MRG_RXBUF))
		rx_mergeable(n, q);
	else
		rx_single(n, q);
}

static void net_event(void *dev, unsigned int idx)
{
	struct virtio_net *n = dev;

	switch (idx) {
	case FD_RX_KICK:
		n->prof.rx_kicks++;
		eventfd_drain(n->mmio.notify_fd[RXQ]);
		if (n->rx_wait && n->worker.pfd[FD_TAP].fd >= 0) {
			n->rx_wait = false;
			vq_enable_notify(&n->mmio.queues[RXQ], false);
			worker_set_events(&n->worker, FD_TAP, POLLIN);
		}
		virtio_net_rx(n);
		break;
	case FD_TX_KICK:
		n->prof.tx_kicks++;
		eventfd_drain(n->mmio.notify_fd[TXQ]);
		virtio_net_tx_kick(n);
		break;
	case FD_TAP:
		if (n->worker.pfd[FD_TAP].revents & (POLLERR | POLLHUP | POLLNVAL)) {
			/* The tap went away or broke: stop polling it rather than spin. */
			log_warn("virtio-net %s: the tap reports an error; receive stops", n->tap_name);
			worker_set_events(&n->worker, FD_TAP, 0);
			n->worker.pfd[FD_TAP].fd = -1;
			n->tap_broken = true;
			break;
		}
		n->prof.rx_wakeups++;
		virtio_net_rx(n);
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

	if (!n->rx) {
		n->rx = calloc(1, sizeof(*n->rx));
		if (!n->rx)
			return -ENOMEM;
	}
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
		log_warn_guest("virtio-net %s: TUNSETOFFLOAD 0x%x failed: %s", n->tap_name, off,
			 strerror(errno));
	n->rx_wait = false;
	n->rx->nch = n->rx->niov = 0;
	n->rx->total = 0;
	n->tap_broken = false;
	n->irq_defer = false;
	n->irq_due = 0;
	n->rx->pending = 0;
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
		    (1ULL << VIRTIO_NET_F_HOST_ECN) | (1ULL << VIRTIO_NET_F_MRG_RXBUF) |
		    (1ULL << VIRTIO_F_RING_INDIRECT_DESC) |
		    (1ULL << VIRTIO_F_RING_EVENT_IDX),
	.num_queues = 2,
	.queue_max = QUEUE_SIZE,
	.config_size = 6,
	.config_read = net_config_read,
	.activate = net_activate,
	.reset = net_reset,
};
