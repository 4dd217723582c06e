#include "arch/x86/mptable.h"

#include <errno.h>
#include <string.h>

#include "arch/x86/layout.h"
#include "util/err.h"

struct __attribute__((packed)) mpf_intel {    /* floating pointer, 16 bytes */
	char signature[4];  /* "_MP_" */
	uint32_t physptr;
	uint8_t length;     /* in 16-byte units: 1 */
	uint8_t specification;
	uint8_t checksum;
	uint8_t feature1;   /* 0: a configuration table is present */
	uint8_t feature2;
	uint8_t feature3[3];
};

struct __attribute__((packed)) mpc_table {    /* configuration table header, 44 bytes */
	char signature[4];  /* "PCMP" */
	uint16_t length;
	uint8_t spec;
	uint8_t checksum;
	char oem[8];
	char productid[12];
	uint32_t oemptr;
	uint16_t oemsize;
	uint16_t oemcount;
	uint32_t lapic;
	uint16_t reserved_len;
	uint8_t reserved_checksum;
	uint8_t reserved;
};

struct __attribute__((packed)) mpc_cpu {
	uint8_t type;
	uint8_t apicid;
	uint8_t apicver;
	uint8_t cpuflag;
	uint32_t cpufeature;
	uint32_t featureflag;
	uint32_t reserved[2];
};

struct __attribute__((packed)) mpc_bus {
	uint8_t type;
	uint8_t busid;
	char bustype[6];
};

struct __attribute__((packed)) mpc_ioapic {
	uint8_t type;
	uint8_t apicid;
	uint8_t apicver;
	uint8_t flags;
	uint32_t apicaddr;
};

struct __attribute__((packed)) mpc_intsrc {   /* also used for local interrupt entries */
	uint8_t type;
	uint8_t irqtype;
	uint16_t irqflag;
	uint8_t srcbus;
	uint8_t srcbusirq;
	uint8_t dstapic;
	uint8_t dstirq;
};

_Static_assert(sizeof(struct mpf_intel) == 16, "mpf");
_Static_assert(sizeof(struct mpc_table) == 44, "mpc");
_Static_assert(sizeof(struct mpc_cpu) == 20, "cpu");
_Static_assert(sizeof(struct mpc_intsrc) == 8, "intsrc");

enum { MP_PROCESSOR = 0, MP_BUS = 1, MP_IOAPIC = 2, MP_INTSRC = 3, MP_LINTSRC = 4 };
enum { MP_INT = 0, MP_NMI = 1, MP_EXTINT = 3 };
#define CPU_ENABLED 1
#define CPU_BOOTPROCESSOR 2
#define APIC_VERSION 0x14
#define IOAPIC_VERSION 0x11
#define CPU_SIGNATURE 0x600     /* family 6 */
#define CPU_FEATURES 0x201      /* FPU, APIC */
#define ISA_BUS 0

static uint8_t checksum(const uint8_t *p, size_t n)
{
	uint8_t sum = 0;

	while (n--)
		sum = (uint8_t)(sum + *p++);
	return (uint8_t)(0 - sum);
}

size_t mptable_size(unsigned int ncpus)
{
	return sizeof(struct mpf_intel) + sizeof(struct mpc_table) +
	       ncpus * sizeof(struct mpc_cpu) + sizeof(struct mpc_bus) +
	       sizeof(struct mpc_ioapic) + MPTABLE_IRQS * sizeof(struct mpc_intsrc) +
	       2 * sizeof(struct mpc_intsrc);
}

