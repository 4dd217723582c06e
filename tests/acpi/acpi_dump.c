/* Writes the ACPI tables Ember builds for a given machine to DIR/<sig>.dat, one file per
 * table, for ACPICA's tools (tests/acpi/run.sh). Usage: acpi_dump DIR NCPUS NVIRTIO */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/acpi.h"
#include "arch/x86/layout.h"

static uint8_t buf[LAYOUT_ACPI_END - LAYOUT_ACPI_START];

static int dump(const char *dir, uint64_t gpa)
{
	const uint8_t *t = buf + (gpa - LAYOUT_ACPI_START);
	uint32_t len;
	char path[512], sig[5] = { 0 };
	FILE *f;

	memcpy(sig, t, 4);
	memcpy(&len, t + 4, 4);
	snprintf(path, sizeof(path), "%s/%s.dat", dir, sig);
	f = fopen(path, "wb");
	if (!f || fwrite(t, 1, len, f) != len) {
		fprintf(stderr, "acpi_dump: %s: %s\n", path, strerror(errno));
		if (f)
			fclose(f);
		return -1;
	}
	return fclose(f) ? -1 : 0;
}

int main(int argc, char **argv)
{
	struct acpi_virtio v[ACPI_MAX_VIRTIO];
	struct acpi_config c;
	uint64_t xsdt, fadt, dsdt;
	long n;

	if (argc != 4) {
		fprintf(stderr, "usage: acpi_dump DIR NCPUS NVIRTIO\n");
		return 2;
	}
	c.ncpus = (unsigned int)strtoul(argv[2], NULL, 0);
	c.nvirtio = (unsigned int)strtoul(argv[3], NULL, 0);
	c.virtio = v;
	for (unsigned int i = 0; i < ACPI_MAX_VIRTIO; i++)
		v[i] = (struct acpi_virtio){ 0xd0000000 + i * 0x1000ULL, 0x1000, 5 + i };
	n = acpi_build(buf, sizeof(buf), LAYOUT_ACPI_START, &c);
	if (n < 0) {
		fprintf(stderr, "acpi_dump: acpi_build: %s\n", strerror((int)-n));
		return 1;
	}
	memcpy(&xsdt, buf + 24, 8);
	memcpy(&fadt, buf + (xsdt - LAYOUT_ACPI_START) + 36, 8);
	memcpy(&dsdt, buf + (fadt - LAYOUT_ACPI_START) + 140, 8);
	if (dump(argv[1], xsdt) || dump(argv[1], fadt) || dump(argv[1], dsdt))
		return 1;
	{
		uint64_t madt;

		memcpy(&madt, buf + (xsdt - LAYOUT_ACPI_START) + 44, 8);
		if (dump(argv[1], madt))
			return 1;
	}
	return 0;
}
