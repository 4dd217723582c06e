/* `ember up`: start every VM of a fleet, each in its own process, follow their states,
 * stop them together. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "api/api_client.h"
#include "config/vm_file.h"
#include "fleet/fleet.h"
#include "util/err.h"

#define MAX_VMS 256
#define POLL_MS 250
#define API_TIMEOUT_MS 1000

enum vm_state { ST_LOADING, ST_LOADED, ST_RUNNING, ST_PAUSED, ST_STOPPING, ST_STOPPED, ST_CRASHED };

static const char *const state_names[] = {
	[ST_LOADING] = "Loading", [ST_LOADED] = "Loaded", [ST_RUNNING] = "Running",
	[ST_PAUSED] = "Paused", [ST_STOPPING] = "Stopping", [ST_STOPPED] = "Stopped",
	[ST_CRASHED] = "Crashed",
};

struct fleet_vm {
	const char *file;
	char name[80];
	char sock[PATH_MAX], log[PATH_MAX], pidfile[PATH_MAX], console[PATH_MAX];
	pid_t pid;
	enum vm_state state;
	int status;            /* wait status once exited */
	bool exited;
	long long started_ms, stop_sent_ms;
	int kills;             /* SIGTERM/SIGKILL escalations sent */
};

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *fleet_run_dir(void)
{
	static char dir[PATH_MAX];
	const char *e = getenv("EMBER_RUN_DIR"), *x = getenv("XDG_RUNTIME_DIR");

	if (e && *e)
		snprintf(dir, sizeof(dir), "%s", e);
	else if (x && *x)
		snprintf(dir, sizeof(dir), "%s/ember", x);
	else
		snprintf(dir, sizeof(dir), "/tmp/ember-%u", (unsigned int)getuid());
	return dir;
}

void fleet_vm_path(char *out, size_t size, const char *name, const char *ext)
{
	snprintf(out, size, "%s/%s.%s", fleet_run_dir(), name, ext);
}

static void set_state(struct fleet_vm *v, enum vm_state s, const char *detail)
{
	if (v->state == s)
		return;
	v->state = s;
	printf("ember: %-16s %s%s%s\n", v->name, state_names[s], detail ? ": " : "", detail ? detail : "");
	fflush(stdout);
}

