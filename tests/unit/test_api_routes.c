/* The API's routes (src/api/api_routes.c) through a fake api_ops that records what the
 * VM was asked to do. Expectations from Firecracker's API (firecracker.yaml): GET /
 * (InstanceInfo: id, state, vmm_version, app_name), GET /version (firecracker_version),
 * GET /vm/config, PATCH /vm {"state": "Paused"|"Resumed"} -> 204, PUT /actions
 * {"action_type": ...} -> 204, and every error a 400 with {"fault_message": "..."}. The
 * bodies are checked by parsing them with jansson, not by comparing text. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "api/api_routes.h"

struct fake {
	const char *state;
	int pauses, resumes, cads, configs;
	int fail_ops;           /* pause/resume/cad return -1 */
	int config_null;        /* vm_config returns NULL */
};

static const char *f_state(void *ctx)
{
	return ((struct fake *)ctx)->state;
}

static int f_pause(void *ctx)
{
	struct fake *f = ctx;

	f->pauses++;
	if (f->fail_ops)
		return -1;
	f->state = "Paused";
	return 0;
}

static int f_resume(void *ctx)
{
	struct fake *f = ctx;

	f->resumes++;
	if (f->fail_ops)
		return -1;
	f->state = "Running";
	return 0;
}

static int f_cad(void *ctx)
{
	struct fake *f = ctx;

	f->cads++;
	return f->fail_ops ? -1 : 0;
}

static char *f_config(void *ctx)
{
	struct fake *f = ctx;

	f->configs++;
	if (f->config_null)
		return NULL;
	return strdup("{\"boot-source\":{\"kernel_image_path\":\"/k\"},"
		      "\"machine-config\":{\"vcpu_count\":2,\"mem_size_mib\":256}}");
}

struct fx {
	struct fake f;
	struct api_ops ops;
	int status;
	char *body;
	json_t *json;     /* the parsed body, when it is JSON */
};

static void setup(struct fx *x, const char *id)
{
	memset(x, 0, sizeof(*x));
	x->f.state = "Running";
	x->ops = (struct api_ops){ .ctx = &x->f, .id = id, .state = f_state, .pause = f_pause,
				   .resume = f_resume, .ctrl_alt_del = f_cad,
				   .vm_config = f_config };
}

static void done(struct fx *x)
{
	free(x->body);
	json_decref(x->json);
	x->body = NULL;
	x->json = NULL;
}

/* Sends one request (body may be NULL) and parses the reply's body if there is one. */
static void call(struct fx *x, const char *method, const char *path, const char *body)
{
	struct http_request req;

	done(x);
	memset(&req, 0, sizeof(req));
	snprintf(req.method, sizeof(req.method), "%s", method);
	snprintf(req.path, sizeof(req.path), "%s", path);
	req.body = body;
	req.body_len = body ? strlen(body) : 0;
	req.keep_alive = true;
	x->status = -1;
	x->body = (char *)0x1;   /* must be overwritten */
	api_handle(&x->ops, &req, &x->status, &x->body);
	if (x->body)
		x->json = json_loads(x->body, JSON_REJECT_DUPLICATES, NULL);
}

