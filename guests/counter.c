/* counter: a guest that runs until told to stop. It prints "TICK <n>" about every 100 ms
 * and polls the i8042 for keyboard bytes; on the Ctrl+Alt+Del make codes Ember injects
 * (0x14 0x11 0xe0 0x71) it prints CTRL-ALT-DEL and resets. Used by the API and fleet
 * tests: a paused VM's counter stops advancing. */
#include "guest.h"

void guest_main(void *bp)
{
    static const uint8_t cad[] = { 0x14, 0x11, 0xe0, 0x71 };
    unsigned long n = 0;
    unsigned matched = 0;

    (void)bp;
    serial_puts("COUNTER READY\n");
    for (;;) {
        kprintf("TICK %lu\n", n++);
        for (int i = 0; i < 100; i++) {
            delay_us(1000);
            while (inb(0x64) & 1) {
                uint8_t b = inb(0x60);

                matched = b == cad[matched] ? matched + 1 : (b == cad[0] ? 1u : 0u);
                if (matched == sizeof(cad)) {
                    serial_puts("CTRL-ALT-DEL\n");
                    reset();
                }
            }
        }
    }
}
