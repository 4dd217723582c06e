#include "devices/i8042.h"

#include <stdbool.h>
#include <string.h>

#define STATUS_OBF 0x01   /* output buffer full: data for the guest at 0x60 */
#define STATUS_SYS 0x04   /* system flag: self-test passed */
#define STATUS_CMD 0x08   /* last write was to 0x64 */
#define STATUS_UNLOCKED 0x10  /* keyboard not inhibited (Linux warns "Keylock active" if 0) */

#define CTR_KBDINT 0x01
#define CTR_AUXINT 0x02
#define CTR_SYS 0x04
#define CTR_AUXDIS 0x20
#define CTR_XLATE 0x40

enum {
	CMD_READ_CTR = 0x20, CMD_WRITE_CTR = 0x60, CMD_AUX_DISABLE = 0xa7, CMD_AUX_ENABLE = 0xa8,
	CMD_AUX_TEST = 0xa9, CMD_SELF_TEST = 0xaa, CMD_KBD_TEST = 0xab, CMD_KBD_DISABLE = 0xad,
	CMD_KBD_ENABLE = 0xae, CMD_READ_OUTPORT = 0xd0, CMD_WRITE_OUTPORT = 0xd1,
	CMD_WRITE_KBD_OUT = 0xd2, CMD_WRITE_AUX_OUT = 0xd3, CMD_WRITE_AUX = 0xd4,
	CMD_PULSE_RESET = 0xfe,
};

enum {
	KBD_SET_LEDS = 0xed, KBD_ECHO = 0xee, KBD_SCANCODE = 0xf0, KBD_GET_ID = 0xf2,
	KBD_SET_RATE = 0xf3, KBD_ENABLE = 0xf4, KBD_RESET_DISABLE = 0xf5, KBD_RESET_ENABLE = 0xf6,
	KBD_RESET = 0xff,
};
#define KBD_ACK 0xfa
#define KBD_BAT_OK 0xaa

static void push(struct i8042 *c, uint8_t b)
{
	if (c->out_count == sizeof(c->outbuf))
		return;
	c->outbuf[(c->out_head + c->out_count) % sizeof(c->outbuf)] = b;
	c->out_count++;
}

/* Bytes from the keyboard raise IRQ 1 when the guest enabled keyboard interrupts: on
 * every byte, not only when the buffer was empty, so a byte the guest never read (a
 * probe leftover) cannot hold back the interrupts of the answers behind it. A spurious
 * pulse is harmless: the guest's handler finds OBF clear and returns. */
static void push_kbd(struct i8042 *c, uint8_t b)
{
	push(c, b);
	if ((c->ctr & CTR_KBDINT) && c->kbd_irq)
		irq_line_pulse(c->kbd_irq);
}

static void do_reset(struct i8042 *c)
{
	c->resets++;
	if (c->reset)
		c->reset(c->reset_ctx);
}

void i8042_init(struct i8042 *c, struct irq_line *kbd_irq, void (*reset)(void *), void *ctx)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
	c->kbd_irq = kbd_irq;
	c->reset = reset;
	c->reset_ctx = ctx;
	/* No translation: the keyboard's set 2 codes reach the guest as they are (Linux's
	 * atkbd then reads them as set 2, which the Ctrl+Alt+Del injection uses). */
	c->ctr = CTR_KBDINT | CTR_SYS | CTR_AUXDIS;
	c->outport = 0x01;  /* bit 0: reset line not asserted */
}

void i8042_send_ctrl_alt_del(struct i8042 *c)
{
	static const uint8_t keys[] = { 0x14, 0x11, 0xe0, 0x71 };  /* Ctrl, Alt, E0 Del */

	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < sizeof(keys); i++)
		push_kbd(c, keys[i]);
	pthread_mutex_unlock(&c->lock);
}

void i8042_destroy(struct i8042 *c)
{
	pthread_mutex_destroy(&c->lock);
}

static void kbd_command(struct i8042 *c, uint8_t b)
{
	if (c->kbd_pending) {
		/* The argument of SET_LEDS / SET_RATE / SCANCODE. */
		uint8_t cmd = c->kbd_pending;

		c->kbd_pending = 0;
		push_kbd(c, KBD_ACK);
		if (cmd == KBD_SCANCODE && b == 0)
			push_kbd(c, 0x02);  /* "current scan code set": 2 */
		return;
	}
	switch (b) {
	case KBD_SET_LEDS:
	case KBD_SET_RATE:
	case KBD_SCANCODE:
		c->kbd_pending = b;
		push_kbd(c, KBD_ACK);
		break;
	case KBD_ECHO:
		push_kbd(c, KBD_ECHO);
		break;
	case KBD_GET_ID:
		push_kbd(c, KBD_ACK);
		push_kbd(c, 0xab);
		push_kbd(c, 0x83);  /* MF2 keyboard */
		break;
	case KBD_RESET:
		push_kbd(c, KBD_ACK);
		push_kbd(c, KBD_BAT_OK);
		break;
	default:
		push_kbd(c, KBD_ACK);
		break;
	}
}

