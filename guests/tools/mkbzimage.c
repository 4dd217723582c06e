/* mkbzimage: wrap a guest ELF (linked at its load address, 64-bit entry at load + 0x200)
 * into a minimal bzImage: boot sector + setup sectors holding the Linux setup header,
 * followed by the flat protected-mode image. Only what a 64-bit direct-boot loader reads
 * is meaningful; the 16-bit setup code is a stub that halts.
 *
 * The protected-mode image is linked at pref_address. With --relocatable 1 the header says
 * relocatable_kernel = 1 (a loader should load it at pref_address, aligned to
 * kernel_alignment); otherwise a loader puts it at 0x100000 and the guest moves itself to
 * pref_address, as a non-relocatable Linux kernel does (guests/common/start.S).
 *
 * usage: mkbzimage [--setup-sects N] [--cmdline-size N] [--initrd-max ADDR]
 *                  [--relocatable 0|1] [--version V] IN.elf OUT.bzImage */
#include <elf.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void die(const char *msg, const char *arg)
{
    fprintf(stderr, "mkbzimage: %s%s%s\n", msg, arg ? ": " : "", arg ? arg : "");
    exit(1);
}

static void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

static unsigned long num(const char *s)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 0);
    if (errno || *end || end == s)
        die("bad number", s);
    return v;
}

