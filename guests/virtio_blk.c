/* virtio_blk: a minimal virtio-mmio (version 2) driver for Ember's virtio-blk and
 * virtio-rng devices. The devices are found the way Linux finds them: from the
 * devices the DSDT of Ember's ACPI tables describes (or, with acpi=off, the
 * "virtio_mmio.device=4K@<base>:<gsi>" parameters Ember appends to the command line).
 * One split virtqueue of QN entries per device, in this image's .bss (identity mapped, so
 * guest-physical = virtual). Completion is polled on the used ring and each request must
 * also raise the device's interrupt: IOAPIC pin <gsi> -> vector 0x20 + gsi, whose handler
 * reads InterruptStatus and acknowledges it.
 *
 * What runs is chosen by "ember.test=<words>" on the command line (default "blk"):
 *   blk      virtio-blk: negotiate VERSION_1 only, read sectors 0 and 1, write a pattern to
 *            sector 2 and read it back, FLUSH, GET_ID, a read past the end (IOERR). A
 *            read-only disk (VIRTIO_BLK_F_RO offered) must answer the write with IOERR.
 *   rng      virtio-rng: two 64-byte reads, not all zero and different.
 *   net      virtio-net (VERSION_1 + MAC): report the MAC, send a broadcast frame of
 *            EtherType 0x88b5 with "EMBER-PING", wait for an "EMBER-PONG" frame back to
 *            our MAC (the runner's peer on the tap answers).
 *   vsock    virtio-vsock: a guest-initiated stream to host port 1234 and a
 *            host-initiated one to guest port 4321, against the runner's Unix peer.
 *   loop | oob | rafterw | badring | robuf   (with blk) a hostile driver: a descriptor
 *            loop; a buffer outside RAM; a readable buffer after a writable one; ring
 *            addresses outside RAM at DRIVER_OK: each must make the device set
 *            DEVICE_NEEDS_RESET (with a config interrupt for the ring ones), after which
 *            a reset brings it back and a read works again (with rng too: the rng
 *            test runs while virtio-blk waits for its reset). robuf: an IN request whose
 *            data buffer is device-readable must leave that buffer alone. noqueue:
 *            DRIVER_OK without a ready queue, then a notify: GPA 0 must stay untouched
 *            and the reset must return.
 * Output lines (parsed by tests/kvm/run.sh):
 *   VIRTIO <id> at 0x<base> gsi <n>       one per device found
 *   BLK features=0x<hi>:<lo> ro=<0|1> capacity=<sectors>
 *   SECTOR <n> <first 16 bytes, dots for unprintable> <b>:<a>   (bootinfo's checksum)
 *   WRITE status=<s>      READBACK ok|skipped      FLUSH status=<s>
 *   ID <serial>           PASTEND status=<s>       IRQS used=<n> config=<n>
 *   RNG <n> bytes ok      HOSTILE <mode> status=0x<status> isr=0x<isr>   RECOVERED
 *   NET mac=<mac>         NET sent      NET received <n> bytes from <mac>
 *   NOQUEUE untouched     NOQUEUE reset
 *   VSOCK cid=<n>   VSOCK connected to host port 1234   VSOCK received <text>
 *   VSOCK shutdown send=<0|1>   VSOCK host connection PING PONG
 *   SUCCESS */
#include "guest.h"

#define QN 8
#define MAX_DEVS 4

/* virtio-mmio registers */
#define R_MAGIC 0x000
#define R_VERSION 0x004
#define R_DEVICE_ID 0x008
#define R_DEV_FEATURES 0x010
#define R_DEV_FEATURES_SEL 0x014
#define R_DRV_FEATURES 0x020
#define R_DRV_FEATURES_SEL 0x024
#define R_QUEUE_SEL 0x030
#define R_QUEUE_NUM_MAX 0x034
#define R_QUEUE_NUM 0x038
#define R_QUEUE_READY 0x044
#define R_QUEUE_NOTIFY 0x050
#define R_INT_STATUS 0x060
#define R_INT_ACK 0x064
#define R_STATUS 0x070
#define R_DESC_LO 0x080
#define R_DESC_HI 0x084
#define R_DRIVER_LO 0x090
#define R_DRIVER_HI 0x094
#define R_DEVICE_LO 0x0a0
#define R_DEVICE_HI 0x0a4
#define R_CONFIG 0x100

#define S_ACK 1
#define S_DRIVER 2
#define S_DRIVER_OK 4
#define S_FEATURES_OK 8
#define S_NEEDS_RESET 64

#define D_NEXT 1
#define D_WRITE 2

#define T_IN 0
#define T_OUT 1
#define T_FLUSH 4
#define T_GET_ID 8

/* Far outside the default 128 MiB of RAM (and below the MMIO gap). */
#define OUTSIDE_RAM 0x40000000ull

struct vdesc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags, next;
};

struct vavail {
    uint16_t flags, idx, ring[QN], used_event;
};

struct vused_elem {
    uint32_t id, len;
};

struct vused {
    uint16_t flags, idx;
    struct vused_elem ring[QN];
    uint16_t avail_event;
};

/* One split virtqueue: the rings and the driver's indices. */
struct gq {
    struct vdesc desc[QN] __attribute__((aligned(16)));
    struct vavail avail __attribute__((aligned(16)));
    struct vused used __attribute__((aligned(16)));
    uint16_t avail_idx, used_seen;
};

