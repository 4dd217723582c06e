/* triple_fault: print, load an empty IDT and raise an exception: #UD cannot be delivered
 * (IDT limit 0) -> #GP -> #DF -> triple fault -> KVM_EXIT_SHUTDOWN, which Ember treats as a
 * reboot request (exit status 0). */
#include "guest.h"

void guest_main(void *bp)
{
    (void)bp;
    serial_puts("TRIPLE FAULT NOW\n");
    for (unsigned i = 0; i < 100000 && !(inb(COM1 + UART_LSR) & LSR_TEMT); i++)
        cpu_relax();
    struct {
        uint16_t limit;
        uint64_t base;
    } __attribute__((packed)) idtr = { 0, 0 };
    __asm__ volatile("lidt %0; ud2" ::"m"(idtr));
    serial_puts("FAIL still running after the triple fault\n");
    halt_forever();
}
