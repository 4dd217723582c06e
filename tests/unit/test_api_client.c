/* The API client (src/api/api_client.c) against a one-shot server on a Unix socket in a
 * thread: the request bytes it sends, the body it returns, and a method and path far
 * longer than the client's old fixed 512-byte header buffer (it wrote past that buffer;
 * ASan reported the heap overflow). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "api/api_client.h"
#include "harness.h"

struct server {
	int listen_fd;
	char path[108];
	char request[64 * 1024];  // what the client sent, NUL-terminated
	size_t request_len;
	const char *response;
};

/* Reads until the end of the headers plus Content-Length body bytes, then answers. */
static void *serve_one(void *arg)
{
	struct server *s = arg;
	int fd = accept(s->listen_fd, NULL, NULL);

	if (fd < 0)
		return NULL;
	for (;;) {
		ssize_t n = read(fd, s->request + s->request_len,
				 sizeof(s->request) - 1 - s->request_len);
		if (n <= 0)
			break;
		s->request_len += (size_t)n;
		s->request[s->request_len] = '\0';
		char *end = strstr(s->request, "\r\n\r\n");
		char *cl = strstr(s->request, "Content-Length: ");
		if (end && cl && s->request_len >= (size_t)(end + 4 - s->request) +
							 strtoul(cl + 16, NULL, 10))
			break;
	}
	if (write(fd, s->response, strlen(s->response)) < 0)
		s->request_len = 0;
	close(fd);
	return NULL;
}

static int server_start(struct server *s, pthread_t *t, const char *response)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };

	memset(s, 0, sizeof(*s));
	s->response = response;
	snprintf(s->path, sizeof(s->path), "/tmp/ember-test-api-client.%d", (int)getpid());
	unlink(s->path);
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", s->path);
	s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->listen_fd < 0 || bind(s->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    listen(s->listen_fd, 1) < 0)
		return -errno;
	return -pthread_create(t, NULL, serve_one, s);
}

static void server_stop(struct server *s, pthread_t t)
{
	pthread_join(t, NULL);
	close(s->listen_fd);
	unlink(s->path);
}

TEST(request_bytes_and_body)
{
	struct server s;
	pthread_t t;
	char *body = NULL;

	REQUIRE(server_start(&s, &t, "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n{\"a\": 1}\n") == 0);
	int status = api_call(s.path, "PUT", "/vm", "{\"state\":\"Paused\"}", 5000, &body);
	server_stop(&s, t);
	CHECK_EQ_INT(status, 200);
	REQUIRE(body != NULL);
	CHECK_STR_EQ(body, "{\"a\": 1}\n");
	CHECK(strncmp(s.request, "PUT /vm HTTP/1.1\r\n", 18) == 0);
	CHECK_STR_CONTAINS(s.request, "Content-Type: application/json\r\nContent-Length: 18\r\n\r\n"
				      "{\"state\":\"Paused\"}");
	free(body);
}

TEST(long_method_and_path)
{
	struct server s;
	pthread_t t;
	char *body = NULL;
	size_t plen = 20000;
	char *path = malloc(plen + 1), *method = malloc(1001);

	REQUIRE(path != NULL && method != NULL);
	path[0] = '/';
	memset(path + 1, 'p', plen - 1);
	path[plen] = '\0';
	memset(method, 'M', 1000);
	method[1000] = '\0';
	REQUIRE(server_start(&s, &t, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n") == 0);
	int status = api_call(s.path, method, path, "{}", 5000, &body);
	server_stop(&s, t);
	CHECK_EQ_INT(status, 404);
	CHECK(body != NULL && body[0] == '\0');
	/* The whole request line arrived, then the headers and the body. */
	CHECK(s.request_len > plen + 1000);
	CHECK(strncmp(s.request, method, 1000) == 0 && s.request[1000] == ' ');
	CHECK(strncmp(s.request + 1001, path, plen) == 0);
	CHECK(strncmp(s.request + 1001 + plen, " HTTP/1.1\r\n", 11) == 0);
	CHECK_STR_CONTAINS(s.request, "Content-Length: 2\r\n\r\n{}");
	free(body);
	free(path);
	free(method);
}
