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
	call(&x, "PATCH", "/drives/x", "{\"drive_id\":\"x\",\"path_on_host\":\"/y\"}");
	CHECK(fault_has(&x, "after boot"));
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
