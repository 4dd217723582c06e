/* Real-mode AP trampoline for the smp guest. The BSP copies [tramp_start, tramp_end) to
 * TRAMP_BASE (SIPI vector TRAMP_BASE >> 12) and fills tramp_data. An AP starts here in
 * real mode with CS = TRAMP_BASE >> 4, IP = 0, enters protected mode, then long mode with
 * the BSP's page tables, picks its stack by LAPIC ID and calls ap_main(apic_id). */
#define TRAMP_BASE 0x10000
#define REL(x) ((x) - tramp_start)
#define ABS(x) (TRAMP_BASE + ((x) - tramp_start))

    .section .rodata.tramp, "a"
    .balign 16
    .globl tramp_start, tramp_end, tramp_data
    .code16
tramp_start:
    cli
    cld
    movw    %cs, %ax
    movw    %ax, %ds
    lgdtl   REL(tr_gdtr)
    movl    %cr0, %eax
    orl     $1, %eax
    movl    %eax, %cr0
    ljmpl   $0x08, $ABS(tr_pm32)

    .code32
tr_pm32:
    movw    $0x10, %ax
    movw    %ax, %ds
    movw    %ax, %es
    movw    %ax, %ss
    movl    %cr4, %eax
    orl     $0x20, %eax                 /* PAE */
    movl    %eax, %cr4
    movl    ABS(tr_cr3), %eax
    movl    %eax, %cr3
    movl    $0xC0000080, %ecx           /* EFER.LME */
    rdmsr
    orl     $0x100, %eax
    wrmsr
    movl    %cr0, %eax
    orl     $0x80000000, %eax           /* PG */
    movl    %eax, %cr0
    ljmpl   $0x18, $ABS(tr_lm64)

    .code64
tr_lm64:
    movw    $0x10, %ax
    movw    %ax, %ds
    movw    %ax, %es
    movw    %ax, %ss
    xorl    %eax, %eax
    movw    %ax, %fs
    movw    %ax, %gs
    movl    $0xFEE00020, %eax           /* LAPIC ID register */
    movl    (%rax), %edi
    shrl    $24, %edi
    cmpl    ABS(tr_maxid), %edi
    jae     2f
    movl    %edi, %eax
    incl    %eax
    imulq   ABS(tr_stack_size), %rax
    addq    ABS(tr_stacks), %rax
    movq    %rax, %rsp
    xorl    %ebp, %ebp
    movq    ABS(tr_entry), %rax
    callq   *%rax
2:  cli
    hlt
    jmp     2b

    .balign 8
tr_gdt:
    .quad   0
    .quad   0x00cf9a000000ffff          /* 0x08: 32-bit code */
    .quad   0x00cf92000000ffff          /* 0x10: data */
    .quad   0x00af9a000000ffff          /* 0x18: 64-bit code */
tr_gdt_end:
tr_gdtr:
    .word   tr_gdt_end - tr_gdt - 1
    .long   ABS(tr_gdt)

    .balign 8
tramp_data:                             /* filled in by the BSP (struct tramp_data) */
tr_cr3:         .quad 0
tr_stacks:      .quad 0
tr_stack_size:  .quad 0
tr_entry:       .quad 0
tr_maxid:       .quad 0
tramp_end:

    .section .note.GNU-stack, "", @progbits
