/* Firecracker's VM description: the JSON bodies of the pre-boot API (PUT /boot-source,
 * /machine-config, /drives/{id}, /network-interfaces/{id}, /vsock, /logger, /metrics,
 * /mmds/config, /mmds, /entropy) and the --config-file document that holds them all.
 * One validator per section, shared by both, so a body the API refuses is refused in a
 * config file with the same message. Every function returns 0 or -EINVAL with err_msg
 * set to one line naming the field and what is expected. No sockets, no VM: unit
 * tested and fuzzed. */
#ifndef EMBER_CONFIG_FC_CONFIG_H
#define EMBER_CONFIG_FC_CONFIG_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "vmm/vm.h"

#define FC_MAX_VCPUS 32            /* Firecracker's limit */
#define FC_ID_MAX 64               /* drive_id, iface_id, vsock_id */
#define FC_PATH_MAX 4096
#define FC_DEFAULT_MEM_MIB 128
#define FC_DEFAULT_VCPUS 1
#define FC_DEFAULT_MMDS_LIMIT 51200   /* bytes, Firecracker's default */

struct fc_drive {
	char *id;
	char *path;
	bool root, read_only;
	char *partuuid;            /* NULL: none */
	char *cache_type;          /* "Unsafe" (default) or "Writeback": accepted, not used */
	char *io_engine;           /* "Sync" (default) or "Async": accepted, not used */
};

struct fc_net {
	char *id;
	char *tap;
	uint8_t mac[6];
	bool has_mac;
};

/* Logger and metrics settings (applied by whoever owns the files: util/log.c). */
struct fc_logger {
	bool set;
	char *path;                /* NULL: stderr */
	int level;                 /* enum log_level, or -1 for Off */
	bool show_level, show_origin;
};

struct fc_config {
	/* boot-source */
	char *kernel, *initrd, *boot_args;       /* kernel NULL: not configured yet */
	/* machine-config */
	unsigned int vcpus;
	uint64_t mem_mib;
	bool smt, track_dirty_pages;
	char *cpu_template;
	/* drives and NICs in configuration order (a PUT of an existing id replaces in place) */
	struct fc_drive drives[VM_MAX_DISKS];
	unsigned int ndrives;
	struct fc_net nets[VM_MAX_NETS];
	unsigned int nnets;
	/* vsock: the hybrid vsock device (devices/virtio/virtio_vsock.c) */
	bool has_vsock;
	uint32_t vsock_cid;
	char *vsock_uds, *vsock_id;
	struct fc_logger logger;
	char *metrics_path;
	json_t *mmds_config;       /* the validated body of PUT /mmds/config, or NULL */
	/* The MMDS data as parsed from --config-file/--metadata or a PUT before a store
	 * exists. A session moves it into its mmds_store (the single source of truth from
	 * then on) and leaves NULL here; only code with no store (tests) keeps using it. */
	json_t *mmds;
	size_t mmds_limit;         /* the store's largest serialized size (--mmds-size-limit) */
	bool entropy;
};

void fc_config_init(struct fc_config *c);
void fc_config_free(struct fc_config *c);

/* The sections. id (drives, NICs) is the one from the URL, or NULL (config file): the
 * body's own id must match it. patch: PATCH /machine-config (every field optional). */
int fc_put_boot_source(struct fc_config *c, json_t *body);
int fc_put_machine_config(struct fc_config *c, json_t *body, bool patch);
int fc_put_drive(struct fc_config *c, const char *id, json_t *body);
int fc_put_net(struct fc_config *c, const char *id, json_t *body);
int fc_put_vsock(struct fc_config *c, json_t *body);
/* Validates a logger body into *out (paths are not opened here). */
int fc_parse_logger(json_t *body, struct fc_logger *out);
int fc_put_metrics(struct fc_config *c, json_t *body);
int fc_put_mmds_config(struct fc_config *c, json_t *body);
int fc_put_mmds(struct fc_config *c, json_t *body);
int fc_patch_mmds(struct fc_config *c, json_t *body);
int fc_put_entropy(struct fc_config *c, json_t *body);
/* body[key], a rate limiter: absent, null, {} or token buckets (accepted, not enforced). */
int fc_check_rate_limiter(json_t *body, const char *section, const char *key);

/* A whole --config-file document (text, len bytes); name labels errors. */
int fc_config_parse(struct fc_config *c, const char *text, size_t len, const char *name);
int fc_config_load(struct fc_config *c, const char *path);
/* --metadata FILE: a JSON document that becomes the MMDS data store. */
int fc_load_metadata(struct fc_config *c, const char *path);

/* Firecracker's GET /vm/config shape. boot_args: the command line to report (NULL: the
 * configured one). New reference. */
json_t *fc_config_to_json(const struct fc_config *c, const char *boot_args);
/* GET /machine-config. New reference. */
json_t *fc_machine_config_json(const struct fc_config *c);

/* The kernel command line the VM gets: boot_args (or Ember's default), plus root= for a
 * root device, plus "pci=off" unless there is a pci= already. Caller frees. */
char *fc_config_cmdline(const struct fc_config *c);
/* Fills out (strings point into c, which must outlive it) and *cmdline (caller frees).
 * -EINVAL when there is no kernel yet. Console and KVM fields are left as they were. */
int fc_config_to_vm_config(const struct fc_config *c, struct vm_config *out, char **cmdline);
/* Level names: "Error", "Warning", "Info", "Debug", "Trace", "Off" (any case; also
 * "Warn"). -1 for Off, -EINVAL if unknown, else an enum log_level. */
int fc_parse_level(const char *s);

#endif
