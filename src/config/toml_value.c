/* The TOML value tree: construction helpers for the parser, lookups, paths, freeing. */
#include "config/toml_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Tables up to this many members are searched linearly; larger ones get a hash index. */
#define LINEAR_MAX 8

struct toml_value *toml__new(enum toml_type type)
{
	struct toml_value *v = calloc(1, sizeof(*v));

	if (v) {
		v->type = type;
		if (type == TOML_ARRAY)
			v->kind = TOML_KIND_STATIC;
	}
	return v;
}

/* FNV-1a, 32-bit, then a final avalanche (the one of MurmurHash3) so that the low bits
 * the index uses depend on every byte: FNV's low bits alone cluster on keys that differ
 * only in their last characters ("disk0", "disk1", ...). */
uint32_t toml__hash(const char *key, size_t len)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)key[i];
		h *= 16777619u;
	}
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

int toml__set_key(struct toml_value *v, const char *key, size_t len)
{
	char *k = malloc(len + 1);

	if (!k)
		return -ENOMEM;
	if (len)
		memcpy(k, key, len);
	k[len] = '\0';
	free((char *)v->key);
	v->key = k;
	v->key_len = len;
	v->hash = toml__hash(key, len);
	return 0;
}

static int grow(struct toml_value *c)
{
	size_t ncap;
	struct toml_value **n;

	if (c->u.list.len < c->u.list.cap)
		return 0;
	ncap = c->u.list.cap ? c->u.list.cap * 2 : 4;
	if (ncap > SIZE_MAX / sizeof(*n))
		return -ENOMEM;
	n = realloc(c->u.list.items, ncap * sizeof(*n));
	if (!n)
		return -ENOMEM;
	c->u.list.items = n;
	c->u.list.cap = ncap;
	return 0;
}

static void index_put(size_t *idx, size_t cap, uint32_t hash, size_t item)
{
	size_t mask = cap - 1, s = hash & mask;

	while (idx[s])
		s = (s + 1) & mask;
	idx[s] = item + 1;
}

/* Keeps the index at most half full, rebuilding it twice as large when needed. */
static int index_update(struct toml_value *t)
{
	size_t len = t->u.list.len;

	if (len <= LINEAR_MAX)
		return 0;
	if (t->u.list.index && len * 2 <= t->u.list.index_cap) {
		index_put(t->u.list.index, t->u.list.index_cap, t->u.list.items[len - 1]->hash,
			  len - 1);
		return 0;
	}
	size_t cap = 32;
	while (cap < len * 4) {
		if (cap > SIZE_MAX / 2 / sizeof(size_t))
			return -ENOMEM;
		cap *= 2;
	}
	size_t *idx = calloc(cap, sizeof(*idx));
	if (!idx)
		return -ENOMEM;
	for (size_t i = 0; i < len; i++)
		index_put(idx, cap, t->u.list.items[i]->hash, i);
	free(t->u.list.index);
	t->u.list.index = idx;
	t->u.list.index_cap = cap;
	return 0;
}

int toml__table_add(struct toml_value *t, struct toml_value *v)
{
	int rc = grow(t);

	if (rc < 0)
		return rc;
	t->u.list.items[t->u.list.len++] = v;
	rc = index_update(t);
	if (rc < 0) {
		t->u.list.len--;
		return rc;
	}
	v->parent = t;
	return 0;
}

int toml__array_add(struct toml_value *a, struct toml_value *v)
{
	int rc = grow(a);

	if (rc < 0)
		return rc;
	v->index = a->u.list.len;
	v->parent = a;
	a->u.list.items[a->u.list.len++] = v;
	return 0;
}

static bool key_is(const struct toml_value *v, uint32_t hash, const char *key, size_t len)
{
	return v->hash == hash && v->key_len == len && (len == 0 || memcmp(v->key, key, len) == 0);
}

struct toml_value *toml__table_find(const struct toml_value *t, const char *key, size_t len)
{
	uint32_t hash = toml__hash(key, len);

	if (!t->u.list.index) {
		for (size_t i = 0; i < t->u.list.len; i++)
			if (key_is(t->u.list.items[i], hash, key, len))
				return t->u.list.items[i];
		return NULL;
	}
	size_t mask = t->u.list.index_cap - 1;
	for (size_t s = hash & mask; t->u.list.index[s]; s = (s + 1) & mask) {
		struct toml_value *v = t->u.list.items[t->u.list.index[s] - 1];

		if (key_is(v, hash, key, len))
			return v;
	}
	return NULL;
}

void toml_free(struct toml_value *v)
{
	if (!v)
		return;
	switch (v->type) {
	case TOML_TABLE:
	case TOML_ARRAY:
		/* Depth is bounded by TOML_MAX_DEPTH, so recursion is. */
		for (size_t i = 0; i < v->u.list.len; i++)
			toml_free(v->u.list.items[i]);
		free(v->u.list.items);
		free(v->u.list.index);
		break;
	case TOML_STRING:
		free(v->u.str.ptr);
		break;
	default:
		break;
	}
	free((char *)v->key);
	free(v);
}