static const char *jstr(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* The reply is a 400 whose body is exactly one string member fault_message, containing
 * needle (NULL: any). */
#define CHECK_FAULT(x, needle)                                                          \
	do {                                                                            \
		CHECK_EQ_INT((x)->status, 400);                                         \
		check_fault_body(__LINE__, (x), (needle));                              \
	} while (0)

static void check_fault_body(int line, struct fx *x, const char *needle)
{
	const char *m;

	if (!x->json || !json_is_object(x->json)) {
		FAIL("line %d: fault body is not a JSON object: %s", line,
		     x->body ? x->body : "(null)");
		return;
	}
	CHECK_EQ_U64(json_object_size(x->json), 1);
	m = jstr(x->json, "fault_message");
	if (!m) {
		FAIL("line %d: no string fault_message in %s", line, x->body);
		return;
	}
	CHECK(m[0] != '\0');
	if (needle && !strstr(m, needle))
		FAIL("line %d: fault_message \"%s\" lacks \"%s\"", line, m, needle);
}

/* ---- GET / ---- */

TEST(get_root_instance_info)
{
	struct fx x;

	setup(&x, "vm-a");
	call(&x, "GET", "/", NULL);
	CHECK_EQ_INT(x.status, 200);
	REQUIRE(json_is_object(x.json));
	CHECK_EQ_U64(json_object_size(x.json), 4);
	CHECK_STR_EQ(jstr(x.json, "id"), "vm-a");
	CHECK_STR_EQ(jstr(x.json, "state"), "Running");
	CHECK_STR_EQ(jstr(x.json, "vmm_version"), EMBER_VERSION);
	CHECK_STR_EQ(jstr(x.json, "app_name"), "Firecracker");
	CHECK_EQ_INT(x.f.pauses + x.f.resumes + x.f.cads, 0);
	done(&x);
}

TEST(get_root_state_follows_ops)
{
	struct fx x;

	setup(&x, "vm-a");
	x.f.state = "Paused";
	call(&x, "GET", "/", NULL);
	CHECK_EQ_INT(x.status, 200);
	CHECK_STR_EQ(jstr(x.json, "state"), "Paused");
	done(&x);
}

TEST(get_root_without_id_is_anonymous_instance)
{
	struct fx x;

	setup(&x, NULL);
	call(&x, "GET", "/", NULL);
	CHECK_EQ_INT(x.status, 200);
	CHECK_STR_EQ(jstr(x.json, "id"), "anonymous-instance");
	done(&x);
}

TEST(get_root_id_with_quotes_is_escaped)
{
	struct fx x;

	setup(&x, "a\"b\\c");
	call(&x, "GET", "/", NULL);
	CHECK_EQ_INT(x.status, 200);
	REQUIRE_NOT_NULL(x.json);
	CHECK_STR_EQ(jstr(x.json, "id"), "a\"b\\c");
	done(&x);
}

TEST(get_root_ignores_a_body)
{
	struct fx x;

	setup(&x, "v");
	call(&x, "GET", "/", "not json at all");
	CHECK_EQ_INT(x.status, 200);
	CHECK_STR_EQ(jstr(x.json, "state"), "Running");
	done(&x);
}

/* ---- GET /version, GET /vm/config ---- */

TEST(get_version)
{
	struct fx x;

	setup(&x, "v");
	call(&x, "GET", "/version", NULL);
	CHECK_EQ_INT(x.status, 200);
	REQUIRE(json_is_object(x.json));
	CHECK_EQ_U64(json_object_size(x.json), 1);
	CHECK_STR_EQ(jstr(x.json, "firecracker_version"), EMBER_VERSION);
	done(&x);
}

TEST(get_vm_config_passes_the_ops_json_through)
{
	struct fx x;
	json_t *mc;

	setup(&x, "v");
	call(&x, "GET", "/vm/config", NULL);
	CHECK_EQ_INT(x.status, 200);
	CHECK_EQ_INT(x.f.configs, 1);
	REQUIRE(json_is_object(x.json));
	CHECK_STR_EQ(jstr(json_object_get(x.json, "boot-source"), "kernel_image_path"), "/k");
	mc = json_object_get(x.json, "machine-config");
	CHECK_EQ_INT(json_integer_value(json_object_get(mc, "vcpu_count")), 2);
	CHECK_EQ_INT(json_integer_value(json_object_get(mc, "mem_size_mib")), 256);
	done(&x);
}

TEST(get_vm_config_failure_is_500_with_fault)
{
	struct fx x;

	setup(&x, "v");
	x.f.config_null = 1;
	call(&x, "GET", "/vm/config", NULL);
	CHECK_EQ_INT(x.status, 500);
	REQUIRE(json_is_object(x.json));
	CHECK_NOT_NULL(jstr(x.json, "fault_message"));
	done(&x);
}

/* ---- PATCH /vm ---- */

TEST(patch_vm_paused_and_resumed_204_no_body)
{
	struct fx x;

	setup(&x, "v");
	call(&x, "PATCH", "/vm", "{\"state\": \"Paused\"}");
	CHECK_EQ_INT(x.status, 204);
	CHECK_NULL(x.body);
	CHECK_EQ_INT(x.f.pauses, 1);
	CHECK_EQ_INT(x.f.resumes, 0);
	call(&x, "GET", "/", NULL);
	CHECK_STR_EQ(jstr(x.json, "state"), "Paused");

	call(&x, "PATCH", "/vm", "{\"state\":\"Resumed\"}");
	CHECK_EQ_INT(x.status, 204);
	CHECK_NULL(x.body);
	CHECK_EQ_INT(x.f.pauses, 1);
	CHECK_EQ_INT(x.f.resumes, 1);
	call(&x, "GET", "/", NULL);
	CHECK_STR_EQ(jstr(x.json, "state"), "Running");
	CHECK_EQ_INT(x.f.cads, 0);
	done(&x);
}

TEST(patch_vm_with_whitespace_and_newlines)
{
	struct fx x;

	setup(&x, "v");
	call(&x, "PATCH", "/vm", "\n  {\n\t\"state\" :\r\n \"Paused\" }\n ");
	CHECK_EQ_INT(x.status, 204);
	CHECK_EQ_INT(x.f.pauses, 1);
	done(&x);
}

TEST(patch_vm_op_failure_is_400)
{
	struct fx x;

	setup(&x, "v");
	x.f.fail_ops = 1;
	call(&x, "PATCH", "/vm", "{\"state\":\"Paused\"}");
	CHECK_FAULT(&x, "pause");
	CHECK_EQ_INT(x.f.pauses, 1);
	call(&x, "PATCH", "/vm", "{\"state\":\"Resumed\"}");
	CHECK_FAULT(&x, "resume");
	CHECK_EQ_INT(x.f.resumes, 1);
	done(&x);
}

/* Every malformed PATCH /vm body: 400 with a fault message, and the VM untouched. */
TEST(patch_vm_bad_bodies_400)
{
	static const struct { const char *body; const char *needle; } cases[] = {
		{ NULL, "empty" },
		{ "", "empty" },
		{ "{", "Invalid JSON" },
		{ "{\"state\":\"Paused\"", "Invalid JSON" },
		{ "{\"state\":\"Paused\"}}", "Invalid JSON" },      /* trailing garbage */
		{ "state=Paused", "Invalid JSON" },
		{ "[\"Paused\"]", "JSON object" },                  /* not an object */
		{ "\"Paused\"", NULL },                             /* a bare string */
		{ "null", NULL },
		{ "42", NULL },
		{ "{}", "state" },                                  /* missing field */
		{ "{\"state\":5}", "state" },                       /* wrong types */
		{ "{\"state\":null}", "state" },
		{ "{\"state\":true}", "state" },
		{ "{\"state\":[\"Paused\"]}", "state" },
		{ "{\"state\":{\"v\":\"Paused\"}}", "state" },
		{ "{\"state\":\"paused\"}", "paused" },             /* variants are exact */
		{ "{\"state\":\"Running\"}", "Running" },
		{ "{\"state\":\"\"}", "variant" },
		{ "{\"state\":\"Paused \"}", "variant" },
		{ "{\"state\":\"Paused\",\"extra\":1}", "extra" },  /* unknown field */
		{ "{\"State\":\"Paused\"}", "State" },
		{ "{\"state\":\"Paused\",\"state\":\"Resumed\"}", NULL },  /* duplicate key */
		{ "{\"state\":\"Paused\",\"state\":\"Paused\"}", NULL },
	};

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct fx x;

		setup(&x, "v");
		call(&x, "PATCH", "/vm", cases[i].body);
		CHECK_FAULT(&x, cases[i].needle);
		if (x.f.pauses || x.f.resumes || x.f.cads)
			FAIL("case %zu (%s): the VM was acted on", i,
			     cases[i].body ? cases[i].body : "NULL");
		if (x.status != 400)
			FAIL("case %zu: body %s", i, cases[i].body ? cases[i].body : "NULL");
		done(&x);
	}
}

