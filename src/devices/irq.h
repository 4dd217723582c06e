/* An interrupt line into the in-kernel irqchip, driven through a KVM irqfd: writing the
 * eventfd pulses the GSI (an edge). Unit tests use fd -1 and read the pulse count. */
#ifndef EMBER_DEVICES_IRQ_H
#define EMBER_DEVICES_IRQ_H

#include <stdint.h>
#include <unistd.h>

struct irq_line {
	int fd;          /* eventfd registered with KVM_IRQFD, or -1 */
	unsigned int gsi;
	uint64_t pulses; /* how many times the device raised it */
};

static inline void irq_line_pulse(struct irq_line *l)
{
	uint64_t one = 1;

	__atomic_add_fetch(&l->pulses, 1, __ATOMIC_RELAXED);
	if (l->fd >= 0 && write(l->fd, &one, sizeof(one)) < 0) {
		/* EAGAIN only when the counter is saturated: an interrupt is pending anyway. */
	}
}

#endif
