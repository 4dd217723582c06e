/* smp: the BSP learns the vCPU count from the MP table, starts every AP with
 * INIT / SIPI / SIPI (trampoline at 0x10000), each AP reaches long mode, reads its LAPIC ID
 * and prints "AP <id>" under a spinlock. The BSP waits (bounded) for all of them, prints
 * "CPUS <n>" and SUCCESS, and resets while the APs sit in cli; hlt. */
#include "guest.h"

#define TRAMP_BASE 0x10000u
#define AP_MAX_ID 256
#define AP_STACK_SIZE 4096

struct tramp_data {
    uint64_t cr3, stacks, stack_size, entry, maxid;
};

extern const char tramp_start[], tramp_end[], tramp_data[];
static uint8_t ap_stacks[AP_MAX_ID][AP_STACK_SIZE] __attribute__((aligned(16)));
static spinlock_t print_lock;
static volatile uint32_t ap_count;
static volatile uint32_t ap_seen[AP_MAX_ID];

void ap_main(unsigned apic_id);
void ap_main(unsigned apic_id)
{
    idt_load();
    unsigned id = lapic_id();
    spin_lock(&print_lock);
    if (id != apic_id)
        kprintf("FAIL AP LAPIC ID read twice differs: %u then %u\n", apic_id, id);
    kprintf("AP %u\n", id);
    ap_seen[id]++;
    __atomic_add_fetch(&ap_count, 1, __ATOMIC_RELEASE);
    spin_unlock(&print_lock);
    halt_forever();
}

static void icr_send(unsigned dest, uint32_t lo)
{
    lapic_write(LAPIC_ICR_HI, dest << 24);
    lapic_write(LAPIC_ICR_LO, lo);
    for (unsigned i = 0; i < 100000 && (lapic_read(LAPIC_ICR_LO) & (1u << 12)); i++)
        cpu_relax();
}

void guest_main(void *bp)
{
    (void)bp;
    struct mp_info mp;
    const char *why = mp_parse(&mp);
    if (why)
        fail("MP table: %s", why);
    if (mp.ncpus == 0 || mp.ncpus > AP_MAX_ID)
        fail("MP table lists %u CPUs (supported 1..%u)", mp.ncpus, AP_MAX_ID);

    lapic_enable();
    unsigned bsp = lapic_id();
    kprintf("SMP ncpus=%u bsp=%u\n", mp.ncpus, bsp);

    size_t tlen = (size_t)(tramp_end - tramp_start);
    memcpy((void *)(uintptr_t)TRAMP_BASE, tramp_start, tlen);
    struct tramp_data td = {
        .cr3 = read_cr3(),
        .stacks = (uint64_t)(uintptr_t)ap_stacks,
        .stack_size = AP_STACK_SIZE,
        .entry = (uint64_t)(uintptr_t)ap_main,
        .maxid = AP_MAX_ID,
    };
    memcpy((void *)(uintptr_t)(TRAMP_BASE + (size_t)(tramp_data - tramp_start)), &td, sizeof td);
    if (td.cr3 >= 0x100000000ull)
        fail("CR3 0x%lx is above 4 GiB; the trampoline loads it in 32-bit mode", td.cr3);

    unsigned expected = 0;
    for (unsigned i = 0; i < mp.ncpus; i++) {
        unsigned id = mp.apic_ids[i];
        if (id == bsp)
            continue;
        if (id >= AP_MAX_ID)
            fail("AP APIC ID %u too large", id);
        expected++;
        icr_send(id, 0x00004500);                    /* INIT, level assert */
        delay_us(10000);
        icr_send(id, 0x00008500);                    /* INIT, level de-assert */
        icr_send(id, 0x00004600 | (TRAMP_BASE >> 12)); /* STARTUP */
        delay_us(200);
        icr_send(id, 0x00004600 | (TRAMP_BASE >> 12)); /* STARTUP again, as the MP spec says */
    }

    deadline_start(10000);
    while (__atomic_load_n(&ap_count, __ATOMIC_ACQUIRE) < expected && !deadline_passed())
        cpu_relax();
    unsigned got = __atomic_load_n(&ap_count, __ATOMIC_ACQUIRE);

    spin_lock(&print_lock);
    kprintf("CPUS %u\n", got + 1);
    if (got != expected)
        fail("only %u of %u APs checked in", got, expected);
    for (unsigned i = 0; i < mp.ncpus; i++) {
        unsigned id = mp.apic_ids[i];
        if (id != bsp && ap_seen[id] != 1)
            fail("AP %u checked in %u times", id, ap_seen[id]);
    }
    success();
}
