/* The CMOS RTC (MC146818) through its ports (0x70 index, 0x71 data) with a fixed clock.
 * Expectations from the MC146818 register map as PCs use it: seconds 0x00, minutes 0x02,
 * hours 0x04, day of week 0x06 (1 = Sunday), day 0x07, month 0x08, year 0x09, registers
 * A-D at 0x0a-0x0d (A bit 7 = update in progress, B bit 1 = 24 h, bit 2 = binary,
 * D bit 7 = valid RAM and time), century 0x32; index bit 7 is the NMI mask. The dates
 * below were computed independently (date -u -d @T). Memory size bytes follow the PC
 * BIOS convention: 0x17/0x18 (and 0x30/0x31) KiB above 1 MiB, 0x34/0x35 64 KiB blocks
 * between 16 MiB and 4 GiB. */
#include <string.h>

#include "harness.h"
#include "arch/x86/layout.h"
#include "devices/cmos.h"

static time_t fixed_now;

static time_t now_fn(void)
{
	return fixed_now;
}

static uint8_t reg(struct cmos *c, uint8_t idx)
{
	uint8_t v = 0;

	cmos_pio_write(c, 0, &idx, 1);
	cmos_pio_read(c, 1, &v, 1);
	return v;
}

static void set(struct cmos *c, uint8_t idx, uint8_t val)
{
	cmos_pio_write(c, 0, &idx, 1);
	cmos_pio_write(c, 1, &val, 1);
}

struct when {
	time_t t;
	uint8_t sec, min, hour, wday, mday, mon, year, century;
};

static const struct when dates[] = {
	/* 2000-01-01 00:00:00, Saturday */
	{ 946684800, 0x00, 0x00, 0x00, 7, 0x01, 0x01, 0x00, 0x20 },
	/* 2099-12-31 23:59:59, Thursday */
	{ 4102444799, 0x59, 0x59, 0x23, 5, 0x31, 0x12, 0x99, 0x20 },
	/* 1998-12-31 23:59:59, Thursday */
	{ 915148799, 0x59, 0x59, 0x23, 5, 0x31, 0x12, 0x98, 0x19 },
	/* 2024-02-29 23:59:59, Thursday */
	{ 1709251199, 0x59, 0x59, 0x23, 5, 0x29, 0x02, 0x24, 0x20 },
	/* 2000-02-29 00:00:00, Tuesday */
	{ 951782400, 0x00, 0x00, 0x00, 3, 0x29, 0x02, 0x00, 0x20 },
};

TEST(time_registers_bcd_utc)
{
	struct cmos c;

	cmos_init(&c, 128 * MiB);
	c.now = now_fn;
	for (size_t i = 0; i < ARRAY_LEN(dates); i++) {
		const struct when *w = &dates[i];

		int ok = 1;

		fixed_now = w->t;
		ok &= CHECK_EQ_U64(reg(&c, 0x00), w->sec);
		ok &= CHECK_EQ_U64(reg(&c, 0x02), w->min);
		ok &= CHECK_EQ_U64(reg(&c, 0x04), w->hour);
		ok &= CHECK_EQ_U64(reg(&c, 0x06), w->wday);
		ok &= CHECK_EQ_U64(reg(&c, 0x07), w->mday);
		ok &= CHECK_EQ_U64(reg(&c, 0x08), w->mon);
		ok &= CHECK_EQ_U64(reg(&c, 0x09), w->year);
		ok &= CHECK_EQ_U64(reg(&c, 0x32), w->century);
		if (!ok)
			FAIL("time %lld", (long long)w->t);
	}
	cmos_destroy(&c);
}

TEST(clock_follows_host_writes_ignored)
{
	struct cmos c;

	cmos_init(&c, 128 * MiB);
	c.now = now_fn;
	fixed_now = 946684800;
	set(&c, 0x00, 0x42);           /* setting the clock is accepted and ignored */
	set(&c, 0x09, 0x77);
	CHECK_EQ_U64(reg(&c, 0x00), 0x00);
	CHECK_EQ_U64(reg(&c, 0x09), 0x00);
	fixed_now += 61;
	CHECK_EQ_U64(reg(&c, 0x00), 0x01);
	CHECK_EQ_U64(reg(&c, 0x02), 0x01);
	cmos_destroy(&c);
}

