/* The driver side of a split virtqueue (virtio 1.x, 2.7) over synthetic guest memory, for
 * the device-side tests: it lays out the rings at fixed guest-physical addresses, adds
 * chains of buffers, publishes them and reads the used ring back.
 *
 * Small guests are one calloc'd buffer of exactly ram bytes (guest_mem_init_from), so an
 * ASan build catches any access past guest RAM; big ones (for the MMIO gap and 4 GiB
 * cases) use guest_mem_init's MAP_NORESERVE mapping, of which only the ring pages are
 * touched. */
#ifndef EMBER_TESTS_UNIT_VQ_DRIVER_H
#define EMBER_TESTS_UNIT_VQ_DRIVER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "devices/virtio/virtqueue.h"
#include "mem/guest_mem.h"
#include "util/log.h"

#define VQD_RAM (1024u * 1024u)     /* default synthetic RAM */
#define VQD_DESC 0x1000u            /* room for 1024 descriptors: up to 0x5000 */
#define VQD_AVAIL 0x5000u           /* 6 + 2 * 1024 bytes at most */
#define VQD_USED 0x6000u            /* 6 + 8 * 1024 bytes at most: up to 0x8006 */
#define VQD_DATA 0x10000u           /* buffers from here up */

struct vqd {
	struct guest_mem mem;
	uint8_t *ram;           /* host address of gpa 0 */
	uint64_t ram_size;
	bool mapped;            /* guest_mem_init (free with guest_mem_free) */
	struct vq q;
	uint16_t avail_idx;     /* the driver's copy of avail->idx */
	uint16_t next_desc;     /* next free descriptor for vqd_add */
};

struct vqd_buf {
	uint64_t gpa;
	uint32_t len;
	bool write;
};

static inline void *vqd_ptr(struct vqd *d, uint64_t gpa)
{
	return guest_mem_ptr(&d->mem, gpa, 1);
}

static inline void vqd_w16(struct vqd *d, uint64_t gpa, uint16_t v) { memcpy(vqd_ptr(d, gpa), &v, 2); }
static inline void vqd_w32(struct vqd *d, uint64_t gpa, uint32_t v) { memcpy(vqd_ptr(d, gpa), &v, 4); }
static inline void vqd_w64(struct vqd *d, uint64_t gpa, uint64_t v) { memcpy(vqd_ptr(d, gpa), &v, 8); }

static inline uint16_t vqd_r16(struct vqd *d, uint64_t gpa)
{
	uint16_t v;

	memcpy(&v, vqd_ptr(d, gpa), 2);
	return v;
}

static inline uint32_t vqd_r32(struct vqd *d, uint64_t gpa)
{
	uint32_t v;

	memcpy(&v, vqd_ptr(d, gpa), 4);
	return v;
}

/* Sets the queue's layout (size, default ring addresses, features) without activating. */
static inline void vqd_layout(struct vqd *d, uint16_t size, bool indirect, bool event_idx)
{
	memset(&d->q, 0, sizeof(d->q));
	d->q.size = size;
	d->q.desc_gpa = VQD_DESC;
	d->q.avail_gpa = VQD_AVAIL;
	d->q.used_gpa = VQD_USED;
	d->q.indirect = indirect;
	d->q.event_idx = event_idx;
	d->avail_idx = 0;
	d->next_desc = 0;
}

/* Guest RAM of ram bytes (calloc'd, exact size). Returns 0 or -1 (out of memory). */
static inline int vqd_mem(struct vqd *d, uint64_t ram)
{
	memset(d, 0, sizeof(*d));
	log_threshold = LOG_ERROR;   /* the malformed-ring warnings are expected here */
	d->ram = calloc(1, (size_t)ram);
	if (!d->ram)
		return -1;
	d->ram_size = ram;
	guest_mem_init_from(&d->mem, d->ram, ram);
	return 0;
}

/* Guest RAM through guest_mem_init (MAP_NORESERVE): for sizes past the MMIO gap. */
static inline int vqd_mem_big(struct vqd *d, uint64_t ram)
{
	memset(d, 0, sizeof(*d));
	log_threshold = LOG_ERROR;
	if (guest_mem_init(&d->mem, ram) < 0)
		return -1;
	d->mapped = true;
	d->ram = d->mem.regions[0].host;
	d->ram_size = ram;
	return 0;
}

