#include "devices/virtio/virtqueue.h"

#include <errno.h>
#include <string.h>

#include "util/log.h"

struct vring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

/* Offsets inside the rings (virtio 1.x split layout). */
#define AVAIL_FLAGS 0
#define AVAIL_IDX 2
#define AVAIL_RING 4
#define USED_FLAGS 0
#define USED_IDX 2
#define USED_RING 4
#define USED_ELEM_SIZE 8

static uint64_t desc_bytes(uint16_t size) { return 16ULL * size; }
static uint64_t avail_bytes(uint16_t size) { return 6ULL + 2ULL * size; }
static uint64_t used_bytes(uint16_t size) { return 6ULL + 8ULL * size; }

/* Guest-shared 16-bit fields: accessed once, atomically, through these helpers. */
static uint16_t ld16(const void *p)
{
	return __atomic_load_n((const uint16_t *)p, __ATOMIC_RELAXED);
}

static void st16(void *p, uint16_t v)
{
	__atomic_store_n((uint16_t *)p, v, __ATOMIC_RELAXED);
}

static int broken(struct vq *q, const char *why, unsigned int a, unsigned int b)
{
	if (!q->broken)
		log_warn_guest("virtqueue: malformed ring (%s: %u, %u); the device needs a reset", why, a, b);
	q->broken = true;
	return -EINVAL;
}

int vq_activate(struct vq *q, const struct guest_mem *mem)
{
	q->mem = mem;
	if (q->size == 0 || q->size > VQ_MAX_SIZE || (q->size & (q->size - 1)))
		return -EINVAL;
	/* Alignment per spec: descriptors 16, avail 2, used 4. */
	if ((q->desc_gpa & 15) || (q->avail_gpa & 1) || (q->used_gpa & 3))
		return -EINVAL;
	if (!guest_mem_ptr(mem, q->desc_gpa, desc_bytes(q->size)) ||
	    !guest_mem_ptr(mem, q->avail_gpa, avail_bytes(q->size)) ||
	    !guest_mem_ptr(mem, q->used_gpa, used_bytes(q->size)))
		return -EINVAL;
	q->last_avail = 0;
	q->used_idx = 0;
	q->signalled_valid = false;
	q->broken = false;
	q->ready = true;
	return 0;
}

void vq_reset(struct vq *q)
{
	const struct guest_mem *mem = q->mem;

	memset(q, 0, sizeof(*q));
	q->mem = mem;
}

/* Adds one buffer to the chain after checking it lies in guest RAM. */
static int add_buf(struct vq *q, struct vq_chain *c, const struct vring_desc *d)
{
	void *p;
	bool writable = d->flags & VRING_DESC_F_WRITE;

	if (c->n == VQ_MAX_CHAIN)
		return broken(q, "chain too long", c->n, VQ_MAX_CHAIN);
	/* Readable buffers must all come before writable ones (spec 2.7.4.2). */
	if (!writable && c->n != c->n_out)
		return broken(q, "readable buffer after a writable one", c->head, c->n);
	p = guest_mem_ptr(q->mem, d->addr, d->len);
	if (!p)
		return broken(q, "buffer outside guest RAM", c->head, d->len);
	c->iov[c->n].iov_base = p;
	c->iov[c->n].iov_len = d->len;
	c->n++;
	if (writable)
		c->in_len += d->len;
	else {
		c->n_out++;
		c->out_len += d->len;
	}
	return 0;
}

static int walk_indirect(struct vq *q, struct vq_chain *c, const struct vring_desc *outer)
{
	const uint8_t *table;
	uint32_t count, i = 0, steps = 0;

	if (!q->indirect)
		return broken(q, "indirect descriptor not negotiated", c->head, 0);
	if ((outer->flags & VRING_DESC_F_NEXT) || outer->len == 0 || (outer->len % 16))
		return broken(q, "bad indirect descriptor", c->head, outer->len);
	count = outer->len / 16;
	if (count > VQ_MAX_CHAIN)
		return broken(q, "indirect table too long", c->head, count);
	/* The spec asks no alignment of an indirect table: entries are copied out. */
	table = guest_mem_ptr(q->mem, outer->addr, outer->len);
	if (!table)
		return broken(q, "indirect table outside guest RAM", c->head, 0);
	for (;;) {
		struct vring_desc d;

		memcpy(&d, table + 16u * i, sizeof(d));  /* one snapshot: the guest may change it */
		if (d.flags & VRING_DESC_F_INDIRECT)
			return broken(q, "nested indirect table", c->head, i);
		if (add_buf(q, c, &d) < 0)
			return -EINVAL;
		if (!(d.flags & VRING_DESC_F_NEXT))
			return 0;
		if (d.next >= count || ++steps >= count)
			return broken(q, "indirect chain out of range or looping", c->head, d.next);
		i = d.next;
	}
}

