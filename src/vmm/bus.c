#include "vmm/bus.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/log.h"

void bus_init(struct bus *b, const char *name)
{
	memset(b, 0, sizeof(*b));
	b->name = name;
}

void bus_free(struct bus *b)
{
	free(b->ranges);
	b->ranges = NULL;
	b->n = b->cap = 0;
}

/* Index of the first range whose base is > addr. */
static size_t upper_bound(const struct bus *b, uint64_t addr)
{
	size_t lo = 0, hi = b->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (b->ranges[mid].base <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static uint64_t range_last(const struct bus_range *r)
{
	return r->base + (r->len - 1);
}

int bus_register(struct bus *b, const struct bus_range *r)
{
	size_t pos;

	if (r->len == 0 || r->base > UINT64_MAX - (r->len - 1))
		return err_set(-EINVAL, "%s bus: range %s at 0x%llx is empty or wraps",
			       b->name, r->name, (unsigned long long)r->base);
	pos = upper_bound(b, r->base);
	/* Only the neighbours can overlap: the one before (may extend over base) and the
	 * one after (may start before our end). */
	if (pos > 0 && range_last(&b->ranges[pos - 1]) >= r->base)
		goto overlap_prev;
	if (pos < b->n && b->ranges[pos].base <= range_last(r))
		goto overlap_next;
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 16;
		struct bus_range *nr = realloc(b->ranges, cap * sizeof(*nr));

		if (!nr)
			return err_set(-ENOMEM, "%s bus: out of memory", b->name);
		b->ranges = nr;
		b->cap = cap;
	}
	memmove(&b->ranges[pos + 1], &b->ranges[pos], (b->n - pos) * sizeof(*b->ranges));
	b->ranges[pos] = *r;
	b->n++;
	return 0;

overlap_prev:
	pos--;
overlap_next:
	return err_set(-EEXIST, "%s bus: %s [0x%llx, +0x%llx) overlaps %s [0x%llx, +0x%llx)",
		       b->name, r->name, (unsigned long long)r->base, (unsigned long long)r->len,
		       b->ranges[pos].name, (unsigned long long)b->ranges[pos].base,
		       (unsigned long long)b->ranges[pos].len);
}

const struct bus_range *bus_find(const struct bus *b, uint64_t addr)
{
	size_t pos = upper_bound(b, addr);

	if (pos == 0)
		return NULL;
	const struct bus_range *r = &b->ranges[pos - 1];
	return addr - r->base < r->len ? r : NULL;
}

/* The range that wholly contains [addr, addr+len), or NULL. */
static const struct bus_range *find_whole(const struct bus *b, uint64_t addr, uint32_t len)
{
	const struct bus_range *r = bus_find(b, addr);

	if (!r || len == 0 || len > r->len - (addr - r->base))
		return NULL;
	return r;
}

void bus_read(struct bus *b, uint64_t addr, uint8_t *data, uint32_t len)
{
	const struct bus_range *r = find_whole(b, addr, len);

	memset(data, 0xff, len);
	if (r && r->read) {
		r->read(r->opaque, addr - r->base, data, len);
		return;
	}
	if (!r) {
		__atomic_add_fetch(&b->unclaimed_reads, 1, __ATOMIC_RELAXED);
		log_debug("%s: unclaimed read of %u bytes at 0x%llx", b->name, len,
			  (unsigned long long)addr);
	}
}

void bus_write(struct bus *b, uint64_t addr, const uint8_t *data, uint32_t len)
{
	const struct bus_range *r = find_whole(b, addr, len);

	if (r && r->write) {
		r->write(r->opaque, addr - r->base, data, len);
		return;
	}
	if (!r) {
		__atomic_add_fetch(&b->unclaimed_writes, 1, __ATOMIC_RELAXED);
		log_debug("%s: unclaimed write of %u bytes at 0x%llx", b->name, len,
			  (unsigned long long)addr);
	}
}
