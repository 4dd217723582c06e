#!/usr/bin/env python3
"""Writes the fuzzers' seed corpus into tests/fuzz/corpus/<target>/ (committed; rerun
after changing the input formats). Every seed is made here from the formats' specs: no
file is copied from elsewhere.

  kernel_image  small ELF64 vmlinux images and bzImages (Linux boot protocol header)
  serial        operation programs in fuzz_serial.c's encoding (Linux 8250 probe, RX/TX)
  i8042         operation programs in fuzz_i8042.c's encoding (Linux i8042 probe, reset)
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


def main():
    kernel_seeds()
    serial_seeds()
    i8042_seeds()
    return 0


if __name__ == "__main__":
    sys.exit(main())
