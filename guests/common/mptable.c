/* Intel MultiProcessor Specification 1.4 table: find the floating pointer structure in
 * 0xF0000-0xFFFFF, check both checksums, and summarise the configuration table. */
#include "guest.h"

static uint8_t sum8(const uint8_t *p, size_t n)
{
    uint8_t s = 0;
    for (size_t i = 0; i < n; i++)
        s = (uint8_t)(s + p[i]);
    return s;
}

const char *mp_parse(struct mp_info *mp)
{
    memset(mp, 0, sizeof *mp);
    const uint8_t *fps = NULL;
    for (uintptr_t a = 0xF0000; a < 0x100000; a += 16) {
        const uint8_t *p = (const uint8_t *)a;
        if (p[0] == '_' && p[1] == 'M' && p[2] == 'P' && p[3] == '_') {
            fps = p;
            break;
        }
    }
    if (!fps)
        return "no _MP_ floating pointer structure in 0xF0000-0xFFFFF";
    mp->fps_addr = (uint32_t)(uintptr_t)fps;
    unsigned len16 = fps[8];
    if (len16 == 0 || mp->fps_addr + len16 * 16u > 0x100000)
        return "_MP_ structure has a bad length";
    if (sum8(fps, len16 * 16u) != 0)
        return "_MP_ structure checksum is wrong";
    if (fps[11] != 0)
        return "_MP_ feature byte 1 selects a default configuration, no PCMP table";
    uint32_t cfg = rd32(fps, 4);
    if (cfg == 0)
        return "_MP_ structure has no configuration table pointer";
    mp->config_addr = cfg;
    const uint8_t *ct = (const uint8_t *)(uintptr_t)cfg;
    if (memcmp(ct, "PCMP", 4) != 0)
        return "configuration table signature is not PCMP";
    uint16_t base_len = rd16(ct, 4);
    if (base_len < 0x2c)
        return "PCMP base table too short";
    if (sum8(ct, base_len) != 0)
        return "PCMP base table checksum is wrong";
    uint16_t ext_len = rd16(ct, 0x28);
    if (ext_len && (uint8_t)(sum8(ct + base_len, ext_len) + ct[0x2a]) != 0)
        return "PCMP extended table checksum is wrong";
    uint16_t count = rd16(ct, 0x22);
    mp->lapic_addr = rd32(ct, 0x24);
    const uint8_t *e = ct + 0x2c, *end = ct + base_len;
    for (unsigned i = 0; i < count; i++) {
        if (e >= end)
            return "PCMP entry count runs past the base table";
        switch (e[0]) {
        case 0: /* processor */
            if (e + 20 > end)
                return "truncated processor entry";
            if (e[3] & 1) {
                if (mp->ncpus < MP_MAX_CPUS)
                    mp->apic_ids[mp->ncpus] = e[1];
                mp->ncpus++;
                if (e[3] & 2) {
                    mp->nbsp++;
                    mp->bsp_apic_id = e[1];
                }
            }
            e += 20;
            break;
        case 1: /* bus */
            mp->nbus++;
            if (memcmp(e + 2, "ISA   ", 6) == 0)
                mp->has_isa_bus = 1;
            e += 8;
            break;
        case 2: /* IOAPIC */
            mp->nioapic++;
            mp->ioapic_addr = rd32(e, 4);
            e += 8;
            break;
        case 3:
            mp->nirq++;
            e += 8;
            break;
        case 4:
            mp->nlint++;
            e += 8;
            break;
        default:
            return "unknown PCMP entry type";
        }
    }
    if (e != end)
        return "PCMP entries do not fill the base table exactly";
    return NULL;
}
