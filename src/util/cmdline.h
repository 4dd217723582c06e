/* Kernel command line editing: Ember adds machine-description parameters (pci=off,
 * virtio_mmio.device=...) to what the user gave, always before a lone "--" (after it,
 * words go to init, not the kernel). */
#ifndef EMBER_UTIL_CMDLINE_H
#define EMBER_UTIL_CMDLINE_H

#include <stdbool.h>
#include <stddef.h>

/* Length of the kernel's part of cmdline (before " -- "). */
size_t cmdline_kernel_part(const char *cmdline);
/* Whether the kernel part has a parameter starting with prefix (e.g. "pci="). */
bool cmdline_has_param(const char *cmdline, const char *prefix);
/* New string: cmdline with params (space-separated words) appended to the kernel part.
 * NULL when out of memory. Caller frees. */
char *cmdline_add(const char *cmdline, const char *params);

#endif
