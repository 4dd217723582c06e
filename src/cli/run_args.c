#include "cli/run_args.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/fc_config.h"
#include "config/vm_file.h"
#include "util/cmdline.h"
#include "util/err.h"

const char run_usage[] =
	"usage: ember run --kernel PATH [options]\n"
	"\n"
	"Boots a Linux kernel (ELF vmlinux or bzImage) in a microVM. The guest's serial\n"
	"console is this terminal; the VM ends when the guest powers off, halts or reboots.\n"
	"\n"
	"  --kernel PATH       kernel image (ELF vmlinux or bzImage)\n"
	"  --initrd PATH       initial ramdisk\n"
	"  --cmdline STR       kernel command line; replaces the default\n"
	"                      \"" RUN_DEFAULT_CMDLINE "\"\n"
	"                      (Ember appends \"pci=off\" unless it has a pci= already)\n"
	"  --memory MIB        guest RAM in MiB (default 128)\n"
	"  --vcpus N           number of vCPUs (default 1)\n"
	"  --disk PATH[,ro]    raw disk image as virtio-blk (repeatable: /dev/vda, vdb, ...\n"
	"                      in order); to boot from it add root=/dev/vda to --cmdline\n"
	"  --net tap=NAME[,mac=MAC]  virtio-net on an existing tap device (repeatable)\n"
	"  --rng               virtio-rng entropy device (the guest's /dev/hwrng)\n"
	"  --vsock cid=N,uds=PATH  virtio-vsock: guest CID N (3 or more); host programs\n"
	"                      connect to PATH and send \"CONNECT <port>\\n\"; guest\n"
	"                      connections to port P reach PATH_P (see docs/vsock.md)\n"
	"  --config FILE       boot the VM a TOML VM file describes (see docs/config.md);\n"
	"                      excludes --kernel, --initrd, --cmdline, --memory, --vcpus,\n"
	"                      --disk, --net, --rng and --vsock\n"
	"  --api-sock PATH     serve the Firecracker-compatible HTTP API on this Unix socket\n"
	"  --console-sock PATH also serve the serial console on this Unix socket, one client\n"
	"                      at a time (ember console attaches to it)\n"
	"  --id ID             instance id reported by the API (default anonymous-instance)\n"
	"  --log-level LEVEL   error, warn (default), info or debug\n"
	"  -h, --help          this text\n"
	"\n"
	"Firecracker's flags (see docs/firecracker-compat.md):\n"
	"  --config-file FILE  boot the VM a Firecracker JSON file describes (no InstanceStart)\n"
	"  --no-api            with --config-file: serve no API socket\n"
	"  --log-path PATH     Firecracker-format log lines to this file or FIFO\n"
	"  --level LEVEL       Error, Warning, Info (default), Debug, Trace or Off\n"
	"  --show-level, --show-log-origin   add the level / file:line to log lines\n"
	"  --metrics-path PATH metrics, one JSON line a minute, on FlushMetrics and at exit\n"
	"  --metadata FILE     JSON for the MMDS data store\n"
	"  --boot-timer, --seccomp-filter FILE, --no-seccomp, --start-time-us N,\n"
	"  --start-time-cpu-us N, --parent-cpu-time-us N, --http-api-max-payload-size N\n"
	"                      accepted for compatibility; they change nothing\n"
	"  --mmds-size-limit N largest MMDS data store in bytes (default 51200)\n"
	"\n"
	"With --api-sock and no --kernel/--config/--config-file, Ember starts without a VM and\n"
	"waits for the API: PUT /boot-source, /machine-config, /drives/ID, ..., then PUT\n"
	"/actions {\"action_type\": \"InstanceStart\"}.\n";

const char run_usage_fc[] =
	"usage: firecracker [--api-sock PATH] [--config-file FILE [--no-api]] [options]\n"
	"\n"
	"Ember, behaving as Firecracker (it was started under that name). The API socket\n"
	"defaults to " FC_DEFAULT_API_SOCK ". Options are those of 'ember run --help'.\n";

static int parse_u64(const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	uintmax_t v;

	errno = 0;
	if (!s || !*s || *s == '-' || *s == '+')
		goto bad;
	v = strtoumax(s, &end, 10);
	if (errno || *end || v < min || v > max)
		goto bad;
	*out = (uint64_t)v;
	return 0;
bad:
	return err_set(-EINVAL, "%s %s: expected a whole number from %" PRIu64 " to %" PRIu64,
		       opt, s ? s : "", min, max);
}

