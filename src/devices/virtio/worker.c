#include "devices/virtio/worker.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "util/err.h"

void eventfd_drain(int fd)
{
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0) {
		/* EAGAIN: nothing pending */
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	for (;;) {
		int n = poll(w->pfd, w->nfds + 1, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (w->pfd[w->nfds].revents)
			break;  /* stop requested */
		for (unsigned int i = 0; i < w->nfds; i++)
			if (w->pfd[i].revents & (w->pfd[i].events | POLLERR | POLLHUP))
				w->handle(w->dev, i);
	}
	return NULL;
}

int worker_start(struct worker *w, const char *name, const int *fds, const short *events,
		 unsigned int nfds, void (*handle)(void *, unsigned int), void *dev)
{
	sigset_t all, old;
	int r;

	if (w->running)
		return 0;
	if (nfds > WORKER_MAX_FDS)
		return err_set(-EINVAL, "%s: too many fds", name);
	w->name = name;
	w->handle = handle;
	w->dev = dev;
	w->nfds = nfds;
	for (unsigned int i = 0; i < nfds; i++)
		w->pfd[i] = (struct pollfd){ .fd = fds[i], .events = events[i] };
	w->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->stop_fd < 0)
		return err_set(-errno, "%s: eventfd: %s", name, strerror(errno));
	w->pfd[nfds] = (struct pollfd){ .fd = w->stop_fd, .events = POLLIN };
	/* Device threads take no signals: those are the main thread's (signalfd) and the
	 * vCPUs' (kick). */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	r = pthread_create(&w->thread, NULL, worker_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r) {
		close(w->stop_fd);
		return err_set(-r, "%s: cannot start its thread: %s", name, strerror(r));
	}
	pthread_setname_np(w->thread, name);
	w->running = true;
	return 0;
}

void worker_set_events(struct worker *w, unsigned int idx, short events)
{
	if (idx < w->nfds)
		w->pfd[idx].events = events;
}

void worker_stop(struct worker *w)
{
	uint64_t one = 1;

	if (!w->running)
		return;
	if (write(w->stop_fd, &one, sizeof(one)) < 0) {
		/* cannot fail for a fresh eventfd */
	}
	pthread_join(w->thread, NULL);
	close(w->stop_fd);
	w->running = false;
}
