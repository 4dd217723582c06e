/* The TOML 1.0 parser (src/config/toml.c) and its value tree API. Expectations come from
 * the TOML 1.0.0 specification (https://toml.io/en/v1.0.0): its examples and its ABNF.
 * The toml-test conformance vectors run separately (tests/toml/run.sh); these tests cover
 * the API (lookups, order, paths, positions, messages), limits and a few corner cases
 * whose exact values matter. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "config/toml.h"
#include "util/err.h"

static struct toml_value *parse_ok(const char *text)
{
	struct toml_value *root = NULL;
	struct toml_error err;
	int rc = toml_parse(text, strlen(text), "t.toml", &root, &err);

	if (rc != 0)
		FAIL("toml_parse failed (%d): %s\n    input: %s", rc, err.msg, text);
	return root;
}

/* Parses text expecting failure; returns the error (msg "" if it parsed). */
static struct toml_error parse_bad(const char *text)
{
	struct toml_value *root = (struct toml_value *)&root;	/* must be reset to NULL */
	struct toml_error err;
	int rc = toml_parse(text, strlen(text), "t.toml", &root, &err);

	if (rc != -EINVAL) {
		FAIL("expected -EINVAL, got %d\n    input: %s", rc, text);
		toml_free(rc == 0 ? root : NULL);
		memset(&err, 0, sizeof(err));
		return err;
	}
	CHECK_NULL(root);
	return err;
}

static int parses(const char *text)
{
	struct toml_value *root = NULL;
	int rc = toml_parse(text, strlen(text), NULL, &root, NULL);

	toml_free(root);
	return rc == 0;
}

TEST(scalars_of_every_type)
{
	struct toml_value *r = parse_ok("s = \"hi\"\n"
					"i = -42\n"
					"f = 6.5e-1\n"
					"b = true\n"
					"odt = 1979-05-27T07:32:00.999999-07:00\n"
					"ldt = 1979-05-27 07:32:00\n"
					"ld = 1979-05-27\n"
					"lt = 00:32:00.5\n");
	const struct toml_value *v;

	REQUIRE_NOT_NULL(r);
	CHECK_EQ_INT(r->type, TOML_TABLE);
	CHECK_EQ_U64(toml_len(r), 8);
	v = toml_get(r, "s");
	REQUIRE_NOT_NULL(v);
	CHECK_EQ_INT(v->type, TOML_STRING);
	CHECK_STR_EQ(v->u.str.ptr, "hi");
	CHECK_EQ_U64(v->u.str.len, 2);
	v = toml_get(r, "i");
	REQUIRE_NOT_NULL(v);
	CHECK_EQ_INT(v->type, TOML_INTEGER);
	CHECK_EQ_INT(v->u.integer, -42);
	v = toml_get(r, "f");
	REQUIRE_NOT_NULL(v);
	CHECK_EQ_INT(v->type, TOML_FLOAT);
	CHECK(v->u.flt == 0.65);
	v = toml_get(r, "b");
	REQUIRE_NOT_NULL(v);
	CHECK_EQ_INT(v->type, TOML_BOOL);
	CHECK(v->u.boolean);
	v = toml_get(r, "odt");
	REQUIRE_NOT_NULL(v);
	CHECK_EQ_INT(v->type, TOML_DATETIME);
	CHECK_EQ_INT(v->u.dt.year, 1979);
	CHECK_EQ_INT(v->u.dt.month, 5);
	CHECK_EQ_INT(v->u.dt.day, 27);
	CHECK_EQ_INT(v->u.dt.hour, 7);
	CHECK_EQ_INT(v->u.dt.minute, 32);
	CHECK_EQ_INT(v->u.dt.second, 0);
	CHECK_EQ_INT(v->u.dt.nanosecond, 999999000);
	CHECK_EQ_INT(v->u.dt.frac_digits, 6);
	CHECK_EQ_INT(v->u.dt.offset_minutes, -7 * 60);
	CHECK(!v->u.dt.offset_z);
	v = toml_get(r, "ldt");
	REQUIRE_NOT_NULL(v);
	CHECK_EQ_INT(v->type, TOML_DATETIME_LOCAL);
	CHECK_EQ_INT(v->u.dt.hour, 7);
	v = toml_get(r, "ld");
	REQUIRE_NOT_NULL(v);
	CHECK_EQ_INT(v->type, TOML_DATE_LOCAL);
	CHECK_EQ_INT(v->u.dt.day, 27);
	v = toml_get(r, "lt");
	REQUIRE_NOT_NULL(v);
	CHECK_EQ_INT(v->type, TOML_TIME_LOCAL);
	CHECK_EQ_INT(v->u.dt.minute, 32);
	CHECK_EQ_INT(v->u.dt.nanosecond, 500000000);
	toml_free(r);
}

TEST(type_names)
{
	CHECK_STR_EQ(toml_type_name(TOML_TABLE), "table");
	CHECK_STR_EQ(toml_type_name(TOML_ARRAY), "array");
	CHECK_STR_EQ(toml_type_name(TOML_STRING), "string");
	CHECK_STR_EQ(toml_type_name(TOML_INTEGER), "integer");
	CHECK_STR_EQ(toml_type_name(TOML_FLOAT), "float");
	CHECK_STR_EQ(toml_type_name(TOML_BOOL), "boolean");
	CHECK_STR_EQ(toml_type_name(TOML_DATETIME), "offset date-time");
	CHECK_STR_EQ(toml_type_name(TOML_DATETIME_LOCAL), "local date-time");
	CHECK_STR_EQ(toml_type_name(TOML_DATE_LOCAL), "local date");
	CHECK_STR_EQ(toml_type_name(TOML_TIME_LOCAL), "local time");
}

