#include "mem/guest_mem.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "arch/x86/layout.h"
#include "util/err.h"

#define HUGE_2M (2ULL * 1024 * 1024)

static void layout_regions(struct guest_mem *m, uint8_t *host, uint64_t ram_size)
{
	uint64_t low = layout_low_ram(ram_size);
	uint64_t high = layout_high_ram(ram_size);

	memset(m->regions, 0, sizeof(m->regions));
	m->ram_size = ram_size;
	m->regions[0] = (struct guest_region){ .gpa = 0, .size = low, .host = host };
	m->nregions = 1;
	if (high) {
		m->regions[1] = (struct guest_region){
			.gpa = LAYOUT_MMIO_GAP_END, .size = high, .host = host + low,
		};
		m->nregions = 2;
	}
}

void guest_mem_init_from(struct guest_mem *m, void *host, uint64_t ram_size)
{
	m->map = NULL;
	m->map_size = 0;
	layout_regions(m, host, ram_size);
}

int guest_mem_init(struct guest_mem *m, uint64_t ram_size)
{
	size_t len;
	uint8_t *p, *aligned;

	memset(m, 0, sizeof(*m));
	if (ram_size == 0 || ram_size > SIZE_MAX - HUGE_2M)
		return err_set(-EINVAL, "guest memory size %llu is not valid",
			       (unsigned long long)ram_size);
	/* Over-allocate by 2 MiB so the guest's RAM starts on a huge-page boundary: the
	 * kernel can then back it with transparent huge pages (one fault per 2 MiB). */
	len = (size_t)ram_size + HUGE_2M;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return err_set(-errno, "cannot map %llu MiB of guest memory: %s (use a smaller --memory)",
			       (unsigned long long)(ram_size >> 20), strerror(errno));
	aligned = (uint8_t *)(((uintptr_t)p + HUGE_2M - 1) & ~(uintptr_t)(HUGE_2M - 1));
	/* Best effort: THP may be disabled on the host. The first 2 MiB stay small pages:
	 * the boot structures there would otherwise cost a whole zeroed huge page (~0.4 ms
	 * and 2 MiB of RSS) for a few KiB of data. */
	if (ram_size > HUGE_2M)
		(void)madvise(aligned + HUGE_2M, (size_t)(ram_size - HUGE_2M), MADV_HUGEPAGE);
	(void)madvise(aligned, (size_t)ram_size, MADV_DONTDUMP);
	m->map = p;
	m->map_size = len;
	layout_regions(m, aligned, ram_size);
	return 0;
}

void guest_mem_free(struct guest_mem *m)
{
	if (m->map)
		munmap(m->map, m->map_size);
	memset(m, 0, sizeof(*m));
}

void *guest_mem_ptr(const struct guest_mem *m, uint64_t gpa, uint64_t len)
{
	if (len == 0)
		len = 1;
	for (unsigned int i = 0; i < m->nregions; i++) {
		const struct guest_region *r = &m->regions[i];

		/* gpa - r->gpa cannot underflow once gpa >= r->gpa; compare lengths, not ends,
		 * so gpa + len never has to be computed (it may overflow). */
		if (gpa < r->gpa)
			continue;
		uint64_t off = gpa - r->gpa;
		if (off >= r->size || len > r->size - off)
			continue;
		return r->host + off;
	}
	return NULL;
}

int guest_mem_write(const struct guest_mem *m, uint64_t gpa, const void *src, uint64_t len)
{
	void *p = guest_mem_ptr(m, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(p, src, (size_t)len);
	return 0;
}

int guest_mem_read(const struct guest_mem *m, uint64_t gpa, void *dst, uint64_t len)
{
	const void *p = guest_mem_ptr(m, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(dst, p, (size_t)len);
	return 0;
}

uint64_t guest_mem_low_end(const struct guest_mem *m)
{
	return m->nregions ? m->regions[0].size : 0;
}
