/* The API socket's HTTP/1.1 request parser and response writer (src/api/http.c), on
 * buffers. Expectations from RFC 9112 (message syntax: request line, field lines,
 * Content-Length framing, persistence rules for HTTP/1.0 and 1.1) and RFC 9110 (status
 * codes), within the limits http.h documents: 8 KiB of request line and headers, 64 KiB
 * of body, 256 bytes of path, Content-Length framing only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "harness.h"
#include "api/http.h"

/* Parses a NUL-terminated buffer; the result code, with the outputs in the out-params. */
struct parsed {
	enum http_parse r;
	struct http_request req;
	size_t consumed;
	int status;
	const char *reason;
};

static struct parsed parse_n(const char *buf, size_t len)
{
	struct parsed p;

	memset(&p, 0, sizeof(p));
	p.consumed = (size_t)-1;
	p.status = -1;
	p.r = http_parse_request(buf, len, &p.req, &p.consumed, &p.status, &p.reason);
	return p;
}

static struct parsed parse(const char *s)
{
	return parse_n(s, strlen(s));
}

/* Checks that s is rejected with status st (and that a reason is given). */
#define CHECK_BAD(s, st)                                                                \
	do {                                                                            \
		struct parsed bad_ = parse(s);                                          \
		CHECK_EQ_INT(bad_.r, HTTP_BAD);                                         \
		CHECK_EQ_INT(bad_.status, (st));                                        \
		CHECK(bad_.r != HTTP_BAD || (bad_.reason && bad_.reason[0]));           \
	} while (0)

/* ---- well-formed requests ---- */

TEST(simple_get)
{
	const char *s = "GET / HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n\r\n";
	struct parsed p = parse(s);

	REQUIRE_EQ_INT(p.r, HTTP_COMPLETE);
	CHECK_STR_EQ(p.req.method, "GET");
	CHECK_STR_EQ(p.req.path, "/");
	CHECK_NULL(p.req.body);
	CHECK_EQ_U64(p.req.body_len, 0);
	CHECK(p.req.keep_alive);
	CHECK_EQ_U64(p.consumed, strlen(s));
}

TEST(request_without_headers)
{
	struct parsed p = parse("GET /version HTTP/1.1\r\n\r\n");

	REQUIRE_EQ_INT(p.r, HTTP_COMPLETE);
	CHECK_STR_EQ(p.req.path, "/version");
	CHECK_EQ_U64(p.consumed, 25);
}

TEST(bare_lf_line_endings_accepted)
{
	const char *s = "GET /vm/config HTTP/1.1\nHost: x\n\n";
	struct parsed p = parse(s);

	REQUIRE_EQ_INT(p.r, HTTP_COMPLETE);
	CHECK_STR_EQ(p.req.path, "/vm/config");
	CHECK_EQ_U64(p.consumed, strlen(s));
}

TEST(body_with_content_length)
{
	const char *s = "PATCH /vm HTTP/1.1\r\nContent-Type: application/json\r\n"
			"Content-Length: 18\r\n\r\n{\"state\":\"Paused\"}";
	struct parsed p = parse(s);

	REQUIRE_EQ_INT(p.r, HTTP_COMPLETE);
	CHECK_STR_EQ(p.req.method, "PATCH");
	CHECK_STR_EQ(p.req.path, "/vm");
	REQUIRE_NOT_NULL(p.req.body);
	CHECK_EQ_U64(p.req.body_len, 18);
	CHECK_MEM_EQ(p.req.body, "{\"state\":\"Paused\"}", 18);
	/* The body points into the caller's buffer, right after the blank line. */
	CHECK(p.req.body == s + strlen(s) - 18);
	CHECK_EQ_U64(p.consumed, strlen(s));
}

TEST(content_length_zero_means_no_body)
{
	struct parsed p = parse("PUT /actions HTTP/1.1\r\nContent-Length: 0\r\n\r\n");

	REQUIRE_EQ_INT(p.r, HTTP_COMPLETE);
	CHECK_NULL(p.req.body);
	CHECK_EQ_U64(p.req.body_len, 0);
}

