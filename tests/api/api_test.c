/* A raw HTTP/1.1 client for Ember's API socket, for tests/api/run.sh.
 *
 *   api_test live SOCK SERIAL_LOG KERNEL ID   the live tests against a running counter
 *                                              guest (PASS/FAIL lines; exit 1 on failure)
 *   api_test call SOCK METHOD PATH [BODY]     one request; prints the status line's code,
 *                                              then the body (exit 0 when answered)
 *
 * It speaks HTTP over its own sockets (not Ember's api_client) so that the bytes on the
 * wire are what is checked: status lines, framing, keep-alive, connection closes. Every
 * wait is bounded. SERIAL_LOG is Ember's standard output (the counter guest's serial
 * console: "TICK n" lines), used to see whether the guest runs. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define CONN_BUF (1024 * 1024)

static const char *sock_path, *log_path, *kernel_path, *vm_id;
static int passed, failed;

/* ---- time and results ---- */

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
	}
}

/* The current test's first failure (a test stops at its first failed expectation). */
static char why[512];

__attribute__((format(printf, 1, 2)))
static bool fail(const char *fmt, ...)
{
	va_list ap;

	if (!why[0]) {
		va_start(ap, fmt);
		vsnprintf(why, sizeof(why), fmt, ap);
		va_end(ap);
	}
	return false;
}

static void run(const char *name, bool (*fn)(void))
{
	long long t0 = now_ms();
	bool ok;

	why[0] = '\0';
	ok = fn();
	if (ok && !why[0]) {
		printf("PASS %s (%lld ms)\n", name, now_ms() - t0);
		passed++;
	} else {
		printf("FAIL %s: %s\n", name, why[0] ? why : "failed");
		failed++;
	}
	fflush(stdout);
}

/* ---- connections ---- */

struct conn {
	int fd;
	char *buf;
	size_t len;
};

struct resp {
	int status;
	char status_line[128];
	char head[8192];     /* header lines, NUL-terminated */
	long clen;           /* -1: no Content-Length */
	char *body;          /* NUL-terminated copy */
	size_t body_len;
	bool conn_close;
	bool has_te;
	json_t *json;        /* parsed body, if JSON */
};

static void resp_free(struct resp *r)
{
	free(r->body);
	json_decref(r->json);
	memset(r, 0, sizeof(*r));
}

/* Connects (non-blocking socket). NULL with errno on failure. */
static struct conn *conn_open(void)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->buf = malloc(CONN_BUF);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", sock_path);
	if (!c->buf || c->fd < 0 || connect(c->fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		int e = errno;

		if (c->fd >= 0)
			close(c->fd);
		free(c->buf);
		free(c);
		errno = e;
		return NULL;
	}
	return c;
}

static void conn_close(struct conn *c)
{
	if (!c)
		return;
	close(c->fd);
	free(c->buf);
	free(c);
}

/* Sends everything within timeout_ms. 0, or -errno (-EPIPE when the server closed). */
static int send_all(struct conn *c, const void *data, size_t len, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;
	const char *p = data;

	while (len) {
		ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);

		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
		{
			struct pollfd pf = { .fd = c->fd, .events = POLLOUT };
			long long left = deadline - now_ms();

			if (left <= 0)
				return -ETIMEDOUT;
			poll(&pf, 1, (int)left);
		}
	}
	return 0;
}

static int send_str(struct conn *c, const char *s)
{
	return send_all(c, s, strlen(s), 3000);
}

/* Reads what is available into the buffer, waiting at most until deadline.
 * 1: got bytes, 0: EOF, -ETIMEDOUT, -errno (ECONNRESET...). */
static int fill(struct conn *c, long long deadline)
{
	for (;;) {
		ssize_t n;
		struct pollfd pf = { .fd = c->fd, .events = POLLIN };
		long long left = deadline - now_ms();

		if (c->len == CONN_BUF)
			return -ENOBUFS;
		n = recv(c->fd, c->buf + c->len, CONN_BUF - c->len, 0);
		if (n > 0) {
			c->len += (size_t)n;
			return 1;
		}
		if (n == 0)
			return 0;
		if (errno != EAGAIN && errno != EINTR)
			return -errno;
		if (left <= 0)
			return -ETIMEDOUT;
		poll(&pf, 1, (int)left);
	}
}

static const char *header_value(const char *head, const char *name, char *out, size_t cap)
{
	size_t nl = strlen(name);

	for (const char *p = head; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			const char *v = p + nl + 1;
			size_t l = strcspn(v, "\r\n");

			while (l && (*v == ' ' || *v == '\t')) {
				v++;
				l--;
			}
			snprintf(out, cap, "%.*s", (int)l, v);
			return out;
		}
	}
	return NULL;
}

