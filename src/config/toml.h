/* TOML 1.0.0 parser (https://toml.io/en/v1.0.0) and the value tree it builds.
 *
 *   struct toml_value *root;
 *   struct toml_error err;
 *   if (toml_parse(text, len, "vm.toml", &root, &err) < 0)
 *           ... err.msg is "vm.toml:3:10: duplicate key 'name' (first defined at 2:1)"
 *   const struct toml_value *n = toml_lookup(root, "base.cpu_num");
 *   if (n && n->type == TOML_INTEGER) ... n->u.integer ...
 *   toml_free(root);
 *
 * The whole document is validated: UTF-8 (no overlong forms, surrogates or bytes that are
 * never valid), control characters, every lexical rule of the spec and every redefinition
 * rule (keys and tables defined once, dotted-key tables not reopened by headers, inline
 * tables and static arrays immutable). Nesting is bounded by TOML_MAX_DEPTH, so neither
 * the parser nor a recursive walk of the tree can run out of stack on hostile input.
 * Table lookups are hashed once a table grows past a few keys.
 *
 * Every value records where it came from (1-based line, and column counted in Unicode
 * characters, a tab counting as one), its parent and its key or array index, so a schema
 * can say "vm.toml:12:5: base.cpu_num: expected an integer" (see toml_path()). */
#ifndef EMBER_CONFIG_TOML_H
#define EMBER_CONFIG_TOML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The deepest a value may sit below the root table (tables, arrays and the key parts of
 * headers and dotted keys all count one level). Deeper documents are rejected. */
#define TOML_MAX_DEPTH 128

enum toml_type {
	TOML_TABLE = 1,
	TOML_ARRAY,
	TOML_STRING,
	TOML_INTEGER,
	TOML_FLOAT,
	TOML_BOOL,
	TOML_DATETIME,		/* offset date-time: 1979-05-27T07:32:00Z, ...-07:00 */
	TOML_DATETIME_LOCAL,	/* 1979-05-27T07:32:00 */
	TOML_DATE_LOCAL,	/* 1979-05-27 */
	TOML_TIME_LOCAL,	/* 07:32:00 */
};

/* The four date/time types. Fields a type does not have are 0. */
struct toml_datetime {
	int year, month, day;		/* 0-9999, 1-12, 1-28..31 */
	int hour, minute, second;	/* 0-23, 0-59, 0-60 (a leap second) */
	int nanosecond;			/* the fraction of a second, truncated to 1 ns */
	int frac_digits;		/* digits written after '.' (0: none), at most 9 */
	int offset_minutes;		/* TOML_DATETIME: local time minus UTC, -1439..1439 */
	bool offset_z;			/* TOML_DATETIME: the offset was written "Z" */
};

struct toml_value {
	enum toml_type type;
	/* Where the value starts; for a table made by a [header] or a dotted key, where
	 * that key part is (for [[array]] element tables, their header's last key). */
	uint32_t line, column;
	/* Where the key naming this value was written (table members only, else 0). */
	uint32_t key_line, key_column;
	/* The table or array holding this value; NULL for the root. */
	const struct toml_value *parent;
	/* Table members: the key, NUL-terminated (it may also contain NUL bytes from a
	 * \u0000 escape: key_len is authoritative). NULL for array elements and the root. */
	const char *key;
	size_t key_len;
	size_t index;		/* array elements: position in the parent array */
	int depth;		/* 0 for the root table */
	union {
		struct {	/* TOML_STRING: NUL-terminated; may contain NUL bytes */
			char *ptr;
			size_t len;
		} str;
		int64_t integer;
		double flt;
		bool boolean;
		struct toml_datetime dt;
		struct {	/* TOML_TABLE (members in document order) and TOML_ARRAY */
			struct toml_value **items;
			size_t len;
			/* private */
			size_t cap;
			size_t *index;	/* hash index of a large table: slot -> item + 1 */
			size_t index_cap;
		} list;
	} u;
	/* private: how a table or array came to be (redefinition rules) */
	unsigned kind;
	uint32_t hash;
};

struct toml_error {
	uint32_t line, column;	/* 1-based; 0 when not tied to a place */
	/* "FILE:LINE:COL: what" (without "FILE:" when no filename was given) */
	char msg[320];
	const char *reason;	/* points into msg, after the location */
};

/* Parses len bytes of text (need not be NUL-terminated; a leading UTF-8 BOM is skipped).
 * filename is only used in messages (may be NULL). On success returns 0 and *root is the
 * root table (free it with toml_free). On failure returns -EINVAL (the document is not
 * valid TOML 1.0) or -ENOMEM, *root is NULL, *err (if err is not NULL) says what and
 * where, and err_msg() holds the same line. */
int toml_parse(const char *text, size_t len, const char *filename, struct toml_value **root,
	       struct toml_error *err);

/* Frees a tree returned by toml_parse (NULL is fine). */
void toml_free(struct toml_value *root);

/* "table", "array", "string", "integer", "float", "boolean", "offset date-time",
 * "local date-time", "local date", "local time". */
const char *toml_type_name(enum toml_type type);

/* Members of a table or elements of an array: count and the i-th in document order
 * (NULL when out of range or v is neither). */
size_t toml_len(const struct toml_value *v);
const struct toml_value *toml_at(const struct toml_value *v, size_t i);

/* The member of table t named key (NULL when absent or t is not a table). */
const struct toml_value *toml_get(const struct toml_value *t, const char *key);
const struct toml_value *toml_getn(const struct toml_value *t, const char *key, size_t key_len);

/* Follows a path of keys separated by '.', e.g. "base.cpu_num" (the keys themselves
 * cannot contain '.'; use toml_get for such keys). NULL when any step is missing or not a
 * table. */
const struct toml_value *toml_lookup(const struct toml_value *t, const char *path);

/* Writes v's path from the root in TOML key syntax, e.g. `drive[1].path` or
 * `servers."alpha beta".ip` ("" for the root), truncated to fit size. Returns the length
 * the full path has, like snprintf. */
size_t toml_path(const struct toml_value *v, char *buf, size_t size);

/* Writes a date/time value as RFC 3339 text with 'T' and 'Z' upper case and, when the
 * document had a fraction, at least 3 fraction digits ("1987-07-05T17:45:56.600Z").
 * Returns the length like snprintf, or -EINVAL when v is not a date/time. */
int toml_datetime_format(const struct toml_value *v, char *buf, size_t size);

#endif