const char *toml_type_name(enum toml_type type)
{
	switch (type) {
	case TOML_TABLE:
		return "table";
	case TOML_ARRAY:
		return "array";
	case TOML_STRING:
		return "string";
	case TOML_INTEGER:
		return "integer";
	case TOML_FLOAT:
		return "float";
	case TOML_BOOL:
		return "boolean";
	case TOML_DATETIME:
		return "offset date-time";
	case TOML_DATETIME_LOCAL:
		return "local date-time";
	case TOML_DATE_LOCAL:
		return "local date";
	case TOML_TIME_LOCAL:
		return "local time";
	}
	return "unknown";
}

size_t toml_len(const struct toml_value *v)
{
	if (!v || (v->type != TOML_TABLE && v->type != TOML_ARRAY))
		return 0;
	return v->u.list.len;
}

const struct toml_value *toml_at(const struct toml_value *v, size_t i)
{
	if (i >= toml_len(v))
		return NULL;
	return v->u.list.items[i];
}

const struct toml_value *toml_getn(const struct toml_value *t, const char *key, size_t key_len)
{
	if (!t || t->type != TOML_TABLE || !key)
		return NULL;
	return toml__table_find(t, key, key_len);
}

const struct toml_value *toml_get(const struct toml_value *t, const char *key)
{
	return key ? toml_getn(t, key, strlen(key)) : NULL;
}

const struct toml_value *toml_lookup(const struct toml_value *t, const char *path)
{
	const char *p = path;

	if (!path)
		return NULL;
	for (;;) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);

		t = toml_getn(t, p, n);
		if (!t || !dot)
			return t;
		p = dot + 1;
	}
}

/* Appends to a bounded buffer, counting what would have been written. */
struct out {
	char *buf;
	size_t size, len;
};

static void out_bytes(struct out *o, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++, o->len++)
		if (o->size && o->len < o->size - 1)
			o->buf[o->len] = s[i];
}

static void out_str(struct out *o, const char *s)
{
	out_bytes(o, s, strlen(s));
}

static bool bare_key(const char *k, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = k[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			return false;
	}
	return true;
}

static void out_key(struct out *o, const char *k, size_t n)
{
	if (bare_key(k, n)) {
		out_bytes(o, k, n);
		return;
	}
	out_str(o, "\"");
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)k[i];
		char esc[8];

		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			out_bytes(o, esc, 2);
		} else if (c < 0x20 || c == 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			out_str(o, esc);
		} else {
			out_bytes(o, (const char *)&k[i], 1);
		}
	}
	out_str(o, "\"");
}

static void out_path(struct out *o, const struct toml_value *v)
{
	const struct toml_value *p = v->parent;

	if (!p)
		return;
	/* Recursion depth is bounded by TOML_MAX_DEPTH. */
	out_path(o, p);
	if (p->type == TOML_ARRAY) {
		char ix[32];

		snprintf(ix, sizeof(ix), "[%zu]", v->index);
		out_str(o, ix);
	} else {
		if (p->parent)
			out_str(o, ".");
		out_key(o, v->key, v->key_len);
	}
}

size_t toml_path(const struct toml_value *v, char *buf, size_t size)
{
	struct out o = { buf, size, 0 };

	if (v)
		out_path(&o, v);
	if (size)
		buf[o.len < size ? o.len : size - 1] = '\0';
	return o.len;
}

int toml_datetime_format(const struct toml_value *v, char *buf, size_t size)
{
	const struct toml_datetime *d;
	struct out o = { buf, size, 0 };
	char tmp[64];

	if (!v || v->type < TOML_DATETIME || v->type > TOML_TIME_LOCAL)
		return -EINVAL;
	d = &v->u.dt;
	if (v->type != TOML_TIME_LOCAL) {
		snprintf(tmp, sizeof(tmp), "%04d-%02d-%02d", d->year, d->month, d->day);
		out_str(&o, tmp);
	}
	if (v->type == TOML_DATETIME || v->type == TOML_DATETIME_LOCAL)
		out_str(&o, "T");
	if (v->type != TOML_DATE_LOCAL) {
		snprintf(tmp, sizeof(tmp), "%02d:%02d:%02d", d->hour, d->minute, d->second);
		out_str(&o, tmp);
		if (d->frac_digits > 0) {
			int digits = d->frac_digits < 3 ? 3 : d->frac_digits, ns = d->nanosecond;

			for (int i = digits; i < 9; i++)
				ns /= 10;
			snprintf(tmp, sizeof(tmp), ".%0*d", digits, ns);
			out_str(&o, tmp);
		}
	}
	if (v->type == TOML_DATETIME) {
		if (d->offset_z) {
			out_str(&o, "Z");
		} else {
			int off = d->offset_minutes < 0 ? -d->offset_minutes : d->offset_minutes;

			snprintf(tmp, sizeof(tmp), "%c%02d:%02d", d->offset_minutes < 0 ? '-' : '+',
				 off / 60, off % 60);
			out_str(&o, tmp);
		}
	}
	if (size)
		buf[o.len < size ? o.len : size - 1] = '\0';
	return (int)o.len;
}
