#include "config/fc_config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "mmds/mmds_store.h"
#include "util/err.h"
#include "util/log.h"

/* ---- small checked accessors: each names section and field in its error ---- */

static int only_fields(json_t *o, const char *section, const char *const *allowed)
{
	const char *key;
	json_t *v;

	if (!json_is_object(o))
		return err_set(-EINVAL, "%s: expected a JSON object", section);
	json_object_foreach(o, key, v) {
		const char *const *a = allowed;

		while (*a && strcmp(*a, key))
			a++;
		if (!*a) {
			char list[256] = "";

			for (a = allowed; *a; a++) {
				strncat(list, a == allowed ? "" : ", ", sizeof(list) - strlen(list) - 1);
				strncat(list, *a, sizeof(list) - strlen(list) - 1);
			}
			return err_set(-EINVAL, "%s: unknown field `%.64s` (expected one of: %s)",
				       section, key, list);
		}
	}
	return 0;
}

/* A string field. Absent or null: *out stays NULL (-EINVAL if required). Copies it. */
static int get_str(json_t *o, const char *section, const char *key, bool required,
		   size_t max, char **out)
{
	json_t *v = json_object_get(o, key);
	const char *s;

	*out = NULL;
	if (!v || json_is_null(v)) {
		if (required)
			return err_set(-EINVAL, "%s: missing field `%s`", section, key);
		return 0;
	}
	if (!json_is_string(v))
		return err_set(-EINVAL, "%s: `%s` must be a string", section, key);
	s = json_string_value(v);
	if (strlen(s) != json_string_length(v))
		return err_set(-EINVAL, "%s: `%s` contains a NUL byte", section, key);
	if (strlen(s) > max)
		return err_set(-EINVAL, "%s: `%s` is longer than %zu bytes", section, key, max);
	if (required && !*s)
		return err_set(-EINVAL, "%s: `%s` must not be empty", section, key);
	*out = strdup(s);
	if (!*out)
		return err_set(-ENOMEM, "out of memory");
	return 0;
}

/* A boolean field; absent or null leaves *out alone (-EINVAL if required). */
static int get_bool(json_t *o, const char *section, const char *key, bool required, bool *out)
{
	json_t *v = json_object_get(o, key);

	if (!v || json_is_null(v))
		return required ? err_set(-EINVAL, "%s: missing field `%s`", section, key) : 0;
	if (!json_is_boolean(v))
		return err_set(-EINVAL, "%s: `%s` must be true or false", section, key);
	*out = json_is_true(v);
	return 0;
}

/* An integer field in [min, max]; absent leaves *out alone (1 if present, 0 if not). */
static int get_uint(json_t *o, const char *section, const char *key, uint64_t min, uint64_t max,
		    uint64_t *out)
{
	json_t *v = json_object_get(o, key);
	json_int_t i;

	if (!v)
		return 0;
	if (!json_is_integer(v))
		return err_set(-EINVAL, "%s: `%s` must be a whole number", section, key);
	i = json_integer_value(v);
	if (i < 0 || (uint64_t)i < min || (uint64_t)i > max)
		return err_set(-EINVAL, "%s: `%s` %lld is out of range (%llu to %llu)", section, key,
			       (long long)i, (unsigned long long)min, (unsigned long long)max);
	*out = (uint64_t)i;
	return 1;
}

/* A string field that must be one of values (any case); absent is fine. */
static int get_enum(json_t *o, const char *section, const char *key, const char *const *values,
		    char **out)
{
	int r = get_str(o, section, key, false, 32, out);

	if (r < 0 || !*out)
		return r;
	for (const char *const *v = values; *v; v++) {
		if (strcasecmp(*v, *out) == 0) {
			strcpy(*out, *v);
			return 0;
		}
	}
	r = err_set(-EINVAL, "%s: unknown %s `%s`", section, key, *out);
	free(*out);
	*out = NULL;
	return r;
}

/* Ids: 1 to 64 of [A-Za-z0-9_-.] (they travel in URL paths). */
static int check_id(const char *section, const char *key, const char *id)
{
	size_t n = strlen(id);

	if (!n || n > FC_ID_MAX || strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				   "0123456789_-.") != n)
		return err_set(-EINVAL, "%s: invalid %s `%.64s`: use 1 to %d letters, digits, "
			       "'_', '-' or '.'", section, key, id, FC_ID_MAX);
	return 0;
}