/* Takes one complete response off the connection's buffer if there is one.
 * 1: *r filled, 0: need more, -1: malformed. */
static int take_response(struct conn *c, struct resp *r)
{
	char *end = memmem(c->buf, c->len, "\r\n\r\n", 4), *nl, v[64];
	size_t hlen, total;

	if (!end)
		return 0;
	hlen = (size_t)(end - c->buf) + 4;
	memset(r, 0, sizeof(*r));
	nl = memchr(c->buf, '\r', hlen);
	snprintf(r->status_line, sizeof(r->status_line), "%.*s", (int)(nl - c->buf), c->buf);
	if (sscanf(r->status_line, "HTTP/1.1 %d ", &r->status) != 1)
		return -1;
	snprintf(r->head, sizeof(r->head), "%.*s", (int)(hlen - (size_t)(nl + 2 - c->buf)), nl + 2);
	r->clen = -1;
	if (header_value(r->head, "Content-Length", v, sizeof(v)))
		r->clen = strtol(v, NULL, 10);
	r->has_te = header_value(r->head, "Transfer-Encoding", v, sizeof(v)) != NULL;
	r->conn_close = header_value(r->head, "Connection", v, sizeof(v)) && !strcasecmp(v, "close");
	/* No Content-Length: no body (the server never sends one without it). */
	total = hlen + (size_t)(r->clen > 0 ? r->clen : 0);
	if (c->len < total)
		return 0;
	r->body_len = total - hlen;
	r->body = malloc(r->body_len + 1);
	if (!r->body)
		return -1;
	memcpy(r->body, c->buf + hlen, r->body_len);
	r->body[r->body_len] = '\0';
	if (r->body_len)
		r->json = json_loads(r->body, JSON_REJECT_DUPLICATES, NULL);
	memmove(c->buf, c->buf + total, c->len - total);
	c->len -= total;
	return 1;
}

/* Reads one response within timeout_ms. 1: got it; 0: EOF before any byte of it;
 * -1: timeout; -2: malformed, reset, or EOF in the middle. */
static int read_resp(struct conn *c, struct resp *r, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;

	for (;;) {
		int t = take_response(c, r), f;

		if (t == 1)
			return 1;
		if (t < 0)
			return -2;
		f = fill(c, deadline);
		if (f == 0)
			return c->len ? -2 : 0;
		if (f == -ETIMEDOUT)
			return -1;
		if (f < 0)
			return c->len ? -2 : 0;   /* a reset before any byte counts as a close */
	}
}

/* Waits for the server to close: true on EOF or reset (any bytes read before are kept in
 * the buffer), false on timeout. */
static bool wait_closed(struct conn *c, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;

	for (;;) {
		int f = fill(c, deadline);

		if (f == 0 || (f < 0 && f != -ETIMEDOUT && f != -ENOBUFS))
			return true;
		if (f == -ETIMEDOUT || f == -ENOBUFS)
			return false;
	}
}

/* One request on its own connection (Connection: close). */
static bool request(const char *method, const char *path, const char *body, struct resp *r)
{
	char req[12288];
	struct conn *c = conn_open();
	int rr;

	if (!c)
		return fail("connect %s: %s", sock_path, strerror(errno));
	snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: localhost\r\nAccept: application/json"
		 "\r\n%s%s%s%zu\r\n\r\n%s", method, path,
		 body ? "Content-Type: application/json\r\n" : "", "Connection: close\r\n",
		 "Content-Length: ", body ? strlen(body) : 0, body ? body : "");
	if (send_str(c, req) < 0) {
		conn_close(c);
		return fail("%s %s: send failed", method, path);
	}
	rr = read_resp(c, r, 3000);
	conn_close(c);
	if (rr != 1)
		return fail("%s %s: %s", method, path, rr == -1 ? "no answer within 3 s" :
			    "connection closed without a (complete) response");
	return true;
}

