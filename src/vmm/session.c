#include "vmm/session.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/sysinfo.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "api/api_server.h"
#include "config/fc_config.h"
#include "config/vm_file.h"
#include "mmds/mmds_stack.h"
#include "mmds/mmds_store.h"
#include "util/err.h"
#include "util/fd_reserve.h"
#include "util/log.h"
#include "vmm/fc_metrics.h"
#include "vmm/vm.h"

enum { EV_PRE_SIGNAL = 1, EV_PRE_TIMER = 2, EV_API = 100 };

struct session {
	const struct run_args *args;
	const char *id;             /* instance id: --id, a TOML file's name, or NULL */
	struct fc_config cfg;
	struct vm_file file;        /* --config FILE (TOML), kept for cpu_masks */
	struct vm vm;
	char *cmdline;              /* the command line vm_create got */
	bool started;
	int epfd;
	struct api_server api;
	bool api_open;
	struct api_counters counters;
	struct fc_metrics metrics;
	/* MMDS: one store for the session (the API's and the guest's single source of truth
	 * from start-up on), one stack per interface serving it (index: vm.nets[]). */
	struct mmds_store *mmds;
	struct mmds_stack *mmds_stacks[VM_MAX_NETS];
};

static uint64_t clock_us(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* A VM larger than the host's RAM and swap could never be backed. */
static int check_host_memory(uint64_t mem_mib)
{
	struct sysinfo si;
	uint64_t host;

	if (sysinfo(&si) < 0)
		return 0;
	host = ((uint64_t)si.totalram + si.totalswap) * si.mem_unit;
	if (mem_mib > host >> 20)
		return err_set(-ENOMEM, "memory %llu MiB (--memory, mem_size_mib): more than this "
			       "host's memory (%llu MiB of RAM and swap)", (unsigned long long)mem_mib,
			       (unsigned long long)(host >> 20));
	return 0;
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* The command line's (or a TOML file's) machine as a Firecracker description. Drives and
 * NICs get the ids drive0.., net0.. */
static int config_from_args(struct fc_config *c, const struct run_args *a)
{
	c->kernel = dup_or_null(a->kernel);
	c->initrd = dup_or_null(a->initrd);
	c->boot_args = dup_or_null(a->cmdline);
	if (!c->kernel || (a->initrd && !c->initrd) || (a->cmdline && !c->boot_args))
		return err_set(-ENOMEM, "out of memory");
	c->vcpus = a->vcpus;
	c->mem_mib = a->mem_mib;
	for (unsigned int i = 0; i < a->ndisks; i++) {
		struct fc_drive *d = &c->drives[c->ndrives++];
		char id[16];

		snprintf(id, sizeof(id), "drive%u", i);
		d->id = strdup(id);
		d->path = strdup(a->disks[i].path);
		d->read_only = a->disks[i].read_only;
		if (!d->id || !d->path)
			return err_set(-ENOMEM, "out of memory");
	}
	for (unsigned int i = 0; i < a->nnets; i++) {
		struct fc_net *n = &c->nets[c->nnets++];
		char id[16];

		snprintf(id, sizeof(id), "net%u", i);
		n->id = strdup(id);
		n->tap = strdup(a->nets[i].tap);
		n->has_mac = a->nets[i].has_mac;
		memcpy(n->mac, a->nets[i].mac, 6);
		if (!n->id || !n->tap)
			return err_set(-ENOMEM, "out of memory");
	}
	c->entropy = a->rng;
	if (a->vsock.uds_path) {
		c->has_vsock = true;
		c->vsock_cid = (uint32_t)a->vsock.cid;
		c->vsock_uds = strdup(a->vsock.uds_path);
		if (!c->vsock_uds)
			return err_set(-ENOMEM, "out of memory");
	}
	return 0;
}

/* ---- MMDS ---- */

/* The session's store, seeded from what --config-file/--metadata put in the description
 * (cfg.mmds, then dropped: the store is the only copy from here on). */
static int mmds_init(struct session *s)
{
	char why[320] = "";
	char *json;
	int r;

	s->mmds = mmds_store_new();
	if (!s->mmds)
		return err_set(-ENOMEM, "out of memory");
	(void)mmds_store_set_limit(s->mmds, s->cfg.mmds_limit < 2 ? 2 : s->cfg.mmds_limit);
	if (!s->cfg.mmds)
		return 0;
	json = json_dumps(s->cfg.mmds, JSON_COMPACT);
	if (!json)
		return err_set(-ENOMEM, "out of memory");
	r = mmds_store_put_json(s->mmds, json, strlen(json), why, sizeof(why));
	free(json);
	if (r < 0)
		return err_set(r, "--metadata: %s (--mmds-size-limit)", why);
	json_decref(s->cfg.mmds);
	s->cfg.mmds = NULL;
	return 0;
}

static void mmds_detach(struct session *s)
{
	for (unsigned int i = 0; i < VM_MAX_NETS; i++) {
		mmds_stack_free(s->mmds_stacks[i]);
		s->mmds_stacks[i] = NULL;
	}
}

/* mmds-config: its version and address go to the store, and each interface it names
 * (an iface_id; vm.nets[] follows cfg.nets[]' order) gets a stack. After vm_create,
 * before the vCPUs run (so before the guest can activate a NIC). */
static int mmds_attach(struct session *s)
{
	json_t *mc = s->cfg.mmds_config, *ifs, *v;
	char why[320] = "";
	size_t k;
	int r;

	if (!mc)
		return 0;
	r = mmds_config_set(s->mmds, json_string_value(json_object_get(mc, "version")),
			    json_string_value(json_object_get(mc, "ipv4_address")), why, sizeof(why));
	if (r < 0)
		return err_set(r, "mmds-config: %s", why);
	ifs = json_object_get(mc, "network_interfaces");
	json_array_foreach(ifs, k, v) {
		const char *id = json_string_value(v);
		unsigned int i = 0;

		while (id && i < s->cfg.nnets && strcmp(s->cfg.nets[i].id, id))
			i++;
		if (!id || i >= s->cfg.nnets || i >= s->vm.nnets)
			return err_set(-EINVAL, "mmds-config: no network interface `%.64s`: PUT "
				       "/network-interfaces/%.64s first", id ? id : "?", id ? id : "?");
		if (s->mmds_stacks[i])
			continue;  /* listed twice */
		s->mmds_stacks[i] = mmds_stack_new(s->mmds);
		if (!s->mmds_stacks[i])
			return err_set(-ENOMEM, "out of memory");
		r = virtio_net_attach_mmds(&s->vm.nets[i], s->mmds_stacks[i]);
		if (r < 0)
			return err_set(r, "mmds-config: cannot serve MMDS on interface `%s`: %s", id,
				       strerror(-r));
		log_info("MMDS (%s) on interface %s (%s)",
			 mmds_store_version(s->mmds) == MMDS_V2 ? "V2" : "V1", id, s->cfg.nets[i].tap);
	}
	return 0;
}

/* ---- the VM ---- */

static void session_tick(void *ctx)
{
	struct session *s = ctx;

	fc_metrics_tick(&s->metrics, s->started ? &s->vm : NULL, &s->counters);
}

static int session_start(struct session *s)
{
	const struct run_args *a = s->args;
	struct vm_config vc;
	int r;

	memset(&vc, 0, sizeof(vc));
	r = fc_config_to_vm_config(&s->cfg, &vc, &s->cmdline);
	if (r < 0)
		return r;
	r = check_host_memory(vc.mem_mib);
	if (r < 0)
		goto fail;
	vc.kvm_path = "/dev/kvm";
	vc.console_in = STDIN_FILENO;
	vc.console_out = STDOUT_FILENO;
	vc.console_sock = a->console_sock;
	vc.cpu_masks = a->cpu_masks ? a->cpu_masks
				    : (s->file.has_cpu_masks ? s->file.cpu_masks : NULL);
	vc.api = s->api_open ? &s->api : NULL;
	vc.api_epfd = s->epfd;
	vc.tick = session_tick;
	vc.tick_ctx = s;
	vc.fc_thread_names = a->fc_mode;
	r = vm_create(&s->vm, &vc);
	if (r < 0)
		goto fail;
	r = mmds_attach(s);
	if (r < 0) {
		vm_destroy(&s->vm);
		mmds_detach(s);
		goto fail;
	}
	s->started = true;
	log_info("microVM started: %u vCPU, %llu MiB, kernel %s", vc.vcpus,
		 (unsigned long long)vc.mem_mib, vc.kernel);
	return 0;
fail:
	free(s->cmdline);
	s->cmdline = NULL;
	return r;
}

/* ---- the API's view ---- */

static const char *op_state(void *ctx)
{
	struct session *s = ctx;

	if (!s->started)
		return "Not started";
	return __atomic_load_n(&s->vm.pause_requested, __ATOMIC_ACQUIRE) ? "Paused" : "Running";
}

static int op_pause(void *ctx)
{
	vm_pause(&((struct session *)ctx)->vm);
	return 0;
}

static int op_resume(void *ctx)
{
	vm_resume(&((struct session *)ctx)->vm);
	return 0;
}

static int op_cad(void *ctx)
{
	i8042_send_ctrl_alt_del(&((struct session *)ctx)->vm.i8042);
	return 0;
}

static char *op_vm_config(void *ctx)
{
	struct session *s = ctx;
	json_t *o = fc_config_to_json(&s->cfg, s->started ? s->vm.cmdline : NULL);
	json_t *nics = json_object_get(o, "network-interfaces"), *nic;
	char *str;
	size_t i;

	/* After boot, a NIC configured without a MAC reports the one Ember gave it. */
	json_array_foreach(nics, i, nic) {
		if (s->started && i < s->vm.nnets && json_is_null(json_object_get(nic, "guest_mac"))) {
			const uint8_t *m = s->vm.nets[i].mac;
			char mac[18];

			snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2],
				 m[3], m[4], m[5]);
			json_object_set_new(nic, "guest_mac", json_string(mac));
		}
	}
	str = o ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	return str;
}

