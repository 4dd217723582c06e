/* The MMDS data store (src/mmds/mmds_store.c): PUT replaces the tree, PATCH is an RFC 7396
 * JSON merge patch (the RFC's appendix A examples, with object patches, which is what
 * the API takes), GET by JSON-pointer-like path, the size limit, the configuration
 * (V1/V2, link-local IPv4 address) and V2 session tokens with expiry and a bounded
 * table. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "mmds/mmds_store.h"

static uint64_t fake_now;

static uint64_t fake_clock(void *ctx)
{
	(void)ctx;
	return fake_now;
}

static int put(struct mmds_store *s, const char *json)
{
	char err[256];

	return mmds_store_put_json(s, json, strlen(json), err, sizeof(err));
}

static int patch(struct mmds_store *s, const char *json)
{
	char err[256];

	return mmds_store_patch_json(s, json, strlen(json), err, sizeof(err));
}

/* Does the store's value at path equal the JSON text want? */
static int value_is(struct mmds_store *s, const char *path, const char *want)
{
	json_t *v = NULL, *w = json_loads(want, JSON_DECODE_ANY, NULL);
	int ok;

	if (!w)
		return 0;
	ok = mmds_store_get(s, path, &v) == 0 && json_equal(v, w);
	json_decref(v);
	json_decref(w);
	return ok;
}

static int whole_is(struct mmds_store *s, const char *want)
{
	char *got = mmds_store_get_json(s);
	json_t *g = got ? json_loads(got, 0, NULL) : NULL, *w = json_loads(want, 0, NULL);
	int ok = g && w && json_equal(g, w);

	json_decref(g);
	json_decref(w);
	free(got);
	return ok;
}

TEST(empty_store)
{
	struct mmds_store *s = mmds_store_new();
	json_t *v = NULL;
	char *j;

	REQUIRE_NOT_NULL(s);
	j = mmds_store_get_json(s);
	CHECK_STR_EQ(j, "{}");
	free(j);
	CHECK_EQ_INT(mmds_store_get(s, "/", &v), -ENOENT);   /* nothing was ever put */
	CHECK_EQ_INT(mmds_store_version(s), MMDS_V1);
	CHECK_EQ_U64(mmds_store_ipv4(s), 0xa9fea9feu);
	mmds_store_free(s);
}

TEST(put_replaces_the_tree)
{
	struct mmds_store *s = mmds_store_new();

	REQUIRE_NOT_NULL(s);
	CHECK_EQ_INT(put(s, "{\"a\":1,\"b\":{\"c\":\"d\"}}"), 0);
	CHECK(whole_is(s, "{\"a\":1,\"b\":{\"c\":\"d\"}}"));
	CHECK_EQ_INT(put(s, "{\"x\":[1,2]}"), 0);
	CHECK(whole_is(s, "{\"x\":[1,2]}"));
	CHECK_EQ_INT(mmds_store_get(s, "/a", &(json_t *){ NULL }), -ENOENT);
	mmds_store_free(s);
}

TEST(put_rejects_bad_json_and_keeps_the_data)
{
	static const char *const bad[] = {
		"", "{", "{\"a\":}", "[1,2]", "\"str\"", "42", "null", "{\"a\":1}x", "{'a':1}",
	};
	struct mmds_store *s = mmds_store_new();
	char err[256];

	REQUIRE_NOT_NULL(s);
	REQUIRE_EQ_INT(put(s, "{\"keep\":true}"), 0);
	for (unsigned int i = 0; i < ARRAY_LEN(bad); i++) {
		err[0] = '\0';
		if (!CHECK_EQ_INT(mmds_store_put_json(s, bad[i], strlen(bad[i]), err, sizeof(err)),
				  -EINVAL))
			FAIL("accepted '%s'", bad[i]);
		CHECK(err[0] != '\0');
		CHECK_EQ_INT(mmds_store_patch_json(s, bad[i], strlen(bad[i]), NULL, 0), -EINVAL);
	}
	CHECK(whole_is(s, "{\"keep\":true}"));
	CHECK_EQ_INT(mmds_store_put_json(s, NULL, 0, err, sizeof(err)), -EINVAL);
	mmds_store_free(s);
}

