/* The 16550A UART's register model through serial_pio_read/write, with an irq_line whose
 * fd is -1 (the pulses are counted). Expectations from the 16550A datasheet: register map
 * (DLAB selects DLL/DLM at 0/1), IIR priorities (line status > RX data > THR empty > modem
 * status), the THRE interrupt being cleared by an IIR read that reports it or by a THR
 * write, MCR bits 5-7 reading 0, and loopback wiring DTR->DSR, RTS->CTS, OUT1->RI,
 * OUT2->DCD. And from Linux's 8250 driver, which probes and starts the port this way. */
#include <string.h>

#include "harness.h"
#include "devices/serial.h"

enum { RBR = 0, THR = 0, DLL = 0, IER = 1, DLM = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4,
       LSR = 5, MSR = 6, SCR = 7 };

struct fx {
	struct serial s;
	struct irq_line irq;
	uint8_t out[4096];
	size_t nout;
	int drained;
};

static void out_cb(void *ctx, uint8_t b)
{
	struct fx *f = ctx;

	if (f->nout < sizeof(f->out))
		f->out[f->nout] = b;
	f->nout++;
}

static void drained_cb(void *ctx)
{
	struct fx *f = ctx;

	f->drained++;
}

static void setup(struct fx *f)
{
	memset(f, 0, sizeof(*f));
	f->irq.fd = -1;
	f->irq.gsi = 4;
	serial_init(&f->s, &f->irq, out_cb, f);
	f->s.rx_drained = drained_cb;
	f->s.rx_ctx = f;
}

static uint8_t rd(struct fx *f, uint64_t reg)
{
	uint8_t v = 0;

	serial_pio_read(&f->s, reg, &v, 1);
	return v;
}

static void wr(struct fx *f, uint64_t reg, uint8_t v)
{
	serial_pio_write(&f->s, reg, &v, 1);
}

static size_t push(struct fx *f, const char *s)
{
	return serial_rx_push(&f->s, (const uint8_t *)s, strlen(s));
}

#define LSR_DR 0x01
#define LSR_THRE 0x20
#define LSR_TEMT 0x40

TEST(lsr_transmitter_always_empty_dr_only_with_data)
{
	struct fx f;

	setup(&f);
	CHECK_EQ_U64(rd(&f, LSR) & (LSR_THRE | LSR_TEMT), LSR_THRE | LSR_TEMT);
	CHECK_EQ_U64(rd(&f, LSR) & LSR_DR, 0);
	wr(&f, THR, 'x');
	CHECK_EQ_U64(rd(&f, LSR) & (LSR_THRE | LSR_TEMT), LSR_THRE | LSR_TEMT);
	CHECK_EQ_U64(push(&f, "a"), 1);
	CHECK_EQ_U64(rd(&f, LSR) & LSR_DR, LSR_DR);
	CHECK_EQ_U64(rd(&f, LSR) & (LSR_THRE | LSR_TEMT), LSR_THRE | LSR_TEMT);
	CHECK_EQ_U64(rd(&f, RBR), 'a');
	CHECK_EQ_U64(rd(&f, LSR) & LSR_DR, 0);
	/* No error bits (overrun, parity, framing, break, FIFO error) ever. */
	CHECK_EQ_U64(rd(&f, LSR) & 0x9e, 0);
	serial_destroy(&f.s);
}

TEST(iir_idle_no_interrupt)
{
	struct fx f;

	setup(&f);
	CHECK_EQ_U64(rd(&f, IIR), 0x01);
	wr(&f, FCR, 0x01);   /* FIFO on: IIR bits 7:6 = 11 */
	CHECK_EQ_U64(rd(&f, IIR), 0xc1);
	wr(&f, FCR, 0x00);
	CHECK_EQ_U64(rd(&f, IIR), 0x01);
	serial_destroy(&f.s);
}

TEST(dlab_selects_divisor_latch)
{
	struct fx f;

	setup(&f);
	wr(&f, LCR, 0x83);          /* DLAB + 8N1 */
	wr(&f, DLL, 0x01);
	wr(&f, DLM, 0x02);
	CHECK_EQ_U64(rd(&f, DLL), 0x01);
	CHECK_EQ_U64(rd(&f, DLM), 0x02);
	CHECK_EQ_U64(f.nout, 0);    /* writing DLL is not transmitting */
	CHECK_EQ_U64(rd(&f, LCR), 0x83);
	wr(&f, LCR, 0x03);
	CHECK_EQ_U64(rd(&f, IER), 0);   /* IER is back, and DLM did not go into it */
	wr(&f, IER, 0x05);
	wr(&f, THR, 'q');
	CHECK_EQ_U64(f.nout, 1);
	wr(&f, LCR, 0x83);
	CHECK_EQ_U64(rd(&f, DLL), 0x01);  /* divisor kept across DLAB switches */
	CHECK_EQ_U64(rd(&f, DLM), 0x02);
	wr(&f, LCR, 0x03);
	CHECK_EQ_U64(rd(&f, IER), 0x05);
	serial_destroy(&f.s);
}

