/* The whole Firecracker VM description: --config-file documents in, GET /vm/config out,
 * and the struct vm_config the VM is built from. */
#include "config/fc_config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/cmdline.h"
#include "util/err.h"
#include "util/log.h"

#define FC_DEFAULT_CMDLINE "console=ttyS0 reboot=k panic=1"
#define FC_FILE_MAX (1024 * 1024)

/* Prefixes the current error message with where (the file, the section). */
static int wrap(int r, const char *name, const char *where)
{
	char msg[512];

	snprintf(msg, sizeof(msg), "%s", err_msg());
	return err_set(r, "%s: %s%s%s", name, where ? where : "", where ? ": " : "", msg);
}

static int parse_array(struct fc_config *c, json_t *arr, const char *key, const char *name,
		       int (*put)(struct fc_config *, const char *, json_t *))
{
	size_t i;
	json_t *v;

	if (!arr || json_is_null(arr))
		return 0;
	if (!json_is_array(arr))
		return err_set(-EINVAL, "%s: `%s` must be an array", name, key);
	json_array_foreach(arr, i, v) {
		char where[64];
		int r = put(c, NULL, v);

		if (r < 0) {
			snprintf(where, sizeof(where), "%s[%zu]", key, i);
			return wrap(r, name, where);
		}
	}
	return 0;
}

int fc_config_parse(struct fc_config *c, const char *text, size_t len, const char *name)
{
	static const char *const keys[] = { "boot-source", "machine-config", "drives",
		"network-interfaces", "vsock", "logger", "metrics", "mmds-config", "entropy",
		"balloon", NULL };
	json_error_t e;
	json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &e), *v;
	const char *key;
	int r = 0;

	if (!doc)
		return err_set(-EINVAL, "%s: invalid JSON at line %d column %d: %s", name, e.line,
			       e.column, e.text);
	if (!json_is_object(doc)) {
		r = err_set(-EINVAL, "%s: expected a JSON object with \"boot-source\", "
			    "\"machine-config\", \"drives\", ...", name);
		goto out;
	}
	json_object_foreach(doc, key, v) {
		const char *const *k = keys;

		while (*k && strcmp(*k, key))
			k++;
		if (!*k) {
			r = err_set(-EINVAL, "%s: unknown section \"%.64s\"", name, key);
			goto out;
		}
	}
	v = json_object_get(doc, "balloon");
	if (v && !json_is_null(v)) {
		r = err_set(-EINVAL, "%s: \"balloon\": Ember has no balloon device; remove the "
			    "section", name);
		goto out;
	}
	v = json_object_get(doc, "boot-source");
	if (!v) {
		r = err_set(-EINVAL, "%s: missing \"boot-source\" (kernel_image_path is required)",
			    name);
		goto out;
	}
	if ((r = fc_put_boot_source(c, v)) < 0) {
		r = wrap(r, name, NULL);
		goto out;
	}
	v = json_object_get(doc, "machine-config");
	if (v && !json_is_null(v) && (r = fc_put_machine_config(c, v, false)) < 0) {
		r = wrap(r, name, NULL);
		goto out;
	}
	if ((r = parse_array(c, json_object_get(doc, "drives"), "drives", name, fc_put_drive)) < 0 ||
	    (r = parse_array(c, json_object_get(doc, "network-interfaces"), "network-interfaces",
			     name, fc_put_net)) < 0)
		goto out;
	{
		static const struct { const char *key; int (*put)(struct fc_config *, json_t *); }
		sections[] = { { "vsock", fc_put_vsock }, { "metrics", fc_put_metrics },
			       { "mmds-config", fc_put_mmds_config }, { "entropy", fc_put_entropy } };

		for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
			v = json_object_get(doc, sections[i].key);
			if (v && !json_is_null(v) && (r = sections[i].put(c, v)) < 0) {
				r = wrap(r, name, NULL);
				goto out;
			}
		}
	}
	v = json_object_get(doc, "logger");
	if (v && !json_is_null(v)) {
		struct fc_logger l;

		if ((r = fc_parse_logger(v, &l)) < 0) {
			r = wrap(r, name, NULL);
			goto out;
		}
		free(c->logger.path);
		c->logger = l;
	}
	r = 0;
