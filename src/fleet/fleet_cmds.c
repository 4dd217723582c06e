/* Commands that act on a running fleet from another shell, through each VM's API socket
 * in the run directory. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "api/api_client.h"
#include "fleet/fleet.h"
#include "util/err.h"

#define API_TIMEOUT_MS 2000

static void paths(const char *name, char *sock, char *log, char *pidfile)
{
	fleet_vm_path(sock, PATH_MAX, name, "sock");
	if (log)
		fleet_vm_path(log, PATH_MAX, name, "log");
	if (pidfile)
		fleet_vm_path(pidfile, PATH_MAX, name, "pid");
}

static int need_name(int argc, char **argv, const char *cmd)
{
	if (argc < 2 || argv[1][0] == '-')
		return err_set(-EINVAL, "usage: ember %s NAME", cmd);
	return 0;
}

/* Calls the VM's API; a VM that is not there gets one clear message. */
static int call(const char *name, const char *method, const char *path, const char *json,
		char **body)
{
	char sock[PATH_MAX];
	int st;

	paths(name, sock, NULL, NULL);
	if (access(sock, F_OK) < 0)
		return err_set(-ENOENT, "no VM named '%s' is running (no %s; see 'ember list')", name,
			       sock);
	st = api_call(sock, method, path, json, API_TIMEOUT_MS, body);
	if (st < 0)
		return err_set(st, "VM '%s' does not answer: %s", name, err_msg());
	return st;
}

/* Prints the fault message of a non-2xx answer. */
static int api_failed(const char *name, int st, const char *body)
{
	json_t *o = json_loads(body ? body : "", 0, NULL);
	const char *m = json_string_value(json_object_get(o, "fault_message"));
	int r = err_set(-EIO, "VM '%s': HTTP %d: %s", name, st, m ? m : (body ? body : ""));

	json_decref(o);
	return r;
}

int fleet_list(int argc, char **argv)
{
	const char *dir = fleet_run_dir();
	DIR *d = opendir(dir);
	struct dirent *e;
	int count = 0;

	(void)argc;
	(void)argv;
	printf("%-16s %-12s %-6s %s\n", "NAME", "STATE", "PID", "SOCKET");
	if (!d)
		return 0;
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);
		char name[256], sock[PATH_MAX], pidfile[PATH_MAX], pid[16] = "-";
		char *body = NULL;
		const char *state = "unreachable";
		json_t *o = NULL;
		FILE *pf;
		int st;

		if (l < 6 || strcmp(e->d_name + l - 5, ".sock"))
			continue;
		snprintf(name, sizeof(name), "%.*s", (int)(l - 5), e->d_name);
		paths(name, sock, NULL, pidfile);
		st = api_call(sock, "GET", "/", NULL, 500, &body);
		if (st == 200 && (o = json_loads(body, 0, NULL)))
			state = json_string_value(json_object_get(o, "state"));
		if ((pf = fopen(pidfile, "r"))) {
			if (!fgets(pid, sizeof(pid), pf))
				snprintf(pid, sizeof(pid), "-");
			pid[strcspn(pid, "\n")] = '\0';
			fclose(pf);
		}
		printf("%-16s %-12s %-6s %s\n", name, state ? state : "?", pid, sock);
		json_decref(o);
		free(body);
		count++;
	}
	closedir(d);
	return 0;
}

int fleet_status(int argc, char **argv)
{
	bool as_json = argc > 2 && !strcmp(argv[2], "--json");
	char *info = NULL, *cfg = NULL;
	int st, r = need_name(argc, argv, "status NAME [--json]");

	if (r < 0)
		return r;
	st = call(argv[1], "GET", "/", NULL, &info);
	if (st < 0)
		return st;
	if (st != 200) {
		r = api_failed(argv[1], st, info);
		free(info);
		return r;
	}
	st = call(argv[1], "GET", "/vm/config", NULL, &cfg);
	if (as_json) {
		printf("{\"instance\":%s,\"config\":%s}\n", info, st == 200 ? cfg : "null");
	} else {
		json_t *i = json_loads(info, 0, NULL), *c = st == 200 ? json_loads(cfg, 0, NULL) : NULL;
		json_t *mc = json_object_get(c, "machine-config"), *bs = json_object_get(c, "boot-source");

		printf("name:    %s\nstate:   %s\nversion: %s\n",
		       json_string_value(json_object_get(i, "id")),
		       json_string_value(json_object_get(i, "state")),
		       json_string_value(json_object_get(i, "vmm_version")));
		if (c)
			printf("vcpus:   %lld\nmemory:  %lld MiB\nkernel:  %s\ncmdline: %s\n",
			       json_integer_value(json_object_get(mc, "vcpu_count")),
			       json_integer_value(json_object_get(mc, "mem_size_mib")),
			       json_string_value(json_object_get(bs, "kernel_image_path")),
			       json_string_value(json_object_get(bs, "boot_args")));
		json_decref(i);
		json_decref(c);
	}
	free(info);
	free(cfg);
	return 0;
}

