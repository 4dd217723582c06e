/* libFuzzer target: every configuration endpoint's JSON body, and --config-file
 * documents, through api_handle with a real fc_config (src/api/api_preboot.c,
 * src/config/fc_config*.c) and a fake VM.
 *
 * Input: records [endpoint byte][length hi][length lo][body], applied in order to one
 * configuration (so replacements, the root-device rule and the limits are reached);
 * endpoint 0xff feeds the rest of the input to fc_config_parse as a --config-file.
 * Checks: every answer is 200/204/400; 204 has no body, the others a JSON body, a 400
 * exactly {"fault_message"}; the configuration stays within its limits and its GET
 * /vm/config shape; the command line it builds is a bounded string. Inputs of odd length
 * run with a live MMDS store (as a session has) and a drive-swap hook; then the store's
 * JSON stays an object within its limit. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_routes.h"
#include "config/fc_config.h"
#include "mmds/mmds_store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ASSERT(c)                                                                      \
	do {                                                                           \
		if (!(c)) {                                                            \
			fprintf(stderr, "fuzz_fc_api: %s:%d: assertion failed: %s\n",  \
				__FILE__, __LINE__, #c);                               \
			abort();                                                       \
		}                                                                      \
	} while (0)

static const struct { const char *method, *path; } endpoints[] = {
	{ "PUT", "/boot-source" }, { "PUT", "/machine-config" }, { "PATCH", "/machine-config" },
	{ "PUT", "/drives/rootfs" }, { "PUT", "/drives/d1" }, { "PATCH", "/drives/rootfs" },
	{ "PUT", "/network-interfaces/eth0" }, { "PUT", "/network-interfaces/eth1" },
	{ "PATCH", "/network-interfaces/eth0" }, { "PUT", "/vsock" }, { "PUT", "/logger" },
	{ "PUT", "/metrics" }, { "PUT", "/mmds" }, { "PATCH", "/mmds" }, { "PUT", "/mmds/config" },
	{ "PUT", "/entropy" }, { "PUT", "/actions" }, { "PATCH", "/vm" }, { "GET", "/vm/config" },
	{ "GET", "/machine-config" }, { "GET", "/mmds" }, { "GET", "/" }, { "PUT", "/balloon" },
};

static struct fc_config cfg;
static bool started;
static struct mmds_store *store;

static struct mmds_store *f_mmds(void *ctx) { (void)ctx; return store; }

/* The swap "fails" for paths starting with 'x', as a missing file would. */
static int f_patch_drive(void *ctx, const char *id, const char *path)
{
	(void)ctx;
	ASSERT(id && path && path[0]);
	return path[0] == 'x' ? -2 : 0;
}

static const char *f_state(void *ctx) { (void)ctx; return started ? "Running" : "Not started"; }
static int f_ok(void *ctx) { (void)ctx; return 0; }
static bool f_started(void *ctx) { (void)ctx; return started; }
static int f_logger(void *ctx, const struct fc_logger *l) { (void)ctx; (void)l; return 0; }
static int f_metrics(void *ctx, const char *p) { (void)ctx; (void)p; return 0; }
static int f_flush(void *ctx) { (void)ctx; return cfg.metrics_path ? 0 : -2; }

static char *f_config(void *ctx)
{
	json_t *o = fc_config_to_json(&cfg, NULL);
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;

	(void)ctx;
	json_decref(o);
	return s;
}

static int f_start(void *ctx)
{
	struct vm_config vc;
	char *cl = NULL;
	int r;

	(void)ctx;
	memset(&vc, 0, sizeof(vc));
	r = fc_config_to_vm_config(&cfg, &vc, &cl);
	if (r == 0) {
		ASSERT(cl && strlen(cl) < 8192);
		ASSERT(vc.ndisks <= VM_MAX_DISKS && vc.nnets <= VM_MAX_NETS);
		started = true;
	}
	free(cl);
	return r;
}

static void check_config(void)
{
	json_t *o = fc_config_to_json(&cfg, NULL);
	unsigned int roots = 0;

	ASSERT(cfg.ndrives <= VM_MAX_DISKS && cfg.nnets <= VM_MAX_NETS);
	ASSERT(cfg.vcpus >= 1 && cfg.vcpus <= FC_MAX_VCPUS && cfg.mem_mib >= 2);
	for (unsigned int i = 0; i < cfg.ndrives; i++)
		roots += cfg.drives[i].root;
	ASSERT(roots <= 1);
	ASSERT(o && json_object_size(o) == 9);
	json_decref(o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct api_ops ops = {
		.id = "fuzz", .state = f_state, .pause = f_ok, .resume = f_ok, .ctrl_alt_del = f_ok,
		.vm_config = f_config, .config = &cfg, .started = f_started,
		.apply_logger = f_logger, .apply_metrics = f_metrics, .flush_metrics = f_flush,
		.instance_start = f_start,
	};
	static const struct api_ops ops_live = {
		.id = "fuzz", .state = f_state, .pause = f_ok, .resume = f_ok, .ctrl_alt_del = f_ok,
		.vm_config = f_config, .config = &cfg, .started = f_started,
		.apply_logger = f_logger, .apply_metrics = f_metrics, .flush_metrics = f_flush,
		.instance_start = f_start, .mmds = f_mmds, .patch_drive = f_patch_drive,
	};
	const struct api_ops *o = size % 2 ? &ops_live : &ops;
	size_t off = 0;

	fc_config_init(&cfg);
	started = false;
	store = size % 2 ? mmds_store_new() : NULL;
	if (store)
		ASSERT(mmds_store_set_limit(store, 1024) == 0);
	for (int rec = 0; rec < 32 && off + 3 <= size; rec++) {
		uint8_t sel = data[off];
		size_t len = (size_t)data[off + 1] << 8 | data[off + 2];
		struct http_request req;
		int status = 0;
		char *body = NULL;

		off += 3;
		if (sel == 0xff) {
			(void)fc_config_parse(&cfg, (const char *)data + off, size - off, "fuzz.json");
			check_config();
			break;
		}
		if (len > size - off)
			len = size - off;
		memset(&req, 0, sizeof(req));
		snprintf(req.method, sizeof(req.method), "%s",
			 endpoints[sel % (sizeof(endpoints) / sizeof(endpoints[0]))].method);
		snprintf(req.path, sizeof(req.path), "%s",
			 endpoints[sel % (sizeof(endpoints) / sizeof(endpoints[0]))].path);
		req.body = (const char *)data + off;
		req.body_len = len;
		off += len;
		api_handle(o, &req, &status, &body);
		ASSERT(status == 200 || status == 204 || status == 400);
		ASSERT((status == 204) == (body == NULL));
		if (body) {
			json_t *j = json_loads(body, 0, NULL);

			ASSERT(j && json_is_object(j));
			if (status == 400)
				ASSERT(json_object_size(j) == 1 &&
				       json_is_string(json_object_get(j, "fault_message")));
			json_decref(j);
		}
		free(body);
		check_config();
	}
	if (store) {
		char *all = mmds_store_get_json(store);
		json_t *j = all ? json_loads(all, 0, NULL) : NULL;

		ASSERT(j && json_is_object(j) && strlen(all) <= 1024);
		ASSERT(cfg.mmds == NULL);   /* the store is the only copy */
		json_decref(j);
		free(all);
		mmds_store_free(store);
		store = NULL;
	}
	fc_config_free(&cfg);
	return 0;
}
