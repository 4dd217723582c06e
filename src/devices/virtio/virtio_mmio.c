#include "devices/virtio/virtio_mmio.h"

#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "util/err.h"
#include "util/log.h"

enum {
	R_MAGIC = 0x000, R_VERSION = 0x004, R_DEVICE_ID = 0x008, R_VENDOR_ID = 0x00c,
	R_DEV_FEATURES = 0x010, R_DEV_FEATURES_SEL = 0x014, R_DRV_FEATURES = 0x020,
	R_DRV_FEATURES_SEL = 0x024, R_QUEUE_SEL = 0x030, R_QUEUE_NUM_MAX = 0x034,
	R_QUEUE_NUM = 0x038, R_QUEUE_READY = 0x044, R_QUEUE_NOTIFY = 0x050,
	R_INT_STATUS = 0x060, R_INT_ACK = 0x064, R_STATUS = 0x070,
	R_QUEUE_DESC_LO = 0x080, R_QUEUE_DESC_HI = 0x084, R_QUEUE_DRIVER_LO = 0x090,
	R_QUEUE_DRIVER_HI = 0x094, R_QUEUE_DEVICE_LO = 0x0a0, R_QUEUE_DEVICE_HI = 0x0a4,
	R_SHM_SEL = 0x0ac, R_SHM_LEN_LO = 0x0b0, R_SHM_LEN_HI = 0x0b4, R_SHM_BASE_LO = 0x0b8,
	R_SHM_BASE_HI = 0x0bc, R_CONFIG_GEN = 0x0fc, R_CONFIG = 0x100,
};

#define MAGIC 0x74726976u      /* "virt" */
#define VENDOR 0x52424d45u     /* "EMBR" */

int virtio_mmio_init(struct virtio_mmio *m, const struct virtio_device_ops *ops, void *dev,
		     const struct guest_mem *mem, uint64_t base, unsigned int gsi)
{
	memset(m, 0, sizeof(*m));
	pthread_mutex_init(&m->lock, NULL);
	m->ops = ops;
	m->dev = dev;
	m->mem = mem;
	m->base = base;
	m->irq.fd = -1;
	m->irq.gsi = gsi;
	for (unsigned int i = 0; i < VIRTIO_MMIO_MAX_QUEUES; i++) {
		m->notify_fd[i] = -1;
		m->queues[i].mem = mem;
	}
	if (ops->num_queues > VIRTIO_MMIO_MAX_QUEUES)
		return err_set(-EINVAL, "%s: too many queues", ops->name);
	for (unsigned int i = 0; i < ops->num_queues; i++) {
		m->notify_fd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (m->notify_fd[i] < 0)
			return err_set(-errno, "%s: eventfd: %s", ops->name, strerror(errno));
	}
	return 0;
}

void virtio_mmio_destroy(struct virtio_mmio *m)
{
	if (m->active && m->ops->reset)
		m->ops->reset(m->dev);
	m->active = false;
	for (unsigned int i = 0; i < VIRTIO_MMIO_MAX_QUEUES; i++) {
		if (m->notify_fd[i] >= 0)
			close(m->notify_fd[i]);
		m->notify_fd[i] = -1;
	}
	pthread_mutex_destroy(&m->lock);
}

static uint64_t offered_features(const struct virtio_mmio *m)
{
	return m->ops->features | m->extra_features | (1ULL << VIRTIO_F_VERSION_1);
}

static struct vq *selected_queue(struct virtio_mmio *m)
{
	return m->queue_sel < m->ops->num_queues ? &m->queues[m->queue_sel] : NULL;
}

static void raise_interrupt(struct virtio_mmio *m, uint32_t bits)
{
	__atomic_or_fetch(&m->interrupt_status, bits, __ATOMIC_ACQ_REL);
	irq_line_pulse(&m->irq);
}

bool virtio_mmio_notify_used(struct virtio_mmio *m, struct vq *q)
{
	if (!vq_needs_interrupt(q))
		return false;
	raise_interrupt(m, VIRTIO_INT_USED);
	return true;
}

unsigned int virtio_mmio_notify_used_queues(struct virtio_mmio *m, unsigned int mask)
{
	unsigned int want = 0;

	/* Every queue is asked: each must record that this interrupt covers its entries
	 * (EVENT_IDX counts from the last one signalled). */
	for (unsigned int i = 0; i < VIRTIO_MMIO_MAX_QUEUES; i++)
		if ((mask >> i & 1) && vq_needs_interrupt(&m->queues[i]))
			want |= 1u << i;
	if (want)
		raise_interrupt(m, VIRTIO_INT_USED);
	return want;
}