out:
	json_decref(doc);
	return r;
}

/* Reads a whole (bounded) file. Caller frees *out. */
static int read_file(const char *path, const char *what, char **out, size_t *len)
{
	struct stat st;
	char *buf = NULL;
	size_t n = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC), r;

	if (fd < 0)
		return err_set(-errno, "%s %s: %s", what, path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > FC_FILE_MAX) {
		r = err_set(-EINVAL, "%s %s: not a regular file of at most 1 MiB", what, path);
		goto fail;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		r = err_set(-ENOMEM, "out of memory");
		goto fail;
	}
	while (n < (size_t)st.st_size) {
		ssize_t k = read(fd, buf + n, (size_t)st.st_size - n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			r = err_set(-EIO, "%s %s: cannot read it", what, path);
			goto fail;
		}
		n += (size_t)k;
	}
	close(fd);
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
fail:
	free(buf);
	close(fd);
	return r;
}

int fc_config_load(struct fc_config *c, const char *path)
{
	char *text, name[FC_PATH_MAX + 16];
	size_t len;
	int r = read_file(path, "--config-file", &text, &len);

	if (r < 0)
		return r;
	snprintf(name, sizeof(name), "--config-file %s", path);
	r = fc_config_parse(c, text, len, name);
	free(text);
	return r;
}

int fc_load_metadata(struct fc_config *c, const char *path)
{
	char *text;
	size_t len;
	json_error_t e;
	json_t *doc;
	int r = read_file(path, "--metadata", &text, &len);

	if (r < 0)
		return r;
	doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &e);
	free(text);
	if (!doc)
		return err_set(-EINVAL, "--metadata %s: invalid JSON at line %d column %d: %s", path,
			       e.line, e.column, e.text);
	r = fc_put_mmds(c, doc);
	json_decref(doc);
	return r;
}

/* ---- out ---- */

json_t *fc_machine_config_json(const struct fc_config *c)
{
	return json_pack("{s:i, s:I, s:b, s:b, s:s}", "vcpu_count", (int)c->vcpus,
			 "mem_size_mib", (json_int_t)c->mem_mib, "smt", 0, "track_dirty_pages", 0,
			 "huge_pages", "None");
}

static json_t *rate_limiter_null(void)
{
	return json_null();
}

json_t *fc_config_to_json(const struct fc_config *c, const char *boot_args)
{
	json_t *drives = json_array(), *nets = json_array(), *o;
	char *cmdline = NULL;

	for (unsigned int i = 0; i < c->ndrives; i++) {
		const struct fc_drive *d = &c->drives[i];

		json_array_append_new(drives, json_pack("{s:s, s:s, s:b, s:b, s:s?, s:s, s:s, s:o}",
			"drive_id", d->id, "path_on_host", d->path, "is_root_device", d->root,
			"is_read_only", d->read_only, "partuuid", d->partuuid,
			"cache_type", d->cache_type ? d->cache_type : "Unsafe",
			"io_engine", d->io_engine ? d->io_engine : "Sync",
			"rate_limiter", rate_limiter_null()));
	}
	for (unsigned int i = 0; i < c->nnets; i++) {
		const struct fc_net *n = &c->nets[i];
		char mac[18];

		snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", n->mac[0], n->mac[1],
			 n->mac[2], n->mac[3], n->mac[4], n->mac[5]);
		json_array_append_new(nets, json_pack("{s:s, s:s, s:s?, s:o, s:o}", "iface_id", n->id,
			"host_dev_name", n->tap, "guest_mac", n->has_mac ? mac : NULL,
			"rx_rate_limiter", rate_limiter_null(), "tx_rate_limiter",
			rate_limiter_null()));
	}
	if (!boot_args && c->kernel)
		boot_args = cmdline = fc_config_cmdline(c);
	o = json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
		"boot-source", c->kernel ? json_pack("{s:s, s:s?, s:s?}", "kernel_image_path",
			c->kernel, "initrd_path", c->initrd, "boot_args", boot_args) : json_object(),
		"machine-config", fc_machine_config_json(c),
		"drives", drives, "network-interfaces", nets,
		"vsock", c->has_vsock ? json_pack("{s:I, s:s, s:s?}", "guest_cid",
			(json_int_t)c->vsock_cid, "uds_path", c->vsock_uds, "vsock_id", c->vsock_id)
			: json_null(),
		"logger", c->logger.set ? json_pack("{s:s?, s:s, s:b, s:b}", "log_path", c->logger.path,
			"level", c->logger.level < 0 ? "Off" : (const char *[]){ "Error", "Warning",
			"Info", "Debug", "Trace" }[c->logger.level], "show_level", c->logger.show_level,
			"show_log_origin", c->logger.show_origin) : json_null(),
		"metrics", c->metrics_path ? json_pack("{s:s}", "metrics_path", c->metrics_path)
			: json_null(),
		"mmds-config", c->mmds_config ? json_deep_copy(c->mmds_config) : json_null(),
		"entropy", c->entropy ? json_pack("{s:n}", "rate_limiter") : json_null());
	free(cmdline);
	return o;
}