/* RAM + layout + vq_activate; returns vq_activate's result (or -1 without memory). */
static inline int vqd_init(struct vqd *d, uint16_t size, bool indirect, bool event_idx)
{
	if (vqd_mem(d, VQD_RAM) < 0)
		return -1;
	vqd_layout(d, size, indirect, event_idx);
	return vq_activate(&d->q, &d->mem);
}

static inline void vqd_free(struct vqd *d)
{
	if (d->mapped)
		guest_mem_free(&d->mem);
	else
		free(d->ram);
	d->ram = NULL;
}

/* Writes descriptor idx of the table at table_gpa. */
static inline void vqd_desc_at(struct vqd *d, uint64_t table_gpa, unsigned int idx, uint64_t addr,
			       uint32_t len, uint16_t flags, uint16_t next)
{
	uint64_t p = table_gpa + 16ULL * idx;

	vqd_w64(d, p, addr);
	vqd_w32(d, p + 8, len);
	vqd_w16(d, p + 12, flags);
	vqd_w16(d, p + 14, next);
}

static inline void vqd_desc(struct vqd *d, unsigned int idx, uint64_t addr, uint32_t len,
			    uint16_t flags, uint16_t next)
{
	vqd_desc_at(d, d->q.desc_gpa, idx, addr, len, flags, next);
}

/* Puts head in the next avail entry and publishes it (avail->idx++). */
static inline void vqd_publish(struct vqd *d, uint16_t head)
{
	vqd_w16(d, d->q.avail_gpa + 4 + 2ULL * (d->avail_idx % d->q.size), head);
	d->avail_idx++;
	vqd_w16(d, d->q.avail_gpa + 2, d->avail_idx);
}

/* Sets avail->idx to any value (hostile drivers). */
static inline void vqd_set_avail_idx(struct vqd *d, uint16_t idx)
{
	vqd_w16(d, d->q.avail_gpa + 2, idx);
}

/* Chains n buffers through the next free descriptors and publishes the chain. */
static inline uint16_t vqd_add(struct vqd *d, const struct vqd_buf *b, unsigned int n)
{
	uint16_t head = d->next_desc;

	for (unsigned int i = 0; i < n; i++) {
		uint16_t idx = (uint16_t)((head + i) % d->q.size);
		uint16_t next = (uint16_t)((head + i + 1) % d->q.size);
		uint16_t flags = (uint16_t)((b[i].write ? VRING_DESC_F_WRITE : 0) |
					    (i + 1 < n ? VRING_DESC_F_NEXT : 0));

		vqd_desc(d, idx, b[i].gpa, b[i].len, flags, i + 1 < n ? next : 0);
	}
	d->next_desc = (uint16_t)((head + n) % d->q.size);
	vqd_publish(d, head);
	return head;
}

static inline uint16_t vqd_used_idx(struct vqd *d)
{
	return vqd_r16(d, d->q.used_gpa + 2);
}

static inline uint16_t vqd_used_flags(struct vqd *d)
{
	return vqd_r16(d, d->q.used_gpa);
}

/* Used ring entry i (ring position i % size): id and len. */
static inline void vqd_used_elem(struct vqd *d, uint16_t i, uint32_t *id, uint32_t *len)
{
	uint64_t e = d->q.used_gpa + 4 + 8ULL * (i % d->q.size);

	*id = vqd_r32(d, e);
	*len = vqd_r32(d, e + 4);
}

/* used_event (in the avail ring) and avail_event (in the used ring), for EVENT_IDX. */
static inline void vqd_set_used_event(struct vqd *d, uint16_t v)
{
	vqd_w16(d, d->q.avail_gpa + 4 + 2ULL * d->q.size, v);
}

static inline uint16_t vqd_avail_event(struct vqd *d)
{
	return vqd_r16(d, d->q.used_gpa + 4 + 8ULL * d->q.size);
}

static inline void vqd_set_avail_flags(struct vqd *d, uint16_t f)
{
	vqd_w16(d, d->q.avail_gpa, f);
}

#endif
