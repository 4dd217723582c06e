/* The pre-boot route table (src/api/api_preboot.c and the InstanceStart/FlushMetrics
 * actions in api_routes.c) through api_handle with a real fc_config and a fake VM:
 * exactly 204 with no body for every accepted PUT/PATCH, 200 JSON for GETs, 400
 * {"fault_message"} for each bad request, and Firecracker's refusals of pre-boot-only
 * requests after InstanceStart and of post-boot-only ones before it. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "api/api_routes.h"
#include "config/fc_config.h"
#include "mmds/mmds_store.h"
#include "util/err.h"

struct fake {
	bool started;
	int starts, fail_start, loggers, fail_logger, metrics_opened, flushes, pauses;
	bool metrics;
};

struct fx {
	struct fake f;
	struct fc_config cfg;
	struct api_counters counters;
	struct api_ops ops;
	int status;
	char *body;
	json_t *json;
};

static const char *f_state(void *ctx)
{
	struct fx *x = ctx;

	return x->f.started ? "Running" : "Not started";
}

static int f_pause(void *ctx)
{
	((struct fx *)ctx)->f.pauses++;
	return 0;
}

static int f_ok(void *ctx)
{
	(void)ctx;
	return 0;
}

static char *f_config(void *ctx)
{
	struct fx *x = ctx;
	json_t *o = fc_config_to_json(&x->cfg, NULL);
	char *s = json_dumps(o, JSON_COMPACT);

	json_decref(o);
	return s;
}

static bool f_started(void *ctx)
{
	return ((struct fx *)ctx)->f.started;
}

static int f_logger(void *ctx, const struct fc_logger *l)
{
	struct fx *x = ctx;

	(void)l;
	x->f.loggers++;
	return x->f.fail_logger ? err_set(-EACCES, "log file /x: Permission denied") : 0;
}

static int f_metrics(void *ctx, const char *path)
{
	struct fx *x = ctx;

	(void)path;
	x->f.metrics_opened++;
	x->f.metrics = true;
	return 0;
}

static int f_flush(void *ctx)
{
	struct fx *x = ctx;

	if (!x->f.metrics)
		return -ENOENT;
	x->f.flushes++;
	return 0;
}

static int f_start(void *ctx)
{
	struct fx *x = ctx;
	struct vm_config vc;
	char *cl = NULL;
	int r;

	x->f.starts++;
	if (x->f.fail_start)
		return err_set(-ENOMEM, "cannot map guest memory");
	memset(&vc, 0, sizeof(vc));
	r = fc_config_to_vm_config(&x->cfg, &vc, &cl);
	free(cl);
	if (r < 0)
		return r;
	x->f.started = true;
	return 0;
}

static void setup(struct fx *x)
{
	memset(x, 0, sizeof(*x));
	fc_config_init(&x->cfg);
	x->ops = (struct api_ops){ .ctx = x, .id = "pre", .state = f_state, .pause = f_pause,
		.resume = f_ok, .ctrl_alt_del = f_ok, .vm_config = f_config, .config = &x->cfg,
		.started = f_started, .apply_logger = f_logger, .apply_metrics = f_metrics,
		.flush_metrics = f_flush, .instance_start = f_start, .counters = &x->counters };
}

static void done(struct fx *x)
{
	free(x->body);
	json_decref(x->json);
	x->body = NULL;
	x->json = NULL;
}

static void teardown(struct fx *x)
{
	done(x);
	fc_config_free(&x->cfg);
}

static void call(struct fx *x, const char *method, const char *path, const char *body)
{
	struct http_request req;

	done(x);
	memset(&req, 0, sizeof(req));
	snprintf(req.method, sizeof(req.method), "%s", method);
	snprintf(req.path, sizeof(req.path), "%s", path);
	req.body = body;
	req.body_len = body ? strlen(body) : 0;
	x->status = -1;
	api_handle(&x->ops, &req, &x->status, &x->body);
	if (x->body)
		x->json = json_loads(x->body, 0, NULL);
}

/* Exactly 204 and no body. */
#define CHECK_204(x)                                                                    \
	do {                                                                            \
		CHECK_EQ_INT((x)->status, 204);                                         \
		if ((x)->body)                                                          \
			FAIL("204 with a body: %s", (x)->body);                         \
	} while (0)

