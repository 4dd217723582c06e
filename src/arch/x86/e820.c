#include "arch/x86/e820.h"

#include <errno.h>
#include <string.h>

#include "arch/x86/layout.h"
#include "util/err.h"

static void add(struct e820_map *map, uint64_t addr, uint64_t size, uint32_t type)
{
	map->entries[map->n++] = (struct e820_entry){ .addr = addr, .size = size, .type = type };
}

int e820_build(struct e820_map *map, uint64_t ram)
{
	uint64_t low = layout_low_ram(ram);
	uint64_t high = layout_high_ram(ram);

	memset(map, 0, sizeof(*map));
	if (ram < LAYOUT_HIMEM_START + 4096)
		return err_set(-EINVAL, "guest memory of %llu bytes is below the 1 MiB + 4 KiB minimum",
			       (unsigned long long)ram);
	/* Conventional memory up to the EBDA, then the PC's reserved EBDA and BIOS areas.
	 * 0xa0000-0xf0000 (VGA, option ROMs) is left out, as on real firmware. */
	add(map, 0, LAYOUT_EBDA_START, E820_RAM);
	add(map, LAYOUT_EBDA_START, LAYOUT_VGA_START - LAYOUT_EBDA_START, E820_RESERVED);
	add(map, LAYOUT_BIOS_START, LAYOUT_HIMEM_START - LAYOUT_BIOS_START, E820_RESERVED);
	add(map, LAYOUT_HIMEM_START, low - LAYOUT_HIMEM_START, E820_RAM);
	if (high)
		add(map, LAYOUT_MMIO_GAP_END, high, E820_RAM);
	return 0;
}