TEST(put_uses_only_len_bytes)
{
	struct mmds_store *s = mmds_store_new();
	const char *j = "{\"a\":1}garbage";

	REQUIRE_NOT_NULL(s);
	CHECK_EQ_INT(mmds_store_put_json(s, j, 7, NULL, 0), 0);
	CHECK(value_is(s, "/a", "1"));
	mmds_store_free(s);
}

/* RFC 7396 appendix A, the cases whose patch is an object. */
TEST(merge_patch_rfc7396_examples)
{
	static const struct { const char *target, *patch, *result; } ex[] = {
		{ "{\"a\":\"b\"}", "{\"a\":\"c\"}", "{\"a\":\"c\"}" },
		{ "{\"a\":\"b\"}", "{\"b\":\"c\"}", "{\"a\":\"b\",\"b\":\"c\"}" },
		{ "{\"a\":\"b\"}", "{\"a\":null}", "{}" },
		{ "{\"a\":\"b\",\"b\":\"c\"}", "{\"a\":null}", "{\"b\":\"c\"}" },
		{ "{\"a\":[\"b\"]}", "{\"a\":\"c\"}", "{\"a\":\"c\"}" },
		{ "{\"a\":\"c\"}", "{\"a\":[\"b\"]}", "{\"a\":[\"b\"]}" },
		{ "{\"a\":{\"b\":\"c\"}}", "{\"a\":{\"b\":\"d\",\"c\":null}}", "{\"a\":{\"b\":\"d\"}}" },
		{ "{\"a\":[{\"b\":\"c\"}]}", "{\"a\":[1]}", "{\"a\":[1]}" },
		{ "{\"e\":null}", "{\"a\":1}", "{\"e\":null,\"a\":1}" },
		{ "{}", "{\"a\":{\"bb\":{\"ccc\":null}}}", "{\"a\":{\"bb\":{}}}" },
		{ "{\"a\":1}", "{}", "{\"a\":1}" },
		{ "{\"a\":\"x\"}", "{\"a\":{\"b\":null,\"c\":2}}", "{\"a\":{\"c\":2}}" },
	};

	for (unsigned int i = 0; i < ARRAY_LEN(ex); i++) {
		struct mmds_store *s = mmds_store_new();

		REQUIRE_NOT_NULL(s);
		CHECK_EQ_INT(put(s, ex[i].target), 0);
		CHECK_EQ_INT(patch(s, ex[i].patch), 0);
		if (!CHECK(whole_is(s, ex[i].result)))
			FAIL("example %u: %s + %s", i, ex[i].target, ex[i].patch);
		mmds_store_free(s);
	}
}

TEST(patch_before_any_put_patches_the_empty_object)
{
	struct mmds_store *s = mmds_store_new();

	REQUIRE_NOT_NULL(s);
	CHECK_EQ_INT(patch(s, "{\"a\":{\"b\":\"c\"},\"gone\":null}"), 0);
	CHECK(whole_is(s, "{\"a\":{\"b\":\"c\"}}"));
	mmds_store_free(s);
}

TEST(size_limit_default_51200)
{
	struct mmds_store *s = mmds_store_new();
	size_t n = 51200;
	char *big = malloc(n + 64);
	char err[256];

	REQUIRE_NOT_NULL(s);
	REQUIRE_NOT_NULL(big);
	/* {"k":"xxx..."} is 8 bytes plus the string: 51200 exactly fits, one more does not. */
	memcpy(big, "{\"k\":\"", 6);
	memset(big + 6, 'x', n - 8);
	memcpy(big + 6 + n - 8, "\"}", 3);
	CHECK_EQ_INT(mmds_store_put_json(s, big, strlen(big), err, sizeof(err)), 0);
	memcpy(big, "{\"k\":\"", 6);
	memset(big + 6, 'y', n - 7);
	memcpy(big + 6 + n - 7, "\"}", 3);
	CHECK_EQ_INT(mmds_store_put_json(s, big, strlen(big), err, sizeof(err)), -EFBIG);
	CHECK_STR_CONTAINS(err, "51200");
	{
		json_t *v = NULL;

		REQUIRE_EQ_INT(mmds_store_get(s, "/k", &v), 0);
		CHECK(json_string_value(v)[0] == 'x');   /* the old data stays */
		json_decref(v);
	}
	free(big);
	mmds_store_free(s);
}