struct vdev {
    uintptr_t base;
    unsigned gsi;
    uint32_t id;
    volatile unsigned irq_used, irq_config, irqs;
    struct gq q[2];   /* virtio-net uses two: receive and transmit */
};

static struct vdev devs[MAX_DEVS];
static unsigned ndevs;

/* Request buffers (shared by the devices: one request at a time). */
static uint8_t hdr[16] __attribute__((aligned(16)));
static uint8_t buf[4096] __attribute__((aligned(64)));
static volatile uint8_t status_byte;

static uint32_t rd(struct vdev *d, unsigned off) { return mmio_read32(d->base + off); }
static void wr(struct vdev *d, unsigned off, uint32_t v) { mmio_write32(d->base + off, v); }

/* ---- command line ---- */

static const char *cmdline;

static const char *find(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (memcmp(hay, needle, n) == 0)
            return hay;
    return NULL;
}

static uint64_t parse_num(const char **p, unsigned base)
{
    uint64_t v = 0;
    for (;;) {
        char c = **p;
        unsigned dgt;
        if (c >= '0' && c <= '9')
            dgt = (unsigned)(c - '0');
        else if (base == 16 && c >= 'a' && c <= 'f')
            dgt = (unsigned)(c - 'a' + 10);
        else if (base == 16 && c >= 'A' && c <= 'F')
            dgt = (unsigned)(c - 'A' + 10);
        else
            return v;
        v = v * base + dgt;
        (*p)++;
    }
}

/* Is word w in the value of ember.test= (words separated by '+' or ',')? */
static int mode(const char *w)
{
    const char *p = find(cmdline, "ember.test=");
    size_t n = strlen(w);
    if (!p)
        return memcmp(w, "blk", 4) == 0;
    p += 11;
    while (*p && *p != ' ') {
        const char *e = p;
        while (*e && *e != ' ' && *e != '+' && *e != ',')
            e++;
        if ((size_t)(e - p) == n && memcmp(p, w, n) == 0)
            return 1;
        p = *e == '+' || *e == ',' ? e + 1 : e;
    }
    return 0;
}

static void add_device(uint64_t base, uint64_t gsi)
{
    if (base < 0xc0000000ull || base >= 0xfec00000ull || gsi > 23)
        fail("odd virtio-mmio device: base 0x%lx gsi %lu", base, gsi);
    if (ndevs == MAX_DEVS)
        fail("more than %u virtio devices", MAX_DEVS);
    struct vdev *d = &devs[ndevs++];
    d->base = (uintptr_t)base;
    d->gsi = (unsigned)gsi;
    if (rd(d, R_MAGIC) != 0x74726976)
        fail("device at 0x%lx: magic 0x%x", base, rd(d, R_MAGIC));
    if (rd(d, R_VERSION) != 2)
        fail("device at 0x%lx: version %u (want 2)", base, rd(d, R_VERSION));
    d->id = rd(d, R_DEVICE_ID);
    kprintf("VIRTIO %u at 0x%lx gsi %u\n", d->id, base, d->gsi);
}

/* With acpi=off Ember names the devices on the command line. */
static void find_devices_cmdline(void)
{
    const char *p = cmdline;
    while ((p = find(p, "virtio_mmio.device=")) != NULL) {
        p += 19;
        uint64_t size = parse_num(&p, 10);
        if (*p == 'K' || *p == 'k') {
            size <<= 10;
            p++;
        }
        if (p[0] != '@' || p[1] != '0' || p[2] != 'x')
            fail("cannot parse virtio_mmio.device= (at '%s')", p);
        p += 3;
        uint64_t base = parse_num(&p, 16);
        if (*p != ':')
            fail("virtio_mmio.device= without an interrupt");
        p++;
        uint64_t gsi = parse_num(&p, 10);
        if (size != 4096)
            fail("odd virtio_mmio.device= size %lu", size);
        add_device(base, gsi);
    }
}

/* ---- ACPI: RSDP (zero page) -> XSDT -> FADT -> DSDT, as an OS walks them ---- */

