/* virtio-blk over a raw image file: read, write, flush (fdatasync), get-id; read-only
 * images refuse writes. Requests run on the device's worker thread straight between the
 * file and guest memory (preadv/pwritev on the guest's buffers: no copy in Ember). */
#ifndef EMBER_DEVICES_VIRTIO_VIRTIO_BLK_H
#define EMBER_DEVICES_VIRTIO_VIRTIO_BLK_H

#include <pthread.h>
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
	uint64_t reads, writes, flushes, errors, swaps;
	pthread_mutex_t io_lock;   /* request processing vs. a backing-file swap */
	char *owned_path;          /* path after a swap (NULL: path is the caller's) */
};

/* Opens the image; errors name the file and the fix. */
int virtio_blk_open(struct virtio_blk *b, const char *path, bool read_only, unsigned int index);
void virtio_blk_close(struct virtio_blk *b);
/* Replaces the backing file of a live disk (Firecracker's PATCH /drives/{id}): opens
 * path with the disk's read-only setting (a 0-byte placeholder is fine), switches
 * between requests, and raises a configuration change interrupt so the guest rereads
 * the capacity. On error the old file stays attached. */
int virtio_blk_swap(struct virtio_blk *b, const char *path);
extern const struct virtio_device_ops virtio_blk_ops;

/* Handles one request chain; returns the bytes written to the guest (status included).
 * Exposed for unit tests and fuzzing. */
uint32_t virtio_blk_handle(struct virtio_blk *b, const struct vq_chain *c);

#endif
