/* A small encoder for ACPI Machine Language (ACPI 6.5, chapter 20): just what Ember's
 * DSDT needs (scopes, devices, names, integers, strings, buffers, packages, resource
 * templates). Writes into a caller's buffer; the first error sticks in a->err so callers
 * check once at the end. Architecture-neutral. */
#ifndef EMBER_ACPI_AML_H
#define EMBER_ACPI_AML_H

#include <stddef.h>
#include <stdint.h>

struct aml {
	uint8_t *buf;
	size_t len, cap;
	int err;           /* 0, -ENOSPC (buffer full) or -EINVAL (bad name, unbalanced) */
	size_t open[8];    /* offsets of the PkgLength placeholders of open packages */
	unsigned int depth;
	size_t crs_size_at; /* offset of the open resource template's BufferSize word */
};

void aml_init(struct aml *a, uint8_t *buf, size_t cap);
void aml_byte(struct aml *a, uint8_t b);
void aml_bytes(struct aml *a, const void *p, size_t n);

/* A name: a NameString of one or more 4-character segments separated by '.', with an
 * optional leading '\' (root). Segments shorter than 4 are padded with '_'. */
void aml_name(struct aml *a, const char *name);

/* Data objects: the shortest integer encoding (Zero, One, Byte/Word/DWord/QWord), a
 * NUL-terminated string. */
void aml_integer(struct aml *a, uint64_t v);
void aml_string(struct aml *a, const char *s);

/* Packages with a PkgLength: begin writes the opcode and reserves the length; end fills
 * it in with the shortest encoding (moving the body down). Nesting up to 8 deep. */
void aml_scope_begin(struct aml *a, const char *name);
void aml_device_begin(struct aml *a, const char *name);
void aml_package_begin(struct aml *a, uint8_t nelems);
void aml_end(struct aml *a);

/* Name(NAME, value) helpers. */
void aml_name_integer(struct aml *a, const char *name, uint64_t v);
void aml_name_string(struct aml *a, const char *name, const char *s);

/* Resource template descriptors (ACPI 6.5 §6.4), for a Buffer inside Name(_CRS, ...). */
void aml_res_memory32_fixed(struct aml *a, uint32_t base, uint32_t len, int writable);
void aml_res_io(struct aml *a, uint16_t base, uint8_t len);
/* Extended interrupt: consumer, edge (1) or level (0), active high, exclusive. */
void aml_res_interrupt(struct aml *a, uint32_t gsi, int edge);
void aml_res_end(struct aml *a);

/* Name(_CRS, ResourceTemplate() { ... }): begin/end around aml_res_* calls. */
void aml_crs_begin(struct aml *a);
void aml_crs_end(struct aml *a);

/* The encoded PkgLength of a package whose body (everything after the PkgLength) is
 * body bytes: writes 1-4 bytes into out and returns how many, or 0 if too large. */
unsigned int aml_pkglength(size_t body, uint8_t out[4]);

#endif
