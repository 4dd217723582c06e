/* floor: the least a VMM can do on this host to run a guest, the benchmark's bare floor.
 *
 *   floor [--hold] [--irqchip] [--memory MIB] GUEST.elf
 *
 * It opens /dev/kvm, creates a VM, maps MIB (default 128) of anonymous memory as one
 * memory slot, copies the ELF's PT_LOAD segments to their p_paddr, writes a GDT and an
 * identity map of the first 4 GiB (2 MiB pages), creates one vCPU, gives it the host's
 * supported CPUID (hardware KVM refuses EFER.LME without CPUID.LM), and enters e_entry in
 * 64-bit long mode with the same state Ember uses (CS 0x10, data 0x18, CR3 0x9000, RSP
 * 0x8ff0, RFLAGS 0x2). Then it loops on KVM_RUN:
 *
 *   port I/O or MMIO exit   ignored: straight back to KVM_RUN (the same work a VMM does
 *                           for an unclaimed port or address)
 *   0xFE written to 0x64    exit 0 (i8042 reset)
 *   triple fault (SHUTDOWN) exit 0
 *   HLT                     exit 0; with --hold, wait for a signal instead (lets the
 *                           benchmark read /proc/PID/smaps with the guest at its entry)
 *   anything else           exit 1 with a message
 *
 * No irqchip, no PIT, no devices, no threads, no huge-page advice: nothing a guest this
 * small does not need. --irqchip adds what Ember creates in the kernel for every VM, in
 * Ember's order (KVM_CREATE_IRQCHIP, then KVM_CREATE_PIT2, before the memory slot): a
 * reference for what those two cost on this host, not part of the floor itself.
 * Written for bench/ only; it is not part of Ember. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define GDT_ADDR 0x500u
#define PML4_ADDR 0x9000u
#define PDPT_ADDR 0xa000u
#define PD_ADDR 0xb000u        /* four page directories, 0xb000..0xefff */
#define STACK_TOP 0x8ff0u
#define PTE_P 0x1ull
#define PTE_RW 0x2ull
#define PTE_PS 0x80ull

static void die(const char *what)
{
	fprintf(stderr, "floor: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void fail(const char *msg)
{
	fprintf(stderr, "floor: %s\n", msg);
	exit(1);
}

/* Loads the PT_LOAD segments of a 64-bit x86 ELF by p_paddr; returns e_entry. */
static uint64_t load_elf(const char *path, uint8_t *mem, uint64_t mem_size)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	uint8_t *img;
	Elf64_Ehdr eh;

	if (fd < 0 || fstat(fd, &st) < 0)
		die(path);
	if ((size_t)st.st_size < sizeof(eh))
		fail("guest image too small");
	img = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (img == MAP_FAILED)
		die("mmap guest image");
	close(fd);
	memcpy(&eh, img, sizeof(eh));
	if (memcmp(eh.e_ident, ELFMAG, SELFMAG) || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_machine != EM_X86_64 || eh.e_phentsize != sizeof(Elf64_Phdr) ||
	    eh.e_phoff > (uint64_t)st.st_size ||
	    (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr) > (uint64_t)st.st_size - eh.e_phoff)
		fail("not a 64-bit x86 ELF");
	for (unsigned int i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;

		memcpy(&ph, img + eh.e_phoff + i * sizeof(ph), sizeof(ph));
		if (ph.p_type != PT_LOAD)
			continue;
		if (ph.p_filesz > ph.p_memsz || ph.p_offset > (uint64_t)st.st_size ||
		    ph.p_filesz > (uint64_t)st.st_size - ph.p_offset ||
		    ph.p_paddr > mem_size || ph.p_memsz > mem_size - ph.p_paddr)
			fail("ELF segment outside the image or guest memory");
		/* Fresh anonymous memory is zero: the p_memsz tail needs no clearing. */
		memcpy(mem + ph.p_paddr, img + ph.p_offset, ph.p_filesz);
	}
	munmap(img, (size_t)st.st_size);
	return eh.e_entry;
}

static void setup_page_tables(uint8_t *mem)
{
	uint64_t *pml4 = (uint64_t *)(mem + PML4_ADDR);
	uint64_t *pdpt = (uint64_t *)(mem + PDPT_ADDR);
	uint64_t *pd = (uint64_t *)(mem + PD_ADDR);

	pml4[0] = PDPT_ADDR | PTE_P | PTE_RW;
	for (uint64_t i = 0; i < 4; i++)
		pdpt[i] = (PD_ADDR + i * 0x1000) | PTE_P | PTE_RW;
	for (uint64_t i = 0; i < 4 * 512; i++)
		pd[i] = (i << 21) | PTE_P | PTE_RW | PTE_PS;
}

static struct kvm_segment seg(uint16_t sel, uint8_t type, uint8_t l, uint8_t db)
{
	return (struct kvm_segment){ .base = 0, .limit = 0xffffffff, .selector = sel,
				     .type = type, .present = 1, .dpl = 0, .db = db, .s = 1,
				     .l = l, .g = 1 };
}

static void set_cpuid(int kvm, int vcpu)
{
	struct kvm_cpuid2 *c;
	unsigned int n = 64;

	for (;;) {
		c = calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));
		if (!c)
			fail("out of memory");
		c->nent = n;
		if (ioctl(kvm, KVM_GET_SUPPORTED_CPUID, c) == 0)
			break;
		if (errno != E2BIG)
			die("KVM_GET_SUPPORTED_CPUID");
		free(c);
		n *= 2;
	}
	if (ioctl(vcpu, KVM_SET_CPUID2, c) < 0)
		die("KVM_SET_CPUID2");
	free(c);
}

