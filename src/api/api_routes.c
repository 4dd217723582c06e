#include "api/api_routes.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"

char *api_fault(const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	json_t *o;
	char *s;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	o = json_pack("{s:s}", "fault_message", msg);
	s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	return s;
}

json_t *api_parse_body(const struct http_request *req, bool object, int *status, char **body)
{
	json_error_t err;
	json_t *o;

	if (!req->body_len) {
		*status = 400;
		*body = api_fault("The request body is empty: expected %s.",
				  object ? "a JSON object" : "a JSON value");
		return NULL;
	}
	o = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);
	if (!o) {
		*status = 400;
		*body = api_fault("Invalid JSON at line %d column %d: %s", err.line, err.column,
				  err.text);
		return NULL;
	}
	if (object && !json_is_object(o)) {
		json_decref(o);
		*status = 400;
		*body = api_fault("The request body must be a JSON object.");
		return NULL;
	}
	return o;
}

static json_t *parse_object(const struct http_request *req, int *status, char **body)
{
	return api_parse_body(req, true, status, body);
}

bool api_started(const struct api_ops *ops)
{
	return !ops->started || ops->started(ops->ctx);
}

/* 400 naming the first field not in allowed (NULL-terminated). */
static int reject_unknown_fields(json_t *o, const char *const *allowed, int *status, char **body)
{
	const char *key;
	json_t *v;

	json_object_foreach(o, key, v) {
		int ok = 0;

		for (const char *const *a = allowed; *a; a++)
			if (strcmp(*a, key) == 0)
				ok = 1;
		if (!ok) {
			*status = 400;
			*body = api_fault("unknown field `%s`", key);
			return -1;
		}
	}
	return 0;
}

static void reply_json(json_t *o, int *status, char **body)
{
	*status = 200;
	*body = json_dumps(o, JSON_COMPACT);
	json_decref(o);
}

static const char *version(const struct api_ops *ops)
{
	return ops->version ? ops->version : EMBER_VERSION;
}

static void get_root(const struct api_ops *ops, int *status, char **body)
{
	reply_json(json_pack("{s:s, s:s, s:s, s:s}", "id", ops->id ? ops->id : "anonymous-instance",
			     "state", ops->state(ops->ctx), "vmm_version", version(ops),
			     "app_name", "Firecracker"), status, body);
}

static void fault(int *status, char **body, const char *msg)
{
	*status = 400;
	*body = api_fault("%s", msg);
}

static void patch_vm(const struct api_ops *ops, const struct http_request *req, int *status,
		     char **body)
{
	static const char *const allowed[] = { "state", NULL };
	json_t *o = parse_object(req, status, body), *st;
	const char *s;
	int r;

	if (!o)
		return;
	if (reject_unknown_fields(o, allowed, status, body) < 0)
		goto out;
	st = json_object_get(o, "state");
	if (!json_is_string(st)) {
		*status = 400;
		*body = api_fault("missing or non-string field `state`: expected \"Paused\" or "
				  "\"Resumed\"");
		goto out;
	}
	s = json_string_value(st);
	if (strcmp(s, "Paused") && strcmp(s, "Resumed")) {
		*status = 400;
		*body = api_fault("unknown variant `%s`, expected `Paused` or `Resumed`", s);
		goto out;
	}
	if (!api_started(ops)) {
		fault(status, body, API_MSG_PRE_BOOT);
		goto out;
	}
	r = strcmp(s, "Paused") == 0 ? ops->pause(ops->ctx) : ops->resume(ops->ctx);
	if (r < 0) {
		*status = 400;
		*body = api_fault("Cannot %s the microVM.", strcmp(s, "Paused") ? "resume" : "pause");
		goto out;
	}
	*status = 204;
out:
	json_decref(o);
}

static void instance_start(const struct api_ops *ops, int *status, char **body)
{
	if (api_started(ops) || !ops->instance_start) {
		fault(status, body, API_MSG_POST_BOOT);
		return;
	}
	if (ops->instance_start(ops->ctx) < 0) {
		*status = 400;
		*body = api_fault("Failed to start the microVM: %s", err_msg());
		return;
	}
	*status = 204;
}

