#include "api/api_server.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "util/err.h"
#include "util/fd_reserve.h"
#include "util/log.h"

#define IN_CAP (HTTP_MAX_HEADER + HTTP_MAX_BODY)
#define OUT_CAP (256 * 1024)

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int api_server_open(struct api_server *s, const char *path, int epfd, uint64_t tag_base,
		    const struct api_ops *ops)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = tag_base };
	struct stat st;

	memset(s, 0, sizeof(*s));
	s->listen_fd = -1;
	s->epfd = epfd;
	s->tag_base = tag_base;
	s->ops = *ops;
	for (int i = 0; i < API_MAX_CONNS; i++)
		s->conns[i].fd = -1;
	if (strlen(path) >= sizeof(addr.sun_path))
		return err_set(-ENAMETOOLONG, "--api-sock %s: path longer than %zu bytes", path,
			       sizeof(addr.sun_path) - 1);
	if (lstat(path, &st) == 0)
		return err_set(-EEXIST, "--api-sock %s: the file already exists (another VM's "
			       "socket? remove it if nothing uses it)", path);
	strcpy(addr.sun_path, path);
	s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->listen_fd < 0)
		return err_set(-errno, "--api-sock: socket: %s", strerror(errno));
	if (bind(s->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    listen(s->listen_fd, API_MAX_CONNS) < 0) {
		int e = errno;

		close(s->listen_fd);
		s->listen_fd = -1;
		return err_set(-e, "--api-sock %s: cannot listen: %s", path, strerror(e));
	}
	strcpy(s->path, path);
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, s->listen_fd, &ev) < 0) {
		int e = errno;

		api_server_close(s);
		return err_set(-e, "--api-sock: epoll: %s", strerror(e));
	}
	return 0;
}

bool api_server_owns(const struct api_server *s, uint64_t tag)
{
	return s->listen_fd >= 0 && tag >= s->tag_base && tag <= s->tag_base + API_MAX_CONNS;
}

static void conn_close(struct api_server *s, struct api_conn *c)
{
	if (c->fd < 0)
		return;
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->in);
	free(c->out);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

static void conn_watch(struct api_server *s, struct api_conn *c, uint64_t tag)
{
	/* While a response is pending, wait to write and read nothing more (backpressure). */
	struct epoll_event ev = {
		.events = c->out_len > c->out_off ? EPOLLOUT : EPOLLIN | EPOLLRDHUP,
		.data.u64 = tag,
	};

	epoll_ctl(s->epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

static void accept_one(struct api_server *s)
{
	int shed, fd = accept_or_shed(s->listen_fd, SOCK_NONBLOCK | SOCK_CLOEXEC, &shed);

	if (fd < 0) {
		/* Out of descriptors, the queued client was shed: the listener does not stay
		 * readable, so the loop does not spin. */
		unsigned long n = fd_reserve_shed_count();

		/* At 1, 2, 4, 8... sheds: a flood of clients cannot flood the log. */
		if (shed && (n & (n - 1)) == 0)
			log_warn("api: out of file descriptors; a client connection was refused "
				 "(%lu so far)", n);
		return;
	}
	for (int i = 0; i < API_MAX_CONNS; i++) {
		struct api_conn *c = &s->conns[i];

		if (c->fd >= 0)
			continue;
		struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP,
					  .data.u64 = s->tag_base + 1 + (uint64_t)i };
		c->in = malloc(IN_CAP);
		c->out = malloc(OUT_CAP);
		if (!c->in || !c->out || epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			free(c->in);
			free(c->out);
			c->in = c->out = NULL;
			break;
		}
		c->fd = fd;
		c->last_ms = now_ms();
		return;
	}
	log_warn("api: too many connections (%d); refusing one", API_MAX_CONNS);
	close(fd);
}

/* Queues a response. */
static void respond(struct api_conn *c, int status, const char *body, bool keep_alive)
{
	size_t n = http_format_response(c->out + c->out_len, OUT_CAP - c->out_len, status, NULL, body,
					body ? strlen(body) : 0, keep_alive);

	if (!n) {
		static const char too_big[] = "{\"fault_message\": \"response too large\"}";

		n = http_format_response(c->out + c->out_len, OUT_CAP - c->out_len, 500, NULL, too_big,
					 sizeof(too_big) - 1, false);
		keep_alive = false;
	}
	c->out_len += n;
	if (!keep_alive)
		c->close_after = true;
}

/* Parses and answers every complete request in the input buffer. */
static void serve(struct api_server *s, struct api_conn *c)
{
	while (c->in_len && !c->close_after) {
		struct http_request req;
		size_t used = 0;
		int status = 0;
		const char *reason = NULL;
		enum http_parse r = http_parse_request(c->in, c->in_len, &req, &used, &status, &reason);

		if (r == HTTP_INCOMPLETE)
			return;
		if (r == HTTP_BAD) {
			char *body = api_fault("%s", reason);

			respond(c, status, body, false);
			free(body);
			c->in_len = 0;
			return;
		}
		{
			char *body = NULL;

			s->requests++;
			api_handle(&s->ops, &req, &status, &body);
			respond(c, status, body, req.keep_alive);
			log_debug("api: %s %s -> %d", req.method, req.path, status);
			free(body);
		}
		memmove(c->in, c->in + used, c->in_len - used);
		c->in_len -= used;
		if (OUT_CAP - c->out_len < 4096)
			return;  /* flush before taking more pipelined requests */
	}
}

static void flush_out(struct api_server *s, struct api_conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			conn_close(s, c);
			return;
		}
		c->out_off += (size_t)n;
	}
	c->out_off = c->out_len = 0;
	if (c->close_after)
		conn_close(s, c);
}