/* 400 whose body is exactly {"fault_message": "...needle..."}. */
static int fault_has(struct fx *x, const char *needle)
{
	const char *m = json_string_value(json_object_get(x->json, "fault_message"));

	if (x->status != 400 || !m || json_object_size(x->json) != 1)
		return FAIL("want 400 {\"fault_message\"}, got %d %s", x->status,
			    x->body ? x->body : "(none)");
	if (needle && !strstr(m, needle))
		return FAIL("fault_message \"%s\" lacks \"%s\"", m, needle);
	return 1;
}

static const char *kernel(void)
{
	static char path[64];

	if (!path[0]) {
		FILE *f;

		snprintf(path, sizeof(path), "/tmp/ember-pre-unit-%d", (int)getpid());
		f = fopen(path, "w");
		if (f) {
			fputs("k", f);
			fclose(f);
		}
	}
	return path;
}

static void put_kernel(struct fx *x)
{
	char b[256];

	snprintf(b, sizeof(b), "{\"kernel_image_path\":\"%s\"}", kernel());
	call(x, "PUT", "/boot-source", b);
}

TEST(get_root_and_machine_config_before_boot)
{
	struct fx x;

	setup(&x);
	call(&x, "GET", "/", NULL);
	CHECK_EQ_INT(x.status, 200);
	CHECK_STR_EQ(json_string_value(json_object_get(x.json, "state")), "Not started");
	call(&x, "GET", "/machine-config", NULL);
	CHECK_EQ_INT(x.status, 200);
	CHECK_EQ_INT(json_integer_value(json_object_get(x.json, "vcpu_count")), 1);
	CHECK_EQ_INT(json_integer_value(json_object_get(x.json, "mem_size_mib")), 128);
	CHECK_EQ_U64(json_object_size(x.json), 5);
	call(&x, "GET", "/vm/config", NULL);
	CHECK_EQ_INT(x.status, 200);
	CHECK_EQ_U64(json_object_size(x.json), 9);
	call(&x, "GET", "/mmds", NULL);
	CHECK_EQ_INT(x.status, 200);
	CHECK(json_is_object(x.json) && json_object_size(x.json) == 0);
	teardown(&x);
}

TEST(every_preboot_put_is_a_bare_204)
{
	char b[512];
	struct fx x;

	setup(&x);
	put_kernel(&x);
	CHECK_204(&x);
	call(&x, "PUT", "/machine-config", "{\"vcpu_count\":2,\"mem_size_mib\":256}");
	CHECK_204(&x);
	call(&x, "PATCH", "/machine-config", "{\"mem_size_mib\":512}");
	CHECK_204(&x);
	snprintf(b, sizeof(b), "{\"drive_id\":\"rootfs\",\"path_on_host\":\"%s\",\"is_root_device\":"
		 "true}", kernel());
	call(&x, "PUT", "/drives/rootfs", b);
	CHECK_204(&x);
	call(&x, "PUT", "/network-interfaces/eth0", "{\"iface_id\":\"eth0\",\"host_dev_name\":\"tap0\"}");
	CHECK_204(&x);
	call(&x, "PUT", "/vsock", "{\"guest_cid\":3,\"uds_path\":\"/tmp/v\"}");
	CHECK_204(&x);
	call(&x, "PUT", "/vsock", "{\"guest_cid\":4,\"uds_path\":\"/tmp/w\"}");
	CHECK_204(&x);
	call(&x, "PUT", "/logger", "{\"log_path\":\"/tmp/l\",\"level\":\"Debug\"}");
	CHECK_204(&x);
	CHECK_EQ_INT(x.f.loggers, 1);
	call(&x, "PUT", "/metrics", "{\"metrics_path\":\"/tmp/m\"}");
	CHECK_204(&x);
	call(&x, "PUT", "/mmds/config", "{\"network_interfaces\":[\"eth0\"]}");
	CHECK_204(&x);
	call(&x, "PUT", "/mmds", "{\"k\":\"v\"}");
	CHECK_204(&x);
	call(&x, "PATCH", "/mmds", "{\"k2\":\"v2\"}");
	CHECK_204(&x);
	call(&x, "PUT", "/entropy", "{}");
	CHECK_204(&x);
	call(&x, "PUT", "/actions", "{\"action_type\":\"FlushMetrics\"}");
	CHECK_204(&x);
	CHECK_EQ_INT(x.f.flushes, 1);
	/* Query strings and a trailing slash are ignored, as everywhere. */
	call(&x, "PUT", "/entropy/?x=1", "{}");
	CHECK_204(&x);
	call(&x, "GET", "/vm/config", NULL);
	REQUIRE_EQ_INT(x.status, 200);
	CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(x.json, "vsock"),
							"guest_cid")), 4);
	CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(x.json, "machine-config"),
							"mem_size_mib")), 512);
	CHECK_STR_EQ(json_string_value(json_object_get(json_object_get(x.json, "logger"), "level")),
		     "Debug");
	call(&x, "PUT", "/actions", "{\"action_type\":\"InstanceStart\"}");
	CHECK_204(&x);
	CHECK(x.f.started);
	CHECK_EQ_U64(x.counters.count[AC_PUT_DRIVE], 1);
	CHECK_EQ_U64(x.counters.count[AC_PUT_VSOCK], 2);
	CHECK_EQ_U64(x.counters.fails[AC_PUT_VSOCK], 0);
	teardown(&x);
}

