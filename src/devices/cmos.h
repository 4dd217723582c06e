/* The CMOS RTC (MC146818) at ports 0x70/0x71: a real-time clock that reads the host's
 * time (UTC, BCD, 24-hour), never "update in progress", and 128 bytes of NVRAM. Linux
 * reads the wall clock from it at boot; an absent RTC costs seconds of probing. */
#ifndef EMBER_DEVICES_CMOS_H
#define EMBER_DEVICES_CMOS_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

#define CMOS_PORT 0x70
#define CMOS_PORTS 2

struct cmos {
	pthread_mutex_t lock;
	uint8_t index;
	uint8_t nvram[128];
	/* Source of time; tests replace it. */
	time_t (*now)(void);
};

void cmos_init(struct cmos *c, uint64_t ram_size);
void cmos_destroy(struct cmos *c);
void cmos_pio_read(void *opaque, uint64_t offset, uint8_t *data, uint32_t len);
void cmos_pio_write(void *opaque, uint64_t offset, const uint8_t *data, uint32_t len);

#endif
