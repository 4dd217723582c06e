/* MMDS's guest-facing HTTP handler (src/mmds/mmds_http.c): the contract of Firecracker's
 * MMDS user guide (IMDS and JSON formats, V1 and V2 sessions, the token request's
 * headers, status codes 200/400/401/404/405/413/501/505) on request buffers. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "mmds/mmds_http.h"

static uint64_t fake_now = 1000;

static uint64_t fake_clock(void *ctx)
{
	(void)ctx;
	return fake_now;
}

static const char *const DATA =
	"{\"latest\":{\"meta-data\":{\"reservation-id\":\"r-79054aef\",\"ami-id\":\"ami-87654321\","
	"\"network\":{\"interfaces\":{}},\"count\":3,\"list\":[\"a\"],\"flag\":false}},"
	"\"empty\":{}}";

static struct mmds_store *new_store(const char *version)
{
	struct mmds_store *s = mmds_store_new();

	if (!s)
		return NULL;
	mmds_store_set_clock(s, fake_clock, NULL);
	if (mmds_store_put_json(s, DATA, strlen(DATA), NULL, 0) < 0 ||
	    mmds_config_set(s, version, NULL, NULL, 0) < 0) {
		mmds_store_free(s);
		return NULL;
	}
	return s;
}

struct answer {
	int r;
	size_t consumed;
	int status;
	bool close;
	char *raw;            /* whole response, NUL-terminated */
	const char *body;     /* into raw */
};

static struct answer ask_n(struct mmds_store *s, const char *req, size_t len)
{
	struct answer a;
	struct mmds_http_response resp;

	memset(&a, 0, sizeof(a));
	a.r = mmds_http_handle(s, req, len, &a.consumed, &resp);
	if (a.r == 1) {
		char *sep;
		int st = 0;

		a.raw = resp.data;
		a.close = resp.close;
		a.status = resp.status;
		sscanf(a.raw, "HTTP/1.1 %d", &st);
		if (st != resp.status)
			a.status = -st;   /* the status line disagrees: make checks fail */
		sep = strstr(a.raw, "\r\n\r\n");
		a.body = sep ? sep + 4 : "";
		/* Content-Length must be the body's length. */
		{
			const char *cl = strstr(a.raw, "Content-Length: ");
			size_t n = cl ? strtoul(cl + 16, NULL, 10) : (size_t)-1;

			if (n != strlen(a.body) || resp.len != (size_t)(a.body - a.raw) + n)
				a.status = -1;
		}
	}
	return a;
}

static struct answer ask(struct mmds_store *s, const char *req)
{
	return ask_n(s, req, strlen(req));
}

static void done(struct answer *a)
{
	free(a->raw);
}

TEST(imds_object_listing_sorted_with_slashes)
{
	struct mmds_store *s = new_store("V1");
	struct answer a;

	REQUIRE_NOT_NULL(s);
	a = ask(s, "GET /latest/meta-data/ HTTP/1.1\r\nHost: 169.254.169.254\r\nAccept: */*\r\n\r\n");
	CHECK_EQ_INT(a.r, 1);
	CHECK_EQ_INT(a.status, 200);
	CHECK_STR_EQ(a.body, "ami-id\ncount\nflag\nlist\nnetwork/\nreservation-id");
	CHECK_STR_CONTAINS(a.raw, "Content-Type: text/plain\r\n");
	CHECK(!a.close);
	done(&a);
	a = ask(s, "GET /latest HTTP/1.1\r\n\r\n");
	CHECK_STR_EQ(a.body, "meta-data/");
	done(&a);
	a = ask(s, "GET / HTTP/1.1\r\n\r\n");
	CHECK_STR_EQ(a.body, "empty/\nlatest/");
	done(&a);
	a = ask(s, "GET /empty HTTP/1.1\r\n\r\n");
	CHECK_EQ_INT(a.status, 200);
	CHECK_STR_EQ(a.body, "");
	done(&a);
	mmds_store_free(s);
}

TEST(imds_string_is_the_raw_value)
{
	struct mmds_store *s = new_store("V1");
	struct answer a;

	REQUIRE_NOT_NULL(s);
	a = ask(s, "GET /latest/meta-data/ami-id HTTP/1.1\r\n\r\n");
	CHECK_EQ_INT(a.status, 200);
	CHECK_STR_EQ(a.body, "ami-87654321");
	done(&a);
	mmds_store_free(s);
}

