/* TOML 1.0.0 parser: a recursive-descent reader over the raw bytes, written from the
 * specification (https://toml.io/en/v1.0.0 and its ABNF).
 *
 * Two passes. The first checks the whole text once: valid UTF-8 (shortest form, no
 * surrogates, nothing above U+10FFFF), no control characters but tab and line feed, and
 * a carriage return only before a line feed; those rules hold everywhere in a TOML
 * document (strings must escape control characters, comments may not contain them), so
 * the second pass, the grammar, never has to look at them again.
 *
 * Redefinition rules, through toml_value.kind (see toml_internal.h):
 *  - a key/value pair's dotted key may enter tables it created itself (DOTTED) or that a
 *    header created as a parent (IMPLICIT, which then become DOTTED), never a table a
 *    header defined, an inline table or an array;
 *  - a [header] may walk through any table but an inline one, through an array of tables
 *    (to its last element), and may define only a missing or IMPLICIT table;
 *  - [[header]] appends only to an array that [[header]]s made;
 *  - every key is defined once in its table.
 * Line and column numbers are computed from byte offsets with a cursor that only moves
 * forward in normal operation, so they cost O(document) in total. */
#include "config/toml_internal.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/hex.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define NO_CHAR (-1)

struct buf {
	char *p;
	size_t len, cap;
};

struct keypart {
	size_t off;		/* where the part starts in the text */
	size_t start, len;	/* its decoded bytes in parser.kbuf */
	uint32_t line, column;
};

struct parser {
	const char *s;
	size_t len, pos;
	size_t base;		/* after a BOM: where column counting starts */
	const char *filename;
	struct toml_error *err;
	bool failed;
	struct toml_value *root, *cur;
	/* locate() cursor */
	size_t lc_off;
	uint32_t lc_line, lc_col;
	struct buf kbuf;	/* decoded key parts */
	struct buf sbuf;	/* decoded strings, number text */
	struct keypart keys[TOML_MAX_DEPTH];
	size_t nkeys;
	char path[256];		/* for messages */
};

/* ---- positions and errors ---- */

static void locate(struct parser *p, size_t off, uint32_t *line, uint32_t *col)
{
	const unsigned char *s = (const unsigned char *)p->s;
	uint32_t l, c;
	size_t i;

	if (off > p->len)
		off = p->len;
	if (off < p->base)
		off = p->base;
	if (off < p->lc_off) {
		p->lc_off = p->base;
		p->lc_line = 1;
		p->lc_col = 1;
	}
	l = p->lc_line;
	c = p->lc_col;
	for (i = p->lc_off; i < off; i++) {
		if (s[i] == '\n') {
			if (l < UINT32_MAX)
				l++;
			c = 1;
		} else if ((s[i] & 0xc0) != 0x80 && c < UINT32_MAX) {
			c++;
		}
	}
	p->lc_off = off;
	p->lc_line = l;
	p->lc_col = c;
	*line = l;
	*col = c;
}