/* A rate limiter: null, {}, or {"bandwidth": TB, "ops": TB} with token buckets
 * {"size", "one_time_burst", "refill_time"}. Accepted and not enforced. */
static int check_token_bucket(json_t *tb, const char *section, const char *key)
{
	static const char *const fields[] = { "size", "one_time_burst", "refill_time", NULL };
	uint64_t v;
	int r;

	if (json_is_null(tb))
		return 0;
	r = only_fields(tb, section, fields);
	for (const char *const *f = fields; r >= 0 && *f; f++)
		r = get_uint(tb, section, *f, 0, UINT64_MAX >> 1, &v);
	if (r >= 0 && (!json_object_get(tb, "size") || !json_object_get(tb, "refill_time")))
		r = err_set(-EINVAL, "%s: `%s` needs `size` and `refill_time`", section, key);
	return r < 0 ? r : 0;
}

int fc_check_rate_limiter(json_t *o, const char *section, const char *key)
{
	static const char *const fields[] = { "bandwidth", "ops", NULL };
	json_t *rl = json_object_get(o, key);
	char sub[96];
	int r;

	if (!rl || json_is_null(rl))
		return 0;
	snprintf(sub, sizeof(sub), "%s.%s", section, key);
	r = only_fields(rl, sub, fields);
	for (const char *const *f = fields; r >= 0 && *f; f++)
		if (json_object_get(rl, *f))
			r = check_token_bucket(json_object_get(rl, *f), sub, *f);
	return r;
}

static int parse_mac(const char *s, uint8_t mac[6])
{
	static const char hex[] = "0123456789abcdef";

	if (strlen(s) != 17)
		return -EINVAL;
	for (int i = 0; i < 6; i++) {
		const char *hi = s[3 * i] ? strchr(hex, s[3 * i] | 0x20) : NULL;
		const char *lo = s[3 * i + 1] ? strchr(hex, s[3 * i + 1] | 0x20) : NULL;

		if (!hi || !lo || (i < 5 && s[3 * i + 2] != ':'))
			return -EINVAL;
		mac[i] = (uint8_t)((hi - hex) << 4 | (lo - hex));
	}
	return (mac[0] & 1) ? -EINVAL : 0;
}

static int check_readable(const char *section, const char *key, const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return err_set(-EINVAL, "%s: %s %s: %s", section, key, path, strerror(errno));
	if (S_ISDIR(st.st_mode))
		return err_set(-EINVAL, "%s: %s %s is a directory", section, key, path);
	return 0;
}

/* ---- the sections ---- */

void fc_config_init(struct fc_config *c)
{
	memset(c, 0, sizeof(*c));
	c->vcpus = FC_DEFAULT_VCPUS;
	c->mem_mib = FC_DEFAULT_MEM_MIB;
	c->logger.level = LOG_WARN;
	c->mmds_limit = FC_DEFAULT_MMDS_LIMIT;
}

static void drive_free(struct fc_drive *d)
{
	free(d->id);
	free(d->path);
	free(d->partuuid);
	free(d->cache_type);
	free(d->io_engine);
	memset(d, 0, sizeof(*d));
}

static void net_free(struct fc_net *n)
{
	free(n->id);
	free(n->tap);
	memset(n, 0, sizeof(*n));
}

void fc_config_free(struct fc_config *c)
{
	size_t limit;

	free(c->kernel);
	free(c->initrd);
	free(c->boot_args);
	free(c->cpu_template);
	for (unsigned int i = 0; i < c->ndrives; i++)
		drive_free(&c->drives[i]);
	for (unsigned int i = 0; i < c->nnets; i++)
		net_free(&c->nets[i]);
	free(c->vsock_uds);
	free(c->vsock_id);
	free(c->logger.path);
	free(c->metrics_path);
	json_decref(c->mmds_config);
	json_decref(c->mmds);
	limit = c->mmds_limit;
	fc_config_init(c);
	c->mmds_limit = limit;   /* a setting of the process, not of the description */
}

