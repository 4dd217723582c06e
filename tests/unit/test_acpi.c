/* ACPI: the AML encoder's byte forms (ACPI 6.5 chapter 20), the tables Ember builds
 * (walked from the RSDP as a guest OS does, every checksum verified) and the PM1
 * registers. tests/acpi/run.sh also feeds the tables to ACPICA's disassembler. */
#include <errno.h>
#include <string.h>

#include "harness.h"
#include "acpi/aml.h"
#include "arch/x86/acpi.h"
#include "arch/x86/boot_params.h"
#include "arch/x86/layout.h"
#include "devices/acpi_pm.h"
#include "mem/guest_mem.h"

/* ---- AML ---- */

TEST(aml_pkglength_forms)
{
	uint8_t e[4];

	CHECK_EQ_U64(aml_pkglength(0, e), 1);
	CHECK_EQ_U64(e[0], 1);
	CHECK_EQ_U64(aml_pkglength(62, e), 1);      /* 63: the largest one-byte length */
	CHECK_EQ_U64(e[0], 63);
	CHECK_EQ_U64(aml_pkglength(63, e), 2);      /* 65 with two length bytes */
	CHECK_EQ_U64(e[0], 0x40 | (65 & 0xf));
	CHECK_EQ_U64(e[1], 65 >> 4);
	CHECK_EQ_U64(aml_pkglength(4093, e), 2);    /* 4095 */
	CHECK_EQ_U64(aml_pkglength(4094, e), 3);    /* 4097 needs three */
	CHECK_EQ_U64(e[0], 0x80 | (4097 & 0xf));
	CHECK_EQ_U64(e[1], (4097 >> 4) & 0xff);
	CHECK_EQ_U64(e[2], 4097 >> 12);
	CHECK_EQ_U64(aml_pkglength((1u << 28) - 5, e), 4);
	CHECK_EQ_U64(aml_pkglength(1u << 28, e), 0);  /* too long for AML */
}

TEST(aml_integers_use_shortest_form)
{
	uint8_t b[64];
	struct aml a;
	static const uint8_t want[] = {
		0x00, 0x01, 0x0a, 0x02, 0x0a, 0xff, 0x0b, 0x00, 0x01, 0x0c, 0x00, 0x00, 0x01, 0x00,
		0x0e, 0, 0, 0, 0, 1, 0, 0, 0,
	};

	aml_init(&a, b, sizeof(b));
	aml_integer(&a, 0);
	aml_integer(&a, 1);
	aml_integer(&a, 2);
	aml_integer(&a, 0xff);
	aml_integer(&a, 0x100);
	aml_integer(&a, 0x10000);
	aml_integer(&a, 0x100000000ULL);
	CHECK_EQ_INT(a.err, 0);
	REQUIRE_EQ_U64(a.len, sizeof(want));
	CHECK_MEM_EQ(b, want, sizeof(want));
}

TEST(aml_names_root_dual_multi_and_padding)
{
	uint8_t b[64];
	struct aml a;
	static const uint8_t want[] = {
		'_', 'H', 'I', 'D',
		0x5c, '_', 'S', 'B', '_',
		0x5c, 0x2e, '_', 'S', 'B', '_', 'V', 'R', '0', '0',
		0x2f, 3, 'A', '_', '_', '_', 'B', 'C', '_', '_', 'D', '1', '_', '_',
	};

	aml_init(&a, b, sizeof(b));
	aml_name(&a, "_HID");
	aml_name(&a, "\\_SB");
	aml_name(&a, "\\_SB_.VR00");
	aml_name(&a, "A.BC.D1");
	CHECK_EQ_INT(a.err, 0);
	REQUIRE_EQ_U64(a.len, sizeof(want));
	CHECK_MEM_EQ(b, want, sizeof(want));
}