static int fail(struct parser *p, size_t off, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(struct parser *p, size_t off, int code, const char *fmt, ...)
{
	struct toml_error *e = p->err;
	va_list ap;
	int n;

	if (p->failed)
		return code;
	p->failed = true;
	locate(p, off, &e->line, &e->column);
	if (p->filename)
		n = snprintf(e->msg, sizeof(e->msg), "%s:%u:%u: ", p->filename, e->line, e->column);
	else
		n = snprintf(e->msg, sizeof(e->msg), "%u:%u: ", e->line, e->column);
	if (n < 0 || (size_t)n >= sizeof(e->msg))
		n = 0;
	e->reason = e->msg + n;
	va_start(ap, fmt);
	vsnprintf(e->msg + n, sizeof(e->msg) - (size_t)n, fmt, ap);
	va_end(ap);
	err_set(code, "%s", e->msg);
	return code;
}

static int oom(struct parser *p)
{
	return fail(p, p->pos, -ENOMEM, "out of memory");
}

/* Describes the character at off for a message: 'x', "end of line", U+3000... */
static const char *describe(struct parser *p, size_t off, char *buf, size_t size)
{
	const unsigned char *s = (const unsigned char *)p->s;
	unsigned cp;
	int n;

	if (off >= p->len)
		return "end of file";
	if (s[off] == '\n' || s[off] == '\r')
		return "end of line";
	if (s[off] >= 0x20 && s[off] < 0x7f) {
		snprintf(buf, size, "'%c'", s[off]);
		return buf;
	}
	if (s[off] < 0x80) {
		snprintf(buf, size, "U+%04X", s[off]);
		return buf;
	}
	/* Valid UTF-8 (checked before parsing). */
	if (s[off] < 0xe0) {
		cp = s[off] & 0x1fu;
		n = 1;
	} else if (s[off] < 0xf0) {
		cp = s[off] & 0x0fu;
		n = 2;
	} else {
		cp = s[off] & 0x07u;
		n = 3;
	}
	for (int i = 1; i <= n && off + (size_t)i < p->len; i++)
		cp = cp << 6 | (s[off + (size_t)i] & 0x3fu);
	snprintf(buf, size, "U+%04X", cp);
	return buf;
}

#define DESCRIBE(p, off) describe((p), (off), (char[24]){ 0 }, 24)

static const char *value_path(struct parser *p, const struct toml_value *v)
{
	toml_path(v, p->path, sizeof(p->path));
	return p->path;
}

static const char *a_type(const struct toml_value *v)
{
	switch (v->type) {
	case TOML_TABLE:
		return v->kind == TOML_KIND_INLINE ? "an inline table" : "a table";
	case TOML_ARRAY:
		return v->kind == TOML_KIND_AOT ? "an array of tables" : "an array";
	case TOML_INTEGER:
		return "an integer";
	case TOML_DATETIME:
		return "an offset date-time";
	case TOML_DATETIME_LOCAL:
		return "a local date-time";
	case TOML_DATE_LOCAL:
		return "a local date";
	case TOML_TIME_LOCAL:
		return "a local time";
	case TOML_STRING:
		return "a string";
	case TOML_FLOAT:
		return "a float";
	case TOML_BOOL:
		return "a boolean";
	}
	return "a value";
}

/* ---- buffers ---- */

static int buf_reserve(struct buf *b, size_t more)
{
	size_t cap;
	char *n;

	if (more <= b->cap - b->len)
		return 0;
	if (more > SIZE_MAX / 2 - b->len)
		return -ENOMEM;
	cap = b->cap ? b->cap : 64;
	while (cap - b->len < more)
		cap *= 2;
	n = realloc(b->p, cap);
	if (!n)
		return -ENOMEM;
	b->p = n;
	b->cap = cap;
	return 0;
}

static int buf_put(struct parser *p, struct buf *b, const char *s, size_t n)
{
	if (buf_reserve(b, n + 1) < 0)
		return oom(p);
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

static int buf_putc(struct parser *p, struct buf *b, char c)
{
	return buf_put(p, b, &c, 1);
}

static int buf_put_utf8(struct parser *p, struct buf *b, uint32_t cp)
{
	char u[4];
	size_t n;

	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (char)(0xf0 | (cp >> 18));
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return buf_put(p, b, u, n);
}

/* ---- the first pass: encoding and control characters ---- */

static int check_text(struct parser *p)
{
	const unsigned char *s = (const unsigned char *)p->s;
	size_t i = p->pos, n = p->len;

	while (i < n) {
		unsigned c = s[i], cp, min;
		size_t need;

		if (c >= 0x20 && c < 0x7f) {
			i++;
			continue;
		}
		if (c < 0x80) {
			if (c == '\t' || c == '\n') {
				i++;
				continue;
			}
			if (c == '\r') {
				if (i + 1 < n && s[i + 1] == '\n') {
					i += 2;
					continue;
				}
				return fail(p, i, -EINVAL,
					    "carriage return not followed by a line feed");
			}
			return fail(p, i, -EINVAL,
				    "control character U+%04X (only tab may appear as is; in a "
				    "basic string, use an escape)", c);
		}
		if (c >= 0xc2 && c <= 0xdf) {
			need = 1;
			cp = c & 0x1f;
			min = 0x80;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2;
			cp = c & 0x0f;
			min = 0x800;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3;
			cp = c & 0x07;
			min = 0x10000;
		} else {
			return fail(p, i, -EINVAL, "invalid UTF-8 (byte 0x%02X)", c);
		}
		if (n - i <= need)
			return fail(p, i, -EINVAL, "invalid UTF-8 (truncated sequence at the end)");
		for (size_t k = 1; k <= need; k++) {
			unsigned b = s[i + k];

			if ((b & 0xc0) != 0x80)
				return fail(p, i, -EINVAL, "invalid UTF-8 (byte 0x%02X after 0x%02X)",
					    b, c);
			cp = cp << 6 | (b & 0x3f);
		}
		if (cp < min)
			return fail(p, i, -EINVAL, "invalid UTF-8 (overlong encoding)");
		if (cp > 0x10ffff)
			return fail(p, i, -EINVAL, "invalid UTF-8 (beyond U+10FFFF)");
		if (cp >= 0xd800 && cp <= 0xdfff)
			return fail(p, i, -EINVAL, "invalid UTF-8 (surrogate U+%04X)", cp);
		i += need + 1;
	}
	return 0;
}

/* ---- lexical helpers ---- */

static int peek_at(const struct parser *p, size_t off)
{
	return off < p->len ? (unsigned char)p->s[off] : NO_CHAR;
}

static int peek(const struct parser *p)
{
	return peek_at(p, p->pos);
}

static bool is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static bool is_bare(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '-' ||
	       c == '_';
}


static int digit_val(int c, int base)
{
	int d = hex_digit(c);

	return d >= 0 && d < base ? d : -1;
}

static void skip_ws(struct parser *p)
{
	while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t'))
		p->pos++;
}

/* Length of the newline at pos (1 for LF, 2 for CR LF), 0 if none. */
static size_t newline_len(const struct parser *p, size_t pos)
{
	if (peek_at(p, pos) == '\n')
		return 1;
	if (peek_at(p, pos) == '\r' && peek_at(p, pos + 1) == '\n')
		return 2;
	return 0;
}

static void skip_comment(struct parser *p)
{
	/* Its characters were checked by check_text. */
	if (peek(p) != '#')
		return;
	while (p->pos < p->len && p->s[p->pos] != '\n' && p->s[p->pos] != '\r')
		p->pos++;
}

/* Whitespace, comments and newlines (between array elements). */
static void skip_ws_nl(struct parser *p)
{
	for (;;) {
		size_t n;

		skip_ws(p);
		skip_comment(p);
		n = newline_len(p, p->pos);
		if (!n)
			return;
		p->pos += n;
	}
}

/* ---- strings ---- */

static int parse_escape(struct parser *p, struct buf *b, bool multiline)
{
	size_t at = p->pos;
	int c = peek_at(p, at + 1);
	char ch;

	p->pos += 2;
	switch (c) {
	case 'b':
		ch = '\b';
		break;
	case 't':
		ch = '\t';
		break;
	case 'n':
		ch = '\n';
		break;
	case 'f':
		ch = '\f';
		break;
	case 'r':
		ch = '\r';
		break;
	case '"':
		ch = '"';
		break;
	case '\\':
		ch = '\\';
		break;
	case 'u':
	case 'U': {
		int n = c == 'u' ? 4 : 8;
		uint32_t cp = 0;

		for (int i = 0; i < n; i++) {
			int d = hex_digit(peek(p));

			if (d < 0)
				return fail(p, at, -EINVAL, "\\%c needs %d hexadecimal digits", c, n);
			cp = cp << 4 | (uint32_t)d;
			p->pos++;
		}
		if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return fail(p, at, -EINVAL, "\\%c%0*X is not a Unicode scalar value", c, n,
				    cp);
		return buf_put_utf8(p, b, cp);
	}
	default:
		if (multiline && (c == ' ' || c == '\t' || c == '\n' || c == '\r')) {
			/* line-ending backslash: whitespace, a newline, then any mix of both
			 * are dropped */
			p->pos = at + 1;
			skip_ws(p);
			if (!newline_len(p, p->pos))
				return fail(p, at, -EINVAL,
					    "a backslash followed by whitespace must end the line");
			for (;;) {
				size_t n = newline_len(p, p->pos);

				if (n)
					p->pos += n;
				else if (peek(p) == ' ' || peek(p) == '\t')
					p->pos++;
				else
					return 0;
			}
		}
		return fail(p, at, -EINVAL, "invalid escape sequence: '\\' followed by %s",
			    DESCRIBE(p, at + 1));
	}
	return buf_putc(p, b, ch);
}

/* After the opening quote. */
static int parse_basic(struct parser *p, struct buf *b, size_t open)
{
	for (;;) {
		int c = peek(p);
		size_t start;
		int rc;

		if (c == '"') {
			p->pos++;
			return 0;
		}
		if (c == NO_CHAR || c == '\n' || c == '\r')
			return fail(p, open, -EINVAL,
				    "unterminated string (a single-line string ends on its line)");
		if (c == '\\') {
			rc = parse_escape(p, b, false);
			if (rc < 0)
				return rc;
			continue;
		}
		start = p->pos;
		while (p->pos < p->len && p->s[p->pos] != '"' && p->s[p->pos] != '\\' &&
		       p->s[p->pos] != '\n' && p->s[p->pos] != '\r')
			p->pos++;
		rc = buf_put(p, b, p->s + start, p->pos - start);
		if (rc < 0)
			return rc;
	}
}

static int parse_literal(struct parser *p, struct buf *b, size_t open)
{
	size_t start = p->pos;

	while (p->pos < p->len && p->s[p->pos] != '\'' && p->s[p->pos] != '\n' &&
	       p->s[p->pos] != '\r')
		p->pos++;
	if (peek(p) != '\'')
		return fail(p, open, -EINVAL,
			    "unterminated literal string (a single-line string ends on its line)");
	p->pos++;
	return buf_put(p, b, p->s + start, p->pos - 1 - start);
}

/* After the opening delimiter and the newline right after it, if any. q is '"' or '\''. */
static int parse_multiline(struct parser *p, struct buf *b, size_t open, char q)
{
	for (;;) {
		int c = peek(p);
		size_t start;
		int rc;

		if (c == NO_CHAR)
			return fail(p, open, -EINVAL, "unterminated multi-line string");
		if (c == q) {
			size_t n = 0;

			while (peek_at(p, p->pos + n) == q)
				n++;
			if (n >= 3) {
				/* up to two quotes may end the content, then the delimiter */
				if (n > 5)
					return fail(p, p->pos + 5, -EINVAL,
						    "too many quotes at the end of a multi-line "
						    "string");
				rc = buf_put(p, b, p->s + p->pos, n - 3);
				p->pos += n;
				return rc;
			}
			rc = buf_put(p, b, p->s + p->pos, n);
			if (rc < 0)
				return rc;
			p->pos += n;
			continue;
		}
		if (c == '\\' && q == '"') {
			rc = parse_escape(p, b, true);
			if (rc < 0)
				return rc;
			continue;
		}
		if (c == '\r') {
			/* CR LF (check_text saw to it): stored as LF */
			p->pos += 2;
			rc = buf_putc(p, b, '\n');
			if (rc < 0)
				return rc;
			continue;
		}
		start = p->pos;
		while (p->pos < p->len && p->s[p->pos] != q && p->s[p->pos] != '\r' &&
		       !(q == '"' && p->s[p->pos] == '\\'))
			p->pos++;
		rc = buf_put(p, b, p->s + start, p->pos - start);
		if (rc < 0)
			return rc;
	}
}

/* A string of any kind at p->pos, its value appended to b. Keys may not be multi-line. */
static int parse_string(struct parser *p, struct buf *b, bool is_key)
{
	size_t open = p->pos;
	char q = p->s[open];

	if (peek_at(p, open + 1) == q && peek_at(p, open + 2) == q) {
		if (is_key)
			return fail(p, open, -EINVAL, "a key cannot be a multi-line string");
		p->pos += 3;
		p->pos += newline_len(p, p->pos);
		return parse_multiline(p, b, open, q);
	}
	p->pos++;
	return q == '"' ? parse_basic(p, b, open) : parse_literal(p, b, open);
}

/* ---- keys ---- */

/* A dotted key into p->keys. */
static int parse_key(struct parser *p)
{
	p->nkeys = 0;
	p->kbuf.len = 0;
	for (;;) {
		struct keypart *kp;
		int c, rc;

		skip_ws(p);
		if (p->nkeys == ARRAY_SIZE(p->keys))
			return fail(p, p->pos, -EINVAL, "key has more than %d parts",
				    TOML_MAX_DEPTH);
		kp = &p->keys[p->nkeys];
		kp->off = p->pos;
		kp->start = p->kbuf.len;
		locate(p, p->pos, &kp->line, &kp->column);
		c = peek(p);
		if (c == '"' || c == '\'') {
			rc = parse_string(p, &p->kbuf, true);
			if (rc < 0)
				return rc;
		} else if (is_bare(c)) {
			size_t start = p->pos;

			while (is_bare(peek(p)))
				p->pos++;
			rc = buf_put(p, &p->kbuf, p->s + start, p->pos - start);
			if (rc < 0)
				return rc;
		} else {
			return fail(p, p->pos, -EINVAL,
				    "expected a key (letters, digits, '-', '_' or a quoted string), "
				    "found %s", DESCRIBE(p, p->pos));
		}
		kp->len = p->kbuf.len - kp->start;
		p->nkeys++;
		skip_ws(p);
		if (peek(p) != '.')
			return 0;
		p->pos++;
	}
}

static const char *kp_key(const struct parser *p, const struct keypart *kp)
{
	return p->kbuf.p + kp->start;
}

/* A new table or array named by key part kp, added to t. */
static int add_container(struct parser *p, struct toml_value *t, const struct keypart *kp,
			 enum toml_type type, unsigned kind, struct toml_value **out)
{
	struct toml_value *v;

	if (t->depth >= TOML_MAX_DEPTH)
		return fail(p, kp->off, -EINVAL, "nesting deeper than %d levels", TOML_MAX_DEPTH);
	v = toml__new(type);
	if (!v || toml__set_key(v, kp_key(p, kp), kp->len) < 0) {
		toml_free(v);
		return oom(p);
	}
	v->kind = kind;
	v->depth = t->depth + 1;
	v->line = v->key_line = kp->line;
	v->column = v->key_column = kp->column;
	if (toml__table_add(t, v) < 0) {
		toml_free(v);
		return oom(p);
	}
	*out = v;
	return 0;
}

/* ---- values ---- */

static int parse_value(struct parser *p, struct toml_value *parent, char *key, size_t key_len,
		       struct toml_value **out);
static int parse_keyval(struct parser *p, struct toml_value *t);

static int parse_array(struct parser *p, struct toml_value *a)
{
	size_t open = p->pos;

	p->pos++;
	for (;;) {
		struct toml_value *v = NULL;
		int rc;

		skip_ws_nl(p);
		if (peek(p) == ']') {
			p->pos++;
			return 0;
		}
		if (peek(p) == NO_CHAR)
			return fail(p, open, -EINVAL, "unterminated array (no ']')");
		rc = parse_value(p, a, NULL, 0, &v);
		if (rc < 0)
			return rc;
		if (toml__array_add(a, v) < 0) {
			toml_free(v);
			return oom(p);
		}
		skip_ws_nl(p);
		if (peek(p) == ',') {
			p->pos++;
			continue;
		}
		if (peek(p) == ']') {
			p->pos++;
			return 0;
		}
		if (peek(p) == NO_CHAR)
			return fail(p, open, -EINVAL, "unterminated array (no ']')");
		return fail(p, p->pos, -EINVAL, "expected ',' or ']' after an array element, found %s",
			    DESCRIBE(p, p->pos));
	}
}

static int parse_inline_table(struct parser *p, struct toml_value *t)
{
	size_t open = p->pos;

	p->pos++;
	skip_ws(p);
	if (peek(p) == '}') {
		p->pos++;
		t->kind = TOML_KIND_INLINE;
		return 0;
	}
	for (;;) {
		int c, rc;

		if (newline_len(p, p->pos) || peek(p) == '#')
			return fail(p, p->pos, -EINVAL,
				    "newlines and comments are not allowed in an inline table");
		if (peek(p) == NO_CHAR)
			return fail(p, open, -EINVAL, "unterminated inline table (no '}')");
		rc = parse_keyval(p, t);
		if (rc < 0)
			return rc;
		skip_ws(p);
		c = peek(p);
		if (c == ',') {
			p->pos++;
			skip_ws(p);
			if (peek(p) == '}')
				return fail(p, p->pos, -EINVAL,
					    "trailing comma in an inline table (not allowed in "
					    "TOML 1.0)");
			continue;
		}
		if (c == '}') {
			p->pos++;
			t->kind = TOML_KIND_INLINE;
			return 0;
		}
		if (c == NO_CHAR)
			return fail(p, open, -EINVAL, "unterminated inline table (no '}')");
		if (newline_len(p, p->pos) || c == '#')
			return fail(p, p->pos, -EINVAL,
				    "newlines and comments are not allowed in an inline table");
		return fail(p, p->pos, -EINVAL, "expected ',' or '}' in an inline table, found %s",
			    DESCRIBE(p, p->pos));
	}
}

static bool match(struct parser *p, const char *word)
{
	size_t n = strlen(word);

	if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n) != 0)
		return false;
	p->pos += n;
	return true;
}

