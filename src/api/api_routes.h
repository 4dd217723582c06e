/* The API's routes: Firecracker's paths, bodies, status codes and error shape
 * ({"fault_message": "..."}). Independent of sockets and of the VM (it talks to them
 * through api_ops), so it is unit tested and fuzzed. Before the VM starts (pre-boot) the
 * configuration routes fill ops->config and PUT /actions InstanceStart starts the VM;
 * afterwards those are refused with 400, as in Firecracker. */
#ifndef EMBER_API_API_ROUTES_H
#define EMBER_API_API_ROUTES_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "api/http.h"

struct fc_config;
struct fc_logger;
struct mmds_store;

/* Request counters, in Firecracker's metrics groups (get_/put_/patch_api_requests). */
enum api_counter {
	AC_GET_INSTANCE_INFO, AC_GET_MACHINE_CFG, AC_GET_MMDS, AC_GET_VMM_VERSION,
	AC_PUT_ACTIONS, AC_PUT_BOOT_SOURCE, AC_PUT_DRIVE, AC_PUT_LOGGER, AC_PUT_MACHINE_CFG,
	AC_PUT_METRICS, AC_PUT_NETWORK, AC_PUT_MMDS, AC_PUT_VSOCK, AC_PUT_ENTROPY,
	AC_PATCH_DRIVE, AC_PATCH_NETWORK, AC_PATCH_MACHINE_CFG, AC_PATCH_MMDS, AC_PATCH_VM,
	AC_NONE, AC_N = AC_NONE,
};

struct api_counters {
	uint64_t count[AC_N], fails[AC_N];
};

struct api_ops {
	void *ctx;
	const char *id;                     /* instance id */
	const char *version;                /* reported version; NULL: EMBER_VERSION */
	const char *(*state)(void *ctx);    /* "Not started", "Running", "Paused" */
	int (*pause)(void *ctx);
	int (*resume)(void *ctx);
	int (*ctrl_alt_del)(void *ctx);
	/* The VM's configuration as a JSON object string (caller frees). */
	char *(*vm_config)(void *ctx);

	/* Pre-boot. config NULL: no configuration routes (every one is a 400). */
	struct fc_config *config;
	bool (*started)(void *ctx);         /* NULL: always started */
	/* Open the log file / metrics file a validated PUT names: 0 or -errno + err_msg. */
	int (*apply_logger)(void *ctx, const struct fc_logger *l);
	int (*apply_metrics)(void *ctx, const char *path);
	/* -ENOENT when no metrics file is configured. */
	int (*flush_metrics)(void *ctx);
	/* Builds and starts the VM from config: 0 or -errno + err_msg. */
	int (*instance_start)(void *ctx);
	struct api_counters *counters;      /* NULL: not counted */

	/* The MMDS data store GET/PUT/PATCH /mmds work on (before and after boot), or NULL
	 * (NULL function too): then they work on config->mmds. */
	struct mmds_store *(*mmds)(void *ctx);
	/* After boot, PATCH /drives/{id} with a path_on_host: swaps the running disk's
	 * backing file (config->drives[] is updated by the callee). 0 or -errno + err_msg.
	 * NULL: drive updates are refused. */
	int (*patch_drive)(void *ctx, const char *id, const char *path);
};

/* Handles one request: *status and *body (JSON, malloc'd, or NULL for no body). */
void api_handle(const struct api_ops *ops, const struct http_request *req, int *status,
		char **body);

/* {"fault_message": msg}, malloc'd. */
char *api_fault(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The configuration routes (api_preboot.c). Returns false if path/method is not one of
 * them (the caller answers "Invalid request method and/or path"). path has no query
 * string or trailing slash. *counter gets the request's api_counter. */
bool api_preboot_handle(const struct api_ops *ops, const char *method, const char *path,
			const struct http_request *req, int *status, char **body, int *counter);

/* Shared by api_routes.c and api_preboot.c. */
#define API_MSG_POST_BOOT "The requested operation is not supported after starting the microVM."
#define API_MSG_PRE_BOOT "The requested operation is not supported before starting the microVM."
bool api_started(const struct api_ops *ops);
/* Parses a JSON body; on failure sets a 400 and returns NULL. object: must be an object. */
json_t *api_parse_body(const struct http_request *req, bool object, int *status, char **body);

#endif
