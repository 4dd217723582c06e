#include "vmm/term.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "util/err.h"

static struct termios saved;
static volatile sig_atomic_t saved_fd = -1;

void term_restore(void)
{
	int fd = saved_fd;

	if (fd >= 0) {
		tcsetattr(fd, TCSANOW, &saved);  /* async-signal-safe */
		saved_fd = -1;
	}
}

static void fatal_handler(int sig)
{
	term_restore();
	signal(sig, SIG_DFL);
	raise(sig);
}

int term_raw_enter(int fd)
{
	static const int fatal[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP, SIGSYS };
	struct termios raw;

	if (!isatty(fd))
		return 0;
	if (tcgetattr(fd, &saved) < 0)
		return err_set(-errno, "cannot read the terminal's mode: %s", strerror(errno));
	raw = saved;
	/* Raw: every byte, Ctrl-C included, goes to the guest; the guest echoes and sends its
	 * own CR LF, so output processing is off too. */
	cfmakeraw(&raw);
	for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++) {
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = fatal_handler;
		sa.sa_flags = (int)(unsigned int)SA_RESETHAND;
		sigaction(fatal[i], &sa, NULL);
	}
	saved_fd = fd;
	if (tcsetattr(fd, TCSANOW, &raw) < 0) {
		saved_fd = -1;
		return err_set(-errno, "cannot put the terminal in raw mode: %s", strerror(errno));
	}
	return 0;
}
