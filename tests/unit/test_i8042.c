/* The i8042 keyboard controller through its bus handlers (data port 0x60, command/status
 * port 0x64). Expectations from the 8042 and PS/2 keyboard protocols as Linux's i8042 and
 * atkbd drivers use them: status bit 0 = output buffer full, bit 2 = system flag; command
 * 0xAA self test answers 0x55, 0x20/0x60 read/write the control register ("command byte",
 * bit 0 = keyboard interrupt enable, bit 5 = aux disabled), 0xD0/0xD1 read/write the
 * output port (bit 0 = the CPU reset line, active low), 0xF0-0xFF pulse the low output
 * lines whose bits are 0; keyboard commands answer ACK (0xFA), reset (0xFF) then reports
 * BAT OK (0xAA), get ID (0xF2) gives 0xAB 0x83. */
#include <string.h>

#include "harness.h"
#include "devices/i8042.h"

struct fx {
	struct i8042 c;
	struct irq_line irq;
	int resets;
};

static void reset_cb(void *ctx)
{
	struct fx *f = ctx;

	f->resets++;
}

static void setup(struct fx *f)
{
	memset(f, 0, sizeof(*f));
	f->irq.fd = -1;
	f->irq.gsi = 1;
	i8042_init(&f->c, &f->irq, reset_cb, f);
}

static uint8_t status(struct fx *f)
{
	uint8_t v = 0;

	i8042_cmd_read(&f->c, 0, &v, 1);
	return v;
}

static uint8_t data(struct fx *f)
{
	uint8_t v = 0;

	i8042_data_read(&f->c, 0, &v, 1);
	return v;
}

static void cmd(struct fx *f, uint8_t b)
{
	i8042_cmd_write(&f->c, 0, &b, 1);
}

static void put(struct fx *f, uint8_t b)
{
	i8042_data_write(&f->c, 0, &b, 1);
}

#define OBF 0x01
#define SYS 0x04

/* Reads one byte the way a driver does: only when the status says one is there. Returns
 * -1 when the output buffer is empty. */
static int next(struct fx *f)
{
	if (!(status(f) & OBF))
		return -1;
	return data(f);
}

TEST(idle_status)
{
	struct fx f;

	setup(&f);
	CHECK_EQ_U64(status(&f) & OBF, 0);
	CHECK_EQ_U64(status(&f) & SYS, SYS);
	i8042_destroy(&f.c);
}

TEST(controller_self_test)
{
	struct fx f;

	setup(&f);
	cmd(&f, 0xaa);
	CHECK_EQ_U64(status(&f) & OBF, OBF);
	CHECK_EQ_U64(data(&f), 0x55);
	CHECK_EQ_U64(status(&f) & OBF, 0);
	CHECK_EQ_U64(status(&f) & SYS, SYS);
	CHECK_EQ_INT(f.resets, 0);
	i8042_destroy(&f.c);
}

TEST(control_register_read_write)
{
	struct fx f;
	int ctr;

	setup(&f);
	cmd(&f, 0x20);
	ctr = next(&f);
	REQUIRE(ctr >= 0);
	CHECK(ctr & 0x01);                       /* keyboard interrupt on after reset */
	CHECK_EQ_INT(next(&f), -1);
	cmd(&f, 0x60);
	put(&f, 0x65);
	CHECK_EQ_INT(next(&f), -1);             /* the data byte went to the CTR, no reply */
	cmd(&f, 0x20);
	CHECK_EQ_INT(next(&f), 0x65);
	/* 0xA7 / 0xA8 disable / enable the aux port: CTR bit 5 follows (Linux checks). */
	cmd(&f, 0xa8);
	cmd(&f, 0x20);
	CHECK_EQ_INT(next(&f) & 0x20, 0);
	cmd(&f, 0xa7);
	cmd(&f, 0x20);
	CHECK_EQ_INT(next(&f) & 0x20, 0x20);
	i8042_destroy(&f.c);
}