TEST(imds_other_types_are_501_but_json_works)
{
	struct mmds_store *s = new_store("V1");
	static const char *const paths[] = { "count", "list", "flag" };
	static const char *const json[] = { "3", "[\"a\"]", "false" };

	REQUIRE_NOT_NULL(s);
	for (unsigned int i = 0; i < ARRAY_LEN(paths); i++) {
		char req[128];
		struct answer a;

		snprintf(req, sizeof(req), "GET /latest/meta-data/%s HTTP/1.1\r\n\r\n", paths[i]);
		a = ask(s, req);
		CHECK_EQ_INT(a.status, 501);
		done(&a);
		snprintf(req, sizeof(req), "GET /latest/meta-data/%s HTTP/1.1\r\n"
			 "Accept: application/json\r\n\r\n", paths[i]);
		a = ask(s, req);
		CHECK_EQ_INT(a.status, 200);
		CHECK_STR_EQ(a.body, json[i]);
		CHECK_STR_CONTAINS(a.raw, "Content-Type: application/json\r\n");
		done(&a);
	}
	mmds_store_free(s);
}

TEST(json_format)
{
	struct mmds_store *s = new_store("V1");
	struct answer a;

	REQUIRE_NOT_NULL(s);
	a = ask(s, "GET /latest/meta-data/ami-id HTTP/1.1\r\naccept: application/json\r\n\r\n");
	CHECK_EQ_INT(a.status, 200);
	CHECK_STR_EQ(a.body, "\"ami-87654321\"");
	done(&a);
	a = ask(s, "GET /latest/meta-data/network HTTP/1.1\r\n"
		   "Accept: application/json; charset=utf-8\r\n\r\n");
	CHECK_STR_EQ(a.body, "{\"interfaces\":{}}");
	done(&a);
	a = ask(s, "GET /latest/meta-data/network HTTP/1.1\r\nAccept: text/plain\r\n\r\n");
	CHECK_STR_EQ(a.body, "interfaces/");
	done(&a);
	mmds_store_free(s);
}

TEST(not_found)
{
	struct mmds_store *s = new_store("V1");
	struct mmds_store *empty = mmds_store_new();
	struct answer a;

	REQUIRE_NOT_NULL(s);
	REQUIRE_NOT_NULL(empty);
	a = ask(s, "GET /latest/user-data HTTP/1.1\r\n\r\n");
	CHECK_EQ_INT(a.status, 404);
	CHECK_STR_CONTAINS(a.body, "/latest/user-data");
	CHECK(!a.close);
	done(&a);
	a = ask(s, "GET /latest/meta-data/ami-id/deeper HTTP/1.1\r\n\r\n");
	CHECK_EQ_INT(a.status, 404);
	done(&a);
	a = ask(empty, "GET / HTTP/1.1\r\n\r\n");
	CHECK_EQ_INT(a.status, 404);
	done(&a);
	mmds_store_free(empty);
	mmds_store_free(s);
}

TEST(methods_other_than_get_and_put_are_405)
{
	static const char *const m[] = { "POST", "DELETE", "PATCH", "HEAD", "OPTIONS", "FOO" };
	struct mmds_store *s = new_store("V2");

	REQUIRE_NOT_NULL(s);
	for (unsigned int i = 0; i < ARRAY_LEN(m); i++) {
		char req[128];
		struct answer a;

		snprintf(req, sizeof(req), "%s /latest/meta-data HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
			 m[i]);
		a = ask(s, req);
		if (!CHECK_EQ_INT(a.status, 405))
			FAIL("%s", m[i]);
		CHECK_STR_CONTAINS(a.raw, "Allow: GET, PUT\r\n");
		done(&a);
	}
	mmds_store_free(s);
}

static void get_token(struct mmds_store *s, const char *hdr, unsigned int ttl, char *tok)
{
	char req[256];
	struct answer a;

	tok[0] = '\0';
	snprintf(req, sizeof(req), "PUT /latest/api/token HTTP/1.1\r\n%s: %u\r\n\r\n", hdr, ttl);
	a = ask(s, req);
	if (CHECK_EQ_INT(a.status, 200) && CHECK_EQ_U64(strlen(a.body), MMDS_TOKEN_LEN))
		strcpy(tok, a.body);
	done(&a);
}

