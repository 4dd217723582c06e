/* The guest console's output ring and its writer thread: see console_out.h for why. */
#include "vmm/console_out.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"

void console_out_init(struct console_out *c, int fd)
{
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->more, NULL);
	pthread_cond_init(&c->progress, NULL);
}

/* Writes the oldest contiguous run of the ring; the lock is dropped around write(), so
 * the guest keeps appending while a slow reader holds us here. */
static void *writer(void *arg)
{
	struct console_out *c = arg;

	pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
	pthread_mutex_lock(&c->lock);
	for (;;) {
		while (c->len == 0 && !c->stopping)
			pthread_cond_wait(&c->more, &c->lock);
		if (c->len == 0)
			break;
		size_t run = CONSOLE_OUT_CAP - c->head < c->len ? CONSOLE_OUT_CAP - c->head : c->len;
		const uint8_t *p = c->buf + c->head;

		pthread_mutex_unlock(&c->lock);
		ssize_t n = write(c->fd, p, run);  /* a cancellation point: see console_out_stop */
		pthread_mutex_lock(&c->lock);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			/* A closed pipe or a full disk: the output is lost, the guest runs on. */
			c->dropped += c->len;
			n = (ssize_t)c->len;
		}
		c->head = (c->head + (size_t)n) % CONSOLE_OUT_CAP;
		c->len -= (size_t)n;
		c->written += (uint64_t)n;
		pthread_cond_broadcast(&c->progress);
	}
	c->writer_done = true;
	pthread_cond_broadcast(&c->progress);
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

void console_out_put(struct console_out *c, uint8_t byte)
{
	if (c->fd < 0)
		return;
	pthread_mutex_lock(&c->lock);
	if (!c->started && !c->stopping) {
		/* The first byte starts the writer: a VM whose guest prints nothing (a
		 * benchmark, a service) pays for neither the thread nor the ring. */
		c->buf = malloc(CONSOLE_OUT_CAP);
		if (c->buf && pthread_create(&c->thread, NULL, writer, c) == 0) {
			c->started = true;
		} else {
			free(c->buf);
			c->buf = NULL;
			c->stopping = true;  /* no writer: count the output as dropped from now on */
		}
	}
	if (!c->started || c->len == CONSOLE_OUT_CAP) {
		c->dropped++;
	} else {
		c->buf[(c->head + c->len) % CONSOLE_OUT_CAP] = byte;
		if (c->len++ == 0)
			pthread_cond_signal(&c->more);
	}
	pthread_mutex_unlock(&c->lock);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void console_out_stop(struct console_out *c)
{
	if (c->stopped)
		return;
	c->stopped = true;
	pthread_mutex_lock(&c->lock);
	bool started = c->started;

	c->stopping = true;
	pthread_cond_signal(&c->more);
	/* Flush while the reader takes bytes; give up after a stall. */
	uint64_t last = c->written, since = now_ms();
	while (started && !c->writer_done && now_ms() - since < CONSOLE_OUT_STALL_MS) {
		struct timespec until;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += 50 * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&c->progress, &c->lock, &until);
		if (c->written != last) {
			last = c->written;
			since = now_ms();
		}
	}
	bool done = c->writer_done;
	size_t lost = c->len;
	c->started = false;
	pthread_mutex_unlock(&c->lock);
	if (started) {
		/* Still in write() to a reader that stopped reading: cancel it there (the lock
		 * is not held across write()). */
		if (!done)
			pthread_cancel(c->thread);
		pthread_join(c->thread, NULL);
	}
	if (lost || c->dropped)
		log_warn("console: %llu bytes of guest output dropped (the console's reader was "
			 "too slow or gone)", (unsigned long long)(c->dropped + lost));
	c->dropped += lost;
	c->len = 0;
	free(c->buf);
	c->buf = NULL;
}
