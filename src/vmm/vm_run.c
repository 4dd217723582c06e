/* The main thread's event loop: console input, stop requests from vCPUs, host signals
 * and the periodic halt probe, all through one epoll set. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include "api/api_server.h"
#include "util/err.h"
#include "util/fd_reserve.h"
#include "util/log.h"
#include "vmm/term.h"
#include "vmm/vm.h"

#define HALT_PROBE_MS 500
#define HALT_PROBE_ROUNDS 2   /* consecutive all-halted rounds before stopping */
#define STDIN_CHUNK 256

/* Epoll tags: the loop's own below 100; an API server's (vm_config.api, opened by
 * vmm/session.c) start at 100. */
enum { EV_EXIT = 1, EV_WAKE, EV_SIGNAL, EV_STDIN, EV_PROBE, EV_CONSOLE_LISTEN,
       EV_CONSOLE_CLIENT };

struct loop {
	struct vm *vm;
	int epfd, sigfd, timerfd;
	int stdin_armed;   /* console_in is in the epoll set */
	int stdin_open;    /* not at EOF */
	int stdin_file;    /* a regular file: epoll refuses it, read when the FIFO has room */
	unsigned int probe_outstanding;
	struct api_server *api;  /* the owner's API server (on epfd), or NULL */
	bool epfd_owned;
	int console_listen;      /* --console-sock listener, or -1 */
	bool console_reading;    /* the client is in the epoll set for input */
};

/* ---- the console socket: one client at a time, like a serial line ---- */

static void console_detach(struct loop *l)
{
	struct vm *vm = l->vm;

	pthread_mutex_lock(&vm->console_lock);
	if (vm->console_client >= 0) {
		epoll_ctl(l->epfd, EPOLL_CTL_DEL, vm->console_client, NULL);
		close(vm->console_client);
	}
	__atomic_store_n(&vm->console_client, -1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&vm->console_lock);
	l->console_reading = false;
}

static void console_accept(struct loop *l)
{
	struct vm *vm = l->vm;
	int shed, fd = accept_or_shed(l->console_listen, SOCK_NONBLOCK | SOCK_CLOEXEC, &shed);
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.u64 = EV_CONSOLE_CLIENT };

	if (fd < 0)
		return;  /* (out of descriptors: the client was shed, nothing stays queued) */
	if (vm->console_client >= 0) {
		static const char busy[] = "ember: another console is attached to this VM\r\n";

		(void)!send(fd, busy, sizeof(busy) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
		close(fd);
		return;
	}
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		close(fd);
		return;
	}
	pthread_mutex_lock(&vm->console_lock);
	__atomic_store_n(&vm->console_client, fd, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&vm->console_lock);
	l->console_reading = true;
}

/* Client input to the UART, as far as its FIFO has room; else wait for the drain. */
static void console_input(struct loop *l)
{
	struct vm *vm = l->vm;
	uint8_t buf[STDIN_CHUNK];
	size_t space = serial_rx_space(&vm->serial);
	ssize_t n;

	if (vm->console_client < 0)
		return;
	if (space == 0) {
		struct epoll_event ev = { .events = EPOLLRDHUP, .data.u64 = EV_CONSOLE_CLIENT };

		epoll_ctl(l->epfd, EPOLL_CTL_MOD, vm->console_client, &ev);
		l->console_reading = false;
		return;
	}
	n = recv(vm->console_client, buf, space < sizeof(buf) ? space : sizeof(buf), 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		console_detach(l);
		return;
	}
	serial_rx_push(&vm->serial, buf, (size_t)n);
}

static void console_rearm(struct loop *l)
{
	struct vm *vm = l->vm;
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.u64 = EV_CONSOLE_CLIENT };

	if (vm->console_client < 0 || l->console_reading)
		return;
	if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, vm->console_client, &ev) == 0)
		l->console_reading = true;
}

static int console_listen(struct loop *l, const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = EV_CONSOLE_LISTEN };
	struct stat st;
	int fd;

	if (strlen(path) >= sizeof(addr.sun_path))
		return err_set(-ENAMETOOLONG, "--console-sock %s: path too long", path);
	if (lstat(path, &st) == 0)
		return err_set(-EEXIST, "--console-sock %s: the file already exists", path);
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, 2) < 0 ||
	    epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int e = errno;

		if (fd >= 0)
			close(fd);
		return err_set(-e, "--console-sock %s: cannot listen: %s", path, strerror(e));
	}
	l->console_listen = fd;
	return 0;
}

static int ep_add(int epfd, int fd, uint64_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = tag };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

static void on_stdin(struct loop *l);

