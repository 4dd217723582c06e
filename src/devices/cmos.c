#include "devices/cmos.h"

#include <string.h>

#include "arch/x86/layout.h"

enum {
	RTC_SECONDS = 0x00, RTC_MINUTES = 0x02, RTC_HOURS = 0x04, RTC_WEEKDAY = 0x06,
	RTC_DAY = 0x07, RTC_MONTH = 0x08, RTC_YEAR = 0x09, RTC_REG_A = 0x0a, RTC_REG_B = 0x0b,
	RTC_REG_C = 0x0c, RTC_REG_D = 0x0d, RTC_CENTURY = 0x32,
};
#define REG_A_DEFAULT 0x26     /* 32.768 kHz base, 1024 Hz rate, UIP clear */
#define REG_B_24H 0x02         /* 24-hour mode, BCD, no interrupts */
#define REG_D_VRT 0x80         /* valid RAM and time */

static uint8_t bcd(int v)
{
	return (uint8_t)(((v / 10) << 4) | (v % 10));
}

void cmos_init(struct cmos *c, uint64_t ram_size)
{
	uint64_t ext;

	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
	c->now = NULL;
	c->nvram[RTC_REG_A] = REG_A_DEFAULT;
	c->nvram[RTC_REG_B] = REG_B_24H;
	c->nvram[RTC_REG_D] = REG_D_VRT;
	/* Memory size fields firmware conventionally leaves here (KiB above 1 MiB, 64 KiB
	 * units above 16 MiB), capped as the fields are. */
	ext = ram_size > (1u << 20) ? (ram_size - (1u << 20)) >> 10 : 0;
	if (ext > 0xffff)
		ext = 0xffff;
	c->nvram[0x17] = c->nvram[0x30] = (uint8_t)ext;
	c->nvram[0x18] = c->nvram[0x31] = (uint8_t)(ext >> 8);
	/* 0x34/0x35 count RAM between 16 MiB and 4 GiB; here that ends at the MMIO gap. */
	ram_size = layout_low_ram(ram_size);
	ext = ram_size > (16u << 20) ? (ram_size - (16u << 20)) >> 16 : 0;
	if (ext > 0xffff)
		ext = 0xffff;
	c->nvram[0x34] = (uint8_t)ext;
	c->nvram[0x35] = (uint8_t)(ext >> 8);
}

void cmos_destroy(struct cmos *c)
{
	pthread_mutex_destroy(&c->lock);
}

static uint8_t clock_reg(const struct cmos *c, uint8_t idx)
{
	time_t t = c->now ? c->now() : time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	switch (idx) {
	case RTC_SECONDS: return bcd(tm.tm_sec);
	case RTC_MINUTES: return bcd(tm.tm_min);
	case RTC_HOURS: return bcd(tm.tm_hour);
	case RTC_WEEKDAY: return bcd(tm.tm_wday + 1);
	case RTC_DAY: return bcd(tm.tm_mday);
	case RTC_MONTH: return bcd(tm.tm_mon + 1);
	case RTC_YEAR: return bcd(tm.tm_year % 100);
	case RTC_CENTURY: return bcd((tm.tm_year + 1900) / 100);
	default: return 0;
	}
}

static int is_clock_reg(uint8_t idx)
{
	return idx == RTC_SECONDS || idx == RTC_MINUTES || idx == RTC_HOURS ||
	       idx == RTC_WEEKDAY || idx == RTC_DAY || idx == RTC_MONTH || idx == RTC_YEAR ||
	       idx == RTC_CENTURY;
}

void cmos_pio_read(void *opaque, uint64_t offset, uint8_t *data, uint32_t len)
{
	struct cmos *c = opaque;
	uint8_t v;

	pthread_mutex_lock(&c->lock);
	if (offset == 0) {
		v = 0xff;  /* the index register is write-only */
	} else if (is_clock_reg(c->index)) {
		v = clock_reg(c, c->index);
	} else if (c->index == RTC_REG_C) {
		v = 0;     /* no interrupt flags: reading clears them */
	} else {
		v = c->nvram[c->index];
	}
	pthread_mutex_unlock(&c->lock);
	memset(data, v, len);
}

void cmos_pio_write(void *opaque, uint64_t offset, const uint8_t *data, uint32_t len)
{
	struct cmos *c = opaque;

	(void)len;
	pthread_mutex_lock(&c->lock);
	if (offset == 0) {
		c->index = data[0] & 0x7f;   /* bit 7 is the NMI mask */
	} else if (!is_clock_reg(c->index) && c->index != RTC_REG_C && c->index != RTC_REG_D) {
		/* Setting the clock is accepted and ignored: the guest's time follows the host.
		 * Register A keeps UIP clear whatever is written. */
		c->nvram[c->index] = c->index == RTC_REG_A ? (uint8_t)(data[0] & 0x7f) : data[0];
	}
	pthread_mutex_unlock(&c->lock);
}
