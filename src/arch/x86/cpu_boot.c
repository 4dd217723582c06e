#include "arch/x86/cpu_boot.h"

#include <string.h>

#include "arch/x86/boot.h"
#include "arch/x86/layout.h"

#define CR0_PE (1ULL << 0)
#define CR0_MP (1ULL << 1)
#define CR0_ET (1ULL << 4)
#define CR0_NE (1ULL << 5)
#define CR0_PG (1ULL << 31)
#define CR4_PAE (1ULL << 5)
#define CR4_OSFXSR (1ULL << 9)
#define CR4_OSXMMEXCPT (1ULL << 10)
#define EFER_LME (1ULL << 8)
#define EFER_LMA (1ULL << 10)

#define MSR_IA32_SYSENTER_CS 0x174
#define MSR_IA32_SYSENTER_ESP 0x175
#define MSR_IA32_SYSENTER_EIP 0x176
#define MSR_STAR 0xc0000081
#define MSR_LSTAR 0xc0000082
#define MSR_CSTAR 0xc0000083
#define MSR_SYSCALL_MASK 0xc0000084
#define MSR_KERNEL_GS_BASE 0xc0000102
#define MSR_IA32_TSC 0x10
#define MSR_IA32_MISC_ENABLE 0x1a0
#define MSR_MTRR_DEF_TYPE 0x2ff
#define MISC_ENABLE_FAST_STRING 1ULL
#define MTRR_ENABLE (1ULL << 11)
#define MTRR_TYPE_WB 6ULL

#define APIC_LVT0 0x350
#define APIC_LVT1 0x360
#define APIC_MODE_NMI 0x4
#define APIC_MODE_EXTINT 0x7

void cpu_boot_regs(struct kvm_regs *regs, uint64_t entry)
{
	memset(regs, 0, sizeof(*regs));
	regs->rflags = 0x2;   /* bit 1 is reserved-one; interrupts off */
	regs->rip = entry;
	regs->rsp = LAYOUT_BOOT_STACK;
	regs->rbp = LAYOUT_BOOT_STACK;
	regs->rsi = LAYOUT_ZERO_PAGE;
}

/* Expands a GDT descriptor into KVM's segment form. */
static struct kvm_segment segment_from_gdt(uint64_t d, uint16_t sel)
{
	struct kvm_segment s = {
		.base = (uint32_t)(((d >> 16) & 0xffffff) | (((d >> 56) & 0xff) << 24)),
		.limit = (uint32_t)((d & 0xffff) | (((d >> 48) & 0xf) << 16)),
		.selector = sel,
		.type = (uint8_t)((d >> 40) & 0xf),
		.present = (uint8_t)((d >> 47) & 1),
		.dpl = (uint8_t)((d >> 45) & 3),
		.db = (uint8_t)((d >> 54) & 1),
		.s = (uint8_t)((d >> 44) & 1),
		.l = (uint8_t)((d >> 53) & 1),
		.g = (uint8_t)((d >> 55) & 1),
	};

	if (s.g)
		s.limit = (s.limit << 12) | 0xfff;
	s.unusable = !s.present;
	return s;
}

void cpu_boot_sregs(struct kvm_sregs *sregs)
{
	struct kvm_segment code = segment_from_gdt(boot_gdt[BOOT_CS >> 3], BOOT_CS);
	struct kvm_segment data = segment_from_gdt(boot_gdt[BOOT_DS >> 3], BOOT_DS);
	struct kvm_segment tss = segment_from_gdt(boot_gdt[BOOT_TSS >> 3], BOOT_TSS);

	sregs->cs = code;
	sregs->ds = sregs->es = sregs->fs = sregs->gs = sregs->ss = data;
	sregs->tr = tss;
	sregs->gdt.base = LAYOUT_GDT;
	sregs->gdt.limit = (uint16_t)(sizeof(boot_gdt) - 1);
	sregs->idt.base = LAYOUT_IDT;
	sregs->idt.limit = 7;
	sregs->cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_PG;
	sregs->cr3 = LAYOUT_PML4;
	sregs->cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT;
	sregs->efer = EFER_LME | EFER_LMA;
}

void cpu_boot_fpu(struct kvm_fpu *fpu)
{
	memset(fpu, 0, sizeof(*fpu));
	fpu->fcw = 0x37f;     /* x87 default: all exceptions masked, extended precision */
	fpu->mxcsr = 0x1f80;  /* SSE default: all exceptions masked */
}

unsigned int cpu_boot_msrs(struct kvm_msr_entry *out, unsigned int max)
{
	static const struct kvm_msr_entry msrs[] = {
		{ .index = MSR_IA32_SYSENTER_CS },
		{ .index = MSR_IA32_SYSENTER_ESP },
		{ .index = MSR_IA32_SYSENTER_EIP },
		{ .index = MSR_STAR },
		{ .index = MSR_CSTAR },
		{ .index = MSR_KERNEL_GS_BASE },
		{ .index = MSR_SYSCALL_MASK },
		{ .index = MSR_LSTAR },
		{ .index = MSR_IA32_TSC },
		{ .index = MSR_IA32_MISC_ENABLE, .data = MISC_ENABLE_FAST_STRING },
		{ .index = MSR_MTRR_DEF_TYPE, .data = MTRR_ENABLE | MTRR_TYPE_WB },
	};
	unsigned int n = (unsigned int)(sizeof(msrs) / sizeof(msrs[0]));

	if (n > max)
		n = max;
	memcpy(out, msrs, n * sizeof(msrs[0]));
	return n;
}

static void lvt_set_mode(struct kvm_lapic_state *lapic, unsigned int reg, uint32_t mode)
{
	uint32_t v;

	memcpy(&v, &lapic->regs[reg], sizeof(v));
	v = (v & ~0x700u) | (mode << 8);
	memcpy(&lapic->regs[reg], &v, sizeof(v));
}

void cpu_boot_lapic(struct kvm_lapic_state *lapic)
{
	lvt_set_mode(lapic, APIC_LVT0, APIC_MODE_EXTINT);
	lvt_set_mode(lapic, APIC_LVT1, APIC_MODE_NMI);
}