TEST(keyboard_reset_ack_then_bat)
{
	struct fx f;

	setup(&f);
	put(&f, 0xff);
	CHECK_EQ_INT(next(&f), 0xfa);
	CHECK_EQ_INT(next(&f), 0xaa);
	CHECK_EQ_INT(next(&f), -1);
	CHECK_EQ_INT(f.resets, 0);               /* a keyboard reset is not a CPU reset */
	i8042_destroy(&f.c);
}

TEST(keyboard_get_id)
{
	struct fx f;

	setup(&f);
	put(&f, 0xf2);
	CHECK_EQ_INT(next(&f), 0xfa);
	CHECK_EQ_INT(next(&f), 0xab);
	CHECK_EQ_INT(next(&f), 0x83);
	CHECK_EQ_INT(next(&f), -1);
	i8042_destroy(&f.c);
}

TEST(keyboard_commands_with_argument)
{
	struct fx f;

	setup(&f);
	put(&f, 0xed);                 /* set LEDs */
	CHECK_EQ_INT(next(&f), 0xfa);
	put(&f, 0x07);                 /* the argument is not a command */
	CHECK_EQ_INT(next(&f), 0xfa);
	CHECK_EQ_INT(next(&f), -1);
	put(&f, 0xf3);                 /* typematic rate */
	put(&f, 0xff);                 /* argument 0xff, not a reset */
	CHECK_EQ_INT(next(&f), 0xfa);
	CHECK_EQ_INT(next(&f), 0xfa);
	CHECK_EQ_INT(next(&f), -1);
	put(&f, 0xf0);                 /* scan code set: get (0) */
	put(&f, 0x00);
	CHECK_EQ_INT(next(&f), 0xfa);
	CHECK_EQ_INT(next(&f), 0xfa);
	CHECK_EQ_INT(next(&f), 0x02);
	put(&f, 0xee);                 /* echo */
	CHECK_EQ_INT(next(&f), 0xee);
	put(&f, 0xf4);                 /* enable */
	CHECK_EQ_INT(next(&f), 0xfa);
	i8042_destroy(&f.c);
}

TEST(pulse_reset_command)
{
	struct fx f;

	setup(&f);
	cmd(&f, 0xfe);
	CHECK_EQ_INT(f.resets, 1);
	CHECK_EQ_U64(f.c.resets, 1);
	cmd(&f, 0xff);                 /* pulses no line */
	CHECK_EQ_INT(f.resets, 1);
	cmd(&f, 0xf0);                 /* pulses all four, bit 0 included */
	CHECK_EQ_INT(f.resets, 2);
	cmd(&f, 0xfd);                 /* bit 0 set: not the reset line */
	CHECK_EQ_INT(f.resets, 2);
	i8042_destroy(&f.c);
}

TEST(output_port_write_reset_line)
{
	struct fx f;

	setup(&f);
	cmd(&f, 0xd1);
	put(&f, 0xdf);                 /* A20 on, reset line high: what Linux writes */
	CHECK_EQ_INT(f.resets, 0);
	cmd(&f, 0xd0);
	CHECK_EQ_INT(next(&f), 0xdf);
	cmd(&f, 0xd1);
	put(&f, 0xde);                 /* bit 0 low: reset */
	CHECK_EQ_INT(f.resets, 1);
	/* The byte after is an ordinary keyboard byte again. */
	put(&f, 0xf2);
	CHECK_EQ_INT(next(&f), 0xfa);
	CHECK_EQ_INT(f.resets, 1);
	i8042_destroy(&f.c);
}

TEST(aux_test_reports_no_port)
{
	struct fx f;
	int r;

	setup(&f);
	cmd(&f, 0xa9);
	r = next(&f);
	CHECK(r > 0);                  /* 0 would mean a working aux interface */
	cmd(&f, 0xab);                 /* keyboard interface test: 0 = OK */
	CHECK_EQ_INT(next(&f), 0x00);
	/* 0xD3 (write aux output buffer) loops the byte back, but not as aux data (status
	 * bit 5 clear): Linux's AUX_LOOP probe sees at once that there is no aux port. */
	cmd(&f, 0xd3);
	put(&f, 0x5a);
	CHECK_EQ_U64(status(&f) & 0x20, 0);
	CHECK_EQ_INT(next(&f), 0x5a);
	CHECK_EQ_INT(next(&f), -1);
	/* Bytes for the aux device go nowhere. */
	cmd(&f, 0xd4);
	put(&f, 0xff);
	CHECK_EQ_INT(next(&f), -1);
	i8042_destroy(&f.c);
}

