/* The unit test harness's runner: see harness.h. */
#include "harness.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define HARNESS_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HARNESS_SANITIZED 1
#endif
#endif
#ifdef HARNESS_SANITIZED
#include <sanitizer/common_interface_defs.h>
#endif

#define MAX_SHOWN_FAILURES 20

static struct harness_test *tests;
static const struct harness_test *current;
static unsigned int cur_checks, cur_failures;

void harness_register(struct harness_test *t)
{
	t->next = tests;
	tests = t;
}

/* Records one failure of the running test. The first one is printed at once as the test's
 * FAIL line, the next ones below it. */
static void record_failure(const char *file, int line, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
static void record_failure(const char *file, int line, const char *fmt, va_list ap)
{
	char detail[900];

	vsnprintf(detail, sizeof(detail), fmt, ap);
	cur_failures++;
	if (cur_failures == 1)
		printf("FAIL %s: %s:%d: %s\n", current ? current->name : "?", file, line, detail);
	else if (cur_failures <= MAX_SHOWN_FAILURES)
		printf("    also %s:%d: %s\n", file, line, detail);
	else if (cur_failures == MAX_SHOWN_FAILURES + 1)
		printf("    (further failures of this test not shown)\n");
}

int harness_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	cur_checks++;
	va_start(ap, fmt);
	record_failure(file, line, fmt, ap);
	va_end(ap);
	return 0;
}

