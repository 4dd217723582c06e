/* libFuzzer target: virtio-blk requests from hostile guest memory.
 *
 * Input: one flag byte, then the guest's memory image (at most 64 KiB, zero-filled after
 * the input) holding a 16-entry queue at fixed addresses: descriptors at 0x0, avail ring
 * at 0x100, used ring at 0x200. Flags: bit 0 INDIRECT_DESC, bit 1 FLUSH negotiated,
 * bit 2 the disk is read-only, bit 3 EVENT_IDX. Every chain the queue gives is handed to
 * virtio_blk_handle, against a 32-sector image in a memfd (restored for every input).
 * Checked: no crash, no access outside guest RAM (one exact-size heap block under ASan);
 * the length reported is at most the writable length; when a status byte was written it
 * is OK, IOERR or UNSUPP; a read-only disk never changes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "devices/virtio/virtio_blk.h"
#include "util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ASSERT(c)                                                                      \
	do {                                                                           \
		if (!(c)) {                                                            \
			fprintf(stderr, "fuzz_virtio_blk: %s:%d: assertion failed: %s\n", \
				__FILE__, __LINE__, #c);                               \
			abort();                                                       \
		}                                                                      \
	} while (0)

#define RAM (64u * 1024u)
#define QSIZE 16
#define NSECT 32
#define DISK (NSECT * 512)

static struct virtio_blk blk;
static uint8_t disk[DISK], back[DISK];

static void setup_once(void)
{
	char path[64];
	int fd;

	log_threshold = LOG_ERROR;
	for (unsigned int i = 0; i < DISK; i++)
		disk[i] = (uint8_t)(i / 512 * 37 + i * 3 + 11);
	fd = memfd_create("ember-fuzz-disk", MFD_CLOEXEC);
	if (fd < 0 || pwrite(fd, disk, DISK, 0) != DISK)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (virtio_blk_open(&blk, path, false, 0) < 0)
		abort();
	close(fd);   /* virtio_blk_open has its own descriptor */
	ASSERT(blk.sectors == NSECT);
}

/* The last writable byte of the chain (where the status goes), or NULL. */
static const uint8_t *status_byte(const struct vq_chain *c)
{
	for (unsigned int i = c->n; i > c->n_out; i--) {
		const struct iovec *v = &c->iov[i - 1];

		if (v->iov_len)
			return (const uint8_t *)v->iov_base + v->iov_len - 1;
	}
	return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int once;
	struct guest_mem mem;
	struct vq q;
	struct vq_chain c;
	uint8_t *ram, flags;
	unsigned int rounds = 0;

	if (!once) {
		setup_once();
		once = 1;
	}
	if (size < 1)
		return 0;
	flags = data[0];
	data++;
	size--;
	if (pwrite(blk.fd, disk, DISK, 0) != DISK)
		abort();
	blk.read_only = (flags & 4) != 0;
	blk.mmio.driver_features = (flags & 2) ? 1ULL << 9 : 0;
	ram = calloc(1, RAM);
	if (!ram)
		abort();
	memcpy(ram, data, size < RAM ? size : RAM);
	guest_mem_init_from(&mem, ram, RAM);
	memset(&q, 0, sizeof(q));
	q.size = QSIZE;
	q.desc_gpa = 0;
	q.avail_gpa = 0x100;
	q.used_gpa = 0x200;
	q.indirect = flags & 1;
	q.event_idx = (flags & 8) != 0;
	ASSERT(vq_activate(&q, &mem) == 0);
	while (rounds++ < 64 && vq_pop(&q, &c) == 1) {
		uint32_t len = virtio_blk_handle(&blk, &c);
		const uint8_t *st = status_byte(&c);

		ASSERT(len <= c.in_len);
		if (c.in_len >= 1 && c.out_len >= 16) {
			ASSERT(len >= 1);
			ASSERT(st != NULL && *st <= 2);
		}
		if (len == 0)
			ASSERT(c.in_len == 0 || c.out_len < 16);
		vq_push(&q, c.head, len);
	}
	if (blk.read_only) {
		ASSERT(pread(blk.fd, back, DISK, 0) == DISK);
		ASSERT(memcmp(back, disk, DISK) == 0);
	}
	free(ram);
	return 0;
}
