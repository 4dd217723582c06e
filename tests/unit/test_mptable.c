/* The MP table, parsed here at the byte offsets of the Intel MultiProcessor Specification
 * 1.4 (chapter 4): floating pointer structure (16 bytes), configuration table header (44
 * bytes), then entries ordered by type: processor (20 bytes), bus, I/O APIC, I/O
 * interrupt assignment, local interrupt assignment (8 bytes each). */
#include <errno.h>
#include <string.h>

#include "harness.h"
#include "arch/x86/layout.h"
#include "arch/x86/mptable.h"
#include "mem/guest_mem.h"

static uint8_t sum8(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s = (uint8_t)(s + *p++);
	return s;
}

#define BASE_GPA 0xf0000ULL
static uint8_t buf[16384];

static void check_table(unsigned int ncpus)
{
	long used;
	const uint8_t *f = buf, *c, *e, *end;
	unsigned int count[5] = { 0 }, entries = 0, last_type = 0;
	unsigned int bsp = 0, ioapic_id = 0x100, irq_seen[24] = { 0 }, lint_seen[2] = { 0 };
	uint8_t cpu_seen[256] = { 0 };

	memset(buf, 0xee, sizeof(buf));
	used = mptable_build(buf, sizeof(buf), BASE_GPA, ncpus);
	REQUIRE(used > 0);
	CHECK_EQ_U64((size_t)used, mptable_size(ncpus));
	/* Nothing written past the bytes it reports. */
	CHECK_EQ_U64(buf[used], 0xee);

	/* Floating pointer. */
	CHECK_MEM_EQ(f, "_MP_", 4);
	CHECK_EQ_U64(f[8], 1);          /* length in 16-byte units */
	CHECK_EQ_U64(f[9], 4);          /* spec revision 1.4 */
	CHECK_EQ_U64(sum8(f, 16), 0);
	CHECK_EQ_U64(f[11], 0);         /* feature byte 1: 0 = a configuration table exists */
	uint32_t phys = get32(f, 4);
	REQUIRE(phys >= BASE_GPA + 16 && phys - BASE_GPA + 44 <= (uint64_t)used);

	/* Configuration table header. */
	c = buf + (phys - BASE_GPA);
	CHECK_MEM_EQ(c, "PCMP", 4);
	uint16_t len = get16(c, 4);
	REQUIRE(len >= 44 && (size_t)(c - buf) + len <= (size_t)used);
	CHECK_EQ_U64(c[6], 4);          /* spec revision 1.4 */
	CHECK_EQ_U64(sum8(c, len), 0);
	CHECK_EQ_U64(get32(c, 36), 0xfee00000);   /* local APIC address */
	CHECK_EQ_U64(get16(c, 40), 0);            /* no extended table */

	/* Entries. */
	e = c + 44;
	end = c + len;
	while (e < end) {
		unsigned int type = e[0];
		size_t size = type == 0 ? 20 : 8;

		if (!CHECK(type <= 4) || !CHECK(e + size <= end))
			return;
		CHECK(type >= last_type);   /* ascending by type */
		last_type = type;
		count[type]++;
		entries++;
		switch (type) {
		case 0:   /* processor */
			if (e[3] & 1)
				cpu_seen[e[1]]++;
			CHECK(e[3] & 1);    /* enabled */
			if (e[3] & 2) {
				bsp++;
				CHECK_EQ_U64(e[1], 0);   /* the BSP is CPU 0 */
			}
			CHECK_NE_U64(e[2], 0);       /* some local APIC version */
			break;
		case 1:   /* bus */
			CHECK_EQ_U64(e[1], 0);
			CHECK_MEM_EQ(e + 2, "ISA   ", 6);
			break;
		case 2:   /* I/O APIC */
			ioapic_id = e[1];
			CHECK(e[3] & 1);
			CHECK_EQ_U64(get32(e, 4), 0xfec00000);
			break;
		case 3:   /* I/O interrupt: ISA IRQ n -> IOAPIC pin n */
			CHECK_EQ_U64(e[1], 0);       /* INT */
			CHECK_EQ_U64(e[4], 0);       /* source bus: ISA */
			CHECK_EQ_U64(e[5], e[7]);
			CHECK_EQ_U64(e[6], ncpus);   /* the IOAPIC's ID */
			if (e[7] < 24)
				irq_seen[e[7]]++;
			break;
		case 4:   /* local interrupt */
			CHECK_EQ_U64(e[6], 0xff);    /* all local APICs */
			if (e[7] < 2) {
				lint_seen[e[7]]++;
				CHECK_EQ_U64(e[1], e[7] == 0 ? 3 : 1);  /* LINT0 ExtINT, LINT1 NMI */
			}
			break;
		}
		e += size;
	}
	CHECK(e == end);
	CHECK_EQ_U64(get16(c, 34), entries);
	CHECK_EQ_U64(count[0], ncpus);
	for (unsigned int i = 0; i < ncpus; i++)
		if (!CHECK_EQ_U64(cpu_seen[i], 1))
			break;
	CHECK_EQ_U64(bsp, 1);
	CHECK_EQ_U64(count[1], 1);
	CHECK_EQ_U64(count[2], 1);
	CHECK_EQ_U64(ioapic_id, ncpus);   /* after the last APIC ID, never 0xff */
	CHECK(ioapic_id != 0xff);
	CHECK_EQ_U64(count[3], 24);
	for (unsigned int i = 0; i < 24; i++)
		CHECK_EQ_U64(irq_seen[i], 1);
	CHECK_EQ_U64(count[4], 2);
	CHECK_EQ_U64(lint_seen[0], 1);
	CHECK_EQ_U64(lint_seen[1], 1);
	/* The size formula: 16 + 44 + 20 per CPU + 8 per other entry. */
	CHECK_EQ_U64(mptable_size(ncpus), 16 + 44 + 20 * ncpus + 8 * (1 + 1 + 24 + 2));
}