static bool op_started(void *ctx)
{
	return ((struct session *)ctx)->started;
}

static int apply_logger(const struct session *s, const struct fc_logger *l)
{
	if (!l->path) {
		/* No file: Firecracker logs to stdout; Ember's stderr gets the level. */
		log_threshold = l->level < 0 ? LOG_ERROR : (enum log_level)l->level;
		return 0;
	}
	return log_file_open(l->path, l->level, l->show_level, l->show_origin, s->id);
}

static int op_apply_logger(void *ctx, const struct fc_logger *l)
{
	return apply_logger(ctx, l);
}

static int op_apply_metrics(void *ctx, const char *path)
{
	return fc_metrics_open(&((struct session *)ctx)->metrics, path);
}

static int op_flush_metrics(void *ctx)
{
	struct session *s = ctx;

	return fc_metrics_flush(&s->metrics, s->started ? &s->vm : NULL, &s->counters);
}

static int op_instance_start(void *ctx)
{
	return session_start(ctx);
}

static struct mmds_store *op_mmds(void *ctx)
{
	return ((struct session *)ctx)->mmds;
}

/* PATCH /drives/{id} after boot: the running disk gets the new file, then the
 * description (GET /vm/config) shows it. */
static int op_patch_drive(void *ctx, const char *id, const char *path)
{
	struct session *s = ctx;
	unsigned int i = 0;
	char *copy;
	int r;

	while (i < s->cfg.ndrives && strcmp(s->cfg.drives[i].id, id))
		i++;
	if (!s->started || i >= s->cfg.ndrives || i >= s->vm.nblks)
		return err_set(-ENOENT, "Invalid block device ID: the microVM has no drive `%s`.",
			       id);
	copy = strdup(path);
	if (!copy)
		return err_set(-ENOMEM, "out of memory");
	r = virtio_blk_swap(&s->vm.blks[i], path);
	if (r < 0) {
		free(copy);
		return r;
	}
	free(s->cfg.drives[i].path);
	s->cfg.drives[i].path = copy;
	s->vm.cfg.disks[i].path = copy;   /* it pointed at the old string */
	log_info("drive %s: now backed by %s (%llu sectors)", id, path,
		 (unsigned long long)__atomic_load_n(&s->vm.blks[i].sectors, __ATOMIC_ACQUIRE));
	return 0;
}

