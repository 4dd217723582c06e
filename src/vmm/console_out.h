/* Guest serial output to the host, without ever blocking the guest.
 *
 * Threat: the UART's transmit callback runs on a vCPU thread under the UART lock. A
 * blocking write() of each byte to stdout let whoever holds stdout's other end (a stalled
 * terminal, a pipe nobody reads, a suspended `less`) stop that vCPU, then a pause (which
 * waits for every vCPU) and shutdown: a host-side reader could freeze the VM.
 *
 * Here the vCPU only appends to a bounded ring (CONSOLE_OUT_CAP bytes) under a short lock;
 * a writer thread, started at the first byte, empties the ring into the file descriptor
 * with plain blocking writes, in chunks. When the ring is full, new bytes are dropped and
 * counted (a console that cannot keep up loses output; the guest never waits). At stop,
 * what is buffered is flushed while the reader makes progress, and abandoned (the writer
 * cancelled) after CONSOLE_OUT_STALL_MS without any. */
#ifndef EMBER_VMM_CONSOLE_OUT_H
#define EMBER_VMM_CONSOLE_OUT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONSOLE_OUT_CAP (256 * 1024)
#define CONSOLE_OUT_STALL_MS 1000

struct console_out {
	int fd;                 /* where the output goes; -1: nowhere (bytes are discarded) */
	pthread_mutex_t lock;
	pthread_cond_t more;    /* the writer waits for bytes (or stop) */
	pthread_cond_t progress;/* console_out_stop waits for the ring to empty */
	uint8_t *buf;           /* ring of CONSOLE_OUT_CAP bytes, allocated with the thread */
	size_t head, len;       /* oldest byte, bytes buffered */
	uint64_t written;       /* bytes handed to write() so far */
	uint64_t dropped;       /* bytes lost to a full ring or a failed start */
	bool started, stopping, writer_done, stopped;
	pthread_t thread;
};

/* Ready to take bytes for fd (no thread yet). */
void console_out_init(struct console_out *c, int fd);
/* Appends one byte; never blocks on the reader. */
void console_out_put(struct console_out *c, uint8_t byte);
/* Flushes what it can (see above), stops the writer, frees the ring. Idempotent. */
void console_out_stop(struct console_out *c);

#endif
