/* vsock streams for the nested virtio-vsock case, both ends (busybox has no vsock
 * client). Built with gcc -static: it runs in the inner guest (AF_VSOCK) and in the
 * nested test host (AF_UNIX, through Ember's hybrid vsock socket).
 *
 *   vsock_echo serve-vsock PORT N                 serve N connections on vsock PORT
 *   vsock_echo serve-unix PATH N                  the same on a Unix socket at PATH
 *   vsock_echo client-vsock CID PORT OP BYTES N   N connections at once to CID:PORT
 *   vsock_echo client-unix UDS PORT OP BYTES N    N connections at once through UDS:
 *                                                 "CONNECT PORT\n", expects "OK <port>\n"
 *
 * Each client connection first sends a request line, then, by OP:
 *   echo   "E\n", BYTES of a pattern seeded by the connection's index, half-close; the
 *          server echoes everything; the echo read to EOF must hash like what was sent.
 *   send   "S\n", BYTES of the pattern, half-close; the server reads to EOF and answers
 *          "<length> <hash>\n", which must be the length and hash of the pattern
 *          (client -> server).
 *   recv   "R <bytes> <seed>\n"; the server sends that many bytes of the pattern and
 *          closes; what the client reads to EOF must hash like the pattern (server ->
 *          client).
 * For send and recv the client hashes the pattern before connecting, so that within the
 * timed part of a one-way stream the sender only makes the pattern and the receiver only
 * hashes, whichever end initiated.
 * The hash is FNV-1a-like over 64-bit little-endian words (plus the length), so that
 * checking costs little next to the transfer even at emulated-CPU speed.
 *
 * serve-unix also answers a "CONNECT <port>" line the way Ember does, so that client-unix
 * can talk to it directly: the same streams without a VM, as a baseline.
 *
 * Clients retry refused connections (the other side may still be starting) for
 * VSOCK_ECHO_WAIT_S seconds (default 120); client-unix stops retrying once Ember's socket
 * has existed and is gone. Each mode ends with one line:
 *   VSOCK-RESULT ok op=OP conns=N bytes=TOTAL ms=T mbps=R wait_ms=W
 *   VSOCK-RESULT ok conns=N served                                  (servers)
 *   VSOCK-RESULT fail: why
 * ms is from the first connection established (after the CONNECT/OK handshake for
 * client-unix) to the last one done; mbps = TOTAL / ms in 10^6 bytes per second, TOTAL
 * counting each byte once (an echo also carries it back); wait_ms is the time spent
 * before the first connection was established. */
#include <errno.h>
#include <inttypes.h>
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
#define CHUNK 65536

static const char *mode;
static const char *target;        /* vsock CID or Unix path */
static unsigned int port;
static uint64_t bytes;
static char op;                   /* 'E', 'S' or 'R' */
static volatile int failed;
static volatile int seen_socket;  /* client-unix: Ember's socket existed once */
static char fail_msg[256];
static pthread_mutex_t fail_lock = PTHREAD_MUTEX_INITIALIZER;

