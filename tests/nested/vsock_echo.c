/* vsock streams for the nested virtio-vsock case, both ends (busybox has no vsock
 * client). Built with gcc -static: it runs in the inner guest (AF_VSOCK) and in the
 * nested test host (AF_UNIX, through Ember's hybrid vsock socket).
 *
 *   vsock_echo serve-vsock PORT N            accept N connections on vsock PORT; echo
 *   vsock_echo serve-unix PATH N             the same on a Unix socket at PATH
 *   vsock_echo client-vsock CID PORT BYTES N N connections at once to CID:PORT
 *   vsock_echo client-unix UDS PORT BYTES N  N connections at once through UDS:
 *                                            "CONNECT PORT\n", expects "OK <port>\n"
 *
 * A client connection sends BYTES of a pattern seeded by its index, half-closes, and
 * reads the echo to EOF; the FNV-1a hash and length of what came back must equal what
 * was sent. Clients retry refused connections for up to 120 s (the other side may still
 * be starting), client-unix only while Ember's socket is there once it has been. Each
 * mode ends with one line:
 *   VSOCK-RESULT ok conns=N bytes=TOTAL ms=T      or      VSOCK-RESULT fail: why */
#include <errno.h>
#include <linux/vm_sockets.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 64

static const char *mode;
static const char *target;        /* vsock CID or Unix path */
static unsigned int port;
static uint64_t bytes;
static volatile int failed;
static volatile int seen_socket;  /* client-unix: Ember's socket existed once */
static char fail_msg[256];

static void set_fail(const char *fmt, unsigned int idx, const char *what)
{
	if (!failed)
		snprintf(fail_msg, sizeof(fail_msg), fmt, idx, what);
	failed = 1;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static uint64_t fnv(uint64_t h, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}

static void pattern(unsigned int seed, uint64_t off, uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)((off + i) * 167 + seed * 13 + ((off + i) >> 12));
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* ---- servers ---- */

static void *echo_conn(void *arg)
{
	int fd = (int)(intptr_t)arg;
	static __thread uint8_t buf[65536];

	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || write_all(fd, buf, (size_t)n) < 0)
			break;
	}
	close(fd);
	return NULL;
}

static int serve(int lfd, unsigned int n)
{
	pthread_t t[MAX_CONNS];
	unsigned int i;

	for (i = 0; i < n; i++) {
		int fd = accept(lfd, NULL, NULL);

		if (fd < 0) {
			printf("VSOCK-RESULT fail: accept: %s\n", strerror(errno));
			return 1;
		}
		if (pthread_create(&t[i], NULL, echo_conn, (void *)(intptr_t)fd)) {
			printf("VSOCK-RESULT fail: pthread_create\n");
			return 1;
		}
	}
	for (i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	printf("VSOCK-RESULT ok conns=%u served\n", n);
	return 0;
}

/* ---- clients ---- */

static int connect_once(unsigned int idx)
{
	int fd;

	if (!strcmp(mode, "client-vsock")) {
		struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_port = port,
					 .svm_cid = (unsigned int)strtoul(target, NULL, 10) };

		fd = socket(AF_VSOCK, SOCK_STREAM, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
			goto fail;
		return fd;
	} else {
		struct sockaddr_un a = { .sun_family = AF_UNIX };
		char line[64];
		size_t n = 0;

		snprintf(a.sun_path, sizeof(a.sun_path), "%s", target);
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
			if (fd >= 0 && seen_socket && (errno == ENOENT || errno == ECONNREFUSED)) {
				/* Ember was there and is gone (the VM ended): no point waiting. */
				set_fail("connection %u: %s", idx, "Ember's socket went away");
				close(fd);
				return -2;
			}
			goto fail;
		}
		seen_socket = 1;
		snprintf(line, sizeof(line), "CONNECT %u\n", port);
		if (write_all(fd, (const uint8_t *)line, strlen(line)) < 0)
			goto fail;
		/* "OK <port>\n", byte by byte: nothing of the echo is consumed. */
		while (n + 1 < sizeof(line)) {
			if (read(fd, line + n, 1) != 1)
				goto fail;   /* closed: the guest refused (not listening yet) */
			if (line[n] == '\n')
				break;
			n++;
		}
		line[n] = '\0';
		if (strncmp(line, "OK ", 3) != 0) {
			set_fail("connection %u: handshake answer '%s'", idx, line);
			close(fd);
			return -2;
		}
		return fd;
	}
fail:
	if (fd >= 0)
		close(fd);
	return -1;
}

struct conn {
	unsigned int idx;
	int fd;
	uint64_t sent_hash;
};