int fc_put_boot_source(struct fc_config *c, json_t *body)
{
	static const char *const fields[] = { "kernel_image_path", "boot_args", "initrd_path", NULL };
	static const char sec[] = "boot-source";
	char *kernel = NULL, *args = NULL, *initrd = NULL;
	int r;

	r = only_fields(body, sec, fields);
	if (r < 0)
		return r;
	r = get_str(body, sec, "kernel_image_path", true, FC_PATH_MAX, &kernel);
	if (r >= 0)
		r = get_str(body, sec, "boot_args", false, 4096, &args);
	if (r >= 0)
		r = get_str(body, sec, "initrd_path", false, FC_PATH_MAX, &initrd);
	if (r >= 0)
		r = check_readable(sec, "kernel_image_path", kernel);
	if (r >= 0 && initrd)
		r = check_readable(sec, "initrd_path", initrd);
	if (r < 0)
		goto fail;
	free(c->kernel);
	free(c->boot_args);
	free(c->initrd);
	c->kernel = kernel;
	c->boot_args = args;
	c->initrd = initrd;
	return 0;
fail:
	free(kernel);
	free(args);
	free(initrd);
	return r;
}

int fc_put_machine_config(struct fc_config *c, json_t *body, bool patch)
{
	static const char *const fields[] = { "vcpu_count", "mem_size_mib", "smt", "cpu_template",
					      "track_dirty_pages", "huge_pages", NULL };
	static const char *const templates[] = { "None", "C3", "T2", "T2S", "T2CL", "T2A", "V1N1",
						 NULL };
	static const char *const huge[] = { "None", "2M", NULL };
	static const char sec[] = "machine-config";
	uint64_t vcpus = c->vcpus, mem = c->mem_mib;
	bool smt = c->smt, dirty = c->track_dirty_pages;
	char *tmpl = NULL, *hp = NULL;
	int r;

	r = only_fields(body, sec, fields);
	if (r < 0)
		return r;
	if (!patch && (!json_object_get(body, "vcpu_count") || !json_object_get(body, "mem_size_mib")))
		return err_set(-EINVAL, "%s: missing field `%s`", sec,
			       json_object_get(body, "vcpu_count") ? "mem_size_mib" : "vcpu_count");
	if (patch && !json_object_size(body))
		return err_set(-EINVAL, "%s: PATCH with no fields: give at least one", sec);
	if ((r = get_uint(body, sec, "vcpu_count", 1, FC_MAX_VCPUS, &vcpus)) < 0 ||
	    (r = get_uint(body, sec, "mem_size_mib", 2, UINT64_C(1) << 30, &mem)) < 0 ||
	    (r = get_bool(body, sec, "smt", false, &smt)) < 0 ||
	    (r = get_bool(body, sec, "track_dirty_pages", false, &dirty)) < 0 ||
	    (r = get_enum(body, sec, "cpu_template", templates, &tmpl)) < 0 ||
	    (r = get_enum(body, sec, "huge_pages", huge, &hp)) < 0)
		goto out;
	if (hp && strcmp(hp, "None")) {
		r = err_set(-EINVAL, "%s: huge_pages `%s` is not supported by Ember: use \"None\"", sec,
			    hp);
		goto out;
	}
	if (smt && vcpus > 1 && vcpus % 2) {
		r = err_set(-EINVAL, "%s: with smt, vcpu_count must be 1 or even", sec);
		goto out;
	}
	c->vcpus = (unsigned int)vcpus;
	c->mem_mib = mem;
	c->smt = smt;
	c->track_dirty_pages = dirty;
	if (tmpl) {
		free(c->cpu_template);
		c->cpu_template = tmpl;
		tmpl = NULL;
	}
	r = 0;
out:
	free(tmpl);
	free(hp);
	return r;
}

