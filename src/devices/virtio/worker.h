/* A device's I/O thread: polls the device's fds (queue ioeventfds, a tap, ...) and calls
 * the device's handler, until stopped. Started when the driver sets DRIVER_OK, stopped
 * (and joined) on a device reset or at exit, so no thread runs for an idle device. */
#ifndef EMBER_DEVICES_VIRTIO_WORKER_H
#define EMBER_DEVICES_VIRTIO_WORKER_H

#include <poll.h>
#include <pthread.h>
#include <stdbool.h>

#define WORKER_MAX_FDS 4

struct worker {
	const char *name;
	pthread_t thread;
	bool running;
	int stop_fd;
	unsigned int nfds;
	struct pollfd pfd[WORKER_MAX_FDS + 1];
	/* Called with the index of each readable fd. */
	void (*handle)(void *dev, unsigned int idx);
	void *dev;
};

/* fds[i] is polled for the events in events[i]. Returns 0 or -errno (err_msg). */
int worker_start(struct worker *w, const char *name, const int *fds, const short *events,
		 unsigned int nfds, void (*handle)(void *, unsigned int), void *dev);
/* Changes the events polled on fd index idx (from the worker thread itself). */
void worker_set_events(struct worker *w, unsigned int idx, short events);
void worker_stop(struct worker *w);

/* Reads an eventfd to zero; harmless when nothing is pending. */
void eventfd_drain(int fd);

#endif