static void set_fail(const char *fmt, unsigned int idx, const char *what)
{
	pthread_mutex_lock(&fail_lock);
	if (!failed)
		snprintf(fail_msg, sizeof(fail_msg), fmt, idx, what);
	failed = 1;
	pthread_mutex_unlock(&fail_lock);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* ---- stream hash and pattern ---- */

struct hash {
	uint64_t h, len;
	uint8_t part[8];
	unsigned int plen;
};

static void hash_init(struct hash *s)
{
	memset(s, 0, sizeof(*s));
	s->h = 0xcbf29ce484222325ULL;
}

static void hash_word(struct hash *s, uint64_t w)
{
	uint64_t x = s->h ^ w;

	s->h = ((x << 29) | (x >> 35)) * 0x100000001b3ULL;
}

static uint64_t le64(const uint8_t *p)
{
	uint64_t w = 0;

	for (int i = 7; i >= 0; i--)
		w = w << 8 | p[i];
	return w;
}

static void hash_update(struct hash *s, const uint8_t *p, size_t n)
{
	s->len += n;
	while (s->plen && n) {
		s->part[s->plen++] = *p++;
		n--;
		if (s->plen == 8) {
			hash_word(s, le64(s->part));
			s->plen = 0;
		}
	}
	for (; n >= 8; p += 8, n -= 8)
		hash_word(s, le64(p));
	memcpy(s->part, p, n);
	s->plen = (unsigned int)n;
}

static uint64_t hash_final(const struct hash *s)
{
	struct hash t = *s;

	if (t.plen) {
		memset(t.part + t.plen, 0, 8 - t.plen);
		hash_word(&t, le64(t.part));
	}
	hash_word(&t, t.len);
	return t.h;
}

/* Word i of the pattern of SEED. */
static uint64_t pattern_word(uint64_t seed, uint64_t i)
{
	uint64_t x = (i + 1) * 0x9e3779b97f4a7c15ULL ^ (seed + 1) * 0xd1b54a32d192ed03ULL;

	x ^= x >> 31;
	return x * 0xbf58476d1ce4e5b9ULL;
}

/* Bytes [off, off + n) of the pattern; off is a multiple of 8. */
static void pattern(uint64_t seed, uint64_t off, uint8_t *p, size_t n)
{
	uint64_t i = off / 8;

	for (; n; i++) {
		uint64_t w = pattern_word(seed, i);
		size_t k = n < 8 ? n : 8;

		for (size_t j = 0; j < k; j++)
			p[j] = (uint8_t)(w >> (8 * j));
		p += k;
		n -= k;
	}
}

/* ---- socket helpers ---- */

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

/* A line up to '\n', a byte at a time (nothing after it is consumed). */
static int read_line(int fd, char *line, size_t size)
{
	size_t n = 0;

	while (n + 1 < size) {
		ssize_t r = read(fd, line + n, 1);

		if (r < 0 && errno == EINTR)
			continue;
		if (r != 1)
			return -1;
		if (line[n] == '\n') {
			line[n] = '\0';
			return 0;
		}
		n++;
	}
	return -1;
}

/* Sends BYTES of the pattern of SEED, hashing it into S. */
static int send_pattern(int fd, uint64_t seed, uint64_t n, struct hash *s)
{
	uint8_t *buf = malloc(CHUNK);
	uint64_t off = 0;
	int r = 0;

	if (!buf)
		return -1;
	while (off < n) {
		size_t k = n - off < CHUNK ? (size_t)(n - off) : CHUNK;

		pattern(seed, off, buf, k);
		if (s)
			hash_update(s, buf, k);
		if (write_all(fd, buf, k) < 0) {
			r = -1;
			break;
		}
		off += k;
	}
	free(buf);
	return r;
}

/* Reads to EOF into S. */
static int recv_all(int fd, struct hash *s)
{
	uint8_t *buf = malloc(CHUNK);
	int r = 0;

	if (!buf)
		return -1;
	for (;;) {
		ssize_t n = read(fd, buf, CHUNK);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			r = -1;
		if (n <= 0)
			break;
		hash_update(s, buf, (size_t)n);
	}
	free(buf);
	return r;
}

/* ---- servers ---- */

static volatile int serve_failed;

static void *serve_conn(void *arg)
{
	int fd = (int)(intptr_t)arg;
	uint8_t *buf = malloc(CHUNK);
	char line[80];
	unsigned long long n, seed;
	struct hash s;

	if (!buf || read_line(fd, line, sizeof(line)) < 0) {
		serve_failed = 1;
		goto out;
	}
	if (!strncmp(line, "CONNECT ", 8)) {
		/* A client-unix talking to serve-unix directly (the no-VM baseline): answer
		 * as Ember would, then read the request. */
		char ok[80];

		snprintf(ok, sizeof(ok), "OK %s\n", line + 8);
		if (write_all(fd, (const uint8_t *)ok, strlen(ok)) < 0 ||
		    read_line(fd, line, sizeof(line)) < 0) {
			serve_failed = 1;
			goto out;
		}
	}
	if (!strcmp(line, "E")) {
		for (;;) {
			ssize_t r = read(fd, buf, CHUNK);

			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0)
				serve_failed = 1;
			if (r <= 0 || write_all(fd, buf, (size_t)r) < 0)
				break;
		}
	} else if (!strcmp(line, "S")) {
		hash_init(&s);
		if (recv_all(fd, &s) < 0) {
			serve_failed = 1;
			goto out;
		}
		snprintf(line, sizeof(line), "%" PRIu64 " %016" PRIx64 "\n", s.len, hash_final(&s));
		if (write_all(fd, (const uint8_t *)line, strlen(line)) < 0)
			serve_failed = 1;
	} else if (sscanf(line, "R %llu %llu", &n, &seed) == 2) {
		if (send_pattern(fd, seed, n, NULL) < 0)
			serve_failed = 1;
	} else {
		serve_failed = 1;
	}
out:
	free(buf);
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
		if (pthread_create(&t[i], NULL, serve_conn, (void *)(intptr_t)fd)) {
			printf("VSOCK-RESULT fail: pthread_create\n");
			return 1;
		}
	}
	for (i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	if (serve_failed) {
		printf("VSOCK-RESULT fail: a connection broke off or sent a bad request\n");
		return 1;
	}
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
		/* Closed without an answer: the guest refused (not listening yet). */
		if (read_line(fd, line, sizeof(line)) < 0)
			goto fail;
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
	struct hash sent;
	uint64_t want_hash;      /* send, recv: the pattern's hash, computed beforehand */
	double t_conn, t_done;
};

