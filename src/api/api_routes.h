/* The API's routes: Firecracker's paths, bodies, status codes and error shape
 * ({"fault_message": "..."}), for the subset Ember serves. Independent of sockets and of
 * the VM (it talks to them through api_ops), so it is unit tested and fuzzed. */
#ifndef EMBER_API_API_ROUTES_H
#define EMBER_API_API_ROUTES_H

#include "api/http.h"

struct api_ops {
	void *ctx;
	const char *id;                     /* instance id */
	const char *(*state)(void *ctx);    /* "Running", "Paused" */
	int (*pause)(void *ctx);
	int (*resume)(void *ctx);
	int (*ctrl_alt_del)(void *ctx);
	/* The VM's configuration as a JSON object string (caller frees). */
	char *(*vm_config)(void *ctx);
};

/* Handles one request: *status and *body (JSON, malloc'd, or NULL for no body). */
void api_handle(const struct api_ops *ops, const struct http_request *req, int *status,
		char **body);

/* {"fault_message": msg}, malloc'd. */
char *api_fault(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