/* ---- before boot: serve the API until InstanceStart or a stop signal ---- */

static int preboot_loop(struct session *s)
{
	struct itimerspec its = { .it_interval = { 1, 0 }, .it_value = { 1, 0 } };
	struct epoll_event ev = { .events = EPOLLIN };
	sigset_t stop;
	int sigfd = -1, timerfd = -1, r = 0;

	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGHUP);
	sigaddset(&stop, SIGQUIT);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	sigfd = signalfd(-1, &stop, SFD_CLOEXEC | SFD_NONBLOCK);
	timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (sigfd < 0 || timerfd < 0 || timerfd_settime(timerfd, 0, &its, NULL) < 0) {
		r = err_set(-errno, "signalfd/timerfd: %s", strerror(errno));
		goto out;
	}
	ev.data.u64 = EV_PRE_SIGNAL;
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, sigfd, &ev) < 0) {
		r = err_set(-errno, "epoll: %s", strerror(errno));
		goto out;
	}
	ev.data.u64 = EV_PRE_TIMER;
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, timerfd, &ev) < 0) {
		r = err_set(-errno, "epoll: %s", strerror(errno));
		goto out;
	}
	log_info("API on %s: waiting for the configuration and InstanceStart", s->api.path);
	while (!s->started) {
		struct epoll_event evs[8];
		int n = epoll_wait(s->epfd, evs, 8, -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = err_set(-errno, "epoll_wait: %s", strerror(errno));
			goto out;
		}
		for (int i = 0; i < n; i++) {
			uint64_t tag = evs[i].data.u64, v;
			struct signalfd_siginfo si;

			if (api_server_owns(&s->api, tag)) {
				api_server_event(&s->api, tag, evs[i].events);
			} else if (tag == EV_PRE_TIMER) {
				(void)!read(timerfd, &v, sizeof(v));
				api_server_tick(&s->api);
				session_tick(s);
			} else if (tag == EV_PRE_SIGNAL) {
				if (read(sigfd, &si, sizeof(si)) == sizeof(si)) {
					log_info("stopped by %s before InstanceStart",
						 strsignal((int)si.ssi_signo));
					goto out;
				}
			}
		}
	}