TEST(header_names_case_insensitive_values_trimmed)
{
	const char *s = "PUT /actions HTTP/1.1\r\ncontent-length:   \t4 \t\r\n"
			"CONNECTION:  Close\r\n\r\nabcd";
	struct parsed p = parse(s);

	REQUIRE_EQ_INT(p.r, HTTP_COMPLETE);
	CHECK_EQ_U64(p.req.body_len, 4);
	CHECK(!p.req.keep_alive);
	CHECK_EQ_U64(p.consumed, strlen(s));
}

TEST(identical_duplicate_content_length_accepted)
{
	/* RFC 9112 6.3: identical repeated values may be taken as one. */
	struct parsed p = parse("PUT /actions HTTP/1.1\r\nContent-Length: 2\r\n"
				"Content-Length: 2\r\n\r\n{}");

	REQUIRE_EQ_INT(p.r, HTTP_COMPLETE);
	CHECK_EQ_U64(p.req.body_len, 2);
}

TEST(pipelined_requests_consumed_one_at_a_time)
{
	const char *first = "PATCH /vm HTTP/1.1\r\nContent-Length: 19\r\n\r\n{\"state\":\"Resumed\"}";
	const char *second = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	char buf[256];
	struct parsed p;

	snprintf(buf, sizeof(buf), "%s%s", first, second);
	p = parse(buf);
	REQUIRE_EQ_INT(p.r, HTTP_COMPLETE);
	CHECK_STR_EQ(p.req.method, "PATCH");
	CHECK_EQ_U64(p.req.body_len, 19);
	/* Only the first request (its body included) is consumed. */
	REQUIRE_EQ_U64(p.consumed, strlen(first));
	CHECK_MEM_EQ(p.req.body, "{\"state\":\"Resumed\"}", 19);

	p = parse(buf + strlen(first));
	REQUIRE_EQ_INT(p.r, HTTP_COMPLETE);
	CHECK_STR_EQ(p.req.method, "GET");
	CHECK_STR_EQ(p.req.path, "/");
	CHECK_EQ_U64(p.consumed, strlen(second));
}

TEST(pipelined_second_request_partial)
{
	const char *s = "GET / HTTP/1.1\r\n\r\nGET /vers";
	struct parsed p = parse(s);

	REQUIRE_EQ_INT(p.r, HTTP_COMPLETE);
	CHECK_EQ_U64(p.consumed, 18);
	p = parse(s + 18);
	CHECK_EQ_INT(p.r, HTTP_INCOMPLETE);
}

/* ---- incomplete input ---- */

TEST(incomplete_headers)
{
	static const char *const cases[] = {
		"", "G", "GET", "GET / HTTP/1.1", "GET / HTTP/1.1\r\n", "GET / HTTP/1.1\r\nHost: x",
		"GET / HTTP/1.1\r\nHost: x\r\n", "GET / HTTP/1.1\r\nHost: x\r\n\r",
	};

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct parsed p = parse(cases[i]);

		if (!CHECK_EQ_INT(p.r, HTTP_INCOMPLETE))
			FAIL("case %zu: \"%s\"", i, cases[i]);
	}
}

TEST(incomplete_body)
{
	const char *s = "PUT /actions HTTP/1.1\r\nContent-Length: 10\r\n\r\n{\"a\":";
	struct parsed p = parse(s);

	CHECK_EQ_INT(p.r, HTTP_INCOMPLETE);
	/* No body byte at all yet. */
	p = parse("PUT /actions HTTP/1.1\r\nContent-Length: 1\r\n\r\n");
	CHECK_EQ_INT(p.r, HTTP_INCOMPLETE);
}