static void *writer(void *arg)
{
	struct conn *c = arg;
	uint8_t *buf = malloc(65536);
	uint64_t off = 0;

	c->sent_hash = 0xcbf29ce484222325ULL;
	while (buf && off < bytes) {
		size_t n = bytes - off < 65536 ? (size_t)(bytes - off) : 65536;

		pattern(c->idx, off, buf, n);
		c->sent_hash = fnv(c->sent_hash, buf, n);
		if (write_all(c->fd, buf, n) < 0) {
			set_fail("connection %u: write: %s", c->idx, strerror(errno));
			break;
		}
		off += n;
	}
	free(buf);
	shutdown(c->fd, SHUT_WR);
	return NULL;
}

static void *client(void *arg)
{
	struct conn *c = arg;
	pthread_t w;
	uint8_t *buf = malloc(65536);
	uint64_t got = 0, h = 0xcbf29ce484222325ULL;
	double end = now_ms() + 120000;

	while ((c->fd = connect_once(c->idx)) == -1 && now_ms() < end && !failed)
		usleep(200 * 1000);
	if (c->fd < 0 || !buf) {
		if (c->fd == -1)
			set_fail("connection %u: cannot connect: %s", c->idx, strerror(errno));
		free(buf);
		return NULL;
	}
	if (pthread_create(&w, NULL, writer, c)) {
		set_fail("connection %u: %s", c->idx, "pthread_create");
		free(buf);
		return NULL;
	}
	for (;;) {
		ssize_t n = read(c->fd, buf, 65536);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			set_fail("connection %u: read: %s", c->idx, strerror(errno));
		if (n <= 0)
			break;
		h = fnv(h, buf, (size_t)n);
		got += (uint64_t)n;
	}
	pthread_join(w, NULL);
	close(c->fd);
	free(buf);
	if (got != bytes)
		set_fail("connection %u: %s", c->idx, "echo length differs from what was sent");
	else if (h != c->sent_hash)
		set_fail("connection %u: %s", c->idx, "echo checksum differs from what was sent");
	return NULL;
}

static int clients(unsigned int n)
{
	static struct conn c[MAX_CONNS];
	pthread_t t[MAX_CONNS];
	double t0 = now_ms();

	for (unsigned int i = 0; i < n; i++) {
		c[i] = (struct conn){ .idx = i, .fd = -1 };
		if (pthread_create(&t[i], NULL, client, &c[i])) {
			printf("VSOCK-RESULT fail: pthread_create\n");
			return 1;
		}
	}
	for (unsigned int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	if (failed) {
		printf("VSOCK-RESULT fail: %s\n", fail_msg);
		return 1;
	}
	printf("VSOCK-RESULT ok conns=%u bytes=%llu ms=%.0f\n", n,
	       (unsigned long long)(bytes * n), now_ms() - t0);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned int n;
	int lfd;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 4)
		goto usage;
	mode = argv[1];
	if (!strcmp(mode, "serve-vsock") || !strcmp(mode, "serve-unix")) {
		n = (unsigned int)strtoul(argv[3], NULL, 10);
		if (n == 0 || n > MAX_CONNS)
			goto usage;
		if (!strcmp(mode, "serve-vsock")) {
			struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY,
						 .svm_port = (unsigned int)strtoul(argv[2], NULL, 10) };

			lfd = socket(AF_VSOCK, SOCK_STREAM, 0);
			if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0)
				goto sockfail;
		} else {
			struct sockaddr_un a = { .sun_family = AF_UNIX };

			snprintf(a.sun_path, sizeof(a.sun_path), "%s", argv[2]);
			unlink(argv[2]);
			lfd = socket(AF_UNIX, SOCK_STREAM, 0);
			if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0)
				goto sockfail;
		}
		if (listen(lfd, 64) < 0)
			goto sockfail;
		printf("VSOCK-LISTENING %s\n", argv[2]);
		return serve(lfd, n);
	}
	if ((!strcmp(mode, "client-vsock") || !strcmp(mode, "client-unix")) && argc == 6) {
		target = argv[2];
		port = (unsigned int)strtoul(argv[3], NULL, 10);
		bytes = strtoull(argv[4], NULL, 10);
		n = (unsigned int)strtoul(argv[5], NULL, 10);
		if (n == 0 || n > MAX_CONNS)
			goto usage;
		return clients(n);
	}
usage:
	fprintf(stderr, "usage: vsock_echo serve-vsock PORT N | serve-unix PATH N |\n"
			"       client-vsock CID PORT BYTES N | client-unix UDS PORT BYTES N\n");
	return 2;
sockfail:
	printf("VSOCK-RESULT fail: socket/bind/listen %s: %s\n", argv[2], strerror(errno));
	return 1;
}