/* Digits of base with single underscores between digits, appended to sbuf. */
static int scan_digits(struct parser *p, int base)
{
	if (digit_val(peek(p), base) < 0)
		return fail(p, p->pos, -EINVAL, "expected a digit, found %s", DESCRIBE(p, p->pos));
	for (;;) {
		int c = peek(p), rc;

		if (digit_val(c, base) >= 0) {
			rc = buf_putc(p, &p->sbuf, (char)c);
			if (rc < 0)
				return rc;
			p->pos++;
		} else if (c == '_') {
			if (digit_val(peek_at(p, p->pos + 1), base) < 0)
				return fail(p, p->pos, -EINVAL,
					    "'_' in a number must be between two digits");
			p->pos++;
		} else {
			return 0;
		}
	}
}

/* A number must not run into what could be more of a number. */
static int number_end(struct parser *p, size_t start)
{
	int c = peek(p);

	if (is_bare(c) || c == '.' || c == ':' || c == '+')
		return fail(p, p->pos, -EINVAL, "invalid number: %s after '%.*s'",
			    DESCRIBE(p, p->pos), (int)(p->pos - start), p->s + start);
	return 0;
}

/* Floats are converted with strtod in the "C" locale, whatever the program's locale is
 * (a decimal comma would otherwise stop at the '.'); strtod rounds correctly. */
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;
static locale_t c_locale;

