/* Accepting connections when the process is out of descriptors.
 *
 * Threat: host clients (vsock peers, API clients, console clients) and the guest (each
 * guest-opened vsock stream holds a host socket) can use up RLIMIT_NOFILE. accept4() then
 * fails with EMFILE/ENFILE and leaves the connection queued: the listening socket stays
 * readable, and a level-triggered epoll loop wakes for it forever, at 100% CPU.
 *
 * accept_or_shed() keeps one descriptor in reserve (an eventfd, made once by
 * fd_reserve_init). Out of descriptors, it gives the reserve back, accepts the queued
 * connection, closes it at once (the client sees its connection end) and takes the
 * reserve again, so the listener is drained and nothing spins. Thread-safe: every thread
 * that accepts shares the one reserve under a lock. */
#ifndef EMBER_UTIL_FD_RESERVE_H
#define EMBER_UTIL_FD_RESERVE_H

/* Raises the soft RLIMIT_NOFILE to the hard limit (often 1024 soft for 512 Ki hard) and
 * opens the reserve descriptor. 0 or -errno with err_msg. Idempotent. */
int fd_reserve_init(void);

/* accept4(listen_fd, NULL, NULL, flags). Returns the new descriptor; -EAGAIN when none is
 * queued; -EMFILE or -ENFILE when out of descriptors, after shedding one queued
 * connection (*shed set to 1); another -errno otherwise. */
int accept_or_shed(int listen_fd, int flags, int *shed);

/* Connections shed so far in this process (for logs and tests). */
unsigned long fd_reserve_shed_count(void);

#endif
