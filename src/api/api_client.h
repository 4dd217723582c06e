/* A minimal HTTP/1.1 client for a VM's API socket: one request, one response, bounded in
 * size and time. Used by the supervisor and the fleet commands. */
#ifndef EMBER_API_API_CLIENT_H
#define EMBER_API_API_CLIENT_H

#include <stddef.h>

/* Sends method path (with an optional JSON body) to the socket at sock_path; waits at
 * most timeout_ms. Returns the HTTP status (>= 100) with *body (malloc'd, NUL-terminated,
 * may be empty) or -errno with err_msg. */
int api_call(const char *sock_path, const char *method, const char *path, const char *json,
	     int timeout_ms, char **body);

#endif
