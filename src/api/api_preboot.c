/* The configuration routes: what a Firecracker client sends before InstanceStart (and
 * the few that also work afterwards: GET /machine-config, the MMDS store, PATCH of a
 * drive's backing file and of a NIC's rate limiters). Bodies are validated by config/fc_config.c; a valid request is
 * 204 with no body, anything else 400 {"fault_message"}. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_routes.h"
#include "config/fc_config.h"
#include "mmds/mmds_store.h"
#include "util/err.h"

static void fault_err(int *status, char **body, int r)
{
	*status = 400;
	*body = api_fault("%s", err_msg()[0] ? err_msg() : strerror(-r));
}

static void fault_msg(int *status, char **body, const char *msg)
{
	*status = 400;
	*body = api_fault("%s", msg);
}

/* "/drives/ID" -> "ID" when path starts with prefix and the rest is one segment. */
static const char *path_id(const char *path, const char *prefix)
{
	size_t n = strlen(prefix);

	if (strncmp(path, prefix, n) || !path[n] || strchr(path + n, '/'))
		return NULL;
	return path + n;
}

static void reply(int *status, char **body, json_t *o)
{
	*status = o ? 200 : 500;
	*body = o ? json_dumps(o, JSON_COMPACT) : api_fault("out of memory");
	json_decref(o);
}

static int put_logger(const struct api_ops *ops, json_t *b)
{
	struct fc_logger l;
	int r = fc_parse_logger(b, &l);

	if (r < 0)
		return r;
	if (ops->apply_logger) {
		r = ops->apply_logger(ops->ctx, &l);
		if (r < 0) {
			free(l.path);
			return r;
		}
	}
	free(ops->config->logger.path);
	ops->config->logger = l;
	return 0;
}

static int put_metrics(const struct api_ops *ops, json_t *b)
{
	struct fc_config tmp;
	int r;

	if (ops->config->metrics_path)
		return err_set(-EINVAL, "Reinitialization of metrics not allowed.");
	fc_config_init(&tmp);
	r = fc_put_metrics(&tmp, b);
	if (r >= 0 && ops->apply_metrics)
		r = ops->apply_metrics(ops->ctx, tmp.metrics_path);
	if (r >= 0) {
		ops->config->metrics_path = tmp.metrics_path;
		tmp.metrics_path = NULL;
	}
	fc_config_free(&tmp);
	return r;
}

/* What every PATCH of a device checks first: only fields (NULL-terminated; the first
 * is the id field) appear, and the id in the body is the one in the path. */
static int patch_preamble(json_t *b, const char *sec, const char *const *fields,
			  const char *id)
{
	const char *key;
	json_t *v;

	json_object_foreach(b, key, v) {
		const char *const *f = fields;
		char expected[128] = "";

		while (*f && strcmp(*f, key))
			f++;
		if (*f)
			continue;
		for (f = fields; *f; f++)
			snprintf(expected + strlen(expected), sizeof(expected) - strlen(expected),
				 "%s%s", f == fields ? "" : ", ", *f);
		return err_set(-EINVAL, "%s: unknown field `%.64s` in a PATCH (expected %s)", sec,
			       key, expected);
	}
	v = json_object_get(b, fields[0]);
	if (!json_is_string(v))
		return err_set(-EINVAL, "%s: missing field `%s`", sec, fields[0]);
	if (strcmp(json_string_value(v), id))
		return err_set(-EINVAL, "The id from the path [%s] does not match the id from the "
			       "body [%.64s]!", id, json_string_value(v));
	return 0;
}

/* PATCH /network-interfaces/{id} after boot: only the rate limiters may change, and
 * Ember does not enforce them, so a valid request changes nothing. */