static void c_locale_init(void)
{
	c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

static int parse_number(struct parser *p, struct toml_value *v)
{
	size_t start = p->pos;
	bool sign = false, neg = false, is_float = false;
	int c = peek(p), rc;

	if (c == '+' || c == '-') {
		sign = true;
		neg = c == '-';
		p->pos++;
		c = peek(p);
	}
	if (c == 'i' || c == 'n') {
		if (match(p, "inf"))
			v->u.flt = neg ? -INFINITY : INFINITY;
		else if (match(p, "nan"))
			v->u.flt = neg ? -(double)NAN : (double)NAN;
		else
			return fail(p, start, -EINVAL, "expected a value, found %s",
				    DESCRIBE(p, start));
		v->type = TOML_FLOAT;
		return number_end(p, start);
	}
	p->sbuf.len = 0;
	if (c == '0' && (peek_at(p, p->pos + 1) == 'x' || peek_at(p, p->pos + 1) == 'o' ||
			 peek_at(p, p->pos + 1) == 'b')) {
		int pc = peek_at(p, p->pos + 1), base = pc == 'x' ? 16 : pc == 'o' ? 8 : 2;
		uint64_t mag = 0;

		if (sign)
			return fail(p, start, -EINVAL,
				    "a sign is not allowed on a hexadecimal, octal or binary integer");
		p->pos += 2;
		rc = scan_digits(p, base);
		if (rc < 0)
			return rc;
		for (size_t i = 0; i < p->sbuf.len; i++) {
			uint64_t d = (uint64_t)digit_val(p->sbuf.p[i], base);

			if (mag > ((uint64_t)INT64_MAX - d) / (uint64_t)base)
				return fail(p, start, -EINVAL,
					    "integer does not fit in 64 bits (the largest is "
					    "0x7fffffffffffffff)");
			mag = mag * (uint64_t)base + d;
		}
		v->type = TOML_INTEGER;
		v->u.integer = (int64_t)mag;
		return number_end(p, start);
	}
	if (!is_digit(c))
		return fail(p, p->pos, -EINVAL, "expected a digit, found %s", DESCRIBE(p, p->pos));
	if (neg) {
		rc = buf_putc(p, &p->sbuf, '-');
		if (rc < 0)
			return rc;
	}
	rc = scan_digits(p, 10);
	if (rc < 0)
		return rc;
	if (p->sbuf.p[neg ? 1 : 0] == '0' && p->sbuf.len > (neg ? 2u : 1u))
		return fail(p, start, -EINVAL, "leading zeros are not allowed in a decimal number");
	if (peek(p) == '.') {
		p->pos++;
		rc = buf_putc(p, &p->sbuf, '.');
		if (rc < 0)
			return rc;
		if (!is_digit(peek(p)))
			return fail(p, p->pos, -EINVAL, "expected a digit after '.' in a float, found %s",
				    DESCRIBE(p, p->pos));
		rc = scan_digits(p, 10);
		if (rc < 0)
			return rc;
		is_float = true;
	}
	if (peek(p) == 'e' || peek(p) == 'E') {
		p->pos++;
		rc = buf_putc(p, &p->sbuf, 'e');
		if (rc < 0)
			return rc;
		if (peek(p) == '+' || peek(p) == '-') {
			rc = buf_putc(p, &p->sbuf, (char)peek(p));
			if (rc < 0)
				return rc;
			p->pos++;
		}
		if (!is_digit(peek(p)))
			return fail(p, p->pos, -EINVAL, "expected a digit in the exponent, found %s",
				    DESCRIBE(p, p->pos));
		rc = scan_digits(p, 10);
		if (rc < 0)
			return rc;
		is_float = true;
	}
	rc = number_end(p, start);
	if (rc < 0)
		return rc;
	if (is_float) {
		char *end;
		double d;

		pthread_once(&c_locale_once, c_locale_init);
		errno = 0;
		d = c_locale ? strtod_l(p->sbuf.p, &end, c_locale) : strtod(p->sbuf.p, &end);
		if (end != p->sbuf.p + p->sbuf.len)
			return fail(p, start, -EINVAL, "invalid float");
		if (errno == ERANGE && isinf(d))
			return fail(p, start, -EINVAL, "float out of range");
		v->type = TOML_FLOAT;
		v->u.flt = d;
		return 0;
	}
	uint64_t mag = 0, limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (size_t i = neg ? 1 : 0; i < p->sbuf.len; i++) {
		uint64_t d = (uint64_t)(p->sbuf.p[i] - '0');

		if (mag > (limit - d) / 10)
			return fail(p, start, -EINVAL,
				    "integer does not fit in 64 bits (%s9223372036854775807%s)",
				    neg ? "the smallest is -" : "the largest is ", neg ? " - 1" : "");
		mag = mag * 10 + d;
	}
	v->type = TOML_INTEGER;
	if (!neg)
		v->u.integer = (int64_t)mag;
	else if (mag == (uint64_t)INT64_MAX + 1)
		v->u.integer = INT64_MIN;
	else
		v->u.integer = -(int64_t)mag;
	return 0;
}

/* n decimal digits at off, or -1. */
static int digits_at(const struct parser *p, size_t off, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		int c = peek_at(p, off + (size_t)i);

		if (!is_digit(c))
			return -1;
		v = v * 10 + (c - '0');
	}
	return v;
}

