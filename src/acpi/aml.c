#include "acpi/aml.h"

#include <errno.h>
#include <string.h>

/* AML opcodes (ACPI 6.5 §20.3). */
enum {
	AML_ZERO = 0x00, AML_ONE = 0x01, AML_NAME = 0x08, AML_BYTE = 0x0a, AML_WORD = 0x0b,
	AML_DWORD = 0x0c, AML_STRING = 0x0d, AML_QWORD = 0x0e, AML_SCOPE = 0x10,
	AML_BUFFER = 0x11, AML_PACKAGE = 0x12, AML_EXT = 0x5b, AML_DEVICE = 0x82,
	AML_ROOT = 0x5c, AML_DUAL_NAME = 0x2e, AML_MULTI_NAME = 0x2f,
};

#define PKGLEN_RESERVED 4

static void fail(struct aml *a, int err)
{
	if (!a->err)
		a->err = err;
}

void aml_init(struct aml *a, uint8_t *buf, size_t cap)
{
	memset(a, 0, sizeof(*a));
	a->buf = buf;
	a->cap = cap;
}

void aml_bytes(struct aml *a, const void *p, size_t n)
{
	if (a->err)
		return;
	if (n > a->cap - a->len) {
		fail(a, -ENOSPC);
		return;
	}
	memcpy(a->buf + a->len, p, n);
	a->len += n;
}

void aml_byte(struct aml *a, uint8_t b)
{
	aml_bytes(a, &b, 1);
}

