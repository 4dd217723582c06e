/* Entry point of every guest. Ember enters here in 64-bit long mode (see guest.h).
 * The entry sits 0x200 bytes into the image so the same code works as an ELF
 * (entered at e_entry) and as a bzImage (entered at load address + 0x200). */
    .section .text.entry, "ax"
    .code64
    .globl _start
_start:
    /* Keep what Ember handed over in scratch registers: the stack is Ember's (0x8ff0). */
    pushfq
    popq    %r9                         /* RFLAGS */
    movq    %rsi, %r8                   /* boot_params */
    movq    %rsp, %r10
    leaq    _start(%rip), %rax          /* where we were entered */
    movl    $_start, %ebx               /* where we were linked */
    cmpq    %rbx, %rax
    jne     relocate
entered:
    movq    %rax, entry_addr(%rip)
    movq    %r8, entry_rsi(%rip)
    movq    %r10, entry_rsp(%rip)
    movq    %r9, entry_rflags(%rip)
    movw    %cs, entry_cs(%rip)
    movw    %ds, entry_ds(%rip)
    movw    %es, entry_es(%rip)
    movw    %ss, entry_ss(%rip)
    movw    %fs, entry_fs(%rip)
    movw    %gs, entry_gs(%rip)
    cli
    cld
    /* Zero .bss (our stack lives there, so do it before using the stack). The linker
     * script makes it 16-byte aligned and sized; quadwords because every iteration of a
     * rep string instruction is emulated on a software KVM. */
    leaq    __bss_start(%rip), %rdi
    leaq    _end(%rip), %rcx
    subq    %rdi, %rcx
    shrq    $3, %rcx
    xorl    %eax, %eax
    rep stosq
    leaq    boot_stack_top(%rip), %rsp
    xorl    %ebp, %ebp
    call    guest_start
1:  cli
    hlt
    jmp     1b

    /* Loaded somewhere else (a bzImage that is not relocatable is loaded at 0x100000 and,
     * like Linux, moves itself to the address it was built for): copy the file part of the
     * image to its link address and continue there. Position-independent code only. */
relocate:
    movq    %rax, %r11
    leaq    -0x200(%rax), %rsi
    leaq    -0x200(%rbx), %rdi
    movl    $__image_file_size, %ecx
    cmpq    %rsi, %rdi
    jb      2f
    /* Destination above the source: copy backwards in case they overlap. */
    leaq    -1(%rsi,%rcx), %rsi
    leaq    -1(%rdi,%rcx), %rdi
    std
    rep movsb
    cld
    jmp     3f
2:  cld
    rep movsb
3:  movq    %r11, %rax
    movl    $entered, %edx
    jmp     *%rdx

    .section .data
    .balign 8
    .globl entry_addr, entry_rsi, entry_rsp, entry_rflags
    .globl entry_cs, entry_ds, entry_es, entry_ss, entry_fs, entry_gs
entry_addr:     .quad 0
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