TEST(status_registers)
{
	struct cmos c;
	unsigned int uip = 0;

	cmos_init(&c, 128 * MiB);
	c.now = now_fn;
	fixed_now = 946684800;
	/* Register A: never "update in progress", however often it is polled. */
	for (int i = 0; i < 1000; i++)
		uip |= reg(&c, 0x0a) & 0x80;
	CHECK_EQ_U64(uip, 0);
	set(&c, 0x0a, 0xa6);           /* the guest cannot set UIP either */
	CHECK_EQ_U64(reg(&c, 0x0a) & 0x80, 0);
	CHECK_EQ_U64(reg(&c, 0x0a), 0x26);
	/* Register B says what the time registers are: 24-hour, BCD. */
	CHECK_EQ_U64(reg(&c, 0x0b) & 0x02, 0x02);
	CHECK_EQ_U64(reg(&c, 0x0b) & 0x04, 0x00);
	/* Register C: no interrupt flags. Register D: valid RAM and time, read-only. */
	CHECK_EQ_U64(reg(&c, 0x0c), 0);
	CHECK_EQ_U64(reg(&c, 0x0d) & 0x80, 0x80);
	set(&c, 0x0d, 0x00);
	CHECK_EQ_U64(reg(&c, 0x0d) & 0x80, 0x80);
	cmos_destroy(&c);
}

TEST(nvram_read_write_and_nmi_bit)
{
	struct cmos c;
	uint8_t v = 0;

	cmos_init(&c, 128 * MiB);
	set(&c, 0x40, 0x5a);
	CHECK_EQ_U64(reg(&c, 0x40), 0x5a);
	set(&c, 0x7f, 0xa5);
	CHECK_EQ_U64(reg(&c, 0x7f), 0xa5);
	/* Index bit 7 is the NMI mask, not part of the address. */
	CHECK_EQ_U64(reg(&c, 0xc0), 0x5a);
	set(&c, 0x80 | 0x41, 0x33);
	CHECK_EQ_U64(reg(&c, 0x41), 0x33);
	CHECK_EQ_U64(reg(&c, 0x40), 0x5a);   /* the neighbour untouched */
	/* The index port reads back nothing useful (write-only). */
	cmos_pio_read(&c, 0, &v, 1);
	CHECK_EQ_U64(v, 0xff);
	cmos_destroy(&c);
}

static void check_mem(uint64_t ram, uint16_t kib_above_1m, uint16_t blocks_above_16m)
{
	struct cmos c;

	cmos_init(&c, ram);
	CHECK_EQ_U64(reg(&c, 0x17) | (reg(&c, 0x18) << 8), kib_above_1m);
	CHECK_EQ_U64(reg(&c, 0x30) | (reg(&c, 0x31) << 8), kib_above_1m);
	CHECK_EQ_U64(reg(&c, 0x34) | (reg(&c, 0x35) << 8), blocks_above_16m);
	cmos_destroy(&c);
}

TEST(memory_size_bytes)
{
	check_mem(8 * MiB, 7 * 1024, 0);
	check_mem(16 * MiB, 15 * 1024, 0);
	check_mem(32 * MiB, 31 * 1024, 16 * 16);          /* 0x7c00, 0x0100 */
	check_mem(64 * MiB, 63 * 1024, 48 * 16);
	check_mem(128 * MiB, 0xffff, 112 * 16);           /* KiB field saturates */
	check_mem(3 * GiB, 0xffff, (3072 - 16) * 16);
}

/* Above 3 GiB the RAM continues at 4 GiB; 0x34/0x35 counts RAM below 4 GiB only, which
 * is 3 GiB here: claiming more puts RAM in the MMIO gap (IOAPIC, LAPIC). */
TEST(regression_memory_above_16m_counts_only_ram_below_gap)
{
	check_mem(3 * GiB + 512 * MiB, 0xffff, (3072 - 16) * 16);
	check_mem(5 * GiB, 0xffff, (3072 - 16) * 16);
}
