/* i8042_reset: print, reset through the keyboard controller, and keep printing if Ember
 * lets the guest run on (the runner checks "AFTER RESET" never appears). */
#include "guest.h"

void guest_main(void *bp)
{
    (void)bp;
    serial_puts("BEFORE RESET\n");
    outb(0x64, 0xFE);
    for (int i = 0; i < 1000; i++)
        serial_puts("AFTER RESET\n");
    halt_forever();
}