static int patch_net(const struct api_ops *ops, const char *id, json_t *b)
{
	static const char *const fields[] = { "iface_id", "rx_rate_limiter", "tx_rate_limiter",
					      NULL };
	const struct fc_config *c = ops->config;
	json_t *probe;
	unsigned int i = 0;
	int r;

	r = patch_preamble(b, "network-interfaces", fields, id);
	if (r < 0)
		return r;
	while (i < c->nnets && strcmp(c->nets[i].id, id))
		i++;
	if (i == c->nnets)
		return err_set(-EINVAL, "Invalid interface ID - not found: %s", id);
	/* Validate the limiters through the PUT validator, on a scratch NIC. */
	probe = json_pack("{s:s, s:s, s:O?, s:O?}", "iface_id", "probe", "host_dev_name", "probe",
			  "rx_rate_limiter", json_object_get(b, "rx_rate_limiter"),
			  "tx_rate_limiter", json_object_get(b, "tx_rate_limiter"));
	if (!probe)
		return err_set(-ENOMEM, "out of memory");
	{
		struct fc_config tmp;

		fc_config_init(&tmp);
		r = fc_put_net(&tmp, NULL, probe);
		fc_config_free(&tmp);
	}
	json_decref(probe);
	return r;
}

/* PATCH /drives/{id} after boot: a new backing file (path_on_host) for a running disk,
 * and/or its rate limiter (accepted, not enforced). */
static int patch_drive(const struct api_ops *ops, const char *id, json_t *b)
{
	static const char *const fields[] = { "drive_id", "path_on_host", "rate_limiter", NULL };
	const struct fc_config *c = ops->config;
	json_t *path;
	unsigned int i = 0;
	char why[400];
	int r;

	r = patch_preamble(b, "drives", fields, id);
	if (r < 0)
		return r;
	while (i < c->ndrives && strcmp(c->drives[i].id, id))
		i++;
	if (i == c->ndrives)
		return err_set(-EINVAL, "Invalid block device ID: the microVM has no drive `%s`.",
			       id);
	path = json_object_get(b, "path_on_host");
	if (path && !json_is_null(path) && (!json_is_string(path) || !json_string_length(path)))
		return err_set(-EINVAL, "drives: `path_on_host` must be a non-empty string (the "
			       "new backing file)");
	if (path && json_string_length(path) > FC_PATH_MAX)
		return err_set(-EINVAL, "drives: `path_on_host` is longer than %d bytes", FC_PATH_MAX);
	r = fc_check_rate_limiter(b, "drives", "rate_limiter");
	if (r < 0 || !json_is_string(path))
		return r;    /* a rate limiter alone: valid, and nothing to change */
	if (!ops->patch_drive)
		return err_set(-ENOTSUP, "Ember cannot update the drives of this microVM.");
	r = ops->patch_drive(ops->ctx, id, json_string_value(path));
	if (r < 0) {
		snprintf(why, sizeof(why), "%s", err_msg()[0] ? err_msg() : strerror(-r));
		return err_set(r, "Unable to patch the block device `%s`: %s", id, why);
	}
	return 0;
}

/* PUT or PATCH /mmds on the live store. */
static int mmds_write(struct mmds_store *st, bool put, const struct http_request *req)
{
	char why[320] = "";
	json_t *cur = NULL;
	int r;

	if (!put) {
		/* As Firecracker: a PATCH needs a store some PUT initialized. */
		r = mmds_store_get(st, "", &cur);
		json_decref(cur);
		if (r == -ENOENT)
			return err_set(-EINVAL, "The MMDS data store is not initialized: PUT /mmds "
				       "first.");
		if (r < 0)
			return err_set(r, "out of memory");
	}
	r = put ? mmds_store_put_json(st, req->body, req->body_len, why, sizeof(why))
		: mmds_store_patch_json(st, req->body, req->body_len, why, sizeof(why));
	if (r < 0)
		return err_set(r == -EFBIG ? -EINVAL : r, "%s (--mmds-size-limit)", why);
	return 0;
}

