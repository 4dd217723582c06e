#include "devices/virtio/virtio_rng.h"

#include <errno.h>
#include <sys/random.h>

#define QUEUE_SIZE 64
/* Per request: enough for any guest's pool, small enough to keep the thread responsive. */
#define MAX_REQUEST (64 * 1024)

uint32_t virtio_rng_handle(struct virtio_rng *r, const struct vq_chain *c)
{
	uint64_t done = 0;

	for (unsigned int i = c->n_out; i < c->n && done < MAX_REQUEST; i++) {
		uint8_t *p = c->iov[i].iov_base;
		size_t want = c->iov[i].iov_len;

		if (want > MAX_REQUEST - done)
			want = (size_t)(MAX_REQUEST - done);
		while (want) {
			ssize_t n = getrandom(p, want, 0);

			if (n < 0) {
				if (errno == EINTR)
					continue;
				goto out;
			}
			p += n;
			want -= (size_t)n;
			done += (uint64_t)n;
		}
	}
out:
	r->bytes += done;
	return (uint32_t)done;
}

static void rng_event(void *dev, unsigned int idx)
{
	struct virtio_rng *r = dev;
	struct vq *q = &r->mmio.queues[0];
	struct vq_chain c;
	int ret;

	(void)idx;
	eventfd_drain(r->mmio.notify_fd[0]);
	do {
		while ((ret = vq_pop(q, &c)) > 0)
			vq_push(q, c.head, virtio_rng_handle(r, &c));
		virtio_mmio_notify_used(&r->mmio, q);
		if (ret < 0) {
			virtio_mmio_needs_reset(&r->mmio);
			return;
		}
	} while (vq_enable_notify(q, true));
}

static int rng_activate(void *dev)
{
	struct virtio_rng *r = dev;
	short ev = POLLIN;

	return worker_start(&r->worker, "virtio-rng", &r->mmio.notify_fd[0], &ev, 1, rng_event, r);
}

static void rng_reset(void *dev)
{
	worker_stop(&((struct virtio_rng *)dev)->worker);
}

const struct virtio_device_ops virtio_rng_ops = {
	.name = "virtio-rng",
	.device_id = VIRTIO_ID_RNG,
	.features = (1ULL << VIRTIO_F_RING_INDIRECT_DESC) | (1ULL << VIRTIO_F_RING_EVENT_IDX),
	.num_queues = 1,
	.queue_max = QUEUE_SIZE,
	.config_size = 0,
	.activate = rng_activate,
	.reset = rng_reset,
};
