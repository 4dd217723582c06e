/* The per-VM API socket: HTTP/1.1 on a Unix socket, served from the main thread's epoll
 * loop with non-blocking connections. A slow, silent or half-closed client never stalls
 * the VM: every connection is bounded in buffer size and idle time, and the number of
 * connections is capped. */
#ifndef EMBER_API_API_SERVER_H
#define EMBER_API_API_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/api_routes.h"
#include "api/http.h"

#define API_MAX_CONNS 16
#define API_IDLE_MS 30000

struct api_conn {
	int fd;
	char *in;
	size_t in_len;
	char *out;
	size_t out_len, out_off;
	bool close_after;     /* close once out is flushed */
	uint64_t last_ms;
};

struct api_server {
	int listen_fd;
	int epfd;
	uint64_t tag_base;    /* epoll tag of the listener; connection i is tag_base + 1 + i */
	char path[108];
	struct api_ops ops;
	struct api_conn conns[API_MAX_CONNS];
	uint64_t requests;
};

/* Binds path (which must not exist yet) and adds the listener to epfd. */
int api_server_open(struct api_server *s, const char *path, int epfd, uint64_t tag_base,
		    const struct api_ops *ops);
/* Whether tag belongs to this server. */
bool api_server_owns(const struct api_server *s, uint64_t tag);
void api_server_event(struct api_server *s, uint64_t tag, uint32_t events);
/* Closes connections idle for longer than API_IDLE_MS. */
void api_server_tick(struct api_server *s);
/* Closes everything and removes the socket file. */
void api_server_close(struct api_server *s);

#endif
