/* libFuzzer target: virtio-net's receive (single and mergeable buffers) and transmit
 * paths over hostile guest rings.
 *
 * Input: a flag byte (bit 0 INDIRECT_DESC, bit 1 EVENT_IDX, bit 2 MRG_RXBUF), four frame
 * sizes (2 bytes each, scaled up to 70000 bytes) that a socket pair standing in for the
 * tap delivers, then the guest's memory image (at most 64 KiB, zero-filled after the
 * input) holding two 16-entry queues: receive (descriptors 0x0, avail 0x100, used 0x200)
 * and transmit (0x400, 0x500, 0x600). Checked: no crash, no access outside guest RAM (an
 * exact-size heap block under ASan); no frame is delivered twice; what reaches the tap is
 * at least a virtio-net header long; the bounce state stays consistent. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "devices/virtio/virtio_net.h"
#include "util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ASSERT(c)                                                                      \
	do {                                                                           \
		if (!(c)) {                                                            \
			fprintf(stderr, "fuzz_virtio_net: %s:%d: assertion failed: %s\n", \
				__FILE__, __LINE__, #c);                               \
			abort();                                                       \
		}                                                                      \
	} while (0)

#define RAM (64u * 1024u)
#define QSIZE 16

static uint8_t frame[70000], sink[70000];

static void activate(struct vq *q, const struct guest_mem *mem, uint64_t base, uint8_t flags)
{
	memset(q, 0, sizeof(*q));
	q->size = QSIZE;
	q->desc_gpa = base;
	q->avail_gpa = base + 0x100;
	q->used_gpa = base + 0x200;
	q->indirect = flags & 1;
	q->event_idx = (flags & 2) != 0;
	ASSERT(vq_activate(q, mem) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct virtio_net n;
	struct guest_mem mem;
	uint8_t *ram, flags;
	uint16_t sizes[4];
	uint64_t sent = 0;
	int sv[2];
	ssize_t got;

	log_threshold = LOG_ERROR;
	if (size < 9)
		return 0;
	flags = data[0];
	memcpy(sizes, data + 1, sizeof(sizes));
	data += 9;
	size -= 9;
	ram = calloc(1, RAM);
	if (!ram)
		abort();
	memcpy(ram, data, size < RAM ? size : RAM);
	guest_mem_init_from(&mem, ram, RAM);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sv) < 0)
		abort();
	{
		int sz = 1 << 20;

		setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
		setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	}
	memset(&n, 0, sizeof(n));
	n.tap_fd = sv[0];
	n.mmio.irq.fd = -1;
	n.rx = calloc(1, sizeof(*n.rx));
	if (!n.rx)
		abort();
	n.mmio.driver_features = (1ULL << 32) | ((flags & 4) ? 1ULL << 15 : 0);
	activate(&n.mmio.queues[0], &mem, 0, flags);
	activate(&n.mmio.queues[1], &mem, 0x400, flags);
	for (unsigned int i = 0; i < 4; i++) {
		size_t len = (size_t)sizes[i] * 70000u / 65536u;

		if (len == 0)
			continue;
		for (size_t k = 0; k < len; k++)
			frame[k] = (uint8_t)(k * 13 + i);
		if (send(sv[1], frame, len, 0) < 0)
			break;
		sent++;
	}
	virtio_net_rx(&n);
	ASSERT(n.rx->pending <= VIRTIO_NET_MAX_FRAME);
	ASSERT(n.rx->nch == 0);  /* chains gathered and not needed went back */
	virtio_net_rx(&n);   /* again: a waiting frame, buffers given back */
	/* The worker's transmit kick: tx, then rx for what the tap still holds, one
	 * interrupt (the frames sent went to the peer's end, not back). */
	virtio_net_tx_kick(&n);
	ASSERT(n.rx->nch == 0);
	ASSERT(!n.irq_defer && n.irq_due == 0);
	while ((got = recv(sv[1], sink, sizeof(sink), 0)) >= 0)
		ASSERT(got >= 12);
	/* Each frame the tap gave is delivered at most once (the used ring itself proves
	 * nothing: a hostile driver may point buffers at it). */
	ASSERT(n.rx_packets <= sent);
	close(sv[0]);
	close(sv[1]);
	free(n.rx);
	free(ram);
	return 0;
}
