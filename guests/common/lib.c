/* Small runtime shared by the guests: polled COM1 output, a printf subset, reset, LAPIC helpers. */
#include "guest.h"

void *memset(void *d, int c, size_t n)
{
    uint8_t *p = d;
    while (n--)
        *p++ = (uint8_t)c;
    return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
    uint8_t *dp = d;
    const uint8_t *sp = s;
    while (n--)
        *dp++ = *sp++;
    return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const uint8_t *pa = a, *pb = b;
    for (size_t i = 0; i < n; i++)
        if (pa[i] != pb[i])
            return pa[i] < pb[i] ? -1 : 1;
    return 0;
}

size_t strlen(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

/* ---- COM1 ---- */
static char last_char = '\n';

/* Start a new line unless the output is already at the start of one. */
static void serial_newline_if_needed(void)
{
    if (last_char != '\n')
        serial_putc('\n');
}

void serial_putc(char c)
{
    last_char = c;
    /* Bounded wait for THR empty: a UART that never reports THRE still gets the byte. */
    for (unsigned i = 0; i < 100000 && !(inb(COM1 + UART_LSR) & LSR_THRE); i++)
        cpu_relax();
    outb(COM1 + UART_THR, (uint8_t)c);
}

void serial_write(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        serial_putc(s[i]);
}

void serial_puts(const char *s) { serial_write(s, strlen(s)); }

/* ---- printf subset: %s %c %d %u %x %p with l/ll/z, '0' flag and width ---- */
struct outbuf {
    char *buf;
    size_t size, len;
};

static void ob_put(struct outbuf *o, char c)
{
    if (o->len + 1 < o->size)
        o->buf[o->len] = c;
    o->len++;
}

static void ob_num(struct outbuf *o, uint64_t v, unsigned base, int neg, int width, char pad)
{
    char tmp[24];
    int n = 0;
    do {
        unsigned d = (unsigned)(v % base);
        tmp[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
        v /= base;
    } while (v);
    if (neg)
        tmp[n++] = '-';
    for (int i = n; i < width; i++)
        ob_put(o, pad);
    while (n)
        ob_put(o, tmp[--n]);
}

int kvsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
    struct outbuf o = { buf, size, 0 };
    for (const char *p = fmt; *p; p++) {
        if (*p != '%') {
            ob_put(&o, *p);
            continue;
        }
        p++;
        char pad = ' ';
        int width = 0, lng = 0;
        if (*p == '0') {
            pad = '0';
            p++;
        }
        while (*p >= '0' && *p <= '9')
            width = width * 10 + (*p++ - '0');
        while (*p == 'l' || *p == 'z') {
            lng++;
            p++;
        }
        switch (*p) {
        case 's': {
            const char *s = va_arg(ap, const char *);
            if (!s)
                s = "(null)";
            while (*s)
                ob_put(&o, *s++);
            break;
        }
        case 'c':
            ob_put(&o, (char)va_arg(ap, int));
            break;
        case 'd': {
            int64_t v = lng ? va_arg(ap, int64_t) : va_arg(ap, int);
            ob_num(&o, v < 0 ? (uint64_t)-v : (uint64_t)v, 10, v < 0, width, pad);
            break;
        }
        case 'u':
        case 'x': {
            uint64_t v = lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned);
            ob_num(&o, v, *p == 'x' ? 16 : 10, 0, width, pad);
            break;
        }
        case 'p':
            ob_put(&o, '0');
            ob_put(&o, 'x');
            ob_num(&o, (uint64_t)(uintptr_t)va_arg(ap, void *), 16, 0, width, pad);
            break;
        case '%':
            ob_put(&o, '%');
            break;
        case '\0':
            p--;
            break;
        default:
            ob_put(&o, '%');
            ob_put(&o, *p);
        }
    }
    if (size)
        buf[o.len < size ? o.len : size - 1] = '\0';
    return (int)o.len;
}

int ksnprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = kvsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

void kprintf(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = kvsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    serial_write(buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

/* ---- ending the run ---- */
NORETURN void reset(void)
{
    /* Let the last byte leave the transmitter first (bounded). */
    for (unsigned i = 0; i < 100000 && !(inb(COM1 + UART_LSR) & LSR_TEMT); i++)
        cpu_relax();
    cli();
    outb(0x64, 0xFE);
    /* Ember stops the VM at the write above. Whether anything runs after it is checked by
     * the i8042_reset guest alone; here the CPU just stops quietly. */
    halt_forever();
}

NORETURN void halt_forever(void)
{
    for (;;)
        __asm__ volatile("cli; hlt" ::: "memory");
}

NORETURN void fail(const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    kvsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    serial_newline_if_needed();
    kprintf("FAIL %s\n", buf);
    reset();
}

NORETURN void success(void)
{
    serial_puts("SUCCESS\n");
    reset();
}

/* ---- LAPIC / IOAPIC ---- */
void lapic_enable(void)
{
    /* IA32_APIC_BASE: make sure the xAPIC is globally enabled at the default base. */
    uint64_t base = rdmsr(0x1b);
    if (!(base & (1u << 11)) || (base & ~0xfffull & 0xffffffffffull) != LAPIC_BASE)
        wrmsr(0x1b, (base & 0xfff) | (1u << 11) | LAPIC_BASE);
    lapic_write(LAPIC_TPR, 0);
    lapic_write(LAPIC_SVR, 0x100 | 0xff); /* software enable, spurious vector 0xff */
}

void ioapic_write(unsigned reg, uint32_t v)
{
    mmio_write32(IOAPIC_BASE, reg);
    mmio_write32(IOAPIC_BASE + 0x10, v);
}

uint32_t ioapic_read(unsigned reg)
{
    mmio_write32(IOAPIC_BASE, reg);
    return mmio_read32(IOAPIC_BASE + 0x10);
}

void deadline_start(uint32_t ms)
{
    if (ms > 60000)
        ms = 60000;
    lapic_write(LAPIC_LVT_TIMER, 1u << 16); /* masked, one-shot */
    lapic_write(LAPIC_TIMER_DIV, 0x3);      /* divide by 16 */
    lapic_write(LAPIC_TIMER_INIT, ms * 62500u);
}

int deadline_passed(void) { return lapic_read(LAPIC_TIMER_CUR) == 0; }

void delay_us(uint32_t us)
{
    lapic_write(LAPIC_LVT_TIMER, 1u << 16);
    lapic_write(LAPIC_TIMER_DIV, 0xb); /* divide by 1: 1 GHz */
    lapic_write(LAPIC_TIMER_INIT, us * 1000u);
    while (lapic_read(LAPIC_TIMER_CUR) != 0)
        cpu_relax();
}

/* Called by start.S on the guest's own stack with .bss cleared. */
void guest_start(void);
void guest_start(void)
{
    idt_init();
    guest_main((void *)entry_rsi);
    fail("guest_main returned");
}
