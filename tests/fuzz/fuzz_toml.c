/* libFuzzer target: the TOML parser on arbitrary bytes.
 *
 * Every input is parsed. A rejected input must come with a message and a place (line and
 * column >= 1) and no tree. An accepted one is checked throughout: parent links, array
 * indexes, depth <= TOML_MAX_DEPTH, every key found again by lookup, positions set; then
 * it is written back as TOML (everything inline: "key" = {...} / [...]), parsed again and
 * compared with the first tree, value by value. Leaks are caught by the sanitizer. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/toml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ASSERT(c)                                                                      \
	do {                                                                           \
		if (!(c)) {                                                            \
			fprintf(stderr, "fuzz_toml: %s:%d: assertion failed: %s\n",    \
				__FILE__, __LINE__, #c);                               \
			abort();                                                       \
		}                                                                      \
	} while (0)

static void check_tree(const struct toml_value *v, const struct toml_value *parent, int depth)
{
	char path[64];

	ASSERT(v->parent == parent);
	ASSERT(v->depth == depth && depth <= TOML_MAX_DEPTH);
	ASSERT(v->line >= 1 && v->column >= 1);
	toml_path(v, path, sizeof(path));
	if (v->type >= TOML_DATETIME) {
		char buf[64];

		ASSERT(toml_datetime_format(v, buf, sizeof(buf)) > 0);
	}
	if (v->type == TOML_STRING)
		ASSERT(v->u.str.ptr && v->u.str.ptr[v->u.str.len] == '\0');
	if (v->type != TOML_TABLE && v->type != TOML_ARRAY)
		return;
	for (size_t i = 0; i < toml_len(v); i++) {
		const struct toml_value *c = toml_at(v, i);

		ASSERT(c);
		if (v->type == TOML_TABLE) {
			ASSERT(c->key && c->key_line >= 1);
			ASSERT(toml_getn(v, c->key, c->key_len) == c);
		} else {
			ASSERT(c->index == i && !c->key);
		}
		check_tree(c, v, depth + 1);
	}
}

struct out {
	char *p;
	size_t len, cap;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->cap - o->len < n + 1) {
		size_t cap = o->cap ? o->cap : 256;

		while (cap - o->len < n + 1)
			cap *= 2;
		o->p = realloc(o->p, cap);
		ASSERT(o->p);
		o->cap = cap;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = '\0';
}

static void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

static void put_string(struct out *o, const char *s, size_t n)
{
	puts_(o, "\"");
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[8];

		if (c < 0x20 || c == 0x7f || c == '"' || c == '\\') {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			puts_(o, esc);
		} else {
			put(o, (const char *)&s[i], 1);
		}
	}
	puts_(o, "\"");
}

static void put_value(struct out *o, const struct toml_value *v)
{
	char buf[64];

	switch (v->type) {
	case TOML_TABLE:
	case TOML_ARRAY:
		puts_(o, v->type == TOML_TABLE ? "{" : "[");
		for (size_t i = 0; i < toml_len(v); i++) {
			const struct toml_value *c = toml_at(v, i);

			if (i)
				puts_(o, ", ");
			if (v->type == TOML_TABLE) {
				put_string(o, c->key, c->key_len);
				puts_(o, " = ");
			}
			put_value(o, c);
		}
		puts_(o, v->type == TOML_TABLE ? "}" : "]");
		return;
	case TOML_STRING:
		put_string(o, v->u.str.ptr, v->u.str.len);
		return;
	case TOML_INTEGER:
		snprintf(buf, sizeof(buf), "%lld", (long long)v->u.integer);
		break;
	case TOML_FLOAT:
		if (isnan(v->u.flt))
			snprintf(buf, sizeof(buf), "nan");
		else if (isinf(v->u.flt))
			snprintf(buf, sizeof(buf), "%sinf", v->u.flt < 0 ? "-" : "");
		else {
			snprintf(buf, sizeof(buf), "%.17g", v->u.flt);
			if (!strpbrk(buf, ".e"))
				strcat(buf, ".0");
		}
		break;
	case TOML_BOOL:
		snprintf(buf, sizeof(buf), "%s", v->u.boolean ? "true" : "false");
		break;
	default:
		ASSERT(toml_datetime_format(v, buf, sizeof(buf)) > 0);
		break;
	}
	puts_(o, buf);
}

static void check_same(const struct toml_value *a, const struct toml_value *b)
{
	ASSERT(a->type == b->type);
	switch (a->type) {
	case TOML_TABLE:
	case TOML_ARRAY:
		ASSERT(toml_len(a) == toml_len(b));
		for (size_t i = 0; i < toml_len(a); i++) {
			const struct toml_value *x = toml_at(a, i), *y = toml_at(b, i);

			if (a->type == TOML_TABLE)
				ASSERT(x->key_len == y->key_len &&
				       memcmp(x->key, y->key, x->key_len) == 0);
			check_same(x, y);
		}
		return;
	case TOML_STRING:
		ASSERT(a->u.str.len == b->u.str.len &&
		       memcmp(a->u.str.ptr, b->u.str.ptr, a->u.str.len) == 0);
		return;
	case TOML_INTEGER:
		ASSERT(a->u.integer == b->u.integer);
		return;
	case TOML_FLOAT:
		ASSERT((isnan(a->u.flt) && isnan(b->u.flt)) ||
		       memcmp(&a->u.flt, &b->u.flt, sizeof(double)) == 0);
		return;
	case TOML_BOOL:
		ASSERT(a->u.boolean == b->u.boolean);
		return;
	default: {
		const struct toml_datetime *x = &a->u.dt, *y = &b->u.dt;

		ASSERT(x->year == y->year && x->month == y->month && x->day == y->day &&
		       x->hour == y->hour && x->minute == y->minute && x->second == y->second &&
		       x->nanosecond == y->nanosecond && x->offset_minutes == y->offset_minutes);
		return;
	}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct toml_value *root = (struct toml_value *)&root, *again = NULL;
	struct toml_error err;
	struct out o = { 0 };
	int rc = toml_parse((const char *)data, size, "fuzz.toml", &root, &err);

	if (rc < 0) {
		ASSERT(!root);
		ASSERT(err.line >= 1 && err.column >= 1);
		ASSERT(strncmp(err.msg, "fuzz.toml:", 10) == 0 && err.reason[0]);
		return 0;
	}
	ASSERT(rc == 0 && root && root->type == TOML_TABLE);
	check_tree(root, NULL, 0);

	for (size_t i = 0; i < toml_len(root); i++) {
		const struct toml_value *c = toml_at(root, i);

		put_string(&o, c->key, c->key_len);
		puts_(&o, " = ");
		put_value(&o, c);
		puts_(&o, "\n");
	}
	rc = toml_parse(o.p ? o.p : "", o.len, "again.toml", &again, &err);
	if (rc != 0)
		fprintf(stderr, "fuzz_toml: written back, not parsed: %s\n%s\n", err.msg, o.p);
	ASSERT(rc == 0);
	check_same(root, again);
	toml_free(again);
	toml_free(root);
	free(o.p);
	return 0;
}