long mptable_build(uint8_t *buf, size_t len, uint64_t gpa, unsigned int ncpus)
{
	size_t total = mptable_size(ncpus);
	struct mpf_intel mpf;
	struct mpc_table mpc;
	uint8_t *p;
	uint8_t ioapic_id = (uint8_t)ncpus;

	if (ncpus == 0 || ncpus > MPTABLE_MAX_CPUS)
		return -EINVAL;
	if (len < total)
		return -ENOSPC;
	memset(buf, 0, total);

	/* Entries follow the header; build them first, the header's checksum covers them. */
	p = buf + sizeof(mpf) + sizeof(mpc);
	for (unsigned int i = 0; i < ncpus; i++) {
		struct mpc_cpu c = {
			.type = MP_PROCESSOR, .apicid = (uint8_t)i, .apicver = APIC_VERSION,
			.cpuflag = (uint8_t)(CPU_ENABLED | (i == 0 ? CPU_BOOTPROCESSOR : 0)),
			.cpufeature = CPU_SIGNATURE, .featureflag = CPU_FEATURES,
		};
		memcpy(p, &c, sizeof(c));
		p += sizeof(c);
	}
	struct mpc_bus bus = { .type = MP_BUS, .busid = ISA_BUS, .bustype = "ISA   " };
	memcpy(p, &bus, sizeof(bus));
	p += sizeof(bus);
	struct mpc_ioapic io = {
		.type = MP_IOAPIC, .apicid = ioapic_id, .apicver = IOAPIC_VERSION, .flags = 1,
		.apicaddr = (uint32_t)LAYOUT_IOAPIC,
	};
	memcpy(p, &io, sizeof(io));
	p += sizeof(io);
	/* KVM's default routing sends GSI n to IOAPIC pin n (and PIC IRQ n for n < 16): say
	 * exactly that, ISA IRQ n on pin n, conforming polarity and trigger. */
	for (unsigned int irq = 0; irq < MPTABLE_IRQS; irq++) {
		struct mpc_intsrc s = {
			.type = MP_INTSRC, .irqtype = MP_INT, .irqflag = 0, .srcbus = ISA_BUS,
			.srcbusirq = (uint8_t)irq, .dstapic = ioapic_id, .dstirq = (uint8_t)irq,
		};
		memcpy(p, &s, sizeof(s));
		p += sizeof(s);
	}
	/* LINT0 of every LAPIC is ExtINT (the PIC's virtual wire), LINT1 is NMI. */
	struct mpc_intsrc lint0 = {
		.type = MP_LINTSRC, .irqtype = MP_EXTINT, .srcbus = ISA_BUS, .dstapic = 0xff,
		.dstirq = 0,
	};
	struct mpc_intsrc lint1 = {
		.type = MP_LINTSRC, .irqtype = MP_NMI, .srcbus = ISA_BUS, .dstapic = 0xff,
		.dstirq = 1,
	};
	memcpy(p, &lint0, sizeof(lint0));
	p += sizeof(lint0);
	memcpy(p, &lint1, sizeof(lint1));
	p += sizeof(lint1);

	memset(&mpc, 0, sizeof(mpc));
	memcpy(mpc.signature, "PCMP", 4);
	mpc.length = (uint16_t)(total - sizeof(mpf));
	mpc.spec = 4;
	memcpy(mpc.oem, "EMBER   ", 8);
	memcpy(mpc.productid, "MICROVM     ", 12);
	mpc.oemcount = (uint16_t)(ncpus + 1 + 1 + MPTABLE_IRQS + 2);
	mpc.lapic = (uint32_t)LAYOUT_LAPIC;
	memcpy(buf + sizeof(mpf), &mpc, sizeof(mpc));
	buf[sizeof(mpf) + offsetof(struct mpc_table, checksum)] =
		checksum(buf + sizeof(mpf), mpc.length);

	memset(&mpf, 0, sizeof(mpf));
	memcpy(mpf.signature, "_MP_", 4);
	mpf.physptr = (uint32_t)(gpa + sizeof(mpf));
	mpf.length = 1;
	mpf.specification = 4;
	memcpy(buf, &mpf, sizeof(mpf));
	buf[offsetof(struct mpf_intel, checksum)] = checksum(buf, sizeof(mpf));
	return (long)total;
}

int mptable_write(const struct guest_mem *m, unsigned int ncpus)
{
	size_t size = mptable_size(ncpus);
	uint8_t *dst = guest_mem_ptr(m, LAYOUT_BIOS_START, size);
	long r;

	if (!dst)
		return err_set(-ENOMEM, "guest RAM too small for the MP table");
	r = mptable_build(dst, size, LAYOUT_BIOS_START, ncpus);
	if (r < 0)
		return err_set((int)r, "cannot build an MP table for %u vCPUs (at most %d)", ncpus,
			       MPTABLE_MAX_CPUS);
	return 0;
}
