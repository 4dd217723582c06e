#include "arch/x86/acpi.h"

#include <errno.h>
#include <string.h>

#include "acpi/aml.h"
#include "arch/x86/boot_params.h"
#include "arch/x86/layout.h"
#include "arch/x86/mptable.h"
#include "util/err.h"

#define HDR_LEN 36
#define RSDP_LEN 36
#define FADT_LEN 276          /* ACPI 6.x FADT */
#define FACS_LEN 64
#define OEM_ID "EMBER "
#define OEM_TABLE_ID "EMBERVM "

/* MADT entry types. */
enum { MADT_LAPIC = 0, MADT_IOAPIC = 1, MADT_ISO = 2, MADT_LAPIC_NMI = 4 };

/* FADT flags (ACPI 6.5 table 5.10) and IA-PC boot architecture flags (table 5.11). */
#define FADT_WBINVD (1u << 0)
#define FADT_PROC_C1 (1u << 2)
#define FADT_PWR_BUTTON (1u << 4)     /* no fixed power button */
#define FADT_SLP_BUTTON (1u << 5)     /* no fixed sleep button */
#define FADT_FIX_RTC (1u << 6)        /* no RTC wake status */
#define FADT_RESET_REG_SUP (1u << 10)
#define BOOT_ARCH_LEGACY_DEVICES (1u << 0)
#define BOOT_ARCH_8042 (1u << 1)
#define BOOT_ARCH_VGA_ABSENT (1u << 2)
#define BOOT_ARCH_MSI_ABSENT (1u << 3)

#define GAS_SYSTEM_IO 1

static void put8(uint8_t *p, size_t off, uint64_t v)
{
	p[off] = (uint8_t)v;
}

static void put16(uint8_t *p, size_t off, uint64_t v)
{
	for (unsigned int i = 0; i < 2; i++)
		p[off + i] = (uint8_t)(v >> (8 * i));
}

