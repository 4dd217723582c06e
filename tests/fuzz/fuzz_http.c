/* libFuzzer target: the API's HTTP parser and routes on arbitrary bytes, as a client
 * would send them on the socket: requests are parsed one after another (pipelining) and
 * each complete one is routed to a fake VM. Checks: consumed bytes are within the input
 * and progress, a bad request has a 4xx/5xx status and a reason, every answer's body (if
 * any) is JSON, and every response fits the formatter. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_routes.h"
#include "api/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ASSERT(c)                                                                      \
	do {                                                                           \
		if (!(c)) {                                                            \
			fprintf(stderr, "fuzz_http: %s:%d: assertion failed: %s\n",    \
				__FILE__, __LINE__, #c);                               \
			abort();                                                       \
		}                                                                      \
	} while (0)

static int paused;

static const char *fake_state(void *ctx) { (void)ctx; return paused ? "Paused" : "Running"; }
static int fake_pause(void *ctx) { (void)ctx; paused = 1; return 0; }
static int fake_resume(void *ctx) { (void)ctx; paused = 0; return 0; }
static int fake_cad(void *ctx) { (void)ctx; return 0; }
static char *fake_config(void *ctx) { (void)ctx; return strdup("{\"machine-config\":{}}"); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct api_ops ops = {
		.id = "fuzz", .state = fake_state, .pause = fake_pause, .resume = fake_resume,
		.ctrl_alt_del = fake_cad, .vm_config = fake_config,
	};
	static char out[HTTP_MAX_BODY + 1024];
	const char *buf = (const char *)data;
	size_t off = 0;

	while (off < size) {
		struct http_request req;
		size_t used = 0;
		int status = 0;
		const char *reason = NULL;
		enum http_parse r = http_parse_request(buf + off, size - off, &req, &used, &status,
						       &reason);

		if (r == HTTP_INCOMPLETE)
			break;
		if (r == HTTP_BAD) {
			ASSERT(status >= 400 && status < 600 && reason && *reason);
			break;
		}
		ASSERT(used > 0 && used <= size - off);
		ASSERT(req.body_len <= HTTP_MAX_BODY);
		ASSERT(!req.body_len || (req.body >= buf + off && req.body + req.body_len <= buf + off + used));
		{
			char *body = NULL;
			json_error_t e;

			api_handle(&ops, &req, &status, &body);
			ASSERT(status == 200 || status == 204 || status == 400 || status == 500);
			ASSERT((status == 204) == (body == NULL));
			if (body) {
				json_t *j = json_loads(body, 0, &e);

				ASSERT(j);
				json_decref(j);
			}
			ASSERT(http_format_response(out, sizeof(out), status, NULL, body,
						    body ? strlen(body) : 0, req.keep_alive) > 0);
			free(body);
		}
		off += used;
	}
	return 0;
}