/* Each bad request before boot: 400 with the reason, and counted as a failure. */
TEST(preboot_400_cases)
{
	static const struct { const char *method, *path, *body, *needle; } cases[] = {
		{ "PUT", "/boot-source", NULL, "empty" },
		{ "PUT", "/boot-source", "{", "Invalid JSON" },
		{ "PUT", "/boot-source", "[]", "JSON object" },
		{ "PUT", "/boot-source", "{\"kernel_image_path\":\"/nonexistent/k\"}", "/nonexistent/k" },
		{ "PUT", "/boot-source", "{\"kernel_image_path\":\"/tmp\",\"x\":1}", "unknown field `x`" },
		{ "PUT", "/machine-config", "{\"vcpu_count\":2}", "mem_size_mib" },
		{ "PUT", "/machine-config", "{\"vcpu_count\":64,\"mem_size_mib\":128}", "out of range" },
		{ "PATCH", "/machine-config", "{}", "no fields" },
		{ "PUT", "/drives/a", "{\"drive_id\":\"b\",\"path_on_host\":\"/tmp/x\",\"is_root_device\":false}", "does not match" },
		{ "PUT", "/drives/a", "{\"drive_id\":\"a\",\"path_on_host\":\"/nonexistent\",\"is_root_device\":false}", "/nonexistent" },
		{ "PUT", "/network-interfaces/n", "{\"iface_id\":\"n\",\"host_dev_name\":\"t\",\"guest_mac\":\"zz\"}", "MAC" },
		{ "PUT", "/network-interfaces/n", "{\"iface_id\":\"m\",\"host_dev_name\":\"t\"}", "does not match" },
		{ "PUT", "/vsock", "{\"guest_cid\":\"3\",\"uds_path\":\"/v\"}", "whole number" },
		{ "PUT", "/logger", "{\"level\":\"Chatty\"}", "Chatty" },
		{ "PUT", "/metrics", "{\"path\":\"/m\"}", "unknown field" },
		{ "PUT", "/mmds/config", "{\"network_interfaces\":[\"nope\"]}", "nope" },
		{ "PUT", "/mmds", "[1]", "JSON object" },
		{ "PATCH", "/mmds", "{\"a\":1}", "not initialized" },
		{ "PUT", "/entropy", "{\"rate_limiter\":1}", "JSON object" },
		{ "PUT", "/actions", "{\"action_type\":\"InstanceStart\"}", "/boot-source" },
		{ "PUT", "/actions", "{\"action_type\":\"FlushMetrics\"}", "metrics" },
		{ "PUT", "/actions", "{\"action_type\":\"SendCtrlAltDel\"}", "before starting" },
		{ "PATCH", "/vm", "{\"state\":\"Paused\"}", "before starting" },
		{ "PATCH", "/drives/a", "{\"drive_id\":\"a\"}", "before starting" },
		{ "PATCH", "/network-interfaces/n", "{\"iface_id\":\"n\"}", "before starting" },
		{ "PUT", "/balloon", "{\"amount_mib\":1}", "does not implement" },
		{ "PUT", "/snapshot/create", "{}", "does not implement" },
		{ "PUT", "/cpu-config", "{}", "does not implement" },
		{ "DELETE", "/drives/a", NULL, "Invalid request method and/or path" },
		{ "GET", "/drives/a", NULL, "Invalid request method and/or path" },
		{ "PUT", "/drives/", "{}", "Invalid request method and/or path" },
		{ "PUT", "/drives/a/b", "{}", "Invalid request method and/or path" },
		{ "POST", "/boot-source", "{}", "Invalid request method and/or path" },
	};
	struct fx x;

	setup(&x);
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		call(&x, cases[i].method, cases[i].path, cases[i].body);
		if (!fault_has(&x, cases[i].needle))
			FAIL("case %zu: %s %s", i, cases[i].method, cases[i].path);
	}
	CHECK(!x.f.started);
	CHECK_EQ_INT(x.f.pauses, 0);
	CHECK_EQ_U64(x.counters.fails[AC_PUT_BOOT_SOURCE], 5);
	CHECK_EQ_U64(x.counters.count[AC_PUT_BOOT_SOURCE], 5);
	/* Nothing stuck: the description is still empty. */
	CHECK_NULL(x.cfg.kernel);
	CHECK_EQ_U64(x.cfg.ndrives, 0);
	teardown(&x);
}