static void flush_metrics(const struct api_ops *ops, int *status, char **body)
{
	int r = ops->flush_metrics ? ops->flush_metrics(ops->ctx) : -ENOENT;

	if (r == -ENOENT) {
		fault(status, body, "The metrics system is not initialized: PUT /metrics "
		      "{\"metrics_path\": ...} first.");
		return;
	}
	if (r < 0) {
		*status = 400;
		*body = api_fault("Failed to flush the metrics: %s", err_msg());
		return;
	}
	*status = 204;
}

static void put_actions(const struct api_ops *ops, const struct http_request *req, int *status,
			char **body)
{
	static const char *const allowed[] = { "action_type", NULL };
	json_t *o = parse_object(req, status, body), *t;
	const char *a;

	if (!o)
		return;
	if (reject_unknown_fields(o, allowed, status, body) < 0)
		goto out;
	t = json_object_get(o, "action_type");
	if (!json_is_string(t)) {
		*status = 400;
		*body = api_fault("missing or non-string field `action_type`");
		goto out;
	}
	a = json_string_value(t);
	if (strcmp(a, "SendCtrlAltDel") == 0) {
		if (!api_started(ops)) {
			fault(status, body, API_MSG_PRE_BOOT);
			goto out;
		}
		if (ops->ctrl_alt_del(ops->ctx) < 0) {
			*status = 400;
			*body = api_fault("Cannot send Ctrl+Alt+Del to the microVM.");
			goto out;
		}
		*status = 204;
	} else if (strcmp(a, "FlushMetrics") == 0) {
		flush_metrics(ops, status, body);
	} else if (strcmp(a, "InstanceStart") == 0) {
		instance_start(ops, status, body);
	} else {
		*status = 400;
		*body = api_fault("unknown variant `%.64s`, expected one of `FlushMetrics`, "
				  "`InstanceStart`, `SendCtrlAltDel`", a);
	}
out:
	json_decref(o);
}

void api_handle(const struct api_ops *ops, const struct http_request *req, int *status,
		char **body)
{
	const char *m = req->method, *p = req->path;
	char path[HTTP_MAX_PATH];
	int counter = AC_NONE;
	size_t n;

	*body = NULL;
	err_clear();
	/* Ignore a query string and one trailing slash (except for "/"). */
	n = strcspn(p, "?");
	if (n >= sizeof(path))
		n = sizeof(path) - 1;
	memcpy(path, p, n);
	path[n] = '\0';
	if (n > 1 && path[n - 1] == '/')
		path[n - 1] = '\0';

	if (strcmp(path, "/") == 0 && strcmp(m, "GET") == 0) {
		counter = AC_GET_INSTANCE_INFO;
		get_root(ops, status, body);
	} else if (strcmp(path, "/version") == 0 && strcmp(m, "GET") == 0) {
		counter = AC_GET_VMM_VERSION;
		reply_json(json_pack("{s:s}", "firecracker_version", version(ops)), status, body);
	} else if (strcmp(path, "/vm/config") == 0 && strcmp(m, "GET") == 0) {
		*status = 200;
		*body = ops->vm_config(ops->ctx);
		if (!*body) {
			*status = 500;
			*body = api_fault("cannot describe the configuration");
		}
	} else if (strcmp(path, "/vm") == 0 && strcmp(m, "PATCH") == 0) {
		counter = AC_PATCH_VM;
		patch_vm(ops, req, status, body);
	} else if (strcmp(path, "/actions") == 0 && strcmp(m, "PUT") == 0) {
		counter = AC_PUT_ACTIONS;
		put_actions(ops, req, status, body);
	} else if (!api_preboot_handle(ops, m, path, req, status, body, &counter)) {
		*status = 400;
		*body = api_fault("Invalid request method and/or path: %s %.200s.", m, path);
	}
	if (ops->counters && counter != AC_NONE) {
		ops->counters->count[counter]++;
		if (*status >= 400)
			ops->counters->fails[counter]++;
	}
}
