#include "vmm/fc_metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/err.h"
#include "util/log.h"

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void fc_metrics_init(struct fc_metrics *m)
{
	memset(m, 0, sizeof(*m));
	m->fd = -1;
}

int fc_metrics_open(struct fc_metrics *m, const char *path)
{
	struct stat st;
	int fd;

	/* Never open a device or anything else that opening could disturb (a watchdog, a
	 * tape): only a regular file, a FIFO, or a new file. */
	if (stat(path, &st) == 0 && !(S_ISREG(st.st_mode) || S_ISFIFO(st.st_mode)))
		return err_set(-EINVAL, "metrics file %s: not a regular file or a FIFO", path);
	fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, 0600);
	if (fd < 0)
		return err_set(-errno, "metrics file %s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || !(S_ISREG(st.st_mode) || S_ISFIFO(st.st_mode))) {
		close(fd);
		return err_set(-EINVAL, "metrics file %s: not a regular file or a FIFO", path);
	}
	if (m->fd >= 0)
		close(m->fd);
	m->fd = fd;
	m->next_ms = mono_ms() + FC_METRICS_PERIOD_MS;
	return 0;
}

static json_int_t rd(const uint64_t *p)
{
	return (json_int_t)__atomic_load_n(p, __ATOMIC_RELAXED);
}

static void set(json_t *o, const char *k, json_int_t v)
{
	json_object_set_new(o, k, json_integer(v));
}

/* get_/put_/patch_api_requests from the API's counters. */
static void api_groups(json_t *root, const struct api_counters *ac)
{
	static const struct { const char *group, *name; int counter; bool fails; } map[] = {
		{ "get_api_requests", "instance_info_count", AC_GET_INSTANCE_INFO, false },
		{ "get_api_requests", "machine_cfg_count", AC_GET_MACHINE_CFG, false },
		{ "get_api_requests", "mmds_count", AC_GET_MMDS, false },
		{ "get_api_requests", "vmm_version_count", AC_GET_VMM_VERSION, false },
		{ "put_api_requests", "actions", AC_PUT_ACTIONS, true },
		{ "put_api_requests", "boot_source", AC_PUT_BOOT_SOURCE, true },
		{ "put_api_requests", "drive", AC_PUT_DRIVE, true },
		{ "put_api_requests", "logger", AC_PUT_LOGGER, true },
		{ "put_api_requests", "machine_cfg", AC_PUT_MACHINE_CFG, true },
		{ "put_api_requests", "metrics", AC_PUT_METRICS, true },
		{ "put_api_requests", "network", AC_PUT_NETWORK, true },
		{ "put_api_requests", "mmds", AC_PUT_MMDS, true },
		{ "put_api_requests", "vsock", AC_PUT_VSOCK, true },
		{ "put_api_requests", "entropy", AC_PUT_ENTROPY, true },
		{ "patch_api_requests", "drive", AC_PATCH_DRIVE, true },
		{ "patch_api_requests", "network", AC_PATCH_NETWORK, true },
		{ "patch_api_requests", "machine_cfg", AC_PATCH_MACHINE_CFG, true },
		{ "patch_api_requests", "mmds", AC_PATCH_MMDS, true },
		{ "patch_api_requests", "vm", AC_PATCH_VM, true },
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		json_t *g = json_object_get(root, map[i].group);
		char k[64];

		if (!g) {
			g = json_object();
			json_object_set_new(root, map[i].group, g);
		}
		if (!map[i].fails) {
			set(g, map[i].name, ac ? (json_int_t)ac->count[map[i].counter] : 0);
			continue;
		}
		snprintf(k, sizeof(k), "%s_count", map[i].name);
		set(g, k, ac ? (json_int_t)ac->count[map[i].counter] : 0);
		snprintf(k, sizeof(k), "%s_fails", map[i].name);
		set(g, k, ac ? (json_int_t)ac->fails[map[i].counter] : 0);
	}
}