char *fc_config_cmdline(const struct fc_config *c)
{
	const char *base = c->boot_args ? c->boot_args : FC_DEFAULT_CMDLINE;
	char extra[160] = "", *s;
	int n = 0;

	for (unsigned int i = 0; i < c->ndrives; i++) {
		const struct fc_drive *d = &c->drives[i];

		if (!d->root || cmdline_has_param(base, "root="))
			continue;
		if (d->partuuid)
			n = snprintf(extra, sizeof(extra), "root=PARTUUID=%s", d->partuuid);
		else
			n = snprintf(extra, sizeof(extra), "root=/dev/vd%c", 'a' + (int)i);
		snprintf(extra + n, sizeof(extra) - (size_t)n, " %s", d->read_only ? "ro" : "rw");
	}
	if (!cmdline_has_param(base, "pci=")) {
		size_t l = strlen(extra);

		snprintf(extra + l, sizeof(extra) - l, "%spci=off", l ? " " : "");
	}
	s = cmdline_add(base, extra);
	return s;
}

int fc_config_to_vm_config(const struct fc_config *c, struct vm_config *out, char **cmdline)
{
	if (!c->kernel)
		return err_set(-EINVAL, "Cannot start the microVM without a kernel: PUT /boot-source "
			       "{\"kernel_image_path\": ...} first.");
	*cmdline = fc_config_cmdline(c);
	if (!*cmdline)
		return err_set(-ENOMEM, "out of memory");
	out->kernel = c->kernel;
	out->initrd = c->initrd;
	out->cmdline = *cmdline;
	out->mem_mib = c->mem_mib;
	out->vcpus = c->vcpus;
	out->ndisks = c->ndrives;
	for (unsigned int i = 0; i < c->ndrives; i++)
		out->disks[i] = (struct vm_disk_config){ .path = c->drives[i].path,
							 .read_only = c->drives[i].read_only };
	out->nnets = c->nnets;
	for (unsigned int i = 0; i < c->nnets; i++) {
		out->nets[i] = (struct vm_net_config){ .tap = c->nets[i].tap,
						       .has_mac = c->nets[i].has_mac };
		memcpy(out->nets[i].mac, c->nets[i].mac, 6);
	}
	out->rng = c->entropy;
	if (c->has_vsock) {
		/* guest_cid 0 (what some stacks send for "any") becomes 3, the first free CID. */
		out->vsock.cid = c->vsock_cid >= 3 ? c->vsock_cid : 3;
		out->vsock.uds_path = c->vsock_uds;
	}
	/* vsock (c->has_vsock, vsock_cid, vsock_uds): the vsock device hooks in here. */
	return 0;
}