TEST(every_prefix_of_a_request_is_incomplete)
{
	const char *s = "PATCH /vm HTTP/1.1\r\nHost: localhost\r\nContent-Length: 18\r\n\r\n"
			"{\"state\":\"Paused\"}";
	size_t n = strlen(s);

	for (size_t i = 0; i < n; i++) {
		struct parsed p = parse_n(s, i);

		if (!CHECK_EQ_INT(p.r, HTTP_INCOMPLETE))
			FAIL("prefix of %zu bytes", i);
	}
	CHECK_EQ_INT(parse_n(s, n).r, HTTP_COMPLETE);
}

/* ---- persistence (RFC 9112 9.3) ---- */

TEST(keep_alive_rules)
{
	static const struct { const char *req; int keep; } cases[] = {
		{ "GET / HTTP/1.1\r\n\r\n", 1 },
		{ "GET / HTTP/1.1\r\nConnection: close\r\n\r\n", 0 },
		{ "GET / HTTP/1.1\r\nConnection: CLOSE\r\n\r\n", 0 },
		{ "GET / HTTP/1.1\r\nConnection: keep-alive\r\n\r\n", 1 },
		{ "GET / HTTP/1.0\r\n\r\n", 0 },
		{ "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 1 },
		{ "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", 1 },
		{ "GET / HTTP/1.0\r\nConnection: close\r\n\r\n", 0 },
	};

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct parsed p = parse(cases[i].req);

		if (!CHECK_EQ_INT(p.r, HTTP_COMPLETE) ||
		    !CHECK_EQ_INT(p.req.keep_alive, cases[i].keep))
			FAIL("case %zu: %s", i, cases[i].req);
	}
}

/* ---- errors and their statuses ---- */

TEST(bad_request_line_400)
{
	CHECK_BAD("GET /\r\n\r\n", 400);              /* no version */
	CHECK_BAD("GET\r\n\r\n", 400);                /* method only */
	CHECK_BAD("\r\n\r\n", 400);                   /* empty line */
}

/* An empty method (the line starts with a space) does not match the request-line grammar:
 * RFC 9112 3 says 400, not 501 (which is for a method the server does not implement). */
TEST(regression_empty_method_is_400)
{
	CHECK_BAD(" GET / HTTP/1.1\r\n\r\n", 400);
}

/* Header names are tokens (RFC 9110 5.1); a NUL byte is not a token character. */
TEST(regression_nul_in_header_name_rejected)
{
	static const char s[] = "GET / HTTP/1.1\r\nX\0Y: 1\r\n\r\n";
	struct parsed p = parse_n(s, sizeof(s) - 1);

	CHECK_EQ_INT(p.r, HTTP_BAD);
	CHECK_EQ_INT(p.status, 400);
}

TEST(garbage_first_byte_rejected_early)
{
	/* Without waiting for a blank line: a request cannot start with this byte. */
	struct parsed p = parse("\x16\x03\x01\x02");   /* a TLS ClientHello */

	CHECK_EQ_INT(p.r, HTTP_BAD);
	CHECK_EQ_INT(p.status, 400);
}

TEST(lowercase_method_400)
{
	CHECK_BAD("get / HTTP/1.1\r\n\r\n", 400);
	CHECK_BAD("Get / HTTP/1.1\r\n\r\n", 400);
}

TEST(overlong_method_501)
{
	CHECK_BAD("VERYLONGMETHOD / HTTP/1.1\r\n\r\n", 501);
}

TEST(path_must_start_with_slash_400)
{
	CHECK_BAD("GET vm HTTP/1.1\r\n\r\n", 400);
	CHECK_BAD("GET http://localhost/ HTTP/1.1\r\n\r\n", 400);
	CHECK_BAD("GET * HTTP/1.1\r\n\r\n", 400);
	CHECK_BAD("GET  HTTP/1.1\r\n\r\n", 400);      /* empty path: two spaces */
}