TEST(tables_keep_document_order)
{
	struct toml_value *r = parse_ok("zeta = 1\n"
					"alpha = 2\n"
					"[m.inner]\n"
					"y = 1\n"
					"x = 2\n"
					"[b]\n"
					"c.d = 1\n"
					"a = 3\n");
	static const char *const top[] = { "zeta", "alpha", "m", "b" };
	const struct toml_value *b;

	REQUIRE_NOT_NULL(r);
	REQUIRE_EQ_U64(toml_len(r), ARRAY_LEN(top));
	for (size_t i = 0; i < ARRAY_LEN(top); i++)
		CHECK_STR_EQ(toml_at(r, i)->key, top[i]);
	CHECK_STR_EQ(toml_at(toml_lookup(r, "m.inner"), 0)->key, "y");
	CHECK_STR_EQ(toml_at(toml_lookup(r, "m.inner"), 1)->key, "x");
	b = toml_get(r, "b");
	REQUIRE_NOT_NULL(b);
	CHECK_STR_EQ(toml_at(b, 0)->key, "c");
	CHECK_STR_EQ(toml_at(b, 1)->key, "a");
	CHECK_NULL(toml_at(b, 2));
	toml_free(r);
}

TEST(lookups)
{
	struct toml_value *r = parse_ok("[base]\n"
					"cpu_num = 2\n"
					"\"a.b\" = \"dotted name\"\n"
					"\"nul\\u0000key\" = 1\n"
					"arr = [1, 2]\n");
	const struct toml_value *base, *v;

	REQUIRE_NOT_NULL(r);
	base = toml_get(r, "base");
	REQUIRE_NOT_NULL(base);
	CHECK(toml_lookup(r, "base.cpu_num") == toml_get(base, "cpu_num"));
	CHECK_EQ_INT(toml_lookup(r, "base.cpu_num")->u.integer, 2);
	CHECK_NULL(toml_lookup(r, "base.missing"));
	CHECK_NULL(toml_lookup(r, "base.cpu_num.x"));	/* through a non-table */
	CHECK_NULL(toml_lookup(r, "base.a.b"));	/* '.' always separates */
	CHECK_NOT_NULL(toml_get(base, "a.b"));
	v = toml_getn(base, "nul\0key", 7);
	REQUIRE_NOT_NULL(v);
	CHECK_EQ_U64(v->key_len, 7);
	CHECK_MEM_EQ(v->key, "nul\0key", 8);
	CHECK_NULL(toml_get(base, "nul"));
	/* wrong types and NULLs are harmless */
	CHECK_NULL(toml_get(toml_get(base, "arr"), "x"));
	CHECK_NULL(toml_get(NULL, "x"));
	CHECK_NULL(toml_get(base, NULL));
	CHECK_NULL(toml_lookup(NULL, "x"));
	CHECK_EQ_U64(toml_len(toml_get(base, "cpu_num")), 0);
	CHECK_EQ_U64(toml_len(NULL), 0);
	CHECK_NULL(toml_at(toml_get(base, "cpu_num"), 0));
	CHECK_EQ_U64(toml_len(toml_get(base, "arr")), 2);
	CHECK_EQ_INT(toml_at(toml_get(base, "arr"), 1)->u.integer, 2);
	CHECK_NULL(toml_at(toml_get(base, "arr"), 2));
	toml_free(r);
}

TEST(arrays_of_tables_and_paths)
{
	struct toml_value *r = parse_ok("[[drive]]\n"
					"path = \"a.img\"\n"
					"[[drive]]\n"
					"path = \"b.img\"\n"
					"[drive.opts]\n"
					"ro = true\n"
					"[[drive.part]]\n"
					"n = 1\n"
					"[servers.\"alpha beta\"]\n"
					"ip = \"10.0.0.1\"\n"
					"m = [[1, 2], [3, {x = 4}]]\n");
	const struct toml_value *d, *v;
	char path[64];

	REQUIRE_NOT_NULL(r);
	d = toml_get(r, "drive");
	REQUIRE_NOT_NULL(d);
	CHECK_EQ_INT(d->type, TOML_ARRAY);
	REQUIRE_EQ_U64(toml_len(d), 2);
	CHECK_STR_EQ(toml_get(toml_at(d, 0), "path")->u.str.ptr, "a.img");
	v = toml_get(toml_at(d, 1), "path");
	REQUIRE_NOT_NULL(v);
	CHECK_STR_EQ(v->u.str.ptr, "b.img");
	CHECK_EQ_U64(toml_path(v, path, sizeof(path)), strlen("drive[1].path"));
	CHECK_STR_EQ(path, "drive[1].path");
	CHECK(toml_get(toml_get(toml_at(d, 1), "opts"), "ro")->u.boolean);
	v = toml_get(toml_at(toml_get(toml_at(d, 1), "part"), 0), "n");
	REQUIRE_NOT_NULL(v);
	toml_path(v, path, sizeof(path));
	CHECK_STR_EQ(path, "drive[1].part[0].n");
	CHECK(v->parent->parent->parent == toml_at(d, 1));
	v = toml_lookup(r, "servers");
	REQUIRE_NOT_NULL(v);
	v = toml_get(v, "alpha beta");
	REQUIRE_NOT_NULL(v);
	toml_path(toml_get(v, "ip"), path, sizeof(path));
	CHECK_STR_EQ(path, "servers.\"alpha beta\".ip");
	v = toml_get(toml_at(toml_at(toml_get(v, "m"), 1), 1), "x");
	REQUIRE_NOT_NULL(v);
	toml_path(v, path, sizeof(path));
	CHECK_STR_EQ(path, "servers.\"alpha beta\".m[1][1].x");
	/* truncation, like snprintf */
	CHECK_EQ_U64(toml_path(v, path, 8), strlen("servers.\"alpha beta\".m[1][1].x"));
	CHECK_STR_EQ(path, "servers");
	toml_path(r, path, sizeof(path));
	CHECK_STR_EQ(path, "");
	toml_free(r);
}