int main(int argc, char **argv)
{
	uint64_t mem_size = 128ull << 20;
	int hold = 0, irqchip = 0, kvm, vm, vcpu, run_size;
	const char *path = NULL;
	struct kvm_run *run;
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	uint8_t *mem;
	uint64_t entry;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--hold"))
			hold = 1;
		else if (!strcmp(argv[i], "--irqchip"))
			irqchip = 1;
		else if (!strcmp(argv[i], "--memory") && i + 1 < argc)
			mem_size = strtoull(argv[++i], NULL, 0) << 20;
		else if (!path && argv[i][0] != '-')
			path = argv[i];
		else
			path = NULL, i = argc;
	}
	if (!path || mem_size < (16ull << 20) || mem_size > (3ull << 30)) {
		fputs("usage: floor [--hold] [--irqchip] [--memory MIB (16..3072)] GUEST.elf\n",
		      stderr);
		return 2;
	}

	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		die("/dev/kvm");
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0)
		die("KVM_CREATE_VM");
	if (irqchip) {
		struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };

		if (ioctl(vm, KVM_CREATE_IRQCHIP, 0) < 0)
			die("KVM_CREATE_IRQCHIP");
		if (ioctl(vm, KVM_CREATE_PIT2, &pit) < 0)
			die("KVM_CREATE_PIT2");
	}
	mem = mmap(NULL, mem_size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mem == MAP_FAILED)
		die("mmap guest memory");
	struct kvm_userspace_memory_region slot = {
		.slot = 0, .guest_phys_addr = 0, .memory_size = mem_size,
		.userspace_addr = (uint64_t)(uintptr_t)mem,
	};
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &slot) < 0)
		die("KVM_SET_USER_MEMORY_REGION");

	entry = load_elf(path, mem, mem_size);
	/* GDT: null, null, code64 at 0x10, data at 0x18 (Ember's selectors). */
	uint64_t gdt[4] = { 0, 0, 0x00af9b000000ffffull, 0x00cf93000000ffffull };
	memcpy(mem + GDT_ADDR, gdt, sizeof(gdt));
	setup_page_tables(mem);

	vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	if (vcpu < 0)
		die("KVM_CREATE_VCPU");
	run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (run_size < (int)sizeof(*run))
		die("KVM_GET_VCPU_MMAP_SIZE");
	run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED)
		die("mmap kvm_run");
	set_cpuid(kvm, vcpu);

	if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0)
		die("KVM_GET_SREGS");
	sregs.cs = seg(0x10, 0xb, 1, 0);
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = seg(0x18, 0x3, 0, 1);
	sregs.gdt.base = GDT_ADDR;
	sregs.gdt.limit = sizeof(gdt) - 1;
	sregs.cr0 = 0x80000033;      /* PG | NE | ET | MP | PE */
	sregs.cr3 = PML4_ADDR;
	sregs.cr4 = 0x620;           /* OSXMMEXCPT | OSFXSR | PAE */
	sregs.efer = 0x500;          /* LMA | LME */
	if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0)
		die("KVM_SET_SREGS");
	memset(&regs, 0, sizeof(regs));
	regs.rip = entry;
	regs.rsp = STACK_TOP;
	regs.rflags = 0x2;
	if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0)
		die("KVM_SET_REGS");

	for (;;) {
		if (ioctl(vcpu, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			die("KVM_RUN");
		}
		switch (run->exit_reason) {
		case KVM_EXIT_IO:
			if (run->io.direction == KVM_EXIT_IO_OUT && run->io.port == 0x64 &&
			    run->io.size == 1 &&
			    *((uint8_t *)run + run->io.data_offset) == 0xfe)
				return 0;
			break;
		case KVM_EXIT_MMIO:
			break;
		case KVM_EXIT_SHUTDOWN:
			return 0;
		case KVM_EXIT_HLT:
			if (!hold)
				return 0;
			for (;;)
				pause();
		default:
			fprintf(stderr, "floor: unexpected exit reason %u\n", run->exit_reason);
			return 1;
		}
	}
}