TEST(dlab_read_does_not_consume_rx)
{
	struct fx f;

	setup(&f);
	push(&f, "z");
	wr(&f, LCR, 0x80);
	(void)rd(&f, DLL);
	wr(&f, LCR, 0x03);
	CHECK_EQ_U64(rd(&f, LSR) & LSR_DR, LSR_DR);
	CHECK_EQ_U64(rd(&f, RBR), 'z');
	serial_destroy(&f.s);
}

TEST(scratch_register)
{
	struct fx f;

	setup(&f);
	wr(&f, SCR, 0x55);
	CHECK_EQ_U64(rd(&f, SCR), 0x55);
	wr(&f, SCR, 0xaa);
	CHECK_EQ_U64(rd(&f, SCR), 0xaa);
	serial_destroy(&f.s);
}

TEST(ier_low_four_bits_mcr_low_five)
{
	struct fx f;

	setup(&f);
	wr(&f, IER, 0xff);
	CHECK_EQ_U64(rd(&f, IER), 0x0f);
	wr(&f, IER, 0xf0);
	CHECK_EQ_U64(rd(&f, IER), 0x00);
	wr(&f, MCR, 0xff);
	CHECK_EQ_U64(rd(&f, MCR), 0x1f);
	wr(&f, LCR, 0x5b);
	CHECK_EQ_U64(rd(&f, LCR), 0x5b);
	serial_destroy(&f.s);
}

TEST(thre_interrupt_raise_clear_reraise)
{
	struct fx f;

	setup(&f);
	wr(&f, IER, 0x02);                    /* THRI, with THR empty: raised at once */
	CHECK_EQ_U64(f.irq.pulses, 1);
	CHECK_EQ_U64(rd(&f, IIR), 0x02);
	CHECK_EQ_U64(rd(&f, IIR), 0x01);      /* the read that reported it cleared it */
	CHECK_EQ_U64(f.irq.pulses, 1);
	wr(&f, THR, 'a');                     /* THR empties again: re-raised */
	CHECK_EQ_U64(f.irq.pulses, 2);
	CHECK_EQ_U64(rd(&f, IIR), 0x02);
	/* With FIFOs enabled the IIR says so in bits 7:6. */
	wr(&f, FCR, 0x07);
	wr(&f, THR, 'b');
	CHECK_EQ_U64(f.irq.pulses, 3);
	CHECK_EQ_U64(rd(&f, IIR), 0xc2);
	CHECK_EQ_U64(rd(&f, IIR), 0xc1);
	serial_destroy(&f.s);
}

TEST(thre_unacknowledged_no_new_edge)
{
	struct fx f;

	setup(&f);
	wr(&f, IER, 0x02);
	CHECK_EQ_U64(f.irq.pulses, 1);
	/* The guest keeps writing without reading IIR: the condition never dropped, so an
	 * edge-triggered line sees no new rising edge. */
	wr(&f, THR, 'a');
	wr(&f, THR, 'b');
	CHECK_EQ_U64(f.irq.pulses, 1);
	CHECK_EQ_U64(rd(&f, IIR), 0x02);
	serial_destroy(&f.s);
}

TEST(thre_cleared_by_disabling_ier)
{
	struct fx f;

	setup(&f);
	wr(&f, IER, 0x02);
	wr(&f, IER, 0x00);
	CHECK_EQ_U64(rd(&f, IIR), 0x01);
	serial_destroy(&f.s);
}

/* serial8250_do_startup's UART_regression_THRE test: enable THRI, read IIR; IER = 0;
 * IER = THRI; read IIR again. A working UART reports THRI both times. */
TEST(linux_8250_startup_thre_test)
{
	struct fx f;
	uint8_t iir1, iir2;

	setup(&f);
	(void)rd(&f, LSR);
	(void)rd(&f, RBR);
	(void)rd(&f, IIR);
	(void)rd(&f, MSR);
	wr(&f, IER, 0x02);
	iir1 = rd(&f, IIR);
	wr(&f, IER, 0x00);
	wr(&f, IER, 0x02);
	iir2 = rd(&f, IIR);
	wr(&f, IER, 0x00);
	CHECK_EQ_U64(iir1 & 0x0f, 0x02);
	CHECK_EQ_U64(iir2 & 0x0f, 0x02);
	CHECK_EQ_U64(f.irq.pulses, 2);
	serial_destroy(&f.s);
}