TEST(patch_vm_body_with_nul_byte_400)
{
	struct fx x;
	struct http_request req;
	static const char body[] = "{\"state\":\"Paused\"}\0garbage";

	setup(&x, "v");
	memset(&req, 0, sizeof(req));
	strcpy(req.method, "PATCH");
	strcpy(req.path, "/vm");
	req.body = body;
	req.body_len = sizeof(body) - 1;
	api_handle(&x.ops, &req, &x.status, &x.body);
	CHECK_EQ_INT(x.status, 400);
	CHECK_EQ_INT(x.f.pauses, 0);
	free(x.body);
}

/* ---- PUT /actions ---- */

TEST(put_actions_send_ctrl_alt_del_204)
{
	struct fx x;

	setup(&x, "v");
	call(&x, "PUT", "/actions", "{\"action_type\":\"SendCtrlAltDel\"}");
	CHECK_EQ_INT(x.status, 204);
	CHECK_NULL(x.body);
	CHECK_EQ_INT(x.f.cads, 1);
	CHECK_EQ_INT(x.f.pauses + x.f.resumes, 0);
	done(&x);
}

/* Without a metrics file, FlushMetrics is a 400 as in Firecracker. */
TEST(put_actions_flush_metrics_without_metrics_400)
{
	struct fx x;

	setup(&x, "v");
	call(&x, "PUT", "/actions", "{\"action_type\":\"FlushMetrics\"}");
	CHECK_FAULT(&x, "metrics");
	CHECK_EQ_INT(x.f.cads + x.f.pauses + x.f.resumes, 0);
	done(&x);
}

