/* The reserve descriptor and accept_or_shed(): see fd_reserve.h for why. */
#include "util/fd_reserve.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/err.h"

static pthread_mutex_t reserve_lock = PTHREAD_MUTEX_INITIALIZER;
static int reserve_fd = -1;
static unsigned long shed_count;

/* An eventfd: it needs no file system (a jail or a test may have no /dev/null). */
static int reserve_open(void)
{
	return eventfd(0, EFD_CLOEXEC);
}

int fd_reserve_init(void)
{
	struct rlimit rl;
	int r = 0;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		/* Not fatal: a lower limit only means fewer connections before shedding. */
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	pthread_mutex_lock(&reserve_lock);
	if (reserve_fd < 0) {
		reserve_fd = reserve_open();
		if (reserve_fd < 0)
			r = err_set(-errno, "cannot create the reserve descriptor (eventfd): %s",
				    strerror(errno));
	}
	pthread_mutex_unlock(&reserve_lock);
	return r;
}

int accept_or_shed(int listen_fd, int flags, int *shed)
{
	int fd = accept4(listen_fd, NULL, NULL, flags);
	int e;

	*shed = 0;
	if (fd >= 0)
		return fd;
	e = errno;
	if (e != EMFILE && e != ENFILE)
		return e == EWOULDBLOCK ? -EAGAIN : -e;
	pthread_mutex_lock(&reserve_lock);
	if (reserve_fd >= 0) {
		close(reserve_fd);
		reserve_fd = -1;
	}
	fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd >= 0) {
		close(fd);
		*shed = 1;
		shed_count++;
	}
	/* Another thread may take the freed slot first; the reserve then comes back on a
	 * later call, and this one reports the error without shedding. */
	reserve_fd = reserve_open();
	pthread_mutex_unlock(&reserve_lock);
	return -e;
}

unsigned long fd_reserve_shed_count(void)
{
	unsigned long n;

	pthread_mutex_lock(&reserve_lock);
	n = shed_count;
	pthread_mutex_unlock(&reserve_lock);
	return n;
}
