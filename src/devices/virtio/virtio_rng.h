/* virtio-rng (entropy): fills every writable buffer the guest posts with getrandom(). */
#ifndef EMBER_DEVICES_VIRTIO_VIRTIO_RNG_H
#define EMBER_DEVICES_VIRTIO_VIRTIO_RNG_H

#include <stdint.h>

#include "devices/virtio/virtio_mmio.h"
#include "devices/virtio/worker.h"

struct virtio_rng {
	struct virtio_mmio mmio;
	struct worker worker;
	uint64_t bytes;
};

extern const struct virtio_device_ops virtio_rng_ops;
/* Fills one chain; returns the bytes written. Exposed for tests and fuzzing. */
uint32_t virtio_rng_handle(struct virtio_rng *r, const struct vq_chain *c);

#endif
