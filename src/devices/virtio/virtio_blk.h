/* virtio-blk over a raw image file: read, write, flush (fdatasync), get-id; read-only
 * images refuse writes. Requests run on the device's worker thread straight between the
 * file and guest memory (preadv/pwritev on the guest's buffers: no copy in Ember). */
#ifndef EMBER_DEVICES_VIRTIO_VIRTIO_BLK_H
#define EMBER_DEVICES_VIRTIO_VIRTIO_BLK_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/virtio/virtio_mmio.h"
#include "devices/virtio/worker.h"

#define VIRTIO_BLK_ID_BYTES 20

struct virtio_blk {
	struct virtio_mmio mmio;
	struct worker worker;
	const char *path;
	int fd;
	bool read_only;
	uint64_t features;     /* per-disk feature bits on top of virtio_blk_ops.features */
	uint64_t sectors;
	char serial[VIRTIO_BLK_ID_BYTES + 1];
	uint64_t reads, writes, flushes, errors;
};

/* Opens the image; errors name the file and the fix. */
int virtio_blk_open(struct virtio_blk *b, const char *path, bool read_only, unsigned int index);
void virtio_blk_close(struct virtio_blk *b);
extern const struct virtio_device_ops virtio_blk_ops;

/* Handles one request chain; returns the bytes written to the guest (status included).
 * Exposed for unit tests and fuzzing. */
uint32_t virtio_blk_handle(struct virtio_blk *b, const struct vq_chain *c);

#endif