static int simple(int argc, char **argv, const char *cmd, const char *method, const char *path,
		  const char *json)
{
	char *body = NULL;
	int st, r = need_name(argc, argv, cmd);

	if (r < 0)
		return r;
	st = call(argv[1], method, path, json, &body);
	if (st < 0)
		return st;
	r = st / 100 == 2 ? 0 : api_failed(argv[1], st, body);
	free(body);
	return r;
}

int fleet_pause(int argc, char **argv)
{
	return simple(argc, argv, "pause", "PATCH", "/vm", "{\"state\":\"Paused\"}");
}

int fleet_resume(int argc, char **argv)
{
	return simple(argc, argv, "resume", "PATCH", "/vm", "{\"state\":\"Resumed\"}");
}

int fleet_stop(int argc, char **argv)
{
	bool force = argc > 2 && !strcmp(argv[2], "--force");
	char sock[PATH_MAX], pidfile[PATH_MAX];
	int r = need_name(argc, argv, "stop NAME [--force]");

	if (r < 0)
		return r;
	paths(argv[1], sock, NULL, pidfile);
	if (force) {
		FILE *pf = fopen(pidfile, "r");
		int pid = 0;

		if (!pf || fscanf(pf, "%d", &pid) != 1 || pid <= 0) {
			if (pf)
				fclose(pf);
			return err_set(-ENOENT, "no VM named '%s' is running (no %s)", argv[1], pidfile);
		}
		fclose(pf);
		if (kill(pid, SIGKILL) < 0)
			return err_set(-errno, "cannot kill VM '%s' (pid %d): %s", argv[1], pid,
				       strerror(errno));
		return 0;
	}
	simple(argc, argv, "resume", "PATCH", "/vm", "{\"state\":\"Resumed\"}");
	r = simple(argc, argv, "stop", "PUT", "/actions", "{\"action_type\":\"SendCtrlAltDel\"}");
	if (r < 0)
		return r;
	/* Wait (bounded) for the VM to go: its socket disappears when it exits. */
	for (int i = 0; i < 300 && access(sock, F_OK) == 0; i++)
		usleep(100 * 1000);
	if (access(sock, F_OK) == 0)
		return err_set(-ETIMEDOUT, "VM '%s' did not stop within 30 s of Ctrl+Alt+Del; use "
			       "'ember stop %s --force'", argv[1], argv[1]);
	return 0;
}

/* Attaches the terminal to the VM's console socket: raw mode, bytes both ways, Ctrl-]
 * detaches. Without a console socket (a VM started with --console elsewhere), follows the
 * serial log read-only. */
int fleet_console(int argc, char **argv)
{
	char sock[PATH_MAX], log[PATH_MAX], path[PATH_MAX];
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	char buf[4096];
	int fd, r = need_name(argc, argv, "console NAME");

	if (r < 0)
		return r;
	paths(argv[1], sock, log, NULL);
	fleet_vm_path(path, sizeof(path), argv[1], "console");
	if (strlen(path) < sizeof(addr.sun_path) && access(path, F_OK) == 0) {
		struct termios saved, raw;
		bool tty = isatty(STDIN_FILENO);

		strcpy(addr.sun_path, path);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
			r = err_set(-errno, "VM '%s': cannot attach to %s: %s", argv[1], path,
				    strerror(errno));
			if (fd >= 0)
				close(fd);
			return r;
		}
		fprintf(stderr, "ember: attached to %s; Ctrl-] detaches\r\n", argv[1]);
		if (tty && tcgetattr(STDIN_FILENO, &saved) == 0) {
			raw = saved;
			cfmakeraw(&raw);
			tcsetattr(STDIN_FILENO, TCSANOW, &raw);
		}
		for (;;) {
			struct pollfd p[2] = { { .fd = STDIN_FILENO, .events = POLLIN },
					       { .fd = fd, .events = POLLIN } };
			ssize_t n;

			if (poll(p, 2, -1) < 0 && errno != EINTR)
				break;
			if (p[1].revents) {
				n = read(fd, buf, sizeof(buf));
				if (n <= 0 || write(STDOUT_FILENO, buf, (size_t)n) < 0)
					break;  /* the VM exited */
			}
			if (p[0].revents) {
				n = read(STDIN_FILENO, buf, sizeof(buf));
				if (n <= 0)
					break;
				if (tty && memchr(buf, 0x1d, (size_t)n))
					break;  /* Ctrl-] */
				if (write(fd, buf, (size_t)n) < 0)
					break;
			}
		}
		if (tty)
			tcsetattr(STDIN_FILENO, TCSANOW, &saved);
		close(fd);
		fprintf(stderr, "\r\nember: detached from %s\n", argv[1]);
		return 0;
	}
	fd = open(log, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(-errno, "no console for VM '%s' (%s): %s", argv[1], log,
			       strerror(errno));
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n > 0) {
			if (write(STDOUT_FILENO, buf, (size_t)n) < 0)
				break;
			continue;
		}
		if (access(sock, F_OK) < 0)
			break;
		usleep(100 * 1000);
	}
	close(fd);
	return 0;
}
