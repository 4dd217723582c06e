/* libFuzzer target: the 16550A model under arbitrary guest register traffic and host input.
 *
 * The input is a program of operations, one opcode byte each (op = byte % 6, reg =
 * (byte >> 3) & 7), some followed by an argument byte:
 *   0  read register reg                 1  write register reg, value = next byte
 *   2  host pushes next-byte * 8 bytes   3  a 2- or 4-byte read or write of reg
 *   4  serial_rx_space                   5  read IIR then LSR (what an IRQ handler does)
 * After every operation the model is checked against a shadow receive FIFO and the
 * invariants of the register model. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/serial.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ASSERT(c)                                                                      \
	do {                                                                           \
		if (!(c)) {                                                            \
			fprintf(stderr, "fuzz_serial: %s:%d: assertion failed: %s\n",  \
				__FILE__, __LINE__, #c);                               \
			abort();                                                       \
		}                                                                      \
	} while (0)

static struct {
	uint8_t q[SERIAL_RX_SIZE];
	size_t head, count;
	uint64_t out_bytes, drained;
} shadow;

static void shadow_push(uint8_t b)
{
	if (shadow.count == SERIAL_RX_SIZE)
		return;
	shadow.q[(shadow.head + shadow.count) % SERIAL_RX_SIZE] = b;
	shadow.count++;
}

static void out_cb(void *ctx, uint8_t b)
{
	(void)ctx;
	(void)b;
	shadow.out_bytes++;
}

static void drained_cb(void *ctx)
{
	(void)ctx;
	shadow.drained++;
}

static int condition(const struct serial *s)
{
	return ((s->ier & 0x01) && s->rx_count) || ((s->ier & 0x02) && s->thre_pending) ||
	       ((s->ier & 0x08) && s->msr_delta);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t pushbuf[256 * 8];
	struct serial s;
	struct irq_line irq = { .fd = -1, .gsi = 4 };
	size_t i = 0;

	memset(&shadow, 0, sizeof(shadow));
	serial_init(&s, &irq, out_cb, NULL);
	s.rx_drained = drained_cb;
	while (i < size) {
		uint8_t op = data[i++];
		uint64_t reg = (op >> 3) & 7;
		uint64_t pulses = irq.pulses;
		uint64_t tx_before = s.tx_bytes;
		int dlab = (s.lcr & 0x80) != 0;
		uint8_t v = 0, wide[4];

		switch (op % 6) {
		case 0:
			serial_pio_read(&s, reg, &v, 1);
			if (reg == 0 && !dlab) {
				if (shadow.count) {
					ASSERT(v == shadow.q[shadow.head]);
					shadow.head = (shadow.head + 1) % SERIAL_RX_SIZE;
					shadow.count--;
				}
			}
			if (reg == 5)
				ASSERT((v & 0x60) == 0x60 && (v & 1) == (s.rx_count != 0));
			break;
		case 1: {
			uint8_t arg = i < size ? data[i++] : 0;

			if (reg == 0 && !dlab && (s.mcr & 0x10))
				shadow_push(arg);
			if (reg == 2 && (arg & 0x02))
				shadow.count = 0;
			serial_pio_write(&s, reg, &arg, 1);
			if (reg == 2 && (arg & 0x02))
				shadow.head = s.rx_head;
			if (reg == 0 && !dlab && !(s.mcr & 0x10))
				ASSERT(s.tx_bytes == tx_before + 1);
			break;
		}
		case 2: {
			size_t n = (size_t)(i < size ? data[i++] : 1) * 8, got, room;

			for (size_t k = 0; k < n; k++)
				pushbuf[k] = (uint8_t)(k * 31 + op);
			room = SERIAL_RX_SIZE - shadow.count;
			got = serial_rx_push(&s, pushbuf, n);
			ASSERT(got == (n < room ? n : room));
			for (size_t k = 0; k < got; k++)
				shadow_push(pushbuf[k]);
			break;
		}
		case 3:
			memset(wide, 0, sizeof(wide));
			if (op & 0x40) {
				serial_pio_write(&s, reg, wide, (op & 0x80) ? 4 : 2);
				ASSERT(s.tx_bytes == tx_before);   /* wide writes are dropped */
			} else {
				uint32_t len = (op & 0x80) ? 4 : 2;

				serial_pio_read(&s, reg, wide, len);
				for (uint32_t k = 1; k < len; k++)
					ASSERT(wide[k] == 0xff);
				if (reg == 0 && !dlab && shadow.count) {
					ASSERT(wide[0] == shadow.q[shadow.head]);
					shadow.head = (shadow.head + 1) % SERIAL_RX_SIZE;
					shadow.count--;
				}
			}
			break;
		case 4:
			ASSERT(serial_rx_space(&s) == SERIAL_RX_SIZE - shadow.count);
			break;
		case 5:
			if (!dlab) {
				serial_pio_read(&s, 2, &v, 1);
				ASSERT((v & 0x01) == !condition(&s) || (v & 0x0f) == 0x02);
				serial_pio_read(&s, 5, &v, 1);
				ASSERT((v & 1) == (s.rx_count != 0));
			}
			break;
		}
		/* Invariants. */
		ASSERT(s.rx_count <= SERIAL_RX_SIZE);
		ASSERT(s.rx_head < SERIAL_RX_SIZE);
		ASSERT(s.rx_count == shadow.count);
		ASSERT(s.ier <= 0x0f);
		ASSERT(s.mcr <= 0x1f);
		ASSERT(s.line == condition(&s));
		ASSERT(irq.pulses - pulses <= 1);
		if (s.ier == 0)
			ASSERT(irq.pulses == pulses);
		ASSERT(shadow.out_bytes == s.tx_bytes);
	}
	serial_destroy(&s);
	return 0;
}
