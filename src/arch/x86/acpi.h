/* ACPI tables for x86 guests: RSDP, RSDT/XSDT, FADT (+FACS), MADT and a DSDT that
 * describes the virtio-mmio windows (_HID "LNRO0005", the id Linux's virtio_mmio driver
 * matches) and the S5 sleep state. Stock distribution kernels find virtio-mmio devices
 * only this way: they are built without CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES.
 *
 * The FADT is a full (not hardware-reduced) one, so Linux keeps the PC's PIT, PIC and
 * i8042 exactly as it uses them without ACPI; the PM1 registers it points at are
 * devices/acpi_pm.c (poweroff through S5), the reset register is the i8042's 0xFE. */
#ifndef EMBER_ARCH_X86_ACPI_H
#define EMBER_ARCH_X86_ACPI_H

#include <stddef.h>
#include <stdint.h>

#include "mem/guest_mem.h"

#define ACPI_PM1_PORT 0x600       /* PM1a event (4 bytes) then PM1a control (2 bytes) */
#define ACPI_PM1_EVT_LEN 4
#define ACPI_PM1_CNT_LEN 2
#define ACPI_SCI_IRQ 9
#define ACPI_S5_SLP_TYP 5         /* the value the DSDT's \_S5 gives for SLP_TYPa */
#define ACPI_MAX_VIRTIO 32

struct acpi_virtio {
	uint64_t base;
	uint32_t size;
	uint32_t gsi;
};

struct acpi_config {
	unsigned int ncpus;
	const struct acpi_virtio *virtio;
	unsigned int nvirtio;
};

/* Builds every table into buf, the host view of guest-physical gpa, RSDP first.
 * Returns the bytes used, -EINVAL (bad config) or -ENOSPC. Pure, for tests. */
long acpi_build(uint8_t *buf, size_t len, uint64_t gpa, const struct acpi_config *c);

/* Writes the tables at LAYOUT_ACPI_START and points the zero page's acpi_rsdp_addr at
 * the RSDP. Call after boot_setup(). */
int acpi_write(const struct guest_mem *m, const struct acpi_config *c);

/* The ACPI table checksum rule: all bytes of a table sum to 0 mod 256. */
uint8_t acpi_checksum(const uint8_t *p, size_t n);

#endif
