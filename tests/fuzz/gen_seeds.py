#!/usr/bin/env python3
"""Writes the fuzzers' seed corpus into tests/fuzz/corpus/<target>/ (committed; rerun
after changing the input formats). Every seed is made here from the formats' specs: no
file is copied from elsewhere.

  kernel_image  small ELF64 vmlinux images and bzImages (Linux boot protocol header)
  serial        operation programs in fuzz_serial.c's encoding (Linux 8250 probe, RX/TX)
  i8042         operation programs in fuzz_i8042.c's encoding (Linux i8042 probe, reset)
  virtqueue     2 header bytes + guest memory with split rings (fuzz_virtqueue.c's layout)
  virtio_blk    1 flag byte + guest memory with virtio-blk requests (fuzz_virtio_blk.c)
  virtio_mmio   register programs in fuzz_virtio_mmio.c's encoding (Linux probe, queues)
  virtio_vsock  record programs in fuzz_virtio_vsock.c's encoding (connects, data, close)
  mmds_http     1 flag byte + MMDS guest requests (fuzz_mmds_http.c: "$T" is a token)
  mmds_stack    1 flag byte + frame programs in fuzz_mmds_stack.c's encoding

Run with target names (e.g. mmds_http mmds_stack) to write only those.
"""
import os
import struct
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def write(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    assert len(data) < 64 * 1024, name
    with open(os.path.join(d, name), "wb") as f:
        f.write(bytes(data))


# ---- ELF64 ----

PT_LOAD, PT_NOTE = 1, 4


def elf(entry, segs, payload_len, machine=62, etype=2):
    """segs: (type, offset, paddr, vaddr, filesz, memsz); program headers at 64."""
    phoff = 64
    eh = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    eh += struct.pack("<HHIQQQIHHHHHH", etype, machine, 1, entry, phoff, 0, 0, 64, 56,
                      len(segs), 64, 0, 0)
    ph = b"".join(struct.pack("<IIQQQQQQ", t, 5, off, va, pa, fs, ms, 0x1000)
                  for (t, off, pa, va, fs, ms) in segs)
    size = max(payload_len, phoff + len(ph))
    buf = bytearray((i * 131 + 7) & 0xff for i in range(size))
    buf[0:64] = eh
    buf[phoff:phoff + len(ph)] = ph
    return buf


def bzimage(version=0x020F, setup_sects=1, loadflags=0x01, xloadflags=0x01, reloc=1,
            align=0x200000, pref=0x1000000, init_size=0x100000, cmdline_size=2047,
            initrd_max=0x7FFFFFFF, payload=0x800, hdr_end=0x26C):
    setup = ((setup_sects or 4) + 1) * 512
    buf = bytearray((i * 131 + 7) & 0xff for i in range(setup + payload))
    buf[0x1F1:0x270] = bytes(0x270 - 0x1F1)
    buf[0x1F1] = setup_sects
    struct.pack_into("<I", buf, 0x1F4, payload // 16)
    struct.pack_into("<H", buf, 0x1FE, 0xAA55)
    buf[0x200] = 0xEB
    buf[0x201] = hdr_end - 0x202
    buf[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", buf, 0x206, version)
    buf[0x211] = loadflags
    struct.pack_into("<I", buf, 0x214, 0x100000)
    struct.pack_into("<I", buf, 0x22C, initrd_max)
    struct.pack_into("<I", buf, 0x230, align)
    buf[0x234] = reloc
    struct.pack_into("<H", buf, 0x236, xloadflags)
    struct.pack_into("<I", buf, 0x238, cmdline_size)
    struct.pack_into("<Q", buf, 0x258, pref)
    struct.pack_into("<I", buf, 0x260, init_size)
    return buf


def kernel_seeds():
    write("kernel_image", "elf-min",
          elf(0x100000, [(PT_LOAD, 0x100, 0x100000, 0x100000, 0x100, 0x1000)], 0x200))
    v = 0xFFFFFFFF81000000
    write("kernel_image", "elf-vmlinux-like",
          elf(0x1000040, [(PT_LOAD, 0x400, 0x1000000, v, 0x400, 0x800),
                          (PT_LOAD, 0x800, 0x1001000, v + 0x1000, 0x200, 0x1000),
                          (PT_LOAD, 0xA00, 0x1002000, v + 0x2000, 0, 0x3000),
                          (PT_NOTE, 0xA00, 0, 0, 0x20, 0x20)], 0xA20))
    write("kernel_image", "elf-high-overlap",
          elf(0x2000000, [(PT_LOAD, 0x200, 0x2000000, 0x2000000, 0x100, 0x100),
                          (PT_LOAD, 0x200, 0x2000080, 0x2000080, 0x100, 0x200)], 0x300))
    write("kernel_image", "bz-2.15", bzimage())
    write("kernel_image", "bz-setup-sects-0", bzimage(setup_sects=0))
    write("kernel_image", "bz-2.06-fixed",
          bzimage(version=0x0206, xloadflags=0, reloc=0, pref=0, init_size=0,
                  cmdline_size=255, initrd_max=0x37FFFFFF, hdr_end=0x23C))
    write("kernel_image", "bz-2.11-misaligned-pref",
          bzimage(version=0x020B, xloadflags=0, pref=0x1000001, hdr_end=0x264))
    write("kernel_image", "bz-big-init",
          bzimage(init_size=0x3F00000, payload=0x400))


# ---- serial programs (see fuzz_serial.c) ----

def sop(kind, reg=0):
    for b in range(256):
        if b % 6 == kind and (b >> 3) & 7 == reg:
            return b
    raise ValueError((kind, reg))


def srd(reg):
    return [sop(0, reg)]


def swr(reg, val):
    return [sop(1, reg), val]


def spush(n8):
    return [sop(2), n8]


DATA, IER, IIR, LCR, MCR, LSR, MSR, SCR = 0, 1, 2, 3, 4, 5, 6, 7


def serial_seeds():
    probe = []
    probe += swr(IER, 0) + srd(IER) + swr(IER, 0x0F) + srd(IER) + swr(IER, 0)
    probe += swr(MCR, 0x1A) + srd(MSR) + swr(MCR, 0x0B)           # loopback check
    probe += swr(IIR, 0x01) + srd(IIR) + swr(LCR, 0xBF) + srd(IIR) + swr(LCR, 0x80)
    probe += swr(DATA, 0x01) + swr(IER, 0x00) + swr(LCR, 0x03)    # divisor 1
    probe += swr(SCR, 0x55) + srd(SCR)
    probe += srd(LSR) + srd(DATA) + srd(IIR) + srd(MSR)
    probe += swr(IER, 0x02) + srd(IIR) + swr(IER, 0) + swr(IER, 0x02) + srd(IIR)
    probe += swr(IER, 0) + swr(IER, 0x05)
    write("serial", "linux-8250-probe", probe)

    echo = swr(IIR, 0x07) + swr(IER, 0x03) + spush(2)
    for _ in range(20):
        echo += [sop(5)] + srd(DATA) + swr(DATA, 0x41)
    echo += [sop(4)] + srd(LSR)
    write("serial", "echo", echo)

    loop = swr(MCR, 0x10) + swr(IER, 0x01)
    for c in b"loopback":
        loop += swr(DATA, c)
    loop += srd(LSR) + srd(IIR) + srd(DATA) * 8 + swr(MCR, 0x08)
    write("serial", "loopback", loop)

    full = swr(IER, 0x01)
    for _ in range(5):
        full += spush(255)
    full += [sop(4)] + srd(DATA) * 40 + spush(3) + swr(IIR, 0x03) + srd(LSR)
    write("serial", "fifo-full", full)

    wide = [sop(3, DATA) | 0x40, sop(3, LSR) & 0x3F, sop(3, SCR) | 0x80]
    write("serial", "wide", bytes(b & 0xFF for b in wide))


# ---- i8042 programs (see fuzz_i8042.c) ----

def i8042_seeds():
    RD, ST = 0, 1

    def dw(v):
        return [2, v]

    def cw(v):
        return [3, v]

    probe = [ST, RD] + cw(0xAA) + [ST, RD] + cw(0x20) + [ST, RD]
    probe += cw(0x60) + dw(0x65) + cw(0xD3) + dw(0x5A) + [ST, RD]
    probe += cw(0xA9) + [ST, RD] + cw(0xA7) + cw(0x20) + [RD] + cw(0xA8) + cw(0x20) + [RD]
    probe += dw(0xFF) + [ST, RD, ST, RD] + dw(0xF2) + [RD, RD, RD]
    probe += dw(0xED) + dw(0x07) + [RD, RD] + dw(0xF0) + dw(0x00) + [RD, RD, RD]
    probe += dw(0xF3) + dw(0x00) + dw(0xF4) + [RD, RD, RD] + dw(0xEE) + [RD]
    write("i8042", "linux-i8042-probe", probe)

    reset = cw(0xD1) + dw(0xDF) + cw(0xD0) + [RD] + cw(0xD1) + dw(0xDE) + cw(0xFE)
    reset += cw(0xFF) + cw(0xF0)
    write("i8042", "reset", reset)

    flood = cw(0x60) + dw(0x01)
    for _ in range(20):
        flood += dw(0xEE)
    flood += [RD] * 20 + cw(0xD2) + dw(0x1C) + cw(0xD4) + dw(0xFF) + [ST, RD]
    write("i8042", "flood", flood)


# ---- virtio (split virtqueues, virtio 1.x section 2.7) ----

F_NEXT, F_WRITE, F_INDIRECT = 1, 2, 4


class Mem:
    """A guest memory image that grows as it is written."""

    def __init__(self):
        self.b = bytearray()

    def put(self, addr, data):
        if len(self.b) < addr + len(data):
            self.b += bytes(addr + len(data) - len(self.b))
        self.b[addr:addr + len(data)] = data

    def desc(self, table, i, addr, length, flags, nxt=0):
        self.put(table + 16 * i, struct.pack("<QIHH", addr, length, flags, nxt))

    def avail(self, avail, size, heads, flags=0, used_event=None):
        self.put(avail, struct.pack("<HH", flags, len(heads)))
        for k, h in enumerate(heads):
            self.put(avail + 4 + 2 * (k % size), struct.pack("<H", h))
        if used_event is not None:
            self.put(avail + 4 + 2 * size, struct.pack("<H", used_event))


def chain(m, table, first, bufs):
    """bufs: (addr, len, writable); descriptors first, first+1, ... chained."""
    for k, (a, n, w) in enumerate(bufs):
        last = k == len(bufs) - 1
        m.desc(table, first + k, a, n, (F_WRITE if w else 0) | (0 if last else F_NEXT),
               0 if last else first + k + 1)
    return first


def virtqueue_seeds():
    D, A = 0x0, 0x800   # fuzz_virtqueue.c: descriptors, avail ring (used at 0xa00)

    def seed(name, b0, b1, m):
        write("virtqueue", name, bytes([b0, b1]) + bytes(m.b))

    m = Mem()
    h = chain(m, D, 0, [(0x1000, 16, False), (0x2000, 512, True), (0x2200, 1, True)])
    m.avail(A, 8, [h])
    seed("simple", 3, 0x10, m)

    m = Mem()
    heads = [chain(m, D, 3 * k, [(0x1000 + 0x100 * k, 16, False), (0x3000 + 0x100 * k, 64, True)])
             for k in range(5)]
    m.avail(A, 16, heads, used_event=2)
    seed("event-idx-five", 4, 0x22, m)
    seed("unpop-five", 4, 0x14, m)

    m = Mem()
    m.desc(0x3000, 0, 0x1000, 16, F_NEXT, 2)
    m.desc(0x3000, 2, 0x2000, 512, F_WRITE | F_NEXT, 1)
    m.desc(0x3000, 1, 0x2200, 1, F_WRITE)
    m.desc(D, 1, 0x3000, 48, F_INDIRECT)
    m.avail(A, 8, [1])
    seed("indirect", 3, 0x11, m)

    m = Mem()
    chain(m, D, 0, [(0x1000, 64, False), (0x100000000, 0x1000, True)])
    m.avail(A, 4, [0])
    seed("split-memory", 2, 0x18, m)

    m = Mem()
    m.desc(D, 0, 0x1000, 16, F_NEXT, 1)
    m.desc(D, 1, 0x1010, 16, F_NEXT, 0)
    m.avail(A, 8, [0])
    seed("loop", 3, 0x00, m)

    m = Mem()
    chain(m, D, 0, [(0xfff0, 0x20, True)])
    m.avail(A, 8, [0])
    seed("past-ram", 3, 0x00, m)


def virtio_blk_seeds():
    D, A = 0x0, 0x100   # fuzz_virtio_blk.c: 16 entries, used ring at 0x200

    def hdr(t, sector):
        return struct.pack("<IIQ", t, 0, sector)

    def seed(name, flags, m):
        write("virtio_blk", name, bytes([flags]) + bytes(m.b))

    def requests(reqs):
        """reqs: (type, sector, data length, data writable); at most 16 descriptors."""
        m = Mem()
        heads = []
        nd = 0
        for k, (t, sec, n, w) in enumerate(reqs):
            m.put(0x1000 + 0x20 * k, hdr(t, sec))
            bufs = [(0x1000 + 0x20 * k, 16, False)]
            if n:
                bufs.append((0x2000 + 0x800 * k, n, w))
            bufs.append((0x6000 + k, 1, True))
            heads.append(chain(m, D, nd, bufs))
            nd += len(bufs)
        assert nd <= 16
        m.put(0x2000 + 0x800, bytes(range(256)) * 2)
        m.avail(A, 16, heads)
        return m

    m = requests([(0, 2, 1024, True), (1, 3, 512, False), (4, 0, 0, True), (8, 0, 20, True),
                  (99, 0, 512, True)])
    seed("mixed", 0x02, m)
    seed("mixed-read-only", 0x06, m)
    seed("mixed-write-through", 0x00, m)
    m = requests([(0, 31, 1024, True), (1, 1 << 60, 512, False), (0, 0, 100, True),
                  (1, 32, 0, False), (8, 0, 4, True)])
    seed("errors", 0x02, m)

    m = Mem()
    m.put(0x1000, hdr(0, 1))
    m.desc(0x4000, 0, 0x1000, 16, F_NEXT, 1)
    m.desc(0x4000, 1, 0x2000, 512, F_WRITE | F_NEXT, 2)
    m.desc(0x4000, 2, 0x3000, 1, F_WRITE)
    m.desc(D, 0, 0x4000, 48, F_INDIRECT)
    m.avail(A, 16, [0])
    seed("indirect-read", 0x03, m)

    m = Mem()
    m.put(0x1000, hdr(1, 0)[:6])
    m.put(0x1100, hdr(1, 0)[6:])
    chain(m, D, 0, [(0x1000, 6, False), (0x1100, 10, False), (0x2000, 300, False),
                    (0x2300, 212, False), (0x3000, 1, True)])
    m.avail(A, 16, [0])
    seed("split-write", 0x02, m)


def virtio_mmio_seeds():
    # Register table indices in fuzz_virtio_mmio.c.
    MAGIC, VERSION, DEVID, VENDOR, DEVF, DEVF_SEL, DRVF, DRVF_SEL = range(8)
    QSEL, QNUM_MAX, QNUM, QREADY, QNOTIFY, ISR, IACK, STATUS = range(8, 16)
    CFG0 = 25

    def w(reg, v):
        return [0, reg] + list(struct.pack("<I", v))

    def r(reg):
        return [1, reg]

    def st(k):
        return [2, k]

    def mem(addr, data):
        out = []
        for off in range(0, len(data), 63):
            piece = data[off:off + 63]
            out += [6, (addr + off) & 0xFF, (addr + off) >> 8, len(piece)] + list(piece)
        return out

    def cfg(off, k):
        return [3, off, k] + [0] * 8

    probe = r(MAGIC) + r(VERSION) + r(DEVID) + r(VENDOR) + st(0) + st(1) + st(2)
    probe += w(DEVF_SEL, 1) + r(DEVF) + w(DEVF_SEL, 0) + r(DEVF)
    probe += w(DRVF_SEL, 1) + w(DRVF, 1) + w(DRVF_SEL, 0) + w(DRVF, (1 << 28) | (1 << 29))
    probe += st(3) + r(STATUS)
    probe += w(QSEL, 0) + r(QREADY) + r(QNUM_MAX)
    probe += [7, 3 << 1]                       # queue 0: 8 entries at 0x1000/0x2000/0x3000
    probe += cfg(0, 2) + cfg(8, 2) + cfg(9, 1)
    probe += st(4) + r(STATUS)                 # DRIVER_OK
    m = Mem()
    chain(m, 0x1000, 0, [(0x4000, 16, False), (0x5000, 8, True)])
    m.avail(0x2000, 8, [0, 0])
    probe += mem(0x1000, m.b[0x1000:0x1020]) + mem(0x2000, m.b[0x2000:0x2008])
    probe += w(QNOTIFY, 0) + [5] + r(ISR) + w(IACK, 1) + r(ISR)
    probe += st(0) + r(STATUS)
    write("virtio_mmio", "linux-probe", probe)

    bad = st(1) + st(2) + w(DRVF_SEL, 1) + w(DRVF, 1) + st(3)
    bad += [7, (3 << 1) | 0x40]                # misaligned descriptor table
    bad += [7, (4 << 1) | 1]
    bad += st(4) + r(STATUS) + r(ISR) + st(0) + st(0)
    write("virtio_mmio", "bad-ring-needs-reset", bad)

    loop = st(1) + st(2) + w(DRVF_SEL, 1) + w(DRVF, 1) + st(3) + [7, 3 << 1] + st(4)
    m = Mem()
    m.desc(0x1000, 0, 0x4000, 16, F_NEXT, 1)
    m.desc(0x1000, 1, 0x4000, 16, F_NEXT, 0)
    m.avail(0x2000, 8, [0])
    loop += mem(0x1000, m.b[0x1000:0x1020]) + mem(0x2000, m.b[0x2000:0x2006])
    loop += [5] + r(STATUS) + r(ISR) + [5] + st(0)
    write("virtio_mmio", "loop-needs-reset", loop)

    feats = st(1) + st(2) + w(DRVF, 1 << 1) + st(3) + r(STATUS) + w(DRVF_SEL, 1) + w(DRVF, 1)
    feats += w(DRVF_SEL, 0) + w(DRVF, 1) + st(3) + r(STATUS) + st(4) + [4, 0x70, 1, 0] + [0] * 7
    write("virtio_mmio", "features", feats)


# ---- virtio-vsock (fuzz_virtio_vsock.c records) ----

def vhdr(src_port, dst_port, op, length=0, flags=0, buf_alloc=65536, fwd_cnt=0, typ=1,
         src_cid=3, dst_cid=2):
    return struct.pack("<QQIIIHHIII", src_cid, dst_cid, src_port, dst_port, length, typ, op,
                       flags, buf_alloc, fwd_cnt)


def vpkt(h, payload=b"", flags=4):
    return bytes([0, flags]) + h + bytes([len(payload)]) + payload


def vrx(n=16, size=255):
    return bytes([2, n - 1, size])


POLL = bytes([3])


def virtio_vsock_seeds():
    REQ, RESP, RST, SHUT, RW, CUPD, CREQ = 1, 2, 3, 4, 5, 6, 7
    # Guest connects to listening port 1, sends data, the peer answers, guest closes.
    g = vrx() + vpkt(vhdr(1000, 1, REQ)) + POLL + bytes([4, 2])
    g += vpkt(vhdr(1000, 1, RW, 5), b"hello") + POLL + bytes([4, 30]) + POLL
    g += vpkt(vhdr(1000, 1, CREQ)) + POLL + vpkt(vhdr(1000, 1, SHUT, flags=2)) + POLL
    g += vpkt(vhdr(1000, 1, SHUT, flags=3)) + POLL
    write("virtio_vsock", "guest-connect-data-close", g)
    # Host client asks for port 52, the guest accepts (host port 1 << 30), data both ways.
    line = b"CONNECT 52\n"
    h = vrx() + bytes([1, len(line)]) + line + POLL
    h += vpkt(vhdr(52, 1 << 30, RESP)) + POLL + bytes([4, 60]) + POLL
    h += vpkt(vhdr(52, 1 << 30, RW, 3), b"abc", flags=6) + POLL
    h += vpkt(vhdr(52, 1 << 30, CUPD, fwd_cnt=3)) + bytes([4, 1]) + POLL + POLL
    write("virtio_vsock", "host-connect-relay-hangup", h)
    # Refusal, bad line, unknown ops, wrong CID, SEQPACKET, short rx buffers.
    r = bytes([2, 0x83, 2]) + vrx(4, 1) + bytes([1, 8]) + b"HELLO 1\n" + POLL
    r += bytes([1, 11]) + b"connect 99\n" + vrx() + POLL + vpkt(vhdr(99, 1 << 30, RST)) + POLL
    r += vpkt(vhdr(5, 6, 99)) + vpkt(vhdr(5, 6, REQ, typ=2)) + vpkt(vhdr(5, 6, RW, 9, dst_cid=9), flags=1)
    r += vpkt(vhdr(7, 1, RW, 200), b"x" * 10, flags=0) + POLL
    write("virtio_vsock", "refusals-and-malformed", r)
    # Credit: a guest with a tiny buf_alloc, a peer that writes a lot.
    c = vrx() + vpkt(vhdr(1001, 1, REQ, buf_alloc=100)) + POLL + bytes([4, 0]) + bytes([4, 255])
    c += POLL + POLL + vpkt(vhdr(1001, 1, CUPD, buf_alloc=100, fwd_cnt=100)) + POLL + vrx() + POLL
    write("virtio_vsock", "credit-small-guest-buffer", c)


# ---- MMDS ----

def mmds_http_seeds():
    reqs = {
        "get-imds": b"GET /latest/meta-data/ HTTP/1.1\r\nHost: 169.254.169.254\r\n"
                    b"User-Agent: curl/8.0\r\nAccept: */*\r\n\r\n",
        "get-json": b"GET /latest HTTP/1.1\r\nAccept: application/json\r\n\r\n",
        "get-string": b"GET /latest/meta-data/ami-id HTTP/1.1\r\nConnection: close\r\n\r\n",
        "get-array-imds": b"GET /latest/meta-data/n/1 HTTP/1.0\r\n\r\n",
        "token-then-get": b"PUT /latest/api/token HTTP/1.1\r\nX-metadata-token-ttl-seconds: 60"
                          b"\r\n\r\nGET /latest/meta-data/ HTTP/1.1\r\nX-metadata-token: $T"
                          b"\r\n\r\n",
        "aws-headers": b"PUT /latest/api/token HTTP/1.1\r\nX-aws-ec2-metadata-token-ttl-seconds:"
                       b" 21600\r\n\r\nGET /a~1b/~0 HTTP/1.1\r\nX-aws-ec2-metadata-token: $T"
                       b"\r\n\r\n",
        "bad-method": b"POST /latest HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}",
        "forwarded": b"PUT /latest/api/token HTTP/1.1\r\nX-metadata-token-ttl-seconds: 5\r\n"
                     b"X-Forwarded-For: 1.2.3.4\r\n\r\n",
        "escapes": b"GET http://169.254.169.254/latest/meta%2Ddata/?q=1 HTTP/1.1\n\n",
        "chunked": b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
    }
    for name, r in reqs.items():
        write("mmds_http", name + "-v1", b"\x00" + r)
        write("mmds_http", name + "-v2", b"\x01" + r)
    write("mmds_http", "patch", b"\x04" + b'{"latest":{"meta-data":{"ami-id":null,"x":{"y":[1]}}}}')
    write("mmds_http", "patch-replace", b"\x04" + b'{"latest":"flat","new":{"a":{"b":{}}}}')


def mmds_stack_seeds():
    def u16(v):
        return list(struct.pack("<H", v & 0xFFFF))

    def raw(frame):
        return [0] + u16(len(frame)) + list(frame)

    def seg(port, flags, payload=b"", ds=0, da=0, wnd=0xFFFF):
        payload = payload[:255]
        return ([1, port] + u16(ds) + u16(da) + [flags] + list(struct.pack(">H", wnd)) +
                [len(payload)] + list(payload))

    def pull(k=16, c=200):
        return [2, k, c]

    mmds = bytes([0x06, 0x01, 0x23, 0x45, 0x67, 0x01])
    guest = bytes([0x02, 0, 0, 0, 0, 0x42])
    arp = (b"\xff" * 6 + guest + b"\x08\x06" + struct.pack(">HHBBH", 1, 0x0800, 6, 4, 1) +
           guest + bytes([172, 16, 0, 2]) + bytes(6) + bytes([169, 254, 169, 254]))
    SYN, ACK, PSH, FIN, RST = 0x02, 0x10, 0x08, 0x01, 0x04

    def session(port, reqs, close=True):
        p = seg(port, SYN) + pull() + seg(port, ACK)
        for r in reqs:
            p += seg(port, ACK | PSH, r) + pull() + seg(port, ACK) + pull()
        if close:
            p += seg(port, ACK | FIN) + pull() + seg(port, ACK) + pull()
        return p

    get = b"GET /latest/meta-data/ HTTP/1.1\r\nHost: 169.254.169.254\r\n\r\n"
    write("mmds_stack", "arp", [0] + raw(arp) + pull())
    write("mmds_stack", "get-v1", [0] + raw(arp) + pull() + session(0, [get]))
    write("mmds_stack", "wget-close", [0] + session(1, [b"GET /latest HTTP/1.1\r\n"
                                                       b"Connection: close\r\n\r\n"], False)
          + seg(1, ACK | FIN) + pull())
    write("mmds_stack", "token-v2", [1] + session(2, [
        b"PUT /latest/api/token HTTP/1.1\r\nX-metadata-token-ttl-seconds: 60\r\n\r\n",
        b"GET /latest/meta-data/a HTTP/1.1\r\nX-metadata-token: x\r\n\r\n"]))
    write("mmds_stack", "other-ip", [2] + session(3, [get]))
    write("mmds_stack", "big-response", [0] + session(3, [b"GET /latest/meta-data/big HTTP/1.1"
                                                       b"\r\n\r\n"]))
    write("mmds_stack", "two-conns", [0] + seg(4, SYN) + seg(5, SYN) + pull() + seg(4, ACK) +
          seg(5, ACK) + seg(4, ACK | PSH, get) + seg(5, ACK | PSH, get) + pull(3, 10) +
          seg(4, ACK, da=-5) + seg(4, ACK, da=-5) + pull() + seg(5, RST) + pull() +
          [3, 61] + seg(6, SYN) + pull())
    write("mmds_stack", "port-81-and-strays", [0] + seg(0x81, SYN) + seg(7, ACK, b"x") +
          seg(7, ACK | FIN) + pull())
    ip = bytearray(b"\x45\x00\x00\x28" + bytes(4) + b"\x40\x06\x00\x00" +
                   bytes([172, 16, 0, 2, 169, 254, 169, 254]))
    bad = mmds + guest + b"\x08\x00" + bytes(ip) + bytes(20)
    write("mmds_stack", "malformed", [0] + raw(bad) + raw(bad[:30]) + raw(bad[:40]) + pull())


# ---- virtio-net (fuzz_virtio_net.c: flags, 4 frame sizes, RAM image) ----

def virtio_net_seeds():
    def ram_image(rx_bufs, tx_chains, indirect_tx=False):
        ram = bytearray(0x10000)

        def desc(base, i, addr, ln, flags, nxt=0):
            struct.pack_into("<QIHH", ram, base + 16 * i, addr, ln, flags, nxt)

        for i, (addr, ln) in enumerate(rx_bufs):
            desc(0, i, addr, ln, 2)                       # WRITE
            struct.pack_into("<H", ram, 0x100 + 4 + 2 * i, i)
        struct.pack_into("<HH", ram, 0x100, 0, len(rx_bufs))
        d = 0
        for k, (addr, ln) in enumerate(tx_chains):
            if indirect_tx:
                tbl = 0xE000 + 0x40 * k
                struct.pack_into("<QIHH", ram, tbl, addr, 12, 1, 1)
                struct.pack_into("<QIHH", ram, tbl + 16, addr + 12, ln - 12, 0, 0)
                desc(0x400, d, tbl, 32, 4)                # INDIRECT
            else:
                desc(0x400, d, addr, ln, 0)
            struct.pack_into("<H", ram, 0x500 + 4 + 2 * k, d)
            d += 1
        struct.pack_into("<HH", ram, 0x500, 0, len(tx_chains))
        return bytes(ram).rstrip(b"\0")

    def sz(*lens):
        lens = list(lens) + [0] * (4 - len(lens))
        return b"".join(struct.pack("<H", (l * 65536 + 69999) // 70000) for l in lens)

    small = [(0x1000 + i * 2048, 2048) for i in range(8)]
    write("virtio_net", "mrg-small-buffers", bytes([4 | 2]) + sz(1500, 5000) +
          ram_image(small, [(0x8000, 112)]))
    write("virtio_net", "mrg-too-few-buffers", bytes([4]) + sz(65562) + ram_image(small[:3], []))
    write("virtio_net", "single-big-buffer", bytes([0]) + sz(9000, 60) +
          ram_image([(0x1000, 0x8000)], [(0x9000, 60), (0x9100, 1514)]))
    write("virtio_net", "indirect-tx", bytes([1 | 4]) + sz(60) +
          ram_image(small, [(0x8000, 200), (0x8400, 100)], indirect_tx=True))


def main():
    gens = {
        "kernel_image": kernel_seeds, "serial": serial_seeds, "i8042": i8042_seeds,
        "virtqueue": virtqueue_seeds, "virtio_blk": virtio_blk_seeds,
        "virtio_mmio": virtio_mmio_seeds, "mmds_http": mmds_http_seeds,
        "mmds_stack": mmds_stack_seeds, "virtio_vsock": virtio_vsock_seeds,
        "virtio_net": virtio_net_seeds,
    }
    for name in sys.argv[1:] or gens:
        gens[name]()
    return 0


if __name__ == "__main__":
    sys.exit(main())