TEST(aml_bad_names_are_errors)
{
	static const char *const bad[] = { "1ABC", "ABCDE", "a", "A..B", "A-B" };
	uint8_t b[64];
	struct aml a;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		aml_init(&a, b, sizeof(b));
		aml_name(&a, bad[i]);
		CHECK_EQ_INT(a.err, -EINVAL);
	}
}

TEST(aml_nested_packages_shrink_their_lengths)
{
	uint8_t b[256];
	struct aml a;

	aml_init(&a, b, sizeof(b));
	aml_scope_begin(&a, "\\_SB_");
	aml_device_begin(&a, "VR00");
	aml_name_string(&a, "_HID", "LNRO0005");
	aml_end(&a);
	aml_end(&a);
	CHECK_EQ_INT(a.err, 0);
	/* Scope: 10 PkgLength; body = name (5) + device. Device: 5b 82 PkgLength name (4) +
	 * Name(_HID, "LNRO0005") = 1 + 4 + 1 + 9 = 15. */
	REQUIRE_EQ_U64(a.len, 1 + 1 + 5 + 2 + 1 + 4 + 15);
	CHECK_EQ_U64(b[0], 0x10);
	CHECK_EQ_U64(b[1], a.len - 1);          /* scope length counts itself, not the op */
	CHECK_EQ_U64(b[7], 0x5b);
	CHECK_EQ_U64(b[8], 0x82);
	CHECK_EQ_U64(b[9], 1 + 4 + 15);
	CHECK_MEM_EQ(b + 10, "VR00", 4);
	CHECK(memmem(b, a.len, "LNRO0005\0", 9) != NULL);
}

TEST(aml_long_package_gets_two_length_bytes)
{
	uint8_t b[512];
	struct aml a;

	aml_init(&a, b, sizeof(b));
	aml_scope_begin(&a, "\\_SB_");
	for (int i = 0; i < 20; i++)
		aml_name_integer(&a, "ABCD", 0x1234);  /* 8 bytes each */
	aml_end(&a);
	CHECK_EQ_INT(a.err, 0);
	REQUIRE_EQ_U64(a.len, 1 + 2 + 5 + 160);
	CHECK_EQ_U64(b[1] >> 6, 1);
	CHECK_EQ_U64((size_t)(b[1] & 0xf) | ((size_t)b[2] << 4), 2 + 5 + 160);
	CHECK_EQ_U64(b[3], 0x5c);                 /* the body moved down to follow it */
}

TEST(aml_resource_template_size_and_end_tag)
{
	uint8_t b[128];
	struct aml a;

	aml_init(&a, b, sizeof(b));
	aml_crs_begin(&a);
	aml_res_memory32_fixed(&a, 0xd0000000, 0x1000, 1);
	aml_res_interrupt(&a, 5, 1);
	aml_crs_end(&a);
	CHECK_EQ_INT(a.err, 0);
	/* 08 _CRS 11 PkgLength 0b size16 [12 + 9 + 2] */
	REQUIRE_EQ_U64(a.len, 1 + 4 + 1 + 1 + 3 + 23);
	CHECK_EQ_U64(b[5], 0x11);
	CHECK_EQ_U64(b[6], 1 + 3 + 23);
	CHECK_EQ_U64(b[7], 0x0b);
	CHECK_EQ_U64(get16(b, 8), 23);
	CHECK_EQ_U64(b[10], 0x86);
	CHECK_EQ_U64(get32(b, 14), 0xd0000000);
	CHECK_EQ_U64(get32(b, 18), 0x1000);
	CHECK_EQ_U64(b[22], 0x89);
	CHECK_EQ_U64(b[25], 0x03);                /* consumer, edge, active high */
	CHECK_EQ_U64(get32(b, 27), 5);
	CHECK_EQ_U64(b[31], 0x79);
}

TEST(aml_overflow_and_unbalanced_end_are_errors)
{
	uint8_t b[8];
	struct aml a;

	aml_init(&a, b, sizeof(b));
	aml_name_string(&a, "_HID", "LNRO0005");
	CHECK_EQ_INT(a.err, -ENOSPC);
	CHECK(a.len <= sizeof(b));
	aml_init(&a, b, sizeof(b));
	aml_end(&a);
	CHECK_EQ_INT(a.err, -EINVAL);
}