TEST(put_actions_instance_start_after_boot_400)
{
	struct fx x;

	setup(&x, "v");
	call(&x, "PUT", "/actions", "{\"action_type\":\"InstanceStart\"}");
	CHECK_FAULT(&x, "not supported");
	CHECK_EQ_INT(x.f.cads, 0);
	done(&x);
}

TEST(put_actions_cad_failure_400)
{
	struct fx x;

	setup(&x, "v");
	x.f.fail_ops = 1;
	call(&x, "PUT", "/actions", "{\"action_type\":\"SendCtrlAltDel\"}");
	CHECK_FAULT(&x, "Ctrl+Alt+Del");
	CHECK_EQ_INT(x.f.cads, 1);
	done(&x);
}

TEST(put_actions_bad_bodies_400)
{
	static const struct { const char *body; const char *needle; } cases[] = {
		{ NULL, "empty" },
		{ "", "empty" },
		{ "{\"action_type\":", "Invalid JSON" },
		{ "[]", "JSON object" },
		{ "{}", "action_type" },
		{ "{\"action_type\":1}", "action_type" },
		{ "{\"action_type\":null}", "action_type" },
		{ "{\"action_type\":\"Reboot\"}", "Reboot" },
		{ "{\"action_type\":\"sendctrlaltdel\"}", "sendctrlaltdel" },
		{ "{\"action_type\":\"SendCtrlAltDel\",\"payload\":{}}", "payload" },
		{ "{\"action_type\":\"SendCtrlAltDel\",\"action_type\":\"SendCtrlAltDel\"}", NULL },
	};

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct fx x;

		setup(&x, "v");
		call(&x, "PUT", "/actions", cases[i].body);
		CHECK_FAULT(&x, cases[i].needle);
		if (x.f.cads || x.f.pauses || x.f.resumes)
			FAIL("case %zu: the VM was acted on", i);
		done(&x);
	}
}

TEST(unknown_field_fault_names_it)
{
	struct fx x;

	setup(&x, "v");
	call(&x, "PATCH", "/vm", "{\"state\":\"Paused\",\"mem_size_mib\":4}");
	CHECK_FAULT(&x, "unknown field `mem_size_mib`");
	done(&x);
}

/* ---- paths and methods ---- */

TEST(unknown_paths_and_methods_400_invalid_request)
{
	static const struct { const char *method, *path, *body; } cases[] = {
		{ "GET", "/nosuch", NULL },
		{ "GET", "/vm", NULL },                 /* PATCH only */
		{ "PUT", "/vm", "{\"state\":\"Paused\"}" },
		{ "POST", "/", NULL },
		{ "DELETE", "/", NULL },
		{ "PATCH", "/", "{}" },
		{ "GET", "/actions", NULL },
		{ "POST", "/actions", "{\"action_type\":\"SendCtrlAltDel\"}" },
		{ "PUT", "/version", NULL },
		{ "PUT", "/vm/config", "{}" },
		{ "GET", "/vm/config/x", NULL },
		{ "GET", "/VERSION", NULL },            /* paths are case-sensitive */
		{ "GET", "/version//", NULL },
		{ "GET", "/machine-config", NULL },     /* not served by Ember */
		{ "PUT", "/boot-source", "{}" },
	};

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct fx x;
		char want[300];

		setup(&x, "v");
		call(&x, cases[i].method, cases[i].path, cases[i].body);
		snprintf(want, sizeof(want), "Invalid request method and/or path: %s ",
			 cases[i].method);
		CHECK_FAULT(&x, want);
		if (x.status != 400)
			FAIL("case %zu: %s %s", i, cases[i].method, cases[i].path);
		if (x.f.cads || x.f.pauses || x.f.resumes || x.f.configs)
			FAIL("case %zu: the VM was acted on", i);
		done(&x);
	}
}

