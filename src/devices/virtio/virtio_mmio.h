/* The virtio-mmio transport, version 2 (virtio 1.x register layout, spec 4.2): one 4 KiB
 * window and one GSI per device. Queue notifications arrive through ioeventfds (no exit
 * to user space); interrupts leave through an irqfd. Register accesses come from vCPU
 * threads and take the transport's lock; queue processing belongs to the device's own
 * thread once the driver has set DRIVER_OK. */
#ifndef EMBER_DEVICES_VIRTIO_VIRTIO_MMIO_H
#define EMBER_DEVICES_VIRTIO_VIRTIO_MMIO_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/irq.h"
#include "devices/virtio/virtqueue.h"

#define VIRTIO_MMIO_SIZE 0x1000
#define VIRTIO_MMIO_MAX_QUEUES 4

#define VIRTIO_ID_NET 1
#define VIRTIO_ID_BLOCK 2
#define VIRTIO_ID_RNG 4

#define VIRTIO_F_RING_INDIRECT_DESC 28
#define VIRTIO_F_RING_EVENT_IDX 29
#define VIRTIO_F_VERSION_1 32

#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER 2
#define VIRTIO_STATUS_DRIVER_OK 4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_NEEDS_RESET 64
#define VIRTIO_STATUS_FAILED 128

#define VIRTIO_INT_USED 1
#define VIRTIO_INT_CONFIG 2

struct virtio_mmio;

struct virtio_device_ops {
	const char *name;
	uint32_t device_id;
	uint64_t features;          /* offered; VERSION_1 is added by the transport */
	unsigned int num_queues;
	uint16_t queue_max;
	uint32_t config_size;
	/* Config space access (offset from 0x100), lock held. */
	void (*config_read)(void *dev, uint32_t off, uint8_t *data, uint32_t len);
	void (*config_write)(void *dev, uint32_t off, const uint8_t *data, uint32_t len);
	/* DRIVER_OK with valid queues: start processing. Returns 0 or -errno. */
	int (*activate)(void *dev);
	/* The driver reset the device (or Ember is shutting down): stop processing and wait
	 * until no thread touches the queues any more. */
	void (*reset)(void *dev);
};

struct virtio_mmio {
	pthread_mutex_t lock;
	const struct virtio_device_ops *ops;
	void *dev;
	const struct guest_mem *mem;
	uint64_t base;
	struct irq_line irq;
	int notify_fd[VIRTIO_MMIO_MAX_QUEUES];   /* ioeventfds, one per queue */

	uint64_t extra_features;                  /* per-instance bits offered on top of ops */
	uint32_t status;
	uint32_t dev_features_sel, drv_features_sel, queue_sel;
	uint64_t driver_features;
	uint32_t interrupt_status;               /* atomic: set by device threads */
	uint32_t config_generation;
	uint64_t int_acks;                       /* INTERRUPT_ACK writes: the driver's handler runs */
	bool active;                             /* ops->activate succeeded */
	struct vq queues[VIRTIO_MMIO_MAX_QUEUES];
};

/* Sets up the transport; eventfds are created here, registered with KVM by the caller
 * (vm.c), so this stays testable without KVM. Returns 0 or -errno. */
int virtio_mmio_init(struct virtio_mmio *m, const struct virtio_device_ops *ops, void *dev,
		     const struct guest_mem *mem, uint64_t base, unsigned int gsi);
void virtio_mmio_destroy(struct virtio_mmio *m);

/* Bus handlers for the 4 KiB window. */
void virtio_mmio_read(void *opaque, uint64_t off, uint8_t *data, uint32_t len);
void virtio_mmio_write(void *opaque, uint64_t off, const uint8_t *data, uint32_t len);

/* From the device's thread after vq_push()es: interrupt the driver if it wants one.
 * Returns whether it did (for the devices' counters). */
bool virtio_mmio_notify_used(struct virtio_mmio *m, struct vq *q);
/* The same for the queues in mask (bit i: queue i) at once: one interrupt when any of
 * them wants one (the driver's handler looks at every queue of the device whatever the
 * cause). Returns the mask of those that wanted one. */
unsigned int virtio_mmio_notify_used_queues(struct virtio_mmio *m, unsigned int mask);
/* A config change (e.g. new disk capacity): bump the generation, interrupt. */
void virtio_mmio_config_changed(struct virtio_mmio *m);
/* A malformed ring: set DEVICE_NEEDS_RESET and tell the driver. */
void virtio_mmio_needs_reset(struct virtio_mmio *m);

/* Whether feature bit f was negotiated. */
static inline bool virtio_has_feature(const struct virtio_mmio *m, unsigned int f)
{
	return (m->driver_features >> f) & 1;
}

#endif