TEST(positions_of_values_and_keys)
{
	/* columns count characters: "é" is one; a tab is one */
	struct toml_value *r = parse_ok("# comment\n"
					"\n"
					"name = \"é\"  \n"
					"[base]\n"
					"\tcpu_num =   4\n"
					"x.y = [ 1,\n"
					"   \"é\", 3 ]\n"
					"[[aot]]\n");
	const struct toml_value *v;

	REQUIRE_NOT_NULL(r);
	v = toml_get(r, "name");
	REQUIRE_NOT_NULL(v);
	CHECK_EQ_U64(v->line, 3);
	CHECK_EQ_U64(v->column, 8);
	CHECK_EQ_U64(v->key_line, 3);
	CHECK_EQ_U64(v->key_column, 1);
	v = toml_lookup(r, "base");
	REQUIRE_NOT_NULL(v);
	CHECK_EQ_U64(v->line, 4);
	CHECK_EQ_U64(v->column, 2);
	v = toml_lookup(r, "base.cpu_num");
	REQUIRE_NOT_NULL(v);
	CHECK_EQ_U64(v->line, 5);
	CHECK_EQ_U64(v->column, 14);
	CHECK_EQ_U64(v->key_column, 2);
	v = toml_lookup(r, "base.x");	/* made by the dotted key */
	REQUIRE_NOT_NULL(v);
	CHECK_EQ_U64(v->line, 6);
	CHECK_EQ_U64(v->column, 1);
	v = toml_lookup(r, "base.x.y");
	REQUIRE_NOT_NULL(v);
	CHECK_EQ_U64(v->key_column, 3);
	CHECK_EQ_U64(v->column, 7);
	CHECK_EQ_U64(toml_at(v, 2)->line, 7);
	CHECK_EQ_U64(toml_at(v, 2)->column, 9);
	v = toml_at(toml_get(r, "aot"), 0);
	REQUIRE_NOT_NULL(v);
	CHECK_EQ_U64(v->line, 8);
	CHECK_EQ_U64(v->column, 3);
	toml_free(r);

	/* CRLF line ends, and a BOM does not count as a column */
	r = parse_ok("\xef\xbb\xbf" "a = 1\r\nb = 2\r\n");
	REQUIRE_NOT_NULL(r);
	CHECK_EQ_U64(toml_get(r, "a")->column, 5);
	CHECK_EQ_U64(toml_get(r, "a")->key_column, 1);
	CHECK_EQ_U64(toml_get(r, "b")->line, 2);
	CHECK_EQ_U64(toml_get(r, "b")->column, 5);
	toml_free(r);
}

TEST(error_messages_with_places)
{
	struct toml_error e;
	const char *text = "[vm]\nname = \"a\"\nname = \"b\"\n";
	struct toml_value *root = NULL;

	err_clear();
	CHECK_EQ_INT(toml_parse(text, strlen(text), "vm.toml", &root, &e), -EINVAL);
	CHECK_NULL(root);
	CHECK_STR_EQ(e.msg, "vm.toml:3:1: duplicate key 'vm.name' (first defined at 2:1)");
	CHECK_STR_EQ(e.reason, "duplicate key 'vm.name' (first defined at 2:1)");
	CHECK_EQ_U64(e.line, 3);
	CHECK_EQ_U64(e.column, 1);
	CHECK_STR_EQ(err_msg(), e.msg);	/* the project's error convention */

	/* no filename: just line:column */
	CHECK_EQ_INT(toml_parse("a = \n", 5, NULL, &root, &e), -EINVAL);
	CHECK_STR_EQ(e.msg, "1:5: expected a value, found end of line");
	/* the error argument may be NULL */
	CHECK_EQ_INT(toml_parse("a = \n", 5, NULL, &root, NULL), -EINVAL);
	CHECK_STR_CONTAINS(err_msg(), "expected a value");

	e = parse_bad("a = 1\n[a]\n");
	CHECK_STR_EQ(e.msg, "t.toml:2:2: 'a' is already defined as an integer (at 1:1)");
	e = parse_bad("[t]\nx = 1\n[t]\n");
	CHECK_STR_EQ(e.msg, "t.toml:3:2: table 't' defined twice (first at 1:2)");
	e = parse_bad("[a]\nb.c = 1\n[a.b]\n");
	CHECK_STR_EQ(e.msg, "t.toml:3:4: table 'a.b' was already defined by dotted keys (at 2:1)");
	e = parse_bad("a = {x = 1}\n[a.b]\n");
	CHECK_STR_CONTAINS(e.msg, "t.toml:2:2: cannot add to inline table 'a'");
	e = parse_bad("s = \"abc\n");
	CHECK_STR_EQ(e.msg, "t.toml:1:5: unterminated string (a single-line string ends on its line)");
	e = parse_bad("x = [1, 2\n");
	CHECK_STR_CONTAINS(e.msg, "t.toml:1:5: unterminated array");
	e = parse_bad("d = [{a = 1}, {a = 1, a = 2}]\n");
	CHECK_STR_EQ(e.msg, "t.toml:1:23: duplicate key 'd[1].a' (first defined at 1:16)");
	e = parse_bad("é = 1\n");
	CHECK_STR_CONTAINS(e.msg, "t.toml:1:1: expected a key");
	CHECK_STR_CONTAINS(e.msg, "U+00E9");
	e = parse_bad("k = \"é\" x\n");
	CHECK_EQ_U64(e.column, 9);	/* characters, not bytes */
}

