/* flood: prints serial lines as fast as it can, forever. With the host's end of the console
 * not being read, Ember must neither stop this vCPU nor ignore SIGTERM (the console output
 * is buffered and dropped, never written with a blocking write on the vCPU thread). */
#include "guest.h"

void guest_main(void *bp)
{
    unsigned long n = 0;

    (void)bp;
    serial_puts("FLOOD READY\n");
    for (;;)
        kprintf("FLOOD %lu 0123456789abcdefghijklmnopqrstuvwxyz\n", n++);
}
