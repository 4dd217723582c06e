/* A small HTTP/1.1 server-side parser and response writer for the API socket:
 * request line, headers, Content-Length bodies, keep-alive and pipelining. Everything
 * the client sends is bounded (line, header block, body); anything else is an error
 * with the status to answer. Pure functions over a buffer, so they are fuzzed. */
#ifndef EMBER_API_HTTP_H
#define EMBER_API_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#define HTTP_MAX_HEADER 8192      /* request line + headers */
#define HTTP_MAX_BODY (64 * 1024)
#define HTTP_MAX_PATH 256

struct http_request {
	char method[8];
	char path[HTTP_MAX_PATH];
	const char *body;        /* points into the parsed buffer */
	size_t body_len;
	bool keep_alive;
};

enum http_parse { HTTP_INCOMPLETE = 0, HTTP_COMPLETE = 1, HTTP_BAD = -1 };

/* Parses one request from buf. COMPLETE: *req filled, *consumed bytes used. BAD: *status
 * (400, 411, 413, 414, 431, 501, 505) and *reason set; the connection must be closed after
 * answering. INCOMPLETE: read more. */
enum http_parse http_parse_request(const char *buf, size_t len, struct http_request *req,
				   size_t *consumed, int *status, const char **reason);

/* Formats a response into out (at most cap bytes); returns its length or 0 if it does
 * not fit. body may be NULL (no body: 204). */
size_t http_format_response(char *out, size_t cap, int status, const char *content_type,
			    const char *body, size_t body_len, bool keep_alive);

const char *http_status_text(int status);

#endif