out:
	if (sigfd >= 0) {
		epoll_ctl(s->epfd, EPOLL_CTL_DEL, sigfd, NULL);
		close(sigfd);
	}
	if (timerfd >= 0) {
		epoll_ctl(s->epfd, EPOLL_CTL_DEL, timerfd, NULL);
		close(timerfd);
	}
	return r;
}

/* ---- the process ---- */

static int setup(struct session *s)
{
	const struct run_args *a = s->args;
	int r = 0;

	if (a->config) {
		struct run_args b = *a;

		r = vm_file_load(&s->file, a->config);
		if (r < 0)
			return r;
		run_args_from_vm_file(&b, &s->file);
		s->id = b.id;
		r = config_from_args(&s->cfg, &b);
	} else if (a->config_file) {
		r = fc_config_load(&s->cfg, a->config_file);
	} else if (a->kernel) {
		r = config_from_args(&s->cfg, a);
	}
	if (r < 0)
		return r;
	if (a->metadata && (r = fc_load_metadata(&s->cfg, a->metadata)) < 0)
		return r;
	if (a->log_path || a->fc_level != -2 || a->show_level || a->show_origin) {
		struct fc_logger l = { .set = true, .level = a->fc_level == -2 ? LOG_INFO : a->fc_level,
				       .show_level = a->show_level, .show_origin = a->show_origin };

		if (s->cfg.logger.set)
			return err_set(-EINVAL, "--log-path/--level and --config-file %s's \"logger\" "
				       "both configure the logger: keep one", a->config_file);
		l.path = dup_or_null(a->log_path);
		free(s->cfg.logger.path);
		s->cfg.logger = l;
	}
	if (s->cfg.logger.set && (r = apply_logger(s, &s->cfg.logger)) < 0)
		return r;
	if (a->metrics_path) {
		if (s->cfg.metrics_path)
			return err_set(-EINVAL, "--metrics-path and --config-file %s's \"metrics\" both "
				       "configure the metrics: keep one", a->config_file);
		s->cfg.metrics_path = strdup(a->metrics_path);
		if (!s->cfg.metrics_path)
			return err_set(-ENOMEM, "out of memory");
	}
	if (s->cfg.metrics_path && (r = fc_metrics_open(&s->metrics, s->cfg.metrics_path)) < 0)
		return r;
	/* As Firecracker: the start-up time is the time from --start-time-us (the jailer's
	 * CLOCK_MONOTONIC reading) to now, and likewise for CPU time. */
	{
		uint64_t mono = clock_us(CLOCK_MONOTONIC), cpu = clock_us(CLOCK_PROCESS_CPUTIME_ID);

		if (a->start_time_us && a->start_time_us <= mono)
			s->metrics.start_us = mono - a->start_time_us;
		if (a->start_time_cpu_us)
			s->metrics.start_cpu_us = cpu + a->parent_cpu_time_us > a->start_time_cpu_us
				? cpu + a->parent_cpu_time_us - a->start_time_cpu_us : 0;
	}
	if (a->fc_mode)
		log_info("Running Firecracker v%s (Ember %s)", FC_COMPAT_VERSION, EMBER_VERSION);
	return 0;
}