/* ---- tables ---- */

#define GPA LAYOUT_ACPI_START
static uint8_t tbuf[LAYOUT_ACPI_END - LAYOUT_ACPI_START];

static const uint8_t *at(uint64_t gpa, size_t len)
{
	if (gpa < GPA || gpa + len > GPA + sizeof(tbuf))
		return NULL;
	return tbuf + (gpa - GPA);
}

/* A table by gpa after checking its header's length and checksum. */
static const uint8_t *table(uint64_t gpa, const char *sig)
{
	const uint8_t *t = at(gpa, 36);

	if (!CHECK(t != NULL))
		return NULL;
	if (!CHECK(memcmp(t, sig, 4) == 0))
		return NULL;
	if (!CHECK(at(gpa, get32(t, 4)) != NULL))
		return NULL;
	CHECK_EQ_U64(acpi_checksum(t, get32(t, 4)), 0);
	return t;
}

static const uint8_t *xsdt_find(const uint8_t *xsdt, const char *sig)
{
	for (size_t off = 36; off + 8 <= get32(xsdt, 4); off += 8) {
		const uint8_t *t = at(get64(xsdt, off), 36);

		if (t && memcmp(t, sig, 4) == 0)
			return table(get64(xsdt, off), sig);
	}
	return NULL;
}

static const struct acpi_virtio three[] = {
	{ 0xd0000000, 0x1000, 5 }, { 0xd0001000, 0x1000, 6 }, { 0xd0002000, 0x1000, 7 },
};

TEST(acpi_rsdp_checksums_and_pointers)
{
	struct acpi_config c = { .ncpus = 2, .virtio = three, .nvirtio = 3 };
	long n = acpi_build(tbuf, sizeof(tbuf), GPA, &c);
	const uint8_t *xsdt, *rsdt;

	REQUIRE(n > 0);
	CHECK(memcmp(tbuf, "RSD PTR ", 8) == 0);
	CHECK_EQ_U64(acpi_checksum(tbuf, 20), 0);
	CHECK_EQ_U64(acpi_checksum(tbuf, 36), 0);
	CHECK_EQ_U64(tbuf[15], 2);
	CHECK_EQ_U64(get32(tbuf, 20), 36);
	xsdt = table(get64(tbuf, 24), "XSDT");
	rsdt = table(get32(tbuf, 16), "RSDT");
	REQUIRE(xsdt && rsdt);
	/* Both roots list the same tables. */
	REQUIRE_EQ_U64(get32(xsdt, 4), 36 + 16);
	REQUIRE_EQ_U64(get32(rsdt, 4), 36 + 8);
	CHECK_EQ_U64(get64(xsdt, 36), get32(rsdt, 36));
	CHECK_EQ_U64(get64(xsdt, 44), get32(rsdt, 40));
	CHECK(xsdt_find(xsdt, "FACP") != NULL);
	CHECK(xsdt_find(xsdt, "APIC") != NULL);
	CHECK((uint64_t)n <= sizeof(tbuf));
}

