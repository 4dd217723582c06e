/* The PC keyboard controller (i8042) at ports 0x60/0x64: enough for Linux to probe it
 * quickly (self-test, control register, a keyboard that answers its commands) and the
 * reset line: command 0xFE (pulse reset), or an output-port write clearing bit 0, ends
 * the VM as a reboot. No auxiliary (mouse) port. */
#ifndef EMBER_DEVICES_I8042_H
#define EMBER_DEVICES_I8042_H

#include <pthread.h>
#include <stdint.h>

#include "devices/irq.h"

#define I8042_DATA_PORT 0x60
#define I8042_CMD_PORT 0x64
#define I8042_KBD_IRQ 1

struct i8042 {
	pthread_mutex_t lock;
	struct irq_line *kbd_irq;
	/* Called when the guest pulses the reset line. */
	void (*reset)(void *ctx);
	void *reset_ctx;

	uint8_t ctr;          /* controller configuration ("command byte") */
	uint8_t outport;
	uint8_t pending_cmd;  /* controller command waiting for its data byte, or 0 */
	uint8_t kbd_pending;  /* keyboard command waiting for its argument, or 0 */
	uint8_t outbuf[16];
	unsigned int out_head, out_count;
	uint64_t resets;
};

void i8042_init(struct i8042 *c, struct irq_line *kbd_irq, void (*reset)(void *), void *ctx);
void i8042_destroy(struct i8042 *c);
/* Presses Ctrl+Alt+Del on the keyboard (scan code set 2 make codes), as Firecracker
 * does: Linux reboots in response. */
void i8042_send_ctrl_alt_del(struct i8042 *c);
/* Bus handlers for the two one-byte ranges: data (0x60) and command/status (0x64). */
void i8042_data_read(void *opaque, uint64_t offset, uint8_t *data, uint32_t len);
void i8042_data_write(void *opaque, uint64_t offset, const uint8_t *data, uint32_t len);
void i8042_cmd_read(void *opaque, uint64_t offset, uint8_t *data, uint32_t len);
void i8042_cmd_write(void *opaque, uint64_t offset, const uint8_t *data, uint32_t len);

#endif