void virtio_mmio_config_changed(struct virtio_mmio *m)
{
	__atomic_add_fetch(&m->config_generation, 1, __ATOMIC_ACQ_REL);
	raise_interrupt(m, VIRTIO_INT_CONFIG);
}

void virtio_mmio_needs_reset(struct virtio_mmio *m)
{
	uint32_t old = __atomic_fetch_or(&m->status, VIRTIO_STATUS_NEEDS_RESET, __ATOMIC_ACQ_REL);

	/* Tell the driver once; later notifies on the broken queue add nothing. */
	if (!(old & VIRTIO_STATUS_NEEDS_RESET) && (old & VIRTIO_STATUS_DRIVER_OK))
		virtio_mmio_config_changed(m);
}

/* Status 0: back to the initial state; the device thread is stopped first. */
static void device_reset(struct virtio_mmio *m)
{
	if (m->active && m->ops->reset)
		m->ops->reset(m->dev);
	m->active = false;
	for (unsigned int i = 0; i < m->ops->num_queues; i++)
		vq_reset(&m->queues[i]);
	__atomic_store_n(&m->status, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&m->interrupt_status, 0, __ATOMIC_RELEASE);
	m->driver_features = 0;
	m->dev_features_sel = m->drv_features_sel = m->queue_sel = 0;
}

static void driver_ok(struct virtio_mmio *m)
{
	bool event_idx = virtio_has_feature(m, VIRTIO_F_RING_EVENT_IDX);
	bool indirect = virtio_has_feature(m, VIRTIO_F_RING_INDIRECT_DESC);

	for (unsigned int i = 0; i < m->ops->num_queues; i++) {
		struct vq *q = &m->queues[i];

		if (!q->ready)
			continue;
		q->event_idx = event_idx;
		q->indirect = indirect;
		if (vq_activate(q, m->mem) < 0) {
			log_warn_guest("%s: queue %u has invalid ring addresses or size", m->ops->name, i);
			q->ready = false;
			virtio_mmio_needs_reset(m);
			return;
		}
	}
	if (m->ops->activate && m->ops->activate(m->dev) < 0) {
		virtio_mmio_needs_reset(m);
		return;
	}
	m->active = true;
}

static void write_status(struct virtio_mmio *m, uint32_t v)
{
	uint32_t old = __atomic_load_n(&m->status, __ATOMIC_ACQUIRE);

	if (v == 0) {
		device_reset(m);
		return;
	}
	/* FEATURES_OK only when the driver accepted a subset of what we offer, with
	 * VERSION_1 (no legacy); otherwise the bit stays clear and the driver gives up. */
	if ((v & VIRTIO_STATUS_FEATURES_OK) && !(old & VIRTIO_STATUS_FEATURES_OK)) {
		if ((m->driver_features & ~offered_features(m)) ||
		    !virtio_has_feature(m, VIRTIO_F_VERSION_1))
			v &= ~(uint32_t)VIRTIO_STATUS_FEATURES_OK;
	}
	/* Bits are only ever added until a reset; NEEDS_RESET is the device's to set. An
	 * atomic OR, so a NEEDS_RESET a device thread sets meanwhile is never lost. */
	v = __atomic_or_fetch(&m->status, v & ~(uint32_t)VIRTIO_STATUS_NEEDS_RESET,
			      __ATOMIC_ACQ_REL);
	if ((v & VIRTIO_STATUS_DRIVER_OK) && !(old & VIRTIO_STATUS_DRIVER_OK) &&
	    (v & VIRTIO_STATUS_FEATURES_OK) && !(v & VIRTIO_STATUS_FAILED))
		driver_ok(m);
}

static uint32_t read_reg(struct virtio_mmio *m, uint64_t off)
{
	struct vq *q = selected_queue(m);

	switch (off) {
	case R_MAGIC: return MAGIC;
	case R_VERSION: return 2;
	case R_DEVICE_ID: return m->ops->device_id;
	case R_VENDOR_ID: return VENDOR;
	case R_DEV_FEATURES:
		return m->dev_features_sel < 2
		       ? (uint32_t)(offered_features(m) >> (32 * m->dev_features_sel)) : 0;
	case R_QUEUE_NUM_MAX: return q ? m->ops->queue_max : 0;
	case R_QUEUE_READY: return q ? q->ready : 0;
	case R_INT_STATUS: return __atomic_load_n(&m->interrupt_status, __ATOMIC_ACQUIRE);
	case R_STATUS: return __atomic_load_n(&m->status, __ATOMIC_ACQUIRE);
	case R_SHM_LEN_LO: case R_SHM_LEN_HI: case R_SHM_BASE_LO: case R_SHM_BASE_HI:
		return 0xffffffffu;  /* no shared memory regions */
	case R_CONFIG_GEN: return __atomic_load_n(&m->config_generation, __ATOMIC_ACQUIRE);
	default: return 0;
	}
}

