#include "config/vm_file.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/toml.h"
#include "devices/virtio/virtio_net.h"
#include "util/err.h"

#define VM_FILE_MAX_BYTES (1024 * 1024)
#define DEFAULT_MEM_MIB 128

struct ctx {
	const char *name;   /* file name for messages */
	const char *dir;    /* directory for relative paths */
	struct vm_file *f;
};

/* "file:line:col: key.path: what" for value v. */
__attribute__((format(printf, 3, 4)))
static int bad(const struct ctx *c, const struct toml_value *v, const char *fmt, ...)
{
	char what[256], path[128];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	toml_path(v, path, sizeof(path));
	return err_set(-EINVAL, "%s:%u:%u: %s: %s", c->name, v->key_line ? v->key_line : v->line,
		       v->key_line ? v->key_column : v->column, path, what);
}

static int expect(const struct ctx *c, const struct toml_value *v, enum toml_type t)
{
	if (v->type != t)
		return bad(c, v, "expected %s %s, found %s",
			   t == TOML_INTEGER || t == TOML_ARRAY ? "an" : "a",
			   toml_type_name(t), toml_type_name(v->type));
	return 0;
}

/* Rejects members of table t not in allowed (NULL-terminated). */
static int only_keys(const struct ctx *c, const struct toml_value *t, const char *const *allowed)
{
	for (size_t i = 0; i < toml_len(t); i++) {
		const struct toml_value *m = toml_at(t, i);
		bool ok = false;

		for (const char *const *a = allowed; *a; a++)
			if (m->key_len == strlen(*a) && memcmp(m->key, *a, m->key_len) == 0)
				ok = true;
		if (!ok)
			return bad(c, m, "unknown key (expected one of the documented keys: see "
				   "docs/config.md)");
	}
	return 0;
}

static int get_string(const struct ctx *c, const struct toml_value *v, char **out)
{
	int r = expect(c, v, TOML_STRING);

	if (r < 0)
		return r;
	if (strlen(v->u.str.ptr) != v->u.str.len || v->u.str.len == 0)
		return bad(c, v, "expected a non-empty string without NUL bytes");
	*out = strdup(v->u.str.ptr);
	return *out ? 0 : err_set(-ENOMEM, "out of memory");
}

/* A file path: relative ones are taken relative to the VM file's directory. */
static int get_path(const struct ctx *c, const struct toml_value *v, char **out)
{
	char *s;
	int r = get_string(c, v, &s);

	if (r < 0)
		return r;
	if (s[0] != '/' && c->dir) {
		size_t n = strlen(c->dir) + strlen(s) + 2;
		char *full = malloc(n);

		if (!full) {
			free(s);
			return err_set(-ENOMEM, "out of memory");
		}
		snprintf(full, n, "%s/%s", c->dir, s);
		free(s);
		s = full;
	}
	*out = s;
	return 0;
}

static int get_uint(const struct ctx *c, const struct toml_value *v, uint64_t min, uint64_t max,
		    uint64_t *out)
{
	int r = expect(c, v, TOML_INTEGER);

	if (r < 0)
		return r;
	if (v->u.integer < 0 || (uint64_t)v->u.integer < min || (uint64_t)v->u.integer > max)
		return bad(c, v, "%lld is out of range (%llu to %llu)", (long long)v->u.integer,
			   (unsigned long long)min, (unsigned long long)max);
	*out = (uint64_t)v->u.integer;
	return 0;
}

static int keep_string(struct vm_file *f, char *s)
{
	if (f->nstrings == sizeof(f->strings) / sizeof(f->strings[0])) {
		free(s);
		return err_set(-E2BIG, "too many device strings");
	}
	f->strings[f->nstrings++] = s;
	return 0;
}

