#include "api/api_client.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "util/err.h"

#define RESP_MAX (256 * 1024)

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for fd to be ready for events until the deadline. 0 ready, -ETIMEDOUT. */
static int wait_fd(int fd, short events, long long deadline)
{
	for (;;) {
		long long left = deadline - now_ms();
		struct pollfd p = { .fd = fd, .events = events };
		int r;

		if (left <= 0)
			return -ETIMEDOUT;
		r = poll(&p, 1, (int)left);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -errno;
	}
}

/* Length of a complete response in buf, or 0 if more is needed, -1 if malformed. */
static long response_length(const char *buf, size_t len)
{
	const char *end = NULL, *p;
	size_t hdr;
	long long clen = 0;

	for (size_t i = 0; i + 3 < len; i++)
		if (!memcmp(buf + i, "\r\n\r\n", 4)) {
			end = buf + i + 4;
			break;
		}
	if (!end)
		return 0;
	hdr = (size_t)(end - buf);
	for (p = buf; p < end; p++) {
		if ((p == buf || p[-1] == '\n') && (size_t)(end - p) > 15 &&
		    strncasecmp(p, "Content-Length:", 15) == 0) {
			clen = atoll(p + 15);
			if (clen < 0 || clen > RESP_MAX)
				return -1;
		}
	}
	if (len < hdr + (size_t)clen)
		return 0;
	return (long)(hdr + (size_t)clen);
}

int api_call(const char *sock_path, const char *method, const char *path, const char *json,
	     int timeout_ms, char **body)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	long long deadline = now_ms() + timeout_ms;
	size_t jlen = json ? strlen(json) : 0, len = 0, sent = 0;
	char *req = NULL, *buf = NULL;
	int fd = -1, r, status;
	long total;

	*body = NULL;
	if (strlen(sock_path) >= sizeof(addr.sun_path))
		return err_set(-ENAMETOOLONG, "%s: socket path too long", sock_path);
	strcpy(addr.sun_path, sock_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return err_set(-errno, "socket: %s", strerror(errno));
	/* A busy server's full backlog answers EAGAIN at once: retry until the deadline. */
	while (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 && errno != EINPROGRESS) {
		if (errno == EAGAIN && now_ms() < deadline) {
			usleep(2000);
			continue;
		}
		r = err_set(-errno, "%s: cannot connect: %s", sock_path, strerror(errno));
		goto out;
	}
	/* The request line carries the caller's method and path, of any length: size the
	 * buffer from the formatted header itself, never from a guess. */
	static const char hdr_fmt[] = "%s %s HTTP/1.1\r\nHost: localhost\r\nAccept: "
				      "application/json\r\nConnection: close\r\n%s%zu\r\n\r\n";
	const char *clen_hdr = json ? "Content-Type: application/json\r\nContent-Length: "
				    : "Content-Length: ";
	int hlen = snprintf(NULL, 0, hdr_fmt, method, path, clen_hdr, jlen);

	if (hlen < 0) {
		r = err_set(-EINVAL, "cannot format the request for %s %s", method, path);
		goto out;
	}
	req = malloc((size_t)hlen + 1 + jlen);
	buf = malloc(RESP_MAX + 1);
	if (!req || !buf) {
		r = err_set(-ENOMEM, "out of memory");
		goto out;
	}
	len = (size_t)snprintf(req, (size_t)hlen + 1, hdr_fmt, method, path, clen_hdr, jlen);
	memcpy(req + len, json ? json : "", jlen);
	len += jlen;
	while (sent < len) {
		ssize_t n;

		r = wait_fd(fd, POLLOUT, deadline);
		if (r < 0)
			goto timeout;
		n = send(fd, req + sent, len - sent, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			r = err_set(-errno, "%s: send: %s", sock_path, strerror(errno));
			goto out;
		}
		sent += (size_t)n;
	}
	len = 0;
	for (;;) {
		ssize_t n;

		total = response_length(buf, len);
		if (total < 0) {
			r = err_set(-EPROTO, "%s: malformed response", sock_path);
			goto out;
		}
		if (total > 0)
			break;
		if (len == RESP_MAX) {
			r = err_set(-EPROTO, "%s: response too large", sock_path);
			goto out;
		}
		r = wait_fd(fd, POLLIN, deadline);
		if (r < 0)
			goto timeout;
		n = recv(fd, buf + len, RESP_MAX - len, 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0) {
			r = err_set(-EPROTO, "%s: connection closed before a full response", sock_path);
			goto out;
		}
		len += (size_t)n;
	}
	if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1 || status < 100) {
		r = err_set(-EPROTO, "%s: malformed status line", sock_path);
		goto out;
	}
	{
		const char *b = strstr(buf, "\r\n\r\n") + 4;
		size_t blen = (size_t)total - (size_t)(b - buf);

		memmove(buf, b, blen);
		buf[blen] = '\0';
	}
	*body = buf;
	buf = NULL;
	r = status;
	goto out;
timeout:
	r = err_set(r, "%s: no answer within %d ms", sock_path, timeout_ms);
out:
	free(req);
	free(buf);
	if (fd >= 0)
		close(fd);
	return r;
}