TEST(path_length_limit_414)
{
	char buf[600], path[400];
	struct parsed p;

	/* HTTP_MAX_PATH - 1 characters fit (the path is stored NUL-terminated). */
	memset(path, 'a', sizeof(path));
	path[0] = '/';
	snprintf(buf, sizeof(buf), "GET %.*s HTTP/1.1\r\n\r\n", HTTP_MAX_PATH - 1, path);
	p = parse(buf);
	REQUIRE_EQ_INT(p.r, HTTP_COMPLETE);
	CHECK_EQ_U64(strlen(p.req.path), HTTP_MAX_PATH - 1);

	snprintf(buf, sizeof(buf), "GET %.*s HTTP/1.1\r\n\r\n", HTTP_MAX_PATH, path);
	CHECK_BAD(buf, 414);
	snprintf(buf, sizeof(buf), "GET %.*s HTTP/1.1\r\n\r\n", 399, path);
	CHECK_BAD(buf, 414);
}

TEST(control_characters_in_path_400)
{
	CHECK_BAD("GET /a\x01z HTTP/1.1\r\n\r\n", 400);
	CHECK_BAD("GET /a\tz HTTP/1.1\r\n\r\n", 400);
	CHECK_BAD("GET /a\x7fz HTTP/1.1\r\n\r\n", 400);
	CHECK_BAD("GET /\xc3\xa9 HTTP/1.1\r\n\r\n", 400);   /* raw non-ASCII */
	{
		/* A NUL byte in the path (parse_n: the buffer goes on after it). */
		static const char s[] = "GET /a\0b HTTP/1.1\r\n\r\n";
		struct parsed p = parse_n(s, sizeof(s) - 1);

		CHECK_EQ_INT(p.r, HTTP_BAD);
		CHECK_EQ_INT(p.status, 400);
	}
}

/* Builds a request whose line and headers take exactly total bytes (blank line included). */
static char *header_block(size_t total)
{
	const char *head = "GET / HTTP/1.1\r\nX-Pad: ";
	size_t hl = strlen(head);
	char *b = malloc(total + 1);

	if (!b)
		return NULL;
	memcpy(b, head, hl);
	memset(b + hl, 'p', total - hl - 4);
	memcpy(b + total - 4, "\r\n\r\n", 4);
	b[total] = '\0';
	return b;
}

TEST(header_block_limit_431)
{
	char *b = header_block(HTTP_MAX_HEADER);
	struct parsed p;

	REQUIRE_NOT_NULL(b);
	p = parse(b);
	CHECK_EQ_INT(p.r, HTTP_COMPLETE);   /* exactly 8 KiB fits */
	free(b);

	b = header_block(HTTP_MAX_HEADER + 1);
	REQUIRE_NOT_NULL(b);
	CHECK_BAD(b, 431);
	free(b);

	b = header_block(9 * 1024);
	REQUIRE_NOT_NULL(b);
	CHECK_BAD(b, 431);
	/* Without the blank line yet: 431 as soon as 8 KiB arrived with no end in sight. */
	p = parse_n(b, HTTP_MAX_HEADER);
	CHECK_EQ_INT(p.r, HTTP_BAD);
	CHECK_EQ_INT(p.status, 431);
	p = parse_n(b, HTTP_MAX_HEADER - 1);
	CHECK_EQ_INT(p.r, HTTP_INCOMPLETE);
	free(b);
}

TEST(body_limit_413)
{
	char buf[128];
	struct parsed p;

	/* 64 KiB is allowed: the request is only waiting for its body. */
	snprintf(buf, sizeof(buf), "PUT /actions HTTP/1.1\r\nContent-Length: %d\r\n\r\n",
		 HTTP_MAX_BODY);
	p = parse(buf);
	CHECK_EQ_INT(p.r, HTTP_INCOMPLETE);
	/* One more byte is refused at once, before any of the body is read. */
	snprintf(buf, sizeof(buf), "PUT /actions HTTP/1.1\r\nContent-Length: %d\r\n\r\n",
		 HTTP_MAX_BODY + 1);
	CHECK_BAD(buf, 413);
	CHECK_BAD("PUT /actions HTTP/1.1\r\nContent-Length: 1048576\r\n\r\n", 413);
	/* Larger than 64 bits: saturates and is still too large, not wrapped around. */
	CHECK_BAD("PUT /actions HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n", 413);
}