/* Serves and flushes until the input holds no complete request or the socket is full. */
static void serve_and_flush(struct api_server *s, struct api_conn *c)
{
	for (;;) {
		size_t before = c->in_len;

		serve(s, c);
		flush_out(s, c);
		if (c->fd < 0 || c->out_len || c->in_len == 0 || c->in_len == before)
			return;
	}
}

void api_server_event(struct api_server *s, uint64_t tag, uint32_t events)
{
	struct api_conn *c;
	uint64_t i;

	if (tag == s->tag_base) {
		accept_one(s);
		return;
	}
	i = tag - s->tag_base - 1;
	c = &s->conns[i];
	if (c->fd < 0)
		return;
	c->last_ms = now_ms();
	if (events & EPOLLIN) {
		ssize_t n = IN_CAP - c->in_len ? recv(c->fd, c->in + c->in_len, IN_CAP - c->in_len, 0) : 0;

		if (n > 0) {
			c->in_len += (size_t)n;
			serve_and_flush(s, c);
		} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
			/* EOF (half-close) or error: answer what we have, then close. */
			serve(s, c);
			c->close_after = true;
			if (c->in_len == IN_CAP && c->out_len == 0) {
				char *body = api_fault("request too large");

				respond(c, 413, body, false);
				free(body);
			}
		}
	} else if (events & (EPOLLHUP | EPOLLERR)) {
		conn_close(s, c);
		return;
	}
	if (c->fd >= 0)
		serve_and_flush(s, c);
	if (c->fd >= 0) {
		if (c->close_after && c->out_len == 0)
			conn_close(s, c);
		else
			conn_watch(s, c, tag);
	}
}

void api_server_tick(struct api_server *s)
{
	uint64_t now = now_ms();

	for (int i = 0; i < API_MAX_CONNS; i++) {
		struct api_conn *c = &s->conns[i];

		if (c->fd >= 0 && now - c->last_ms > API_IDLE_MS) {
			log_debug("api: closing a connection idle for %d s", API_IDLE_MS / 1000);
			conn_close(s, c);
		}
	}
}

void api_server_close(struct api_server *s)
{
	for (int i = 0; i < API_MAX_CONNS; i++)
		conn_close(s, &s->conns[i]);
	if (s->listen_fd >= 0) {
		close(s->listen_fd);
		unlink(s->path);
	}
	s->listen_fd = -1;
}
