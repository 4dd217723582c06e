/* toml2json: Ember's TOML parser as toml-test sees it.
 *
 *   toml2json FILE
 *       Parses FILE and prints the toml-test JSON encoding of the result: tables as
 *       objects (document order), arrays as arrays, every scalar as
 *       {"type": "integer", "value": "42"} (types string, integer, float, bool, datetime,
 *       datetime-local, date-local, time-local). Exit 0; 1 with the parser's message on
 *       stderr when FILE is not valid TOML.
 *
 *   toml2json --compare EXPECTED.json FILE
 *       Parses FILE and compares the result with EXPECTED.json semantically, as toml-test
 *       does: same tables (key order ignored), arrays, types and values, floats by value
 *       (inf, -inf, nan by name, any nan equal to any nan), date-times by their fields
 *       (so "56.6Z" equals "56.600z", "Z" equals "+00:00"). Exit 0 when equal, 1 when
 *       FILE does not parse (message on stderr), 3 when it differs (first difference on
 *       stdout).
 *
 * Exit 2 on usage, I/O or JSON syntax errors. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/toml.h"

/* ---- I/O ---- */

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0;

	if (!f) {
		fprintf(stderr, "toml2json: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	for (;;) {
		if (cap - n < 4096) {
			char *nb;

			cap = cap ? cap * 2 : 65536;
			nb = realloc(buf, cap);
			if (!nb) {
				free(buf);
				fclose(f);
				fprintf(stderr, "toml2json: out of memory\n");
				return NULL;
			}
			buf = nb;
		}
		size_t got = fread(buf + n, 1, cap - n - 1, f);

		n += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		fprintf(stderr, "toml2json: %s: read error\n", path);
		free(buf);
		fclose(f);
		return NULL;
	}
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* ---- TOML -> JSON ---- */

static void put_json_string(const char *s, size_t n)
{
	putchar('"');
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		switch (c) {
		case '"':
			fputs("\\\"", stdout);
			break;
		case '\\':
			fputs("\\\\", stdout);
			break;
		case '\n':
			fputs("\\n", stdout);
			break;
		case '\t':
			fputs("\\t", stdout);
			break;
		case '\r':
			fputs("\\r", stdout);
			break;
		case '\b':
			fputs("\\b", stdout);
			break;
		case '\f':
			fputs("\\f", stdout);
			break;
		default:
			if (c < 0x20 || c == 0x7f)
				printf("\\u%04x", c);
			else
				putchar(c);
		}
	}
	putchar('"');
}

static const char *tag_name(enum toml_type t)
{
	switch (t) {
	case TOML_STRING:
		return "string";
	case TOML_INTEGER:
		return "integer";
	case TOML_FLOAT:
		return "float";
	case TOML_BOOL:
		return "bool";
	case TOML_DATETIME:
		return "datetime";
	case TOML_DATETIME_LOCAL:
		return "datetime-local";
	case TOML_DATE_LOCAL:
		return "date-local";
	case TOML_TIME_LOCAL:
		return "time-local";
	default:
		return NULL;
	}
}

static void put_indent(int depth)
{
	for (int i = 0; i < depth; i++)
		fputs("  ", stdout);
}