TEST(body_exactly_64k_complete)
{
	size_t hl;
	char *b = malloc(128 + HTTP_MAX_BODY);
	struct parsed p;

	REQUIRE_NOT_NULL(b);
	hl = (size_t)snprintf(b, 128, "PUT /actions HTTP/1.1\r\nContent-Length: %d\r\n\r\n",
			      HTTP_MAX_BODY);
	memset(b + hl, 'x', HTTP_MAX_BODY);
	p = parse_n(b, hl + HTTP_MAX_BODY);
	CHECK_EQ_INT(p.r, HTTP_COMPLETE);
	CHECK_EQ_U64(p.req.body_len, HTTP_MAX_BODY);
	CHECK_EQ_U64(p.consumed, hl + HTTP_MAX_BODY);
	free(b);
}

TEST(transfer_encoding_501)
{
	CHECK_BAD("PUT /actions HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
		  501);
	CHECK_BAD("PUT /actions HTTP/1.1\r\ntransfer-encoding: identity\r\n\r\n", 501);
	/* Together with Content-Length (a request smuggling shape): still refused. */
	CHECK_BAD("PUT /actions HTTP/1.1\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n"
		  "\r\n{}", 501);
}

TEST(unsupported_versions_505)
{
	CHECK_BAD("GET / HTTP/2.0\r\n\r\n", 505);
	CHECK_BAD("GET / HTTP/1.2\r\n\r\n", 505);
	CHECK_BAD("GET / HTTP/0.9\r\n\r\n", 505);
}

TEST(conflicting_content_length_400)
{
	CHECK_BAD("PUT /actions HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}x",
		  400);
}

TEST(invalid_content_length_400)
{
	static const char *const values[] = { "abc", "-1", "+5", "1 2", "0x10", "", "1.0",
					      "123456789012345678901234567890" };

	for (size_t i = 0; i < ARRAY_LEN(values); i++) {
		char buf[160];
		struct parsed p;

		snprintf(buf, sizeof(buf), "PUT /actions HTTP/1.1\r\nContent-Length: %s\r\n\r\n{}",
			 values[i]);
		p = parse(buf);
		if (!CHECK_EQ_INT(p.r, HTTP_BAD) || !CHECK_EQ_INT(p.status, 400))
			FAIL("Content-Length: \"%s\"", values[i]);
	}
}

TEST(malformed_header_lines_400)
{
	CHECK_BAD("GET / HTTP/1.1\r\nNoColonHere\r\n\r\n", 400);
	CHECK_BAD("GET / HTTP/1.1\r\n: empty-name\r\n\r\n", 400);
	/* RFC 9112 5.1: no whitespace between the field name and the colon. */
	CHECK_BAD("GET / HTTP/1.1\r\nContent-Length : 2\r\n\r\n{}", 400);
	/* Obsolete line folding is not accepted. */
	CHECK_BAD("GET / HTTP/1.1\r\nX-A: 1\r\n  folded\r\n\r\n", 400);
}

TEST(status_texts)
{
	static const struct { int code; const char *text; } st[] = {
		{ 200, "OK" }, { 204, "No Content" }, { 400, "Bad Request" },
		{ 404, "Not Found" }, { 405, "Method Not Allowed" }, { 411, "Length Required" },
		{ 413, "Payload Too Large" }, { 414, "URI Too Long" },
		{ 431, "Request Header Fields Too Large" }, { 500, "Internal Server Error" },
		{ 501, "Not Implemented" }, { 505, "HTTP Version Not Supported" },
	};

	for (size_t i = 0; i < ARRAY_LEN(st); i++)
		CHECK_STR_EQ(http_status_text(st[i].code), st[i].text);
}

