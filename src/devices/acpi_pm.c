#include "devices/acpi_pm.h"

#include <string.h>

void acpi_pm_init(struct acpi_pm *p, uint8_t s5_type, void (*poweroff)(void *), void *ctx)
{
	memset(p, 0, sizeof(*p));
	pthread_mutex_init(&p->lock, NULL);
	p->control = ACPI_PM1_SCI_EN;
	p->s5_type = s5_type;
	p->poweroff = poweroff;
	p->ctx = ctx;
}

void acpi_pm_destroy(struct acpi_pm *p)
{
	pthread_mutex_destroy(&p->lock);
}

/* The six register bytes as one little-endian image: status (always 0), enable, control. */
static uint8_t reg_byte(const struct acpi_pm *p, uint64_t off)
{
	switch (off) {
	case 2: return (uint8_t)p->enable;
	case 3: return (uint8_t)(p->enable >> 8);
	case 4: return (uint8_t)p->control;
	case 5: return (uint8_t)(p->control >> 8);
	default: return 0;  /* status: no event ever fires; beyond: reserved */
	}
}

void acpi_pm_read(void *opaque, uint64_t offset, uint8_t *data, uint32_t len)
{
	struct acpi_pm *p = opaque;

	pthread_mutex_lock(&p->lock);
	for (uint32_t i = 0; i < len; i++)
		data[i] = reg_byte(p, offset + i);
	pthread_mutex_unlock(&p->lock);
}

void acpi_pm_write(void *opaque, uint64_t offset, const uint8_t *data, uint32_t len)
{
	struct acpi_pm *p = opaque;
	int off = 0;
	uint16_t ctl;

	pthread_mutex_lock(&p->lock);
	for (uint32_t i = 0; i < len; i++) {
		uint64_t o = offset + i;

		if (o == 2 || o == 3) {
			unsigned int sh = o == 2 ? 0 : 8;

			p->enable = (uint16_t)((p->enable & ~(0xffu << sh)) | ((unsigned)data[i] << sh));
		}
	}
	/* The control register is acted on once per access that touches its high byte
	 * (SLP_TYP and SLP_EN live there): byte and word writes both work. */
	if (offset <= 5 && offset + len > 5) {
		uint16_t v = p->control;

		for (uint32_t i = 0; i < len; i++) {
			uint64_t o = offset + i;

			if (o == 4)
				v = (uint16_t)((v & 0xff00) | data[i]);
			else if (o == 5)
				v = (uint16_t)((v & 0x00ff) | ((unsigned)data[i] << 8));
		}
		ctl = (uint16_t)(v | ACPI_PM1_SCI_EN);
		if (ctl & ACPI_PM1_SLP_EN) {
			unsigned int type = (unsigned int)(ctl & ACPI_PM1_SLP_TYP_MASK) >> ACPI_PM1_SLP_TYP_SHIFT;

			if (type == p->s5_type)
				off = 1;
			else
				p->sleeps_ignored++;
		}
		p->control = (uint16_t)(ctl & ~ACPI_PM1_SLP_EN);
	} else if (offset <= 4 && offset + len > 4) {
		p->control = (uint16_t)((p->control & 0xff00) | data[4 - offset] | ACPI_PM1_SCI_EN);
	}
	pthread_mutex_unlock(&p->lock);
	if (off && p->poweroff)
		p->poweroff(p->ctx);
}