static void put_value(const struct toml_value *v, int depth)
{
	char tmp[64];

	switch (v->type) {
	case TOML_TABLE:
	case TOML_ARRAY: {
		size_t n = toml_len(v);

		putchar(v->type == TOML_TABLE ? '{' : '[');
		for (size_t i = 0; i < n; i++) {
			const struct toml_value *c = toml_at(v, i);

			puts(i ? "," : "");
			put_indent(depth + 1);
			if (v->type == TOML_TABLE) {
				put_json_string(c->key, c->key_len);
				fputs(": ", stdout);
			}
			put_value(c, depth + 1);
		}
		if (n) {
			putchar('\n');
			put_indent(depth);
		}
		putchar(v->type == TOML_TABLE ? '}' : ']');
		return;
	}
	case TOML_STRING:
		printf("{\"type\": \"string\", \"value\": ");
		put_json_string(v->u.str.ptr, v->u.str.len);
		putchar('}');
		return;
	case TOML_INTEGER:
		snprintf(tmp, sizeof(tmp), "%" PRId64, v->u.integer);
		break;
	case TOML_FLOAT:
		if (isnan(v->u.flt))
			snprintf(tmp, sizeof(tmp), "nan");
		else if (isinf(v->u.flt))
			snprintf(tmp, sizeof(tmp), "%sinf", v->u.flt < 0 ? "-" : "");
		else
			for (int prec = 15; prec <= 17; prec++) {	/* shortest exact form */
				snprintf(tmp, sizeof(tmp), "%.*g", prec, v->u.flt);
				if (strtod(tmp, NULL) == v->u.flt)
					break;
			}
		break;
	case TOML_BOOL:
		snprintf(tmp, sizeof(tmp), "%s", v->u.boolean ? "true" : "false");
		break;
	default:
		toml_datetime_format(v, tmp, sizeof(tmp));
		break;
	}
	printf("{\"type\": \"%s\", \"value\": \"%s\"}", tag_name(v->type), tmp);
}

/* ---- a small JSON reader (objects, arrays, strings: all toml-test uses) ---- */

enum jtype { J_OBJECT, J_ARRAY, J_STRING };

struct jv {
	enum jtype type;
	char *s;		/* J_STRING */
	size_t slen;
	struct jv **items;	/* J_OBJECT values, J_ARRAY elements */
	char **keys;		/* J_OBJECT */
	size_t *klens;
	size_t n, cap;
};

struct jparser {
	const char *s;
	size_t len, pos;
	int depth;
	const char *err;
};

static void jfree(struct jv *j)
{
	if (!j)
		return;
	for (size_t i = 0; i < j->n; i++) {
		jfree(j->items[i]);
		if (j->keys)
			free(j->keys[i]);
	}
	free(j->items);
	free(j->keys);
	free(j->klens);
	free(j->s);
	free(j);
}

static void jws(struct jparser *jp)
{
	while (jp->pos < jp->len && strchr(" \t\r\n", jp->s[jp->pos]))
		jp->pos++;
}

static int jpeek(const struct jparser *jp)
{
	return jp->pos < jp->len ? (unsigned char)jp->s[jp->pos] : -1;
}

static int hex4(struct jparser *jp, unsigned *out)
{
	unsigned v = 0;

	for (int i = 0; i < 4; i++) {
		int c = jpeek(jp), d;

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return -1;
		v = v << 4 | (unsigned)d;
		jp->pos++;
	}
	*out = v;
	return 0;
}

