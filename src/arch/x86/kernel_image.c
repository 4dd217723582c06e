#include "arch/x86/kernel_image.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arch/x86/layout.h"
#include "util/err.h"

#define PAGE_SIZE 4096ULL
#define ELF_MAX_PHDRS 64
/* x86's COMMAND_LINE_SIZE is 2048 including the NUL; an ELF vmlinux has no header that
 * says otherwise. */
#define ELF_CMDLINE_MAX 2047
/* What Linux x86-64 kernels declare in their own header; used for ELF images. */
#define ELF_INITRD_ADDR_MAX 0x7fffffffu
/* Boot protocol 2.06 is the first with cmdline_size; 64-bit entry needs 2.12's xloadflags
 * to be announced, but older 64-bit kernels still have the entry at +0x200. */
#define BZ_MIN_VERSION 0x0206
#define BZ_ENTRY64_OFFSET 0x200
#define BZ_LOAD_DEFAULT 0x100000ULL

/* ---- image sources ---- */

static int file_read_at(const struct image_src *src, void *buf, size_t len, uint64_t off)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = pread(src->fd, p, len, (off_t)off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

int image_src_open_file(struct image_src *src, const char *path)
{
	struct stat st;
	int fd;

	memset(src, 0, sizeof(*src));
	src->fd = -1;
	/* O_NONBLOCK: a FIFO named as a kernel or initrd (PUT /boot-source, then
	 * InstanceStart on the API's main thread) is refused below instead of blocking the
	 * open for a writer. Reads of a regular file ignore the flag. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return err_set(-errno, "%s: cannot open: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return err_set(-EINVAL, "%s: not a regular file", path);
	}
	src->name = path;
	src->size = (uint64_t)st.st_size;
	src->read_at = file_read_at;
	src->fd = fd;
	return 0;
}

void image_src_close_file(struct image_src *src)
{
	if (src->read_at == file_read_at && src->fd >= 0)
		close(src->fd);
	memset(src, 0, sizeof(*src));
	src->fd = -1;
}

static int buf_read_at(const struct image_src *src, void *buf, size_t len, uint64_t off)
{
	if (off > src->size || len > src->size - off)
		return -EIO;
	memcpy(buf, src->buf + off, len);
	return 0;
}

void image_src_from_buffer(struct image_src *src, const char *name, const void *buf, size_t len)
{
	memset(src, 0, sizeof(*src));
	src->fd = -1;
	src->name = name;
	src->size = len;
	src->buf = buf;
	src->read_at = buf_read_at;
}

/* Reads [off, off+len) or fails with a "truncated" message when the file is too short. */
static int read_exact(struct image_src *src, void *buf, size_t len, uint64_t off, const char *what)
{
	int r;

	if (off > src->size || len > src->size - off)
		return err_set(-EIO, "%s: truncated image: %s at offset %llu runs past the end "
			       "of the %llu-byte file", src->name, what, (unsigned long long)off,
			       (unsigned long long)src->size);
	r = src->read_at(src, buf, len, off);
	if (r < 0)
		return err_set(r, "%s: cannot read %s: %s", src->name, what, strerror(-r));
	return 0;
}

/* ---- ELF vmlinux ---- */

static int elf_parse(struct image_src *src, const Elf64_Ehdr *eh, struct kernel_image *k)
{
	Elf64_Phdr ph[ELF_MAX_PHDRS];
	int r;

	if (eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_ident[EI_DATA] != ELFDATA2LSB)
		return err_set(-ENOEXEC, "%s: ELF image is not 64-bit little-endian", src->name);
	if (eh->e_machine != EM_X86_64)
		return err_set(-ENOEXEC, "%s: ELF image is not for x86-64 (e_machine %u)",
			       src->name, eh->e_machine);
	if (eh->e_type != ET_EXEC)
		return err_set(-ENOEXEC, "%s: ELF image is not an executable (e_type %u)",
			       src->name, eh->e_type);
	if (eh->e_phentsize != sizeof(Elf64_Phdr) || eh->e_phnum == 0 ||
	    eh->e_phnum > ELF_MAX_PHDRS)
		return err_set(-EINVAL, "%s: ELF program header table is malformed "
			       "(entry size %u, %u entries)", src->name, eh->e_phentsize, eh->e_phnum);
	r = read_exact(src, ph, (size_t)eh->e_phnum * sizeof(Elf64_Phdr), eh->e_phoff,
		       "ELF program headers");
	if (r < 0)
		return r;

	memset(k, 0, sizeof(*k));
	k->format = KERNEL_ELF;
	k->load_start = UINT64_MAX;
	for (unsigned int i = 0; i < eh->e_phnum; i++) {
		const Elf64_Phdr *p = &ph[i];

		if (p->p_type != PT_LOAD || p->p_memsz == 0)
			continue;
		if (k->nseg == KERNEL_MAX_SEGMENTS)
			return err_set(-EINVAL, "%s: more than %d loadable ELF segments",
				       src->name, KERNEL_MAX_SEGMENTS);
		if (p->p_filesz > p->p_memsz)
			return err_set(-EINVAL, "%s: ELF segment %u has file size above memory size",
				       src->name, i);
		if (p->p_offset > src->size || p->p_filesz > src->size - p->p_offset)
			return err_set(-EIO, "%s: truncated image: ELF segment %u needs bytes up to "
				       "%llu, the file has %llu", src->name, i,
				       (unsigned long long)p->p_offset + p->p_filesz,
				       (unsigned long long)src->size);
		if (p->p_paddr > UINT64_MAX - p->p_memsz)
			return err_set(-EINVAL, "%s: ELF segment %u wraps the address space",
				       src->name, i);
		k->seg[k->nseg++] = (struct kernel_segment){
			.file_off = p->p_offset, .file_size = p->p_filesz,
			.gpa = p->p_paddr, .mem_size = p->p_memsz,
		};
		if (p->p_paddr < k->load_start)
			k->load_start = p->p_paddr;
		if (p->p_paddr + p->p_memsz > k->load_end)
			k->load_end = p->p_paddr + p->p_memsz;
	}
	if (k->nseg == 0)
		return err_set(-EINVAL, "%s: ELF image has no loadable segment", src->name);
	/* Linux's vmlinux has e_entry = physical address of startup_64. */
	k->entry = eh->e_entry;
	int inside = 0;
	for (unsigned int i = 0; i < k->nseg; i++)
		if (k->entry >= k->seg[i].gpa && k->entry - k->seg[i].gpa < k->seg[i].file_size)
			inside = 1;
	if (!inside)
		return err_set(-EINVAL, "%s: ELF entry point 0x%llx is not inside a loaded segment "
			       "(is this a vmlinux with physical load addresses?)", src->name,
			       (unsigned long long)k->entry);

	/* No setup header in a vmlinux: synthesize the fields the kernel reads. */
	k->hdr.boot_flag = BOOT_FLAG_MAGIC;
	k->hdr.header = SETUP_HDR_MAGIC;
	k->hdr.version = 0x020f;
	k->hdr.kernel_alignment = 0x1000000;
	k->hdr.xloadflags = XLF_KERNEL_64;
	k->hdr.cmdline_size = ELF_CMDLINE_MAX;
	k->hdr.initrd_addr_max = ELF_INITRD_ADDR_MAX;
	k->cmdline_max = ELF_CMDLINE_MAX;
	k->initrd_addr_max = ELF_INITRD_ADDR_MAX;
	return 0;
}

/* ---- bzImage ---- */

static int bzimage_parse(struct image_src *src, const uint8_t *head, struct kernel_image *k)
{
	struct setup_header h;
	uint64_t setup_size, payload, load, init;
	size_t hdr_len;

	memcpy(&h, head + SETUP_HDR_OFFSET, sizeof(h));
	if (h.version < BZ_MIN_VERSION)
		return err_set(-ENOEXEC, "%s: boot protocol %u.%02u is too old; Ember needs 2.06 "
			       "or later", src->name, h.version >> 8, h.version & 0xff);
	if (!(h.loadflags & LOADFLAG_LOADED_HIGH))
		return err_set(-ENOEXEC, "%s: a zImage (loaded low) cannot be booted; use a bzImage",
			       src->name);
	if (h.version >= 0x020c && !(h.xloadflags & XLF_KERNEL_64))
		return err_set(-ENOEXEC, "%s: kernel has no 64-bit entry point (32-bit kernel?)",
			       src->name);

	setup_size = ((uint64_t)(h.setup_sects ? h.setup_sects : 4) + 1) * 512;
	if (setup_size >= src->size)
		return err_set(-EIO, "%s: truncated image: %llu bytes of setup code but the file "
			       "has only %llu", src->name, (unsigned long long)setup_size,
			       (unsigned long long)src->size);
	payload = src->size - setup_size;
	if (payload <= BZ_ENTRY64_OFFSET)
		return err_set(-EINVAL, "%s: the kernel part of this bzImage is %llu bytes, too small to "
			       "hold the 64-bit entry point at +0x200", src->name,
			       (unsigned long long)payload);
	if ((uint64_t)h.syssize * 16 > payload)
		return err_set(-EIO, "%s: truncated image: header says the kernel has %llu bytes, "
			       "the file holds %llu", src->name, (unsigned long long)h.syssize * 16,
			       (unsigned long long)payload);

	if (h.relocatable_kernel && h.version >= 0x020a && h.pref_address) {
		load = h.pref_address;
		if (h.kernel_alignment && (h.kernel_alignment & (h.kernel_alignment - 1)) == 0 &&
		    (load & (h.kernel_alignment - 1)))
			load = (load + h.kernel_alignment - 1) & ~(uint64_t)(h.kernel_alignment - 1);
	} else {
		load = BZ_LOAD_DEFAULT;
	}
	init = h.version >= 0x020a && h.init_size > payload ? h.init_size : payload;
	if (load > UINT64_MAX - init || load < LAYOUT_HIMEM_START)
		return err_set(-EINVAL, "%s: kernel load address 0x%llx is not usable", src->name,
			       (unsigned long long)load);

	memset(k, 0, sizeof(*k));
	k->format = KERNEL_BZIMAGE;
	k->entry = load + BZ_ENTRY64_OFFSET;
	k->load_start = load;
	k->load_end = load + init;
	k->seg[0] = (struct kernel_segment){
		.file_off = setup_size, .file_size = payload, .gpa = load, .mem_size = payload,
	};
	k->nseg = 1;
	/* The header's length is given by the byte at 0x201 (the jump's displacement). */
	hdr_len = (size_t)0x202 + head[0x201] - SETUP_HDR_OFFSET;
	if (hdr_len > sizeof(k->hdr))
		hdr_len = sizeof(k->hdr);
	memcpy(&k->hdr, head + SETUP_HDR_OFFSET, hdr_len);
	k->hdr.code32_start = (uint32_t)load;
	k->cmdline_max = h.cmdline_size ? h.cmdline_size : 255;
	k->initrd_addr_max = h.initrd_addr_max ? h.initrd_addr_max : 0x37ffffff;
	return 0;
}

int kernel_parse(struct image_src *src, struct kernel_image *out)
{
	uint8_t head[0x400];
	int r;

	memset(out, 0, sizeof(*out));
	if (src->size < sizeof(Elf64_Ehdr))
		return err_set(-ENOEXEC, "%s: %llu bytes is too small to be a kernel (neither ELF "
			       "nor bzImage)", src->name, (unsigned long long)src->size);
	memset(head, 0, sizeof(head));
	r = read_exact(src, head, src->size < sizeof(head) ? (size_t)src->size : sizeof(head), 0,
		       "header");
	if (r < 0)
		return r;
	if (memcmp(head, ELFMAG, SELFMAG) == 0) {
		Elf64_Ehdr eh;

		memcpy(&eh, head, sizeof(eh));
		return elf_parse(src, &eh, out);
	}
	if (src->size >= 0x206) {
		struct setup_header h;

		memcpy(&h, head + SETUP_HDR_OFFSET, sizeof(h));
		if (h.boot_flag == BOOT_FLAG_MAGIC && h.header == SETUP_HDR_MAGIC) {
			if (src->size < sizeof(head))
				return err_set(-EIO, "%s: truncated image: a bzImage of only %llu bytes "
					       "(its setup code alone needs more)", src->name,
					       (unsigned long long)src->size);
			return bzimage_parse(src, head, out);
		}
	}
	return err_set(-ENOEXEC, "%s: not a kernel Ember can boot: neither an ELF vmlinux nor a "
		       "bzImage", src->name);
}

int kernel_load(const struct guest_mem *m, struct image_src *src, const struct kernel_image *k)
{
	for (unsigned int i = 0; i < k->nseg; i++) {
		const struct kernel_segment *s = &k->seg[i];
		void *dst = guest_mem_ptr(m, s->gpa, s->mem_size);
		int r;

		if (!dst || s->gpa < LAYOUT_HIMEM_START)
			return err_set(-ENOMEM, "%s: kernel segment [0x%llx, 0x%llx) does not fit in "
				       "guest RAM (%llu MiB): give more --memory", src->name,
				       (unsigned long long)s->gpa,
				       (unsigned long long)(s->gpa + s->mem_size),
				       (unsigned long long)(m->ram_size >> 20));
		r = read_exact(src, dst, (size_t)s->file_size, s->file_off, "kernel segment");
		if (r < 0)
			return r;
	}
	/* A bzImage decompresses itself into [load, load + init_size): that must be RAM. */
	if (!guest_mem_ptr(m, k->load_start, k->load_end - k->load_start))
		return err_set(-ENOMEM, "%s: the kernel needs guest RAM up to 0x%llx; give more "
			       "--memory", src->name, (unsigned long long)k->load_end);
	return 0;
}

int initrd_place(uint64_t low_end, uint64_t kernel_end, uint32_t initrd_addr_max,
		 uint64_t size, uint64_t *addr)
{
	uint64_t top = (uint64_t)initrd_addr_max + 1;
	uint64_t a;

	if (top > low_end)
		top = low_end;
	if (size == 0 || size > top)
		return -ENOSPC;
	a = (top - size) & ~(PAGE_SIZE - 1);
	if (a < kernel_end)
		return -ENOSPC;
	*addr = a;
	return 0;
}
