/* A 16550A UART: the register model Linux's 8250 driver needs in interrupt mode.
 * Transmit is instant (THR always empty, bytes go straight to the output callback);
 * receive is a FIFO the host fills from stdin. The interrupt line is edge-triggered
 * (ISA IRQ 4 through an irqfd): a pulse whenever the interrupt condition rises. */
#ifndef EMBER_DEVICES_SERIAL_H
#define EMBER_DEVICES_SERIAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/irq.h"

#define SERIAL_COM1_BASE 0x3f8
#define SERIAL_COM1_IRQ 4
#define SERIAL_PORTS 8
#define SERIAL_RX_SIZE 1024

struct serial {
	pthread_mutex_t lock;
	struct irq_line *irq;
	/* Guest output: called with the lock held, from a vCPU thread. */
	void (*out)(void *ctx, uint8_t byte);
	void *out_ctx;
	/* Called (lock held) when the receive FIFO drains to empty, so the host can read
	 * more input. May be NULL. */
	void (*rx_drained)(void *ctx);
	void *rx_ctx;

	uint8_t ier, lcr, mcr, scr, dll, dlm, fcr;
	uint8_t msr_delta;     /* delta bits of MSR, cleared on read */
	int thre_pending;      /* THR-empty interrupt latched */
	int line;              /* current interrupt condition, for edge detection */
	uint8_t rx[SERIAL_RX_SIZE];
	size_t rx_head, rx_count;
	uint64_t tx_bytes, rx_bytes;
};

void serial_init(struct serial *s, struct irq_line *irq, void (*out)(void *, uint8_t), void *ctx);
void serial_destroy(struct serial *s);

/* Bus handlers: offset 0..7 from the base port. */
void serial_pio_read(void *opaque, uint64_t offset, uint8_t *data, uint32_t len);
void serial_pio_write(void *opaque, uint64_t offset, const uint8_t *data, uint32_t len);

/* Queues host input for the guest; returns how many bytes fitted. */
size_t serial_rx_push(struct serial *s, const uint8_t *buf, size_t len);
/* Free space in the receive FIFO. */
size_t serial_rx_space(struct serial *s);

#endif