TEST(v2_needs_a_token)
{
	struct mmds_store *s = new_store("V2");
	char tok[MMDS_TOKEN_LEN + 1], req[256];
	struct answer a;

	REQUIRE_NOT_NULL(s);
	a = ask(s, "GET /latest/meta-data/ami-id HTTP/1.1\r\n\r\n");
	CHECK_EQ_INT(a.status, 401);
	done(&a);
	a = ask(s, "GET /latest/meta-data/ami-id HTTP/1.1\r\nX-metadata-token: nope\r\n\r\n");
	CHECK_EQ_INT(a.status, 401);
	done(&a);

	get_token(s, "X-metadata-token-ttl-seconds", 60, tok);
	REQUIRE(tok[0]);
	snprintf(req, sizeof(req), "GET /latest/meta-data/ami-id HTTP/1.1\r\nX-metadata-token: %s\r\n\r\n",
		 tok);
	a = ask(s, req);
	CHECK_EQ_INT(a.status, 200);
	CHECK_STR_EQ(a.body, "ami-87654321");
	done(&a);
	snprintf(req, sizeof(req), "GET /latest HTTP/1.1\r\nx-aws-ec2-metadata-token:  %s \r\n\r\n",
		 tok);
	a = ask(s, req);
	CHECK_EQ_INT(a.status, 200);
	done(&a);

	fake_now += 60 * 1000;   /* expired */
	snprintf(req, sizeof(req), "GET /latest HTTP/1.1\r\nX-metadata-token: %s\r\n\r\n", tok);
	a = ask(s, req);
	CHECK_EQ_INT(a.status, 401);
	done(&a);

	get_token(s, "X-aws-ec2-metadata-token-ttl-seconds", 1, tok);
	REQUIRE(tok[0]);
	snprintf(req, sizeof(req), "GET /latest HTTP/1.1\r\nX-metadata-token: %s\r\n\r\n", tok);
	a = ask(s, req);
	CHECK_EQ_INT(a.status, 200);
	done(&a);
	mmds_store_free(s);
}

TEST(v1_serves_with_or_without_a_token)
{
	struct mmds_store *s = new_store("V1");
	char tok[MMDS_TOKEN_LEN + 1], req[256];
	struct answer a;

	REQUIRE_NOT_NULL(s);
	a = ask(s, "GET /latest/meta-data/ami-id HTTP/1.1\r\n\r\n");
	CHECK_EQ_INT(a.status, 200);
	done(&a);
	/* As Firecracker's V1: an invalid token does not break existing workloads. */
	a = ask(s, "GET /latest/meta-data/ami-id HTTP/1.1\r\nX-metadata-token: bogus\r\n\r\n");
	CHECK_EQ_INT(a.status, 200);
	done(&a);
	get_token(s, "X-metadata-token-ttl-seconds", 5, tok);   /* sessions work in V1 too */
	REQUIRE(tok[0]);
	snprintf(req, sizeof(req), "GET /latest HTTP/1.1\r\nX-metadata-token: %s\r\n\r\n", tok);
	a = ask(s, req);
	CHECK_EQ_INT(a.status, 200);
	done(&a);
	mmds_store_free(s);
}