int vq_pop(struct vq *q, struct vq_chain *c)
{
	const uint8_t *avail, *descs;
	uint16_t avail_idx, head, i;
	unsigned int steps = 0;

	if (!q->ready || q->broken)
		return q->broken ? -EINVAL : 0;
	avail = guest_mem_ptr(q->mem, q->avail_gpa, avail_bytes(q->size));
	descs = guest_mem_ptr(q->mem, q->desc_gpa, desc_bytes(q->size));
	if (!avail || !descs)
		return broken(q, "rings outside guest RAM", 0, 0);
	avail_idx = ld16(avail + AVAIL_IDX);
	if (avail_idx == q->last_avail)
		return 0;
	if ((uint16_t)(avail_idx - q->last_avail) > q->size)
		return broken(q, "avail index ran ahead", avail_idx, q->last_avail);
	/* Read the ring entry only after seeing the index that publishes it. */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	head = ld16(avail + AVAIL_RING + 2u * (q->last_avail % q->size));
	if (head >= q->size)
		return broken(q, "head index out of range", head, q->size);

	memset(c, 0, offsetof(struct vq_chain, iov));
	c->out_len = c->in_len = 0;
	c->head = head;
	i = head;
	for (;;) {
		struct vring_desc d;

		memcpy(&d, descs + 16u * i, sizeof(d));
		if (d.flags & VRING_DESC_F_INDIRECT) {
			if (walk_indirect(q, c, &d) < 0)
				return -EINVAL;
			/* An indirect descriptor ends the chain (NEXT is refused above). */
			break;
		}
		if (add_buf(q, c, &d) < 0)
			return -EINVAL;
		if (!(d.flags & VRING_DESC_F_NEXT))
			break;
		if (d.next >= q->size || ++steps >= q->size)
			return broken(q, "chain out of range or looping", head, d.next);
		i = d.next;
	}
	if (c->out_len > UINT32_MAX || c->in_len > UINT32_MAX)
		return broken(q, "chain longer than 4 GiB", head, 0);
	q->last_avail++;
	return 1;
}

void vq_unpop(struct vq *q)
{
	q->last_avail--;
}

void vq_push(struct vq *q, uint16_t head, uint32_t len)
{
	uint8_t *used, *elem;
	uint32_t id = head;

	if (!q->ready || q->broken || !q->mem)
		return;
	used = guest_mem_ptr(q->mem, q->used_gpa, used_bytes(q->size));
	if (!used)
		return;
	elem = used + USED_RING + USED_ELEM_SIZE * (q->used_idx % q->size);
	memcpy(elem, &id, 4);
	memcpy(elem + 4, &len, 4);
	q->used_idx++;
	/* The element must be visible before the index that publishes it. */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	st16(used + USED_IDX, q->used_idx);
}

bool vq_needs_interrupt(struct vq *q)
{
	const uint8_t *avail;
	uint16_t old, now = q->used_idx, event;
	bool valid = q->signalled_valid;

	if (!q->ready || !q->mem)
		return false;
	avail = guest_mem_ptr(q->mem, q->avail_gpa, avail_bytes(q->size));
	if (!avail)
		return false;
	/* Order our used->idx store before reading the driver's event/flags. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	old = q->signalled_used;
	q->signalled_used = now;
	q->signalled_valid = true;
	if (!q->event_idx)
		return !(ld16(avail + AVAIL_FLAGS) & VRING_AVAIL_F_NO_INTERRUPT);
	if (!valid)
		return true;
	event = ld16(avail + AVAIL_RING + 2u * q->size);  /* used_event */
	/* vring_need_event(): did used_idx pass used_event since we last signalled? */
	return (uint16_t)(now - event - 1) < (uint16_t)(now - old);
}

bool vq_enable_notify(struct vq *q, bool enable)
{
	return vq_enable_notify_beyond(q, enable, 0);
}

bool vq_enable_notify_beyond(struct vq *q, bool enable, uint16_t seen)
{
	uint8_t *used, *avail;
	uint16_t want = (uint16_t)(q->last_avail + seen);

	/* A queue the driver never made ready has no rings: touch nothing. */
	if (!q->ready || q->broken || !q->mem)
		return false;
	used = guest_mem_ptr(q->mem, q->used_gpa, used_bytes(q->size));
	avail = guest_mem_ptr(q->mem, q->avail_gpa, avail_bytes(q->size));
	if (!used || !avail)
		return false;
	if (q->event_idx) {
		if (enable)
			st16(used + USED_RING + USED_ELEM_SIZE * q->size, want); /* avail_event */
	} else {
		st16(used + USED_FLAGS, enable ? 0 : VRING_USED_F_NO_NOTIFY);
	}
	if (!enable)
		return false;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return ld16(avail + AVAIL_IDX) != want;
}

uint64_t vq_chain_read(const struct vq_chain *c, uint64_t off, void *dst, uint64_t len)
{
	uint64_t done = 0;

	for (unsigned int i = 0; i < c->n_out && done < len; i++) {
		uint64_t l = c->iov[i].iov_len;

		if (off >= l) {
			off -= l;
			continue;
		}
		uint64_t n = l - off < len - done ? l - off : len - done;
		memcpy((uint8_t *)dst + done, (uint8_t *)c->iov[i].iov_base + off, n);
		done += n;
		off = 0;
	}
	return done;
}

uint64_t vq_chain_write(const struct vq_chain *c, uint64_t off, const void *src, uint64_t len)
{
	uint64_t done = 0;

	for (unsigned int i = c->n_out; i < c->n && done < len; i++) {
		uint64_t l = c->iov[i].iov_len;

		if (off >= l) {
			off -= l;
			continue;
		}
		uint64_t n = l - off < len - done ? l - off : len - done;
		memcpy((uint8_t *)c->iov[i].iov_base + off, (const uint8_t *)src + done, n);
		done += n;
		off = 0;
	}
	return done;
}