TEST(size_limit_applies_to_the_patched_result)
{
	struct mmds_store *s = mmds_store_new();
	char err[256];

	REQUIRE_NOT_NULL(s);
	CHECK_EQ_INT(mmds_store_set_limit(s, 1), -EINVAL);
	REQUIRE_EQ_INT(mmds_store_set_limit(s, 30), 0);
	CHECK_EQ_INT(put(s, "{\"a\":\"0123456789\"}"), 0);               /* 18 bytes */
	CHECK_EQ_INT(mmds_store_patch_json(s, "{\"b\":\"0123456789\"}", 18, err, sizeof(err)),
		     -EFBIG);                                             /* would be 33 */
	CHECK(whole_is(s, "{\"a\":\"0123456789\"}"));
	CHECK_EQ_INT(patch(s, "{\"a\":null,\"b\":\"0123456789\"}"), 0);  /* 18 again */
	CHECK(whole_is(s, "{\"b\":\"0123456789\"}"));
	CHECK_EQ_INT(put(s, "{\"a\":\"0123456789\",\"b\":\"0123456789\"}"), -EFBIG);
	mmds_store_free(s);
}

TEST(get_by_path)
{
	struct mmds_store *s = mmds_store_new();
	json_t *v = NULL;

	REQUIRE_NOT_NULL(s);
	REQUIRE_EQ_INT(put(s, "{\"latest\":{\"meta-data\":{\"ami-id\":\"ami-1\",\"n\":[10,20,"
			   "{\"deep\":true}]}},\"a/b\":\"slash\",\"t~x\":\"tilde\",\"\":\"empty\"}"), 0);
	CHECK(value_is(s, "/latest/meta-data/ami-id", "\"ami-1\""));
	CHECK(value_is(s, "/latest/meta-data/", "{\"ami-id\":\"ami-1\",\"n\":[10,20,{\"deep\":true}]}"));
	CHECK(value_is(s, "latest//meta-data", "{\"ami-id\":\"ami-1\",\"n\":[10,20,{\"deep\":true}]}"));
	CHECK(value_is(s, "/latest/meta-data/n/0", "10"));
	CHECK(value_is(s, "/latest/meta-data/n/2/deep", "true"));
	CHECK(value_is(s, "/a~1b", "\"slash\""));
	CHECK(value_is(s, "/t~0x", "\"tilde\""));
	CHECK_EQ_INT(mmds_store_get(s, "/", &v), 0);
	CHECK(json_is_object(v) && json_object_size(v) == 4);
	json_decref(v);
	v = NULL;
	CHECK_EQ_INT(mmds_store_get(s, "", &v), 0);
	CHECK(json_is_object(v));
	json_decref(v);
	{
		static const char *const missing[] = {
			"/nope", "/latest/meta-data/ami-id/x", "/latest/meta-data/n/3",
			"/latest/meta-data/n/01", "/latest/meta-data/n/-1", "/latest/meta-data/n/x",
			"/latest/meta-data/n/99999999999999999999", "/a/b", "/LATEST",
		};

		for (unsigned int i = 0; i < ARRAY_LEN(missing); i++) {
			v = NULL;
			if (!CHECK_EQ_INT(mmds_store_get(s, missing[i], &v), -ENOENT))
				FAIL("found %s", missing[i]);
			if (v)
				json_decref(v);
		}
	}
	mmds_store_free(s);
}

TEST(get_returns_a_copy)
{
	struct mmds_store *s = mmds_store_new();
	json_t *v = NULL;

	REQUIRE_NOT_NULL(s);
	REQUIRE_EQ_INT(put(s, "{\"a\":{\"b\":1}}"), 0);
	REQUIRE_EQ_INT(mmds_store_get(s, "/a", &v), 0);
	json_object_set_new(v, "b", json_integer(2));
	json_decref(v);
	CHECK(value_is(s, "/a/b", "1"));
	mmds_store_free(s);
}