/* Like harness_fail, for a check that was counted already. */
static int fail_counted(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail_counted(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	record_failure(file, line, fmt, ap);
	va_end(ap);
	return 0;
}

int harness_check(int ok, const char *file, int line, const char *expr)
{
	cur_checks++;
	if (ok)
		return 1;
	return fail_counted(file, line, "CHECK(%s) failed", expr);
}

int harness_check_u64(const char *file, int line, const char *ea, const char *eb,
		      uint64_t a, uint64_t b, int want_equal)
{
	cur_checks++;
	if ((a == b) == !!want_equal)
		return 1;
	return fail_counted(file, line, "%s %s %s: %llu (0x%llx) vs %llu (0x%llx)", ea,
			    want_equal ? "==" : "!=", eb, (unsigned long long)a,
			    (unsigned long long)a, (unsigned long long)b, (unsigned long long)b);
}

int harness_check_i64(const char *file, int line, const char *ea, const char *eb,
		      long long a, long long b, int want_equal)
{
	cur_checks++;
	if ((a == b) == !!want_equal)
		return 1;
	return fail_counted(file, line, "%s %s %s: %lld vs %lld", ea, want_equal ? "==" : "!=",
			    eb, a, b);
}

int harness_check_str_eq(const char *file, int line, const char *ea, const char *eb,
			 const char *a, const char *b)
{
	cur_checks++;
	if (a && b && strcmp(a, b) == 0)
		return 1;
	return fail_counted(file, line, "%s == %s: \"%s\" vs \"%s\"", ea, eb, a ? a : "(null)",
			    b ? b : "(null)");
}

int harness_check_str_contains(const char *file, int line, const char *ehay,
			       const char *hay, const char *needle)
{
	cur_checks++;
	if (hay && needle && strstr(hay, needle))
		return 1;
	return fail_counted(file, line, "%s does not contain \"%s\": \"%s\"", ehay,
			    needle ? needle : "(null)", hay ? hay : "(null)");
}

int harness_check_mem_eq(const char *file, int line, const char *ea, const char *eb,
			 const void *a, const void *b, size_t n)
{
	const uint8_t *pa = a, *pb = b;

	cur_checks++;
	if (!pa || !pb)
		return fail_counted(file, line, "memory %s vs %s: NULL pointer", ea, eb);
	for (size_t i = 0; i < n; i++)
		if (pa[i] != pb[i])
			return fail_counted(file, line, "memory %s vs %s (%zu bytes) differs at "
					    "byte %zu: 0x%02x vs 0x%02x", ea, eb, n, i, pa[i], pb[i]);
	return 1;
}

int harness_check_ptr(const char *file, int line, const char *expr, const void *p,
		      int want_null)
{
	cur_checks++;
	if ((p == NULL) == !!want_null)
		return 1;
	if (want_null)
		return fail_counted(file, line, "%s is %p, expected NULL", expr, p);
	return fail_counted(file, line, "%s is NULL", expr);
}

/* ---- crash reporting ---- */

static void say(const char *s)
{
	size_t n = strlen(s);

	while (n) {
		ssize_t w = write(STDOUT_FILENO, s, n);

		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

static void say_crash(const char *why)
{
	say("CRASH ");
	say(current ? current->name : "(outside any test)");
	say(": ");
	say(why);
	say("\n");
}

static const int crash_signals[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT };
static struct sigaction old_actions[sizeof(crash_signals) / sizeof(crash_signals[0])];

static void on_crash_signal(int sig, siginfo_t *info, void *uctx)
{
	char why[64];
	size_t i;

	snprintf(why, sizeof(why), "signal %d (%s)", sig, strsignal(sig));
	say_crash(why);
	/* Hand over to whoever had the signal before (a sanitizer's reporter), else die
	 * of it with the default action. */
	for (i = 0; i < ARRAY_LEN(crash_signals); i++)
		if (crash_signals[i] == sig)
			break;
	if (i < ARRAY_LEN(crash_signals)) {
		struct sigaction *o = &old_actions[i];

		if ((o->sa_flags & SA_SIGINFO) && o->sa_sigaction) {
			sigaction(sig, o, NULL);
			o->sa_sigaction(sig, info, uctx);
			return;
		}
		if (!(o->sa_flags & SA_SIGINFO) && o->sa_handler != SIG_DFL &&
		    o->sa_handler != SIG_IGN) {
			sigaction(sig, o, NULL);
			o->sa_handler(sig);
			return;
		}
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

#ifdef HARNESS_SANITIZED
static void on_sanitizer_death(void)
{
	say_crash("sanitizer report (see stderr)");
}
#endif

static void on_exit_check(void)
{
	if (current)
		say_crash("the process exited in the middle of the test");
}

static void install_crash_handlers(void)
{
	for (size_t i = 0; i < ARRAY_LEN(crash_signals); i++) {
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = on_crash_signal;
		sa.sa_flags = SA_SIGINFO | SA_NODEFER;
		sigemptyset(&sa.sa_mask);
		sigaction(crash_signals[i], &sa, &old_actions[i]);
	}
#ifdef HARNESS_SANITIZED
	__sanitizer_set_death_callback(on_sanitizer_death);
#endif
	atexit(on_exit_check);
}

/* ---- runner ---- */

static int test_before(const struct harness_test *a, const struct harness_test *b)
{
	int c = strcmp(a->file, b->file);

	return c < 0 || (c == 0 && a->line < b->line);
}

/* Constructors may run in any order: sort the list into source order (insertion sort). */
static void sort_tests(void)
{
	struct harness_test *sorted = NULL;

	while (tests) {
		struct harness_test *t = tests, **pp = &sorted;

		tests = t->next;
		while (*pp && !test_before(t, *pp))
			pp = &(*pp)->next;
		t->next = *pp;
		*pp = t;
	}
	tests = sorted;
}

static int selected(const char *name, int argc, char **argv)
{
	if (argc < 2)
		return 1;
	for (int i = 1; i < argc; i++)
		if (strstr(name, argv[i]))
			return 1;
	return 0;
}

int harness_in_child(int (*fn)(void *arg), void *arg, unsigned int seconds)
{
	int st = 0;
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		alarm(seconds);
		_exit(fn(arg) & 0xff);
	}
	if (waitpid(pid, &st, 0) < 0)
		return -errno;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int harness_make_fifo(char *path, size_t size, const char *tag)
{
	snprintf(path, size, "/tmp/ember-test-%s.%d", tag, (int)getpid());
	unlink(path);
	return mkfifo(path, 0600) < 0 ? -errno : 0;
}

int main(int argc, char **argv)
{
	const char *prog = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	unsigned int passed = 0, failed = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	install_crash_handlers();
	sort_tests();
	for (const struct harness_test *t = tests; t; t = t->next) {
		if (!selected(t->name, argc, argv))
			continue;
		cur_checks = 0;
		cur_failures = 0;
		current = t;
		t->fn();
		if (cur_failures == 0 && cur_checks == 0)
			harness_fail(t->file, t->line, "the test ran no checks");
		current = NULL;
		if (cur_failures) {
			if (cur_failures > 1)
				printf("    (%u failed checks in %s)\n", cur_failures, t->name);
			failed++;
		} else {
			printf("PASS %s\n", t->name);
			passed++;
		}
	}
	printf("%s: %u passed, %u failed\n", prog, passed, failed);
	return failed ? 1 : 0;
}
