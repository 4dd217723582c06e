/* Ember benchmark guest: one source, built by bench/run.sh into several tiny ELF images.
 *
 * The image is a PVH-capable ELF64: PT_LOAD at 0x100000 (p_paddr), e_entry = entry64
 * (64-bit long mode, the way Ember and bench/floor enter a kernel), and a PT_NOTE with
 * XEN_ELFNOTE_PHYS32_ENTRY (type 18, name "Xen") pointing at entry32, which QEMU's PVH
 * loader (microvm, through its option ROM) enters in 32-bit protected mode, paging off.
 * Both entries run the same body, assembled once for each mode:
 *
 *   BENCH_KIND 0  reset   nothing, then reset
 *   BENCH_KIND 1  pio     BENCH_LOOPS x "out %al, (%dx)" to BENCH_PORT, then reset
 *   BENCH_KIND 2  mmio    BENCH_LOOPS x 32-bit store to BENCH_MMIO, then reset
 *   BENCH_KIND 3  hold    cli; hlt forever (a memory snapshot at the guest's entry)
 *
 * "Reset" is what every VMM here understands: 0xFE to port 0x64 (i8042 pulse reset:
 * ends Ember and the floor), then a triple fault (empty IDT, ud2: ends QEMU microvm,
 * which has no i8042, under -no-reboot). */

#ifndef BENCH_KIND
#define BENCH_KIND 0
#endif
#ifndef BENCH_LOOPS
#define BENCH_LOOPS 0
#endif
#ifndef BENCH_PORT
#define BENCH_PORT 0x5e0
#endif
#ifndef BENCH_MMIO
#define BENCH_MMIO 0xd0000000
#endif

#define XEN_ELFNOTE_PHYS32_ENTRY 18

.macro BODY bits
#if BENCH_KIND == 3
1:	cli
	hlt
	jmp	1b
#else
#if BENCH_KIND == 1
	movl	$BENCH_LOOPS, %ecx
	movw	$BENCH_PORT, %dx
	xorl	%eax, %eax
	testl	%ecx, %ecx
	jz	2f
1:	outb	%al, (%dx)
	decl	%ecx
	jnz	1b
2:
#elif BENCH_KIND == 2
	movl	$BENCH_LOOPS, %ecx
	movl	$BENCH_MMIO, %edi	/* zero-extends in 64-bit mode: no sign-extended disp32 */
	xorl	%eax, %eax
	testl	%ecx, %ecx
	jz	2f
.if \bits == 64
1:	movl	%eax, (%rdi)
.else
1:	movl	%eax, (%edi)
.endif
	decl	%ecx
	jnz	1b
2:
#endif
	movb	$0xfe, %al
	outb	%al, $0x64
.if \bits == 64
	lidt	idt_null(%rip)
.else
	lidt	idt_null
.endif
	ud2
3:	hlt
	jmp	3b
#endif
.endm

	.section .text, "ax"
	.code64
	.globl	entry64
entry64:
	BODY 64

	.code32
	.globl	entry32
entry32:
	BODY 32

	.section .rodata, "a"
	.balign	8
idt_null:
	.word	0
	.quad	0

	.section .note.Xen, "a"
	.balign	4
	.long	4			/* namesz: "Xen\0" */
	.long	8			/* descsz: a 64-bit value, as QEMU reads it from an ELF64 */
	.long	XEN_ELFNOTE_PHYS32_ENTRY
	.asciz	"Xen"
	.quad	entry32

	.section .note.GNU-stack, "", @progbits