TEST(logger_apply_failure_and_metrics_once)
{
	struct fx x;

	setup(&x);
	x.f.fail_logger = 1;
	call(&x, "PUT", "/logger", "{\"log_path\":\"/x\"}");
	CHECK(fault_has(&x, "Permission denied"));
	CHECK(!x.cfg.logger.set);
	call(&x, "PUT", "/metrics", "{\"metrics_path\":\"/tmp/m\"}");
	CHECK_204(&x);
	call(&x, "PUT", "/metrics", "{\"metrics_path\":\"/tmp/m2\"}");
	CHECK(fault_has(&x, "Reinitialization"));
	CHECK_STR_EQ(x.cfg.metrics_path, "/tmp/m");
	CHECK_EQ_INT(x.f.metrics_opened, 1);
	teardown(&x);
}

TEST(instance_start_failure_stays_preboot)
{
	struct fx x;

	setup(&x);
	put_kernel(&x);
	x.f.fail_start = 1;
	call(&x, "PUT", "/actions", "{\"action_type\":\"InstanceStart\"}");
	CHECK(fault_has(&x, "cannot map guest memory"));
	CHECK(!x.f.started);
	call(&x, "PUT", "/machine-config", "{\"vcpu_count\":1,\"mem_size_mib\":64}");
	CHECK_204(&x);
	x.f.fail_start = 0;
	call(&x, "PUT", "/actions", "{\"action_type\":\"InstanceStart\"}");
	CHECK_204(&x);
	CHECK_EQ_INT(x.f.starts, 2);
	teardown(&x);
}

/* After InstanceStart every pre-boot-only request is refused with Firecracker's message;
 * the body is parsed first (a malformed body is still a JSON error). */