TEST(rx_rda_interrupt_and_order)
{
	struct fx f;

	setup(&f);
	wr(&f, IER, 0x01);
	CHECK_EQ_U64(f.irq.pulses, 0);
	CHECK_EQ_U64(push(&f, "abc"), 3);
	CHECK_EQ_U64(f.irq.pulses, 1);
	CHECK_EQ_U64(rd(&f, IIR), 0x04);
	CHECK_EQ_U64(rd(&f, IIR), 0x04);      /* reading IIR does not clear RDA */
	CHECK_EQ_U64(rd(&f, RBR), 'a');
	CHECK_EQ_U64(rd(&f, RBR), 'b');
	CHECK_EQ_U64(f.drained, 0);
	CHECK_EQ_U64(rd(&f, RBR), 'c');
	CHECK_EQ_U64(f.drained, 1);           /* once, when it became empty */
	CHECK_EQ_U64(rd(&f, LSR) & LSR_DR, 0);
	CHECK_EQ_U64(rd(&f, IIR), 0x01);
	CHECK_EQ_U64(f.s.rx_bytes, 3);
	/* More input later: a new edge. */
	CHECK_EQ_U64(push(&f, "d"), 1);
	CHECK_EQ_U64(f.irq.pulses, 2);
	CHECK_EQ_U64(rd(&f, IIR), 0x04);
	serial_destroy(&f.s);
}

TEST(rx_enable_rdi_with_pending_data_raises)
{
	struct fx f;

	setup(&f);
	push(&f, "x");
	CHECK_EQ_U64(f.irq.pulses, 0);        /* IER 0: no interrupt */
	wr(&f, IER, 0x01);
	CHECK_EQ_U64(f.irq.pulses, 1);
	CHECK_EQ_U64(rd(&f, IIR), 0x04);
	serial_destroy(&f.s);
}

TEST(rx_fifo_full_push_returns_fewer)
{
	static uint8_t data[SERIAL_RX_SIZE + 100];
	struct fx f;

	setup(&f);
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 3);
	CHECK_EQ_U64(serial_rx_space(&f.s), SERIAL_RX_SIZE);
	CHECK_EQ_U64(serial_rx_push(&f.s, data, 10), 10);
	CHECK_EQ_U64(serial_rx_space(&f.s), SERIAL_RX_SIZE - 10);
	CHECK_EQ_U64(serial_rx_push(&f.s, data + 10, sizeof(data) - 10), SERIAL_RX_SIZE - 10);
	CHECK_EQ_U64(serial_rx_space(&f.s), 0);
	CHECK_EQ_U64(serial_rx_push(&f.s, data, 1), 0);
	/* Everything that fitted comes out in order, across the ring's wrap. */
	size_t bad = 0;
	for (size_t i = 0; i < SERIAL_RX_SIZE; i++)
		if (rd(&f, RBR) != data[i])
			bad++;
	CHECK_EQ_U64(bad, 0);
	CHECK_EQ_U64(rd(&f, LSR) & LSR_DR, 0);
	CHECK_EQ_U64(f.drained, 1);
	/* Wrap-around: half, read some, push more. */
	CHECK_EQ_U64(serial_rx_push(&f.s, data, SERIAL_RX_SIZE - 5), SERIAL_RX_SIZE - 5);
	for (int i = 0; i < 10; i++)
		CHECK_EQ_U64(rd(&f, RBR), data[i]);
	CHECK_EQ_U64(serial_rx_push(&f.s, data, 20), 15);
	bad = 0;
	for (size_t i = 10; i < SERIAL_RX_SIZE - 5; i++)
		if (rd(&f, RBR) != data[i])
			bad++;
	for (size_t i = 0; i < 15; i++)
		if (rd(&f, RBR) != data[i])
			bad++;
	CHECK_EQ_U64(bad, 0);
	CHECK_EQ_U64(rd(&f, LSR) & LSR_DR, 0);
	serial_destroy(&f.s);
}

TEST(fcr_clear_rx_empties_fifo)
{
	struct fx f;

	setup(&f);
	push(&f, "abc");
	wr(&f, FCR, 0x03);        /* enable + clear RX */
	CHECK_EQ_U64(rd(&f, LSR) & LSR_DR, 0);
	CHECK_EQ_U64(serial_rx_space(&f.s), SERIAL_RX_SIZE);
	CHECK_EQ_U64(f.drained, 1);
	push(&f, "d");
	CHECK_EQ_U64(rd(&f, RBR), 'd');
	serial_destroy(&f.s);
}