static void data_write(struct i8042 *c, uint8_t b)
{
	uint8_t cmd = c->pending_cmd;

	c->pending_cmd = 0;
	switch (cmd) {
	case CMD_WRITE_CTR: {
		bool enabling = (b & CTR_KBDINT) && !(c->ctr & CTR_KBDINT);

		c->ctr = b;
		/* Data already waiting interrupts as soon as the guest allows it. */
		if (enabling && c->out_count && c->kbd_irq)
			irq_line_pulse(c->kbd_irq);
		break;
	}
	case CMD_WRITE_OUTPORT:
		c->outport = b;
		if (!(b & 0x01))
			do_reset(c);
		break;
	case CMD_WRITE_KBD_OUT:
		push_kbd(c, b);
		break;
	case CMD_WRITE_AUX_OUT:
		/* Loop the byte back without the aux-data status bit: Linux's AUX_LOOP test
		 * then fails at once ("auxerr") instead of timing out, and it decides there
		 * is no aux port without waiting half a second per probe. */
		push(c, b);
		break;
	case CMD_WRITE_AUX:
		break;  /* no aux device */
	default:
		kbd_command(c, b);
		break;
	}
}

static void command_write(struct i8042 *c, uint8_t b)
{
	switch (b) {
	case CMD_READ_CTR:
		push(c, c->ctr);
		break;
	case CMD_WRITE_CTR:
	case CMD_WRITE_OUTPORT:
	case CMD_WRITE_KBD_OUT:
	case CMD_WRITE_AUX_OUT:
	case CMD_WRITE_AUX:
		c->pending_cmd = b;
		break;
	case CMD_AUX_DISABLE:
		c->ctr |= CTR_AUXDIS;
		break;
	case CMD_AUX_ENABLE:
		c->ctr &= (uint8_t)~CTR_AUXDIS;
		break;
	case CMD_AUX_TEST:
		push(c, 0x01);  /* "aux clock line stuck low": Linux gives up on the aux port */
		break;
	case CMD_SELF_TEST:
		push(c, 0x55);
		break;
	case CMD_KBD_TEST:
		push(c, 0x00);
		break;
	case CMD_READ_OUTPORT:
		push(c, c->outport);
		break;
	case CMD_KBD_DISABLE:
	case CMD_KBD_ENABLE:
		break;
	default:
		/* 0xf0-0xff pulse output lines low for 6 us; bit 0 is the reset line. */
		if (b >= 0xf0 && !(b & 0x01))
			do_reset(c);
		break;
	}
}

static void pio_read(struct i8042 *c, uint64_t offset, uint8_t *data, uint32_t len)
{
	uint8_t v = 0xff;

	pthread_mutex_lock(&c->lock);
	if (offset == 0) {
		if (c->out_count) {
			v = c->outbuf[c->out_head];
			c->out_head = (c->out_head + 1) % sizeof(c->outbuf);
			c->out_count--;
			if (c->out_count && (c->ctr & CTR_KBDINT) && c->kbd_irq)
				irq_line_pulse(c->kbd_irq);
		} else {
			v = 0;
		}
	} else if (offset == 4) {
		v = (uint8_t)(STATUS_SYS | STATUS_UNLOCKED | (c->out_count ? STATUS_OBF : 0));
	}
	pthread_mutex_unlock(&c->lock);
	memset(data, v, len);
}

static void pio_write(struct i8042 *c, uint64_t offset, const uint8_t *data, uint32_t len)
{
	(void)len;
	pthread_mutex_lock(&c->lock);
	if (offset == 0)
		data_write(c, data[0]);
	else if (offset == 4)
		command_write(c, data[0]);
	pthread_mutex_unlock(&c->lock);
}

void i8042_data_read(void *opaque, uint64_t offset, uint8_t *data, uint32_t len)
{
	(void)offset;
	pio_read(opaque, 0, data, len);
}

void i8042_data_write(void *opaque, uint64_t offset, const uint8_t *data, uint32_t len)
{
	(void)offset;
	pio_write(opaque, 0, data, len);
}

void i8042_cmd_read(void *opaque, uint64_t offset, uint8_t *data, uint32_t len)
{
	(void)offset;
	pio_read(opaque, 4, data, len);
}

void i8042_cmd_write(void *opaque, uint64_t offset, const uint8_t *data, uint32_t len)
{
	(void)offset;
	pio_write(opaque, 4, data, len);
}