int main(int argc, char **argv)
{
    unsigned long setup_sects = 1, cmdline_size = 255, initrd_max = 0x7fffffff, version = 0x020f;
    unsigned long relocatable = 0;
    int i = 1;
    for (; i + 1 < argc && argv[i][0] == '-' && argv[i][1] == '-'; i += 2) {
        if (!strcmp(argv[i], "--setup-sects"))
            setup_sects = num(argv[i + 1]);
        else if (!strcmp(argv[i], "--cmdline-size"))
            cmdline_size = num(argv[i + 1]);
        else if (!strcmp(argv[i], "--initrd-max"))
            initrd_max = num(argv[i + 1]);
        else if (!strcmp(argv[i], "--relocatable"))
            relocatable = num(argv[i + 1]);
        else if (!strcmp(argv[i], "--version"))
            version = num(argv[i + 1]);
        else
            die("unknown option", argv[i]);
    }
    if (argc - i != 2)
        die("usage: mkbzimage [--setup-sects N] [--cmdline-size N] [--initrd-max A] [--relocatable 0|1] [--version V] IN.elf OUT", NULL);
    const char *in = argv[i], *out = argv[i + 1];

    FILE *f = fopen(in, "rb");
    if (!f)
        die("cannot open", in);
    fseek(f, 0, SEEK_END);
    long fsz = ftell(f);
    fseek(f, 0, SEEK_SET);
    if (fsz <= 0)
        die("empty input", in);
    uint8_t *elf = malloc((size_t)fsz);
    if (!elf || fread(elf, 1, (size_t)fsz, f) != (size_t)fsz)
        die("cannot read", in);
    fclose(f);

    Elf64_Ehdr eh;
    if ((size_t)fsz < sizeof eh)
        die("not an ELF file", in);
    memcpy(&eh, elf, sizeof eh);
    if (memcmp(eh.e_ident, ELFMAG, SELFMAG) || eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_machine != EM_X86_64)
        die("not an x86-64 ELF64 file", in);

    uint64_t lo = UINT64_MAX, hi_file = 0, hi_mem = 0;
    for (unsigned k = 0; k < eh.e_phnum; k++) {
        Elf64_Phdr ph;
        uint64_t off = eh.e_phoff + (uint64_t)k * eh.e_phentsize;
        if (off + sizeof ph > (uint64_t)fsz)
            die("truncated program headers", in);
        memcpy(&ph, elf + off, sizeof ph);
        if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
            continue;
        if (ph.p_paddr < lo)
            lo = ph.p_paddr;
        if (ph.p_paddr + ph.p_filesz > hi_file)
            hi_file = ph.p_paddr + ph.p_filesz;
        if (ph.p_paddr + ph.p_memsz > hi_mem)
            hi_mem = ph.p_paddr + ph.p_memsz;
    }
    if (lo == UINT64_MAX)
        die("no PT_LOAD segments", in);
    if (eh.e_entry != lo + 0x200)
        die("entry point must be at load address + 0x200", in);

    size_t pm_size = (size_t)((hi_file - lo + 15) & ~15ull);
    uint8_t *pm = calloc(1, pm_size);
    if (!pm)
        die("out of memory", NULL);
    for (unsigned k = 0; k < eh.e_phnum; k++) {
        Elf64_Phdr ph;
        memcpy(&ph, elf + eh.e_phoff + (uint64_t)k * eh.e_phentsize, sizeof ph);
        if (ph.p_type != PT_LOAD || ph.p_filesz == 0)
            continue;
        if (ph.p_offset + ph.p_filesz > (uint64_t)fsz)
            die("segment runs past the end of the file", in);
        memcpy(pm + (ph.p_paddr - lo), elf + ph.p_offset, ph.p_filesz);
    }

    unsigned real_sects = setup_sects ? (unsigned)setup_sects : 4; /* 0 means 4 */
    size_t setup_size = (size_t)(real_sects + 1) * 512;
    uint8_t *setup = calloc(1, setup_size);
    if (!setup)
        die("out of memory", NULL);
    /* Boot sector: a 16-bit "cli; hlt; jmp" stub (never used by a 64-bit loader). */
    setup[0] = 0xfa;
    setup[1] = 0xf4;
    setup[2] = 0xeb;
    setup[3] = 0xfd;
    setup[0x1f1] = (uint8_t)setup_sects;
    put16(setup + 0x1f2, 1);                              /* root_flags */
    put32(setup + 0x1f4, (uint32_t)(pm_size / 16));       /* syssize */
    put16(setup + 0x1fa, 0xffff);                         /* vid_mode: normal */
    put16(setup + 0x1fe, 0xaa55);                         /* boot_flag */
    setup[0x200] = 0xeb;                                  /* jump over the header ... */
    setup[0x201] = 0x6a;                                  /* ... to 0x26c */
    memcpy(setup + 0x202, "HdrS", 4);
    put16(setup + 0x206, (uint16_t)version);
    put16(setup + 0x20e, 0);                              /* kernel_version: none */
    setup[0x210] = 0;                                     /* type_of_loader: filled by loader */
    setup[0x211] = 0x01;                                  /* loadflags: LOADED_HIGH */
    put32(setup + 0x214, 0x100000);                       /* code32_start (the loader sets it) */
    put32(setup + 0x22c, (uint32_t)initrd_max);           /* initrd_addr_max */
    put32(setup + 0x230, 0x200000);                       /* kernel_alignment */
    setup[0x234] = relocatable ? 1 : 0;                   /* relocatable_kernel */
    setup[0x235] = 21;                                    /* min_alignment: 2 MiB */
    put16(setup + 0x236, 0x0001);                         /* xloadflags: XLF_KERNEL_64 */
    put32(setup + 0x238, (uint32_t)cmdline_size);         /* cmdline_size */
    put64(setup + 0x258, lo);                             /* pref_address */
    put32(setup + 0x260, (uint32_t)(hi_mem - lo));        /* init_size */
    /* 16-bit setup entry at 0x26c: cli; hlt; jmp $-1 */
    setup[0x26c] = 0xfa;
    setup[0x26d] = 0xf4;
    setup[0x26e] = 0xeb;
    setup[0x26f] = 0xfd;

    FILE *o = fopen(out, "wb");
    if (!o)
        die("cannot create", out);
    if (fwrite(setup, 1, setup_size, o) != setup_size || fwrite(pm, 1, pm_size, o) != pm_size || fclose(o))
        die("cannot write", out);
    free(setup);
    free(pm);
    free(elf);
    return 0;
}
