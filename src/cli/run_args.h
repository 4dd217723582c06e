/* `ember run` command line. Parsing is separate from main() so it can be tested. */
#ifndef EMBER_CLI_RUN_ARGS_H
#define EMBER_CLI_RUN_ARGS_H

#include <stdbool.h>
#include <stdint.h>

#include "config/vm_file.h"
#include "vmm/vm.h"

#include "util/log.h"

#define RUN_DEFAULT_CMDLINE "console=ttyS0 reboot=k panic=1"
#define RUN_DEFAULT_MEM_MIB 128
#define RUN_DEFAULT_VCPUS 1
#define RUN_MIN_MEM_MIB 2

struct run_args {
	const char *kernel;
	const char *initrd;
	const char *cmdline;       /* user's or the default, before Ember's additions */
	uint64_t mem_mib;
	unsigned int vcpus;
	enum log_level log_level;
	int help;
	struct vm_disk_config disks[VM_MAX_DISKS];
	unsigned int ndisks;
	struct vm_net_config nets[VM_MAX_NETS];
	unsigned int nnets;
	bool rng;
	struct vm_vsock_config vsock;   /* uds_path NULL: no --vsock */
	const char *api_sock;
	const char *console_sock;
	const char *id;
	const char *config;        /* --config FILE */
	const uint64_t *cpu_masks;

	/* Firecracker's flags (docs/firecracker-compat.md) */
	bool fc_mode;              /* running as `firecracker` (argv[0]) */
	const char *config_file;   /* --config-file: Firecracker JSON; boots at once */
	bool no_api;
	bool boot_timer;           /* accepted, no effect */
	const char *log_path;
	int fc_level;              /* --level: enum log_level, -1 Off, -2 not given */
	bool show_level, show_origin;
	const char *metrics_path;
	const char *metadata;      /* --metadata FILE: the MMDS data store */
	uint64_t start_time_us, start_time_cpu_us, parent_cpu_time_us;
	uint64_t mmds_size_limit;  /* 0: Firecracker's default */
};

#define FC_DEFAULT_API_SOCK "/run/firecracker.socket"
#define FC_COMPAT_VERSION "1.7.0"

/* Parses argv (argv[0] is "run"). Returns 0, or -EINVAL with err_msg naming the option.
 * Checks only what needs no host knowledge (KVM limits are checked at VM creation). */
int run_args_parse(struct run_args *a, int argc, char **argv);
/* The same for `firecracker [options]` (argv[0] is the program): Firecracker's defaults
 * (the API on /run/firecracker.socket unless --no-api). */
int run_args_parse_fc(struct run_args *a, int argc, char **argv);

/* The command line the guest gets: the given one plus machine-description parameters
 * ("pci=off": there is no PCI bus) unless the user set them. Caller frees. */
char *run_args_guest_cmdline(const struct run_args *a);

/* Fills the machine part of a from a loaded VM file (kept alive by the caller). */
void run_args_from_vm_file(struct run_args *a, const struct vm_file *f);

extern const char run_usage[];
extern const char run_usage_fc[];

#endif