TEST(post_boot_refusals)
{
	static const struct { const char *method, *path, *body; } pre_only[] = {
		{ "PUT", "/boot-source", "{\"kernel_image_path\":\"/k\"}" },
		{ "PUT", "/machine-config", "{\"vcpu_count\":1,\"mem_size_mib\":64}" },
		{ "PATCH", "/machine-config", "{\"vcpu_count\":1}" },
		{ "PUT", "/drives/x", "{\"drive_id\":\"x\"}" },
		{ "PUT", "/network-interfaces/x", "{}" },
		{ "PUT", "/vsock", "{}" },
		{ "PUT", "/logger", "{}" },
		{ "PUT", "/metrics", "{}" },
		{ "PUT", "/mmds/config", "{}" },
		{ "PUT", "/entropy", "{}" },
		{ "PUT", "/actions", "{\"action_type\":\"InstanceStart\"}" },
	};
	struct fx x;

	setup(&x);
	put_kernel(&x);
	call(&x, "PUT", "/network-interfaces/eth0", "{\"iface_id\":\"eth0\",\"host_dev_name\":\"tap0\"}");
	CHECK_204(&x);
	call(&x, "PUT", "/actions", "{\"action_type\":\"InstanceStart\"}");
	REQUIRE(x.f.started);
	for (size_t i = 0; i < ARRAY_LEN(pre_only); i++) {
		call(&x, pre_only[i].method, pre_only[i].path, pre_only[i].body);
		if (!fault_has(&x, "The requested operation is not supported after starting the "
			       "microVM."))
			FAIL("case %zu: %s %s", i, pre_only[i].method, pre_only[i].path);
	}
	call(&x, "PUT", "/boot-source", "{");
	CHECK(fault_has(&x, "Invalid JSON"));
	/* What works after boot. */
	call(&x, "GET", "/", NULL);
	CHECK_STR_EQ(json_string_value(json_object_get(x.json, "state")), "Running");
	call(&x, "GET", "/machine-config", NULL);
	CHECK_EQ_INT(x.status, 200);
	call(&x, "PUT", "/mmds", "{\"a\":1}");
	CHECK_204(&x);
	call(&x, "PATCH", "/vm", "{\"state\":\"Paused\"}");
	CHECK_204(&x);
	CHECK_EQ_INT(x.f.pauses, 1);
	call(&x, "PATCH", "/network-interfaces/eth0", "{\"iface_id\":\"eth0\",\"rx_rate_limiter\":"
	     "{\"ops\":{\"size\":10,\"refill_time\":1000}}}");
	CHECK_204(&x);
	call(&x, "PATCH", "/network-interfaces/eth1", "{\"iface_id\":\"eth1\"}");
	CHECK(fault_has(&x, "not found"));
	call(&x, "PATCH", "/network-interfaces/eth0", "{\"iface_id\":\"eth0\",\"rx_rate_limiter\":5}");
	CHECK(fault_has(&x, "JSON object"));
	call(&x, "PATCH", "/network-interfaces/eth0", "{\"iface_id\":\"eth0\",\"guest_mac\":\"06:00:00:00:00:01\"}");
	CHECK(fault_has(&x, "unknown field"));
	/* No drive-update hook (and no drive x): refused with a fault, never a crash. */
	call(&x, "PATCH", "/drives/x", "{\"drive_id\":\"x\",\"path_on_host\":\"/y\"}");
	CHECK(fault_has(&x, "Invalid block device ID"));
	call(&x, "PUT", "/actions", "{\"action_type\":\"FlushMetrics\"}");
	CHECK(fault_has(&x, "metrics"));
	teardown(&x);
}

/* Without config (a VM that was never configured through the API), the configuration
 * routes do not exist. */
TEST(no_config_no_routes)
{
	struct fx x;

	setup(&x);
	x.ops.config = NULL;
	x.ops.started = NULL;
	call(&x, "GET", "/machine-config", NULL);
	CHECK(fault_has(&x, "Invalid request method and/or path"));
	call(&x, "PUT", "/boot-source", "{}");
	CHECK(fault_has(&x, "Invalid request method and/or path"));
	teardown(&x);
}

/* ---- after boot: PATCH /drives through the owner's hook ---- */

struct swap_fx {
	struct fx x;
	int calls, fail;
	char id[64], path[256];
};

static int f_patch_drive(void *ctx, const char *id, const char *path)
{
	struct swap_fx *w = ctx;

	w->calls++;
	snprintf(w->id, sizeof(w->id), "%s", id);
	snprintf(w->path, sizeof(w->path), "%s", path);
	if (w->fail)
		return err_set(-ENOENT, "path_on_host %s: no such file", path);
	return 0;
}

static void boot_with_drive(struct swap_fx *w)
{
	char b[512];

	memset(w, 0, sizeof(*w));
	setup(&w->x);
	w->x.ops.ctx = w;             /* struct fx is the first member: the fakes still work */
	w->x.ops.patch_drive = f_patch_drive;
	put_kernel(&w->x);
	snprintf(b, sizeof(b), "{\"drive_id\":\"rootfs\",\"path_on_host\":\"%s\",\"is_root_device\":"
		 "true}", kernel());
	call(&w->x, "PUT", "/drives/rootfs", b);
	CHECK_204(&w->x);
	call(&w->x, "PATCH", "/drives/rootfs", b);
	CHECK(fault_has(&w->x, "before starting"));   /* Firecracker: post-boot only */
	CHECK_EQ_INT(w->calls, 0);
	call(&w->x, "PUT", "/actions", "{\"action_type\":\"InstanceStart\"}");
	REQUIRE(w->x.f.started);
}

