#include "api/api_routes.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* Parses a JSON object body; on failure sets a 400 and returns NULL. */
static json_t *parse_object(const struct http_request *req, int *status, char **body)
{
	json_error_t err;
	json_t *o;

	if (!req->body_len) {
		*status = 400;
		*body = api_fault("The request body is empty: expected a JSON object.");
		return NULL;
	}
	o = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &err);
	if (!o) {
		*status = 400;
		*body = api_fault("Invalid JSON at line %d column %d: %s", err.line, err.column,
				  err.text);
		return NULL;
	}
	if (!json_is_object(o)) {
		json_decref(o);
		*status = 400;
		*body = api_fault("The request body must be a JSON object.");
		return NULL;
	}
	return o;
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

static void get_root(const struct api_ops *ops, int *status, char **body)
{
	reply_json(json_pack("{s:s, s:s, s:s, s:s}", "id", ops->id ? ops->id : "anonymous-instance",
			     "state", ops->state(ops->ctx), "vmm_version", EMBER_VERSION,
			     "app_name", "Firecracker"), status, body);
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
	if (strcmp(s, "Paused") == 0)
		r = ops->pause(ops->ctx);
	else if (strcmp(s, "Resumed") == 0)
		r = ops->resume(ops->ctx);
	else {
		*status = 400;
		*body = api_fault("unknown variant `%s`, expected `Paused` or `Resumed`", s);
		goto out;
	}
	if (r < 0) {
		*status = 400;
		*body = api_fault("Cannot %s the microVM.", strcmp(s, "Paused") ? "resume" : "pause");
		goto out;
	}
	*status = 204;
out:
	json_decref(o);
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
		if (ops->ctrl_alt_del(ops->ctx) < 0) {
			*status = 400;
			*body = api_fault("Cannot send Ctrl+Alt+Del to the microVM.");
			goto out;
		}
		*status = 204;
	} else if (strcmp(a, "FlushMetrics") == 0) {
		*status = 204;  /* no metrics sink configured: nothing to flush */
	} else if (strcmp(a, "InstanceStart") == 0) {
		*status = 400;
		*body = api_fault("The requested operation is not supported after starting the "
				  "microVM.");
	} else {
		*status = 400;
		*body = api_fault("unknown variant `%s`, expected one of `FlushMetrics`, "
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
	size_t n;

	*body = NULL;
	/* Ignore a query string and one trailing slash (except for "/"). */
	n = strcspn(p, "?");
	if (n >= sizeof(path))
		n = sizeof(path) - 1;
	memcpy(path, p, n);
	path[n] = '\0';
	if (n > 1 && path[n - 1] == '/')
		path[n - 1] = '\0';

	if (strcmp(path, "/") == 0 && strcmp(m, "GET") == 0) {
		get_root(ops, status, body);
	} else if (strcmp(path, "/version") == 0 && strcmp(m, "GET") == 0) {
		reply_json(json_pack("{s:s}", "firecracker_version", EMBER_VERSION), status, body);
	} else if (strcmp(path, "/vm/config") == 0 && strcmp(m, "GET") == 0) {
		*status = 200;
		*body = ops->vm_config(ops->ctx);
		if (!*body) {
			*status = 500;
			*body = api_fault("cannot describe the configuration");
		}
	} else if (strcmp(path, "/vm") == 0 && strcmp(m, "PATCH") == 0) {
		patch_vm(ops, req, status, body);
	} else if (strcmp(path, "/actions") == 0 && strcmp(m, "PUT") == 0) {
		put_actions(ops, req, status, body);
	} else {
		*status = 400;
		*body = api_fault("Invalid request method and/or path: %s %s.", m, path);
	}
}