TEST(invalid_arguments)
{
	struct toml_value *root = NULL;
	struct toml_error e;

	CHECK_EQ_INT(toml_parse("a = 1", 5, NULL, NULL, &e), -EINVAL);
	CHECK_EQ_INT(toml_parse(NULL, 3, NULL, &root, &e), -EINVAL);
	CHECK_NULL(root);
	/* empty input, even without a buffer, is an empty table */
	CHECK_EQ_INT(toml_parse(NULL, 0, NULL, &root, &e), 0);
	REQUIRE_NOT_NULL(root);
	CHECK_EQ_INT(root->type, TOML_TABLE);
	CHECK_EQ_U64(toml_len(root), 0);
	toml_free(root);
	toml_free(NULL);
}

TEST(input_need_not_be_nul_terminated)
{
	/* only len bytes are read: what follows must not matter */
	const char text[] = "a = 12345xyz";
	struct toml_value *root = NULL;
	char buf[5] = { 'a', '=', '"', 'x', '"' };

	CHECK_EQ_INT(toml_parse(text, 7, NULL, &root, NULL), 0);
	REQUIRE_NOT_NULL(root);
	CHECK_EQ_INT(toml_get(root, "a")->u.integer, 123);
	toml_free(root);
	CHECK_EQ_INT(toml_parse(buf, sizeof(buf), NULL, &root, NULL), 0);
	REQUIRE_NOT_NULL(root);
	CHECK_STR_EQ(toml_get(root, "a")->u.str.ptr, "x");
	toml_free(root);
	CHECK_EQ_INT(toml_parse(buf, 4, NULL, &root, NULL), -EINVAL);	/* a = "x */
}

static char *repeat(const char *head, const char *unit, size_t n, const char *tail)
{
	size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail);
	char *s = malloc(hl + ul * n + tl + 1), *p = s;

	if (!s)
		return NULL;
	memcpy(p, head, hl);
	p += hl;
	for (size_t i = 0; i < n; i++, p += ul)
		memcpy(p, unit, ul);
	memcpy(p, tail, tl + 1);
	return s;
}

static int nested_arrays(size_t n)
{
	char *open = repeat("a = ", "[", n, ""), *text;
	int ok;

	if (!open)
		return -1;
	text = repeat(open, "]", n, "\n");
	free(open);
	if (!text)
		return -1;
	ok = parses(text);
	free(text);
	return ok;
}

static int nested_inline_tables(size_t n)
{
	char *open = repeat("a = ", "{b = ", n, "1"), *text;
	int ok;

	if (!open)
		return -1;
	text = repeat(open, "}", n, "\n");
	free(open);
	if (!text)
		return -1;
	ok = parses(text);
	free(text);
	return ok;
}

TEST(depth_limit)
{
	char *s;

	/* a is at depth 1, so TOML_MAX_DEPTH nested arrays fit and one more does not */
	CHECK_EQ_INT(nested_arrays(TOML_MAX_DEPTH), 1);
	CHECK_EQ_INT(nested_arrays(TOML_MAX_DEPTH + 1), 0);
	CHECK_EQ_INT(nested_inline_tables(TOML_MAX_DEPTH - 1), 1);
	CHECK_EQ_INT(nested_inline_tables(TOML_MAX_DEPTH), 0);
	/* hostile: a million levels are refused without running out of stack */
	CHECK_EQ_INT(nested_arrays(1000000), 0);
	CHECK_EQ_INT(nested_inline_tables(1000000), 0);
	s = repeat("x = ", "[{a=", 100000, "");
	REQUIRE_NOT_NULL(s);
	CHECK(!parses(s));
	free(s);

	/* headers and dotted keys count too */
	s = repeat("[a", ".a", TOML_MAX_DEPTH - 1, "]\n");
	REQUIRE_NOT_NULL(s);
	CHECK(parses(s));
	free(s);
	s = repeat("[a", ".a", TOML_MAX_DEPTH, "]\n");
	REQUIRE_NOT_NULL(s);
	CHECK(!parses(s));
	free(s);
	s = repeat("[a", ".a", 10 * TOML_MAX_DEPTH, "]\n");
	REQUIRE_NOT_NULL(s);
	CHECK_STR_CONTAINS(parse_bad(s).msg, "more than 128 parts");
	free(s);
	s = repeat("[a.a]\nb", ".b", TOML_MAX_DEPTH - 3, " = 1\n");
	REQUIRE_NOT_NULL(s);
	CHECK(parses(s));
	free(s);
	s = repeat("[a.a]\nb", ".b", TOML_MAX_DEPTH - 2, " = 1\n");
	REQUIRE_NOT_NULL(s);
	CHECK_STR_CONTAINS(parse_bad(s).msg, "nesting deeper than 128 levels");
	free(s);
}

