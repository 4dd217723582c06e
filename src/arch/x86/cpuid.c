#include "arch/x86/cpuid.h"

#define CPUID_1_ECX_HYPERVISOR (1u << 31)
#define CPUID_1_EDX_HTT (1u << 28)
#define CPUID_6_EAX_ARAT (1u << 2)

/* Bits needed to number n items: ceil(log2(n)). */
static unsigned int order(unsigned int n)
{
	unsigned int b = 0;

	while ((1u << b) < n)
		b++;
	return b;
}

void cpuid_filter(struct kvm_cpuid_entry2 *e, unsigned int n, unsigned int cpu,
		  unsigned int ncpus)
{
	unsigned int core_bits = order(ncpus);

	for (unsigned int i = 0; i < n; i++) {
		struct kvm_cpuid_entry2 *c = &e[i];

		switch (c->function) {
		case 1:
			/* EBX[31:24] initial APIC ID, [23:16] logical processors per package. */
			c->ebx = (c->ebx & 0x0000ffffu) | (cpu << 24) | ((ncpus & 0xffu) << 16);
			c->ecx |= CPUID_1_ECX_HYPERVISOR;
			if (ncpus > 1)
				c->edx |= CPUID_1_EDX_HTT;
			else
				c->edx &= ~CPUID_1_EDX_HTT;
			break;
		case 4:
			/* Deterministic cache parameters: EAX[31:26] cores per package - 1,
			 * [25:14] threads sharing this cache - 1 (caches are per core here,
			 * except that the last level is shared by the package). */
			if ((c->eax & 0x1f) == 0)
				break;
			{
				unsigned int level = (c->eax >> 5) & 0x7;
				unsigned int sharing = level >= 3 ? ncpus - 1 : 0;
				/* The fields are 6 and 12 bits wide: saturate, never wrap. */
				unsigned int cores = ncpus > 64 ? 64 : ncpus;

				if (sharing > 0xfff)
					sharing = 0xfff;
				c->eax = (c->eax & 0x3fffu) | ((cores - 1) << 26) | (sharing << 14);
			}
			break;
		case 6:
			/* The LAPIC timer does not stop in C-states under KVM. */
			c->eax |= CPUID_6_EAX_ARAT;
			break;
		case 0xb:
		case 0x1f:
			/* Extended topology: level 0 SMT (1 thread), level 1 core (ncpus). */
			c->edx = cpu;
			if (c->index == 0) {
				c->eax = 0;
				c->ebx = 1;
				c->ecx = (1u << 8) | 0;
			} else if (c->index == 1) {
				c->eax = core_bits;
				c->ebx = ncpus;
				c->ecx = (2u << 8) | 1;
			} else {
				c->eax = 0;
				c->ebx = 0;
				c->ecx = c->index;
			}
			break;
		case 0x80000008:
			/* AMD: ECX[7:0] cores - 1, [15:12] APIC ID bits. */
			c->ecx = (c->ecx & ~0xf0ffu) | (core_bits << 12) | ((ncpus - 1) & 0xffu);
			break;
		case 0x8000001e:
			/* AMD extended APIC ID and core ID. */
			c->eax = cpu;
			c->ebx = (c->ebx & ~0xffu) | (cpu & 0xffu);
			c->ecx = 0;
			break;
		default:
			break;
		}
	}
}