static const char *jstr(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* The 400 shape: {"fault_message": "..."} and nothing else. */
static bool is_fault(const struct resp *r, int status, const char *needle)
{
	const char *m;

	if (r->status != status)
		return fail("status %d, want %d (body %s)", r->status, status, r->body);
	if (!json_is_object(r->json) || json_object_size(r->json) != 1 ||
	    !(m = jstr(r->json, "fault_message")) || !m[0])
		return fail("%d body is not {\"fault_message\": ...}: %s", status, r->body);
	if (needle && !strstr(m, needle))
		return fail("fault_message \"%s\" lacks \"%s\"", m, needle);
	return true;
}

/* ---- the guest's progress ---- */

/* How many "TICK " the guest has printed so far. */
static long ticks(void)
{
	int fd = open(log_path, O_RDONLY | O_CLOEXEC);
	char buf[65536], carry[8] = "";
	size_t cl = 0;
	long n = 0;
	ssize_t r;

	if (fd < 0)
		return -1;
	while ((r = read(fd, buf + cl, sizeof(buf) - cl - 1)) > 0) {
		size_t len = cl + (size_t)r;
		char *p = buf;

		buf[len] = '\0';
		while ((p = memmem(p, len - (size_t)(p - buf), "TICK ", 5))) {
			n++;
			p += 5;
		}
		/* Keep the last 4 bytes: a "TICK " may straddle two reads. */
		cl = len < 4 ? len : 4;
		memcpy(carry, buf + len - cl, cl);
		memcpy(buf, carry, cl);
	}
	close(fd);
	return n;
}

/* Waits until the tick count exceeds since; false after timeout_ms. */
static bool ticks_advance(long since, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;

	while (now_ms() < deadline) {
		if (ticks() > since)
			return true;
		sleep_ms(50);
	}
	return false;
}

static bool state_is(const char *want)
{
	struct resp r;
	bool ok;

	if (!request("GET", "/", NULL, &r))
		return false;
	ok = r.status == 200 && jstr(r.json, "state") && !strcmp(jstr(r.json, "state"), want);
	if (!ok)
		fail("GET / state: want %s, got status %d body %s", want, r.status, r.body);
	resp_free(&r);
	return ok;
}

/* ---- tests ---- */

static bool t_get_root(void)
{
	struct resp r;
	char v[64];
	const char *ver;

	if (!request("GET", "/", NULL, &r))
		return false;
	if (strcmp(r.status_line, "HTTP/1.1 200 OK"))
		return fail("status line \"%s\"", r.status_line);
	if (!header_value(r.head, "Content-Type", v, sizeof(v)) || strcmp(v, "application/json"))
		return fail("Content-Type missing or not application/json");
	if (r.clen != (long)r.body_len || r.has_te)
		return fail("framing: Content-Length %ld for a %zu-byte body", r.clen, r.body_len);
	if (!json_is_object(r.json) || json_object_size(r.json) != 4)
		return fail("body is not an object of 4 fields: %s", r.body);
	if (!jstr(r.json, "id") || strcmp(jstr(r.json, "id"), vm_id))
		return fail("id: %s", r.body);
	if (!jstr(r.json, "state") || strcmp(jstr(r.json, "state"), "Running"))
		return fail("state: %s", r.body);
	if (!jstr(r.json, "app_name") || strcmp(jstr(r.json, "app_name"), "Firecracker"))
		return fail("app_name: %s", r.body);
	ver = jstr(r.json, "vmm_version");
	if (!ver || !ver[0] || !strchr(ver, '.'))
		return fail("vmm_version: %s", r.body);
	resp_free(&r);
	return true;
}

static bool t_get_version(void)
{
	struct resp r, root;
	bool ok;

	if (!request("GET", "/version", NULL, &r) || !request("GET", "/", NULL, &root))
		return false;
	ok = r.status == 200 && json_is_object(r.json) && json_object_size(r.json) == 1 &&
	     jstr(r.json, "firecracker_version") &&
	     !strcmp(jstr(r.json, "firecracker_version"), jstr(root.json, "vmm_version"));
	if (!ok)
		fail("status %d body %s (vmm_version %s)", r.status, r.body, root.body);
	resp_free(&r);
	resp_free(&root);
	return ok;
}

static bool t_get_vm_config(void)
{
	struct resp r;
	json_t *bs, *mc;
	bool ok;

	if (!request("GET", "/vm/config", NULL, &r))
		return false;
	bs = json_object_get(r.json, "boot-source");
	mc = json_object_get(r.json, "machine-config");
	ok = r.status == 200 && jstr(bs, "kernel_image_path") &&
	     !strcmp(jstr(bs, "kernel_image_path"), kernel_path) &&
	     json_integer_value(json_object_get(mc, "vcpu_count")) == 1 &&
	     json_integer_value(json_object_get(mc, "mem_size_mib")) == 128 &&
	     json_is_array(json_object_get(r.json, "drives")) &&
	     json_array_size(json_object_get(r.json, "drives")) == 0;
	if (!ok)
		fail("status %d body %s", r.status, r.body);
	resp_free(&r);
	return ok;
}

static bool t_guest_ticking(void)
{
	/* The counter prints about 5 ticks a second here; a few must be there. */
	long long deadline = now_ms() + 15000;

	while (ticks() < 3 && now_ms() < deadline)
		sleep_ms(100);
	if (ticks() < 3)
		return fail("fewer than 3 TICK lines in %s after 15 s", log_path);
	return true;
}

/* PATCH /vm Paused on a keep-alive connection: exactly "HTTP/1.1 204 No Content", no
 * Content-Length, no Transfer-Encoding, no body bytes: the next response on the same
 * connection starts right after the 204's blank line. */
static bool pause_on(struct conn *c, const char *state)
{
	char req[256];
	struct resp r;
	int rr;

	snprintf(req, sizeof(req), "PATCH /vm HTTP/1.1\r\nHost: localhost\r\nContent-Type: "
		 "application/json\r\nContent-Length: %zu\r\n\r\n{\"state\":\"%s\"}",
		 strlen(state) + 12, state);
	if (send_str(c, req) < 0)
		return fail("send PATCH failed");
	rr = read_resp(c, &r, 5000);
	if (rr != 1)
		return fail("PATCH /vm %s: no complete response (%d)", state, rr);
	if (strcmp(r.status_line, "HTTP/1.1 204 No Content"))
		return fail("PATCH /vm %s: status line \"%s\" body %s", state, r.status_line, r.body);
	if (r.clen != -1 || r.has_te || r.conn_close)
		return fail("204 headers: Content-Length %ld, Transfer-Encoding %d, close %d", r.clen,
			    r.has_te, r.conn_close);
	resp_free(&r);
	/* No stray body: a GET on the same connection parses from the first byte. */
	if (send_str(c, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n") < 0)
		return fail("send GET after 204 failed");
	rr = read_resp(c, &r, 3000);
	if (rr != 1 || r.status != 200 || !json_is_object(r.json))
		return fail("response after the 204 is not a clean 200 (%d, \"%s\")", rr, r.status_line);
	resp_free(&r);
	return true;
}

static bool t_pause_stops_the_guest(void)
{
	struct conn *c = conn_open();
	long before, during;
	bool ok;

	if (!c)
		return fail("connect: %s", strerror(errno));
	ok = pause_on(c, "Paused");
	conn_close(c);
	if (!ok)
		return false;
	before = ticks();
	if (!state_is("Paused"))
		return false;
	sleep_ms(2000);
	during = ticks();
	if (during != before)
		return fail("the counter advanced while paused: %ld -> %ld TICKs in 2 s", before,
			    during);
	return state_is("Paused");
}

static bool t_pause_twice_is_harmless(void)
{
	struct resp r;
	bool ok;

	if (!request("PATCH", "/vm", "{\"state\":\"Paused\"}", &r))
		return false;
	ok = r.status == 204 && r.body_len == 0;
	if (!ok)
		fail("second pause: %d %s", r.status, r.body);
	resp_free(&r);
	return ok && state_is("Paused");
}

static bool t_resume_restarts_the_guest(void)
{
	struct conn *c = conn_open();
	long before = ticks();
	bool ok;

	if (!c)
		return fail("connect: %s", strerror(errno));
	ok = pause_on(c, "Resumed");
	conn_close(c);
	if (!ok)
		return false;
	if (!state_is("Running"))
		return false;
	if (!ticks_advance(before + 2, 8000))
		return fail("the counter did not advance by 3 within 8 s of Resumed (%ld -> %ld)",
			    before, ticks());
	return true;
}

/* Each of these is a 400 with a fault message, leaves the VM running, and keeps a
 * keep-alive connection usable. */
static bool t_malformed_requests(void)
{
	static const struct { const char *method, *path, *body, *needle; } cases[] = {
		{ "PATCH", "/vm", "{\"state\": \"Paused\"", "JSON" },       /* bad JSON */
		{ "PATCH", "/vm", "{\"state\": 5}", "state" },              /* wrong type */
		{ "PATCH", "/vm", "{\"state\": \"Paused\", \"force\": true}", "force" },
		{ "PATCH", "/vm", "{\"state\": \"Stopped\"}", "Stopped" },  /* unknown value */
		{ "PATCH", "/vm", "", "empty" },
		{ "PATCH", "/vm", "[1]", "object" },
		{ "PUT", "/actions", "{\"action_type\": \"Explode\"}", "Explode" },
		{ "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}", NULL },
		{ "GET", "/no/such/path", NULL, "Invalid request method and/or path" },
		{ "DELETE", "/vm", NULL, "Invalid request method and/or path: DELETE /vm" },
		{ "GET", "/actions", NULL, "Invalid request method and/or path" },
		{ "POST", "/vm", "{\"state\": \"Paused\"}", "Invalid request method and/or path" },
	};
	struct conn *c = conn_open();
	bool ok = true;

	if (!c)
		return fail("connect: %s", strerror(errno));
	for (size_t i = 0; ok && i < sizeof(cases) / sizeof(cases[0]); i++) {
		char req[1024];
		struct resp r;
		const char *b = cases[i].body;

		snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: localhost\r\n"
			 "Content-Length: %zu\r\n\r\n%s", cases[i].method, cases[i].path,
			 b ? strlen(b) : 0, b ? b : "");
		if (send_str(c, req) < 0 || read_resp(c, &r, 3000) != 1) {
			ok = fail("%s %s %s: no response on the kept-alive connection",
				  cases[i].method, cases[i].path, b ? b : "");
			break;
		}
		if (!is_fault(&r, 400, cases[i].needle)) {
			char w[sizeof(why)];

			snprintf(w, sizeof(w), "%s", why);
			why[0] = '\0';
			ok = fail("%s %s %s: %s", cases[i].method, cases[i].path, b ? b : "", w);
		}
		if (r.conn_close)
			ok = fail("%s %s: a 400 from the routes closed the connection", cases[i].method,
				  cases[i].path);
		resp_free(&r);
	}
	conn_close(c);
	return ok && state_is("Running");
}

/* Content-Length of 1 MiB: 413 at once (without reading the body), then the connection
 * closes. */
static bool t_oversized_body_413(void)
{
	struct conn *c = conn_open();
	static char chunk[65536];
	struct resp r;
	int rr;

	if (!c)
		return fail("connect: %s", strerror(errno));
	memset(chunk, 'x', sizeof(chunk));
	if (send_str(c, "PATCH /vm HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1048576\r\n\r\n")) {
		conn_close(c);
		return fail("send headers failed");
	}
	/* Push some of the body; the server may close in the middle (EPIPE is fine). */
	for (int i = 0; i < 4; i++)
		if (send_all(c, chunk, sizeof(chunk), 500) < 0)
			break;
	rr = read_resp(c, &r, 3000);
	if (rr != 1) {
		conn_close(c);
		return fail("no 413 response (%d)", rr);
	}
	if (!is_fault(&r, 413, NULL)) {
		conn_close(c);
		return false;
	}
	resp_free(&r);
	if (!wait_closed(c, 3000)) {
		conn_close(c);
		return fail("the connection stayed open after the 413");
	}
	conn_close(c);
	return state_is("Running");
}

static bool t_header_block_9k_431(void)
{
	struct conn *c = conn_open();
	char *req = malloc(10000);
	struct resp r;
	size_t n;
	int rr;

	if (!c || !req) {
		conn_close(c);
		free(req);
		return fail("connect: %s", strerror(errno));
	}
	n = (size_t)snprintf(req, 64, "GET / HTTP/1.1\r\nX-Pad: ");
	memset(req + n, 'p', 9 * 1024 - n - 4);
	memcpy(req + 9 * 1024 - 4, "\r\n\r\n", 4);
	send_all(c, req, 9 * 1024, 3000);
	free(req);
	rr = read_resp(c, &r, 3000);
	if (rr != 1) {
		conn_close(c);
		return fail("no response (%d)", rr);
	}
	if (!is_fault(&r, 431, NULL)) {
		conn_close(c);
		return false;
	}
	resp_free(&r);
	if (!wait_closed(c, 3000)) {
		conn_close(c);
		return fail("the connection stayed open after the 431");
	}
	conn_close(c);
	return true;
}

/* A client sends half a request and stalls, another connects and says nothing: the VM
 * keeps running and other clients are served meanwhile; the slow one is answered when it
 * finishes. */
static bool t_slow_client(void)
{
	struct conn *slow = conn_open(), *silent = conn_open();
	struct resp r;
	long t0;
	bool ok = true;

	if (!slow || !silent) {
		conn_close(slow);
		conn_close(silent);
		return fail("connect: %s", strerror(errno));
	}
	send_str(slow, "GET /vm/config HTTP/1.1\r\nHost: loc");
	t0 = ticks();
	for (int i = 0; ok && i < 3; i++) {
		long long t = now_ms();

		if (!request("GET", "/", NULL, &r))
			ok = false;
		else if (r.status != 200 || now_ms() - t > 1000)
			ok = fail("another client got %d after %lld ms while one stalls", r.status,
				  now_ms() - t);
		resp_free(&r);
		sleep_ms(300);
	}
	if (ok && !ticks_advance(t0 + 2, 6000))
		ok = fail("the counter stalled while a client stalls (%ld -> %ld)", t0, ticks());
	if (ok) {
		send_str(slow, "alhost\r\n\r\n");
		if (read_resp(slow, &r, 3000) != 1 || r.status != 200)
			ok = fail("the slow client was not answered once it finished");
		resp_free(&r);
	}
	conn_close(slow);
	conn_close(silent);
	return ok;
}

/* Requests, then shutdown(SHUT_WR): every response still arrives, then the server closes. */
static bool t_half_close(void)
{
	struct conn *c = conn_open();
	struct resp r1, r2;
	bool ok = true;

	if (!c)
		return fail("connect: %s", strerror(errno));
	send_str(c, "GET /version HTTP/1.1\r\nHost: localhost\r\n\r\n"
		    "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
	shutdown(c->fd, SHUT_WR);
	if (read_resp(c, &r1, 3000) != 1 || r1.status != 200 || !jstr(r1.json, "firecracker_version"))
		ok = fail("first response missing after the half-close");
	else if (read_resp(c, &r2, 3000) != 1 || r2.status != 200 || !jstr(r2.json, "state"))
		ok = fail("second response missing after the half-close");
	else if (!wait_closed(c, 3000))
		ok = fail("the server kept a half-closed connection open");
	else if (c->len)
		ok = fail("%zu stray bytes after the responses", c->len);
	if (ok) {
		resp_free(&r1);
		resp_free(&r2);
	}
	conn_close(c);
	return ok;
}

/* 20 connections at once: 16 (API_MAX_CONNS) are served, the others are closed without
 * an answer; afterwards the server works as before. */
static bool t_twenty_connections(void)
{
	enum { N = 20 };
	struct conn *c[N] = { 0 };
	int served = 0, refused = 0, other = 0;
	bool ok = true;

	sleep_ms(300);  /* let the server see the earlier tests' connections close */
	for (int i = 0; i < N; i++) {
		c[i] = conn_open();
		if (!c[i])
			refused++;   /* connect refused: the backlog is full */
	}
	sleep_ms(300);  /* the server accepts (and refuses) in its loop */
	for (int i = 0; i < N; i++)
		if (c[i])
			send_str(c[i], "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
	for (int i = 0; i < N; i++) {
		struct resp r;
		int rr;

		if (!c[i])
			continue;
		rr = read_resp(c[i], &r, 3000);
		if (rr == 1 && r.status == 200)
			served++;
		else if (rr == 0 || rr == -2)
			refused++;
		else
			other++;
		if (rr == 1)
			resp_free(&r);
	}
	for (int i = 0; i < N; i++)
		conn_close(c[i]);
	if (served != 16 || refused != N - 16 || other)
		ok = fail("%d served, %d refused, %d neither (want 16 and %d)", served, refused,
			  other, N - 16);
	sleep_ms(200);
	return ok && state_is("Running") && ticks_advance(ticks(), 6000);
}

/* Requests written back to back on one connection are answered in order. */
static bool t_pipelined_in_order(void)
{
	struct conn *c = conn_open();
	static const char reqs[] =
		"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"
		"GET /version HTTP/1.1\r\nHost: localhost\r\n\r\n"
		"PATCH /vm HTTP/1.1\r\nHost: localhost\r\nContent-Length: 18\r\n\r\n{\"state\":\"Paused\"}"
		"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"
		"PUT /nosuch HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}"
		"PATCH /vm HTTP/1.1\r\nHost: localhost\r\nContent-Length: 19\r\n\r\n{\"state\":\"Resumed\"}"
		"GET /vm/config HTTP/1.1\r\nHost: localhost\r\n\r\n"
		"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
	static const struct { int status; const char *key, *value; } want[] = {
		{ 200, "state", "Running" }, { 200, "firecracker_version", NULL }, { 204, NULL, NULL },
		{ 200, "state", "Paused" }, { 400, "fault_message", NULL }, { 204, NULL, NULL },
		{ 200, "boot-source", NULL }, { 200, "state", "Running" },
	};
	bool ok = true;

	if (!c)
		return fail("connect: %s", strerror(errno));
	send_str(c, reqs);
	for (size_t i = 0; ok && i < sizeof(want) / sizeof(want[0]); i++) {
		struct resp r;

		if (read_resp(c, &r, 3000) != 1) {
			ok = fail("response %zu missing", i + 1);
			break;
		}
		if (r.status != want[i].status ||
		    (want[i].key && !json_object_get(r.json, want[i].key)) ||
		    (want[i].value && (!jstr(r.json, want[i].key) ||
				       strcmp(jstr(r.json, want[i].key), want[i].value))))
			ok = fail("response %zu: %d %s, want %d with %s", i + 1, r.status, r.body,
				  want[i].status, want[i].key ? want[i].key : "no body");
		resp_free(&r);
	}
	if (ok && !wait_closed(c, 3000))
		ok = fail("not closed after the Connection: close request");
	conn_close(c);
	return ok && state_is("Running");
}

static bool t_http10_closes(void)
{
	struct conn *c = conn_open();
	struct resp r;
	bool ok = true;

	if (!c)
		return fail("connect: %s", strerror(errno));
	send_str(c, "GET /version HTTP/1.0\r\n\r\n");
	if (read_resp(c, &r, 3000) != 1 || r.status != 200)
		ok = fail("no 200 for an HTTP/1.0 request");
	else if (!r.conn_close)
		ok = fail("an HTTP/1.0 response without keep-alive should say Connection: close");
	else if (!wait_closed(c, 3000))
		ok = fail("HTTP/1.0 connection not closed after the response");
	if (ok)
		resp_free(&r);
	conn_close(c);
	return ok;
}

static bool t_garbage_gets_400_and_close(void)
{
	struct conn *c = conn_open();
	struct resp r;
	bool ok = true;

	if (!c)
		return fail("connect: %s", strerror(errno));
	send_str(c, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03");   /* a TLS ClientHello */
	if (read_resp(c, &r, 3000) != 1)
		ok = fail("no response to garbage");
	else if (is_fault(&r, 400, NULL) && !wait_closed(c, 3000))
		ok = fail("connection not closed after a 400 for garbage");
	if (why[0])
		ok = false;
	else
		resp_free(&r);
	conn_close(c);
	return ok && state_is("Running");
}

/* Pipelining deeper than the server's 256 KiB output buffer: api_server.c's serve() stops
 * taking requests when the output is nearly full and nothing serves the rest once it has
 * been flushed, unless the client sends more bytes. */
static bool t_regression_deep_pipeline(void)
{
	enum { N = 2000 };
	static const char one[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	char *reqs = malloc(N * (sizeof(one) - 1));
	struct conn *c = conn_open();
	int got = 0;
	long long t0 = now_ms();

	if (!c || !reqs) {
		free(reqs);
		conn_close(c);
		return fail("connect: %s", strerror(errno));
	}
	for (int i = 0; i < N; i++)
		memcpy(reqs + (size_t)i * (sizeof(one) - 1), one, sizeof(one) - 1);
	if (send_all(c, reqs, N * (sizeof(one) - 1), 3000) < 0)
		fail("could not send %d pipelined requests", N);
	free(reqs);
	while (!why[0] && got < N) {
		struct resp r;
		long long left = 5000 - (now_ms() - t0);

		if (left <= 0 || read_resp(c, &r, (int)left) != 1)
			break;
		if (r.status == 200)
			got++;
		resp_free(&r);
	}
	conn_close(c);
	if (got != N)
		return fail("%d of %d pipelined GET / answered within 5 s (the rest stall until the "
			    "30 s idle timeout)", got, N);
	return true;
}

/* ---- replay: a client stack's call sequence, each answer checked exactly ---- */

/* One request on its own connection with every byte of the answer checked: 204 has no
 * Content-Length and no body; 200 is application/json; 400 is exactly
 * {"fault_message": "..."}. check: NULL, "=JSON" (the body equals it as JSON), or
 * "~TEXT" (the body contains TEXT). */
static bool replay_one(int want, const char *method, const char *path, const char *body,
		       const char *check)
{
	struct resp r;
	char v[64];
	bool ok = true;

	if (!request(method, path, body, &r))
		return false;
	if (r.status != want) {
		ok = fail("%s %s: status %d, want %d (body %s)", method, path, r.status, want, r.body);
	} else if (want == 204) {
		if (strcmp(r.status_line, "HTTP/1.1 204 No Content") || r.body_len || r.clen != -1 ||
		    r.has_te)
			ok = fail("%s %s: 204 not bare: \"%s\", Content-Length %ld, %zu body bytes",
				  method, path, r.status_line, r.clen, r.body_len);
	} else if (want == 200) {
		if (!header_value(r.head, "Content-Type", v, sizeof(v)) ||
		    strcmp(v, "application/json") || !r.json)
			ok = fail("%s %s: 200 without a JSON body: %s", method, path, r.body);
	} else if (want == 400) {
		ok = is_fault(&r, 400, NULL);
	}
	if (ok && check && check[0] == '=') {
		json_t *w = json_loads(check + 1, 0, NULL);

		if (!w || !json_equal(w, r.json))
			ok = fail("%s %s: body %s, want %s", method, path, r.body, check + 1);
		json_decref(w);
	} else if (ok && check && check[0] == '~' && !strstr(r.body, check + 1)) {
		ok = fail("%s %s: body %s lacks \"%s\"", method, path, r.body, check + 1);
	}
	resp_free(&r);
	return ok;
}

/* Lines "STATUS<TAB>METHOD<TAB>PATH[<TAB>BODY[<TAB>CHECK]]"; '#' starts a comment; an
 * empty BODY is no body. Prints PASS/FAIL per request, prefixed with name. */
static int cmd_replay(const char *name, const char *file)
{
	FILE *f = fopen(file, "r");
	char line[16384];
	int n = 0;

	if (!f) {
		fprintf(stderr, "api_test: %s: %s\n", file, strerror(errno));
		return 2;
	}
	while (fgets(line, sizeof(line), f)) {
		char *fld[5] = { NULL }, *p = line;
		int k = 0;

		line[strcspn(line, "\n")] = '\0';
		if (!line[0] || line[0] == '#')
			continue;
		while (k < 5 && (fld[k] = strsep(&p, "\t")) != NULL)
			k++;
		n++;
		why[0] = '\0';
		if (k < 3) {
			printf("FAIL %s/%d: malformed replay line\n", name, n);
			failed++;
			continue;
		}
		if (replay_one(atoi(fld[0]), fld[1], fld[2], fld[3] && fld[3][0] ? fld[3] : NULL,
			       fld[4] && fld[4][0] ? fld[4] : NULL) && !why[0]) {
			printf("PASS %s/%d %s %s -> %s\n", name, n, fld[1], fld[2], fld[0]);
			passed++;
		} else {
			printf("FAIL %s/%d %s %s: %s\n", name, n, fld[1], fld[2], why);
			failed++;
		}
		fflush(stdout);
	}
	fclose(f);
	return failed ? 1 : 0;
}

/* ---- main ---- */

static int cmd_call(int argc, char **argv)
{
	struct resp r;

	if (argc < 5)
		return 2;
	sock_path = argv[2];
	if (!request(argv[3], argv[4], argc > 5 ? argv[5] : NULL, &r)) {
		fprintf(stderr, "api_test: %s\n", why);
		return 1;
	}
	printf("%d\n%s\n", r.status, r.body);
	resp_free(&r);
	return 0;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc >= 2 && !strcmp(argv[1], "call"))
		return cmd_call(argc, argv);
	if (argc == 5 && !strcmp(argv[1], "replay")) {
		sock_path = argv[2];
		return cmd_replay(argv[3], argv[4]);
	}
	if (argc != 6 || strcmp(argv[1], "live")) {
		fprintf(stderr, "usage: api_test live SOCK SERIAL_LOG KERNEL ID\n"
				"       api_test call SOCK METHOD PATH [BODY]\n"
				"       api_test replay SOCK NAME FILE\n");
		return 2;
	}
	sock_path = argv[2];
	log_path = argv[3];
	kernel_path = argv[4];
	vm_id = argv[5];

	run("guest_ticking", t_guest_ticking);
	run("get_root", t_get_root);
	run("get_version", t_get_version);
	run("get_vm_config", t_get_vm_config);
	run("pause_204_and_counter_stops", t_pause_stops_the_guest);
	run("pause_twice", t_pause_twice_is_harmless);
	run("resume_204_and_counter_advances", t_resume_restarts_the_guest);
	run("malformed_requests_400", t_malformed_requests);
	run("oversized_body_413_closes", t_oversized_body_413);
	run("header_block_9k_431_closes", t_header_block_9k_431);
	run("garbage_400_closes", t_garbage_gets_400_and_close);
	run("http10_closes", t_http10_closes);
	run("slow_client_does_not_stall", t_slow_client);
	run("half_close_still_answered", t_half_close);
	run("pipelined_in_order", t_pipelined_in_order);
	run("twenty_connections", t_twenty_connections);
	run("regression_deep_pipeline", t_regression_deep_pipeline);
	/* The server must still serve after all of that. */
	run("still_serving", t_get_root);
	return failed ? 1 : 0;
}
