/* bootinfo: report what Ember put in boot_params (entry state, e820, command line, initrd)
 * and in the MP table, checking what can be checked from inside. Built both as an ELF and
 * as a bzImage from the same objects. Output lines (parsed by tests/kvm/run.sh):
 *   LOADADDR <hex>            where this image runs (0x100000 ELF, 0x1000000 bzImage)
 *   ENTERED <hex>             where Ember entered it (differs from LOADADDR + 0x200 for a
 *                             non-relocatable bzImage loaded at 0x100000 that moved itself)
 *   ENTRY cs=.. ds=.. es=.. ss=.. fs=.. gs=.. rflags=.. rsp=.. rsi=..
 *   PAGING identity-4g ok
 *   E820 <addr> <size> <type>  one per entry, in table order
 *   CMDLINE <text>
 *   INITRD <addr> <size> <b>:<a> | INITRD none   (checksum: see initrd_checksum)
 *   MPTABLE cpus=<n>
 *   SUCCESS
 */
#include "guest.h"

/* Initrd checksum, cheap enough for a software KVM where every guest instruction and
 * memory access is emulated (a table-driven CRC takes ~1 s for 300 KiB, this ~0.1 s):
 * the file, zero-padded to a multiple of 4 bytes, as little-endian 32-bit words w;
 * a = 1, b = 0; for each w: a = (a + w) mod P, b = (b + a) mod P, P = 4294967291 (the
 * largest prime below 2^32). Printed as "b:a". tests/kvm/run.sh computes the same with
 * od and awk (all values stay below 2^53, exact in awk's doubles). */
#define WSUM_P 4294967291ull

static void wsum_add(uint64_t *a, uint64_t *b, uint64_t w)
{
    *a += w;
    while (*a >= WSUM_P)
        *a -= WSUM_P;
    *b += *a;
    while (*b >= WSUM_P)
        *b -= WSUM_P;
}

static void initrd_checksum(const uint8_t *p, uint64_t n, uint64_t *ra, uint64_t *rb)
{
    uint64_t a = 1, b = 0, i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w = *(const uint64_t *)(p + i);
        wsum_add(&a, &b, w & 0xffffffffu);
        wsum_add(&a, &b, w >> 32);
    }
    for (; i < n; i += 4) {
        uint32_t w = 0;
        for (uint64_t k = 0; k < 4 && i + k < n; k++)
            w |= (uint32_t)p[i + k] << (8 * k);
        wsum_add(&a, &b, w);
    }
    *ra = a;
    *rb = b;
}

/* Walk the page tables from CR3 and check the first 4 GiB are identity mapped, writable. */
static const char *check_paging(void)
{
    if (!(read_cr0() & (1ull << 31)))
        return "CR0.PG is clear";
    if (!(read_cr4() & (1ull << 5)))
        return "CR4.PAE is clear";
    if (!(rdmsr(0xC0000080) & (1ull << 10)))
        return "EFER.LMA is clear";
    const uint64_t mask = 0x000ffffffffff000ull;
    const uint64_t *pml4 = (const uint64_t *)(uintptr_t)(read_cr3() & mask);
    if ((pml4[0] & 3) != 3)
        return "PML4[0] not present+writable";
    const uint64_t *pdpt = (const uint64_t *)(uintptr_t)(pml4[0] & mask);
    for (uint64_t g = 0; g < 4; g++) {
        if ((pdpt[g] & 3) != 3)
            return "PDPT entry for the first 4 GiB not present+writable";
        if (pdpt[g] & 0x80) { /* 1 GiB page */
            if ((pdpt[g] & 0x000fffffc0000000ull) != g << 30)
                return "1 GiB page not identity mapped";
            continue;
        }
        const uint64_t *pd = (const uint64_t *)(uintptr_t)(pdpt[g] & mask);
        for (uint64_t i = 0; i < 512; i++) {
            uint64_t want = (g << 30) | (i << 21);
            uint64_t e = pd[i];
            if ((e & 3) != 3)
                return "PD entry below 4 GiB not present+writable";
            if (e & 0x80) {
                if ((e & 0x000fffffffe00000ull) != want)
                    return "2 MiB page not identity mapped";
            } else {
                const uint64_t *pt = (const uint64_t *)(uintptr_t)(e & mask);
                for (uint64_t j = 0; j < 512; j++)
                    if ((pt[j] & 1) == 0 || (pt[j] & mask) != (want | (j << 12)))
                        return "4 KiB page not identity mapped";
            }
        }
    }
    return NULL;
}

struct e820 {
    uint64_t addr, size;
    uint32_t type;
};

