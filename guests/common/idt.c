/* IDT for the guests: every vector has a stub; unhandled exceptions print FAIL and reset. */
#include "guest.h"

struct idt_gate {
    uint16_t off_lo;
    uint16_t sel;
    uint8_t ist;
    uint8_t type;
    uint16_t off_mid;
    uint32_t off_hi;
    uint32_t zero;
} __attribute__((packed));

extern const uint64_t isr_stub_table[256];
static struct idt_gate idt[256] __attribute__((aligned(16)));
static irq_handler_t handlers[256];

static const char *const exc_names[32] = {
    "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "CSO", "#TS", "#NP", "#SS", "#GP",
    "#PF", "#15", "#MF", "#AC", "#MC", "#XM", "#VE", "#CP", "#22", "#23", "#24", "#25", "#26", "#27",
    "#28", "#29", "#30", "#31",
};

void idt_load(void)
{
    struct {
        uint16_t limit;
        uint64_t base;
    } __attribute__((packed)) idtr = { sizeof idt - 1, (uint64_t)(uintptr_t)idt };
    __asm__ volatile("lidt %0" ::"m"(idtr));
}

void idt_init(void)
{
    uint16_t cs;
    __asm__ volatile("mov %%cs, %0" : "=r"(cs));
    for (unsigned v = 0; v < 256; v++) {
        uint64_t a = isr_stub_table[v];
        idt[v] = (struct idt_gate){
            .off_lo = (uint16_t)a,
            .sel = cs,
            .ist = 0,
            .type = 0x8e, /* present, DPL 0, 64-bit interrupt gate */
            .off_mid = (uint16_t)(a >> 16),
            .off_hi = (uint32_t)(a >> 32),
            .zero = 0,
        };
    }
    idt_load();
}

void idt_set_handler(unsigned vector, irq_handler_t h) { handlers[vector & 0xff] = h; }

void isr_dispatch(struct irq_frame *f);
void isr_dispatch(struct irq_frame *f)
{
    unsigned v = (unsigned)f->vector;
    if (handlers[v]) {
        handlers[v](f);
        return;
    }
    if (v == 0xff) /* LAPIC spurious interrupt: no EOI */
        return;
    if (v < 32) {
        uint64_t cr2;
        __asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
        fail("exception %s (vector %u) error=0x%lx rip=0x%lx cr2=0x%lx apic=%u", exc_names[v], v,
             f->error, f->rip, cr2, lapic_id());
    }
    fail("unexpected interrupt vector 0x%x rip=0x%lx", v, f->rip);
}