int fc_put_drive(struct fc_config *c, const char *id, json_t *body)
{
	static const char *const fields[] = { "drive_id", "path_on_host", "is_root_device",
					      "is_read_only", "partuuid", "cache_type", "io_engine",
					      "rate_limiter", NULL };
	static const char *const caches[] = { "Unsafe", "Writeback", NULL };
	static const char *const engines[] = { "Sync", "Async", NULL };
	static const char sec[] = "drives";
	struct fc_drive d;
	unsigned int slot = c->ndrives;
	int r;

	memset(&d, 0, sizeof(d));
	r = only_fields(body, sec, fields);
	if (r < 0)
		return r;
	if ((r = get_str(body, sec, "drive_id", true, FC_ID_MAX, &d.id)) < 0 ||
	    (r = check_id(sec, "drive_id", d.id)) < 0)
		goto fail;
	if (id && strcmp(id, d.id)) {
		r = err_set(-EINVAL, "The id from the path [%s] does not match the id from the "
			    "body [%s]!", id, d.id);
		goto fail;
	}
	if ((r = get_str(body, sec, "path_on_host", true, FC_PATH_MAX, &d.path)) < 0 ||
	    (r = get_bool(body, sec, "is_root_device", true, &d.root)) < 0 ||
	    (r = get_bool(body, sec, "is_read_only", false, &d.read_only)) < 0 ||
	    (r = get_str(body, sec, "partuuid", false, 64, &d.partuuid)) < 0 ||
	    (r = get_enum(body, sec, "cache_type", caches, &d.cache_type)) < 0 ||
	    (r = get_enum(body, sec, "io_engine", engines, &d.io_engine)) < 0 ||
	    (r = fc_check_rate_limiter(body, sec, "rate_limiter")) < 0 ||
	    (r = check_readable(sec, "path_on_host", d.path)) < 0)
		goto fail;
	if (d.partuuid && strspn(d.partuuid, "0123456789abcdefABCDEF-") != strlen(d.partuuid)) {
		r = err_set(-EINVAL, "%s: partuuid `%s` is not a UUID (hex digits and '-')", sec,
			    d.partuuid);
		goto fail;
	}
	for (unsigned int i = 0; i < c->ndrives; i++) {
		if (!strcmp(c->drives[i].id, d.id))
			slot = i;
		else if (d.root && c->drives[i].root) {
			r = err_set(-EINVAL, "A root block device already exists! (drive `%s`)",
				    c->drives[i].id);
			goto fail;
		}
	}
	if (slot == VM_MAX_DISKS) {
		r = err_set(-EINVAL, "%s: at most %d drives", sec, VM_MAX_DISKS);
		goto fail;
	}
	if (slot < c->ndrives)
		drive_free(&c->drives[slot]);
	else
		c->ndrives++;
	c->drives[slot] = d;
	return 0;
fail:
	drive_free(&d);
	return r;
}

int fc_put_net(struct fc_config *c, const char *id, json_t *body)
{
	static const char *const fields[] = { "iface_id", "host_dev_name", "guest_mac",
					      "rx_rate_limiter", "tx_rate_limiter", NULL };
	static const char sec[] = "network-interfaces";
	struct fc_net n;
	char *mac = NULL;
	unsigned int slot = c->nnets;
	int r;

	memset(&n, 0, sizeof(n));
	r = only_fields(body, sec, fields);
	if (r < 0)
		return r;
	if ((r = get_str(body, sec, "iface_id", true, FC_ID_MAX, &n.id)) < 0 ||
	    (r = check_id(sec, "iface_id", n.id)) < 0)
		goto fail;
	if (id && strcmp(id, n.id)) {
		r = err_set(-EINVAL, "The id from the path [%s] does not match the id from the "
			    "body [%s]!", id, n.id);
		goto fail;
	}
	if ((r = get_str(body, sec, "host_dev_name", true, 15, &n.tap)) < 0 ||
	    (r = get_str(body, sec, "guest_mac", false, 17, &mac)) < 0 ||
	    (r = fc_check_rate_limiter(body, sec, "rx_rate_limiter")) < 0 ||
	    (r = fc_check_rate_limiter(body, sec, "tx_rate_limiter")) < 0)
		goto fail;
	if (mac) {
		if (parse_mac(mac, n.mac) < 0) {
			r = err_set(-EINVAL, "%s: guest_mac `%s` is not a unicast MAC address like "
				    "06:00:ac:10:00:02", sec, mac);
			goto fail;
		}
		n.has_mac = true;
	}
	for (unsigned int i = 0; i < c->nnets; i++) {
		const struct fc_net *o = &c->nets[i];

		if (!strcmp(o->id, n.id)) {
			slot = i;
			continue;
		}
		if (!strcmp(o->tap, n.tap)) {
			r = err_set(-EINVAL, "%s: host_dev_name %s is already used by interface `%s`",
				    sec, n.tap, o->id);
			goto fail;
		}
		if (n.has_mac && o->has_mac && !memcmp(o->mac, n.mac, 6)) {
			r = err_set(-EINVAL, "%s: guest_mac %s is already used by interface `%s`", sec,
				    mac, o->id);
			goto fail;
		}
	}
	if (slot == VM_MAX_NETS) {
		r = err_set(-EINVAL, "%s: at most %d network interfaces", sec, VM_MAX_NETS);
		goto fail;
	}
	if (slot < c->nnets)
		net_free(&c->nets[slot]);
	else
		c->nnets++;
	c->nets[slot] = n;
	free(mac);
	return 0;
fail:
	free(mac);
	net_free(&n);
	return r;
}

