/* Per-vCPU CPUID over synthetic KVM_GET_SUPPORTED_CPUID arrays. Expectations from the
 * Intel SDM's CPUID description (leaves 1, 4, 6, 0xb/0x1f) and AMD's APM (0x80000008,
 * 0x8000001e), for the topology Ember describes: one package, ncpus cores, one thread per
 * core, APIC IDs 0..ncpus-1 (as in the MP table). */
#include <string.h>

#include "harness.h"
#include "arch/x86/cpuid.h"

/* Host-like values the filter starts from. */
static void host_entries(struct kvm_cpuid_entry2 *e, unsigned int *n)
{
	unsigned int i = 0;

	memset(e, 0, 32 * sizeof(*e));
	e[i++] = (struct kvm_cpuid_entry2){ .function = 0, .eax = 0x1f, .ebx = 0x756e6547,
					    .ecx = 0x6c65746e, .edx = 0x49656e69 };
	/* Leaf 1: EBX = APIC ID 0x17, 8 logical, CLFLUSH 8, brand 0x05; HTT set; ECX without
	 * the hypervisor bit. */
	e[i++] = (struct kvm_cpuid_entry2){ .function = 1, .eax = 0x000906ea,
					    .ebx = 0x17080805, .ecx = 0x7ffafbff,
					    .edx = 0xbfebfbff };
	/* Leaf 4: L1d, L1i, L2, L3, then the terminating subleaf (type 0). EAX bits 13:0
	 * hold type (4:0), level (7:5), self-init (8), fully assoc. (9). Host says 8
	 * cores (EAX[31:26] = 7) and 2 threads per L1/L2 (EAX[25:14] = 1), 16 per L3. */
	e[i++] = (struct kvm_cpuid_entry2){ .function = 4, .index = 0, .flags = 1,
					    .eax = (7u << 26) | (1u << 14) | 0x121,
					    .ebx = 0x01c0003f, .ecx = 0x3f, .edx = 0 };
	e[i++] = (struct kvm_cpuid_entry2){ .function = 4, .index = 1, .flags = 1,
					    .eax = (7u << 26) | (1u << 14) | 0x122,
					    .ebx = 0x01c0003f, .ecx = 0x3f, .edx = 0 };
	e[i++] = (struct kvm_cpuid_entry2){ .function = 4, .index = 2, .flags = 1,
					    .eax = (7u << 26) | (1u << 14) | 0x143,
					    .ebx = 0x00c0003f, .ecx = 0x3ff, .edx = 0 };
	e[i++] = (struct kvm_cpuid_entry2){ .function = 4, .index = 3, .flags = 1,
					    .eax = (7u << 26) | (15u << 14) | 0x163,
					    .ebx = 0x03c0003f, .ecx = 0x2fff, .edx = 0x6 };
	e[i++] = (struct kvm_cpuid_entry2){ .function = 4, .index = 4, .flags = 1,
					    .eax = 0x0, .ebx = 0, .ecx = 0, .edx = 0 };
	e[i++] = (struct kvm_cpuid_entry2){ .function = 6, .eax = 0x4, .ecx = 0x1 };
	e[i++] = (struct kvm_cpuid_entry2){ .function = 7, .index = 0, .flags = 1,
					    .ebx = 0x029c6fbf, .ecx = 0x40000000,
					    .edx = 0xbc000400 };
	/* Leaf 0xb: host values (2 threads, 16 logical) to be replaced. */
	for (uint32_t s = 0; s < 3; s++)
		e[i++] = (struct kvm_cpuid_entry2){ .function = 0xb, .index = s, .flags = 1,
						    .eax = s == 0 ? 1 : s == 1 ? 4 : 0,
						    .ebx = s == 0 ? 2 : s == 1 ? 16 : 0,
						    .ecx = s < 2 ? ((s + 1) << 8) | s : s,
						    .edx = 0x17 };
	e[i++] = (struct kvm_cpuid_entry2){ .function = 0x1f, .index = 1, .flags = 1,
					    .eax = 4, .ebx = 16, .ecx = 0x201, .edx = 0x17 };
	e[i++] = (struct kvm_cpuid_entry2){ .function = 0x80000001, .ecx = 0x121,
					    .edx = 0x2c100800 };
	/* 0x80000008: EAX address sizes; ECX[7:0] NC, [15:12] ApicIdSize, [17:16]
	 * PerfTscSize. Host: 16 cores, size 5, PerfTscSize 2. */
	e[i++] = (struct kvm_cpuid_entry2){ .function = 0x80000008, .eax = 0x3030,
					    .ebx = 0x0100d000, .ecx = (2u << 16) | (5u << 12) | 15,
					    .edx = 0 };
	e[i++] = (struct kvm_cpuid_entry2){ .function = 0x8000001e, .eax = 0x22,
					    .ebx = 0x0103, .ecx = 0x0301, .edx = 0 };
	*n = i;
}

