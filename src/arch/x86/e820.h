/* The e820 memory map Ember hands the guest: exactly the RAM memslots and the reserved
 * legacy ranges. */
#ifndef EMBER_ARCH_X86_E820_H
#define EMBER_ARCH_X86_E820_H

#include <stdint.h>

#include "arch/x86/boot_params.h"

#define E820_MAP_MAX 8

struct e820_map {
	struct e820_entry entries[E820_MAP_MAX];
	unsigned int n;
};

/* Builds the map for ram bytes of guest RAM laid out as in layout.h. ram must be at least
 * 1 MiB + 4 KiB; returns -EINVAL otherwise. */
int e820_build(struct e820_map *map, uint64_t ram);

#endif