/* ---- responses ---- */

/* The value of header name in a formatted response (headers only), or NULL. */
static const char *find_header(const char *resp, const char *name, char *val, size_t cap)
{
	const char *end = strstr(resp, "\r\n\r\n");
	size_t nl = strlen(name);

	for (const char *p = strstr(resp, "\r\n"); p && end && p < end; p = strstr(p + 2, "\r\n")) {
		const char *h = p + 2;

		if (strncasecmp(h, name, nl) == 0 && h[nl] == ':') {
			const char *v = h + nl + 1, *e = strstr(v, "\r\n");

			while (*v == ' ')
				v++;
			snprintf(val, cap, "%.*s", (int)(e - v), v);
			return val;
		}
	}
	return NULL;
}

TEST(format_204_has_no_body_and_no_content_length)
{
	char out[512], v[64];
	size_t n = http_format_response(out, sizeof(out), 204, NULL, NULL, 0, true);

	REQUIRE(n > 0 && n < sizeof(out));
	out[n] = '\0';
	CHECK(strncmp(out, "HTTP/1.1 204 No Content\r\n", 25) == 0);
	CHECK_NULL(find_header(out, "Content-Length", v, sizeof(v)));
	CHECK_NULL(find_header(out, "Content-Type", v, sizeof(v)));
	CHECK_NOT_NULL(find_header(out, "Connection", v, sizeof(v)));
	CHECK_STR_EQ(v, "keep-alive");
	/* The response ends with its blank line: nothing after it. */
	REQUIRE(n >= 4);
	CHECK_MEM_EQ(out + n - 4, "\r\n\r\n", 4);
	CHECK(strstr(out, "\r\n\r\n") == out + n - 4);
}

static void check_with_body(int status, const char *line, const char *body, bool keep)
{
	char out[1024], v[64];
	size_t bl = strlen(body), n = http_format_response(out, sizeof(out), status, NULL, body,
							    bl, keep);
	const char *sep;

	REQUIRE(n > 0 && n < sizeof(out));
	out[n] = '\0';
	CHECK(strncmp(out, line, strlen(line)) == 0);
	REQUIRE_NOT_NULL(find_header(out, "Content-Length", v, sizeof(v)));
	CHECK_EQ_U64(strtoull(v, NULL, 10), bl);
	REQUIRE_NOT_NULL(find_header(out, "Content-Type", v, sizeof(v)));
	CHECK_STR_EQ(v, "application/json");
	REQUIRE_NOT_NULL(find_header(out, "Connection", v, sizeof(v)));
	CHECK_STR_EQ(v, keep ? "keep-alive" : "close");
	sep = strstr(out, "\r\n\r\n");
	REQUIRE_NOT_NULL(sep);
	CHECK_EQ_U64((size_t)(out + n - (sep + 4)), bl);
	CHECK_STR_EQ(sep + 4, body);
}

TEST(format_200_content_length_is_body_length)
{
	check_with_body(200, "HTTP/1.1 200 OK\r\n",
			"{\"id\":\"t1\",\"state\":\"Running\",\"vmm_version\":\"0.1.0\"}", true);
}

TEST(format_400_content_length_is_body_length)
{
	check_with_body(400, "HTTP/1.1 400 Bad Request\r\n",
			"{\"fault_message\":\"unknown field `x`\"}", false);
	check_with_body(413, "HTTP/1.1 413 Payload Too Large\r\n", "{\"fault_message\":\"big\"}",
			false);
}

TEST(format_body_with_nul_bytes_counts_them)
{
	char out[256];
	size_t n = http_format_response(out, sizeof(out), 200, "application/octet-stream",
					"a\0b", 3, true);

	REQUIRE(n > 3);
	CHECK_MEM_EQ(out + n - 3, "a\0b", 3);
	out[n - 3] = '\0';
	CHECK_STR_CONTAINS(out, "Content-Length: 3\r\n");
	CHECK_STR_CONTAINS(out, "Content-Type: application/octet-stream\r\n");
}

