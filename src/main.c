/* ember: the command-line entry point. The only place that exits. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api_client.h"
#include "cli/run_args.h"
#include "fleet/fleet.h"
#include "util/err.h"
#include "util/log.h"
#include "vmm/session.h"

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
	"  api SOCK METHOD PATH [BODY]   one request to an API socket (for scripts)\n"
	"\n"
	"  -h, --help     this text\n"
	"  -V, --version  print the version\n";

static int cmd_run_parsed(struct run_args *a, int r, const char *usage_text)
{
	if (r < 0)
		return r;
	if (a->help) {
		fputs(usage_text, stdout);
		return 0;
	}
	log_threshold = a->log_level;
	return session_run(a);
}

static int cmd_run(int argc, char **argv)
{
	struct run_args a;
	int r = run_args_parse(&a, argc, argv);

	return cmd_run_parsed(&a, r, run_usage);
}

static const char api_usage[] =
	"usage: ember api SOCKET METHOD PATH [JSON-BODY]\n"
	"\n"
	"Sends one request to a VM's API socket and prints the response body. Exit status 0\n"
	"for a 2xx answer, 1 otherwise (the status and fault message go to stderr).\n"
	"  ember api vm.sock GET /vm/config\n"
	"  ember api vm.sock PATCH /drives/drive0 '{\"drive_id\":\"drive0\",\"path_on_host\":\"new.img\"}'\n";

/* ember api SOCK METHOD PATH [BODY]: a client for scripts without curl. */
static int cmd_api(int argc, char **argv)
{
	char *body = NULL;
	int st;

	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		fputs(api_usage, stdout);
		return 0;
	}
	if (argc < 4 || argc > 5)
		return err_set(-EINVAL, "api: expected SOCKET METHOD PATH [JSON-BODY] (see 'ember "
			       "api --help')");
	if (argv[3][0] != '/')
		return err_set(-EINVAL, "api: PATH `%s` must start with '/', e.g. /vm/config",
			       argv[3]);
	st = api_call(argv[1], argv[2], argv[3], argc == 5 ? argv[4] : NULL, 10000, &body);
	if (st < 0)
		return st;
	if (body[0])
		printf("%s\n", body);
	fflush(stdout);
	if (st >= 300)
		fprintf(stderr, "ember api: %s %s: HTTP %d\n", argv[2], argv[3], st);
	free(body);
	return st < 300 ? 0 : 1;
}

/* Started as `firecracker`: Firecracker's command line, no subcommand. */
static int main_firecracker(int argc, char **argv)
{
	struct run_args a;
	int r;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--version") || !strcmp(argv[i], "-V")) {
			printf("Firecracker v%s\nEmber %s, a Firecracker-compatible VMM\n",
			       FC_COMPAT_VERSION, EMBER_VERSION);
			return 0;
		}
	}
	r = cmd_run_parsed(&a, run_args_parse_fc(&a, argc, argv), run_usage_fc);
	if (r < 0) {
		fprintf(stderr, "firecracker (ember): %s\n", err_msg()[0] ? err_msg() : strerror(-r));
		return 1;
	}
	return r;
}

int main(int argc, char **argv)
{
	const char *base = argc > 0 ? strrchr(argv[0], '/') : NULL;
	int r;

	base = base ? base + 1 : (argc > 0 ? argv[0] : "");
	if (!strcmp(base, "firecracker"))
		return main_firecracker(argc, argv);
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
			{ "resume", fleet_resume }, { "console", fleet_console }, { "api", cmd_api },
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