json_t *fc_metrics_snapshot(const struct fc_metrics *m, const struct vm *vm,
			    const struct api_counters *ac)
{
	json_t *root = json_object(), *blk = json_object(), *net = json_object();
	json_t *vcpu = json_object(), *ent = json_object();
	json_int_t io_in = 0, io_out = 0, mr = 0, mw = 0, rd_n = 0, wr_n = 0, fl = 0, bad = 0;
	json_int_t rxp = 0, txp = 0, rxd = 0, txd = 0, rng = 0;
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	for (unsigned int i = 0; vm && vm->vcpus && i < vm->nvcpus; i++) {
		io_in += rd(&vm->vcpus[i].exit_io_in);
		io_out += rd(&vm->vcpus[i].exit_io_out);
		mr += rd(&vm->vcpus[i].exit_mmio_read);
		mw += rd(&vm->vcpus[i].exit_mmio_write);
	}
	for (unsigned int i = 0; vm && i < vm->nblks; i++) {
		rd_n += rd(&vm->blks[i].reads);
		wr_n += rd(&vm->blks[i].writes);
		fl += rd(&vm->blks[i].flushes);
		bad += rd(&vm->blks[i].errors);
	}
	for (unsigned int i = 0; vm && i < vm->nnets; i++) {
		rxp += rd(&vm->nets[i].rx_packets);
		txp += rd(&vm->nets[i].tx_packets);
		rxd += rd(&vm->nets[i].rx_dropped);
		txd += rd(&vm->nets[i].tx_dropped);
	}
	if (vm && vm->rng)
		rng = rd(&vm->rng->bytes);
	set(root, "utc_timestamp_ms", (json_int_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
	json_object_set_new(root, "api_server", json_pack("{s:I, s:I, s:I, s:I}",
		"process_startup_time_us", (json_int_t)m->start_us, "process_startup_time_cpu_us",
		(json_int_t)m->start_cpu_us, "sync_response_fails", (json_int_t)0,
		"sync_vmm_send_timeout_count", (json_int_t)0));
	api_groups(root, ac);
	set(blk, "read_count", rd_n);
	set(blk, "write_count", wr_n);
	set(blk, "flush_count", fl);
	set(blk, "invalid_reqs_count", bad);
	json_object_set_new(root, "block", blk);
	set(net, "rx_packets_count", rxp);
	set(net, "tx_packets_count", txp);
	set(net, "rx_fails", rxd);
	set(net, "tx_fails", txd);
	json_object_set_new(root, "net", net);
	set(vcpu, "exit_io_in", io_in);
	set(vcpu, "exit_io_out", io_out);
	set(vcpu, "exit_mmio_read", mr);
	set(vcpu, "exit_mmio_write", mw);
	set(vcpu, "failures", 0);
	json_object_set_new(root, "vcpu", vcpu);
	json_object_set_new(root, "vmm", json_pack("{s:i, s:i}", "device_events", 0,
						   "panic_count", 0));
	json_object_set_new(root, "logger", json_pack("{s:I, s:I, s:I, s:I}",
		"missed_metrics_count", (json_int_t)m->missed, "metrics_fails", (json_int_t)m->fails,
		"missed_log_count", (json_int_t)log_missed(), "log_fails", (json_int_t)0));
	json_object_set_new(root, "vsock", json_pack("{s:i, s:i, s:i, s:i}", "activate_fails", 0,
		"cfg_fails", 0, "rx_packets_count", 0, "tx_packets_count", 0));
	set(ent, "entropy_bytes", rng);
	json_object_set_new(root, "entropy", ent);
	return root;
}

/* now - prev, group by group, for every counter (values stay values). */
static void to_delta(json_t *now, json_t *prev, bool top)
{
	const char *k;
	json_t *v;

	json_object_foreach(now, k, v) {
		json_t *p = prev ? json_object_get(prev, k) : NULL;

		if (json_is_object(v)) {
			to_delta(v, p, false);
		} else if (json_is_integer(v) && json_is_integer(p) && !top &&
			   strncmp(k, "process_startup", 15)) {
			json_int_t d = json_integer_value(v) - json_integer_value(p);

			json_integer_set(v, d > 0 ? d : 0);
		}
	}
}

int fc_metrics_flush(struct fc_metrics *m, const struct vm *vm, const struct api_counters *ac)
{
	json_t *abs, *line;
	char *s;
	size_t n;
	int r = 0;

	if (m->fd < 0)
		return -ENOENT;
	abs = fc_metrics_snapshot(m, vm, ac);
	line = abs ? json_deep_copy(abs) : NULL;
	if (!line) {
		json_decref(abs);
		return err_set(-ENOMEM, "out of memory");
	}
	to_delta(line, m->prev, true);
	s = json_dumps(line, JSON_COMPACT);
	json_decref(line);
	if (!s) {
		json_decref(abs);
		return err_set(-ENOMEM, "out of memory");
	}
	n = strlen(s);
	s[n] = '\n';   /* json_dumps' NUL becomes the newline; write exactly n + 1 bytes */
	if (write(m->fd, s, n + 1) != (ssize_t)(n + 1)) {
		m->missed++;
		r = errno == EAGAIN ? 0 : err_set(-EIO, "metrics: write failed: %s", strerror(errno));
		if (r < 0)
			m->fails++;
	}
	free(s);
	json_decref(m->prev);
	m->prev = abs;
	m->next_ms = mono_ms() + FC_METRICS_PERIOD_MS;
	return r;
}

void fc_metrics_tick(struct fc_metrics *m, const struct vm *vm, const struct api_counters *ac)
{
	if (m->fd >= 0 && mono_ms() >= m->next_ms)
		(void)fc_metrics_flush(m, vm, ac);
}

void fc_metrics_close(struct fc_metrics *m)
{
	if (m->fd >= 0)
		close(m->fd);
	json_decref(m->prev);
	fc_metrics_init(m);
}