static pid_t spawn(struct fleet_vm *v, bool console)
{
	pid_t pid = fork();

	if (pid != 0)
		return pid;
	/* Child: its own process group, so a Ctrl-C at the terminal reaches only the
	 * supervisor, which then stops the guests the graceful way. The console VM keeps
	 * the terminal. */
	if (!console) {
		int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
		int out = open(v->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

		if (in < 0 || out < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
			_exit(127);
		setpgid(0, 0);
	}
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (console)
		execl("/proc/self/exe", "ember", "run", "--config", v->file, "--api-sock", v->sock,
		      "--id", v->name, (char *)NULL);
	else
		execl("/proc/self/exe", "ember", "run", "--config", v->file, "--api-sock", v->sock,
		      "--console-sock", v->console, "--id", v->name, (char *)NULL);
	_exit(127);
}

/* Asks the VM's API for its state; moves Loading/Loaded/Running/Paused along. */
static void refresh(struct fleet_vm *v)
{
	char *body = NULL;
	int st;

	if (v->exited || v->state == ST_STOPPING)
		return;
	st = api_call(v->sock, "GET", "/", NULL, API_TIMEOUT_MS, &body);
	if (st == 200) {
		json_t *o = json_loads(body, 0, NULL);
		const char *s = json_string_value(json_object_get(o, "state"));

		if (v->state == ST_LOADING)
			set_state(v, ST_LOADED, NULL);
		if (s && !strcmp(s, "Paused"))
			set_state(v, ST_PAUSED, NULL);
		else if (s && !strcmp(s, "Running"))
			set_state(v, ST_RUNNING, NULL);
		json_decref(o);
	}
	free(body);
}

static void request_stop(struct fleet_vm *v)
{
	char *body = NULL;

	if (v->exited || v->state == ST_STOPPING)
		return;
	set_state(v, ST_STOPPING, "sending Ctrl+Alt+Del");
	v->stop_sent_ms = mono_ms();
	/* A paused guest cannot react: resume it first. */
	if (api_call(v->sock, "PATCH", "/vm", "{\"state\":\"Resumed\"}", API_TIMEOUT_MS, &body) > 0)
		free(body);
	body = NULL;
	if (api_call(v->sock, "PUT", "/actions", "{\"action_type\":\"SendCtrlAltDel\"}",
		     API_TIMEOUT_MS, &body) != 204 && v->pid > 0)
		kill(v->pid, SIGTERM);
	free(body);
}

static void reaped(struct fleet_vm *v, int status)
{
	char detail[96];

	v->exited = true;
	v->status = status;
	unlink(v->pidfile);
	unlink(v->sock);  /* a crashed VM could not remove its own sockets */
	unlink(v->console);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		set_state(v, ST_STOPPED, v->kills ? "by SIGTERM after the stop timeout" : NULL);
		return;
	}
	if (WIFSIGNALED(status))
		snprintf(detail, sizeof(detail), "killed by signal %d (%s)%s", WTERMSIG(status),
			 strsignal(WTERMSIG(status)), v->kills ? " after the stop timeout" : "");
	else
		snprintf(detail, sizeof(detail), "exit status %d, see %s", WEXITSTATUS(status), v->log);
	set_state(v, ST_CRASHED, detail);
}

static const char up_usage[] =
	"usage: ember up [--console NAME] [--stop-timeout SECONDS] FILE...\n"
	"\n"
	"Starts one VM per TOML file, each in its own process, prints each VM's state as it\n"
	"changes and returns when every VM has stopped. Serial output goes to\n"
	"RUN_DIR/NAME.log (RUN_DIR: " "$EMBER_RUN_DIR, $XDG_RUNTIME_DIR/ember or /tmp/ember-UID),\n"
	"except for the --console VM, which gets this terminal. SIGINT/SIGTERM stop every VM:\n"
	"Ctrl+Alt+Del to the guest first, SIGTERM after the timeout (default 10 s), SIGKILL 5 s\n"
	"later. Exits non-zero if any VM crashed or could not start.\n";

int fleet_up(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "console", required_argument, NULL, 'c' },
		{ "stop-timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct fleet_vm *vms = NULL;
	const char *console = NULL, *dir = fleet_run_dir();
	long long stop_timeout_ms = 10000, stopping_since = 0;
	unsigned int n = 0, alive, crashed = 0;
	sigset_t mask, old;
	int c, sfd = -1, r = 0;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			console = optarg;
			break;
		case 't': {
			char *e;
			long t = strtol(optarg, &e, 10);

			if (*e || t < 0 || t > 3600)
				return err_set(-EINVAL, "--stop-timeout %s: expected 0 to 3600 seconds",
					       optarg);
			stop_timeout_ms = t * 1000;
			break;
		}
		case 'h':
			fputs(up_usage, stdout);
			return 0;
		default:
			return err_set(-EINVAL, "ember up: unknown option %s (see 'ember up --help')",
				       argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return err_set(-EINVAL, "ember up: give at least one VM file (see 'ember up --help')");
	if (argc - optind > MAX_VMS)
		return err_set(-EINVAL, "ember up: at most %d VMs", MAX_VMS);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return err_set(-errno, "%s: cannot create the run directory: %s", dir, strerror(errno));

	vms = calloc((size_t)(argc - optind), sizeof(*vms));
	if (!vms)
		return err_set(-ENOMEM, "out of memory");
	/* Validate every file and name before starting anything. */
	for (int i = optind; i < argc; i++, n++) {
		struct fleet_vm *v = &vms[n];
		struct vm_file f;

		r = vm_file_load(&f, argv[i]);
		if (r < 0)
			goto out;
		v->file = argv[i];
		if (f.name)
			snprintf(v->name, sizeof(v->name), "%s", f.name);
		else
			snprintf(v->name, sizeof(v->name), "vm%lld", (long long)f.id);
		vm_file_free(&f);
		for (unsigned int j = 0; j < n; j++)
			if (!strcmp(vms[j].name, v->name)) {
				r = err_set(-EINVAL, "%s and %s both name their VM '%s': names must be "
					    "unique in a fleet", vms[j].file, v->file, v->name);
				goto out;
			}
		fleet_vm_path(v->sock, sizeof(v->sock), v->name, "sock");
		fleet_vm_path(v->log, sizeof(v->log), v->name, "log");
		fleet_vm_path(v->pidfile, sizeof(v->pidfile), v->name, "pid");
		fleet_vm_path(v->console, sizeof(v->console), v->name, "console");
		if (access(v->sock, F_OK) == 0) {
			char *body = NULL;

			if (api_call(v->sock, "GET", "/", NULL, 500, &body) > 0) {
				free(body);
				r = err_set(-EEXIST, "a VM named '%s' is already running (%s)", v->name,
					    v->sock);
				goto out;
			}
			unlink(v->sock);  /* stale: its VM is gone */
			unlink(v->console);
		}
	}
	if (console) {
		bool found = false;

		for (unsigned int i = 0; i < n; i++)
			found |= !strcmp(vms[i].name, console);
		if (!found) {
			r = err_set(-EINVAL, "--console %s: no VM of that name in this fleet", console);
			goto out;
		}
	}

	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, &old);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		r = err_set(-errno, "signalfd: %s", strerror(errno));
		goto out_mask;
	}
	for (unsigned int i = 0; i < n; i++) {
		struct fleet_vm *v = &vms[i];
		bool con = console && !strcmp(console, v->name);
		FILE *pf;

		v->state = ST_LOADING;
		printf("ember: %-16s Loading (%s)\n", v->name, con ? "console here" : v->log);
		v->pid = spawn(v, con);
		v->started_ms = mono_ms();
		if (v->pid < 0) {
			v->exited = true;
			set_state(v, ST_CRASHED, "fork failed");
			continue;
		}
		pf = fopen(v->pidfile, "w");
		if (pf) {
			fprintf(pf, "%d\n", (int)v->pid);
			fclose(pf);
		}
	}
	fflush(stdout);

	for (;;) {
		struct pollfd p = { .fd = sfd, .events = POLLIN };
		struct signalfd_siginfo si;
		int status;
		pid_t pid;

		alive = 0;
		for (unsigned int i = 0; i < n; i++)
			alive += !vms[i].exited;
		if (!alive)
			break;
		poll(&p, 1, POLL_MS);
		while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
			if (si.ssi_signo == SIGCHLD)
				continue;
			if (!stopping_since) {
				printf("ember: %s: stopping %u VM%s\n", strsignal((int)si.ssi_signo), alive,
				       alive == 1 ? "" : "s");
				stopping_since = mono_ms();
				for (unsigned int i = 0; i < n; i++)
					request_stop(&vms[i]);
			}
		}
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
			for (unsigned int i = 0; i < n; i++)
				if (vms[i].pid == pid && !vms[i].exited)
					reaped(&vms[i], status);
		for (unsigned int i = 0; i < n; i++) {
			struct fleet_vm *v = &vms[i];

			if (v->exited)
				continue;
			refresh(v);
			/* Escalate a stop the guest ignores: SIGTERM, then SIGKILL. */
			if (v->state == ST_STOPPING) {
				long long waited = mono_ms() - v->stop_sent_ms;

				if (v->kills == 0 && waited > stop_timeout_ms) {
					kill(v->pid, SIGTERM);
					v->kills = 1;
				} else if (v->kills == 1 && waited > stop_timeout_ms + 5000) {
					kill(v->pid, SIGKILL);
					v->kills = 2;
				}
			}
		}
		fflush(stdout);
	}

	printf("\nember: fleet summary\n  %-16s %-8s %s\n", "NAME", "STATE", "DETAIL");
	for (unsigned int i = 0; i < n; i++) {
		struct fleet_vm *v = &vms[i];
		char detail[64];

		if (WIFSIGNALED(v->status))
			snprintf(detail, sizeof(detail), "signal %d", WTERMSIG(v->status));
		else
			snprintf(detail, sizeof(detail), "exit %d", WEXITSTATUS(v->status));
		printf("  %-16s %-8s %s\n", v->name, state_names[v->state], detail);
		crashed += v->state == ST_CRASHED;
	}
	printf("ember: %u VM%s, %u stopped, %u crashed\n", n, n == 1 ? "" : "s", n - crashed, crashed);
	r = crashed ? 1 : 0;
	close(sfd);
out_mask:
	sigprocmask(SIG_SETMASK, &old, NULL);
out:
	free(vms);
	return r;
}