static void put32(uint8_t *p, size_t off, uint64_t v)
{
	for (unsigned int i = 0; i < 4; i++)
		p[off + i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, size_t off, uint64_t v)
{
	for (unsigned int i = 0; i < 8; i++)
		p[off + i] = (uint8_t)(v >> (8 * i));
}

/* A Generic Address Structure in system I/O space. */
static void put_gas_io(uint8_t *p, size_t off, uint16_t port, uint8_t bytes, uint8_t access)
{
	put8(p, off, GAS_SYSTEM_IO);
	put8(p, off + 1, bytes * 8u);
	put8(p, off + 2, 0);
	put8(p, off + 3, access);
	put64(p, off + 4, port);
}

uint8_t acpi_checksum(const uint8_t *p, size_t n)
{
	uint8_t sum = 0;

	for (size_t i = 0; i < n; i++)
		sum = (uint8_t)(sum + p[i]);
	return sum;
}

static void header(uint8_t *t, const char *sig, size_t len, uint8_t rev)
{
	memcpy(t, sig, 4);
	put32(t, 4, len);
	put8(t, 8, rev);
	memcpy(t + 10, OEM_ID, 6);
	memcpy(t + 16, OEM_TABLE_ID, 8);
	put32(t, 24, 1);                 /* OEM revision */
	memcpy(t + 28, "EMBR", 4);       /* creator id */
	put32(t, 32, 1);                 /* creator revision */
}

static void seal(uint8_t *t, size_t len)
{
	t[9] = 0;
	t[9] = (uint8_t)(0x100 - acpi_checksum(t, len));
}

/* Bump allocator over the output buffer: every table starts 16-byte aligned (the FACS
 * 64-byte aligned). */
struct area {
	uint8_t *buf;
	size_t len, used;
	uint64_t gpa;
};

static uint8_t *take(struct area *a, size_t n, size_t align, uint64_t *gpa)
{
	size_t at = (a->used + align - 1) & ~(align - 1);

	if (at > a->len || n > a->len - at)
		return NULL;
	a->used = at + n;
	*gpa = a->gpa + at;
	memset(a->buf + at, 0, n);
	return a->buf + at;
}

static long build_dsdt(uint8_t *t, size_t cap, const struct acpi_config *c)
{
	struct aml a;

	if (cap < HDR_LEN)
		return -ENOSPC;
	aml_init(&a, t + HDR_LEN, cap - HDR_LEN);
	aml_scope_begin(&a, "\\_SB_");
	for (unsigned int i = 0; i < c->nvirtio; i++) {
		const struct acpi_virtio *v = &c->virtio[i];
		char name[5] = { 'V', 'R', (char)('0' + i / 10), (char)('0' + i % 10), 0 };

		aml_device_begin(&a, name);
		aml_name_string(&a, "_HID", "LNRO0005");
		aml_name_integer(&a, "_UID", i);
		aml_crs_begin(&a);
		aml_res_memory32_fixed(&a, (uint32_t)v->base, v->size, 1);
		aml_res_interrupt(&a, v->gsi, 1);
		aml_crs_end(&a);
		aml_end(&a);
	}
	aml_end(&a);
	/* \_S5: SLP_TYPa, SLP_TYPb, two reserved. Linux powers off by writing SLP_TYPa with
	 * SLP_EN to PM1a control. */
	aml_byte(&a, 0x08);  /* NameOp */
	aml_name(&a, "\\_S5_");
	aml_package_begin(&a, 4);
	aml_integer(&a, ACPI_S5_SLP_TYP);
	aml_integer(&a, 0);
	aml_integer(&a, 0);
	aml_integer(&a, 0);
	aml_end(&a);
	if (a.err)
		return a.err;
	header(t, "DSDT", HDR_LEN + a.len, 2);
	seal(t, HDR_LEN + a.len);
	return (long)(HDR_LEN + a.len);
}

static void build_fadt(uint8_t *t, uint64_t facs, uint64_t dsdt)
{
	header(t, "FACP", FADT_LEN, 6);
	/* FIRMWARE_CTRL stays 0: the spec wants only one of it and X_FIRMWARE_CTRL set. */
	put32(t, 40, dsdt);
	put16(t, 46, ACPI_SCI_IRQ);
	/* SMI_CMD 0: the machine is always in ACPI mode, there is nothing to switch. */
	put32(t, 56, ACPI_PM1_PORT);
	put32(t, 64, ACPI_PM1_PORT + ACPI_PM1_EVT_LEN);
	put8(t, 88, ACPI_PM1_EVT_LEN);
	put8(t, 89, ACPI_PM1_CNT_LEN);
	put16(t, 96, 101);               /* C2 latency > 100: no C2 */
	put16(t, 98, 1001);              /* C3 latency > 1000: no C3 */
	put16(t, 109, BOOT_ARCH_LEGACY_DEVICES | BOOT_ARCH_8042 | BOOT_ARCH_VGA_ABSENT |
			      BOOT_ARCH_MSI_ABSENT);
	put32(t, 112, FADT_WBINVD | FADT_PROC_C1 | FADT_PWR_BUTTON | FADT_SLP_BUTTON |
			      FADT_FIX_RTC | FADT_RESET_REG_SUP);
	put_gas_io(t, 116, 0x64, 1, 1);  /* reset: 0xFE to the i8042 command port */
	put8(t, 128, 0xfe);
	put8(t, 131, 5);                 /* FADT minor version: 6.5 */
	put64(t, 132, facs);
	put64(t, 140, dsdt);
	put_gas_io(t, 148, ACPI_PM1_PORT, ACPI_PM1_EVT_LEN, 2);
	put_gas_io(t, 172, ACPI_PM1_PORT + ACPI_PM1_EVT_LEN, ACPI_PM1_CNT_LEN, 2);
	seal(t, FADT_LEN);
}

static size_t madt_len(unsigned int ncpus)
{
	return HDR_LEN + 8 + (size_t)ncpus * 8 + 12 + 10 + 6;
}

static void build_madt(uint8_t *t, unsigned int ncpus)
{
	size_t len = madt_len(ncpus), off = HDR_LEN + 8;

	header(t, "APIC", len, 5);
	put32(t, 36, LAYOUT_LAPIC);
	put32(t, 40, 1);                 /* PCAT_COMPAT: the 8259s are there */
	for (unsigned int i = 0; i < ncpus; i++, off += 8) {
		put8(t, off, MADT_LAPIC);
		put8(t, off + 1, 8);
		put8(t, off + 2, i);         /* ACPI processor UID */
		put8(t, off + 3, i);         /* APIC ID, as CPUID and the MP table give it */
		put32(t, off + 4, 1);        /* enabled */
	}
	put8(t, off, MADT_IOAPIC);
	put8(t, off + 1, 12);
	put8(t, off + 2, ncpus);         /* IOAPIC ID: after the last vCPU, as in the MP table */
	put32(t, off + 4, LAYOUT_IOAPIC);
	put32(t, off + 8, 0);            /* GSI base */
	off += 12;
	/* ISA IRQs map 1:1 to IOAPIC pins (KVM's default routing); only the SCI is
	 * described, as level-triggered active high, which is how nothing ever raises it. */
	put8(t, off, MADT_ISO);
	put8(t, off + 1, 10);
	put8(t, off + 2, 0);             /* ISA bus */
	put8(t, off + 3, ACPI_SCI_IRQ);
	put32(t, off + 4, ACPI_SCI_IRQ);
	put16(t, off + 8, 0x000d);       /* active high (01), level (11 << 2) */
	off += 10;
	put8(t, off, MADT_LAPIC_NMI);
	put8(t, off + 1, 6);
	put8(t, off + 2, 0xff);          /* all processors */
	put16(t, off + 3, 0);
	put8(t, off + 5, 1);             /* LINT1 */
	seal(t, len);
}

long acpi_build(uint8_t *buf, size_t len, uint64_t gpa, const struct acpi_config *c)
{
	struct area a = { .buf = buf, .len = len, .gpa = gpa };
	uint64_t rsdp_gpa = 0, xsdt_gpa = 0, rsdt_gpa = 0, fadt_gpa = 0, facs_gpa = 0, dsdt_gpa = 0,
		 madt_gpa = 0;
	uint8_t *rsdp, *xsdt, *rsdt, *fadt, *facs, *dsdt, *madt;
	long dsdt_len;

	if (!c->ncpus || c->ncpus > MPTABLE_MAX_CPUS || c->nvirtio > ACPI_MAX_VIRTIO ||
	    (c->nvirtio && !c->virtio))
		return -EINVAL;
	for (unsigned int i = 0; i < c->nvirtio; i++)
		if (c->virtio[i].base + c->virtio[i].size > 0x100000000ULL || !c->virtio[i].size)
			return -EINVAL;
	if (gpa + len > 0x100000000ULL)
		return -EINVAL;

	rsdp = take(&a, RSDP_LEN, 16, &rsdp_gpa);
	xsdt = take(&a, HDR_LEN + 2 * 8, 16, &xsdt_gpa);
	rsdt = take(&a, HDR_LEN + 2 * 4, 16, &rsdt_gpa);
	fadt = take(&a, FADT_LEN, 16, &fadt_gpa);
	facs = take(&a, FACS_LEN, 64, &facs_gpa);
	madt = take(&a, madt_len(c->ncpus), 16, &madt_gpa);
	if (!rsdp || !xsdt || !rsdt || !fadt || !facs || !madt)
		return -ENOSPC;
	dsdt = take(&a, 0, 16, &dsdt_gpa);
	if (!dsdt)
		return -ENOSPC;
	dsdt_len = build_dsdt(dsdt, a.len - a.used, c);
	if (dsdt_len < 0)
		return dsdt_len;
	a.used += (size_t)dsdt_len;

	memcpy(facs, "FACS", 4);
	put32(facs, 4, FACS_LEN);
	put8(facs, 32, 2);               /* version */

	build_fadt(fadt, facs_gpa, dsdt_gpa);
	build_madt(madt, c->ncpus);

	header(xsdt, "XSDT", HDR_LEN + 16, 1);
	put64(xsdt, HDR_LEN, fadt_gpa);
	put64(xsdt, HDR_LEN + 8, madt_gpa);
	seal(xsdt, HDR_LEN + 16);
	header(rsdt, "RSDT", HDR_LEN + 8, 1);
	put32(rsdt, HDR_LEN, fadt_gpa);
	put32(rsdt, HDR_LEN + 4, madt_gpa);
	seal(rsdt, HDR_LEN + 8);

	memcpy(rsdp, "RSD PTR ", 8);
	memcpy(rsdp + 9, OEM_ID, 6);
	put8(rsdp, 15, 2);               /* revision 2: XSDT and extended checksum */
	put32(rsdp, 16, rsdt_gpa);
	put32(rsdp, 20, RSDP_LEN);
	put64(rsdp, 24, xsdt_gpa);
	rsdp[8] = (uint8_t)(0x100 - acpi_checksum(rsdp, 20));
	rsdp[32] = (uint8_t)(0x100 - acpi_checksum(rsdp, RSDP_LEN));
	return (long)a.used;
}

int acpi_write(const struct guest_mem *m, const struct acpi_config *c)
{
	size_t len = LAYOUT_ACPI_END - LAYOUT_ACPI_START;
	uint8_t *dst = guest_mem_ptr(m, LAYOUT_ACPI_START, len);
	struct boot_params *bp = guest_mem_ptr(m, LAYOUT_ZERO_PAGE, sizeof(*bp));
	long n;

	if (!dst || !bp)
		return err_set(-ENOMEM, "guest RAM too small for the ACPI tables");
	n = acpi_build(dst, len, LAYOUT_ACPI_START, c);
	if (n < 0)
		return err_set((int)n, "cannot build the ACPI tables for %u vCPUs and %u virtio "
			       "devices: %s", c->ncpus, c->nvirtio, strerror((int)-n));
	bp->acpi_rsdp_addr = LAYOUT_ACPI_START;
	return 0;
}
