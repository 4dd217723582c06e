/* The guest side of MMDS: one HTTP/1.x request (bytes from the guest's TCP stream) in,
 * one response out, as Firecracker's MMDS answers them:
 *
 *   GET <path>                 the value at path (a JSON pointer into the store). With
 *                              "Accept: application/json": JSON; otherwise IMDS text
 *                              (a string's raw value; an object's keys one per line,
 *                              "key/" when the value is an object; other types: 501).
 *                              Under V2 it needs a valid X-metadata-token (or
 *                              X-aws-ec2-metadata-token), else 401. Under V1 a token is
 *                              not required and, as in Firecracker, not checked.
 *   PUT /latest/api/token      a new session token valid for X-metadata-token-ttl-seconds
 *                              (or X-aws-ec2-metadata-token-ttl-seconds, 1..21600);
 *                              400 if it is missing or invalid or X-Forwarded-For is set.
 *   anything else              405 (with Allow: GET, PUT); PUT elsewhere: 404.
 *
 * The request is bounded (MMDS_HTTP_MAX_REQUEST bytes, headers and body); a larger one
 * is 413, a malformed one 400, Transfer-Encoding 501, an HTTP version other than 1.0
 * and 1.1 505; after those the connection closes. Pure function over a buffer: fuzzed. */
#ifndef EMBER_MMDS_MMDS_HTTP_H
#define EMBER_MMDS_MMDS_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "mmds/mmds_store.h"

#define MMDS_HTTP_MAX_REQUEST 4096

struct mmds_http_response {
	char *data;     /* malloc'd status line, headers and body */
	size_t len;
	int status;
	bool close;     /* close the connection after sending it */
};

/* Looks for one request at the start of buf[0..len).
 *   1: answered: *resp filled (free resp->data), *consumed bytes of buf used;
 *   0: incomplete, read more (only while len < MMDS_HTTP_MAX_REQUEST);
 *   -ENOMEM. */
int mmds_http_handle(struct mmds_store *s, const char *buf, size_t len, size_t *consumed,
		     struct mmds_http_response *resp);

#endif
