/* libFuzzer target: MMDS's guest-facing HTTP handler (src/mmds/mmds_http.c) and the
 * store's merge patch, on arbitrary bytes.
 *
 * Input: one flags byte, then the data. Flags bit 0: MMDS V2 (else V1). Bit 2: the data
 * is a JSON merge patch for the store (then its result must still be JSON within the
 * limit). Otherwise the data is a stream of pipelined requests; every "$T" in it is
 * replaced by a valid session token made beforehand, so the fuzzer reaches the V2
 * success paths. Checks: "incomplete" only below the request limit; consumed bytes within
 * the input and progressing; every response has a status line matching its status, a
 * Content-Length equal to its body, and a status MMDS is documented to answer. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mmds/mmds_http.h"
#include "mmds/mmds_store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ASSERT(c)                                                                      \
	do {                                                                           \
		if (!(c)) {                                                            \
			fprintf(stderr, "fuzz_mmds_http: %s:%d: assertion failed: %s\n", \
				__FILE__, __LINE__, #c);                               \
			abort();                                                       \
		}                                                                      \
	} while (0)

static const char STORE[] =
	"{\"latest\":{\"meta-data\":{\"ami-id\":\"ami-1\",\"n\":[1,\"two\",{\"x\":null}],"
	"\"net\":{\"if\":{\"mac\":\"02:00:00:00:00:01\"}},\"f\":1.5,\"t\":true},"
	"\"user-data\":\"#!/bin/sh\\necho hi\\n\"},\"a/b\":{\"~\":\"tilde\"}}";

static void check_response(const struct mmds_http_response *r)
{
	char line[16];
	const char *cl, *body;
	size_t n;

	ASSERT(r->data && r->len > 0);
	ASSERT(r->data[r->len] == '\0');
	snprintf(line, sizeof(line), "HTTP/1.1 %d ", r->status);
	ASSERT(strncmp(r->data, line, strlen(line)) == 0);
	ASSERT(r->status == 200 || r->status == 400 || r->status == 401 || r->status == 404 ||
	       r->status == 405 || r->status == 413 || r->status == 500 || r->status == 501 ||
	       r->status == 505);
	body = strstr(r->data, "\r\n\r\n");
	ASSERT(body);
	body += 4;
	cl = strstr(r->data, "\r\nContent-Length: ");
	ASSERT(cl && cl < body);
	n = strtoul(cl + 18, NULL, 10);
	ASSERT((size_t)(body - r->data) + n == r->len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mmds_store *s;
	char tok[MMDS_TOKEN_LEN + 1];
	char *buf;
	size_t len = 0, off = 0;

	if (size < 1)
		return 0;
	s = mmds_store_new();
	ASSERT(s);
	ASSERT(mmds_store_put_json(s, STORE, strlen(STORE), NULL, 0) == 0);
	ASSERT(mmds_config_set(s, (data[0] & 1) ? "V2" : "V1", NULL, NULL, 0) == 0);

	if (data[0] & 4) {
		char err[256];
		int r = mmds_store_patch_json(s, (const char *)data + 1, size - 1, err, sizeof(err));
		char *j = mmds_store_get_json(s);
		json_t *v;

		ASSERT(r == 0 || r == -EINVAL || r == -EFBIG || r == -ENOMEM);
		ASSERT(j);
		ASSERT(strlen(j) <= MMDS_DEFAULT_LIMIT);
		v = json_loads(j, 0, NULL);
		ASSERT(json_is_object(v));
		json_decref(v);
		free(j);
		mmds_store_free(s);
		return 0;
	}

	ASSERT(mmds_token_new(s, 60, tok) == 0);
	/* Expand "$T" into the token. */
	buf = malloc((size - 1) * (MMDS_TOKEN_LEN / 2) + 1);
	ASSERT(buf);
	for (size_t i = 1; i < size; i++) {
		if (data[i] == '$' && i + 1 < size && data[i + 1] == 'T') {
			memcpy(buf + len, tok, MMDS_TOKEN_LEN);
			len += MMDS_TOKEN_LEN;
			i++;
		} else {
			buf[len++] = (char)data[i];
		}
	}

	while (off < len) {
		struct mmds_http_response resp;
		size_t used = 0;
		int r = mmds_http_handle(s, buf + off, len - off, &used, &resp);

		ASSERT(r == 0 || r == 1);
		if (r == 0) {
			ASSERT(len - off < MMDS_HTTP_MAX_REQUEST);
			ASSERT(used == 0);
			break;
		}
		check_response(&resp);
		ASSERT(used > 0 && used <= len - off);
		off += used;
		free(resp.data);
		if (resp.close)
			break;
	}
	free(buf);
	mmds_store_free(s);
	return 0;
}