static int days_in_month(int year, int month)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	if (month == 2 && year % 4 == 0 && (year % 100 != 0 || year % 400 == 0))
		return 29;
	return days[month - 1];
}

static int parse_date(struct parser *p, struct toml_datetime *d)
{
	size_t at = p->pos;

	d->year = digits_at(p, at, 4);
	d->month = digits_at(p, at + 5, 2);
	d->day = digits_at(p, at + 8, 2);
	if (d->year < 0 || peek_at(p, at + 4) != '-' || d->month < 0 ||
	    peek_at(p, at + 7) != '-' || d->day < 0)
		return fail(p, at, -EINVAL, "invalid date: expected YYYY-MM-DD");
	if (d->month < 1 || d->month > 12)
		return fail(p, at + 5, -EINVAL, "invalid date: month %02d", d->month);
	if (d->day < 1 || d->day > days_in_month(d->year, d->month))
		return fail(p, at + 8, -EINVAL, "invalid date: %04d-%02d has no day %02d", d->year,
			    d->month, d->day);
	p->pos += 10;
	return 0;
}

static int parse_time(struct parser *p, struct toml_datetime *d)
{
	size_t at = p->pos;

	d->hour = digits_at(p, at, 2);
	d->minute = digits_at(p, at + 3, 2);
	d->second = digits_at(p, at + 6, 2);
	if (d->hour < 0 || peek_at(p, at + 2) != ':' || d->minute < 0 ||
	    peek_at(p, at + 5) != ':' || d->second < 0)
		return fail(p, at, -EINVAL, "invalid time: expected HH:MM:SS");
	if (d->hour > 23)
		return fail(p, at, -EINVAL, "invalid time: hour %02d", d->hour);
	if (d->minute > 59)
		return fail(p, at + 3, -EINVAL, "invalid time: minute %02d", d->minute);
	if (d->second > 60)
		return fail(p, at + 6, -EINVAL, "invalid time: second %02d", d->second);
	p->pos += 8;
	if (peek(p) == '.') {
		p->pos++;
		if (!is_digit(peek(p)))
			return fail(p, p->pos, -EINVAL, "expected digits after '.' in a time, found %s",
				    DESCRIBE(p, p->pos));
		while (is_digit(peek(p))) {
			/* beyond nanoseconds, digits are dropped (truncation) */
			if (d->frac_digits < 9) {
				d->nanosecond = d->nanosecond * 10 + (peek(p) - '0');
				d->frac_digits++;
			}
			p->pos++;
		}
		for (int i = d->frac_digits; i < 9; i++)
			d->nanosecond *= 10;
	}
	return 0;
}