TEST(big_table_is_hashed)
{
	enum { N = 50000 };
	size_t cap = (size_t)N * 32, n = 0;
	char *text = malloc(cap);
	struct toml_value *r;
	char key[32];

	REQUIRE_NOT_NULL(text);
	for (int i = 0; i < N; i++)
		n += (size_t)snprintf(text + n, cap - n, "k%d = %d\n", (i * 7919) % N, i);
	r = parse_ok(text);
	REQUIRE_NOT_NULL(r);
	REQUIRE_EQ_U64(toml_len(r), N);
	for (int i = 0; i < N; i += 997) {
		const struct toml_value *v;

		snprintf(key, sizeof(key), "k%d", (i * 7919) % N);
		v = toml_get(r, key);
		CHECK_NOT_NULL(v);
		if (v) {
			CHECK_EQ_INT(v->u.integer, i);
			CHECK_EQ_U64(v->line, (uint64_t)i + 1);
		}
		CHECK(toml_at(r, (size_t)i) == v);	/* document order kept */
	}
	CHECK_NULL(toml_get(r, "k-1"));
	toml_free(r);

	/* a duplicate at the very end is still found, with its first place */
	snprintf(text + n, cap - n, "k%d = 0\n", (4242 * 7919) % N);
	CHECK_STR_CONTAINS(parse_bad(text).msg, "(first defined at 4243:1)");
	free(text);
}

TEST(big_inputs)
{
	enum { N = 200000 };
	char *s = repeat("a = [", "1,", N, "2]\n"), *t;
	struct toml_value *r;

	REQUIRE_NOT_NULL(s);
	r = parse_ok(s);
	REQUIRE_NOT_NULL(r);
	CHECK_EQ_U64(toml_len(toml_get(r, "a")), N + 1);
	CHECK_EQ_U64(toml_at(toml_get(r, "a"), N)->column, 6 + 2 * (uint64_t)N);
	toml_free(r);
	free(s);

	/* one long string, one long line of inline-table keys, many [[tables]] */
	s = repeat("s = \"", "0123456789", N, "\"\n");
	REQUIRE_NOT_NULL(s);
	r = parse_ok(s);
	REQUIRE_NOT_NULL(r);
	CHECK_EQ_U64(toml_get(r, "s")->u.str.len, 10 * (uint64_t)N);
	toml_free(r);
	free(s);

	t = malloc((size_t)N * 16);
	REQUIRE_NOT_NULL(t);
	size_t n = (size_t)sprintf(t, "t = {");
	for (int i = 0; i < N / 4; i++)
		n += (size_t)sprintf(t + n, "%sk%d=%d", i ? "," : "", i, i);
	sprintf(t + n, "}\n");
	r = parse_ok(t);
	REQUIRE_NOT_NULL(r);
	CHECK_EQ_U64(toml_len(toml_get(r, "t")), N / 4);
	CHECK_EQ_INT(toml_get(toml_get(r, "t"), "k12345")->u.integer, 12345);
	toml_free(r);
	free(t);

	s = repeat("", "[[x.y]]\nz = 1\n", N / 4, "");
	REQUIRE_NOT_NULL(s);
	r = parse_ok(s);
	REQUIRE_NOT_NULL(r);
	CHECK_EQ_U64(toml_len(toml_lookup(r, "x.y")), N / 4);
	toml_free(r);
	free(s);
}

TEST(integers)
{
	struct toml_value *r = parse_ok("max = 9223372036854775807\n"
					"min = -9223372036854775808\n"
					"hex = 0x7fffffffffffffff\n"
					"hex2 = 0xDEAD_beef\n"
					"oct = 0o755\n"
					"bin = 0b1101_0110\n"
					"plus = +99\n"
					"zero = -0\n"
					"us = 1_000_000\n"
					"lead = 0x000F\n");

	REQUIRE_NOT_NULL(r);
	CHECK_EQ_INT(toml_get(r, "max")->u.integer, INT64_MAX);
	CHECK_EQ_INT(toml_get(r, "min")->u.integer, INT64_MIN);
	CHECK_EQ_INT(toml_get(r, "hex")->u.integer, INT64_MAX);
	CHECK_EQ_INT(toml_get(r, "hex2")->u.integer, 0xdeadbeef);
	CHECK_EQ_INT(toml_get(r, "oct")->u.integer, 0755);
	CHECK_EQ_INT(toml_get(r, "bin")->u.integer, 0xd6);
	CHECK_EQ_INT(toml_get(r, "plus")->u.integer, 99);
	CHECK_EQ_INT(toml_get(r, "zero")->u.integer, 0);
	CHECK_EQ_INT(toml_get(r, "us")->u.integer, 1000000);
	CHECK_EQ_INT(toml_get(r, "lead")->u.integer, 15);
	toml_free(r);

	CHECK(!parses("a = 9223372036854775808\n"));
	CHECK(!parses("a = -9223372036854775809\n"));
	CHECK(!parses("a = 0x8000000000000000\n"));
	CHECK(!parses("a = 99999999999999999999999999\n"));
	CHECK(!parses("a = 012\n"));
	CHECK(!parses("a = -0x1\n"));
	CHECK(!parses("a = 1__0\n"));
	CHECK(!parses("a = 0b2\n"));
	CHECK(!parses("a = 1 2\n"));
}