int fc_put_vsock(struct fc_config *c, json_t *body)
{
	static const char *const fields[] = { "guest_cid", "uds_path", "vsock_id", NULL };
	static const char sec[] = "vsock";
	char *uds = NULL, *vid = NULL;
	uint64_t cid = 0;
	int r;

	r = only_fields(body, sec, fields);
	if (r < 0)
		return r;
	if (!json_object_get(body, "guest_cid"))
		return err_set(-EINVAL, "%s: missing field `guest_cid`", sec);
	if ((r = get_uint(body, sec, "guest_cid", 0, UINT32_MAX, &cid)) < 0 ||
	    (r = get_str(body, sec, "uds_path", true, 107, &uds)) < 0 ||
	    (r = get_str(body, sec, "vsock_id", false, FC_ID_MAX, &vid)) < 0)
		goto fail;
	if (cid == 1 || cid == 2 || cid == UINT32_MAX) {
		r = err_set(-EINVAL, "%s: guest_cid %llu is reserved: use 3 or more", sec,
			    (unsigned long long)cid);
		goto fail;
	}
	free(c->vsock_uds);
	free(c->vsock_id);
	c->vsock_uds = uds;
	c->vsock_id = vid;
	c->vsock_cid = (uint32_t)cid;
	c->has_vsock = true;
	return 0;
fail:
	free(uds);
	free(vid);
	return r;
}

int fc_parse_level(const char *s)
{
	static const struct { const char *name; int level; } levels[] = {
		{ "Error", LOG_ERROR }, { "Warning", LOG_WARN }, { "Warn", LOG_WARN },
		{ "Info", LOG_INFO }, { "Debug", LOG_DEBUG }, { "Trace", LOG_TRACE }, { "Off", -1 },
	};

	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		if (strcasecmp(s, levels[i].name) == 0)
			return levels[i].level;
	return -EINVAL;
}

int fc_parse_logger(json_t *body, struct fc_logger *out)
{
	static const char *const fields[] = { "log_path", "level", "show_level", "show_log_origin",
					      "module", NULL };
	static const char sec[] = "logger";
	struct fc_logger l = { .set = true, .level = LOG_INFO };
	char *level = NULL, *module = NULL;
	int r;

	r = only_fields(body, sec, fields);
	if (r < 0)
		return r;
	if ((r = get_str(body, sec, "log_path", false, FC_PATH_MAX, &l.path)) < 0 ||
	    (r = get_str(body, sec, "level", false, 16, &level)) < 0 ||
	    (r = get_str(body, sec, "module", false, 256, &module)) < 0 ||
	    (r = get_bool(body, sec, "show_level", false, &l.show_level)) < 0 ||
	    (r = get_bool(body, sec, "show_log_origin", false, &l.show_origin)) < 0)
		goto fail;
	if (level) {
		l.level = fc_parse_level(level);
		if (l.level == -EINVAL) {
			r = err_set(-EINVAL, "%s: unknown level `%s` (expected Error, Warning, Info, "
				    "Debug, Trace or Off)", sec, level);
			goto fail;
		}
	}
	if (l.path && !*l.path) {
		r = err_set(-EINVAL, "%s: log_path must not be empty", sec);
		goto fail;
	}
	free(level);
	free(module);
	*out = l;
	return 0;
fail:
	free(level);
	free(module);
	free(l.path);
	return r;
}

int fc_put_metrics(struct fc_config *c, json_t *body)
{
	static const char *const fields[] = { "metrics_path", NULL };
	char *path = NULL;
	int r = only_fields(body, "metrics", fields);

	if (r < 0)
		return r;
	r = get_str(body, "metrics", "metrics_path", true, FC_PATH_MAX, &path);
	if (r < 0)
		return r;
	free(c->metrics_path);
	c->metrics_path = path;
	return 0;
}