TEST(table_1_cpu)
{
	check_table(1);
}

TEST(table_2_cpus)
{
	check_table(2);
}

TEST(table_4_cpus)
{
	check_table(4);
}

TEST(table_64_cpus)
{
	check_table(64);
}

TEST(table_254_cpus)
{
	check_table(254);
}

TEST(physptr_follows_gpa)
{
	long used = mptable_build(buf, sizeof(buf), 0x9fc00, 2);

	REQUIRE(used > 0);
	CHECK_EQ_U64(get32(buf, 4), 0x9fc00 + 16);
	CHECK_EQ_U64(sum8(buf, 16), 0);
}

TEST(cpu_count_out_of_range)
{
	CHECK_EQ_INT(mptable_build(buf, sizeof(buf), BASE_GPA, 0), -EINVAL);
	CHECK_EQ_INT(mptable_build(buf, sizeof(buf), BASE_GPA, 255), -EINVAL);
	CHECK_EQ_INT(mptable_build(buf, sizeof(buf), BASE_GPA, 1000), -EINVAL);
}

TEST(small_buffer_enospc_and_untouched)
{
	size_t need = mptable_size(4);

	memset(buf, 0xee, sizeof(buf));
	CHECK_EQ_INT(mptable_build(buf, need - 1, BASE_GPA, 4), -ENOSPC);
	CHECK_EQ_U64(buf[0], 0xee);
	CHECK_EQ_INT(mptable_build(buf, 0, BASE_GPA, 1), -ENOSPC);
	CHECK_EQ_INT(mptable_build(buf, need, BASE_GPA, 4), (long)need);
}

TEST(largest_table_fits_in_bios_area)
{
	/* The table lives in [0xf0000, 0x100000), which e820 reserves; the kernel starts at
	 * 1 MiB at the lowest. */
	CHECK(LAYOUT_BIOS_START + mptable_size(MPTABLE_MAX_CPUS) <= LAYOUT_HIMEM_START);
	CHECK_EQ_U64(MPTABLE_MAX_CPUS, 254);
}

TEST(write_into_guest_memory)
{
	static uint8_t ram[2 * 1024 * 1024];
	struct guest_mem m;

	guest_mem_init_from(&m, ram, sizeof(ram));
	REQUIRE_EQ_INT(mptable_write(&m, 3), 0);
	CHECK_MEM_EQ(ram + 0xf0000, "_MP_", 4);
	CHECK_EQ_U64(get32(ram + 0xf0000, 4), 0xf0010);
	CHECK_MEM_EQ(ram + 0xf0010, "PCMP", 4);
	CHECK_EQ_U64(sum8(ram + 0xf0010, get16(ram + 0xf0010, 4)), 0);
	CHECK(mptable_write(&m, 0) < 0);
	/* Too little RAM to hold it. */
	guest_mem_init_from(&m, ram, 0xf0000 + 16);
	CHECK(mptable_write(&m, 1) < 0);
}
