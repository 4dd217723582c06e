/* uart_irq: drive COM1 in interrupt mode through the IOAPIC (pin 4 -> vector 0x24).
 * 1. Transmit "UART IRQ READY" from the THR-empty interrupt handler (no polling).
 * 2. Receive bytes through RX interrupts and echo them upper-cased after "ECHO ",
 *    until '\n'.
 * 3. Report counters, SUCCESS, reset.
 * A one-shot LAPIC timer interrupt (vector 0x40) is the watchdog: if the exchange is
 * not done in WATCHDOG_MS the guest prints FAIL instead of halting forever. */
#include "guest.h"

#define UART_VECTOR 0x24
#define TIMER_VECTOR 0x40
#define WATCHDOG_MS 5000u

#define RING 1024
static volatile uint8_t txbuf[RING], rxbuf[RING];
static volatile unsigned tx_head, tx_tail, rx_head, rx_tail;
static volatile unsigned tx_irqs, rx_irqs, uart_irqs, overruns, rx_bytes, iir_stuck;
static volatile int timed_out;
static volatile uint8_t ier;

static void set_ier(uint8_t v)
{
    ier = v;
    outb(COM1 + UART_IER, v);
}

static void uart_isr(struct irq_frame *f)
{
    (void)f;
    uart_irqs++;
    unsigned loops = 0;
    for (;;) {
        uint8_t iir = inb(COM1 + UART_IIR);
        if (iir & 1)
            break;
        if (++loops > 512) {
            iir_stuck++;
            break;
        }
        switch (iir & 0x0e) {
        case 0x06: /* line status */
            if (inb(COM1 + UART_LSR) & LSR_OE)
                overruns++;
            break;
        case 0x04: /* RX data available */
        case 0x0c: /* character timeout */
            rx_irqs++;
            for (unsigned k = 0; k < 64; k++) {
                uint8_t lsr = inb(COM1 + UART_LSR);
                if (lsr & LSR_OE)
                    overruns++;
                if (!(lsr & LSR_DR))
                    break;
                uint8_t c = inb(COM1 + UART_RBR);
                rx_bytes++;
                if (rx_head - rx_tail < RING) {
                    rxbuf[rx_head % RING] = c;
                    rx_head++;
                }
            }
            break;
        case 0x02: /* THR empty (reading IIR cleared it) */
            tx_irqs++;
            if (tx_tail != tx_head) {
                outb(COM1 + UART_THR, txbuf[tx_tail % RING]);
                tx_tail++;
            } else {
                set_ier(ier & (uint8_t)~0x02);
            }
            break;
        default: /* modem status */
            inb(COM1 + UART_MSR);
            break;
        }
    }
    lapic_write(LAPIC_EOI, 0);
}

static void timer_isr(struct irq_frame *f)
{
    (void)f;
    timed_out = 1;
    lapic_write(LAPIC_EOI, 0);
}

/* Queue bytes for interrupt-driven transmission (interrupts are disabled here). */
static void tx_queue(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        while (tx_head - tx_tail >= RING) { /* full: let the ISR drain it */
            sti_hlt();
            cli();
            if (timed_out)
                fail("timeout with the TX ring full (tx_irqs=%u)", tx_irqs);
        }
        txbuf[tx_head % RING] = (uint8_t)s[i];
        tx_head++;
    }
    /* (Re-)enabling ETBEI while THR is empty raises a THRE interrupt. */
    if (!(ier & 0x02))
        set_ier(ier | 0x02);
}

static void tx_str(const char *s) { tx_queue(s, strlen(s)); }

/* Wait with interrupts enabled until the TX ring is empty and ETBEI was turned off. */
static void tx_drain(const char *what)
{
    while (tx_tail != tx_head || (ier & 0x02)) {
        sti_hlt();
        cli();
        if (timed_out)
            fail("timeout draining TX (%s): tx_irqs=%u uart_irqs=%u queued=%u sent=%u", what,
                 tx_irqs, uart_irqs, tx_head, tx_tail);
    }
}