static void *echo_writer(void *arg)
{
	struct conn *c = arg;

	if (send_pattern(c->fd, c->idx, bytes, &c->sent) < 0)
		set_fail("connection %u: write: %s", c->idx, strerror(errno));
	shutdown(c->fd, SHUT_WR);
	return NULL;
}

static void conn_echo(struct conn *c)
{
	pthread_t w;
	struct hash got;

	hash_init(&c->sent);
	hash_init(&got);
	if (pthread_create(&w, NULL, echo_writer, c)) {
		set_fail("connection %u: %s", c->idx, "pthread_create");
		return;
	}
	if (recv_all(c->fd, &got) < 0)
		set_fail("connection %u: read: %s", c->idx, strerror(errno));
	pthread_join(w, NULL);
	if (got.len != bytes)
		set_fail("connection %u: %s", c->idx, "echo length differs from what was sent");
	else if (hash_final(&got) != hash_final(&c->sent))
		set_fail("connection %u: %s", c->idx, "echo checksum differs from what was sent");
}

static void conn_send(struct conn *c)
{
	char line[80], want[80];

	if (send_pattern(c->fd, c->idx, bytes, NULL) < 0) {
		set_fail("connection %u: write: %s", c->idx, strerror(errno));
		return;
	}
	shutdown(c->fd, SHUT_WR);
	if (read_line(c->fd, line, sizeof(line)) < 0) {
		set_fail("connection %u: %s", c->idx, "no digest line from the server");
		return;
	}
	snprintf(want, sizeof(want), "%" PRIu64 " %016" PRIx64, bytes, c->want_hash);
	if (strcmp(line, want) != 0)
		set_fail("connection %u: server received something else: %s", c->idx, line);
}

static void conn_recv(struct conn *c)
{
	char line[80];
	struct hash got;

	hash_init(&got);
	snprintf(line, sizeof(line), "R %" PRIu64 " %u\n", bytes, c->idx);
	if (write_all(c->fd, (const uint8_t *)line, strlen(line)) < 0) {
		set_fail("connection %u: write: %s", c->idx, strerror(errno));
		return;
	}
	if (recv_all(c->fd, &got) < 0)
		set_fail("connection %u: read: %s", c->idx, strerror(errno));
	else if (got.len != bytes)
		set_fail("connection %u: %s", c->idx, "received length differs from the request");
	else if (hash_final(&got) != c->want_hash)
		set_fail("connection %u: %s", c->idx, "received bytes differ from the pattern");
}

