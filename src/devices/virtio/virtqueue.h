/* Split virtqueues (virtio 1.x, section 2.7) over guest memory, for the device side.
 *
 * Everything in the rings is written by the guest and is hostile until checked: every
 * index is bounded by the queue size, every buffer goes through guest_mem_ptr(), chains
 * are bounded (no loops), indirect tables are checked for size, alignment and nesting.
 * A malformed ring makes vq_pop() return -EINVAL: the device then reports
 * DEVICE_NEEDS_RESET and stops using the queue. Nothing here reads or writes outside
 * guest RAM. */
#ifndef EMBER_DEVICES_VIRTIO_VIRTQUEUE_H
#define EMBER_DEVICES_VIRTIO_VIRTQUEUE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "mem/guest_mem.h"

#define VQ_MAX_SIZE 1024       /* largest queue Ember offers (power of two) */
#define VQ_MAX_CHAIN 256       /* buffers one request may use: more is malformed */

#define VRING_DESC_F_NEXT 1
#define VRING_DESC_F_WRITE 2
#define VRING_DESC_F_INDIRECT 4
#define VRING_AVAIL_F_NO_INTERRUPT 1
#define VRING_USED_F_NO_NOTIFY 1

struct vq {
	const struct guest_mem *mem;
	uint16_t size;          /* entries; a power of two <= VQ_MAX_SIZE */
	bool ready;
	bool event_idx;         /* VIRTIO_RING_F_EVENT_IDX negotiated */
	bool indirect;          /* VIRTIO_RING_F_INDIRECT_DESC negotiated */
	bool broken;            /* a malformed ring was seen: never touched again */
	uint64_t desc_gpa, avail_gpa, used_gpa;
	uint16_t last_avail;    /* next avail entry the device will take */
	uint16_t used_idx;      /* the device's copy of used->idx */
	uint16_t signalled_used;/* used_idx when the driver was last interrupted */
	bool signalled_valid;
};

/* A request: its buffers in order, device-readable ones first. */
struct vq_chain {
	uint16_t head;
	unsigned int n;         /* buffers in iov */
	unsigned int n_out;     /* the first n_out are device-readable (driver -> device) */
	struct iovec iov[VQ_MAX_CHAIN];
	uint64_t out_len, in_len;  /* bytes readable / writable by the device */
};

/* Checks the ring addresses against guest memory and the size; 0 or -EINVAL. */
int vq_activate(struct vq *q, const struct guest_mem *mem);
void vq_reset(struct vq *q);

/* Takes the next available chain. 1: got one; 0: ring empty; -EINVAL: malformed (the
 * queue is marked broken). */
int vq_pop(struct vq *q, struct vq_chain *c);
/* Gives back the chain vq_pop() just returned, unused (e.g. no packet to put in it). */
void vq_unpop(struct vq *q);
/* Returns a chain to the driver with len bytes written into its writable buffers. */
void vq_push(struct vq *q, uint16_t head, uint32_t len);
/* After pushes: does the driver want an interrupt now (EVENT_IDX / NO_INTERRUPT)? */
bool vq_needs_interrupt(struct vq *q);
/* Tells the driver whether to notify us (EVENT_IDX: avail_event; else NO_NOTIFY). When
 * enable, returns true if more chains arrived meanwhile (the caller must poll again). */
bool vq_enable_notify(struct vq *q, bool enable);
/* The same, for a device that has seen (and given back) seen more available chains
 * than it could use: it wants a notification only when the driver adds beyond them. */
bool vq_enable_notify_beyond(struct vq *q, bool enable, uint16_t seen);

/* Copies between a chain's buffers and a flat buffer. Return bytes copied. */
uint64_t vq_chain_read(const struct vq_chain *c, uint64_t off, void *dst, uint64_t len);
uint64_t vq_chain_write(const struct vq_chain *c, uint64_t off, const void *src, uint64_t len);

#endif
