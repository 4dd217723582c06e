#include "devices/virtio/virtio_blk.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "util/err.h"
#include "util/log.h"

#define SECTOR 512ULL
#define QUEUE_SIZE 256

#define VIRTIO_BLK_F_SEG_MAX 2
#define VIRTIO_BLK_F_RO 5
#define VIRTIO_BLK_F_BLK_SIZE 6
#define VIRTIO_BLK_F_FLUSH 9

#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_T_GET_ID 8

#define VIRTIO_BLK_S_OK 0
#define VIRTIO_BLK_S_IOERR 1
#define VIRTIO_BLK_S_UNSUPP 2

struct __attribute__((packed)) blk_req_hdr {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};

struct __attribute__((packed)) blk_config {
	uint64_t capacity;
	uint32_t size_max;
	uint32_t seg_max;
	uint8_t geometry[4];
	uint32_t blk_size;
};

/* Opens and sizes an image; what names it in errors ("--disk", "path_on_host"). */
static int open_image(const char *what, const char *path, bool read_only, int *fdp,
		      uint64_t *sectors)
{
	struct stat st;
	int fd;

	/* O_NONBLOCK: a FIFO (or a device that waits for a peer) named as a disk must not
	 * block the thread that opens it (the API's main thread for PATCH /drives) before
	 * its type is checked below. It means nothing for regular files and is cleared for
	 * block devices once accepted. */
	fd = open(path, (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		int e = errno;

		if (e == EACCES || e == EROFS) {
			if (!read_only && access(path, R_OK) == 0)
				return err_set(-e, "%s %s: the file is read-only; add ',ro' to attach it "
					       "read-only", what, path);
			return err_set(-e, "%s %s: permission denied", what, path);
		}
		if (e == ENOENT)
			return err_set(-e, "%s %s: no such file (create it first, e.g. with "
				       "truncate or mkfs)", what, path);
		return err_set(-e, "%s %s: cannot open: %s", what, path, strerror(e));
	}
	if (fstat(fd, &st) < 0 || !(S_ISREG(st.st_mode) || S_ISBLK(st.st_mode))) {
		close(fd);
		return err_set(-EINVAL, "%s %s: not a regular file or block device", what, path);
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0) {
		int e = errno;

		close(fd);
		return err_set(-e, "%s %s: fcntl: %s", what, path, strerror(e));
	}
	if (S_ISBLK(st.st_mode)) {
		off_t end = lseek(fd, 0, SEEK_END);

		st.st_size = end < 0 ? 0 : end;
	}
	if (st.st_size % (off_t)SECTOR) {
		close(fd);
		return err_set(-EINVAL, "%s %s: size %lld is not a multiple of 512 bytes (pad it "
			       "with truncate -s)", what, path, (long long)st.st_size);
	}
	*fdp = fd;
	*sectors = (uint64_t)st.st_size / SECTOR;
	return 0;
}

int virtio_blk_open(struct virtio_blk *b, const char *path, bool read_only, unsigned int index)
{
	int r;

	memset(b, 0, sizeof(*b));
	b->fd = -1;
	b->path = path;
	b->read_only = read_only;
	pthread_mutex_init(&b->io_lock, NULL);
	for (unsigned int i = 0; i < sizeof(b->retired) / sizeof(b->retired[0]); i++)
		b->retired[i] = -1;
	r = open_image("--disk", path, read_only, &b->fd, &b->sectors);
	if (r < 0)
		return r;
	b->features = read_only ? 1ULL << VIRTIO_BLK_F_RO : 0;
	snprintf(b->serial, sizeof(b->serial), "ember-disk%u", index);
	return 0;
}

int virtio_blk_swap(struct virtio_blk *b, const char *path)
{
	uint64_t sectors;
	char *copy;
	int fd, old, r;

	copy = strdup(path);
	if (!copy)
		return err_set(-ENOMEM, "out of memory");
	r = open_image("path_on_host", path, b->read_only, &fd, &sectors);
	if (r < 0) {
		free(copy);
		return r;
	}
	/* Requests in flight finish on the old file; the next ones use the new one. */
	pthread_mutex_lock(&b->io_lock);
	old = b->fd;
	if (old >= 0 && b->io_refs > 0) {
		unsigned int i = 0;

		while (i < sizeof(b->retired) / sizeof(b->retired[0]) && b->retired[i] >= 0)
			i++;
		if (i == sizeof(b->retired) / sizeof(b->retired[0])) {
			pthread_mutex_unlock(&b->io_lock);
			close(fd);
			free(copy);
			return err_set(-EBUSY, "path_on_host %s: the disk's earlier files are still in "
				       "use by requests in flight (a slow or hung disk); retry later",
				       path);
		}
		b->retired[i] = old;  /* closed by the last request in flight */
		old = -1;
	}
	b->fd = fd;
	__atomic_store_n(&b->sectors, sectors, __ATOMIC_RELEASE);
	b->path = copy;
	free(b->owned_path);
	b->owned_path = copy;
	b->swaps++;
	pthread_mutex_unlock(&b->io_lock);
	if (old >= 0)
		close(old);
	/* The guest rereads the capacity on a configuration change interrupt. */
	if (__atomic_load_n(&b->mmio.status, __ATOMIC_ACQUIRE) & VIRTIO_STATUS_DRIVER_OK)
		virtio_mmio_config_changed(&b->mmio);
	return 0;
}

struct blk_file virtio_blk_get(struct virtio_blk *b)
{
	struct blk_file f;

	pthread_mutex_lock(&b->io_lock);
	b->io_refs++;
	f.fd = b->fd;
	f.sectors = b->sectors;
	pthread_mutex_unlock(&b->io_lock);
	return f;
}

void virtio_blk_put(struct virtio_blk *b)
{
	int done[sizeof(b->retired) / sizeof(b->retired[0])];
	unsigned int n = 0;

	pthread_mutex_lock(&b->io_lock);
	if (--b->io_refs == 0) {
		for (unsigned int i = 0; i < sizeof(b->retired) / sizeof(b->retired[0]); i++) {
			if (b->retired[i] >= 0)
				done[n++] = b->retired[i];
			b->retired[i] = -1;
		}
	}
	pthread_mutex_unlock(&b->io_lock);
	while (n)
		close(done[--n]);  /* outside the lock: a close can wait for the file system */
}

void virtio_blk_close(struct virtio_blk *b)
{
	worker_stop(&b->worker);
	for (unsigned int i = 0; i < sizeof(b->retired) / sizeof(b->retired[0]); i++) {
		if (b->retired[i] >= 0)
			close(b->retired[i]);
		b->retired[i] = -1;
	}
	if (b->fd >= 0)
		close(b->fd);
	b->fd = -1;
	free(b->owned_path);
	b->owned_path = NULL;
}

/* The data part of a chain: [skip_front, total - skip_back) of the readable (out) or
 * writable (in) buffers, as a fresh iovec array. Returns the number of entries. */
static unsigned int slice(const struct vq_chain *c, bool in, uint64_t skip_front,
			  uint64_t skip_back, struct iovec *out, uint64_t *bytes)
{
	unsigned int first = in ? c->n_out : 0, last = in ? c->n : c->n_out, n = 0;
	uint64_t total = in ? c->in_len : c->out_len;
	uint64_t want = total - skip_front - skip_back, off = skip_front;

	*bytes = 0;
	for (unsigned int i = first; i < last && *bytes < want; i++) {
		uint64_t l = c->iov[i].iov_len;

		if (off >= l) {
			off -= l;
			continue;
		}
		uint64_t take = l - off < want - *bytes ? l - off : want - *bytes;
		out[n].iov_base = (uint8_t *)c->iov[i].iov_base + off;
		out[n].iov_len = take;
		n++;
		*bytes += take;
		off = 0;
	}
	return n;
}

static int do_rw(const struct blk_file *f, bool write, struct iovec *iov, unsigned int n,
		 uint64_t len, uint64_t sector)
{
	uint64_t off;

	if (len % SECTOR || sector > f->sectors || len / SECTOR > f->sectors - sector)
		return -EINVAL;  /* outside the disk, or not whole sectors */
	off = sector * SECTOR;
	while (len) {
		ssize_t r = write ? pwritev(f->fd, iov, (int)n, (off_t)off)
				  : preadv(f->fd, iov, (int)n, (off_t)off);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return -EIO;
		/* Short transfer: advance the iovec and go on. */
		off += (uint64_t)r;
		len -= (uint64_t)r;
		while (n && (uint64_t)r >= iov->iov_len) {
			r -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n) {
			iov->iov_base = (uint8_t *)iov->iov_base + r;
			iov->iov_len -= (size_t)r;
		}
	}
	return 0;
}

uint32_t virtio_blk_handle(struct virtio_blk *b, const struct vq_chain *c)
{
	struct blk_req_hdr h;
	struct iovec iov[VQ_MAX_CHAIN];
	uint64_t len;
	unsigned int n;
	uint8_t status = VIRTIO_BLK_S_OK;
	uint32_t written = 0;

	/* A request needs its 16-byte header (readable) and a status byte (writable). */
	if (c->in_len < 1 || vq_chain_read(c, 0, &h, sizeof(h)) != sizeof(h)) {
		b->errors++;
		return 0;
	}
	/* The file of the moment, held until the request is done (a swap may come). */
	struct blk_file f = virtio_blk_get(b);

	switch (h.type) {
	case VIRTIO_BLK_T_IN:
		n = slice(c, true, 0, 1, iov, &len);
		if (do_rw(&f, false, iov, n, len, h.sector) < 0)
			status = VIRTIO_BLK_S_IOERR;
		else
			written = (uint32_t)len;
		b->reads++;
		break;
	case VIRTIO_BLK_T_OUT:
		n = slice(c, false, sizeof(h), 0, iov, &len);
		if (b->read_only || do_rw(&f, true, iov, n, len, h.sector) < 0)
			status = VIRTIO_BLK_S_IOERR;
		else if (!virtio_has_feature(&b->mmio, VIRTIO_BLK_F_FLUSH) && fdatasync(f.fd) < 0)
			status = VIRTIO_BLK_S_IOERR;  /* no flush negotiated: write through */
		b->writes++;
		break;
	case VIRTIO_BLK_T_FLUSH:
		if (!b->read_only && fdatasync(f.fd) < 0)
			status = VIRTIO_BLK_S_IOERR;
		b->flushes++;
		break;
	case VIRTIO_BLK_T_GET_ID: {
		uint8_t id[VIRTIO_BLK_ID_BYTES] = { 0 };

		memcpy(id, b->serial, strnlen(b->serial, sizeof(id)));
		len = c->in_len - 1 < sizeof(id) ? c->in_len - 1 : sizeof(id);
		written = (uint32_t)vq_chain_write(c, 0, id, len);
		break;
	}
	default:
		status = VIRTIO_BLK_S_UNSUPP;
		break;
	}
	virtio_blk_put(b);
	if (status != VIRTIO_BLK_S_OK)
		b->errors++;
	/* The status byte is the last writable byte of the chain. */
	vq_chain_write(c, c->in_len - 1, &status, 1);
	return written + 1;
}

static void blk_process(struct virtio_blk *b)
{
	struct vq *q = &b->mmio.queues[0];
	struct vq_chain c;
	int r;

	do {
		vq_enable_notify(q, false);
		while ((r = vq_pop(q, &c)) > 0) {
			vq_push(q, c.head, virtio_blk_handle(b, &c));
			/* Completion by completion (EVENT_IDX / NO_INTERRUPT decide whether the
			 * driver wants it): the guest recycles request slots while the rest of a
			 * large batch is still being copied, instead of after all of it. */
			virtio_mmio_notify_used(&b->mmio, q);
		}
		virtio_mmio_notify_used(&b->mmio, q);
		if (r < 0) {
			virtio_mmio_needs_reset(&b->mmio);
			return;
		}
	} while (vq_enable_notify(q, true));
}

static void blk_event(void *dev, unsigned int idx)
{
	struct virtio_blk *b = dev;

	(void)idx;
	eventfd_drain(b->mmio.notify_fd[0]);
	blk_process(b);
}

static int blk_activate(void *dev)
{
	struct virtio_blk *b = dev;
	short ev = POLLIN;

	return worker_start(&b->worker, "virtio-blk", &b->mmio.notify_fd[0], &ev, 1, blk_event, b);
}

static void blk_reset(void *dev)
{
	worker_stop(&((struct virtio_blk *)dev)->worker);
}

static void blk_config_read(void *dev, uint32_t off, uint8_t *data, uint32_t len)
{
	struct virtio_blk *b = dev;
	struct blk_config cfg = {
		.capacity = __atomic_load_n(&b->sectors, __ATOMIC_ACQUIRE),
		.size_max = 0,
		.seg_max = VQ_MAX_CHAIN - 2,
		.blk_size = SECTOR,
	};

	memcpy(data, (uint8_t *)&cfg + off, len);
}

const struct virtio_device_ops virtio_blk_ops = {
	.name = "virtio-blk",
	.device_id = VIRTIO_ID_BLOCK,
	.features = (1ULL << VIRTIO_BLK_F_SEG_MAX) | (1ULL << VIRTIO_BLK_F_BLK_SIZE) |
		    (1ULL << VIRTIO_BLK_F_FLUSH) | (1ULL << VIRTIO_F_RING_INDIRECT_DESC) |
		    (1ULL << VIRTIO_F_RING_EVENT_IDX),
	.num_queues = 1,
	.queue_max = QUEUE_SIZE,
	.config_size = sizeof(struct blk_config),
	.config_read = blk_config_read,
	.activate = blk_activate,
	.reset = blk_reset,
};
