/* idle: prints once, then waits with interrupts enabled forever (sti; hlt). It uses no
 * CPU, and Ember does not take it for halted (interrupts are on), so it runs until
 * stopped from outside: used to measure how many VMs a host holds at once. */
#include "guest.h"

void guest_main(void *bp)
{
    (void)bp;
    serial_puts("IDLE READY\n");
    for (;;)
        sti_hlt();
}
