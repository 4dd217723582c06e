/* The guest console's output path (src/vmm/console_out.c): bytes arrive in order through a
 * reader that keeps up; with a reader that never reads, appending never blocks (the old
 * serial path wrote each byte with a blocking write() on the vCPU thread), the overflow is
 * counted, and stopping gives up after the stall bound instead of hanging. */
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "util/log.h"
#include "vmm/console_out.h"

static uint64_t ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct drain {
	int fd;
	uint8_t *got;
	size_t len, cap;
};

static void *drain_all(void *arg)
{
	struct drain *d = arg;
	ssize_t n;

	while ((n = read(d->fd, d->got + d->len, d->cap - d->len)) > 0)
		d->len += (size_t)n;
	return NULL;
}

TEST(bytes_arrive_in_order_through_a_reader_that_keeps_up)
{
	int p[2];
	struct console_out c;
	struct drain d = { .cap = 1 << 20 };
	pthread_t t;
	const size_t total = 600 * 1024;  /* more than the ring: the writer must keep up */

	REQUIRE(pipe2(p, O_CLOEXEC) == 0);
	d.fd = p[0];
	d.got = malloc(d.cap);
	REQUIRE(d.got != NULL);
	REQUIRE(pthread_create(&t, NULL, drain_all, &d) == 0);
	console_out_init(&c, p[1]);
	for (size_t i = 0; i < total; i++) {
		console_out_put(&c, (uint8_t)(i * 7 + i / 251));
		if (i % 65536 == 0)
			usleep(20000);  /* a guest's bursts, with pauses the writer uses */
	}
	console_out_stop(&c);
	close(p[1]);
	pthread_join(t, NULL);
	close(p[0]);
	size_t bad = 0;
	for (size_t i = 0; i < d.len; i++)
		bad += d.got[i] != (uint8_t)(i * 7 + i / 251);
	CHECK_EQ_U64(d.len + c.dropped, total);
	CHECK_EQ_U64(bad, 0);
	/* A reader that keeps up (a pipe drained by a thread) loses at most a burst. */
	CHECK(d.len >= total / 2);
	free(d.got);
}

TEST(a_reader_that_never_reads_blocks_nothing)
{
	int p[2];
	struct console_out c;
	const size_t total = 2 << 20;  /* pipe buffer + ring, many times over */

	REQUIRE(pipe2(p, O_CLOEXEC) == 0);
	enum log_level saved = log_threshold;
	log_threshold = LOG_ERROR;  /* the "bytes dropped" warning is expected */
	console_out_init(&c, p[1]);
	uint64_t t0 = ms_now();
	for (size_t i = 0; i < total; i++)
		console_out_put(&c, 'x');
	uint64_t t_put = ms_now() - t0;
	t0 = ms_now();
	console_out_stop(&c);
	uint64_t t_stop = ms_now() - t0;
	log_threshold = saved;
	/* Appending 2 MiB took no waiting on the reader (generous bound for a loaded host;
	 * the blocking path would never have returned). */
	CHECK(t_put < 2000);
	CHECK(t_stop < CONSOLE_OUT_STALL_MS + 2000);
	CHECK(c.dropped >= total - CONSOLE_OUT_CAP - 1024 * 1024);
	CHECK(c.written <= 1024 * 1024);  /* at most what the pipe took */
	close(p[0]);
	close(p[1]);
}

TEST(no_output_no_thread_and_no_fd_no_work)
{
	struct console_out c;

	console_out_init(&c, 1);
	CHECK(!c.started);
	console_out_stop(&c);
	console_out_stop(&c);  /* idempotent */
	CHECK(!c.started);
	console_out_init(&c, -1);
	console_out_put(&c, 'a');
	CHECK(!c.started);
	CHECK_EQ_U64(c.dropped, 0);
	console_out_stop(&c);
}