static double wait_s = 120;

static void *client(void *arg)
{
	struct conn *c = arg;
	double end = now_ms() + wait_s * 1e3;
	const char *req = op == 'E' ? "E\n" : "S\n";

	if (op != 'E') {
		/* Both ends of a one-way stream do the same work inside the measured time:
		 * one makes the pattern, the other hashes what it receives. */
		struct hash s;
		uint8_t *buf = malloc(CHUNK);

		if (!buf) {
			set_fail("connection %u: %s", c->idx, "out of memory");
			return NULL;
		}
		hash_init(&s);
		for (uint64_t off = 0; off < bytes; off += CHUNK) {
			size_t k = bytes - off < CHUNK ? (size_t)(bytes - off) : CHUNK;

			pattern(c->idx, off, buf, k);
			hash_update(&s, buf, k);
		}
		free(buf);
		c->want_hash = hash_final(&s);
	}
	while ((c->fd = connect_once(c->idx)) == -1 && now_ms() < end && !failed)
		usleep(200 * 1000);
	if (c->fd < 0) {
		if (c->fd == -1)
			set_fail("connection %u: cannot connect: %s", c->idx, strerror(errno));
		return NULL;
	}
	c->t_conn = now_ms();
	if (op != 'R' && write_all(c->fd, (const uint8_t *)req, 2) < 0)
		set_fail("connection %u: write: %s", c->idx, strerror(errno));
	else if (op == 'E')
		conn_echo(c);
	else if (op == 'S')
		conn_send(c);
	else
		conn_recv(c);
	close(c->fd);
	c->t_done = now_ms();
	return NULL;
}

static int clients(unsigned int n)
{
	static struct conn c[MAX_CONNS];
	pthread_t t[MAX_CONNS];
	double t0 = now_ms(), first = 0, last = 0, ms;

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
	for (unsigned int i = 0; i < n; i++) {
		if (i == 0 || c[i].t_conn < first)
			first = c[i].t_conn;
		if (c[i].t_done > last)
			last = c[i].t_done;
	}
	ms = last - first;
	printf("VSOCK-RESULT ok op=%s conns=%u bytes=%llu ms=%.0f mbps=%.2f wait_ms=%.0f\n",
	       op == 'E' ? "echo" : op == 'S' ? "send" : "recv", n,
	       (unsigned long long)(bytes * n), ms,
	       ms > 0 ? (double)(bytes * n) / 1e3 / ms : 0.0, first - t0);
	return 0;
}

int main(int argc, char **argv)
{
	const char *w = getenv("VSOCK_ECHO_WAIT_S");
	unsigned int n;
	int lfd;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (w && atof(w) > 0)
		wait_s = atof(w);
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
	if ((!strcmp(mode, "client-vsock") || !strcmp(mode, "client-unix")) && argc == 7) {
		target = argv[2];
		port = (unsigned int)strtoul(argv[3], NULL, 10);
		if (!strcmp(argv[4], "echo"))
			op = 'E';
		else if (!strcmp(argv[4], "send"))
			op = 'S';
		else if (!strcmp(argv[4], "recv"))
			op = 'R';
		else
			goto usage;
		bytes = strtoull(argv[5], NULL, 10);
		n = (unsigned int)strtoul(argv[6], NULL, 10);
		if (n == 0 || n > MAX_CONNS)
			goto usage;
		return clients(n);
	}
usage:
	fprintf(stderr, "usage: vsock_echo serve-vsock PORT N | serve-unix PATH N |\n"
			"       client-vsock CID PORT echo|send|recv BYTES N |\n"
			"       client-unix UDS PORT echo|send|recv BYTES N\n");
	return 2;
sockfail:
	printf("VSOCK-RESULT fail: socket/bind/listen %s: %s\n", argv[2], strerror(errno));
	return 1;
}