static void stdin_arm(struct loop *l, int on)
{
	int fd = l->vm->cfg.console_in;

	if (!l->stdin_open || on == l->stdin_armed)
		return;
	if (l->stdin_file)
		return;
	if (on) {
		if (ep_add(l->epfd, fd, EV_STDIN) < 0) {
			if (errno != EPERM) {
				l->stdin_open = 0;
				return;
			}
			/* A regular file is always readable and epoll refuses it: feed it as
			 * the guest drains the FIFO (each drain wakes the main thread). */
			l->stdin_file = 1;
			on_stdin(l);
			return;
		}
	} else {
		epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
	}
	l->stdin_armed = on;
}

static void on_stdin(struct loop *l)
{
	uint8_t buf[STDIN_CHUNK];
	size_t space = serial_rx_space(&l->vm->serial);
	ssize_t n;

	if (space == 0) {
		stdin_arm(l, 0);  /* re-armed when the guest drains the FIFO */
		return;
	}
	n = read(l->vm->cfg.console_in, buf, space < sizeof(buf) ? space : sizeof(buf));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		/* EOF or error: the guest simply gets no more input. */
		stdin_arm(l, 0);
		l->stdin_open = 0;
		return;
	}
	serial_rx_push(&l->vm->serial, buf, (size_t)n);
}

static void probe_start(struct loop *l)
{
	struct vm *vm = l->vm;

	if (l->probe_outstanding)
		return;  /* previous round unanswered (a vCPU is busy in an exit) */
	__atomic_store_n(&vm->probe_acks, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&vm->probe_halted, 0, __ATOMIC_RELEASE);
	__atomic_add_fetch(&vm->probe_gen, 1, __ATOMIC_ACQ_REL);
	l->probe_outstanding = 1;
	vcpu_kick_all(vm);
}

static void probe_judge(struct loop *l)
{
	struct vm *vm = l->vm;

	if (!l->probe_outstanding ||
	    __atomic_load_n(&vm->probe_acks, __ATOMIC_ACQUIRE) < vm->nvcpus)
		return;
	l->probe_outstanding = 0;
	if (__atomic_load_n(&vm->probe_halted, __ATOMIC_ACQUIRE) == vm->nvcpus) {
		if (++vm->probe_all_halted_rounds >= HALT_PROBE_ROUNDS)
			vm_request_stop(vm, VM_STOP_HALT, "every vCPU halted with interrupts off");
	} else {
		vm->probe_all_halted_rounds = 0;
	}
}

static void on_signal(struct loop *l)
{
	struct signalfd_siginfo si;

	if (read(l->sigfd, &si, sizeof(si)) != sizeof(si))
		return;
	vm_request_stop(l->vm, VM_STOP_SIGNAL, "stopped by %s", strsignal((int)si.ssi_signo));
}

static void drain(int fd)
{
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0) {
		/* EAGAIN: nothing pending */
	}
}

static int loop_setup(struct loop *l, struct vm *vm, const sigset_t *stop_signals)
{
	struct itimerspec its = {
		.it_interval = { .tv_sec = 0, .tv_nsec = HALT_PROBE_MS * 1000000L },
		.it_value = { .tv_sec = 0, .tv_nsec = HALT_PROBE_MS * 1000000L },
	};

	memset(l, 0, sizeof(*l));
	l->vm = vm;
	l->sigfd = l->timerfd = l->console_listen = -1;
	if (vm->cfg.api) {
		/* The API server's connections live on its owner's epoll set: share it. */
		l->epfd = vm->cfg.api_epfd;
		l->api = vm->cfg.api;
	} else {
		l->epfd = epoll_create1(EPOLL_CLOEXEC);
		if (l->epfd < 0)
			return err_set(-errno, "epoll_create1: %s", strerror(errno));
		l->epfd_owned = true;
	}
	l->sigfd = signalfd(-1, stop_signals, SFD_CLOEXEC | SFD_NONBLOCK);
	l->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (l->sigfd < 0 || l->timerfd < 0)
		return err_set(-errno, "signalfd/timerfd: %s", strerror(errno));
	if (timerfd_settime(l->timerfd, 0, &its, NULL) < 0 ||
	    ep_add(l->epfd, vm->exit_efd, EV_EXIT) < 0 || ep_add(l->epfd, vm->wake_efd, EV_WAKE) < 0 ||
	    ep_add(l->epfd, l->sigfd, EV_SIGNAL) < 0 || ep_add(l->epfd, l->timerfd, EV_PROBE) < 0)
		return err_set(-errno, "epoll setup: %s", strerror(errno));
	if (vm->cfg.console_in >= 0) {
		l->stdin_open = 1;
		stdin_arm(l, 1);
	}
	if (vm->cfg.console_sock) {
		int r = console_listen(l, vm->cfg.console_sock);

		if (r < 0)
			return r;
	}
	return 0;
}