static int parse_datetime(struct parser *p, struct toml_value *v)
{
	struct toml_datetime *d = &v->u.dt;
	int c, rc;

	if (peek_at(p, p->pos + 2) == ':') {
		v->type = TOML_TIME_LOCAL;
		return parse_time(p, d);
	}
	rc = parse_date(p, d);
	if (rc < 0)
		return rc;
	c = peek(p);
	if (!(c == 'T' || c == 't' || (c == ' ' && is_digit(peek_at(p, p->pos + 1))))) {
		v->type = TOML_DATE_LOCAL;
		return 0;
	}
	p->pos++;
	rc = parse_time(p, d);
	if (rc < 0)
		return rc;
	c = peek(p);
	if (c == 'Z' || c == 'z') {
		p->pos++;
		d->offset_z = true;
		v->type = TOML_DATETIME;
		return 0;
	}
	if (c == '+' || c == '-') {
		size_t at = p->pos;
		int hh = digits_at(p, at + 1, 2), mm = digits_at(p, at + 4, 2);

		if (hh < 0 || peek_at(p, at + 3) != ':' || mm < 0)
			return fail(p, at, -EINVAL, "invalid time offset: expected %c02:00 or Z",
				    c);
		if (hh > 23 || mm > 59)
			return fail(p, at, -EINVAL, "invalid time offset %c%02d:%02d", c, hh, mm);
		d->offset_minutes = (c == '-' ? -1 : 1) * (hh * 60 + mm);
		p->pos += 6;
		v->type = TOML_DATETIME;
		return 0;
	}
	v->type = TOML_DATETIME_LOCAL;
	return 0;
}

/* A value for parent: a member named key (malloc'd, owned by the value from here on,
 * even on failure) or, with key NULL, the next element of an array. The value knows its
 * parent and name while it is read, so messages show full paths, but is added to the
 * parent by the caller. */
static int parse_value(struct parser *p, struct toml_value *parent, char *key, size_t key_len,
		       struct toml_value **out)
{
	size_t at = p->pos;
	int c = peek(p), rc;
	struct toml_value *v;