static void set_lo(uint64_t *v, uint32_t x) { *v = (*v & ~0xffffffffULL) | x; }
static void set_hi(uint64_t *v, uint32_t x) { *v = (*v & 0xffffffffULL) | ((uint64_t)x << 32); }

static void write_reg(struct virtio_mmio *m, uint64_t off, uint32_t v)
{
	struct vq *q = selected_queue(m);
	/* Queue layout may change only before DRIVER_OK and while the queue is not ready. */
	bool q_writable = q && !q->ready && !(m->status & VIRTIO_STATUS_DRIVER_OK);

	switch (off) {
	case R_DEV_FEATURES_SEL: m->dev_features_sel = v; break;
	case R_DRV_FEATURES_SEL: m->drv_features_sel = v; break;
	case R_DRV_FEATURES:
		if (m->status & VIRTIO_STATUS_FEATURES_OK)
			break;  /* frozen once accepted */
		if (m->drv_features_sel == 0)
			set_lo(&m->driver_features, v);
		else if (m->drv_features_sel == 1)
			set_hi(&m->driver_features, v);
		break;
	case R_QUEUE_SEL: m->queue_sel = v; break;
	case R_QUEUE_NUM:
		if (q_writable)
			q->size = v <= m->ops->queue_max ? (uint16_t)v : 0;
		break;
	case R_QUEUE_READY:
		if (q && !(m->status & VIRTIO_STATUS_DRIVER_OK))
			q->ready = v & 1;
		break;
	case R_QUEUE_NOTIFY:
		/* Normally caught by the ioeventfd in KVM; a write that reaches us (no
		 * ioeventfd, or a different width) is forwarded the same way. */
		if (v < m->ops->num_queues && m->notify_fd[v] >= 0) {
			uint64_t one = 1;

			if (write(m->notify_fd[v], &one, sizeof(one)) < 0) {
				/* saturated: a notification is pending anyway */
			}
		}
		break;
	case R_INT_ACK:
		__atomic_and_fetch(&m->interrupt_status, ~v, __ATOMIC_ACQ_REL);
		__atomic_add_fetch(&m->int_acks, 1, __ATOMIC_RELAXED);
		break;
	case R_STATUS: write_status(m, v); break;
	case R_QUEUE_DESC_LO: if (q_writable) set_lo(&q->desc_gpa, v); break;
	case R_QUEUE_DESC_HI: if (q_writable) set_hi(&q->desc_gpa, v); break;
	case R_QUEUE_DRIVER_LO: if (q_writable) set_lo(&q->avail_gpa, v); break;
	case R_QUEUE_DRIVER_HI: if (q_writable) set_hi(&q->avail_gpa, v); break;
	case R_QUEUE_DEVICE_LO: if (q_writable) set_lo(&q->used_gpa, v); break;
	case R_QUEUE_DEVICE_HI: if (q_writable) set_hi(&q->used_gpa, v); break;
	case R_SHM_SEL: break;
	default: break;  /* read-only or unknown: ignored */
	}
}

void virtio_mmio_read(void *opaque, uint64_t off, uint8_t *data, uint32_t len)
{
	struct virtio_mmio *m = opaque;

	pthread_mutex_lock(&m->lock);
	if (off >= R_CONFIG) {
		uint64_t c = off - R_CONFIG;

		memset(data, 0, len);
		if (c < m->ops->config_size && len <= m->ops->config_size - c && m->ops->config_read)
			m->ops->config_read(m->dev, (uint32_t)c, data, len);
	} else if (len == 4 && !(off & 3)) {
		uint32_t v = read_reg(m, off);

		memcpy(data, &v, 4);
	} else {
		memset(data, 0, len);  /* registers are 32-bit, aligned (spec 4.2.2.2) */
	}
	pthread_mutex_unlock(&m->lock);
}

void virtio_mmio_write(void *opaque, uint64_t off, const uint8_t *data, uint32_t len)
{
	struct virtio_mmio *m = opaque;

	pthread_mutex_lock(&m->lock);
	if (off >= R_CONFIG) {
		uint64_t c = off - R_CONFIG;

		if (c < m->ops->config_size && len <= m->ops->config_size - c && m->ops->config_write)
			m->ops->config_write(m->dev, (uint32_t)c, data, len);
	} else if (len == 4 && !(off & 3)) {
		uint32_t v;

		memcpy(&v, data, 4);
		write_reg(m, off, v);
	}
	pthread_mutex_unlock(&m->lock);
}