/* "PATH[,ro]". The path may not contain a comma followed by an option name. */
static int parse_disk(struct run_args *a, char *arg)
{
	struct vm_disk_config *d;
	char *comma = strrchr(arg, ',');

	if (a->ndisks == VM_MAX_DISKS)
		return err_set(-EINVAL, "--disk %s: at most %d disks", arg, VM_MAX_DISKS);
	d = &a->disks[a->ndisks];
	d->read_only = false;
	if (comma && strcmp(comma + 1, "ro") == 0) {
		*comma = '\0';
		d->read_only = true;
	} else if (comma && strcmp(comma + 1, "rw") == 0) {
		*comma = '\0';
	}
	if (!*arg)
		return err_set(-EINVAL, "--disk needs a file path, e.g. --disk rootfs.ext4[,ro]");
	d->path = arg;
	a->ndisks++;
	return 0;
}

/* "tap=NAME[,mac=MAC]". */
static int parse_net(struct run_args *a, char *arg)
{
	struct vm_net_config *n;
	char *save = NULL, *tok;

	if (a->nnets == VM_MAX_NETS)
		return err_set(-EINVAL, "--net %s: at most %d network interfaces", arg, VM_MAX_NETS);
	n = &a->nets[a->nnets];
	memset(n, 0, sizeof(*n));
	for (tok = strtok_r(arg, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (strncmp(tok, "tap=", 4) == 0 && tok[4]) {
			n->tap = tok + 4;
		} else if (strncmp(tok, "mac=", 4) == 0) {
			if (virtio_net_parse_mac(tok + 4, n->mac) < 0)
				return err_set(-EINVAL, "--net: '%s' is not a unicast MAC address like "
					       "06:00:ac:10:00:02", tok + 4);
			n->has_mac = true;
		} else {
			return err_set(-EINVAL, "--net: unknown setting '%s' (expected tap=NAME[,mac=MAC])",
				       tok);
		}
	}
	if (!n->tap)
		return err_set(-EINVAL, "--net needs tap=NAME (an existing tap device)");
	a->nnets++;
	return 0;
}

/* "cid=N,uds=PATH", in either order; one device. */
static int parse_vsock(struct run_args *a, char *arg)
{
	char *save = NULL, *tok;
	uint64_t cid = 0;
	bool has_cid = false;
	int r;

	if (a->vsock.uds_path)
		return err_set(-EINVAL, "--vsock: only one vsock device per VM");
	for (tok = strtok_r(arg, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (strncmp(tok, "cid=", 4) == 0) {
			r = parse_u64("--vsock cid", tok + 4, 3, UINT32_MAX - 1, &cid);
			if (r < 0)
				return r;
			has_cid = true;
		} else if (strncmp(tok, "uds=", 4) == 0 && tok[4]) {
			a->vsock.uds_path = tok + 4;
		} else {
			return err_set(-EINVAL, "--vsock: unknown setting '%s' (expected cid=N,uds=PATH)",
				       tok);
		}
	}
	if (!has_cid || !a->vsock.uds_path) {
		a->vsock.uds_path = NULL;
		return err_set(-EINVAL, "--vsock needs cid=N (3 or more) and uds=PATH, e.g. --vsock "
			       "cid=3,uds=/tmp/vm.vsock");
	}
	a->vsock.cid = cid;
	return 0;
}

static int parse_args(struct run_args *a, int argc, char **argv, bool fc_mode)
{
	enum { O_KERNEL = 1000, O_INITRD, O_CMDLINE, O_MEMORY, O_VCPUS, O_LOG, O_DISK, O_NET,
	       O_RNG, O_API_SOCK, O_ID, O_CONFIG, O_CONSOLE_SOCK, O_CONFIG_FILE, O_NO_API,
	       O_BOOT_TIMER, O_LOG_PATH, O_LEVEL, O_SHOW_LEVEL, O_SHOW_ORIGIN, O_METRICS_PATH,
	       O_METADATA, O_SECCOMP_FILTER, O_NO_SECCOMP, O_START_US, O_START_CPU_US,
	       O_PARENT_CPU_US, O_MAX_PAYLOAD, O_MMDS_LIMIT, O_VSOCK };
	static const struct option opts[] = {
		{ "kernel", required_argument, NULL, O_KERNEL },
		{ "initrd", required_argument, NULL, O_INITRD },
		{ "cmdline", required_argument, NULL, O_CMDLINE },
		{ "memory", required_argument, NULL, O_MEMORY },
		{ "vcpus", required_argument, NULL, O_VCPUS },
		{ "log-level", required_argument, NULL, O_LOG },
		{ "disk", required_argument, NULL, O_DISK },
		{ "net", required_argument, NULL, O_NET },
		{ "rng", no_argument, NULL, O_RNG },
		{ "vsock", required_argument, NULL, O_VSOCK },
		{ "api-sock", required_argument, NULL, O_API_SOCK },
		{ "id", required_argument, NULL, O_ID },
		{ "config", required_argument, NULL, O_CONFIG },
		{ "console-sock", required_argument, NULL, O_CONSOLE_SOCK },
		{ "config-file", required_argument, NULL, O_CONFIG_FILE },
		{ "no-api", no_argument, NULL, O_NO_API },
		{ "boot-timer", no_argument, NULL, O_BOOT_TIMER },
		{ "log-path", required_argument, NULL, O_LOG_PATH },
		{ "level", required_argument, NULL, O_LEVEL },
		{ "show-level", no_argument, NULL, O_SHOW_LEVEL },
		{ "show-log-origin", no_argument, NULL, O_SHOW_ORIGIN },
		{ "metrics-path", required_argument, NULL, O_METRICS_PATH },
		{ "metadata", required_argument, NULL, O_METADATA },
		{ "seccomp-filter", required_argument, NULL, O_SECCOMP_FILTER },
		{ "no-seccomp", no_argument, NULL, O_NO_SECCOMP },
		{ "start-time-us", required_argument, NULL, O_START_US },
		{ "start-time-cpu-us", required_argument, NULL, O_START_CPU_US },
		{ "parent-cpu-time-us", required_argument, NULL, O_PARENT_CPU_US },
		{ "http-api-max-payload-size", required_argument, NULL, O_MAX_PAYLOAD },
		{ "mmds-size-limit", required_argument, NULL, O_MMDS_LIMIT },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v;
	int c, r, seen_machine = 0;

	memset(a, 0, sizeof(*a));
	a->cmdline = RUN_DEFAULT_CMDLINE;
	a->mem_mib = RUN_DEFAULT_MEM_MIB;
	a->vcpus = RUN_DEFAULT_VCPUS;
	a->log_level = LOG_WARN;
	a->fc_mode = fc_mode;
	a->fc_level = -2;

	optind = 0;  /* glibc: 0 re-initialises getopt fully, even mid short-option cluster */
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case O_KERNEL:
			a->kernel = optarg;
			break;
		case O_INITRD:
			a->initrd = optarg;
			break;
		case O_CMDLINE:
			a->cmdline = optarg;
			seen_machine = 1;
			break;
		case O_MEMORY:
			/* The upper bound only keeps the byte count in range; what the host can
			 * really back is checked when the memory is mapped. */
			r = parse_u64("--memory", optarg, RUN_MIN_MEM_MIB, UINT64_C(1) << 40, &v);
			if (r < 0)
				return r;
			a->mem_mib = v;
			seen_machine = 1;
			break;
		case O_VCPUS:
			r = parse_u64("--vcpus", optarg, 1, 4096, &v);
			if (r < 0)
				return r;
			a->vcpus = (unsigned int)v;
			seen_machine = 1;
			break;
		case O_LOG:
			if (log_parse_level(optarg, &a->log_level) < 0)
				return err_set(-EINVAL, "--log-level %s: expected error, warn, info or "
					       "debug", optarg);
			break;
		case O_DISK:
			r = parse_disk(a, optarg);
			if (r < 0)
				return r;
			break;
		case O_NET:
			r = parse_net(a, optarg);
			if (r < 0)
				return r;
			break;
		case O_RNG:
			a->rng = true;
			break;
		case O_VSOCK:
			r = parse_vsock(a, optarg);
			if (r < 0)
				return r;
			break;
		case O_API_SOCK:
			if (!*optarg)
				return err_set(-EINVAL, "--api-sock needs a path");
			a->api_sock = optarg;
			break;
		case O_CONFIG:
			a->config = optarg;
			break;
		case O_CONSOLE_SOCK:
			if (!*optarg)
				return err_set(-EINVAL, "--console-sock needs a path");
			a->console_sock = optarg;
			break;
		case O_ID:
			if (!*optarg || strlen(optarg) > 64)
				return err_set(-EINVAL, "--id %s: expected 1 to 64 characters", optarg);
			a->id = optarg;
			break;
		case O_CONFIG_FILE:
			if (!*optarg)
				return err_set(-EINVAL, "--config-file needs a path");
			a->config_file = optarg;
			break;
		case O_NO_API:
			a->no_api = true;
			break;
		case O_BOOT_TIMER:
			a->boot_timer = true;
			break;
		case O_LOG_PATH:
			if (!*optarg)
				return err_set(-EINVAL, "--log-path needs a path");
			a->log_path = optarg;
			break;
		case O_LEVEL:
			a->fc_level = fc_parse_level(optarg);
			if (a->fc_level == -EINVAL)
				return err_set(-EINVAL, "--level %s: expected Error, Warning, Info, Debug, "
					       "Trace or Off", optarg);
			break;
		case O_SHOW_LEVEL:
			a->show_level = true;
			break;
		case O_SHOW_ORIGIN:
			a->show_origin = true;
			break;
		case O_METRICS_PATH:
			if (!*optarg)
				return err_set(-EINVAL, "--metrics-path needs a path");
			a->metrics_path = optarg;
			break;
		case O_METADATA:
			a->metadata = optarg;
			break;
		case O_SECCOMP_FILTER:
		case O_NO_SECCOMP:
			break;  /* accepted: Ember installs no seccomp filter yet */
		case O_START_US:
		case O_START_CPU_US:
		case O_PARENT_CPU_US:
		case O_MAX_PAYLOAD:
		case O_MMDS_LIMIT:
		{
			char name[48] = "option";

			for (const struct option *o = opts; o->name; o++)
				if (o->val == c)
					snprintf(name, sizeof(name), "--%s", o->name);
			r = parse_u64(name, optarg, 0, UINT64_MAX, &v);
			if (r < 0)
				return r;
		}
			if (c == O_START_US)
				a->start_time_us = v;
			else if (c == O_START_CPU_US)
				a->start_time_cpu_us = v;
			else if (c == O_PARENT_CPU_US)
				a->parent_cpu_time_us = v;
			else if (c == O_MMDS_LIMIT)
				a->mmds_size_limit = v;
			break;
		case 'h':
			a->help = 1;
			return 0;
		case ':':
			return err_set(-EINVAL, "%s needs a value (see 'ember run --help')",
				       argv[optind - 1]);
		default:
			/* A short option inside a cluster ("-xy") is named by optopt; argv[optind
			 * - 1] has not advanced to its word yet. */
			if (optopt)
				return err_set(-EINVAL, "unknown option -%c (see 'ember run --help')",
					       optopt);
			return err_set(-EINVAL, "unknown option %s (see 'ember run --help')",
				       argv[optind - 1]);
		}
	}
	if (optind < argc)
		return err_set(-EINVAL, "unexpected argument '%s' (see 'ember run --help')",
			       argv[optind]);
	if (a->config && a->config_file)
		return err_set(-EINVAL, "--config %s and --config-file %s both describe the VM: "
			       "keep one", a->config, a->config_file);
	if (a->config || a->config_file) {
		if (a->kernel || a->initrd || a->ndisks || a->nnets || a->rng || a->vsock.uds_path ||
		    seen_machine)
			return err_set(-EINVAL, "%s %s describes the whole VM: drop --kernel, "
				       "--initrd, --cmdline, --memory, --vcpus, --disk, --net, --rng and "
				       "--vsock",
				       a->config ? "--config" : "--config-file",
				       a->config ? a->config : a->config_file);
	}
	if (a->no_api && !a->config_file && !a->config)
		return err_set(-EINVAL, "--no-api needs --config-file FILE (without the API nothing "
			       "could configure the VM)");
	if (a->no_api && a->api_sock)
		return err_set(-EINVAL, "--no-api and --api-sock %s contradict each other: keep one",
			       a->api_sock);
	if (fc_mode && !a->no_api && !a->api_sock)
		a->api_sock = FC_DEFAULT_API_SOCK;
	if (!a->kernel && !a->config && !a->config_file && !a->api_sock)
		return err_set(-EINVAL, "--kernel PATH is required (or --config FILE, --config-file "
			       "FILE, or --api-sock PATH to configure the VM through the API; see "
			       "'ember run --help')");
	return 0;
}

int run_args_parse(struct run_args *a, int argc, char **argv)
{
	return parse_args(a, argc, argv, false);
}

int run_args_parse_fc(struct run_args *a, int argc, char **argv)
{
	return parse_args(a, argc, argv, true);
}

char *run_args_guest_cmdline(const struct run_args *a)
{
	return cmdline_add(a->cmdline, cmdline_has_param(a->cmdline, "pci=") ? "" : "pci=off");
}

void run_args_from_vm_file(struct run_args *a, const struct vm_file *f)
{
	a->kernel = f->kernel_path;
	a->initrd = f->ramdisk_path;
	if (f->cmdline)
		a->cmdline = f->cmdline;
	a->mem_mib = f->memory_mib;
	a->vcpus = f->cpu_num;
	memcpy(a->disks, f->disks, sizeof(a->disks));
	a->ndisks = f->ndisks;
	memcpy(a->nets, f->nets, sizeof(a->nets));
	a->nnets = f->nnets;
	a->rng = f->rng;
	a->vsock = f->vsock;
	a->cpu_masks = f->has_cpu_masks ? f->cpu_masks : NULL;
	if (!a->id && f->name)
		a->id = f->name;
}