	if (parent->depth >= TOML_MAX_DEPTH) {
		free(key);
		return fail(p, at, -EINVAL, "nesting deeper than %d levels", TOML_MAX_DEPTH);
	}
	if (c == NO_CHAR || c == '\n' || c == '\r' || c == '#') {
		free(key);
		return fail(p, at, -EINVAL, "expected a value, found %s", DESCRIBE(p, at));
	}
	v = toml__new(TOML_BOOL);	/* a type that owns nothing until it is known */
	if (!v) {
		free(key);
		return oom(p);
	}
	v->depth = parent->depth + 1;
	v->parent = parent;
	if (key) {
		v->key = key;
		v->key_len = key_len;
		v->hash = toml__hash(key, key_len);
	} else {
		v->index = parent->u.list.len;
	}
	locate(p, at, &v->line, &v->column);
	switch (c) {
	case '"':
	case '\'':
		p->sbuf.len = 0;
		rc = parse_string(p, &p->sbuf, false);
		if (rc < 0)
			break;
		v->u.str.ptr = malloc(p->sbuf.len + 1);
		if (!v->u.str.ptr) {
			rc = oom(p);
			break;
		}
		memcpy(v->u.str.ptr, p->sbuf.p, p->sbuf.len);
		v->u.str.ptr[p->sbuf.len] = '\0';
		v->u.str.len = p->sbuf.len;
		v->type = TOML_STRING;
		break;
	case '[':
		v->type = TOML_ARRAY;
		v->kind = TOML_KIND_STATIC;
		rc = parse_array(p, v);
		break;
	case '{':
		v->type = TOML_TABLE;
		v->kind = TOML_KIND_DEFINED;	/* INLINE once read */
		rc = parse_inline_table(p, v);
		break;
	case 't':
	case 'f':
		v->type = TOML_BOOL;
		v->u.boolean = c == 't';
		rc = 0;
		if (!match(p, c == 't' ? "true" : "false"))
			rc = fail(p, at, -EINVAL, "expected a value, found %s", DESCRIBE(p, at));
		break;
	default:
		if (is_digit(c) && digits_at(p, at, 2) >= 0 &&
		    (peek_at(p, at + 2) == ':' ||
		     (digits_at(p, at, 4) >= 0 && peek_at(p, at + 4) == '-'))) {
			rc = parse_datetime(p, v);
			break;
		}
		if (is_digit(c) || c == '+' || c == '-' || c == 'i' || c == 'n') {
			rc = parse_number(p, v);
			break;
		}
		rc = fail(p, at, -EINVAL, "expected a value, found %s", DESCRIBE(p, at));
		break;
	}
	if (rc < 0) {
		toml_free(v);
		return rc;
	}
	*out = v;
	return 0;
}

/* key = value, into table t (the current [section] or an inline table being read). */
static int parse_keyval(struct parser *p, struct toml_value *t)
{
	const struct keypart *kp;
	struct toml_value *v = NULL, *old;
	char *key;
	size_t key_len;
	uint32_t key_line, key_column;
	int rc = parse_key(p);

	if (rc < 0)
		return rc;
	if (peek(p) != '=')
		return fail(p, p->pos, -EINVAL, "expected '=' after a key, found %s",
			    DESCRIBE(p, p->pos));
	p->pos++;
	skip_ws(p);
	for (size_t i = 0; i + 1 < p->nkeys; i++) {
		struct toml_value *child;

		kp = &p->keys[i];
		child = toml__table_find(t, kp_key(p, kp), kp->len);
		if (!child) {
			rc = add_container(p, t, kp, TOML_TABLE, TOML_KIND_DOTTED, &child);
			if (rc < 0)
				return rc;
		} else if (child->type != TOML_TABLE) {
			return fail(p, kp->off, -EINVAL,
				    "'%s' is %s (defined at %u:%u), not a table",
				    value_path(p, child), a_type(child), child->key_line,
				    child->key_column);
		} else if (child->kind == TOML_KIND_INLINE) {
			return fail(p, kp->off, -EINVAL,
				    "cannot add keys to inline table '%s' (defined at %u:%u)",
				    value_path(p, child), child->line, child->column);
		} else if (child->kind == TOML_KIND_DEFINED) {
			return fail(p, kp->off, -EINVAL,
				    "cannot add keys to table '%s' with a dotted key: it has its "
				    "own [header] (at %u:%u)",
				    value_path(p, child), child->line, child->column);
		} else {
			child->kind = TOML_KIND_DOTTED;
		}
		t = child;
	}
	kp = &p->keys[p->nkeys - 1];
	old = toml__table_find(t, kp_key(p, kp), kp->len);
	if (old)
		return fail(p, kp->off, -EINVAL, "duplicate key '%s' (first defined at %u:%u)",
			    value_path(p, old), old->key_line, old->key_column);
	/* The key must be kept: parsing the value reuses p->keys. */
	key_len = kp->len;
	key_line = kp->line;
	key_column = kp->column;
	key = malloc(key_len + 1);
	if (!key)
		return oom(p);
	memcpy(key, kp_key(p, kp), key_len);
	key[key_len] = '\0';
	rc = parse_value(p, t, key, key_len, &v);
	if (rc < 0)
		return rc;
	v->key_line = key_line;
	v->key_column = key_column;
	if (toml__table_add(t, v) < 0) {
		toml_free(v);
		return oom(p);
	}
	return 0;
}