TEST(floats)
{
	struct toml_value *r = parse_ok("a = +1.0\n"
					"b = 3.1415\n"
					"c = -0.01\n"
					"d = 5e+22\n"
					"e = 1e06\n"
					"f = -2E-2\n"
					"g = 6.626e-34\n"
					"h = 224_617.445_991_228\n"
					"i = inf\n"
					"j = -inf\n"
					"k = +nan\n"
					"l = -0.0\n"
					"m = 1e-400\n");

	REQUIRE_NOT_NULL(r);
	CHECK(toml_get(r, "a")->u.flt == 1.0);
	CHECK(toml_get(r, "b")->u.flt == 3.1415);
	CHECK(toml_get(r, "c")->u.flt == -0.01);
	CHECK(toml_get(r, "d")->u.flt == 5e22);
	CHECK(toml_get(r, "e")->u.flt == 1e6);
	CHECK(toml_get(r, "f")->u.flt == -2e-2);
	CHECK(toml_get(r, "g")->u.flt == 6.626e-34);
	CHECK(toml_get(r, "h")->u.flt == 224617.445991228);
	CHECK(isinf(toml_get(r, "i")->u.flt) && toml_get(r, "i")->u.flt > 0);
	CHECK(isinf(toml_get(r, "j")->u.flt) && toml_get(r, "j")->u.flt < 0);
	CHECK(isnan(toml_get(r, "k")->u.flt));
	CHECK(toml_get(r, "l")->u.flt == 0.0 && signbit(toml_get(r, "l")->u.flt));
	CHECK(toml_get(r, "m")->u.flt == 0.0);	/* underflow rounds to zero */
	toml_free(r);

	CHECK(!parses("a = 1e400\n"));	/* not representable */
	CHECK(!parses("a = .5\n"));
	CHECK(!parses("a = 5.\n"));
	CHECK(!parses("a = 1.e5\n"));
	CHECK(!parses("a = 01.5\n"));
	CHECK(!parses("a = 1.5_\n"));
	CHECK(!parses("a = Inf\n"));
	CHECK(!parses("a = nan0\n"));
}

TEST(strings)
{
	struct toml_value *r = parse_ok(
		"a = \"tab\\there \\\"q\\\" \\\\ \\u00e9 \\U0001F600 \\b\\f\\r\\n\"\n"
		"b = 'C:\\no\\escapes'\n"
		"c = \"\"\"\n"
		"one\r\n"
		"two \\\n"
		"     three\"\"\"\"\"\n"
		"d = '''\n"
		"raw \\ ''''\n"
		"e = \"\\u0000x\"\n"
		"f = \"\"\"\\\n"
		"   \\\n"
		"   \"\"\"\n");

	REQUIRE_NOT_NULL(r);
	CHECK_STR_EQ(toml_get(r, "a")->u.str.ptr,
		     "tab\there \"q\" \\ \xc3\xa9 \xf0\x9f\x98\x80 \b\f\r\n");
	CHECK_STR_EQ(toml_get(r, "b")->u.str.ptr, "C:\\no\\escapes");
	/* first newline trimmed, CRLF stored as LF, line-ending backslash, quotes at the end */
	CHECK_STR_EQ(toml_get(r, "c")->u.str.ptr, "one\ntwo three\"\"");
	CHECK_STR_EQ(toml_get(r, "d")->u.str.ptr, "raw \\ '");
	CHECK_EQ_U64(toml_get(r, "e")->u.str.len, 2);
	CHECK_MEM_EQ(toml_get(r, "e")->u.str.ptr, "\0x", 3);
	CHECK_STR_EQ(toml_get(r, "f")->u.str.ptr, "");
	toml_free(r);

	/* an empty string after a longer one is still terminated where it ends */
	r = parse_ok("a = \"long string\"\nb = \"\"\nc = ''\nd = ''''''\ne = \"\"\"\"\"\"\n");
	REQUIRE_NOT_NULL(r);
	CHECK_STR_EQ(toml_get(r, "b")->u.str.ptr, "");
	CHECK_STR_EQ(toml_get(r, "c")->u.str.ptr, "");
	CHECK_STR_EQ(toml_get(r, "d")->u.str.ptr, "");
	CHECK_STR_EQ(toml_get(r, "e")->u.str.ptr, "");
	toml_free(r);

	CHECK(!parses("a = \"\\uD800\"\n"));	/* surrogate */
	CHECK(!parses("a = \"\\U00110000\"\n"));	/* beyond Unicode */
	CHECK(!parses("a = \"\\x41\"\n"));	/* TOML 1.1 only */
	CHECK(!parses("a = \"\\e\"\n"));	/* TOML 1.1 only */
	CHECK(!parses("a = \"\\ x\"\n"));
	CHECK(!parses("a = \"\"\"x \\ y\"\"\"\n"));	/* backslash + space, not at line end */
	CHECK(!parses("a = \"\"\"x\"\"\"\"\"\"\n"));	/* six quotes */
	CHECK(!parses("a = 'it''s'\n"));
	CHECK(!parses("a = \"tab\x01\"\n"));
	CHECK(!parses("a = \"\"\"a\rb\"\"\"\n"));	/* bare CR */
}