TEST(irq_only_with_ctr_bit0)
{
	struct fx f;

	setup(&f);
	cmd(&f, 0x60);
	put(&f, 0x64);                 /* interrupts off */
	put(&f, 0xff);
	CHECK_EQ_U64(f.irq.pulses, 0);
	CHECK_EQ_INT(next(&f), 0xfa);
	CHECK_EQ_INT(next(&f), 0xaa);
	CHECK_EQ_U64(f.irq.pulses, 0);
	cmd(&f, 0x60);
	put(&f, 0x65);                 /* keyboard interrupt on */
	put(&f, 0xff);
	/* Every keyboard byte pulses as it arrives (ACK, then BAT), so a stale byte can
	 * never hold back the interrupts of later answers... */
	CHECK_EQ_U64(f.irq.pulses, 2);
	CHECK_EQ_INT(data(&f), 0xfa);
	/* ...and a read that leaves a byte behind pulses again: an edge interrupt collapses
	 * pulses that arrive while one is in service. */
	CHECK_EQ_U64(f.irq.pulses, 3);
	CHECK_EQ_INT(data(&f), 0xaa);
	CHECK_EQ_U64(f.irq.pulses, 3); /* nothing left */
	i8042_destroy(&f.c);
}

TEST(output_buffer_overflow_bounded)
{
	struct fx f;
	int n = 0;

	setup(&f);
	for (int i = 0; i < 40; i++)
		put(&f, 0xee);
	while (next(&f) == 0xee && n < 100)
		n++;
	CHECK(n >= 1);
	CHECK(n <= 40);
	CHECK_EQ_INT(next(&f), -1);
	i8042_destroy(&f.c);
}

TEST(no_reset_callback_is_fine)
{
	struct i8042 c;
	uint8_t b = 0xfe;

	i8042_init(&c, NULL, NULL, NULL);
	i8042_cmd_write(&c, 0, &b, 1);
	CHECK_EQ_U64(c.resets, 1);
	i8042_destroy(&c);
}

/* A byte the guest never read (Linux's aux probe leaves one) must not silence the
 * interrupts of later keyboard answers: the probe of the keyboard depends on them. */
TEST(stale_byte_does_not_block_keyboard_interrupts)
{
	struct fx f;

	setup(&f);
	cmd(&f, 0xd3);                 /* AUX_LOOP: the byte comes back, no interrupt */
	put(&f, 0x5a);
	CHECK_EQ_U64(f.irq.pulses, 0);
	put(&f, 0xf2);                 /* keyboard GET ID behind the stale byte */
	CHECK(f.irq.pulses >= 1);
	CHECK_EQ_INT(data(&f), 0x5a);
	CHECK_EQ_INT(data(&f), 0xfa);
	CHECK_EQ_INT(data(&f), 0xab);
	CHECK_EQ_INT(data(&f), 0x83);
	i8042_destroy(&f.c);
}

/* Enabling keyboard interrupts while data waits raises one at once. */
TEST(enabling_interrupts_with_data_waiting_pulses)
{
	struct fx f;

	setup(&f);
	cmd(&f, 0x60);
	put(&f, 0x64);                 /* interrupts off */
	put(&f, 0xff);                 /* ACK + BAT wait, silently */
	CHECK_EQ_U64(f.irq.pulses, 0);
	cmd(&f, 0x60);
	put(&f, 0x65);                 /* interrupts on */
	CHECK_EQ_U64(f.irq.pulses, 1);
	i8042_destroy(&f.c);
}