TEST(format_non_204_without_body_says_length_zero)
{
	char out[256], v[32];
	size_t n = http_format_response(out, sizeof(out), 200, NULL, NULL, 0, false);

	REQUIRE(n > 0 && n < sizeof(out));
	out[n] = '\0';
	REQUIRE_NOT_NULL(find_header(out, "Content-Length", v, sizeof(v)));
	CHECK_STR_EQ(v, "0");
	CHECK(strstr(out, "\r\n\r\n") == out + n - 4);
}

TEST(format_too_small_buffer_returns_zero)
{
	char out[2048];
	char body[600];
	size_t full;

	memset(body, 'b', sizeof(body));
	full = http_format_response(out, sizeof(out), 200, NULL, body, sizeof(body), true);
	REQUIRE(full > sizeof(body));
	/* Exactly the response's size fits; one byte less does not, nor do tiny buffers. */
	CHECK_EQ_U64(http_format_response(out, full, 200, NULL, body, sizeof(body), true), full);
	CHECK_EQ_U64(http_format_response(out, full - 1, 200, NULL, body, sizeof(body), true), 0);
	CHECK_EQ_U64(http_format_response(out, 10, 200, NULL, body, sizeof(body), true), 0);
	CHECK_EQ_U64(http_format_response(out, 10, 204, NULL, NULL, 0, true), 0);
	CHECK_EQ_U64(http_format_response(out, 0, 204, NULL, NULL, 0, true), 0);
	/* Header fits but the body does not. */
	CHECK_EQ_U64(http_format_response(out, full - sizeof(body) + 10, 200, NULL, body,
					  sizeof(body), true), 0);
	full = http_format_response(out, sizeof(out), 204, NULL, NULL, 0, true);
	REQUIRE(full > 0);
	CHECK_EQ_U64(http_format_response(out, full - 1, 204, NULL, NULL, 0, true), 0);
}

/* http.h: "returns its length or 0 if it does not fit". A response without a body that
 * takes exactly cap bytes fits (no NUL is written after it), like one with a body does. */
TEST(regression_format_exact_fit_without_body)
{
	char out[512];
	size_t full = http_format_response(out, sizeof(out), 204, NULL, NULL, 0, true);

	REQUIRE(full > 0);
	CHECK_EQ_U64(http_format_response(out, full, 204, NULL, NULL, 0, true), full);
	full = http_format_response(out, sizeof(out), 400, NULL, NULL, 0, false);
	REQUIRE(full > 0);
	CHECK_EQ_U64(http_format_response(out, full, 400, NULL, NULL, 0, false), full);
}

/* A response written by the formatter is read back by a parser of the same rules (the
 * status line and framing a Firecracker client relies on). */
TEST(format_then_frame_round_trip)
{
	static const int codes[] = { 200, 204, 400, 413, 431, 501, 505 };

	for (size_t i = 0; i < ARRAY_LEN(codes); i++) {
		char out[512], v[32];
		const char *body = codes[i] == 204 ? NULL : "{\"fault_message\":\"m\"}";
		size_t n = http_format_response(out, sizeof(out), codes[i], NULL, body,
						body ? strlen(body) : 0, false);
		int st = 0;
		size_t hdr, clen;

		REQUIRE(n > 0 && n < sizeof(out));
		out[n] = '\0';
		CHECK_EQ_INT(sscanf(out, "HTTP/1.1 %d ", &st), 1);
		CHECK_EQ_INT(st, codes[i]);
		hdr = (size_t)(strstr(out, "\r\n\r\n") + 4 - out);
		clen = find_header(out, "Content-Length", v, sizeof(v)) ? strtoull(v, NULL, 10) : 0;
		CHECK_EQ_U64(hdr + clen, n);
	}
}