bool api_preboot_handle(const struct api_ops *ops, const char *m, const char *path,
			const struct http_request *req, int *status, char **body, int *counter)
{
	struct fc_config *c = ops->config;
	bool put = !strcmp(m, "PUT"), patch = !strcmp(m, "PATCH"), get = !strcmp(m, "GET");
	bool started = api_started(ops);
	const char *drive = path_id(path, "/drives/"), *nic = path_id(path, "/network-interfaces/");
	bool pre_only = false, post_only = false;
	struct mmds_store *store = ops->mmds ? ops->mmds(ops->ctx) : NULL;
	json_t *b = NULL;
	int r = 0;

	/* Which route, and when it may run. */
	if (!strcmp(path, "/machine-config") && get) {
		*counter = AC_GET_MACHINE_CFG;
		if (!c)
			return false;
		reply(status, body, fc_machine_config_json(c));
		return true;
	} else if (!strcmp(path, "/mmds") && get) {
		*counter = AC_GET_MMDS;
		if (!c)
			return false;
		if (store) {
			*status = 200;
			*body = mmds_store_get_json(store);
			if (!*body) {
				*status = 500;
				*body = api_fault("out of memory");
			}
			return true;
		}
		reply(status, body, c->mmds ? json_incref(c->mmds) : json_object());
		return true;
	} else if (!strcmp(path, "/machine-config") && (put || patch)) {
		*counter = put ? AC_PUT_MACHINE_CFG : AC_PATCH_MACHINE_CFG;
		pre_only = true;
	} else if (drive && (put || patch)) {
		*counter = put ? AC_PUT_DRIVE : AC_PATCH_DRIVE;
		pre_only = put;
		post_only = patch;
	} else if (nic && (put || patch)) {
		*counter = put ? AC_PUT_NETWORK : AC_PATCH_NETWORK;
		pre_only = put;
		post_only = patch;
	} else if (put && (!strcmp(path, "/boot-source") || !strcmp(path, "/vsock") ||
			   !strcmp(path, "/logger") || !strcmp(path, "/metrics") ||
			   !strcmp(path, "/mmds/config") || !strcmp(path, "/entropy"))) {
		*counter = !strcmp(path, "/boot-source") ? AC_PUT_BOOT_SOURCE :
			   !strcmp(path, "/vsock") ? AC_PUT_VSOCK :
			   !strcmp(path, "/logger") ? AC_PUT_LOGGER :
			   !strcmp(path, "/metrics") ? AC_PUT_METRICS :
			   !strcmp(path, "/entropy") ? AC_PUT_ENTROPY : AC_PUT_MMDS;
		pre_only = true;
	} else if (!strcmp(path, "/mmds") && (put || patch)) {
		*counter = put ? AC_PUT_MMDS : AC_PATCH_MMDS;
	} else if (!strncmp(path, "/balloon", 8) || !strncmp(path, "/snapshot/", 10) ||
		   !strcmp(path, "/cpu-config") || !strncmp(path, "/hotplug", 8)) {
		if (!(put || patch || get))
			return false;
		*status = 400;
		*body = api_fault("Ember does not implement %.64s (see docs/firecracker-compat.md).",
				  path);
		return true;
	} else {
		return false;
	}
	if (!c)
		return false;

	b = api_parse_body(req, true, status, body);
	if (!b)
		return true;
	if (pre_only && started) {
		fault_msg(status, body, API_MSG_POST_BOOT);
		goto out;
	}
	if (post_only && !started) {
		fault_msg(status, body, API_MSG_PRE_BOOT);
		goto out;
	}
	err_clear();
	if (!strcmp(path, "/machine-config"))
		r = fc_put_machine_config(c, b, patch);
	else if (drive)
		r = put ? fc_put_drive(c, drive, b) : patch_drive(ops, drive, b);
	else if (nic)
		r = put ? fc_put_net(c, nic, b) : patch_net(ops, nic, b);
	else if (!strcmp(path, "/boot-source"))
		r = fc_put_boot_source(c, b);
	else if (!strcmp(path, "/vsock"))
		r = fc_put_vsock(c, b);
	else if (!strcmp(path, "/logger"))
		r = put_logger(ops, b);
	else if (!strcmp(path, "/metrics"))
		r = put_metrics(ops, b);
	else if (!strcmp(path, "/mmds/config"))
		r = fc_put_mmds_config(c, b);
	else if (!strcmp(path, "/entropy"))
		r = fc_put_entropy(c, b);
	else if (store)
		r = mmds_write(store, put, req);
	else if (put)
		r = fc_put_mmds(c, b);
	else
		r = fc_patch_mmds(c, b);
	if (r < 0)
		fault_err(status, body, r);
	else
		*status = 204;
out:
	json_decref(b);
	return true;
}