static void le(struct aml *a, uint64_t v, unsigned int n)
{
	uint8_t b[8];

	for (unsigned int i = 0; i < n; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	aml_bytes(a, b, n);
}

static int seg_char_ok(char c, int first)
{
	return (c >= 'A' && c <= 'Z') || c == '_' || (!first && c >= '0' && c <= '9');
}

void aml_name(struct aml *a, const char *name)
{
	char segs[16][4];
	unsigned int n = 0;
	const char *p = name;

	if (*p == '\\') {
		aml_byte(a, AML_ROOT);
		p++;
	}
	while (*p) {
		unsigned int k = 0;

		if (n == 16) {
			fail(a, -EINVAL);
			return;
		}
		while (*p && *p != '.') {
			if (k == 4 || !seg_char_ok(*p, k == 0)) {
				fail(a, -EINVAL);
				return;
			}
			segs[n][k++] = *p++;
		}
		if (k == 0) {
			fail(a, -EINVAL);
			return;
		}
		while (k < 4)
			segs[n][k++] = '_';
		n++;
		if (*p == '.')
			p++;
	}
	if (n == 0) {
		aml_byte(a, AML_ZERO);  /* NullName */
		return;
	}
	if (n == 2) {
		aml_byte(a, AML_DUAL_NAME);
	} else if (n > 2) {
		aml_byte(a, AML_MULTI_NAME);
		aml_byte(a, (uint8_t)n);
	}
	aml_bytes(a, segs, 4 * (size_t)n);
}

void aml_integer(struct aml *a, uint64_t v)
{
	if (v == 0) {
		aml_byte(a, AML_ZERO);
	} else if (v == 1) {
		aml_byte(a, AML_ONE);
	} else if (v <= 0xff) {
		aml_byte(a, AML_BYTE);
		le(a, v, 1);
	} else if (v <= 0xffff) {
		aml_byte(a, AML_WORD);
		le(a, v, 2);
	} else if (v <= 0xffffffff) {
		aml_byte(a, AML_DWORD);
		le(a, v, 4);
	} else {
		aml_byte(a, AML_QWORD);
		le(a, v, 8);
	}
}

void aml_string(struct aml *a, const char *s)
{
	for (const char *p = s; *p; p++) {
		if ((unsigned char)*p > 0x7f) {  /* AsciiCharList: 0x01-0x7F */
			fail(a, -EINVAL);
			return;
		}
	}
	aml_byte(a, AML_STRING);
	aml_bytes(a, s, strlen(s) + 1);
}

unsigned int aml_pkglength(size_t body, uint8_t out[4])
{
	/* The length counts its own bytes. One byte holds 6 bits; longer forms hold 4 bits
	 * in the lead byte plus 8 per following byte. */
	if (body + 1 <= 0x3f) {
		out[0] = (uint8_t)(body + 1);
		return 1;
	}
	for (unsigned int n = 2; n <= 4; n++) {
		size_t total = body + n;

		if (total < ((size_t)1 << (4 + 8 * (n - 1)))) {
			out[0] = (uint8_t)(((n - 1) << 6) | (total & 0xf));
			for (unsigned int i = 1; i < n; i++)
				out[i] = (uint8_t)(total >> (4 + 8 * (i - 1)));
			return n;
		}
	}
	return 0;
}

static void pkg_open(struct aml *a)
{
	static const uint8_t zero[PKGLEN_RESERVED];

	if (a->depth == sizeof(a->open) / sizeof(a->open[0])) {
		fail(a, -EINVAL);
		return;
	}
	a->open[a->depth++] = a->len;
	aml_bytes(a, zero, sizeof(zero));
}

void aml_end(struct aml *a)
{
	uint8_t enc[4];
	size_t at, body;
	unsigned int n;

	if (a->depth == 0) {
		fail(a, -EINVAL);
		return;
	}
	at = a->open[--a->depth];
	if (a->err)
		return;
	body = a->len - at - PKGLEN_RESERVED;
	n = aml_pkglength(body, enc);
	if (!n) {
		fail(a, -EINVAL);
		return;
	}
	memmove(a->buf + at + n, a->buf + at + PKGLEN_RESERVED, body);
	memcpy(a->buf + at, enc, n);
	a->len -= PKGLEN_RESERVED - n;
	if (a->crs_size_at > at)
		a->crs_size_at -= PKGLEN_RESERVED - n;
}

void aml_scope_begin(struct aml *a, const char *name)
{
	aml_byte(a, AML_SCOPE);
	pkg_open(a);
	aml_name(a, name);
}

void aml_device_begin(struct aml *a, const char *name)
{
	aml_byte(a, AML_EXT);
	aml_byte(a, AML_DEVICE);
	pkg_open(a);
	aml_name(a, name);
}

void aml_package_begin(struct aml *a, uint8_t nelems)
{
	aml_byte(a, AML_PACKAGE);
	pkg_open(a);
	aml_byte(a, nelems);
}

void aml_name_integer(struct aml *a, const char *name, uint64_t v)
{
	aml_byte(a, AML_NAME);
	aml_name(a, name);
	aml_integer(a, v);
}

void aml_name_string(struct aml *a, const char *name, const char *s)
{
	aml_byte(a, AML_NAME);
	aml_name(a, name);
	aml_string(a, s);
}

void aml_res_memory32_fixed(struct aml *a, uint32_t base, uint32_t len, int writable)
{
	aml_byte(a, 0x86);           /* large item: 32-bit fixed memory range */
	le(a, 9, 2);
	aml_byte(a, writable ? 1 : 0);
	le(a, base, 4);
	le(a, len, 4);
}

void aml_res_io(struct aml *a, uint16_t base, uint8_t len)
{
	aml_byte(a, 0x47);           /* small item: I/O port, 7 bytes */
	aml_byte(a, 1);              /* 16-bit decode */
	le(a, base, 2);
	le(a, base, 2);
	aml_byte(a, 1);              /* alignment */
	aml_byte(a, len);
}

void aml_res_interrupt(struct aml *a, uint32_t gsi, int edge)
{
	aml_byte(a, 0x89);           /* large item: extended interrupt */
	le(a, 6, 2);
	/* consumer (bit 0), edge (bit 1), active high (bit 2 clear), exclusive (bit 3). */
	aml_byte(a, (uint8_t)(0x01 | (edge ? 0x02 : 0)));
	aml_byte(a, 1);              /* one interrupt */
	le(a, gsi, 4);
}

void aml_res_end(struct aml *a)
{
	aml_byte(a, 0x79);           /* end tag; checksum 0 means "treat as correct" */
	aml_byte(a, 0);
}

void aml_crs_begin(struct aml *a)
{
	aml_byte(a, AML_NAME);
	aml_name(a, "_CRS");
	aml_byte(a, AML_BUFFER);
	pkg_open(a);
	a->crs_size_at = a->len;
	aml_byte(a, AML_WORD);       /* BufferSize, patched by aml_crs_end */
	le(a, 0, 2);
}

void aml_crs_end(struct aml *a)
{
	size_t size;

	aml_res_end(a);
	if (a->err)
		return;
	size = a->len - a->crs_size_at - 3;
	if (a->crs_size_at == 0 || size > 0xffff) {
		fail(a, -EINVAL);
		return;
	}
	a->buf[a->crs_size_at + 1] = (uint8_t)size;
	a->buf[a->crs_size_at + 2] = (uint8_t)(size >> 8);
	a->crs_size_at = 0;
	aml_end(a);
}