TEST(patch_drive_after_boot_calls_the_hook)
{
	struct swap_fx w;

	boot_with_drive(&w);
	call(&w.x, "PATCH", "/drives/rootfs", "{\"drive_id\":\"rootfs\",\"path_on_host\":\"/new.img\"}");
	CHECK_204(&w.x);
	CHECK_EQ_INT(w.calls, 1);
	CHECK_STR_EQ(w.id, "rootfs");
	CHECK_STR_EQ(w.path, "/new.img");
	/* Rate limiter only (and null): valid, nothing swapped. */
	call(&w.x, "PATCH", "/drives/rootfs", "{\"drive_id\":\"rootfs\",\"rate_limiter\":{}}");
	CHECK_204(&w.x);
	call(&w.x, "PATCH", "/drives/rootfs", "{\"drive_id\":\"rootfs\",\"rate_limiter\":null,"
	     "\"path_on_host\":null}");
	CHECK_204(&w.x);
	call(&w.x, "PATCH", "/drives/rootfs", "{\"drive_id\":\"rootfs\",\"path_on_host\":\"/b\","
	     "\"rate_limiter\":{\"bandwidth\":{\"size\":1,\"refill_time\":1}}}");
	CHECK_204(&w.x);
	CHECK_EQ_INT(w.calls, 2);
	CHECK_EQ_U64(w.x.counters.count[AC_PATCH_DRIVE], 5);
	CHECK_EQ_U64(w.x.counters.fails[AC_PATCH_DRIVE], 1);   /* the pre-boot one */
	teardown(&w.x);
}

TEST(patch_drive_after_boot_refusals)
{
	static const struct { const char *path, *body, *want; } bad[] = {
		{ "/drives/nope", "{\"drive_id\":\"nope\",\"path_on_host\":\"/n\"}",
		  "Invalid block device ID: the microVM has no drive `nope`." },
		{ "/drives/rootfs", "{\"drive_id\":\"other\",\"path_on_host\":\"/n\"}", "does not match" },
		{ "/drives/rootfs", "{\"path_on_host\":\"/n\"}", "missing field `drive_id`" },
		{ "/drives/rootfs", "{\"drive_id\":\"rootfs\",\"is_read_only\":true}", "unknown field" },
		{ "/drives/rootfs", "{\"drive_id\":\"rootfs\",\"path_on_host\":5}", "non-empty string" },
		{ "/drives/rootfs", "{\"drive_id\":\"rootfs\",\"path_on_host\":\"\"}", "non-empty string" },
		{ "/drives/rootfs", "{\"drive_id\":\"rootfs\",\"rate_limiter\":7}", "rate_limiter" },
		{ "/drives/rootfs", "[]", "JSON object" },
		{ "/drives/rootfs", "{", "Invalid JSON" },
	};
	struct swap_fx w;

	boot_with_drive(&w);
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		call(&w.x, "PATCH", bad[i].path, bad[i].body);
		if (!fault_has(&w.x, bad[i].want))
			FAIL("case %zu: %s", i, bad[i].body);
	}
	CHECK_EQ_INT(w.calls, 0);
	/* The hook's failure: 400 naming the drive and the hook's reason. */
	w.fail = 1;
	call(&w.x, "PATCH", "/drives/rootfs", "{\"drive_id\":\"rootfs\",\"path_on_host\":\"/gone\"}");
	CHECK(fault_has(&w.x, "Unable to patch the block device `rootfs`: path_on_host /gone: no "
			"such file"));
	CHECK_EQ_INT(w.calls, 1);
	teardown(&w.x);
}

/* ---- /mmds on a live store (what a session provides) ---- */

struct store_fx {
	struct fx x;
	struct mmds_store *st;
};

static struct mmds_store *f_mmds(void *ctx)
{
	return ((struct store_fx *)ctx)->st;
}