void guest_main(void *bp)
{
    const uint8_t *zp = bp;
    kprintf("BOOTINFO\n");
    kprintf("LOADADDR 0x%lx\n", (uint64_t)(uintptr_t)__image_start);
    kprintf("ENTERED 0x%lx\n", entry_addr);
    if ((uintptr_t)_start != (uintptr_t)__image_start + 0x200)
        fail("entry is not at load address + 0x200");
    kprintf("ENTRY cs=0x%x ds=0x%x es=0x%x ss=0x%x fs=0x%x gs=0x%x rflags=0x%lx rsp=0x%lx rsi=0x%lx\n",
            entry_cs, entry_ds, entry_es, entry_ss, entry_fs, entry_gs, entry_rflags, entry_rsp,
            entry_rsi);
    if (!zp)
        fail("RSI (boot_params pointer) is 0");
    if ((uintptr_t)zp >= 0x100000000ull || ((uintptr_t)zp & 0xfff))
        fail("boot_params pointer 0x%lx not a page below 4 GiB", (uint64_t)(uintptr_t)zp);

    const char *why = check_paging();
    if (why)
        fail("paging: %s", why);
    kprintf("PAGING identity-4g ok\n");

    /* Informational: the setup header copy (bzImage) and the loader type. */
    kprintf("HDR magic=0x%x version=0x%x type_of_loader=0x%x\n", rd32(zp, BP_HDR_MAGIC),
            rd16(zp, 0x206), rd8(zp, BP_TYPE_OF_LOADER));

    unsigned n = rd8(zp, BP_E820_ENTRIES);
    if (n == 0 || n > E820_MAX)
        fail("e820_entries = %u", n);
    struct e820 map[E820_MAX];
    for (unsigned i = 0; i < n; i++) {
        const uint8_t *e = zp + BP_E820_TABLE + 20 * i;
        map[i].addr = rd64(e, 0);
        map[i].size = rd64(e, 8);
        map[i].type = rd32(e, 16);
        kprintf("E820 0x%lx 0x%lx %u\n", map[i].addr, map[i].size, map[i].type);
    }
    for (unsigned i = 1; i < n; i++)
        if (map[i].addr < map[i - 1].addr + map[i - 1].size)
            fail("e820 entries %u and %u overlap or are out of order", i - 1, i);
    /* This image itself must sit in RAM. */
    int self_ok = 0;
    for (unsigned i = 0; i < n; i++)
        if (map[i].type == 1 && (uintptr_t)__image_start >= map[i].addr &&
            (uintptr_t)_end <= map[i].addr + map[i].size)
            self_ok = 1;
    if (!self_ok)
        fail("the guest image [0x%lx, 0x%lx) is not inside an e820 RAM entry",
             (uint64_t)(uintptr_t)__image_start, (uint64_t)(uintptr_t)_end);

    uint64_t cl = rd32(zp, BP_CMD_LINE_PTR) | ((uint64_t)rd32(zp, BP_EXT_CMD_LINE_PTR) << 32);
    if (!cl) {
        kprintf("CMDLINE\n");
        kprintf("CMDLINE_PTR none\n");
    } else {
        const char *s = (const char *)(uintptr_t)cl;
        size_t len = 0;
        while (len < 65536 && s[len])
            len++;
        if (len == 65536)
            fail("command line at 0x%lx is not NUL-terminated within 64 KiB", cl);
        serial_puts("CMDLINE ");
        serial_write(s, len);
        serial_puts("\n");
        kprintf("CMDLINE_PTR 0x%lx len=%u\n", cl, (unsigned)len);
    }

    uint64_t ird = rd32(zp, BP_RAMDISK_IMAGE) | ((uint64_t)rd32(zp, BP_EXT_RAMDISK_IMAGE) << 32);
    uint64_t irs = rd32(zp, BP_RAMDISK_SIZE) | ((uint64_t)rd32(zp, BP_EXT_RAMDISK_SIZE) << 32);
    if (irs == 0) {
        kprintf("INITRD none\n");
    } else {
        if (ird & 0xfff)
            fail("initrd at 0x%lx is not page-aligned", ird);
        int in_ram = 0;
        for (unsigned i = 0; i < n; i++)
            if (map[i].type == 1 && ird >= map[i].addr && ird + irs <= map[i].addr + map[i].size)
                in_ram = 1;
        if (!in_ram)
            fail("initrd [0x%lx, 0x%lx) is not inside one e820 RAM entry", ird, ird + irs);
        if (ird < (uintptr_t)_end && (uintptr_t)__image_start < ird + irs)
            fail("initrd overlaps the kernel image");
        uint64_t a, b;
        initrd_checksum((const uint8_t *)(uintptr_t)ird, irs, &a, &b);
        kprintf("INITRD 0x%lx 0x%lx %lu:%lu\n", ird, irs, b, a);
    }

    struct mp_info mp;
    why = mp_parse(&mp);
    if (why)
        fail("MP table: %s", why);
    kprintf("MPINFO fps=0x%x config=0x%x lapic=0x%x ioapic=0x%x buses=%u isa=%d ioapics=%u irqs=%u lints=%u bsp=%u nbsp=%u\n",
            mp.fps_addr, mp.config_addr, mp.lapic_addr, mp.ioapic_addr, mp.nbus, mp.has_isa_bus,
            mp.nioapic, mp.nirq, mp.nlint, mp.bsp_apic_id, mp.nbsp);
    if (mp.nbsp != 1 || mp.bsp_apic_id != 0)
        fail("MP table: expected exactly one BSP processor entry with APIC ID 0");
    for (unsigned i = 0; i < mp.ncpus && i < MP_MAX_CPUS; i++)
        if (mp.apic_ids[i] != i)
            fail("MP table: processor entry %u has APIC ID %u", i, mp.apic_ids[i]);
    if (!mp.has_isa_bus)
        fail("MP table: no ISA bus entry");
    if (mp.nioapic != 1 || mp.ioapic_addr != IOAPIC_BASE)
        fail("MP table: expected one IOAPIC at 0x%x", IOAPIC_BASE);
    if (mp.lapic_addr != LAPIC_BASE)
        fail("MP table: local APIC address 0x%x", mp.lapic_addr);
    if (mp.nirq == 0)
        fail("MP table: no interrupt entries");
    kprintf("MPTABLE cpus=%u\n", mp.ncpus);
    success();
}