static int parse_base(const struct ctx *c, const struct toml_value *t)
{
	static const char *const keys[] = { "id", "name", "cpu_num", "phys_cpu_sets", NULL };
	const struct toml_value *v;
	uint64_t u;
	int r = only_keys(c, t, keys);

	if (r < 0)
		return r;
	if ((v = toml_get(t, "id"))) {
		r = get_uint(c, v, 0, INT64_MAX, &u);
		if (r < 0)
			return r;
		c->f->id = (int64_t)u;
	}
	if ((v = toml_get(t, "name")) && (r = get_string(c, v, &c->f->name)) < 0)
		return r;
	if (c->f->name) {
		for (const char *p = c->f->name; *p; p++)
			if (!(*p == '-' || *p == '_' || *p == '.' || (*p >= '0' && *p <= '9') ||
			      (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
				return bad(c, v, "names may use letters, digits, '-', '_' and '.' only");
		if (!((c->f->name[0] >= '0' && c->f->name[0] <= '9') ||
		      (c->f->name[0] >= 'a' && c->f->name[0] <= 'z') ||
		      (c->f->name[0] >= 'A' && c->f->name[0] <= 'Z')))
			return bad(c, v, "names start with a letter or a digit");
		if (strlen(c->f->name) > 64)
			return bad(c, v, "names are at most 64 characters");
	}
	if ((v = toml_get(t, "cpu_num"))) {
		r = get_uint(c, v, 1, VM_FILE_MAX_VCPUS, &u);
		if (r < 0)
			return r;
		c->f->cpu_num = (unsigned int)u;
	}
	if ((v = toml_get(t, "phys_cpu_sets"))) {
		if ((r = expect(c, v, TOML_ARRAY)) < 0)
			return r;
		if (toml_len(v) != c->f->cpu_num)
			return bad(c, v, "has %zu masks for %u vCPUs (one mask per vCPU)",
				   toml_len(v), c->f->cpu_num);
		for (size_t i = 0; i < toml_len(v); i++) {
			r = get_uint(c, toml_at(v, i), 1, INT64_MAX, &c->f->cpu_masks[i]);
			if (r < 0)
				return r;
		}
		c->f->has_cpu_masks = true;
	}
	return 0;
}

static int parse_kernel(const struct ctx *c, const struct toml_value *t)
{
	static const char *const keys[] = { "kernel_path", "ramdisk_path", "cmdline", "memory_mib",
					    "memory_regions", NULL };
	const struct toml_value *v;
	int r = only_keys(c, t, keys);

	if (r < 0)
		return r;
	if (!(v = toml_get(t, "kernel_path")))
		return bad(c, t, "kernel_path is required");
	if ((r = get_path(c, v, &c->f->kernel_path)) < 0)
		return r;
	if ((v = toml_get(t, "ramdisk_path")) && (r = get_path(c, v, &c->f->ramdisk_path)) < 0)
		return r;
	if ((v = toml_get(t, "cmdline"))) {
		if ((r = expect(c, v, TOML_STRING)) < 0)
			return r;
		if (strlen(v->u.str.ptr) != v->u.str.len)
			return bad(c, v, "NUL bytes are not allowed");
		c->f->cmdline = strdup(v->u.str.ptr);
		if (!c->f->cmdline)
			return err_set(-ENOMEM, "out of memory");
	}
	if ((v = toml_get(t, "memory_mib")) && (r = get_uint(c, v, 2, 1ULL << 40,
							     &c->f->memory_mib)) < 0)
		return r;
	if ((v = toml_get(t, "memory_regions"))) {
		const struct toml_value *reg;
		uint64_t base, size;

		if (toml_get(t, "memory_mib"))
			return bad(c, v, "give memory_mib or memory_regions, not both");
		/* Ember lays out guest-physical memory itself (docs/memory-layout.md): a
		 * region list is accepted in AxVisor's form, as one region at 0. */
		if ((r = expect(c, v, TOML_ARRAY)) < 0)
			return r;
		if (toml_len(v) != 1)
			return bad(c, v, "Ember takes exactly one region, [0x0, SIZE, FLAGS, TYPE]");
		reg = toml_at(v, 0);
		if ((r = expect(c, reg, TOML_ARRAY)) < 0)
			return r;
		if (toml_len(reg) < 2 || toml_len(reg) > 4)
			return bad(c, reg, "expected [base, size, flags, map_type]");
		if ((r = get_uint(c, toml_at(reg, 0), 0, 0, &base)) < 0 ||
		    (r = get_uint(c, toml_at(reg, 1), 2ULL << 20, 1ULL << 60, &size)) < 0)
			return r;
		if (size % (1ULL << 20))
			return bad(c, toml_at(reg, 1), "the size must be a whole number of MiB");
		c->f->memory_mib = size >> 20;
	}
	return 0;
}

/* vsock = { cid = N, uds_path = "PATH" } */
static int parse_vsock(const struct ctx *c, const struct toml_value *v)
{
	static const char *const keys[] = { "cid", "uds_path", NULL };
	const struct toml_value *cid, *path;
	char *s;
	int r;

	if ((r = expect(c, v, TOML_TABLE)) < 0 || (r = only_keys(c, v, keys)) < 0)
		return r;
	cid = toml_get(v, "cid");
	path = toml_get(v, "uds_path");
	if (!cid || !path)
		return bad(c, v, "needs cid (3 or more) and uds_path, e.g. vsock = { cid = 3, "
			   "uds_path = \"vm.vsock\" }");
	if ((r = get_uint(c, cid, 3, UINT32_MAX - 1, &c->f->vsock.cid)) < 0)
		return r;
	if ((r = get_path(c, path, &s)) < 0)
		return r;
	if ((r = keep_string(c->f, s)) < 0)
		return r;
	c->f->vsock.uds_path = s;
	return 0;
}

static int parse_devices(const struct ctx *c, const struct toml_value *t)
{
	static const char *const keys[] = { "disks", "nets", "rng", "vsock", NULL };
	const struct toml_value *v;
	int r = only_keys(c, t, keys);

	if (r < 0)
		return r;
	if ((v = toml_get(t, "disks"))) {
		if ((r = expect(c, v, TOML_ARRAY)) < 0)
			return r;
		if (toml_len(v) > VM_MAX_DISKS)
			return bad(c, v, "at most %d disks", VM_MAX_DISKS);
		for (size_t i = 0; i < toml_len(v); i++) {
			const struct toml_value *d = toml_at(v, i);
			struct vm_disk_config *dc = &c->f->disks[c->f->ndisks];
			char *s, *comma;

			if ((r = get_path(c, d, &s)) < 0)
				return r;
			if ((r = keep_string(c->f, s)) < 0)
				return r;
			comma = strrchr(s, ',');
			dc->read_only = false;
			if (comma && (!strcmp(comma + 1, "ro") || !strcmp(comma + 1, "rw"))) {
				dc->read_only = comma[1] == 'r' && comma[2] == 'o';
				*comma = '\0';
			}
			dc->path = s;
			c->f->ndisks++;
		}
	}
	if ((v = toml_get(t, "nets"))) {
		if ((r = expect(c, v, TOML_ARRAY)) < 0)
			return r;
		if (toml_len(v) > VM_MAX_NETS)
			return bad(c, v, "at most %d network interfaces", VM_MAX_NETS);
		for (size_t i = 0; i < toml_len(v); i++) {
			const struct toml_value *n = toml_at(v, i);
			struct vm_net_config *nc = &c->f->nets[c->f->nnets];
			char *s, *save = NULL, *tok;

			if ((r = get_string(c, n, &s)) < 0)
				return r;
			if ((r = keep_string(c->f, s)) < 0)
				return r;
			memset(nc, 0, sizeof(*nc));
			for (tok = strtok_r(s, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
				if (!strncmp(tok, "tap=", 4) && tok[4])
					nc->tap = tok + 4;
				else if (!strncmp(tok, "mac=", 4) &&
					 virtio_net_parse_mac(tok + 4, nc->mac) == 0)
					nc->has_mac = true;
				else
					return bad(c, n, "'%s': expected tap=NAME[,mac=MAC] with a unicast "
						   "MAC", tok);
			}
			if (!nc->tap)
				return bad(c, n, "tap=NAME is required");
			c->f->nnets++;
		}
	}
	if ((v = toml_get(t, "rng"))) {
		if ((r = expect(c, v, TOML_BOOL)) < 0)
			return r;
		c->f->rng = v->u.boolean;
	}
	if ((v = toml_get(t, "vsock")) && (r = parse_vsock(c, v)) < 0)
		return r;
	return 0;
}

int vm_file_parse(struct vm_file *f, const char *text, size_t len, const char *name,
		  const char *dir)
{
	static const char *const sections[] = { "base", "kernel", "devices", NULL };
	struct toml_value *root = NULL;
	struct toml_error terr;
	const struct toml_value *t;
	struct ctx c = { .name = name, .dir = dir, .f = f };
	int r;

	memset(f, 0, sizeof(*f));
	f->cpu_num = 1;
	f->memory_mib = DEFAULT_MEM_MIB;
	r = toml_parse(text, len, name, &root, &terr);
	if (r < 0)
		return err_set(r, "%s", terr.msg);
	r = only_keys(&c, root, sections);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < toml_len(root); i++) {
		if ((r = expect(&c, toml_at(root, i), TOML_TABLE)) < 0)
			goto out;
	}
	if ((t = toml_get(root, "base")) && (r = parse_base(&c, t)) < 0)
		goto out;
	if (!(t = toml_get(root, "kernel"))) {
		r = err_set(-EINVAL, "%s: the [kernel] section with kernel_path is required", name);
		goto out;
	}
	if ((r = parse_kernel(&c, t)) < 0)
		goto out;
	if ((t = toml_get(root, "devices")) && (r = parse_devices(&c, t)) < 0)
		goto out;
	r = 0;
out:
	toml_free(root);
	if (r < 0)
		vm_file_free(f);
	return r;
}

int vm_file_load(struct vm_file *f, const char *path)
{
	struct stat st;
	char *text = NULL, *dcopy = NULL;
	ssize_t n;
	int fd, r;

	memset(f, 0, sizeof(*f));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(-errno, "%s: cannot open: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > VM_FILE_MAX_BYTES) {
		close(fd);
		return err_set(-EINVAL, "%s: not a regular file of at most 1 MiB", path);
	}
	text = malloc((size_t)st.st_size + 1);
	dcopy = strdup(path);
	if (!text || !dcopy) {
		r = err_set(-ENOMEM, "out of memory");
		goto out;
	}
	n = read(fd, text, (size_t)st.st_size);
	if (n != st.st_size) {
		r = err_set(-EIO, "%s: short read", path);
		goto out;
	}
	r = vm_file_parse(f, text, (size_t)n, path, dirname(dcopy));
out:
	close(fd);
	free(text);
	free(dcopy);
	return r;
}

void vm_file_free(struct vm_file *f)
{
	free(f->name);
	free(f->kernel_path);
	free(f->ramdisk_path);
	free(f->cmdline);
	for (unsigned int i = 0; i < f->nstrings; i++)
		free(f->strings[i]);
	memset(f, 0, sizeof(*f));
}