TEST(datetimes)
{
	struct toml_value *r = parse_ok("a = 2000-02-29T23:59:60z\n"
					"b = 1987-07-05 17:45:56.6+05:30\n"
					"c = 1987-07-05t17:45:56.1234567891234\n"
					"d = 0001-01-01\n"
					"e = 23:59:59.000\n"
					"f = 1979-05-27T00:32:00-00:00\n");
	char buf[64];

	REQUIRE_NOT_NULL(r);
	CHECK(toml_get(r, "a")->u.dt.offset_z);
	CHECK_EQ_INT(toml_get(r, "a")->u.dt.second, 60);	/* leap second */
	CHECK_EQ_INT(toml_get(r, "b")->u.dt.offset_minutes, 330);
	CHECK_EQ_INT(toml_get(r, "c")->type, TOML_DATETIME_LOCAL);
	CHECK_EQ_INT(toml_get(r, "c")->u.dt.nanosecond, 123456789);	/* truncated */
	CHECK_EQ_INT(toml_get(r, "c")->u.dt.frac_digits, 9);
	toml_datetime_format(toml_get(r, "a"), buf, sizeof(buf));
	CHECK_STR_EQ(buf, "2000-02-29T23:59:60Z");
	toml_datetime_format(toml_get(r, "b"), buf, sizeof(buf));
	CHECK_STR_EQ(buf, "1987-07-05T17:45:56.600+05:30");
	toml_datetime_format(toml_get(r, "c"), buf, sizeof(buf));
	CHECK_STR_EQ(buf, "1987-07-05T17:45:56.123456789");
	toml_datetime_format(toml_get(r, "d"), buf, sizeof(buf));
	CHECK_STR_EQ(buf, "0001-01-01");
	toml_datetime_format(toml_get(r, "e"), buf, sizeof(buf));
	CHECK_STR_EQ(buf, "23:59:59.000");
	toml_datetime_format(toml_get(r, "f"), buf, sizeof(buf));
	CHECK_STR_EQ(buf, "1979-05-27T00:32:00+00:00");
	CHECK_EQ_INT(toml_datetime_format(toml_get(r, "a"), buf, 5), 20);
	CHECK_STR_EQ(buf, "2000");
	CHECK_EQ_INT(toml_datetime_format(r, buf, sizeof(buf)), -EINVAL);
	toml_free(r);

	CHECK(parses("a = 2024-02-29\n"));
	CHECK(!parses("a = 1900-02-29\n"));	/* not a leap year */
	CHECK(!parses("a = 2023-04-31\n"));
	CHECK(!parses("a = 2023-04-30T24:00:00\n"));
	CHECK(!parses("a = 2023-04-30T12:00\n"));	/* seconds are required in 1.0 */
	CHECK(!parses("a = 2023-04-30T12:00:00+24:00\n"));
	CHECK(!parses("a = 2023-04-30T12:00:00+0100\n"));
	CHECK(!parses("a = 2023-04-30T12:00:00.\n"));
	CHECK(parses("a = 2023-04-30 \n"));	/* a date, then a space */
	CHECK(!parses("a = 12:00:00Z\n"));	/* no offset on a local time */
}

TEST(keys)
{
	struct toml_value *r = parse_ok("\"\" = 1\n"
					"'quoted \"x\"' = 2\n"
					"fruit . color = 3\n"
					"3.14159 = \"pi\"\n"
					"1234 = 4\n"
					"- = 5\n");

	REQUIRE_NOT_NULL(r);
	CHECK_EQ_INT(toml_get(r, "")->u.integer, 1);
	CHECK_EQ_INT(toml_get(r, "quoted \"x\"")->u.integer, 2);
	CHECK_EQ_INT(toml_lookup(r, "fruit.color")->u.integer, 3);
	CHECK_STR_EQ(toml_lookup(r, "3.14159")->u.str.ptr, "pi");
	CHECK_EQ_INT(toml_get(r, "1234")->u.integer, 4);
	CHECK_EQ_INT(toml_get(r, "-")->u.integer, 5);
	toml_free(r);

	CHECK(!parses("a b = 1\n"));
	CHECK(!parses("= 1\n"));
	CHECK(!parses("a. = 1\n"));
	CHECK(!parses("\"\"\"a\"\"\" = 1\n"));
	CHECK(!parses("a = 1 b = 2\n"));
	CHECK(!parses("a = 1\n\"a\" = 2\n"));
	CHECK(!parses("a = 1\n\"\\u0061\" = 2\n"));
}

