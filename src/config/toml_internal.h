/* Shared between the TOML parser (toml.c) and the value tree (toml_value.c); not part of
 * the API. */
#ifndef EMBER_CONFIG_TOML_INTERNAL_H
#define EMBER_CONFIG_TOML_INTERNAL_H

#include "config/toml.h"

/* toml_value.kind: how a container came to be, which decides what may still be done to
 * it (TOML 1.0 "Table", "Inline Table" and "Array of Tables"). */
enum toml_kind {
	TOML_KIND_SCALAR = 0,
	TOML_KIND_IMPLICIT,	/* table created as a parent by a [a.b.c] header: a later
				 * [a.b] header may still define it */
	TOML_KIND_DOTTED,	/* table created or entered by a dotted key: no header may
				 * define it, headers may add sub-tables below it */
	TOML_KIND_DEFINED,	/* root, [header] table, [[header]] element */
	TOML_KIND_INLINE,	/* { ... }: complete, nothing may be added */
	TOML_KIND_STATIC,	/* [ ... ] array value: nothing may be appended */
	TOML_KIND_AOT,		/* array of tables built by [[header]]s */
};

struct toml_value *toml__new(enum toml_type type);
uint32_t toml__hash(const char *key, size_t len);
/* Sets v's key (copied) and position of the key. -ENOMEM on failure. */
int toml__set_key(struct toml_value *v, const char *key, size_t len);
/* Appends v (its key already set, not present in t) to table t; t owns it after
 * success. -ENOMEM on failure (v is then still the caller's). */
int toml__table_add(struct toml_value *t, struct toml_value *v);
struct toml_value *toml__table_find(const struct toml_value *t, const char *key, size_t len);
/* Appends v to array a; a owns it after success. */
int toml__array_add(struct toml_value *a, struct toml_value *v);

#endif