TEST(rda_has_priority_over_thre)
{
	struct fx f;

	setup(&f);
	wr(&f, IER, 0x03);
	push(&f, "k");
	CHECK_EQ_U64(rd(&f, IIR), 0x04);    /* both pending: RDA first */
	CHECK_EQ_U64(rd(&f, RBR), 'k');
	CHECK_EQ_U64(rd(&f, IIR), 0x02);    /* the THRE interrupt was not lost */
	CHECK_EQ_U64(rd(&f, IIR), 0x01);
	serial_destroy(&f.s);
}

TEST(loopback_msr_reflects_mcr)
{
	struct fx f;
	unsigned int bad = 0;

	setup(&f);
	for (uint8_t m = 0; m < 16; m++) {
		uint8_t want = (uint8_t)(((m & 0x01) ? 0x20 : 0) |   /* DTR  -> DSR */
					 ((m & 0x02) ? 0x10 : 0) |   /* RTS  -> CTS */
					 ((m & 0x04) ? 0x40 : 0) |   /* OUT1 -> RI  */
					 ((m & 0x08) ? 0x80 : 0));   /* OUT2 -> DCD */
		wr(&f, MCR, (uint8_t)(0x10 | m));
		uint8_t got = rd(&f, MSR) & 0xf0;
		if (got != want && ++bad <= 3)
			FAIL("MCR 0x%02x: MSR 0x%02x, want 0x%02x", 0x10 | m, got, want);
	}
	CHECK_EQ_U64(bad, 0);
	/* Linux's autoconfig check: MCR = LOOP | RTS | OUT2 gives CTS | DCD = 0x90. */
	wr(&f, MCR, 0x1a);
	CHECK_EQ_U64(rd(&f, MSR) & 0xf0, 0x90);
	serial_destroy(&f.s);
}

TEST(loopback_thr_received_back_not_output)
{
	struct fx f;

	setup(&f);
	wr(&f, MCR, 0x10);
	wr(&f, THR, 'L');
	wr(&f, THR, 'B');
	CHECK_EQ_U64(f.nout, 0);
	CHECK_EQ_U64(rd(&f, LSR) & LSR_DR, LSR_DR);
	CHECK_EQ_U64(rd(&f, RBR), 'L');
	CHECK_EQ_U64(rd(&f, RBR), 'B');
	wr(&f, MCR, 0x08);          /* loopback off: back to the output */
	wr(&f, THR, 'o');
	CHECK_EQ_U64(f.nout, 1);
	CHECK_EQ_U64(f.out[0], 'o');
	CHECK_EQ_U64(rd(&f, LSR) & LSR_DR, 0);
	serial_destroy(&f.s);
}

TEST(output_callback_in_order)
{
	struct fx f;
	const char *msg = "Linux version 6.1\r\n";

	setup(&f);
	for (const char *p = msg; *p; p++)
		wr(&f, THR, (uint8_t)*p);
	CHECK_EQ_U64(f.nout, strlen(msg));
	CHECK_MEM_EQ(f.out, msg, strlen(msg));
	CHECK_EQ_U64(f.s.tx_bytes, strlen(msg));
	serial_destroy(&f.s);
}

TEST(no_pulses_with_ier_zero)
{
	struct fx f;

	setup(&f);
	wr(&f, FCR, 0x07);
	for (int i = 0; i < 50; i++)
		wr(&f, THR, 'x');
	push(&f, "hello");
	(void)rd(&f, IIR);
	(void)rd(&f, RBR);
	wr(&f, MCR, 0x1f);
	wr(&f, THR, 'y');
	(void)rd(&f, MSR);
	CHECK_EQ_U64(f.irq.pulses, 0);
	CHECK_EQ_U64(rd(&f, IIR) & 0x0f, 0x01);
	serial_destroy(&f.s);
}

TEST(wide_accesses)
{
	struct fx f;
	uint8_t d[2] = { 'a', 'b' };
	uint8_t r[2] = { 0, 0 };

	setup(&f);
	serial_pio_write(&f.s, THR, d, 2);     /* the 8250 is byte-wide: dropped */
	CHECK_EQ_U64(f.nout, 0);
	wr(&f, SCR, 0x12);
	serial_pio_read(&f.s, SCR, r, 2);
	CHECK_EQ_U64(r[0], 0x12);
	CHECK_EQ_U64(r[1], 0xff);
	serial_destroy(&f.s);
}

TEST(no_irq_line_is_fine)
{
	struct serial s;

	serial_init(&s, NULL, NULL, NULL);
	uint8_t v = 0x02;
	serial_pio_write(&s, IER, &v, 1);
	v = 'x';
	serial_pio_write(&s, THR, &v, 1);
	CHECK_EQ_U64(s.tx_bytes, 1);
	serial_pio_read(&s, IIR, &v, 1);
	CHECK_EQ_U64(v, 0x02);
	serial_destroy(&s);
}
