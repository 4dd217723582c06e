/* ACPI PM1 registers (fixed hardware, ACPI 6.5 §4.8.3): PM1a event status/enable and
 * PM1a control, at the ports the FADT names. SCI_EN always reads 1 (the machine is in
 * ACPI mode from the start); writing SLP_EN with the \_S5 sleep type powers the VM off.
 * Nothing raises the SCI: there are no fixed events. */
#ifndef EMBER_DEVICES_ACPI_PM_H
#define EMBER_DEVICES_ACPI_PM_H

#include <pthread.h>
#include <stdint.h>

#define ACPI_PM1_SCI_EN 0x0001
#define ACPI_PM1_SLP_TYP_SHIFT 10
#define ACPI_PM1_SLP_TYP_MASK 0x1c00
#define ACPI_PM1_SLP_EN 0x2000

struct acpi_pm {
	pthread_mutex_t lock;
	uint16_t enable;             /* PM1 enable: stored, never acted on */
	uint16_t control;            /* PM1 control, without SLP_EN (write-only) */
	uint8_t s5_type;             /* the SLP_TYP that means soft-off */
	void (*poweroff)(void *ctx); /* called once SLP_EN is written with s5_type */
	void *ctx;
	unsigned int sleeps_ignored; /* SLP_EN with another type: S1-S4 are not offered */
};

void acpi_pm_init(struct acpi_pm *p, uint8_t s5_type, void (*poweroff)(void *), void *ctx);
void acpi_pm_destroy(struct acpi_pm *p);
/* The bus handlers: offsets 0-1 status, 2-3 enable (event block), 4-5 control. */
void acpi_pm_read(void *opaque, uint64_t offset, uint8_t *data, uint32_t len);
void acpi_pm_write(void *opaque, uint64_t offset, const uint8_t *data, uint32_t len);

#endif