void guest_main(void *bp)
{
    (void)bp;
    idt_set_handler(UART_VECTOR, uart_isr);
    idt_set_handler(TIMER_VECTOR, timer_isr);

    /* Legacy PIC: remap to 0xe0/0xe8 and mask every line; the IOAPIC delivers IRQ 4. */
    outb(0x20, 0x11);
    outb(0xa0, 0x11);
    outb(0x21, 0xe0);
    outb(0xa1, 0xe8);
    outb(0x21, 0x04);
    outb(0xa1, 0x02);
    outb(0x21, 0x01);
    outb(0xa1, 0x01);
    outb(0x21, 0xff);
    outb(0xa1, 0xff);

    lapic_enable();
    unsigned me = lapic_id();

    /* IOAPIC pin 4: fixed delivery, physical destination = this CPU, edge, active high. */
    uint32_t ver = ioapic_read(1);
    unsigned pins = ((ver >> 16) & 0xff) + 1;
    if (pins <= 4)
        fail("IOAPIC reports only %u pins", pins);
    ioapic_write(0x10 + 2 * 4 + 1, me << 24);
    ioapic_write(0x10 + 2 * 4, UART_VECTOR);
    if ((ioapic_read(0x10 + 2 * 4) & 0x1ffff) != UART_VECTOR)
        fail("IOAPIC redirection entry 4 did not keep its value");

    /* UART: 115200 8N1, FIFOs on, OUT2 (the PC's IRQ enable) + DTR + RTS. */
    outb(COM1 + UART_LCR, 0x80);
    outb(COM1 + 0, 0x01);
    outb(COM1 + 1, 0x00);
    outb(COM1 + UART_LCR, 0x03);
    outb(COM1 + UART_FCR, 0x01);
    outb(COM1 + UART_MCR, 0x0b);
    (void)inb(COM1 + UART_LSR);
    (void)inb(COM1 + UART_MSR);
    (void)inb(COM1 + UART_IIR);

    /* Watchdog: one-shot LAPIC timer interrupt. */
    lapic_write(LAPIC_TIMER_DIV, 0x3); /* 62.5 MHz */
    lapic_write(LAPIC_LVT_TIMER, TIMER_VECTOR);
    lapic_write(LAPIC_TIMER_INIT, WATCHDOG_MS * 62500u);

    set_ier(0x01); /* RX data available */
    tx_str("UART IRQ READY\n");
    tx_drain("greeting");
    if (tx_irqs == 0)
        fail("greeting sent without THRE interrupts");

    tx_str("ECHO ");
    unsigned got = 0;
    for (;;) {
        while (rx_tail == rx_head) {
            sti_hlt();
            cli();
            if (timed_out && rx_tail == rx_head)
                fail("timeout waiting for RX after %u bytes (rx_irqs=%u uart_irqs=%u)", got,
                     rx_irqs, uart_irqs);
        }
        uint8_t c = rxbuf[rx_tail % RING];
        rx_tail++;
        got++;
        if (c == '\n')
            break;
        if (c >= 'a' && c <= 'z')
            c = (uint8_t)(c - 'a' + 'A');
        char ch = (char)c;
        tx_queue(&ch, 1);
    }
    tx_str("\n");
    tx_drain("echo");

    char line[160];
    ksnprintf(line, sizeof line, "UART rx=%u overruns=%u tx_irqs=%u rx_irqs=%u uart_irqs=%u stuck=%u\n",
              got, overruns, tx_irqs, rx_irqs, uart_irqs, iir_stuck);
    tx_str(line);
    if (rx_irqs == 0)
        tx_str("FAIL no RX interrupts\n");
    else if (overruns)
        tx_str("FAIL receiver overrun\n");
    else
        tx_str("SUCCESS\n");
    tx_drain("result");
    lapic_write(LAPIC_TIMER_INIT, 0);
    reset();
}