/* Redefinition rules, from the spec's Table, Inline Table and Array of Tables sections. */
TEST(redefinition_rules)
{
	static const struct {
		const char *doc;
		int valid;
	} cases[] = {
		{ "[a.b.c]\n[a]\nx = 1\n", 1 },	/* super-table defined afterwards */
		{ "[a]\n[a]\n", 0 },
		{ "[a]\nb = 1\n[a.b]\n", 0 },
		{ "[fruit]\napple.color = 'red'\n[fruit.apple.texture]\nsmooth = true\n", 1 },
		{ "[fruit]\napple.color = 'red'\n[fruit.apple]\n", 0 },
		{ "a.b = 1\n[a]\n", 0 },
		{ "a.b = 1\n[a.c]\n", 1 },	/* sub-table below a dotted-key table */
		{ "a.b = 1\na.c = 2\n", 1 },
		{ "a.b = 1\na.b.c = 2\n", 0 },
		{ "[a.b.c]\n[a]\nb.c.d = 1\n", 0 },	/* a.b.c has its own header */
		{ "[a.b.c]\n[a]\nb.x = 1\n", 1 },	/* a.b was only implicit */
		{ "[a.b.c]\n[a]\nb.x = 1\n[a.b]\n", 0 },	/* ...and now is dotted */
		{ "a = {}\n[a.b]\n", 0 },
		{ "a = {b = 1}\na.c = 2\n", 0 },
		{ "a = {b.c = 1, b.d = 2}\n", 1 },
		{ "a = {b = {c = 1}, b.d = 2}\n", 0 },
		{ "a = {b = 1, b = 2}\n", 0 },
		{ "[[a]]\n[[a]]\n[a.b]\n[[a]]\n[a.b]\n", 1 },
		{ "[[a]]\n[a]\n", 0 },
		{ "[a]\n[[a]]\n", 0 },
		{ "a = []\n[[a]]\n", 0 },
		{ "a = [{b = 1}]\n[a.c]\n", 0 },
		{ "[[a.b]]\n[a]\nb.c = 1\n", 0 },
		{ "[[a.b]]\n[a]\nc = 1\n", 1 },
		{ "[[a.b.c]]\n[[a]]\n", 0 },	/* a is an implicit table, not an array */
		{ "[x]\ny = [1]\n[x.y]\n", 0 },
		{ "[x]\ny = [1]\n[[x.y]]\n", 0 },
		{ "a = [1, 'x', [2], {b = 3}]\n", 1 },	/* mixed arrays are fine in 1.0 */
	};

	for (size_t i = 0; i < ARRAY_LEN(cases); i++)
		if (!CHECK_EQ_INT(parses(cases[i].doc), cases[i].valid))
			FAIL("case %zu: %s", i, cases[i].doc);
}

TEST(text_validation)
{
	static const struct {
		const char *doc;
		size_t len;
		unsigned col;
	} bad[] = {
#define BAD(doc, col) doc, sizeof(doc) - 1, col
		{ BAD("a = \"\xc0\x80\"\n", 6) },	/* overlong NUL */
		{ BAD("a = \"\xe0\x80\xaf\"\n", 6) },	/* overlong '/' */
		{ BAD("a = \"\xed\xa0\x80\"\n", 6) },	/* surrogate U+D800 */
		{ BAD("a = \"\xf4\x90\x80\x80\"\n", 6) },	/* beyond U+10FFFF */
		{ BAD("a = \"\xff\"\n", 6) },
		{ BAD("# \x80\n", 3) },	/* lone continuation byte, in a comment */
		{ BAD("a = \"\xe2\x82", 6) },	/* truncated at the end */
		{ BAD("a = 1\rb = 2\n", 6) },	/* bare CR */
		{ BAD("a = \"\0\"\n", 6) },	/* NUL */
		{ BAD("a = 1 # \x7f\n", 9) },	/* DEL in a comment */
		{ BAD("a = '\x1b'\n", 6) },	/* ESC in a literal string */
	};
#undef BAD
	struct toml_value *root;
	struct toml_error e;

	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		root = NULL;
		if (!CHECK_EQ_INT(toml_parse(bad[i].doc, bad[i].len, NULL, &root, &e), -EINVAL)) {
			FAIL("case %zu accepted", i);
			toml_free(root);
			continue;
		}
		CHECK_EQ_U64(e.line, 1);
		if (!CHECK_EQ_U64(e.column, bad[i].col))
			FAIL("case %zu: %s", i, e.msg);
	}
	/* the largest scalar values are fine, as are tabs, CRLF and U+FEFF at the start */
	CHECK(parses("\xef\xbb\xbf" "a = \"\xf4\x8f\xbf\xbf \xef\xbf\xbd\t\"\r\n"));
	CHECK(!parses("a = 1\n\xef\xbb\xbf"));	/* a BOM later is a character like any */
}

TEST(inline_tables_and_arrays_layout)
{
	struct toml_value *r = parse_ok("a = [\n"
					"  1, # one\n"
					"  # nothing\n"
					"  2,\n"
					"]\n"
					"t = { x = [\n"
					"  1\n"
					"], y = {} }\n"
					"e = []\n"
					"f = {  }\n");

	REQUIRE_NOT_NULL(r);
	CHECK_EQ_U64(toml_len(toml_get(r, "a")), 2);
	CHECK_EQ_U64(toml_len(toml_lookup(r, "t.x")), 1);
	CHECK_EQ_INT(toml_lookup(r, "t.y")->type, TOML_TABLE);
	CHECK_EQ_U64(toml_len(toml_get(r, "e")), 0);
	CHECK_EQ_U64(toml_len(toml_get(r, "f")), 0);
	toml_free(r);

	CHECK(!parses("t = {a = 1,}\n"));
	CHECK(!parses("t = {a = 1\n}\n"));
	CHECK(!parses("t = {\na = 1}\n"));
	CHECK(!parses("a = [1,,2]\n"));
	CHECK(!parses("a = [,]\n"));
	CHECK(!parses("a = [1 2]\n"));
}