TEST(invalid_request_fault_exact_text)
{
	struct fx x;

	setup(&x, "v");
	call(&x, "DELETE", "/vm", NULL);
	CHECK_EQ_INT(x.status, 400);
	CHECK_STR_EQ(jstr(x.json, "fault_message"), "Invalid request method and/or path: DELETE /vm.");
	done(&x);
}

TEST(trailing_slash_accepted_once)
{
	struct fx x;

	setup(&x, "v");
	call(&x, "GET", "/version/", NULL);
	CHECK_EQ_INT(x.status, 200);
	CHECK_STR_EQ(jstr(x.json, "firecracker_version"), EMBER_VERSION);
	call(&x, "GET", "/vm/config/", NULL);
	CHECK_EQ_INT(x.status, 200);
	call(&x, "PATCH", "/vm/", "{\"state\":\"Paused\"}");
	CHECK_EQ_INT(x.status, 204);
	CHECK_EQ_INT(x.f.pauses, 1);
	call(&x, "PUT", "/actions/", "{\"action_type\":\"SendCtrlAltDel\"}");
	CHECK_EQ_INT(x.status, 204);
	CHECK_EQ_INT(x.f.cads, 1);
	done(&x);
}

TEST(query_string_ignored)
{
	struct fx x;

	setup(&x, "v");
	call(&x, "GET", "/?verbose=1", NULL);
	CHECK_EQ_INT(x.status, 200);
	CHECK_STR_EQ(jstr(x.json, "id"), "v");
	call(&x, "GET", "/version?x", NULL);
	CHECK_EQ_INT(x.status, 200);
	call(&x, "GET", "/version/?x=/", NULL);
	CHECK_EQ_INT(x.status, 200);
	call(&x, "PATCH", "/vm?", "{\"state\":\"Paused\"}");
	CHECK_EQ_INT(x.status, 204);
	CHECK_EQ_INT(x.f.pauses, 1);
	/* The fault names the path without its query. */
	call(&x, "GET", "/nosuch?secret=1", NULL);
	CHECK_FAULT(&x, "GET /nosuch.");
	CHECK(x.body && !strstr(x.body, "secret"));
	done(&x);
}

TEST(longest_path_handled)
{
	struct fx x;
	char path[HTTP_MAX_PATH];

	memset(path, 'a', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	setup(&x, "v");
	call(&x, "GET", path, NULL);
	CHECK_FAULT(&x, "Invalid request method and/or path");
	done(&x);
}

/* A fault message built from client text stays valid JSON (quotes, backslashes, control
 * characters and invalid UTF-8 in the unknown variant or field). */
TEST(fault_messages_with_hostile_text_are_valid_json)
{
	static const char *const bodies[] = {
		"{\"state\":\"a\\\"b\\\\c\\n\\u0001\"}",
		"{\"\\\"}\":1}",
		"{\"action_type\":\"\\ud83d\\ude00\"}",
	};

	for (size_t i = 0; i < ARRAY_LEN(bodies); i++) {
		struct fx x;

		setup(&x, "v");
		call(&x, i == 2 ? "PUT" : "PATCH", i == 2 ? "/actions" : "/vm", bodies[i]);
		CHECK_FAULT(&x, NULL);
		done(&x);
	}
}

TEST(api_fault_shape)
{
	char *s = api_fault("x %d \"y\"", 5);
	json_t *o;

	REQUIRE_NOT_NULL(s);
	o = json_loads(s, 0, NULL);
	CHECK(json_is_object(o));
	CHECK_EQ_U64(json_object_size(o), 1);
	CHECK_STR_EQ(jstr(o, "fault_message"), "x 5 \"y\"");
	json_decref(o);
	free(s);
}
