/* Entry point of every guest. Ember enters here in 64-bit long mode (see guest.h).
 * The entry sits 0x200 bytes into the image so the same code works as an ELF
 * (entered at e_entry) and as a bzImage (entered at load address + 0x200). */
    .section .text.entry, "ax"
    .code64
    .globl _start
_start:
    /* Record the machine state Ember handed over before touching anything. */
    movq    %rsi, entry_rsi(%rip)
    movq    %rsp, entry_rsp(%rip)
    pushfq
    popq    entry_rflags(%rip)
    movw    %cs, entry_cs(%rip)
    movw    %ds, entry_ds(%rip)
    movw    %es, entry_es(%rip)
    movw    %ss, entry_ss(%rip)
    movw    %fs, entry_fs(%rip)
    movw    %gs, entry_gs(%rip)
    cli
    cld
    /* Zero .bss (our stack lives there, so do it before using the stack). */
    leaq    __bss_start(%rip), %rdi
    leaq    _end(%rip), %rcx
    subq    %rdi, %rcx
    xorl    %eax, %eax
    rep stosb
    leaq    boot_stack_top(%rip), %rsp
    xorl    %ebp, %ebp
    call    guest_start
1:  cli
    hlt
    jmp     1b

    .section .data
    .balign 8
    .globl entry_rsi, entry_rsp, entry_rflags
    .globl entry_cs, entry_ds, entry_es, entry_ss, entry_fs, entry_gs
entry_rsi:      .quad 0
entry_rsp:      .quad 0
entry_rflags:   .quad 0
entry_cs:       .word 0
entry_ds:       .word 0
entry_es:       .word 0
entry_ss:       .word 0
entry_fs:       .word 0
entry_gs:       .word 0

    .section .bss
    .balign 16
boot_stack:
    .skip   16384
    .globl boot_stack_top
boot_stack_top:

    .section .note.GNU-stack, "", @progbits
