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
	/* A swap (PATCH /drives, the API's main thread) never waits for guest I/O: requests
	 * take the current file under this lock only for the moment it takes to count
	 * themselves in (io_refs) and copy fd and sectors; a swap installs the new file and
	 * retires the old one, closed once no request is in flight. */
	pthread_mutex_t io_lock;
	unsigned int io_refs;      /* requests in flight */
	int retired[4];            /* replaced files still open for those requests, or -1 */
	char *owned_path;          /* path after a swap (NULL: path is the caller's) */
};

/* The file a request uses: counted in under io_lock; virtio_blk_put closes what a swap
 * retired once the last request in flight is done. Exposed for tests. */
struct blk_file {
	int fd;
	uint64_t sectors;
};
struct blk_file virtio_blk_get(struct virtio_blk *b);
void virtio_blk_put(struct virtio_blk *b);

/* Opens the image; errors name the file and the fix. */
int virtio_blk_open(struct virtio_blk *b, const char *path, bool read_only, unsigned int index);
void virtio_blk_close(struct virtio_blk *b);
/* Replaces the backing file of a live disk (Firecracker's PATCH /drives/{id}): opens
 * path with the disk's read-only setting (a 0-byte placeholder is fine), switches
 * between requests, and raises a configuration change interrupt so the guest rereads
 * the capacity. On error the old file stays attached; -EBUSY when requests still hold the
 * files of several earlier swaps (a hung disk): retry later. Never waits for I/O. */
int virtio_blk_swap(struct virtio_blk *b, const char *path);
extern const struct virtio_device_ops virtio_blk_ops;

/* Handles one request chain; returns the bytes written to the guest (status included).
 * Exposed for unit tests and fuzzing. */
uint32_t virtio_blk_handle(struct virtio_blk *b, const struct vq_chain *c);

#endif