static void loop_teardown(struct loop *l)
{
	console_detach(l);
	if (l->console_listen >= 0) {
		close(l->console_listen);
		unlink(l->vm->cfg.console_sock);
	}
	l->console_listen = -1;
	if (l->timerfd >= 0) {
		epoll_ctl(l->epfd, EPOLL_CTL_DEL, l->timerfd, NULL);
		close(l->timerfd);
	}
	if (l->sigfd >= 0) {
		epoll_ctl(l->epfd, EPOLL_CTL_DEL, l->sigfd, NULL);
		close(l->sigfd);
	}
	if (l->epfd >= 0 && !l->epfd_owned) {
		/* Leave the owner's set as it was: only its API server on it. */
		struct vm *vm = l->vm;

		epoll_ctl(l->epfd, EPOLL_CTL_DEL, vm->exit_efd, NULL);
		epoll_ctl(l->epfd, EPOLL_CTL_DEL, vm->wake_efd, NULL);
		if (l->stdin_armed)
			epoll_ctl(l->epfd, EPOLL_CTL_DEL, vm->cfg.console_in, NULL);
	} else if (l->epfd >= 0) {
		close(l->epfd);
	}
}

static int exit_status(struct vm *vm)
{
	int reason = __atomic_load_n(&vm->stop_reason, __ATOMIC_ACQUIRE);

	switch (reason) {
	case VM_STOP_RESET:
	case VM_STOP_POWEROFF:
	case VM_STOP_HALT:
	case VM_STOP_SIGNAL:
		log_info("%s", vm->stop_msg);
		return 0;
	default:
		return err_set(-EIO, "%s", vm->stop_msg[0] ? vm->stop_msg : "VM stopped");
	}
}

int vm_run(struct vm *vm)
{
	sigset_t stop_signals, kick, old;
	struct loop l;
	int r;

	/* Stop signals arrive through the signalfd only; vCPU threads inherit the mask and
	 * unblock just the kick signal. SIGPIPE must not kill us when stdout goes away. */
	sigemptyset(&stop_signals);
	sigaddset(&stop_signals, SIGINT);
	sigaddset(&stop_signals, SIGTERM);
	sigaddset(&stop_signals, SIGHUP);
	sigaddset(&stop_signals, SIGQUIT);
	kick = stop_signals;
	sigaddset(&kick, SIGUSR1);
	signal(SIGPIPE, SIG_IGN);
	pthread_sigmask(SIG_BLOCK, &kick, &old);

	r = loop_setup(&l, vm, &stop_signals);
	if (r < 0)
		goto out;
	r = term_raw_enter(vm->cfg.console_in);
	if (r < 0)
		goto out;
	r = vcpu_start_all(vm);
	if (r < 0)
		goto out;

	while (!__atomic_load_n(&vm->stop_reason, __ATOMIC_ACQUIRE)) {
		struct epoll_event evs[8];
		int n = epoll_wait(l.epfd, evs, 8, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = err_set(-errno, "epoll_wait: %s", strerror(errno));
			goto out;
		}
		for (int i = 0; i < n; i++) {
			if (l.api && api_server_owns(l.api, evs[i].data.u64)) {
				api_server_event(l.api, evs[i].data.u64, evs[i].events);
				continue;
			}
			switch (evs[i].data.u64) {
			case EV_EXIT:
				drain(vm->exit_efd);
				break;
			case EV_WAKE:
				drain(vm->wake_efd);
				if (l.stdin_file && l.stdin_open)
					on_stdin(&l);
				stdin_arm(&l, 1);
				console_rearm(&l);
				probe_judge(&l);
				break;
			case EV_SIGNAL:
				on_signal(&l);
				break;
			case EV_STDIN:
				on_stdin(&l);
				break;
			case EV_CONSOLE_LISTEN:
				console_accept(&l);
				break;
			case EV_CONSOLE_CLIENT:
				if (evs[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
					console_input(&l);
				break;
			case EV_PROBE:
				drain(l.timerfd);
				probe_start(&l);
				if (l.api)
					api_server_tick(l.api);
				if (vm->cfg.tick)
					vm->cfg.tick(vm->cfg.tick_ctx);
				break;
			default:
				break;
			}
		}
	}
	vcpu_join_all(vm);
	r = exit_status(vm);
out:
	vcpu_join_all(vm);
	term_restore();
	loop_teardown(&l);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return r;
}
