/*
 * tstamp: prefix each output line of a command with the milliseconds elapsed
 * since tstamp started, so the nested tests can time an inner VMM from its
 * process start (tstamp forks and execs it itself, so time zero is exact).
 *
 *   tstamp [-t SECS] [-w TEXT [-s SIG] [-d MS]] -- CMD [ARG...]
 *   tstamp < input        (filter mode: time zero is tstamp's start)
 *
 * Output lines look like "[t+12345] text". CMD's stdout and stderr both go
 * through tstamp; its stdin is tstamp's (so it can be a tty). When CMD ends,
 * tstamp prints "[t+N] TSTAMP-EXIT status=S" (S: exit code, or "signal=N")
 * and exits with CMD's exit code (128+N after a signal).
 *
 *   -t SECS  give up after SECS seconds: print TSTAMP-TIMEOUT, send SIGTERM,
 *            SIGKILL 5 s later, exit 124.
 *   -w TEXT  once a line contains TEXT, wait -d MS (default 0) and then send
 *            signal -s SIG (TERM, INT, HUP, KILL or a number; default TERM)
 *            to CMD, printing "TSTAMP-SIGNAL sig=N".
 *
 * Built statically by the harness (gcc -static) so it runs in the nested test
 * host without libraries.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_LEN 4096

static struct timespec t0;
static char line[LINE_MAX_LEN + 1];
static size_t line_len;

static long long elapsed_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)(t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
}

static void write_all(const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(STDOUT_FILENO, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return; /* nobody is listening any more: drop output */
		}
		buf += n;
		len -= (size_t)n;
	}
}

/* Prints one "[t+MS] text" line built from a format. */
static void emit(const char *fmt, ...)
{
	char buf[LINE_MAX_LEN + 64];
	va_list ap;
	int n = snprintf(buf, sizeof(buf), "[t+%lld] ", elapsed_ms());

	va_start(ap, fmt);
	n += vsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	write_all(buf, (size_t)n);
}

/* Signal to send when the watched text appears. */
static const char *watch_text;
static int watch_sig = SIGTERM;
static long long watch_delay_ms;
static long long watch_due_ms = -1; /* when to send, once the text was seen */

static void flush_line(void)
{
	line[line_len] = '\0';
	/* Serial consoles end lines with \r\n: drop the \r. */
	while (line_len > 0 && line[line_len - 1] == '\r')
		line[--line_len] = '\0';
	emit("%s", line);
	if (watch_text && watch_due_ms < 0 && strstr(line, watch_text))
		watch_due_ms = elapsed_ms() + watch_delay_ms;
	line_len = 0;
}

static void consume(const char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (buf[i] == '\n') {
			flush_line();
			continue;
		}
		if (buf[i] == '\0')
			continue;
		line[line_len++] = buf[i];
		if (line_len == LINE_MAX_LEN)
			flush_line();
	}
}

static int parse_signal(const char *s)
{
	static const struct { const char *name; int sig; } names[] = {
		{ "TERM", SIGTERM }, { "INT", SIGINT }, { "HUP", SIGHUP },
		{ "KILL", SIGKILL }, { "QUIT", SIGQUIT },
	};

	if (strncmp(s, "SIG", 3) == 0)
		s += 3;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i].name) == 0)
			return names[i].sig;
	return atoi(s);
}

static void usage(void)
{
	fprintf(stderr, "usage: tstamp [-t SECS] [-w TEXT [-s SIG] [-d MS]] -- CMD [ARG...]\n"
			"       tstamp < input\n");
	exit(2);
}

/* Filter mode: stamp stdin until EOF. */
static int filter(void)
{
	char buf[4096];
	ssize_t n;

	while ((n = read(STDIN_FILENO, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		consume(buf, (size_t)n);
	}
	if (line_len > 0)
		flush_line();
	return 0;
}

int main(int argc, char **argv)
{
	long long timeout_ms = -1;
	int opt;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while ((opt = getopt(argc, argv, "+t:w:s:d:")) != -1) {
		switch (opt) {
		case 't': timeout_ms = atoll(optarg) * 1000; break;
		case 'w': watch_text = optarg; break;
		case 's': watch_sig = parse_signal(optarg); break;
		case 'd': watch_delay_ms = atoll(optarg); break;
		default: usage();
		}
	}
	if (watch_sig <= 0)
		usage();
	if (optind >= argc)
		return filter();

	int fds[2];

	if (pipe(fds) < 0) {
		perror("tstamp: pipe");
		return 125;
	}
	pid_t pid = fork();

	if (pid < 0) {
		perror("tstamp: fork");
		return 125;
	}
	if (pid == 0) {
		close(fds[0]);
		dup2(fds[1], STDOUT_FILENO);
		dup2(fds[1], STDERR_FILENO);
		if (fds[1] > STDERR_FILENO)
			close(fds[1]);
		execvp(argv[optind], argv + optind);
		fprintf(stderr, "tstamp: exec %s: %s\n", argv[optind], strerror(errno));
		_exit(127);
	}
	close(fds[1]);

	int pipe_open = 1, child_done = 0, status = 0, timed_out = 0;
	long long exit_ms = 0, kill_due_ms = -1;

	for (;;) {
		long long now = elapsed_ms();

		if (!child_done && waitpid(pid, &status, WNOHANG) == pid) {
			child_done = 1;
			exit_ms = now;
		}
		/* Stop once the child is gone and its output drained (or, if a
		 * grandchild keeps the pipe open, shortly after). */
		if (child_done && (!pipe_open || now - exit_ms > 500))
			break;
		if (!child_done && watch_due_ms >= 0 && now >= watch_due_ms) {
			emit("TSTAMP-SIGNAL sig=%d", watch_sig);
			kill(pid, watch_sig);
			watch_due_ms = -1;
			watch_text = NULL; /* once only */
		}
		if (!child_done && !timed_out && timeout_ms >= 0 && now >= timeout_ms) {
			if (line_len > 0)
				flush_line();
			emit("TSTAMP-TIMEOUT after=%lld", now);
			kill(pid, SIGTERM);
			timed_out = 1;
			kill_due_ms = now + 5000;
		}
		if (!child_done && kill_due_ms >= 0 && now >= kill_due_ms) {
			emit("TSTAMP-KILL");
			kill(pid, SIGKILL);
			kill_due_ms = -1;
		}

		struct pollfd pfd = { .fd = fds[0], .events = POLLIN };
		int n = poll(pipe_open ? &pfd : NULL, pipe_open ? 1 : 0, 50);

		if (n > 0) {
			char buf[4096];
			ssize_t r = read(fds[0], buf, sizeof(buf));

			if (r > 0)
				consume(buf, (size_t)r);
			else if (r == 0 || errno != EINTR) {
				pipe_open = 0;
				close(fds[0]);
			}
		}
	}
	if (line_len > 0)
		flush_line();
	if (WIFSIGNALED(status)) {
		emit("TSTAMP-EXIT status=signal=%d", WTERMSIG(status));
		return timed_out ? 124 : 128 + WTERMSIG(status);
	}
	emit("TSTAMP-EXIT status=%d", WEXITSTATUS(status));
	return timed_out ? 124 : WEXITSTATUS(status);
}
