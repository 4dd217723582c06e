/* Guest RAM: one anonymous MAP_NORESERVE mapping (untouched pages cost nothing), split into
 * at most two KVM memslots: below the 32-bit MMIO gap and from 4 GiB up.
 *
 * Every access to guest-physical memory goes through guest_mem_ptr(), which checks the
 * range against the slots with overflow-safe arithmetic. Nothing else computes host
 * addresses from guest addresses. */
#ifndef EMBER_MEM_GUEST_MEM_H
#define EMBER_MEM_GUEST_MEM_H

#include <stddef.h>
#include <stdint.h>

#define GUEST_MEM_MAX_REGIONS 2

struct guest_region {
	uint64_t gpa;   /* first guest-physical address */
	uint64_t size;  /* bytes */
	uint8_t *host;  /* host address of gpa */
};

struct guest_mem {
	struct guest_region regions[GUEST_MEM_MAX_REGIONS];
	unsigned int nregions;
	uint64_t ram_size;  /* total RAM bytes */
	void *map;          /* the whole mapping, for munmap */
	size_t map_size;
};

/* Maps ram_size bytes and lays them out around the MMIO gap. Returns 0 or -errno (err_msg). */
int guest_mem_init(struct guest_mem *m, uint64_t ram_size);
/* Lays out regions over caller-provided host memory (unit tests, fuzzing). No mmap. */
void guest_mem_init_from(struct guest_mem *m, void *host, uint64_t ram_size);
void guest_mem_free(struct guest_mem *m);

/* Host pointer for [gpa, gpa+len) if that range lies wholly inside one RAM region,
 * else NULL. len 0 is checked as len 1 (the address itself must be RAM). */
void *guest_mem_ptr(const struct guest_mem *m, uint64_t gpa, uint64_t len);

/* Copies with the same check; return 0 or -EFAULT. */
int guest_mem_write(const struct guest_mem *m, uint64_t gpa, const void *src, uint64_t len);
int guest_mem_read(const struct guest_mem *m, uint64_t gpa, void *dst, uint64_t len);

/* End (exclusive) of the RAM region that starts at 0: the top of "low" memory. */
uint64_t guest_mem_low_end(const struct guest_mem *m);

#endif