int session_run(const struct run_args *a)
{
	struct session *s = calloc(1, sizeof(*s));
	int r;

	if (!s)
		return err_set(-ENOMEM, "out of memory");
	s->args = a;
	s->id = a->id;
	s->epfd = -1;
	fc_config_init(&s->cfg);
	if (a->mmds_size_limit)
		s->cfg.mmds_limit = a->mmds_size_limit;
	fc_metrics_init(&s->metrics);
	signal(SIGPIPE, SIG_IGN);
	r = fd_reserve_init();
	if (r < 0)
		goto out;
	r = setup(s);
	if (r < 0)
		goto out;
	r = mmds_init(s);
	if (r < 0)
		goto out;
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (s->epfd < 0) {
		r = err_set(-errno, "epoll_create1: %s", strerror(errno));
		goto out;
	}
	if (a->api_sock && !a->no_api) {
		const struct api_ops ops = {
			.ctx = s, .id = s->id, .version = a->fc_mode ? FC_COMPAT_VERSION : NULL,
			.state = op_state, .pause = op_pause, .resume = op_resume,
			.ctrl_alt_del = op_cad, .vm_config = op_vm_config, .config = &s->cfg,
			.started = op_started, .apply_logger = op_apply_logger,
			.apply_metrics = op_apply_metrics, .flush_metrics = op_flush_metrics,
			.instance_start = op_instance_start, .counters = &s->counters,
			.mmds = op_mmds, .patch_drive = op_patch_drive,
		};

		r = api_server_open(&s->api, a->api_sock, s->epfd, EV_API, &ops);
		if (r < 0)
			goto out;
		s->api_open = true;
	}
	if (s->cfg.kernel && (a->kernel || a->config || a->config_file)) {
		r = session_start(s);
		if (r < 0)
			goto out;
	} else if (!s->api_open) {
		r = err_set(-EINVAL, "no kernel and no API socket to configure one: give --kernel, "
			    "--config-file or --api-sock");
		goto out;
	} else {
		r = preboot_loop(s);
		if (r < 0 || !s->started)
			goto out;
	}
	r = vm_run(&s->vm);
out:
	/* The last metrics line, with the VM's counters while they still exist. */
	if (s->metrics.fd >= 0)
		(void)fc_metrics_flush(&s->metrics, s->started ? &s->vm : NULL, &s->counters);
	if (s->started)
		vm_destroy(&s->vm);
	/* The stacks after the devices that used them, the store after the stacks. */
	mmds_detach(s);
	fc_metrics_close(&s->metrics);
	if (s->api_open)
		api_server_close(&s->api);
	if (s->epfd >= 0)
		close(s->epfd);
	log_file_close();
	free(s->cmdline);
	fc_config_free(&s->cfg);
	vm_file_free(&s->file);
	mmds_store_free(s->mmds);
	free(s);
	return r;
}