TEST(acpi_fadt_pm_blocks_reset_and_dsdt)
{
	struct acpi_config c = { .ncpus = 1, .virtio = three, .nvirtio = 1 };
	const uint8_t *xsdt, *fadt, *facs, *dsdt;

	REQUIRE(acpi_build(tbuf, sizeof(tbuf), GPA, &c) > 0);
	xsdt = table(get64(tbuf, 24), "XSDT");
	REQUIRE(xsdt);
	fadt = xsdt_find(xsdt, "FACP");
	REQUIRE(fadt);
	CHECK_EQ_U64(get32(fadt, 4), 276);
	CHECK_EQ_U64(fadt[8], 6);
	CHECK_EQ_U64(get16(fadt, 46), ACPI_SCI_IRQ);
	CHECK_EQ_U64(get32(fadt, 48), 0);              /* no SMI command: always ACPI mode */
	CHECK_EQ_U64(get32(fadt, 56), ACPI_PM1_PORT);
	CHECK_EQ_U64(get32(fadt, 64), ACPI_PM1_PORT + 4);
	CHECK_EQ_U64(fadt[88], 4);
	CHECK_EQ_U64(fadt[89], 2);
	CHECK_EQ_U64(get16(fadt, 109) & 3, 3);         /* legacy devices and an 8042 */
	CHECK_EQ_U64(get32(fadt, 112) & (1u << 20), 0); /* not hardware-reduced */
	CHECK(get32(fadt, 112) & (1u << 10));          /* reset register supported */
	CHECK_EQ_U64(fadt[116], 1);                    /* system I/O */
	CHECK_EQ_U64(get64(fadt, 120), 0x64);
	CHECK_EQ_U64(fadt[128], 0xfe);
	CHECK_EQ_U64(get64(fadt, 148 + 4), ACPI_PM1_PORT);   /* X_PM1a_EVT_BLK */
	CHECK_EQ_U64(fadt[148 + 1], 32);
	CHECK_EQ_U64(get64(fadt, 172 + 4), ACPI_PM1_PORT + 4);
	CHECK_EQ_U64(fadt[172 + 1], 16);
	CHECK_EQ_U64(get64(fadt, 140), get32(fadt, 40));
	CHECK_EQ_U64(get32(fadt, 36), 0);             /* only X_FIRMWARE_CTRL is set */
	facs = at(get64(fadt, 132), 64);
	REQUIRE(facs);
	CHECK(memcmp(facs, "FACS", 4) == 0);
	CHECK_EQ_U64(get64(fadt, 132) % 64, 0);
	dsdt = table(get64(fadt, 140), "DSDT");
	REQUIRE(dsdt);
	CHECK(memmem(dsdt, get32(dsdt, 4), "LNRO0005", 8) != NULL);
	CHECK(memmem(dsdt, get32(dsdt, 4), "_S5_", 4) != NULL);
}

static unsigned int count(const uint8_t *p, size_t n, const char *s)
{
	unsigned int k = 0;
	size_t l = strlen(s);

	for (size_t i = 0; i + l <= n; i++)
		k += memcmp(p + i, s, l) == 0;
	return k;
}

TEST(acpi_dsdt_one_device_per_window)
{
	struct acpi_virtio v[ACPI_MAX_VIRTIO];
	const uint8_t *fadt, *dsdt;

	for (unsigned int i = 0; i < ACPI_MAX_VIRTIO; i++)
		v[i] = (struct acpi_virtio){ 0xd0000000 + i * 0x1000ULL, 0x1000, 5 + i };
	for (unsigned int n = 0; n <= ACPI_MAX_VIRTIO; n += 8) {
		struct acpi_config c = { .ncpus = 1, .virtio = v, .nvirtio = n };

		REQUIRE(acpi_build(tbuf, sizeof(tbuf), GPA, &c) > 0);
		fadt = xsdt_find(table(get64(tbuf, 24), "XSDT"), "FACP");
		REQUIRE(fadt);
		dsdt = table(get32(fadt, 40), "DSDT");
		REQUIRE(dsdt);
		CHECK_EQ_U64(count(dsdt, get32(dsdt, 4), "LNRO0005"), n);
		for (unsigned int i = 0; i < n; i++) {
			uint8_t res[12] = { 0x86, 9, 0, 1 };

			memcpy(res + 4, &v[i].base, 4);
			memcpy(res + 8, &v[i].size, 4);
			CHECK(memmem(dsdt, get32(dsdt, 4), res, sizeof(res)) != NULL);
		}
	}
}