static struct kvm_cpuid_entry2 *find(struct kvm_cpuid_entry2 *e, unsigned int n,
				     uint32_t fn, uint32_t idx)
{
	for (unsigned int i = 0; i < n; i++)
		if (e[i].function == fn && e[i].index == idx)
			return &e[i];
	return NULL;
}

/* Like find, for entries the test put there itself: a missing one is a failure, and a
 * zero entry stands in for it. */
static struct kvm_cpuid_entry2 *get(struct kvm_cpuid_entry2 *e, unsigned int n, uint32_t fn,
				    uint32_t idx)
{
	static struct kvm_cpuid_entry2 none;
	struct kvm_cpuid_entry2 *x = find(e, n, fn, idx);

	if (x)
		return x;
	FAIL("no CPUID entry 0x%x.%u", fn, idx);
	memset(&none, 0, sizeof(none));
	return &none;
}

/* Bits needed to number ncpus APIC IDs, counted the slow way. */
static unsigned int bits_for(unsigned int ncpus)
{
	unsigned int b = 0;

	while ((1u << b) < ncpus)
		b++;
	return b;
}

static void check_vcpu(unsigned int cpu, unsigned int ncpus)
{
	struct kvm_cpuid_entry2 h[32], e[32], *x, *o;
	unsigned int n;

	host_entries(h, &n);
	memcpy(e, h, sizeof(h));
	cpuid_filter(e, n, cpu, ncpus);

	/* Leaf 1 */
	x = find(e, n, 1, 0);
	o = find(h, n, 1, 0);
	REQUIRE(x && o);
	CHECK_EQ_U64(x->ebx >> 24, cpu);                       /* initial APIC ID */
	CHECK_EQ_U64(x->ebx & 0xffff, o->ebx & 0xffff);        /* brand, CLFLUSH size */
	CHECK(x->ecx & (1u << 31));                            /* hypervisor */
	CHECK_EQ_U64(x->ecx & 0x7fffffff, o->ecx & 0x7fffffff);
	CHECK_EQ_U64(x->eax, o->eax);
	if (ncpus > 1) {
		CHECK(x->edx & (1u << 28));                    /* HTT: EBX[23:16] valid */
		CHECK_EQ_U64((x->ebx >> 16) & 0xff, ncpus);    /* logical processors */
	} else {
		CHECK(!(x->edx & (1u << 28)));
	}
	CHECK_EQ_U64(x->edx & ~(1u << 28), o->edx & ~(1u << 28));

	/* Leaf 4: cores per package and cache sharing; the rest untouched. */
	for (uint32_t s = 0; s < 4; s++) {
		x = find(e, n, 4, s);
		o = find(h, n, 4, s);
		REQUIRE(x && o);
		unsigned int level = (o->eax >> 5) & 7;

		CHECK_EQ_U64((x->eax >> 26) + 1, ncpus);
		/* One thread per core: L1/L2 are private, the L3 is the package's. */
		CHECK_EQ_U64(((x->eax >> 14) & 0xfff) + 1, level >= 3 ? ncpus : 1);
		CHECK_EQ_U64(x->eax & 0x3fff, o->eax & 0x3fff);
		CHECK_EQ_U64(x->ebx, o->ebx);
		CHECK_EQ_U64(x->ecx, o->ecx);
		CHECK_EQ_U64(x->edx, o->edx);
	}
	/* The terminating subleaf (type 0) stays all zero. */
	x = find(e, n, 4, 4);
	REQUIRE(x);
	CHECK_EQ_U64(x->eax, 0);

	/* Leaf 0xb and 0x1f: level 0 SMT with 1 thread, level 1 core with ncpus; the x2APIC
	 * ID in EDX of every subleaf. */
	for (uint32_t fn = 0xb; fn <= 0x1f; fn += 0x14) {
		for (uint32_t s = 0; s < 3; s++) {
			x = find(e, n, fn, s);
			if (!x)
				continue;
			CHECK_EQ_U64(x->edx, cpu);
			CHECK_EQ_U64(x->ecx & 0xff, s);            /* level number echoes */
			if (s == 0) {
				CHECK_EQ_U64((x->ecx >> 8) & 0xff, 1);   /* SMT */
				CHECK_EQ_U64(x->eax & 0x1f, 0);          /* no thread bits */
				CHECK_EQ_U64(x->ebx & 0xffff, 1);
			} else if (s == 1) {
				unsigned int shift = x->eax & 0x1f;

				CHECK_EQ_U64((x->ecx >> 8) & 0xff, 2);   /* core */
				CHECK_EQ_U64(x->ebx & 0xffff, ncpus);
				CHECK_EQ_U64(shift, bits_for(ncpus));
				/* Every APIC ID shifts to package 0 and the shift is minimal. */
				CHECK_EQ_U64((ncpus - 1) >> shift, 0);
				if (shift)
					CHECK((ncpus - 1) >> (shift - 1) != 0);
			} else {
				CHECK_EQ_U64((x->ecx >> 8) & 0xff, 0);   /* invalid: last */
				CHECK_EQ_U64(x->ebx & 0xffff, 0);
			}
		}
	}

	/* Leaf 6: ARAT (APIC timer always running). */
	x = find(e, n, 6, 0);
	REQUIRE(x);
	CHECK(x->eax & 4);

	/* AMD 0x80000008 ECX: NC = ncpus - 1, ApicIdSize; PerfTscSize kept. */
	x = find(e, n, 0x80000008, 0);
	o = find(h, n, 0x80000008, 0);
	REQUIRE(x && o);
	CHECK_EQ_U64(x->ecx & 0xff, ncpus - 1);
	CHECK_EQ_U64((x->ecx >> 12) & 0xf, bits_for(ncpus));
	CHECK_EQ_U64(x->ecx & ~0xf0ffu, o->ecx & ~0xf0ffu);
	CHECK_EQ_U64(x->eax, o->eax);
	CHECK_EQ_U64(x->ebx, o->ebx);

	/* AMD 0x8000001e: extended APIC ID, core ID, one node. */
	x = find(e, n, 0x8000001e, 0);
	REQUIRE(x);
	CHECK_EQ_U64(x->eax, cpu);
	CHECK_EQ_U64(x->ebx & 0xff, cpu);
	CHECK_EQ_U64(x->ecx & 0x7ff, 0);

	/* Leaves the filter has no business with are bit-for-bit unchanged. */
	static const uint32_t untouched[] = { 0, 7, 0x80000001 };
	for (size_t i = 0; i < ARRAY_LEN(untouched); i++) {
		x = find(e, n, untouched[i], 0);
		o = find(h, n, untouched[i], 0);
		REQUIRE(x && o);
		CHECK_MEM_EQ(x, o, sizeof(*x));
	}
	/* Function, index and flags never change. */
	for (unsigned int i = 0; i < n; i++) {
		CHECK_EQ_U64(e[i].function, h[i].function);
		CHECK_EQ_U64(e[i].index, h[i].index);
		CHECK_EQ_U64(e[i].flags, h[i].flags);
	}
}