TEST(token_request_validation)
{
	static const char *const bad[] = {
		"PUT /latest/api/token HTTP/1.1\r\n\r\n",
		"PUT /latest/api/token HTTP/1.1\r\nX-metadata-token-ttl-seconds: 0\r\n\r\n",
		"PUT /latest/api/token HTTP/1.1\r\nX-metadata-token-ttl-seconds: 21601\r\n\r\n",
		"PUT /latest/api/token HTTP/1.1\r\nX-metadata-token-ttl-seconds: -1\r\n\r\n",
		"PUT /latest/api/token HTTP/1.1\r\nX-metadata-token-ttl-seconds: 1e3\r\n\r\n",
		"PUT /latest/api/token HTTP/1.1\r\nX-metadata-token-ttl-seconds:\r\n\r\n",
		"PUT /latest/api/token HTTP/1.1\r\nX-metadata-token-ttl-seconds: 99999999999999999999\r\n\r\n",
		"PUT /latest/api/token HTTP/1.1\r\nX-metadata-token-ttl-seconds: 60\r\n"
		"X-Forwarded-For: 10.0.0.1\r\n\r\n",
	};
	struct mmds_store *s = new_store("V2");
	struct answer a;

	REQUIRE_NOT_NULL(s);
	for (unsigned int i = 0; i < ARRAY_LEN(bad); i++) {
		a = ask(s, bad[i]);
		if (!CHECK_EQ_INT(a.status, 400))
			FAIL("case %u", i);
		done(&a);
	}
	a = ask(s, "PUT /latest/api/token HTTP/1.1\r\nX-metadata-token-ttl-seconds: 21600\r\n"
		   "Content-Length: 0\r\n\r\n");
	CHECK_EQ_INT(a.status, 200);
	CHECK_STR_CONTAINS(a.raw, "X-metadata-token-ttl-seconds: 21600\r\n");
	done(&a);
	a = ask(s, "PUT /latest/meta-data HTTP/1.1\r\nX-metadata-token-ttl-seconds: 60\r\n\r\n");
	CHECK_EQ_INT(a.status, 404);
	done(&a);
	mmds_store_free(s);
}