TEST(acpi_madt_cpus_ioapic_and_overrides)
{
	for (unsigned int ncpus = 1; ncpus <= 254; ncpus += 253) {
		struct acpi_config c = { .ncpus = ncpus };
		const uint8_t *madt;
		unsigned int lapics = 0, ioapics = 0, isos = 0, nmis = 0;
		size_t off;

		REQUIRE(acpi_build(tbuf, sizeof(tbuf), GPA, &c) > 0);
		madt = xsdt_find(table(get64(tbuf, 24), "XSDT"), "APIC");
		REQUIRE(madt);
		CHECK_EQ_U64(get32(madt, 36), LAYOUT_LAPIC);
		CHECK_EQ_U64(get32(madt, 40), 1);
		for (off = 44; off + 2 <= get32(madt, 4); off += madt[off + 1]) {
			REQUIRE(madt[off + 1] >= 2);
			switch (madt[off]) {
			case 0:
				CHECK_EQ_U64(madt[off + 3], lapics);  /* APIC ID = vCPU index */
				CHECK_EQ_U64(get32(madt, off + 4), 1);
				lapics++;
				break;
			case 1:
				CHECK_EQ_U64(madt[off + 2], ncpus);
				CHECK_EQ_U64(get32(madt, off + 4), LAYOUT_IOAPIC);
				ioapics++;
				break;
			case 2:
				CHECK_EQ_U64(madt[off + 3], ACPI_SCI_IRQ);
				isos++;
				break;
			case 4:
				CHECK_EQ_U64(madt[off + 5], 1);
				nmis++;
				break;
			default:
				CHECK(0);
			}
		}
		CHECK_EQ_U64(off, get32(madt, 4));
		CHECK_EQ_U64(lapics, ncpus);
		CHECK_EQ_U64(ioapics, 1);
		CHECK_EQ_U64(isos, 1);
		CHECK_EQ_U64(nmis, 1);
	}
}

TEST(acpi_bad_configs_and_small_buffers)
{
	struct acpi_virtio high = { 0xfffff800, 0x1000, 5 };
	struct acpi_config c = { .ncpus = 0 };

	CHECK_EQ_INT(acpi_build(tbuf, sizeof(tbuf), GPA, &c), -EINVAL);
	c.ncpus = 255;
	CHECK_EQ_INT(acpi_build(tbuf, sizeof(tbuf), GPA, &c), -EINVAL);
	c.ncpus = 1;
	c.nvirtio = ACPI_MAX_VIRTIO + 1;
	c.virtio = three;
	CHECK_EQ_INT(acpi_build(tbuf, sizeof(tbuf), GPA, &c), -EINVAL);
	c.nvirtio = 1;
	c.virtio = &high;
	CHECK_EQ_INT(acpi_build(tbuf, sizeof(tbuf), GPA, &c), -EINVAL);
	c.virtio = three;
	for (size_t len = 0; len < 700; len += 50)
		CHECK_EQ_INT(acpi_build(tbuf, len, GPA, &c), -ENOSPC);
}

TEST(acpi_write_sets_rsdp_in_zero_page_and_fits_bios_area)
{
	struct guest_mem m;
	struct acpi_config c = { .ncpus = 254, .virtio = three, .nvirtio = 3 };
	struct boot_params *bp;
	const uint8_t *rsdp;

	REQUIRE_EQ_INT(guest_mem_init(&m, 16 << 20), 0);
	REQUIRE_EQ_INT(acpi_write(&m, &c), 0);
	bp = guest_mem_ptr(&m, LAYOUT_ZERO_PAGE, sizeof(*bp));
	REQUIRE(bp);
	CHECK_EQ_U64(bp->acpi_rsdp_addr, LAYOUT_ACPI_START);
	rsdp = guest_mem_ptr(&m, bp->acpi_rsdp_addr, 36);
	REQUIRE(rsdp);
	CHECK(memcmp(rsdp, "RSD PTR ", 8) == 0);
	/* Linux's fallback scan looks at 16-byte boundaries of 0xe0000-0xfffff. */
	CHECK(LAYOUT_ACPI_START >= 0xe0000 && LAYOUT_ACPI_START % 16 == 0);
	guest_mem_free(&m);
}

