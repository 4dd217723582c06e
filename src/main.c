/* ember: the command-line entry point. The only place that exits. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "cli/run_args.h"
#include "fleet/fleet.h"
#include "util/err.h"
#include "util/log.h"
#include "vmm/vm.h"

static const char usage[] =
	"usage: ember COMMAND [options]\n"
	"\n"
	"Commands:\n"
	"  run        boot one microVM (see 'ember run --help')\n"
	"  up         start a fleet: one VM per TOML file (see 'ember up --help')\n"
	"  list       list the running VMs\n"
	"  status NAME [--json]   one VM's state and configuration\n"
	"  pause NAME / resume NAME\n"
	"  stop NAME [--force]    Ctrl+Alt+Del and wait; --force kills it\n"
	"  console NAME           follow a VM's serial console log\n"
	"\n"
	"  -h, --help     this text\n"
	"  -V, --version  print the version\n";

/* A VM larger than the host's RAM and swap could never be backed. */
static int check_host_memory(uint64_t mem_mib)
{
	struct sysinfo si;
	uint64_t host;

	if (sysinfo(&si) < 0)
		return 0;
	host = ((uint64_t)si.totalram + si.totalswap) * si.mem_unit;
	if (mem_mib > host >> 20)
		return err_set(-ENOMEM, "--memory %llu: more than this host's memory (%llu MiB of "
			       "RAM and swap)", (unsigned long long)mem_mib,
			       (unsigned long long)(host >> 20));
	return 0;
}

static int cmd_run(int argc, char **argv)
{
	struct run_args a;
	struct vm_config cfg;
	struct vm_file file;
	struct vm vm;
	char *cmdline;
	int r;

	memset(&file, 0, sizeof(file));
	r = run_args_parse(&a, argc, argv);
	if (r < 0)
		return r;
	if (a.help) {
		fputs(run_usage, stdout);
		return 0;
	}
	if (a.config) {
		r = vm_file_load(&file, a.config);
		if (r < 0)
			return r;
		run_args_from_vm_file(&a, &file);
	}
	log_threshold = a.log_level;
	r = check_host_memory(a.mem_mib);
	if (r < 0) {
		vm_file_free(&file);
		return r;
	}
	cmdline = run_args_guest_cmdline(&a);
	if (!cmdline) {
		vm_file_free(&file);
		return err_set(-ENOMEM, "out of memory");
	}
	cfg = (struct vm_config){
		.kernel = a.kernel, .initrd = a.initrd, .cmdline = cmdline, .mem_mib = a.mem_mib,
		.vcpus = a.vcpus, .kvm_path = "/dev/kvm", .console_in = STDIN_FILENO,
		.console_out = STDOUT_FILENO, .ndisks = a.ndisks, .nnets = a.nnets, .rng = a.rng,
		.vsock = a.vsock,
		.api_sock = a.api_sock, .console_sock = a.console_sock, .id = a.id, .cpu_masks = a.cpu_masks,
	};
	memcpy(cfg.disks, a.disks, sizeof(cfg.disks));
	memcpy(cfg.nets, a.nets, sizeof(cfg.nets));
	r = vm_create(&vm, &cfg);
	if (r == 0) {
		r = vm_run(&vm);
		vm_destroy(&vm);
	}
	free(cmdline);
	vm_file_free(&file);
	return r;
}

int main(int argc, char **argv)
{
	int r;

	if (argc < 2) {
		fputs(usage, stderr);
		return 2;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		fputs(usage, stdout);
		return 0;
	}
	if (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version")) {
		printf("ember %s\n", EMBER_VERSION);
		return 0;
	}
	{
		static const struct { const char *name; int (*fn)(int, char **); } cmds[] = {
			{ "run", cmd_run }, { "up", fleet_up }, { "list", fleet_list },
			{ "status", fleet_status }, { "stop", fleet_stop }, { "pause", fleet_pause },
			{ "resume", fleet_resume }, { "console", fleet_console },
		};

		for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
			if (strcmp(argv[1], cmds[i].name))
				continue;
			r = cmds[i].fn(argc - 1, argv + 1);
			if (r < 0) {
				fprintf(stderr, "ember: %s\n", err_msg()[0] ? err_msg() : strerror(-r));
				return 1;
			}
			return r;
		}
	}
	fprintf(stderr, "ember: unknown command '%s' (see 'ember --help')\n", argv[1]);
	return 2;
}
