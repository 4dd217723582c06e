/* halt_forever: print, then cli; hlt forever. Ember must notice that every vCPU is halted
 * with interrupts disabled and exit with status 0. */
#include "guest.h"

void guest_main(void *bp)
{
    (void)bp;
    serial_puts("HALTING\n");
    for (unsigned i = 0; i < 100000 && !(inb(COM1 + UART_LSR) & LSR_TEMT); i++)
        cpu_relax();
    halt_forever();
}