/* ---- PM1 registers ---- */

static unsigned int poweroffs;
static void count_poweroff(void *ctx)
{
	(void)ctx;
	poweroffs++;
}

static uint16_t rd16(struct acpi_pm *p, uint64_t off)
{
	uint8_t b[2];

	acpi_pm_read(p, off, b, 2);
	return (uint16_t)(b[0] | b[1] << 8);
}

static void wr16(struct acpi_pm *p, uint64_t off, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)v, (uint8_t)(v >> 8) };

	acpi_pm_write(p, off, b, 2);
}

TEST(acpi_pm_sci_en_status_and_enable)
{
	struct acpi_pm p;

	acpi_pm_init(&p, 5, count_poweroff, NULL);
	CHECK_EQ_U64(rd16(&p, 4) & ACPI_PM1_SCI_EN, ACPI_PM1_SCI_EN);
	wr16(&p, 4, 0);                         /* SCI_EN cannot be cleared */
	CHECK_EQ_U64(rd16(&p, 4) & ACPI_PM1_SCI_EN, ACPI_PM1_SCI_EN);
	wr16(&p, 0, 0xffff);                    /* write-1-to-clear status: stays 0 */
	CHECK_EQ_U64(rd16(&p, 0), 0);
	wr16(&p, 2, 0x0120);
	CHECK_EQ_U64(rd16(&p, 2), 0x0120);
	acpi_pm_destroy(&p);
}

TEST(acpi_pm_s5_powers_off_other_sleeps_ignored)
{
	struct acpi_pm p;
	uint8_t hi;

	poweroffs = 0;
	acpi_pm_init(&p, 5, count_poweroff, NULL);
	wr16(&p, 4, (uint16_t)(5 << ACPI_PM1_SLP_TYP_SHIFT));          /* no SLP_EN */
	CHECK_EQ_U64(poweroffs, 0);
	CHECK_EQ_U64((rd16(&p, 4) & ACPI_PM1_SLP_TYP_MASK) >> ACPI_PM1_SLP_TYP_SHIFT, 5);
	wr16(&p, 4, (uint16_t)(3 << ACPI_PM1_SLP_TYP_SHIFT | ACPI_PM1_SLP_EN));
	CHECK_EQ_U64(poweroffs, 0);
	CHECK_EQ_U64(p.sleeps_ignored, 1);
	CHECK_EQ_U64(rd16(&p, 4) & ACPI_PM1_SLP_EN, 0);                 /* write-only bit */
	/* A byte write of the high half, as some OSes do. */
	hi = (uint8_t)((5 << ACPI_PM1_SLP_TYP_SHIFT | ACPI_PM1_SLP_EN) >> 8);
	acpi_pm_write(&p, 5, &hi, 1);
	CHECK_EQ_U64(poweroffs, 1);
	wr16(&p, 4, (uint16_t)(5 << ACPI_PM1_SLP_TYP_SHIFT | ACPI_PM1_SLP_EN));
	CHECK_EQ_U64(poweroffs, 2);
	acpi_pm_destroy(&p);
}

TEST(acpi_pm_odd_accesses_stay_in_range)
{
	struct acpi_pm p;
	uint8_t b[4] = { 0xff, 0xff, 0xff, 0xff };

	poweroffs = 0;
	acpi_pm_init(&p, 5, count_poweroff, NULL);
	acpi_pm_write(&p, 3, b, 4);    /* enable high byte + control, SLP_TYP 7 + SLP_EN */
	CHECK_EQ_U64(poweroffs, 0);
	CHECK_EQ_U64(p.sleeps_ignored, 1);
	acpi_pm_read(&p, 5, b, 4);     /* runs past the block: reserved bytes read 0 */
	CHECK_EQ_U64(b[1], 0);
	CHECK_EQ_U64(b[3], 0);
	acpi_pm_destroy(&p);
}
