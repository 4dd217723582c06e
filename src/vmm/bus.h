/* A bus of emulated devices: address ranges mapped to handlers. One bus for port I/O,
 * one for MMIO. Ranges are registered before the vCPUs start and never change while
 * they run, so lookups take no lock (binary search over a sorted array). */
#ifndef EMBER_VMM_BUS_H
#define EMBER_VMM_BUS_H

#include <stddef.h>
#include <stdint.h>

/* offset is relative to the range's base; len is 1, 2, 4 or 8. */
typedef void (*bus_read_fn)(void *opaque, uint64_t offset, uint8_t *data, uint32_t len);
typedef void (*bus_write_fn)(void *opaque, uint64_t offset, const uint8_t *data, uint32_t len);

struct bus_range {
	uint64_t base;
	uint64_t len;
	const char *name;
	bus_read_fn read;    /* NULL: reads as all ones */
	bus_write_fn write;  /* NULL: writes are dropped */
	void *opaque;
};

struct bus {
	const char *name;          /* "pio" or "mmio", for logs */
	struct bus_range *ranges;  /* sorted by base, non-overlapping */
	size_t n, cap;
	/* Accesses no device claimed; atomically incremented from vCPU threads. */
	uint64_t unclaimed_reads, unclaimed_writes;
};

void bus_init(struct bus *b, const char *name);
void bus_free(struct bus *b);

/* Returns 0, -EINVAL (empty or wrapping range), -EEXIST (overlaps a registered range,
 * err_msg names both) or -ENOMEM. */
int bus_register(struct bus *b, const struct bus_range *r);

/* The range containing addr, or NULL. O(log n). */
const struct bus_range *bus_find(const struct bus *b, uint64_t addr);

/* Dispatch an access. An access no device claims, or one that runs past the end of the
 * range that holds its first byte, reads as all ones and its writes are dropped. */
void bus_read(struct bus *b, uint64_t addr, uint8_t *data, uint32_t len);
void bus_write(struct bus *b, uint64_t addr, const uint8_t *data, uint32_t len);

#endif