static int jstring(struct jparser *jp, char **out, size_t *outlen)
{
	size_t cap = 16, n = 0;
	char *b = malloc(cap);

	if (!b || jpeek(jp) != '"') {
		free(b);
		jp->err = "expected a string";
		return -1;
	}
	jp->pos++;
	for (;;) {
		int c = jpeek(jp);
		char u[4];
		size_t un = 0;

		if (c < 0) {
			jp->err = "unterminated string";
			free(b);
			return -1;
		}
		jp->pos++;
		if (c == '"')
			break;
		if (c != '\\') {
			u[un++] = (char)c;
		} else {
			int e = jpeek(jp);
			unsigned cp;

			jp->pos++;
			switch (e) {
			case '"': u[un++] = '"'; break;
			case '\\': u[un++] = '\\'; break;
			case '/': u[un++] = '/'; break;
			case 'b': u[un++] = '\b'; break;
			case 'f': u[un++] = '\f'; break;
			case 'n': u[un++] = '\n'; break;
			case 'r': u[un++] = '\r'; break;
			case 't': u[un++] = '\t'; break;
			case 'u':
				if (hex4(jp, &cp) < 0)
					goto bad;
				if (cp >= 0xd800 && cp <= 0xdbff) {
					unsigned lo;

					if (jpeek(jp) != '\\')
						goto bad;
					jp->pos++;
					if (jpeek(jp) != 'u')
						goto bad;
					jp->pos++;
					if (hex4(jp, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff)
						goto bad;
					cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				}
				if (cp < 0x80) {
					u[un++] = (char)cp;
				} else if (cp < 0x800) {
					u[un++] = (char)(0xc0 | (cp >> 6));
					u[un++] = (char)(0x80 | (cp & 0x3f));
				} else if (cp < 0x10000) {
					u[un++] = (char)(0xe0 | (cp >> 12));
					u[un++] = (char)(0x80 | ((cp >> 6) & 0x3f));
					u[un++] = (char)(0x80 | (cp & 0x3f));
				} else {
					u[un++] = (char)(0xf0 | (cp >> 18));
					u[un++] = (char)(0x80 | ((cp >> 12) & 0x3f));
					u[un++] = (char)(0x80 | ((cp >> 6) & 0x3f));
					u[un++] = (char)(0x80 | (cp & 0x3f));
				}
				break;
			default:
				goto bad;
			}
		}
		if (cap - n < un + 1) {
			char *nb = realloc(b, cap * 2);

			if (!nb) {
				jp->err = "out of memory";
				free(b);
				return -1;
			}
			b = nb;
			cap *= 2;
		}
		memcpy(b + n, u, un);
		n += un;
	}
	b[n] = '\0';
	*out = b;
	*outlen = n;
	return 0;
bad:
	jp->err = "bad escape in string";
	free(b);
	return -1;
}

static int jpush(struct jv *j, struct jv *item, char *key, size_t klen)
{
	if (j->n == j->cap) {
		size_t cap = j->cap ? j->cap * 2 : 8;
		struct jv **items = realloc(j->items, cap * sizeof(*items));

		if (!items)
			return -1;
		j->items = items;
		if (j->type == J_OBJECT) {
			char **keys = realloc(j->keys, cap * sizeof(*keys));

			if (!keys)
				return -1;
			j->keys = keys;
			size_t *kl = realloc(j->klens, cap * sizeof(*kl));

			if (!kl)
				return -1;
			j->klens = kl;
		}
		j->cap = cap;
	}
	j->items[j->n] = item;
	if (j->type == J_OBJECT) {
		j->keys[j->n] = key;
		j->klens[j->n] = klen;
	}
	j->n++;
	return 0;
}

static struct jv *jvalue(struct jparser *jp)
{
	struct jv *j;
	int c;

	jws(jp);
	c = jpeek(jp);
	if (c != '{' && c != '[' && c != '"') {
		jp->err = "expected an object, array or string";
		return NULL;
	}
	if (++jp->depth > 1000) {
		jp->err = "too deep";
		return NULL;
	}
	j = calloc(1, sizeof(*j));
	if (!j) {
		jp->err = "out of memory";
		return NULL;
	}
	if (c == '"') {
		j->type = J_STRING;
		if (jstring(jp, &j->s, &j->slen) < 0)
			goto fail;
		jp->depth--;
		return j;
	}
	j->type = c == '{' ? J_OBJECT : J_ARRAY;
	jp->pos++;
	jws(jp);
	if (jpeek(jp) == (c == '{' ? '}' : ']')) {
		jp->pos++;
		jp->depth--;
		return j;
	}
	for (;;) {
		char *key = NULL;
		size_t klen = 0;
		struct jv *item;

		jws(jp);
		if (j->type == J_OBJECT) {
			if (jstring(jp, &key, &klen) < 0)
				goto fail;
			jws(jp);
			if (jpeek(jp) != ':') {
				free(key);
				jp->err = "expected ':'";
				goto fail;
			}
			jp->pos++;
		}
		item = jvalue(jp);
		if (!item || jpush(j, item, key, klen) < 0) {
			if (item && !jp->err)
				jp->err = "out of memory";
			jfree(item);
			free(key);
			goto fail;
		}
		jws(jp);
		if (jpeek(jp) == ',') {
			jp->pos++;
			continue;
		}
		if (jpeek(jp) == (c == '{' ? '}' : ']')) {
			jp->pos++;
			jp->depth--;
			return j;
		}
		jp->err = "expected ',' or a closing bracket";
		goto fail;
	}
fail:
	jfree(j);
	return NULL;
}

/* ---- comparison ---- */

struct dt {
	int year, month, day, hour, minute, second;
	long long nanos;
	int offset;		/* minutes */
	int has_date, has_time, has_offset;
};

/* An independent reading of RFC 3339 text: the expected side of date-time comparisons. */
static int parse_dt(const char *s, struct dt *d)
{
	const char *p = s;

	memset(d, 0, sizeof(*d));
	if (strlen(p) >= 10 && p[4] == '-' && p[7] == '-') {
		if (sscanf(p, "%4d-%2d-%2d", &d->year, &d->month, &d->day) != 3)
			return -1;
		d->has_date = 1;
		p += 10;
		if (*p == 'T' || *p == 't' || *p == ' ')
			p++;
		else if (*p)
			return -1;
	}
	if (*p) {
		if (strlen(p) < 8 || p[2] != ':' || p[5] != ':' ||
		    sscanf(p, "%2d:%2d:%2d", &d->hour, &d->minute, &d->second) != 3)
			return -1;
		d->has_time = 1;
		p += 8;
		if (*p == '.') {
			long long scale = 100000000;

			p++;
			while (*p >= '0' && *p <= '9') {
				d->nanos += (*p - '0') * scale;
				scale /= 10;
				p++;
			}
		}
		if (*p == 'Z' || *p == 'z') {
			d->has_offset = 1;
			p++;
		} else if (*p == '+' || *p == '-') {
			int hh, mm;

			if (sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2)
				return -1;
			d->offset = (*p == '-' ? -1 : 1) * (hh * 60 + mm);
			d->has_offset = 1;
			p += 6;
		}
		if (*p)
			return -1;
	}
	return d->has_date || d->has_time ? 0 : -1;
}

static int cmp_scalar(const struct toml_value *v, const char *type, const char *want,
		      size_t want_len, const char *path)
{
	const char *have_type = tag_name(v->type);
	char got[64];

	if (!have_type || strcmp(have_type, type) != 0) {
		printf("at '%s': expected %s \"%s\", got %s\n", path, type, want,
		       have_type ? have_type : toml_type_name(v->type));
		return 1;
	}
	switch (v->type) {
	case TOML_STRING:
		if (want_len == v->u.str.len && memcmp(want, v->u.str.ptr, want_len) == 0)
			return 0;
		printf("at '%s': expected string \"%s\", got \"%s\"\n", path, want, v->u.str.ptr);
		return 1;
	case TOML_INTEGER: {
		char *end;
		long long w;

		errno = 0;
		w = strtoll(want, &end, 10);
		if (!errno && !*end && w == v->u.integer)
			return 0;
		printf("at '%s': expected integer %s, got %" PRId64 "\n", path, want, v->u.integer);
		return 1;
	}
	case TOML_FLOAT: {
		double w;
		const char *m = want + (*want == '+' || *want == '-');
		char *end = NULL;

		if (strcmp(m, "nan") == 0) {
			if (isnan(v->u.flt))
				return 0;
		} else {
			if (strcmp(m, "inf") == 0)
				w = *want == '-' ? -INFINITY : INFINITY;
			else
				w = strtod(want, &end);
			if ((!end || !*end) && !isnan(v->u.flt) && w == v->u.flt)
				return 0;
		}
		printf("at '%s': expected float %s, got %.17g\n", path, want, v->u.flt);
		return 1;
	}
	case TOML_BOOL:
		if (strcmp(want, v->u.boolean ? "true" : "false") == 0)
			return 0;
		printf("at '%s': expected bool %s, got %s\n", path, want,
		       v->u.boolean ? "true" : "false");
		return 1;
	default: {
		struct dt w;
		const struct toml_datetime *h = &v->u.dt;
		bool date = v->type != TOML_TIME_LOCAL, time = v->type != TOML_DATE_LOCAL;

		toml_datetime_format(v, got, sizeof(got));
		if (parse_dt(want, &w) < 0 || w.has_date != date || w.has_time != time ||
		    w.has_offset != (v->type == TOML_DATETIME) ||
		    (date && (w.year != h->year || w.month != h->month || w.day != h->day)) ||
		    (time && (w.hour != h->hour || w.minute != h->minute ||
			      w.second != h->second || w.nanos != h->nanosecond)) ||
		    w.offset != h->offset_minutes) {
			printf("at '%s': expected %s %s, got %s\n", path, type, want, got);
			return 1;
		}
		return 0;
	}
	}
}

static int is_tagged(const struct jv *j)
{
	int type = 0, value = 0;

	if (j->type != J_OBJECT || j->n != 2)
		return 0;
	for (size_t i = 0; i < 2; i++) {
		if (j->items[i]->type != J_STRING)
			return 0;
		if (strcmp(j->keys[i], "type") == 0)
			type = 1;
		else if (strcmp(j->keys[i], "value") == 0)
			value = 1;
	}
	return type && value;
}

static const struct jv *member(const struct jv *j, const char *key)
{
	for (size_t i = 0; i < j->n; i++)
		if (strcmp(j->keys[i], key) == 0)
			return j->items[i];
	return NULL;
}

static int cmp(const struct toml_value *v, const struct jv *j)
{
	char path[512];

	toml_path(v, path, sizeof(path));
	if (is_tagged(j)) {
		const struct jv *type = member(j, "type"), *want = member(j, "value");

		if (!type || !want)
			return 1;	/* is_tagged() saw both */
		return cmp_scalar(v, type->s, want->s, want->slen, path);
	}
	if (j->type == J_OBJECT) {
		if (v->type != TOML_TABLE) {
			printf("at '%s': expected a table, got %s\n", path, toml_type_name(v->type));
			return 1;
		}
		for (size_t i = 0; i < j->n; i++) {
			const struct toml_value *c = toml_getn(v, j->keys[i], j->klens[i]);

			if (!c) {
				printf("at '%s': missing key \"%s\"\n", path, j->keys[i]);
				return 1;
			}
			if (cmp(c, j->items[i]))
				return 1;
		}
		if (toml_len(v) != j->n) {
			printf("at '%s': %zu keys, expected %zu\n", path, toml_len(v), j->n);
			return 1;
		}
		return 0;
	}
	if (j->type == J_ARRAY) {
		if (v->type != TOML_ARRAY) {
			printf("at '%s': expected an array, got %s\n", path, toml_type_name(v->type));
			return 1;
		}
		if (toml_len(v) != j->n) {
			printf("at '%s': %zu elements, expected %zu\n", path, toml_len(v), j->n);
			return 1;
		}
		for (size_t i = 0; i < j->n; i++)
			if (cmp(toml_at(v, i), j->items[i]))
				return 1;
		return 0;
	}
	printf("at '%s': expected JSON has a bare string\n", path);
	return 1;
}

int main(int argc, char **argv)
{
	const char *expected = NULL, *file;
	struct toml_value *root;
	struct toml_error err;
	char *text;
	size_t len;
	int rc;

	if (argc == 4 && strcmp(argv[1], "--compare") == 0) {
		expected = argv[2];
		file = argv[3];
	} else if (argc == 2 && argv[1][0] != '-') {
		file = argv[1];
	} else {
		fprintf(stderr, "usage: toml2json FILE | toml2json --compare EXPECTED.json FILE\n");
		return 2;
	}
	text = read_file(file, &len);
	if (!text)
		return 2;
	rc = toml_parse(text, len, file, &root, &err);
	free(text);
	if (rc < 0) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	if (!expected) {
		put_value(root, 0);
		putchar('\n');
		toml_free(root);
		return 0;
	}
	text = read_file(expected, &len);
	if (!text) {
		toml_free(root);
		return 2;
	}
	struct jparser jp = { text, len, 0, 0, NULL };
	struct jv *j = jvalue(&jp);

	if (j) {
		jws(&jp);
		if (jp.pos != jp.len) {
			jp.err = "trailing data";
			jfree(j);
			j = NULL;
		}
	}
	if (!j) {
		fprintf(stderr, "toml2json: %s: JSON error at byte %zu: %s\n", expected, jp.pos,
			jp.err ? jp.err : "?");
		free(text);
		toml_free(root);
		return 2;
	}
	rc = cmp(root, j) ? 3 : 0;
	jfree(j);
	free(text);
	toml_free(root);
	return rc;
}