TEST(one_vcpu)
{
	check_vcpu(0, 1);
}

TEST(two_vcpus_each)
{
	check_vcpu(0, 2);
	check_vcpu(1, 2);
}

TEST(three_vcpus_non_power_of_two)
{
	for (unsigned int c = 0; c < 3; c++)
		check_vcpu(c, 3);
}

TEST(eight_vcpus)
{
	check_vcpu(0, 8);
	check_vcpu(7, 8);
}

TEST(sixty_four_vcpus)
{
	check_vcpu(0, 64);
	check_vcpu(63, 64);
}

TEST(apic_ids_distinct_across_vcpus)
{
	struct kvm_cpuid_entry2 h[32], e[32];
	unsigned int n, seen[16] = { 0 };

	host_entries(h, &n);
	for (unsigned int cpu = 0; cpu < 16; cpu++) {
		memcpy(e, h, sizeof(h));
		cpuid_filter(e, n, cpu, 16);
		unsigned int id = get(e, n, 1, 0)->ebx >> 24;
		if (id < 16)
			seen[id]++;
		CHECK_EQ_U64(get(e, n, 0xb, 1)->edx, id);   /* leaf 1 and 0xb agree */
	}
	for (unsigned int i = 0; i < 16; i++)
		CHECK_EQ_U64(seen[i], 1);
}

TEST(empty_and_unknown_leaves)
{
	struct kvm_cpuid_entry2 e[2];

	memset(e, 0x5a, sizeof(e));
	e[0].function = 0x40000000;
	e[1].function = 0x12345678;
	struct kvm_cpuid_entry2 o[2];
	memcpy(o, e, sizeof(e));
	cpuid_filter(e, 2, 0, 4);
	CHECK_MEM_EQ(e, o, sizeof(e));
	cpuid_filter(e, 0, 0, 4);   /* no entries: nothing to do, no crash */
	CHECK_MEM_EQ(e, o, sizeof(e));
}

/* Leaf 4 EAX[31:26] is 6 bits: "cores per package - 1" can say at most 64. With more
 * vCPUs (the MP table allows 254) the field must saturate at 63, not wrap: 100 vCPUs
 * must not report 36 cores. */
TEST(regression_leaf4_core_count_saturates_above_64)
{
	struct kvm_cpuid_entry2 h[32], e[32];
	unsigned int n;
	static const unsigned int counts[] = { 65, 100, 128, 254 };

	for (size_t i = 0; i < ARRAY_LEN(counts); i++) {
		host_entries(h, &n);
		memcpy(e, h, sizeof(h));
		cpuid_filter(e, n, 0, counts[i]);
		struct kvm_cpuid_entry2 *x = find(e, n, 4, 0);
		REQUIRE(x);
		if (!CHECK_EQ_U64(x->eax >> 26, 63))
			FAIL("%u vCPUs", counts[i]);
		CHECK_EQ_U64(x->eax & 0x3fff, get(h, n, 4, 0)->eax & 0x3fff);
	}
}