/* [a.b.c] or [[a.b.c]] */
static int parse_header(struct parser *p)
{
	bool aot = peek_at(p, p->pos + 1) == '[';
	struct toml_value *t = p->root, *child;
	const struct keypart *kp;
	int rc;

	p->pos += aot ? 2 : 1;
	rc = parse_key(p);
	if (rc < 0)
		return rc;
	if (peek(p) != ']')
		return fail(p, p->pos, -EINVAL, "expected '%s' at the end of a header, found %s",
			    aot ? "]]" : "]", DESCRIBE(p, p->pos));
	p->pos++;
	if (aot) {
		if (peek(p) != ']')
			return fail(p, p->pos, -EINVAL,
				    "expected ']]' at the end of an array-of-tables header, found "
				    "%s", DESCRIBE(p, p->pos));
		p->pos++;
	}
	for (size_t i = 0; i + 1 < p->nkeys; i++) {
		kp = &p->keys[i];
		child = toml__table_find(t, kp_key(p, kp), kp->len);
		if (!child) {
			rc = add_container(p, t, kp, TOML_TABLE, TOML_KIND_IMPLICIT, &child);
			if (rc < 0)
				return rc;
		} else if (child->type == TOML_TABLE && child->kind == TOML_KIND_INLINE) {
			return fail(p, kp->off, -EINVAL,
				    "cannot add to inline table '%s' (defined at %u:%u)",
				    value_path(p, child), child->line, child->column);
		} else if (child->type == TOML_ARRAY && child->kind == TOML_KIND_AOT) {
			child = child->u.list.items[child->u.list.len - 1];
		} else if (child->type != TOML_TABLE) {
			return fail(p, kp->off, -EINVAL, "'%s' is %s (defined at %u:%u), not a table",
				    value_path(p, child), a_type(child), child->key_line,
				    child->key_column);
		}
		t = child;
	}
	kp = &p->keys[p->nkeys - 1];
	child = toml__table_find(t, kp_key(p, kp), kp->len);
	if (!aot) {
		if (!child) {
			rc = add_container(p, t, kp, TOML_TABLE, TOML_KIND_DEFINED, &child);
			if (rc < 0)
				return rc;
		} else if (child->type == TOML_TABLE && child->kind == TOML_KIND_IMPLICIT) {
			child->kind = TOML_KIND_DEFINED;
			child->line = kp->line;
			child->column = kp->column;
		} else if (child->type == TOML_TABLE && child->kind == TOML_KIND_DEFINED) {
			return fail(p, kp->off, -EINVAL, "table '%s' defined twice (first at %u:%u)",
				    value_path(p, child), child->line, child->column);
		} else if (child->type == TOML_TABLE && child->kind == TOML_KIND_DOTTED) {
			return fail(p, kp->off, -EINVAL,
				    "table '%s' was already defined by dotted keys (at %u:%u)",
				    value_path(p, child), child->key_line, child->key_column);
		} else {
			return fail(p, kp->off, -EINVAL,
				    "'%s' is already defined as %s (at %u:%u)", value_path(p, child),
				    a_type(child), child->key_line, child->key_column);
		}
		p->cur = child;
		return 0;
	}
	if (!child) {
		rc = add_container(p, t, kp, TOML_ARRAY, TOML_KIND_AOT, &child);
		if (rc < 0)
			return rc;
	} else if (child->type != TOML_ARRAY || child->kind != TOML_KIND_AOT) {
		return fail(p, kp->off, -EINVAL,
			    "cannot make '%s' an array of tables: it is already %s (defined at "
			    "%u:%u)", value_path(p, child), a_type(child), child->key_line,
			    child->key_column);
	}
	if (child->depth >= TOML_MAX_DEPTH)
		return fail(p, kp->off, -EINVAL, "nesting deeper than %d levels", TOML_MAX_DEPTH);
	struct toml_value *elem = toml__new(TOML_TABLE);
	if (!elem)
		return oom(p);
	elem->kind = TOML_KIND_DEFINED;
	elem->depth = child->depth + 1;
	elem->line = kp->line;
	elem->column = kp->column;
	if (toml__array_add(child, elem) < 0) {
		toml_free(elem);
		return oom(p);
	}
	p->cur = elem;
	return 0;
}

/* After a header or key/value pair: only whitespace and a comment until the newline. */
static int end_line(struct parser *p, const char *after)
{
	size_t n;

	skip_ws(p);
	skip_comment(p);
	if (p->pos >= p->len)
		return 0;
	n = newline_len(p, p->pos);
	if (!n)
		return fail(p, p->pos, -EINVAL, "expected a newline after %s, found %s", after,
			    DESCRIBE(p, p->pos));
	p->pos += n;
	return 0;
}

static int parse_document(struct parser *p)
{
	int rc;

	if (p->len >= 3 && memcmp(p->s, "\xef\xbb\xbf", 3) == 0)
		p->pos = p->base = p->lc_off = 3;
	rc = check_text(p);
	if (rc < 0)
		return rc;
	p->cur = p->root;
	for (;;) {
		const char *what = "a comment";
		int c;

		rc = 0;
		skip_ws(p);
		c = peek(p);
		if (c == NO_CHAR)
			return 0;
		if (c == '[') {
			rc = parse_header(p);
			what = "a table header";
		} else if (c != '#' && c != '\n' && c != '\r') {
			rc = parse_keyval(p, p->cur);
			what = "a key/value pair";
		}
		if (rc < 0)
			return rc;
		rc = end_line(p, what);
		if (rc < 0)
			return rc;
	}
}

int toml_parse(const char *text, size_t len, const char *filename, struct toml_value **root,
	       struct toml_error *err)
{
	struct toml_error local;
	struct parser *p;
	int rc;

	if (!err)
		err = &local;
	memset(err, 0, sizeof(*err));
	err->reason = err->msg;
	if (!root || (!text && len)) {
		snprintf(err->msg, sizeof(err->msg), "invalid arguments");
		return err_set(-EINVAL, "toml: invalid arguments");
	}
	*root = NULL;
	/* The parser is large (key parts, message buffers): keep it off the stack. */
	p = calloc(1, sizeof(*p));
	if (!p) {
		snprintf(err->msg, sizeof(err->msg), "out of memory");
		return err_set(-ENOMEM, "toml: out of memory");
	}
	p->s = text ? text : "";
	p->len = len;
	p->filename = filename;
	p->err = err;
	p->lc_line = p->lc_col = 1;
	p->root = toml__new(TOML_TABLE);
	if (!p->root || buf_reserve(&p->kbuf, 64) < 0 || buf_reserve(&p->sbuf, 64) < 0) {
		rc = oom(p);
	} else {
		p->root->kind = TOML_KIND_DEFINED;
		p->root->line = p->root->column = 1;
		rc = parse_document(p);
	}
	free(p->kbuf.p);
	free(p->sbuf.p);
	if (rc < 0)
		toml_free(p->root);
	else
		*root = p->root;
	free(p);
	return rc;
}