TEST(config_version_and_address)
{
	struct mmds_store *s = mmds_store_new();
	char err[256];

	REQUIRE_NOT_NULL(s);
	CHECK_EQ_INT(mmds_config_set(s, "V2", "169.254.170.2", err, sizeof(err)), 0);
	CHECK_EQ_INT(mmds_store_version(s), MMDS_V2);
	CHECK_EQ_U64(mmds_store_ipv4(s), 0xa9feaa02u);
	/* Omitted fields go back to the defaults, as a PUT does. */
	CHECK_EQ_INT(mmds_config_set(s, NULL, NULL, err, sizeof(err)), 0);
	CHECK_EQ_INT(mmds_store_version(s), MMDS_V1);
	CHECK_EQ_U64(mmds_store_ipv4(s), 0xa9fea9feu);
	CHECK_EQ_INT(mmds_config_set(s, "V2", NULL, err, sizeof(err)), 0);
	/* Errors change nothing. */
	CHECK_EQ_INT(mmds_config_set(s, "v1", NULL, err, sizeof(err)), -EINVAL);
	CHECK_STR_CONTAINS(err, "version");
	CHECK_EQ_INT(mmds_config_set(s, "V3", NULL, err, sizeof(err)), -EINVAL);
	CHECK_EQ_INT(mmds_config_set(s, "V1", "10.0.0.1", err, sizeof(err)), -EINVAL);
	CHECK_STR_CONTAINS(err, "link-local");
	CHECK_EQ_INT(mmds_config_set(s, "V1", "169.254.0.5", err, sizeof(err)), -EINVAL);
	CHECK_EQ_INT(mmds_config_set(s, "V1", "169.254.255.1", err, sizeof(err)), -EINVAL);
	CHECK_EQ_INT(mmds_config_set(s, "V1", "169.254.1.300", err, sizeof(err)), -EINVAL);
	CHECK_EQ_INT(mmds_store_version(s), MMDS_V2);
	CHECK_EQ_U64(mmds_store_ipv4(s), 0xa9fea9feu);
	CHECK_EQ_INT(mmds_config_set(s, "V1", "169.254.1.0", err, sizeof(err)), 0);
	CHECK_EQ_INT(mmds_config_set(s, "V1", "169.254.254.255", err, sizeof(err)), 0);
	mmds_store_free(s);
}

TEST(parse_ipv4)
{
	static const struct { const char *s; uint32_t v; } ok[] = {
		{ "0.0.0.0", 0 }, { "169.254.169.254", 0xa9fea9fe }, { "255.255.255.255", 0xffffffff },
		{ "1.2.3.4", 0x01020304 }, { "10.0.100.9", 0x0a006409 },
	};
	static const char *const bad[] = {
		"", "1.2.3", "1.2.3.4.5", "1.2.3.256", "01.2.3.4", "1.2.3.04", " 1.2.3.4",
		"1.2.3.4 ", "1..3.4", "a.b.c.d", "1.2.3.-4", "1.2.3.4/24", "1234.1.1.1", "1.2.3.",
	};

	for (unsigned int i = 0; i < ARRAY_LEN(ok); i++) {
		uint32_t v = 1;

		CHECK_EQ_INT(mmds_parse_ipv4(ok[i].s, &v), 0);
		CHECK_EQ_U64(v, ok[i].v);
	}
	for (unsigned int i = 0; i < ARRAY_LEN(bad); i++) {
		uint32_t v;

		if (!CHECK_EQ_INT(mmds_parse_ipv4(bad[i], &v), -EINVAL))
			FAIL("accepted '%s'", bad[i]);
	}
}

TEST(tokens_are_random_and_valid_until_they_expire)
{
	struct mmds_store *s = mmds_store_new();
	char a[MMDS_TOKEN_LEN + 1], b[MMDS_TOKEN_LEN + 1];

	REQUIRE_NOT_NULL(s);
	fake_now = 1000000;
	mmds_store_set_clock(s, fake_clock, NULL);
	CHECK_EQ_INT(mmds_token_new(s, 0, a), -EINVAL);
	CHECK_EQ_INT(mmds_token_new(s, 21601, a), -EINVAL);
	REQUIRE_EQ_INT(mmds_token_new(s, 10, a), 0);
	REQUIRE_EQ_INT(mmds_token_new(s, 21600, b), 0);
	CHECK_EQ_U64(strlen(a), MMDS_TOKEN_LEN);
	CHECK(strcmp(a, b) != 0);
	CHECK(mmds_token_valid(s, a, strlen(a)));
	CHECK(mmds_token_valid(s, b, strlen(b)));
	CHECK(!mmds_token_valid(s, a, strlen(a) - 1));
	{
		char c[MMDS_TOKEN_LEN + 1];

		memcpy(c, a, sizeof(c));
		c[5] ^= 1;
		CHECK(!mmds_token_valid(s, c, strlen(c)));
	}
	fake_now += 9999;
	CHECK(mmds_token_valid(s, a, strlen(a)));
	fake_now += 1;
	CHECK(!mmds_token_valid(s, a, strlen(a)));     /* 10 s later: expired */
	CHECK(mmds_token_valid(s, b, strlen(b)));
	fake_now += 21600ull * 1000;
	CHECK(!mmds_token_valid(s, b, strlen(b)));
	CHECK(!mmds_token_valid(s, "", 0));
	mmds_store_free(s);
}