int fc_put_mmds_config(struct fc_config *c, json_t *body)
{
	static const char *const fields[] = { "version", "network_interfaces", "ipv4_address", NULL };
	static const char *const versions[] = { "V1", "V2", NULL };
	static const char sec[] = "mmds-config";
	json_t *ifs, *v, *copy;
	char *version = NULL, *ip = NULL;
	size_t i;
	int r;

	r = only_fields(body, sec, fields);
	if (r < 0)
		return r;
	if ((r = get_enum(body, sec, "version", versions, &version)) < 0 ||
	    (r = get_str(body, sec, "ipv4_address", false, 15, &ip)) < 0)
		goto out;
	if (ip) {
		struct in_addr a;

		uint32_t h;

		if (inet_pton(AF_INET, ip, &a) != 1 || mmds_parse_ipv4(ip, &h) < 0) {
			r = err_set(-EINVAL, "%s: ipv4_address `%s` is not an IPv4 address", sec, ip);
			goto out;
		}
		/* The same rule the store applies at boot (RFC 3927's usable range). */
		if ((h >> 16) != 0xa9fe || ((h >> 8) & 0xff) == 0 || ((h >> 8) & 0xff) == 255) {
			r = err_set(-EINVAL, "%s: ipv4_address %s is not a usable link-local address "
				    "(169.254.1.0 to 169.254.254.255)", sec, ip);
			goto out;
		}
	}
	ifs = json_object_get(body, "network_interfaces");
	if (!json_is_array(ifs) || !json_array_size(ifs)) {
		r = err_set(-EINVAL, "%s: `network_interfaces` must be a non-empty array of "
			    "iface_id strings", sec);
		goto out;
	}
	json_array_foreach(ifs, i, v) {
		unsigned int k = 0;

		if (!json_is_string(v)) {
			r = err_set(-EINVAL, "%s: `network_interfaces` must hold strings", sec);
			goto out;
		}
		while (k < c->nnets && strcmp(c->nets[k].id, json_string_value(v)))
			k++;
		if (k == c->nnets) {
			r = err_set(-EINVAL, "%s: no network interface `%.64s`: PUT "
				    "/network-interfaces/%.64s first", sec, json_string_value(v),
				    json_string_value(v));
			goto out;
		}
	}
	copy = json_deep_copy(body);
	if (!copy) {
		r = err_set(-ENOMEM, "out of memory");
		goto out;
	}
	if (!json_object_get(copy, "version"))
		json_object_set_new(copy, "version", json_string("V1"));
	json_decref(c->mmds_config);
	c->mmds_config = copy;
	r = 0;
out:
	free(version);
	free(ip);
	return r;
}

/* Takes store (a new reference) as the MMDS data store if it fits the limit. */
static int mmds_set(struct fc_config *c, json_t *store, const char *what)
{
	size_t n;

	if (!store)
		return err_set(-ENOMEM, "out of memory");
	if (!json_is_object(store)) {
		json_decref(store);
		return err_set(-EINVAL, "mmds: the data store must be a JSON object");
	}
	n = json_dumpb(store, NULL, 0, JSON_COMPACT);
	if (n > c->mmds_limit) {
		json_decref(store);
		return err_set(-EINVAL, "The MMDS %s request doesn't fit: %zu bytes, the limit is %zu "
			       "(--mmds-size-limit).", what, n, c->mmds_limit);
	}
	json_decref(c->mmds);
	c->mmds = store;
	return 0;
}

int fc_put_mmds(struct fc_config *c, json_t *body)
{
	return mmds_set(c, json_deep_copy(body), "PUT");
}

int fc_patch_mmds(struct fc_config *c, json_t *body)
{
	json_t *next;

	if (!json_is_object(body))
		return err_set(-EINVAL, "mmds: a PATCH body must be a JSON object");
	if (!c->mmds)
		return err_set(-EINVAL, "The MMDS data store is not initialized: PUT /mmds first.");
	next = json_deep_copy(c->mmds);
	if (next && json_object_update_recursive(next, body) < 0) {
		json_decref(next);
		next = NULL;
	}
	return mmds_set(c, next, "PATCH");
}

int fc_put_entropy(struct fc_config *c, json_t *body)
{
	static const char *const fields[] = { "rate_limiter", NULL };
	int r = only_fields(body, "entropy", fields);

	if (r >= 0)
		r = fc_check_rate_limiter(body, "entropy", "rate_limiter");
	if (r < 0)
		return r;
	c->entropy = true;
	return 0;
}