TEST(malformed_requests)
{
	static const struct { const char *req; int status; } bad[] = {
		{ "\x01GET / HTTP/1.1\r\n\r\n", 400 },
		{ "GET / HTTP/2.0\r\n\r\n", 505 },
		{ "GET / HTTP/1.1 extra\r\n\r\n", 505 },
		{ "GET /\r\n\r\n", 400 },
		{ "GET  HTTP/1.1\r\n\r\n", 400 },
		{ "GET latest HTTP/1.1\r\n\r\n", 400 },
		{ "G(T / HTTP/1.1\r\n\r\n", 400 },
		{ "GET /a%zz HTTP/1.1\r\n\r\n", 400 },
		{ "GET /a%00b HTTP/1.1\r\n\r\n", 400 },
		{ "GET /a%4 HTTP/1.1\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nNoColon\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\n: empty\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 501 },
		{ "GET / HTTP/1.1\r\nContent-Length: 5000\r\n\r\n", 413 },
	};
	struct mmds_store *s = new_store("V1");

	REQUIRE_NOT_NULL(s);
	for (unsigned int i = 0; i < ARRAY_LEN(bad); i++) {
		struct answer a = ask(s, bad[i].req);

		CHECK_EQ_INT(a.r, 1);
		if (!CHECK_EQ_INT(a.status, bad[i].status))
			FAIL("case %u", i);
		CHECK(a.close);
		CHECK_STR_CONTAINS(a.raw, "Connection: close\r\n");
		done(&a);
	}
	mmds_store_free(s);
}

TEST(incomplete_and_too_large)
{
	struct mmds_store *s = new_store("V1");
	const char *full = "GET /latest HTTP/1.1\r\nHost: x\r\n\r\n";
	char *big;
	struct answer a;

	REQUIRE_NOT_NULL(s);
	for (size_t n = 0; n < strlen(full); n++) {
		a = ask_n(s, full, n);
		if (!CHECK_EQ_INT(a.r, 0))
			FAIL("prefix %zu", n);
		CHECK_EQ_U64(a.consumed, 0);
		done(&a);
	}
	a = ask(s, "GET / HTTP/1.1\r\nContent-Length: 4\r\n\r\nab");
	CHECK_EQ_INT(a.r, 0);          /* the body is still coming */
	done(&a);
	big = malloc(MMDS_HTTP_MAX_REQUEST + 1);
	REQUIRE_NOT_NULL(big);
	memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
	memset(big + 19, 'a', MMDS_HTTP_MAX_REQUEST - 19);
	a = ask_n(s, big, MMDS_HTTP_MAX_REQUEST);
	CHECK_EQ_INT(a.r, 1);
	CHECK_EQ_INT(a.status, 413);
	CHECK(a.close);
	done(&a);
	a = ask_n(s, big, MMDS_HTTP_MAX_REQUEST - 1);
	CHECK_EQ_INT(a.r, 0);
	done(&a);
	free(big);
	mmds_store_free(s);
}

TEST(pipelined_requests_consume_one_at_a_time)
{
	struct mmds_store *s = new_store("V1");
	const char *two = "GET /latest/meta-data/ami-id HTTP/1.1\r\n\r\n"
			  "PUT /x HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"
			  "GET /latest HTTP/1.1\r\n\r\n";
	size_t first = strlen("GET /latest/meta-data/ami-id HTTP/1.1\r\n\r\n");
	size_t second = strlen("PUT /x HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc");
	struct answer a;

	REQUIRE_NOT_NULL(s);
	a = ask(s, two);
	CHECK_EQ_INT(a.status, 200);
	CHECK_EQ_U64(a.consumed, first);
	done(&a);
	a = ask(s, two + first);
	CHECK_EQ_INT(a.status, 404);
	CHECK_EQ_U64(a.consumed, second);
	done(&a);
	a = ask(s, two + first + second);
	CHECK_STR_EQ(a.body, "meta-data/");
	done(&a);
	mmds_store_free(s);
}

TEST(connection_persistence)
{
	struct mmds_store *s = new_store("V1");
	struct answer a;

	REQUIRE_NOT_NULL(s);
	a = ask(s, "GET /latest HTTP/1.1\r\nConnection: close\r\n\r\n");
	CHECK(a.close);
	CHECK_STR_CONTAINS(a.raw, "Connection: close\r\n");
	done(&a);
	a = ask(s, "GET /latest HTTP/1.0\r\n\r\n");
	CHECK(a.close);
	done(&a);
	a = ask(s, "GET /latest HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
	CHECK(!a.close);
	done(&a);
	a = ask(s, "GET /latest HTTP/1.1\r\n\r\n");
	CHECK(!a.close);
	CHECK(strstr(a.raw, "Connection: close") == NULL);
	done(&a);
	mmds_store_free(s);
}

TEST(targets_queries_escapes_and_bare_newlines)
{
	struct mmds_store *s = new_store("V1");
	struct answer a;

	REQUIRE_NOT_NULL(s);
	a = ask(s, "GET /latest/meta-data/ami-id?x=1 HTTP/1.1\r\n\r\n");
	CHECK_STR_EQ(a.body, "ami-87654321");
	done(&a);
	a = ask(s, "GET /latest/meta%2ddata/ami%2Did HTTP/1.1\r\n\r\n");
	CHECK_STR_EQ(a.body, "ami-87654321");
	done(&a);
	a = ask(s, "GET http://169.254.169.254/latest HTTP/1.1\r\n\r\n");
	CHECK_STR_EQ(a.body, "meta-data/");
	done(&a);
	a = ask(s, "GET /latest HTTP/1.1\nHost: x\n\n");
	CHECK_EQ_INT(a.status, 200);
	CHECK_STR_EQ(a.body, "meta-data/");
	done(&a);
	mmds_store_free(s);
}

/* Deterministic random mutations of valid requests: always a well-formed answer or
 * "incomplete", never more consumed than given. */
TEST(random_mutations_are_answered_sanely)
{
	static const char *const seeds[] = {
		"GET /latest/meta-data/ HTTP/1.1\r\nAccept: application/json\r\n\r\n",
		"PUT /latest/api/token HTTP/1.1\r\nX-metadata-token-ttl-seconds: 60\r\n\r\n",
		"GET /latest HTTP/1.0\r\nContent-Length: 3\r\nConnection: keep-alive\r\n\r\nabc",
	};
	struct mmds_store *s = new_store("V2");
	uint64_t rng = 0x1234567;
	char buf[256];
	int bad = 0;

	REQUIRE_NOT_NULL(s);
	for (int iter = 0; iter < 20000; iter++) {
		const char *seed = seeds[iter % 3];
		size_t n = strlen(seed);
		struct answer a;

		memcpy(buf, seed, n);
		for (int k = 0; k < 1 + (int)(test_rand(&rng) % 4); k++)
			buf[test_rand(&rng) % n] = (char)test_rand(&rng);
		if (test_rand(&rng) % 4 == 0)
			n = test_rand(&rng) % n;
		a = ask_n(s, buf, n);
		if (a.r == 1 && (a.status < 200 || a.status > 505 || a.consumed > n))
			bad++;
		if (a.r != 0 && a.r != 1)
			bad++;
		done(&a);
	}
	CHECK_EQ_INT(bad, 0);
	mmds_store_free(s);
}