TEST(token_table_is_bounded_and_evicts_the_first_to_expire)
{
	struct mmds_store *s = mmds_store_new();
	char first[MMDS_TOKEN_LEN + 1], t[MMDS_TOKEN_LEN + 1], last[MMDS_TOKEN_LEN + 1];

	REQUIRE_NOT_NULL(s);
	fake_now = 5000;
	mmds_store_set_clock(s, fake_clock, NULL);
	REQUIRE_EQ_INT(mmds_token_new(s, 5, first), 0);           /* expires first */
	for (unsigned int i = 1; i < MMDS_MAX_TOKENS; i++)
		REQUIRE_EQ_INT(mmds_token_new(s, 100, t), 0);
	CHECK(mmds_token_valid(s, first, MMDS_TOKEN_LEN));
	REQUIRE_EQ_INT(mmds_token_new(s, 100, last), 0);          /* the table is full */
	CHECK(!mmds_token_valid(s, first, MMDS_TOKEN_LEN));
	CHECK(mmds_token_valid(s, last, MMDS_TOKEN_LEN));
	CHECK(mmds_token_valid(s, t, MMDS_TOKEN_LEN));
	mmds_store_free(s);
}

/* The API thread replaces the tree while the network thread reads it: every read sees a
 * whole version, never a mix of two. */
struct race {
	struct mmds_store *s;
	volatile int stop, started;
	int torn, reads;
};

static void *race_writer(void *arg)
{
	struct race *r = arg;
	static const char *const v[] = {
		"{\"a\":{\"x\":\"1\",\"y\":\"1\"},\"n\":1}",
		"{\"a\":{\"x\":\"2\",\"y\":\"2\"},\"n\":2}",
	};

	/* Start writing only once the reader runs: on a loaded machine the writer could
	 * otherwise finish before the reader's first read. */
	while (!r->started)
		sched_yield();
	for (int i = 0; i < 3000; i++) {
		if (i % 3 == 2)
			patch(r->s, "{\"a\":{\"x\":\"3\",\"y\":\"3\"},\"n\":3}");
		else
			mmds_store_put_json(r->s, v[i & 1], strlen(v[i & 1]), NULL, 0);
	}
	r->stop = 1;
	return NULL;
}

TEST(readers_never_see_a_half_updated_tree)
{
	struct race r = { .s = mmds_store_new() };
	pthread_t t;

	REQUIRE_NOT_NULL(r.s);
	REQUIRE_EQ_INT(put(r.s, "{\"a\":{\"x\":\"0\",\"y\":\"0\"},\"n\":0}"), 0);
	REQUIRE_EQ_INT(pthread_create(&t, NULL, race_writer, &r), 0);
	r.started = 1;
	do {
		json_t *v = NULL;

		if (mmds_store_get(r.s, "/a", &v) == 0) {
			const char *x = json_string_value(json_object_get(v, "x"));
			const char *y = json_string_value(json_object_get(v, "y"));

			if (!x || !y || strcmp(x, y) != 0)
				r.torn++;
			r.reads++;
			json_decref(v);
		}
	} while (!r.stop);
	pthread_join(t, NULL);
	CHECK_EQ_INT(r.torn, 0);
	CHECK(r.reads > 0);
	CHECK(value_is(r.s, "/n", "3"));     /* the last write (i = 2999) was the patch */
	mmds_store_free(r.s);
}