TEST(mmds_routes_use_the_store_before_and_after_boot)
{
	struct store_fx w;
	json_t *v = NULL;
	char *all;

	memset(&w, 0, sizeof(w));
	setup(&w.x);
	w.x.ops.ctx = &w;
	w.x.ops.mmds = f_mmds;
	w.st = mmds_store_new();
	REQUIRE(w.st);
	call(&w.x, "GET", "/mmds", NULL);
	CHECK_EQ_INT(w.x.status, 200);
	CHECK_STR_EQ(w.x.body, "{}");
	call(&w.x, "PATCH", "/mmds", "{\"a\":1}");
	CHECK(fault_has(&w.x, "not initialized"));
	call(&w.x, "PUT", "/mmds", "{\"latest\":{\"meta-data\":{\"ami-id\":\"ami-1\",\"x\":1}}}");
	CHECK_204(&w.x);
	CHECK(w.x.cfg.mmds == NULL);    /* the store is the only copy */
	CHECK_EQ_INT(mmds_store_get(w.st, "/latest/meta-data/ami-id", &v), 0);
	CHECK_STR_EQ(json_string_value(v), "ami-1");
	json_decref(v);
	v = NULL;
	put_kernel(&w.x);
	call(&w.x, "PUT", "/actions", "{\"action_type\":\"InstanceStart\"}");
	REQUIRE(w.x.f.started);
	/* After boot: RFC 7396 (null deletes), and GET reads the store. */
	call(&w.x, "PATCH", "/mmds", "{\"latest\":{\"meta-data\":{\"x\":null,\"h\":\"host\"}}}");
	CHECK_204(&w.x);
	call(&w.x, "GET", "/mmds", NULL);
	CHECK_EQ_INT(w.x.status, 200);
	CHECK_STR_EQ(w.x.body, "{\"latest\":{\"meta-data\":{\"ami-id\":\"ami-1\",\"h\":\"host\"}}}");
	call(&w.x, "PUT", "/mmds", "[1]");
	CHECK(fault_has(&w.x, "JSON object"));
	/* Over the limit: 400, and the store keeps its data. */
	REQUIRE(mmds_store_set_limit(w.st, 64) == 0);
	call(&w.x, "PATCH", "/mmds", "{\"big\":\"0123456789012345678901234567890123456789012345678901234567890123\"}");
	CHECK(fault_has(&w.x, "exceeds the data store limit of 64 bytes"));
	all = mmds_store_get_json(w.st);
	CHECK_STR_EQ(all, "{\"latest\":{\"meta-data\":{\"ami-id\":\"ami-1\",\"h\":\"host\"}}}");
	free(all);
	call(&w.x, "PUT", "/mmds", "{}");
	CHECK_204(&w.x);
	call(&w.x, "GET", "/mmds", NULL);
	CHECK_STR_EQ(w.x.body, "{}");
	teardown(&w.x);
	mmds_store_free(w.st);
}

TEST(mmds_config_address_must_be_usable_link_local)
{
	struct fx x;

	setup(&x);
	call(&x, "PUT", "/network-interfaces/eth0", "{\"iface_id\":\"eth0\",\"host_dev_name\":\"tap0\"}");
	CHECK_204(&x);
	call(&x, "PUT", "/mmds/config", "{\"network_interfaces\":[\"eth0\"],\"ipv4_address\":\"10.0.0.1\"}");
	CHECK(fault_has(&x, "not a usable link-local address"));
	call(&x, "PUT", "/mmds/config", "{\"network_interfaces\":[\"eth0\"],\"ipv4_address\":\"169.254.0.9\"}");
	CHECK(fault_has(&x, "169.254.1.0 to 169.254.254.255"));
	call(&x, "PUT", "/mmds/config", "{\"network_interfaces\":[\"eth0\"],\"ipv4_address\":\"169.254.01.2\"}");
	CHECK(fault_has(&x, "not an IPv4 address"));
	call(&x, "PUT", "/mmds/config", "{\"network_interfaces\":[\"eth0\"],\"ipv4_address\":\"169.254.170.2\","
	     "\"version\":\"V2\"}");
	CHECK_204(&x);
	teardown(&x);
}
