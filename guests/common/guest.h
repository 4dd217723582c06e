/* Common definitions for Ember's freestanding tier-2 test guests.
 *
 * Every guest is entered in 64-bit long mode by Ember (see docs of the boot contract in
 * guests/README.md), prints on COM1 and ends by resetting through the i8042. */
#ifndef EMBER_GUEST_H
#define EMBER_GUEST_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define NORETURN __attribute__((noreturn))
#define PRINTF(a, b) __attribute__((format(printf, a, b)))

/* ---- port and MMIO access ---- */
static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port)
{
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
static inline uint32_t mmio_read32(uintptr_t addr) { return *(volatile uint32_t *)addr; }
static inline void mmio_write32(uintptr_t addr, uint32_t v) { *(volatile uint32_t *)addr = v; }

static inline uint64_t rdmsr(uint32_t msr)
{
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return ((uint64_t)hi << 32) | lo;
}
static inline void wrmsr(uint32_t msr, uint64_t v)
{
    __asm__ volatile("wrmsr" ::"c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}
static inline uint64_t read_cr0(void) { uint64_t v; __asm__ volatile("mov %%cr0, %0" : "=r"(v)); return v; }
static inline uint64_t read_cr3(void) { uint64_t v; __asm__ volatile("mov %%cr3, %0" : "=r"(v)); return v; }
static inline uint64_t read_cr4(void) { uint64_t v; __asm__ volatile("mov %%cr4, %0" : "=r"(v)); return v; }
static inline void cpu_relax(void) { __asm__ volatile("pause" ::: "memory"); }
static inline void cli(void) { __asm__ volatile("cli" ::: "memory"); }
static inline void sti(void) { __asm__ volatile("sti" ::: "memory"); }
/* Enable interrupts and halt atomically (STI's interrupt shadow covers the HLT). */
static inline void sti_hlt(void) { __asm__ volatile("sti; hlt" ::: "memory"); }
static inline void barrier(void) { __asm__ volatile("" ::: "memory"); }

/* ---- what the entry code saw (start.S) ---- */
extern uint64_t entry_addr, entry_rsi, entry_rsp, entry_rflags;
extern uint16_t entry_cs, entry_ds, entry_es, entry_ss, entry_fs, entry_gs;
extern char __image_start[], _start[], __bss_start[], _end[];

/* ---- libc-ish ---- */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);

/* ---- COM1, polled ---- */
#define COM1 0x3f8
#define UART_RBR 0 /* DLAB=0, read */
#define UART_THR 0 /* DLAB=0, write */
#define UART_IER 1
#define UART_IIR 2 /* read */
#define UART_FCR 2 /* write */
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_MSR 6
#define LSR_DR 0x01
#define LSR_OE 0x02
#define LSR_THRE 0x20
#define LSR_TEMT 0x40

void serial_putc(char c);
void serial_puts(const char *s);
void serial_write(const char *s, size_t n);
void kprintf(const char *fmt, ...) PRINTF(1, 2);
int ksnprintf(char *buf, size_t size, const char *fmt, ...) PRINTF(3, 4);
int kvsnprintf(char *buf, size_t size, const char *fmt, va_list ap);

/* Print "FAIL <reason>" and reset the machine. */
NORETURN void fail(const char *fmt, ...) PRINTF(1, 2);
/* Print "SUCCESS" and reset the machine. */
NORETURN void success(void);
/* Reset through the i8042 (0xFE -> port 0x64). */
NORETURN void reset(void);
/* cli; hlt forever. */
NORETURN void halt_forever(void);

/* ---- interrupts (idt.c, isr.S) ---- */
struct irq_frame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
    uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector, error;
    uint64_t rip, cs, rflags, rsp, ss;
};
typedef void (*irq_handler_t)(struct irq_frame *f);
void idt_init(void);   /* build the IDT (every vector) and load it */
void idt_load(void);   /* load the already-built IDT (for APs) */
void idt_set_handler(unsigned vector, irq_handler_t h);

/* ---- local APIC / IOAPIC ---- */
#define LAPIC_BASE 0xFEE00000u
#define LAPIC_ID 0x020
#define LAPIC_VER 0x030
#define LAPIC_TPR 0x080
#define LAPIC_EOI 0x0B0
#define LAPIC_SVR 0x0F0
#define LAPIC_ICR_LO 0x300
#define LAPIC_ICR_HI 0x310
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_TIMER_INIT 0x380
#define LAPIC_TIMER_CUR 0x390
#define LAPIC_TIMER_DIV 0x3E0
#define IOAPIC_BASE 0xFEC00000u

static inline uint32_t lapic_read(uint32_t reg) { return mmio_read32(LAPIC_BASE + reg); }
static inline void lapic_write(uint32_t reg, uint32_t v) { mmio_write32(LAPIC_BASE + reg, v); }
static inline unsigned lapic_id(void) { return lapic_read(LAPIC_ID) >> 24; }
void lapic_enable(void);
void ioapic_write(unsigned reg, uint32_t v);
uint32_t ioapic_read(unsigned reg);

/* Deadlines measured by the LAPIC timer (KVM's in-kernel LAPIC counts at a 1 GHz bus clock;
 * divide-by-16 gives 62.5 MHz). The timer runs one-shot with its LVT entry masked and the
 * current-count register is polled. Up to ~68 s. */
void deadline_start(uint32_t ms);
int deadline_passed(void);
void delay_us(uint32_t us);

/* ---- spinlock ---- */
typedef struct { volatile uint32_t v; } spinlock_t;
static inline void spin_lock(spinlock_t *l)
{
    while (__atomic_exchange_n(&l->v, 1, __ATOMIC_ACQUIRE))
        while (l->v)
            cpu_relax();
}
static inline void spin_unlock(spinlock_t *l) { __atomic_store_n(&l->v, 0, __ATOMIC_RELEASE); }

/* ---- boot_params (Linux zero page) ---- */
#define BP_EXT_RAMDISK_IMAGE 0x0c0
#define BP_EXT_RAMDISK_SIZE 0x0c4
#define BP_EXT_CMD_LINE_PTR 0x0c8
#define BP_E820_ENTRIES 0x1e8
#define BP_HDR 0x1f1
#define BP_HDR_MAGIC 0x202
#define BP_TYPE_OF_LOADER 0x210
#define BP_RAMDISK_IMAGE 0x218
#define BP_RAMDISK_SIZE 0x21c
#define BP_CMD_LINE_PTR 0x228
#define BP_CMDLINE_SIZE 0x238
#define BP_E820_TABLE 0x2d0
#define E820_MAX 128

static inline uint8_t rd8(const void *p, size_t off) { return *((const volatile uint8_t *)p + off); }
static inline uint16_t rd16(const void *p, size_t off)
{
    uint16_t v;
    memcpy(&v, (const uint8_t *)p + off, 2);
    return v;
}
static inline uint32_t rd32(const void *p, size_t off)
{
    uint32_t v;
    memcpy(&v, (const uint8_t *)p + off, 4);
    return v;
}
static inline uint64_t rd64(const void *p, size_t off)
{
    uint64_t v;
    memcpy(&v, (const uint8_t *)p + off, 8);
    return v;
}

/* ---- Intel MP table (mptable.c) ---- */
#define MP_MAX_CPUS 256
struct mp_info {
    uint32_t fps_addr;     /* address of the _MP_ floating pointer structure */
    uint32_t config_addr;  /* address of the PCMP configuration table */
    uint32_t lapic_addr;
    unsigned ncpus;        /* enabled processor entries */
    unsigned nbsp;         /* processor entries with the BSP flag */
    unsigned bsp_apic_id;
    uint8_t apic_ids[MP_MAX_CPUS];
    unsigned nbus, nioapic, nirq, nlint;
    uint32_t ioapic_addr;
    int has_isa_bus;
};
/* Find and validate the MP table. Returns NULL and fills why on failure. */
const char *mp_parse(struct mp_info *mp);

/* Entry point every guest defines. */
void guest_main(void *boot_params);

#endif