static uint64_t ld(const volatile uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static const uint8_t *acpi_table(uint64_t gpa, const char *sig)
{
    const uint8_t *t = (const uint8_t *)(uintptr_t)gpa;
    if (!gpa || gpa >= 0x100000000ull || memcmp(t, sig, 4) != 0)
        fail("ACPI: no %s table at 0x%lx", sig, gpa);
    uint32_t len = (uint32_t)ld(t + 4, 4);
    uint8_t sum = 0;
    if (len < 36 || len > 0x10000)
        fail("ACPI: %s length %u", sig, len);
    for (uint32_t i = 0; i < len; i++)
        sum = (uint8_t)(sum + t[i]);
    if (sum)
        fail("ACPI: %s checksum off by %u", sig, sum);
    return t;
}

/* Each LNRO0005 device's _CRS: the Memory32Fixed and Extended Interrupt descriptors
 * after its _HID. A scan, not an AML interpreter: enough for Ember's flat DSDT. */
static void find_devices_acpi(void *bp)
{
    const uint8_t *rsdp = (const uint8_t *)(uintptr_t)ld((const uint8_t *)bp + 0x70, 8);
    uint8_t sum = 0;
    if (!rsdp || memcmp(rsdp, "RSD PTR ", 8) != 0)
        fail("ACPI: no RSDP at the zero page's acpi_rsdp_addr");
    for (unsigned i = 0; i < 36; i++)
        sum = (uint8_t)(sum + rsdp[i]);
    if (sum)
        fail("ACPI: RSDP extended checksum off by %u", sum);
    const uint8_t *xsdt = acpi_table(ld(rsdp + 24, 8), "XSDT"), *fadt = NULL;
    for (uint32_t off = 36; off + 8 <= (uint32_t)ld(xsdt + 4, 4); off += 8) {
        const uint8_t *t = (const uint8_t *)(uintptr_t)ld(xsdt + off, 8);
        if (memcmp(t, "FACP", 4) == 0)
            fadt = acpi_table((uintptr_t)t, "FACP");
    }
    if (!fadt)
        fail("ACPI: no FADT in the XSDT");
    const uint8_t *dsdt = acpi_table(ld(fadt + 140, 8), "DSDT");
    uint32_t len = (uint32_t)ld(dsdt + 4, 4);
    unsigned found = 0;
    for (uint32_t i = 36; i + 9 <= len; i++) {
        if (memcmp(dsdt + i, "LNRO0005", 9) != 0)
            continue;
        uint64_t base = 0, gsi = 0;
        int have_mem = 0, have_irq = 0;
        for (uint32_t j = i + 9; j + 9 <= len && !(have_mem && have_irq); j++) {
            if (!have_mem && dsdt[j] == 0x86 && dsdt[j + 1] == 9 && dsdt[j + 2] == 0) {
                base = ld(dsdt + j + 4, 4);
                if (ld(dsdt + j + 8, 4) != 4096)
                    fail("ACPI: device window of %lu bytes", ld(dsdt + j + 8, 4));
                have_mem = 1;
            } else if (!have_irq && dsdt[j] == 0x89 && dsdt[j + 1] == 6 && dsdt[j + 2] == 0) {
                if ((dsdt[j + 3] & 0x0f) != 0x03)
                    fail("ACPI: interrupt flags 0x%x (want consumer, edge, high)", dsdt[j + 3]);
                gsi = ld(dsdt + j + 5, 4);
                have_irq = 1;
            }
        }
        if (!have_mem || !have_irq)
            fail("ACPI: LNRO0005 device without a window and an interrupt");
        add_device(base, gsi);
        found++;
    }
    kprintf("ACPI %u virtio devices\n", found);
}

static void find_devices(void *bp)
{
    if (find(cmdline, "virtio_mmio.device="))
        find_devices_cmdline();
    else
        find_devices_acpi(bp);
}

static struct vdev *device(uint32_t id)
{
    for (unsigned i = 0; i < ndevs; i++)
        if (devs[i].id == id)
            return &devs[i];
    fail("no virtio device with id %u", id);
}

/* ---- interrupts ---- */

static void virtio_isr(struct irq_frame *f)
{
    struct vdev *d = NULL;
    for (unsigned i = 0; i < ndevs; i++)
        if (f->vector == 0x20 + devs[i].gsi)
            d = &devs[i];
    if (d) {
        uint32_t isr = rd(d, R_INT_STATUS);
        d->irqs++;
        if (isr & 1)
            d->irq_used++;
        if (isr & 2)
            d->irq_config++;
        wr(d, R_INT_ACK, isr);
    }
    lapic_write(LAPIC_EOI, 0);
}

static void setup_interrupts(void)
{
    /* Legacy PIC: remapped out of the way and masked; the IOAPIC delivers. */
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
    for (unsigned i = 0; i < ndevs; i++) {
        unsigned pin = devs[i].gsi, vec = 0x20 + pin;
        idt_set_handler(vec, virtio_isr);
        /* fixed delivery, physical destination, edge, active high */
        ioapic_write(0x10 + 2 * pin + 1, me << 24);
        ioapic_write(0x10 + 2 * pin, vec);
    }
    sti();
}

/* ---- device bring-up ---- */

/* Reset, ACK, DRIVER, VERSION_1 (and the offered ones of want_lo), FEATURES_OK. Returns
 * the offered features. */
static uint64_t negotiate(struct vdev *d, uint32_t want_lo)
{
    wr(d, R_STATUS, 0);
    if (rd(d, R_STATUS) != 0)
        fail("status not 0 after a reset: 0x%x", rd(d, R_STATUS));
    wr(d, R_STATUS, S_ACK);
    wr(d, R_STATUS, S_ACK | S_DRIVER);
    wr(d, R_DEV_FEATURES_SEL, 1);
    uint64_t f = (uint64_t)rd(d, R_DEV_FEATURES) << 32;
    wr(d, R_DEV_FEATURES_SEL, 0);
    f |= rd(d, R_DEV_FEATURES);
    if (!(f & (1ull << 32)))
        fail("VIRTIO_F_VERSION_1 not offered (features 0x%lx)", f);
    wr(d, R_DRV_FEATURES_SEL, 1);
    wr(d, R_DRV_FEATURES, 1);
    wr(d, R_DRV_FEATURES_SEL, 0);
    wr(d, R_DRV_FEATURES, want_lo & (uint32_t)f);
    wr(d, R_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK);
    if (!(rd(d, R_STATUS) & S_FEATURES_OK))
        fail("FEATURES_OK refused for VERSION_1 alone");
    return f;
}

/* Queue sel at the given ring addresses (its own rings unless testing bad ones). */
static void setup_queue_at(struct vdev *d, unsigned sel, uint64_t desc, uint64_t avail,
                           uint64_t used)
{
    struct gq *q = &d->q[sel];
    memset(q, 0, sizeof(*q));
    wr(d, R_QUEUE_SEL, sel);
    if (rd(d, R_QUEUE_READY) != 0)
        fail("queue %u ready before setup", sel);
    uint32_t max = rd(d, R_QUEUE_NUM_MAX);
    if (max < QN)
        fail("queue %u max size %u < %u", sel, max, QN);
    wr(d, R_QUEUE_NUM, QN);
    wr(d, R_DESC_LO, (uint32_t)desc);
    wr(d, R_DESC_HI, (uint32_t)(desc >> 32));
    wr(d, R_DRIVER_LO, (uint32_t)avail);
    wr(d, R_DRIVER_HI, (uint32_t)(avail >> 32));
    wr(d, R_DEVICE_LO, (uint32_t)used);
    wr(d, R_DEVICE_HI, (uint32_t)(used >> 32));
    wr(d, R_QUEUE_READY, 1);
    if (rd(d, R_QUEUE_READY) != 1)
        fail("queue %u not ready after setup", sel);
}

static void setup_queue(struct vdev *d, unsigned sel)
{
    struct gq *q = &d->q[sel];
    setup_queue_at(d, sel, (uintptr_t)q->desc, (uintptr_t)&q->avail, (uintptr_t)&q->used);
}

static void driver_ok(struct vdev *d)
{
    wr(d, R_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
    uint32_t st = rd(d, R_STATUS);
    if (st != (S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK))
        fail("status 0x%x after DRIVER_OK", st);
}

static void bring_up(struct vdev *d)
{
    negotiate(d, 0);
    setup_queue(d, 0);
    driver_ok(d);
}

/* ---- requests ---- */

static uint16_t used_idx(struct gq *q) { return *(volatile uint16_t *)&q->used.idx; }

static void publish_q(struct vdev *d, unsigned sel, uint16_t head)
{
    struct gq *q = &d->q[sel];
    q->avail.ring[q->avail_idx % QN] = head;
    barrier();
    q->avail_idx++;
    *(volatile uint16_t *)&q->avail.idx = q->avail_idx;
    barrier();
    wr(d, R_QUEUE_NOTIFY, sel);
}

static void publish(struct vdev *d, uint16_t head) { publish_q(d, 0, head); }

/* Waits for the next used entry of queue sel and an interrupt; returns the entry. */
static struct vused_elem wait_used_q(struct vdev *d, unsigned sel, unsigned irq_before,
                                     const char *what)
{
    struct gq *q = &d->q[sel];
    deadline_start(5000);
    while (used_idx(q) == q->used_seen || d->irq_used == irq_before) {
        if (deadline_passed())
            fail("%s: no completion in 5 s (used idx %u, seen %u, used irqs %u, status 0x%x)",
                 what, used_idx(q), q->used_seen, d->irq_used, rd(d, R_STATUS));
        cpu_relax();
    }
    barrier();
    struct vused_elem e = q->used.ring[q->used_seen % QN];
    q->used_seen++;
    return e;
}

/* Queue 0, one chain at head 0 in flight: returns the used length. */
static uint32_t wait_used(struct vdev *d, unsigned irq_before, const char *what)
{
    struct vused_elem e = wait_used_q(d, 0, irq_before, what);
    if (e.id != 0)
        fail("%s: used id %u (want head 0)", what, e.id);
    return e.len;
}

static void set_desc_q(struct vdev *d, unsigned sel, unsigned i, const volatile void *addr,
                       uint32_t len, uint16_t flags, uint16_t next)
{
    d->q[sel].desc[i] = (struct vdesc){ (uintptr_t)addr, len, flags, next };
}

static void set_desc(struct vdev *d, unsigned i, const volatile void *addr, uint32_t len,
                     uint16_t flags, uint16_t next)
{
    set_desc_q(d, 0, i, addr, len, flags, next);
}

/* header(16, readable) -> data(len, writable for IN/GET_ID) -> status(1, writable). */
static uint8_t blk_req(struct vdev *d, uint32_t type, uint64_t sector, uint32_t len,
                       uint32_t *used_len)
{
    memcpy(hdr, &type, 4);
    memset(hdr + 4, 0, 4);
    memcpy(hdr + 8, &sector, 8);
    status_byte = 0xee;
    int in = type == T_IN || type == T_GET_ID;
    set_desc(d, 0, hdr, 16, D_NEXT, 1);
    if (len) {
        set_desc(d, 1, buf, len, (uint16_t)(D_NEXT | (in ? D_WRITE : 0)), 2);
        set_desc(d, 2, &status_byte, 1, D_WRITE, 0);
    } else {
        set_desc(d, 1, &status_byte, 1, D_WRITE, 0);
    }
    unsigned before = d->irq_used;
    publish(d, 0);
    *used_len = wait_used(d, before, "blk request");
    return status_byte;
}

/* bootinfo's initrd checksum (see guests/bootinfo.c), over n bytes (n % 4 == 0). */
#define WSUM_P 4294967291ull
static void wsum(const uint8_t *p, size_t n, uint64_t *ra, uint64_t *rb)
{
    uint64_t a = 1, b = 0;
    for (size_t i = 0; i < n; i += 4) {
        a += rd32(p, i);
        while (a >= WSUM_P)
            a -= WSUM_P;
        b += a;
        while (b >= WSUM_P)
            b -= WSUM_P;
    }
    *ra = a;
    *rb = b;
}

static void print_sector(uint64_t s)
{
    char text[17];
    uint64_t a, b;
    for (int i = 0; i < 16; i++)
        text[i] = buf[i] >= 0x21 && buf[i] < 0x7f ? (char)buf[i] : '.';
    text[16] = 0;
    wsum(buf, 512, &a, &b);
    kprintf("SECTOR %lu %s %lu:%lu\n", s, text, b, a);
}

static uint64_t capacity(struct vdev *d)
{
    return rd(d, R_CONFIG) | (uint64_t)rd(d, R_CONFIG + 4) << 32;
}

static void blk_read_ok(struct vdev *d, uint64_t sector, const char *what)
{
    uint32_t ulen;
    uint8_t st = blk_req(d, T_IN, sector, 512, &ulen);
    if (st != 0 || ulen != 513)
        fail("%s: read of sector %lu: status %u, used len %u (want 0, 513)", what, sector, st,
             ulen);
}

static void blk_test(struct vdev *d)
{
    uint32_t ulen;
    uint8_t st;

    uint64_t f = negotiate(d, 0);
    int ro = (f >> 5) & 1;
    setup_queue(d, 0);
    uint64_t cap = capacity(d);
    kprintf("BLK features=0x%x:0x%x ro=%d capacity=%lu\n", (uint32_t)(f >> 32), (uint32_t)f, ro,
            cap);
    if (cap < 3)
        fail("disk of %lu sectors: the test needs 3", cap);
    driver_ok(d);

    for (uint64_t s = 0; s < 2; s++) {
        memset(buf, 0, 512);
        blk_read_ok(d, s, "SECTOR");
        print_sector(s);
    }

    static uint8_t before[512];
    blk_read_ok(d, 2, "sector 2 before the write");
    memcpy(before, buf, 512);
    for (int i = 0; i < 512; i++)
        buf[i] = (uint8_t)('A' + i % 26);
    st = blk_req(d, T_OUT, 2, 512, &ulen);
    kprintf("WRITE status=%u\n", st);
    if (ulen != 1)
        fail("write: used len %u (want 1: the status byte)", ulen);
    if (st != (ro ? 1 : 0))
        fail("write on a %s disk: status %u", ro ? "read-only" : "writable", st);
    memset(buf, 0, 512);
    blk_read_ok(d, 2, "readback");
    int same = 1;
    for (int i = 0; i < 512; i++)
        if (buf[i] != (uint8_t)('A' + i % 26))
            same = 0;
    if (!ro && !same)
        fail("sector 2 read back differs from what was written");
    if (ro && memcmp(buf, before, 512) != 0)
        fail("a read-only disk changed on a write");
    kprintf("READBACK %s\n", ro ? "unchanged" : "ok");

    st = blk_req(d, T_FLUSH, 0, 0, &ulen);
    kprintf("FLUSH status=%u\n", st);
    if (st != 0 || ulen != 1)
        fail("flush: status %u used len %u", st, ulen);

    memset(buf, 0x77, 32);
    st = blk_req(d, T_GET_ID, 0, 20, &ulen);
    if (st != 0 || ulen != 21)
        fail("get-id: status %u used len %u (want 0, 21)", st, ulen);
    buf[20] = 0;
    kprintf("ID %s\n", (const char *)buf);

    memset(buf, 0x77, 512);
    st = blk_req(d, T_IN, cap, 512, &ulen);
    kprintf("PASTEND status=%u\n", st);
    if (st != 1 || ulen != 1)
        fail("read past the end: status %u used len %u (want 1, 1)", st, ulen);
    if (buf[0] != 0x77 || buf[511] != 0x77)
        fail("read past the end wrote data");
    kprintf("IRQS used=%u config=%u\n", d->irq_used, d->irq_config);
    if (d->irq_config)
        fail("config interrupts without a config change");
}

static void rng_test(struct vdev *d);
static int rng_done;

/* Waits for DEVICE_NEEDS_RESET (and, for rings already in use, a config interrupt). */
static void expect_needs_reset(struct vdev *d, const char *m, int want_irq)
{
    deadline_start(5000);
    while (!(rd(d, R_STATUS) & S_NEEDS_RESET) || (want_irq && !d->irq_config)) {
        if (deadline_passed())
            fail("%s: no DEVICE_NEEDS_RESET in 5 s (status 0x%x, config irqs %u)", m,
                 rd(d, R_STATUS), d->irq_config);
        cpu_relax();
    }
    kprintf("HOSTILE %s status=0x%x isr=0x%x config_irqs=%u\n", m, rd(d, R_STATUS),
            rd(d, R_INT_STATUS), d->irq_config);
    if (used_idx(&d->q[0]) != d->q[0].used_seen)
        fail("%s: the malformed chain was used", m);
    /* The other devices work while this one waits for its reset. */
    if (mode("rng") && !rng_done)
        rng_test(device(4));
    /* The reset brings the device back. */
    wr(d, R_STATUS, 0);
    if (rd(d, R_STATUS) != 0)
        fail("%s: status 0x%x after the reset", m, rd(d, R_STATUS));
    bring_up(d);
    blk_read_ok(d, 0, "after the reset");
    kprintf("RECOVERED\n");
}

static void hostile_test(struct vdev *d, const char *m)
{
    bring_up(d);
    blk_read_ok(d, 1, "before the hostile request");
    memcpy(hdr, &(uint32_t){ T_IN }, 4);
    memset(hdr + 4, 0, 12);
    d->irq_config = 0;
    if (memcmp(m, "loop", 5) == 0) {
        /* 0 -> 1 -> 0, both readable (so only the loop is wrong) */
        set_desc(d, 0, hdr, 16, D_NEXT, 1);
        set_desc(d, 1, buf, 512, D_NEXT, 0);
    } else if (memcmp(m, "oob", 4) == 0) {
        set_desc(d, 0, hdr, 16, D_NEXT, 1);
        d->q[0].desc[1] = (struct vdesc){ OUTSIDE_RAM, 512, D_NEXT | D_WRITE, 2 };
        set_desc(d, 2, &status_byte, 1, D_WRITE, 0);
    } else if (memcmp(m, "rafterw", 8) == 0) {
        set_desc(d, 0, buf, 512, D_NEXT | D_WRITE, 1);
        set_desc(d, 1, hdr, 16, D_NEXT, 2);
        set_desc(d, 2, &status_byte, 1, D_WRITE, 0);
    } else if (memcmp(m, "robuf", 6) == 0) {
        /* IN with a device-readable data buffer: only the status byte may change. */
        memset(buf, 0x5a, 512);
        set_desc(d, 0, hdr, 16, D_NEXT, 1);
        set_desc(d, 1, buf, 512, D_NEXT, 2);
        set_desc(d, 2, &status_byte, 1, D_WRITE, 0);
        status_byte = 0xee;
        unsigned before = d->irq_used;
        publish(d, 0);
        uint32_t ulen = wait_used(d, before, "robuf");
        for (int i = 0; i < 512; i++)
            if (buf[i] != 0x5a)
                fail("robuf: the device wrote into a driver-read-only buffer (byte %d)", i);
        kprintf("HOSTILE robuf status=0x%x used_len=%u blk_status=%u\n", rd(d, R_STATUS), ulen,
                status_byte);
        if (ulen > 1 || (rd(d, R_STATUS) & S_NEEDS_RESET))
            fail("robuf: used len %u status 0x%x", ulen, rd(d, R_STATUS));
        blk_read_ok(d, 0, "after robuf");
        return;
    } else if (memcmp(m, "badring", 8) == 0) {
        /* Rings outside RAM: refused at DRIVER_OK, before any request. */
        wr(d, R_STATUS, 0);
        negotiate(d, 0);
        setup_queue_at(d, 0, OUTSIDE_RAM, (uintptr_t)&d->q[0].avail, (uintptr_t)&d->q[0].used);
        wr(d, R_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
        expect_needs_reset(d, m, 1);
        return;
    } else {
        fail("unknown hostile mode %s", m);
    }
    publish(d, 0);
    expect_needs_reset(d, m, 1);
}

/* noqueue: DRIVER_OK with queue 0 never made ready, a non-zero word at GPA 2, a notify.
 * The device must not write guest memory it was not given (GPA 0, where an unset queue's
 * rings would be) and must still reset promptly. */
static void noqueue_test(struct vdev *d)
{
    uintptr_t zero = 0;
    __asm__("" : "+r"(zero));   /* address 0, without telling the compiler */
    volatile uint8_t *gpa0 = (volatile uint8_t *)zero;
    static const uint8_t want[4] = { 0xcd, 0xab, 0x01, 0x00 };

    negotiate(d, 0);
    for (int i = 0; i < 4; i++)
        gpa0[i] = want[i];
    driver_ok(d);
    wr(d, R_QUEUE_NOTIFY, 0);
    delay_us(100000);
    for (int i = 0; i < 4; i++)
        if (gpa0[i] != want[i])
            fail("noqueue: the device wrote guest address %d (0x%x, was 0x%x)", i, gpa0[i],
                 want[i]);
    kprintf("NOQUEUE untouched\n");
    wr(d, R_STATUS, 0);   /* must return */
    kprintf("NOQUEUE reset\n");
}

static void rng_test(struct vdev *d)
{
    uint8_t first[64];
    bring_up(d);
    for (int round = 0; round < 2; round++) {
        memset(buf, 0, 64);
        set_desc(d, 0, buf, 64, D_WRITE, 0);
        unsigned before = d->irq_used;
        publish(d, 0);
        uint32_t n = wait_used(d, before, "rng request");
        if (n != 64)
            fail("rng: %u bytes (want 64)", n);
        int zero = 1;
        for (int i = 0; i < 64; i++)
            if (buf[i])
                zero = 0;
        if (zero)
            fail("rng: 64 zero bytes");
        if (round == 1 && memcmp(first, buf, 64) == 0)
            fail("rng: the same 64 bytes twice");
        memcpy(first, buf, 64);
    }
    kprintf("RNG 64 bytes ok\n");
    wr(d, R_STATUS, 0);
    rng_done = 1;
}

/* virtio-net: send one broadcast frame (EtherType 0x88b5, "EMBER-PING") and wait for the
 * peer's answer ("EMBER-PONG"); other frames (the host's own traffic) are skipped. */
#define NET_HDR 12           /* struct virtio_net_hdr_v1 */
#define ETH_LEN 1514
static uint8_t txframe[NET_HDR + 60] __attribute__((aligned(16)));
static uint8_t rxframes[2][NET_HDR + ETH_LEN] __attribute__((aligned(16)));

static void net_test(struct vdev *d)
{
    uint8_t mac[6];
    uint64_t f = negotiate(d, 1u << 5);   /* VIRTIO_NET_F_MAC */
    if (!(f & (1u << 5)))
        fail("net: VIRTIO_NET_F_MAC not offered");
    for (int i = 0; i < 6; i++)
        mac[i] = *(volatile uint8_t *)(d->base + R_CONFIG + (unsigned)i);
    kprintf("NET mac=%02x:%02x:%02x:%02x:%02x:%02x\n", mac[0], mac[1], mac[2], mac[3], mac[4],
            mac[5]);
    setup_queue(d, 0);   /* receive */
    setup_queue(d, 1);   /* transmit */
    driver_ok(d);
    for (uint16_t i = 0; i < 2; i++) {
        set_desc_q(d, 0, i, rxframes[i], sizeof(rxframes[i]), D_WRITE, 0);
        publish_q(d, 0, i);
    }

    uint8_t *eth = txframe + NET_HDR;
    memset(txframe, 0, sizeof(txframe));
    memset(eth, 0xff, 6);
    memcpy(eth + 6, mac, 6);
    eth[12] = 0x88;
    eth[13] = 0xb5;
    memcpy(eth + 14, "EMBER-PING", 10);
    set_desc_q(d, 1, 0, txframe, sizeof(txframe), 0, 0);
    unsigned before = d->irq_used;
    publish_q(d, 1, 0);
    struct vused_elem e = wait_used_q(d, 1, before, "net transmit");
    if (e.id != 0)
        fail("net: transmit used id %u", e.id);
    kprintf("NET sent\n");

    struct gq *rx = &d->q[0];
    unsigned skipped = 0;
    deadline_start(10000);
    for (;;) {
        while (used_idx(rx) == rx->used_seen) {
            if (deadline_passed())
                fail("net: no answer in 10 s (%u other frames)", skipped);
            cpu_relax();
        }
        barrier();
        e = rx->used.ring[rx->used_seen % QN];
        rx->used_seen++;
        if (e.id > 1 || e.len < NET_HDR + 24 || e.len > sizeof(rxframes[0]))
            fail("net: receive used id %u len %u", e.id, e.len);
        const uint8_t *r = rxframes[e.id];
        if (rd16(r, 10) != 1)
            fail("net: num_buffers %u (want 1)", rd16(r, 10));
        const uint8_t *reth = r + NET_HDR;
        if (reth[12] == 0x88 && reth[13] == 0xb5 && memcmp(reth + 14, "EMBER-PONG", 10) == 0) {
            if (memcmp(reth, mac, 6) != 0)
                fail("net: the answer is not for our MAC");
            kprintf("NET received %u bytes from %02x:%02x:%02x:%02x:%02x:%02x\n",
                    e.len - NET_HDR, reth[6], reth[7], reth[8], reth[9], reth[10], reth[11]);
            break;
        }
        skipped++;
        publish_q(d, 0, (uint16_t)e.id);   /* give the buffer back */
    }
    if (d->irq_used == 0)
        fail("net: no used-buffer interrupts");
    wr(d, R_STATUS, 0);
}

/* virtio-vsock (device 19): queue 0 receives, queue 1 transmits, the event queue stays
 * unset. A guest-initiated stream to host port 1234 (the runner's Unix listener at
 * <uds>_1234 answers "EMBER-VSOCK-WORLD" to "EMBER-VSOCK-HELLO" and hangs up), then a
 * host-initiated one (the runner sends "CONNECT 4321", then "PING"; the guest answers
 * "PONG"). Every packet is checked: from CID 2 to ours, stream, len = used len - 44. */
#define VS_HDR 44
#define VS_DATA 256
#define VS_REQUEST 1
#define VS_RESPONSE 2
#define VS_RST 3
#define VS_SHUTDOWN 4
#define VS_RW 5
#define VS_CREDIT_UPDATE 6
static uint8_t vs_rx[QN][VS_HDR + VS_DATA] __attribute__((aligned(16)));
static uint8_t vs_tx[VS_HDR + VS_DATA] __attribute__((aligned(16)));
static uint64_t vs_cid;

struct vs_pkt {
    uint32_t src_port, dst_port, len, flags, buf_alloc;
    uint16_t op;
    char data[VS_DATA + 1];
};

static void vs_send(struct vdev *d, uint32_t sport, uint32_t dport, uint16_t op, const char *data,
                    uint32_t len, uint32_t fwd_cnt)
{
    uint64_t host = 2;
    uint16_t type = 1;
    uint32_t flags = 0, buf_alloc = 65536;
    memcpy(vs_tx, &vs_cid, 8);
    memcpy(vs_tx + 8, &host, 8);
    memcpy(vs_tx + 16, &sport, 4);
    memcpy(vs_tx + 20, &dport, 4);
    memcpy(vs_tx + 24, &len, 4);
    memcpy(vs_tx + 28, &type, 2);
    memcpy(vs_tx + 30, &op, 2);
    memcpy(vs_tx + 32, &flags, 4);
    memcpy(vs_tx + 36, &buf_alloc, 4);
    memcpy(vs_tx + 40, &fwd_cnt, 4);
    if (len)
        memcpy(vs_tx + VS_HDR, data, len);
    set_desc_q(d, 1, 0, vs_tx, VS_HDR + len, 0, 0);
    unsigned before = d->irq_used;
    publish_q(d, 1, 0);
    struct vused_elem e = wait_used_q(d, 1, before, "vsock transmit");
    if (e.id != 0)
        fail("vsock: transmit used id %u", e.id);
}

/* The next packet other than a credit update (10 s at most); its buffer goes back. */
static void vs_recv(struct vdev *d, struct vs_pkt *p, const char *what)
{
    struct gq *q = &d->q[0];
    for (;;) {
        deadline_start(10000);
        while (used_idx(q) == q->used_seen) {
            if (deadline_passed())
                fail("vsock: %s: no packet in 10 s", what);
            cpu_relax();
        }
        barrier();
        struct vused_elem e = q->used.ring[q->used_seen % QN];
        q->used_seen++;
        if (e.id >= QN || e.len < VS_HDR || e.len > VS_HDR + VS_DATA)
            fail("vsock: %s: used id %u len %u", what, e.id, e.len);
        const uint8_t *b = vs_rx[e.id];
        if (rd64(b, 0) != 2 || rd64(b, 8) != vs_cid || rd16(b, 28) != 1)
            fail("vsock: %s: src_cid %lu dst_cid %lu type %u", what, rd64(b, 0), rd64(b, 8),
                 rd16(b, 28));
        p->src_port = rd32(b, 16);
        p->dst_port = rd32(b, 20);
        p->len = rd32(b, 24);
        p->op = rd16(b, 30);
        p->flags = rd32(b, 32);
        p->buf_alloc = rd32(b, 36);
        if (p->len != e.len - VS_HDR)
            fail("vsock: %s: header len %u, used len %u", what, p->len, e.len);
        memcpy(p->data, b + VS_HDR, p->len);
        p->data[p->len] = '\0';
        publish_q(d, 0, (uint16_t)e.id);
        if (p->op != VS_CREDIT_UPDATE)
            return;
    }
}

static void vsock_test(struct vdev *d)
{
    struct vs_pkt p;
    negotiate(d, 0);
    vs_cid = mmio_read32(d->base + R_CONFIG) | (uint64_t)mmio_read32(d->base + R_CONFIG + 4) << 32;
    kprintf("VSOCK cid=%lu\n", vs_cid);
    setup_queue(d, 0);
    setup_queue(d, 1);
    driver_ok(d);
    for (uint16_t i = 0; i < QN; i++) {
        set_desc_q(d, 0, i, vs_rx[i], sizeof(vs_rx[i]), D_WRITE, 0);
        publish_q(d, 0, i);
    }

    /* Guest to host. */
    vs_send(d, 40000, 1234, VS_REQUEST, NULL, 0, 0);
    vs_recv(d, &p, "guest connect");
    if (p.op != VS_RESPONSE || p.src_port != 1234 || p.dst_port != 40000 || !p.buf_alloc)
        fail("vsock: guest connect: op %u ports %u->%u buf_alloc %u", p.op, p.src_port,
             p.dst_port, p.buf_alloc);
    kprintf("VSOCK connected to host port 1234\n");
    vs_send(d, 40000, 1234, VS_RW, "EMBER-VSOCK-HELLO", 17, 0);
    uint32_t got = 0;
    for (;;) {
        vs_recv(d, &p, "host answer");
        if (p.op == VS_RW) {
            got += p.len;
            kprintf("VSOCK received %s\n", p.data);
        } else if (p.op == VS_SHUTDOWN) {
            kprintf("VSOCK shutdown send=%u\n", (p.flags & 2) ? 1 : 0);
            break;
        } else {
            fail("vsock: host answer: op %u", p.op);
        }
    }
    vs_send(d, 40000, 1234, VS_RST, NULL, 0, got);

    /* Host to guest. */
    vs_recv(d, &p, "host connect");
    if (p.op != VS_REQUEST || p.dst_port != 4321 || p.src_port < (1u << 30))
        fail("vsock: host connect: op %u ports %u->%u", p.op, p.src_port, p.dst_port);
    uint32_t hport = p.src_port;
    vs_send(d, 4321, hport, VS_RESPONSE, NULL, 0, 0);
    vs_recv(d, &p, "host data");
    if (p.op != VS_RW || p.src_port != hport || memcmp(p.data, "PING", 5) != 0)
        fail("vsock: host data: op %u len %u '%s'", p.op, p.len, p.data);
    vs_send(d, 4321, hport, VS_RW, "PONG", 4, 4);
    vs_recv(d, &p, "host close");
    if (p.op != VS_SHUTDOWN)
        fail("vsock: host close: op %u", p.op);
    vs_send(d, 4321, hport, VS_RST, NULL, 0, 4);
    kprintf("VSOCK host connection PING PONG\n");
    if (d->irq_used == 0)
        fail("vsock: no used-buffer interrupts");
    wr(d, R_STATUS, 0);
}

void guest_main(void *bp)
{
    uint64_t cl = rd32(bp, BP_CMD_LINE_PTR) | ((uint64_t)rd32(bp, BP_EXT_CMD_LINE_PTR) << 32);
    if (!cl)
        fail("no command line");
    cmdline = (const char *)(uintptr_t)cl;
    find_devices(bp);
    setup_interrupts();
    int did = 0;
    if (mode("blk")) {
        struct vdev *d = device(2);
        static const char *const hostile[] = { "loop", "oob", "rafterw", "robuf", "badring" };
        int h = 0;
        if (mode("noqueue")) {
            noqueue_test(d);
            h = 1;
        }
        for (unsigned i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++)
            if (mode(hostile[i])) {
                hostile_test(d, hostile[i]);
                h = 1;
            }
        if (!h)
            blk_test(d);
        wr(d, R_STATUS, 0);
        did = 1;
    }
    if (mode("rng")) {
        if (!rng_done)
            rng_test(device(4));
        did = 1;
    }
    if (mode("net")) {
        net_test(device(1));
        did = 1;
    }
    if (mode("vsock")) {
        vsock_test(device(19));
        did = 1;
    }
    if (!did)
        fail("nothing to test: ember.test= names none of blk, rng, net, vsock");
    cli();
    success();
}
