/* accept_or_shed (src/util/fd_reserve.c): out of descriptors, a queued connection is shed
 * (its client sees the end of the stream) and the listener is left unreadable, where a
 * plain accept4() failing with EMFILE leaves it queued and an epoll loop spinning. And
 * fd_reserve_init raises the soft descriptor limit to the hard one. */
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "harness.h"
#include "util/fd_reserve.h"

TEST(init_raises_the_soft_limit_to_the_hard_one)
{
	struct rlimit rl, after;

	REQUIRE(getrlimit(RLIMIT_NOFILE, &rl) == 0);
	if (rl.rlim_max > 64) {
		struct rlimit low = { .rlim_cur = 64, .rlim_max = rl.rlim_max };
		REQUIRE(setrlimit(RLIMIT_NOFILE, &low) == 0);
	}
	CHECK_EQ_INT(fd_reserve_init(), 0);
	REQUIRE(getrlimit(RLIMIT_NOFILE, &after) == 0);
	CHECK_EQ_U64(after.rlim_cur, rl.rlim_max);
}

/* A listening Unix socket (abstract name: nothing to clean up) and one client queued. */
static int listener_with_client(int *lfd, int *cfd)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	socklen_t len;

	snprintf(addr.sun_path + 1, sizeof(addr.sun_path) - 1, "ember-test-fd-reserve.%d",
		 (int)getpid());
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(addr.sun_path + 1));
	*lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	*cfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (*lfd < 0 || *cfd < 0 || bind(*lfd, (struct sockaddr *)&addr, len) < 0 ||
	    listen(*lfd, 8) < 0 || connect(*cfd, (struct sockaddr *)&addr, len) < 0)
		return -errno;
	return 0;
}

static int readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

TEST(out_of_descriptors_sheds_the_queued_client)
{
	struct rlimit rl, low;
	int lfd, cfd, fill[256], nfill = 0, shed = -1;
	char byte;

	REQUIRE_EQ_INT(fd_reserve_init(), 0);
	REQUIRE_EQ_INT(listener_with_client(&lfd, &cfd), 0);
	CHECK(readable(lfd));
	/* Take every descriptor left under a small limit. */
	REQUIRE(getrlimit(RLIMIT_NOFILE, &rl) == 0);
	low = rl;
	low.rlim_cur = (rlim_t)cfd + 8;
	REQUIRE(setrlimit(RLIMIT_NOFILE, &low) == 0);
	while (nfill < (int)ARRAY_LEN(fill)) {
		int fd = dup(cfd);
		if (fd < 0)
			break;
		fill[nfill++] = fd;
	}
	CHECK_EQ_INT(accept_or_shed(lfd, SOCK_NONBLOCK | SOCK_CLOEXEC, &shed), -EMFILE);
	CHECK_EQ_INT(shed, 1);
	CHECK_EQ_U64(fd_reserve_shed_count(), 1);
	/* Nothing stays queued: an epoll loop on the listener has nothing to wake for. */
	CHECK(!readable(lfd));
	/* The client sees its connection end. */
	CHECK_EQ_INT(recv(cfd, &byte, 1, MSG_DONTWAIT), 0);
	/* No client queued: an error (Linux checks for a free descriptor first), nothing
	 * shed, and the reserve is back (the next shed works). */
	CHECK(accept_or_shed(lfd, SOCK_NONBLOCK | SOCK_CLOEXEC, &shed) < 0);
	CHECK_EQ_INT(shed, 0);
	int cfd2 = -1;
	close(fill[--nfill]);  /* one descriptor for a second client */
	{
		struct sockaddr_un addr;
		socklen_t alen = sizeof(addr);
		REQUIRE(getsockname(lfd, (struct sockaddr *)&addr, &alen) == 0);
		cfd2 = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		REQUIRE(cfd2 >= 0);
		REQUIRE(connect(cfd2, (struct sockaddr *)&addr, alen) == 0);
	}
	CHECK_EQ_INT(accept_or_shed(lfd, SOCK_NONBLOCK | SOCK_CLOEXEC, &shed), -EMFILE);
	CHECK_EQ_INT(shed, 1);
	CHECK(!readable(lfd));
	close(cfd2);
	while (nfill > 0)
		close(fill[--nfill]);
	REQUIRE(setrlimit(RLIMIT_NOFILE, &rl) == 0);
	/* With descriptors again, a new client is accepted normally. */
	close(cfd);
	close(lfd);
	REQUIRE_EQ_INT(listener_with_client(&lfd, &cfd), 0);
	int fd = accept_or_shed(lfd, SOCK_NONBLOCK | SOCK_CLOEXEC, &shed);
	CHECK(fd >= 0);
	CHECK_EQ_INT(shed, 0);
	if (fd >= 0)
		close(fd);
	close(cfd);
	close(lfd);
}
