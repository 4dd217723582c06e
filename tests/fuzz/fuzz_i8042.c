/* libFuzzer target: the i8042 model under arbitrary port traffic.
 *
 * The input is a program: each byte b is an operation (b % 4): 0 read the data port,
 * 1 read the status port, 2 write the next byte to the data port, 3 write the next byte
 * to the command port. After every operation the output buffer, the status register,
 * the reset line and the interrupt line are checked. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/i8042.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ASSERT(c)                                                                      \
	do {                                                                           \
		if (!(c)) {                                                            \
			fprintf(stderr, "fuzz_i8042: %s:%d: assertion failed: %s\n",   \
				__FILE__, __LINE__, #c);                               \
			abort();                                                       \
		}                                                                      \
	} while (0)

static uint64_t reset_calls;

static void reset_cb(void *ctx)
{
	(void)ctx;
	reset_calls++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct i8042 c;
	struct irq_line irq = { .fd = -1, .gsi = 1 };
	uint64_t want_resets = 0;
	uint8_t pending = 0;
	size_t i = 0;

	reset_calls = 0;
	i8042_init(&c, &irq, reset_cb, NULL);
	while (i < size) {
		uint8_t op = data[i++], v = 0;
		uint8_t ctr_before = c.ctr;
		uint64_t pulses = irq.pulses;
		unsigned int count_before = c.out_count;

		switch (op % 4) {
		case 0:
			i8042_data_read(&c, 0, &v, 1);
			ASSERT(c.out_count == (count_before ? count_before - 1 : 0));
			break;
		case 1:
			i8042_cmd_read(&c, 0, &v, 1);
			ASSERT((v & 0x01) == (c.out_count != 0));
			ASSERT(v & 0x04);
			break;
		case 2:
			v = i < size ? data[i++] : 0;
			if (pending == 0xd1 && !(v & 1))
				want_resets++;
			pending = 0;
			i8042_data_write(&c, 0, &v, 1);
			break;
		case 3:
			v = i < size ? data[i++] : 0;
			if (v == 0x60 || v == 0xd1 || v == 0xd2 || v == 0xd3 || v == 0xd4)
				pending = v;
			else if (v >= 0xf0 && !(v & 1))
				want_resets++;
			i8042_cmd_write(&c, 0, &v, 1);
			break;
		}
		ASSERT(c.out_count <= sizeof(c.outbuf));
		ASSERT(c.out_head < sizeof(c.outbuf));
		ASSERT(c.resets == want_resets);
		ASSERT(reset_calls == want_resets);
		/* One pulse per keyboard byte queued by this access (at most 3: GET ID), plus
		 * one when a read leaves a byte behind or interrupts get enabled with data. */
		ASSERT(irq.pulses - pulses <= 3);
		if (!((ctr_before | c.ctr) & 0x01))
			ASSERT(irq.pulses == pulses);
	}
	i8042_destroy(&c);
	return 0;
}
