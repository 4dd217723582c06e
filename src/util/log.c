#include "util/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "util/err.h"

enum log_level log_threshold = LOG_WARN;
int log_file_level = -1;

static int file_fd = -1;
static bool file_show_level, file_show_origin;
static char file_instance[72] = "anonymous-instance";
static uint64_t file_missed;

static const char *const level_names[] = {
	[LOG_ERROR] = "error", [LOG_WARN] = "warn", [LOG_INFO] = "info", [LOG_DEBUG] = "debug",
	[LOG_TRACE] = "trace",
};
static const char *const fc_level_names[] = {
	[LOG_ERROR] = "ERROR", [LOG_WARN] = "WARN", [LOG_INFO] = "INFO", [LOG_DEBUG] = "DEBUG",
	[LOG_TRACE] = "TRACE",
};

static pthread_mutex_t ratelimit_lock = PTHREAD_MUTEX_INITIALIZER;

bool log_ratelimit_allow_at(struct log_ratelimit *rl, uint64_t now_ms,
			    unsigned long *suppressed_before)
{
	bool allow;

	pthread_mutex_lock(&ratelimit_lock);
	*suppressed_before = 0;
	if (rl->in_window == 0 || now_ms - rl->window_start_ms >= LOG_RL_WINDOW_MS) {
		rl->window_start_ms = now_ms;
		rl->in_window = 0;
	}
	allow = rl->in_window < LOG_RL_BURST;
	if (allow) {
		rl->in_window++;
		*suppressed_before = rl->suppressed;
		rl->suppressed = 0;
	} else {
		rl->suppressed++;
	}
	pthread_mutex_unlock(&ratelimit_lock);
	return allow;
}

bool log_ratelimit_allow(struct log_ratelimit *rl, unsigned long *suppressed_before)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return log_ratelimit_allow_at(rl, (uint64_t)ts.tv_sec * 1000 +
					  (uint64_t)ts.tv_nsec / 1000000, suppressed_before);
}

int log_parse_level(const char *s, enum log_level *out)
{
	for (unsigned i = 0; i < LOG_TRACE; i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

int log_file_open(const char *path, int level, bool show_level, bool show_origin,
		  const char *instance_id)
{
	/* O_RDWR: opening a FIFO nobody reads yet neither blocks nor fails (ENXIO). */
	struct stat st;
	int fd;

	/* Never open a device or anything else that opening could disturb (a watchdog, a
	 * tape): only a regular file, a FIFO, or a new file. */
	if (stat(path, &st) == 0 && !(S_ISREG(st.st_mode) || S_ISFIFO(st.st_mode)))
		return err_set(-EINVAL, "log file %s: not a regular file or a FIFO", path);
	fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, 0600);
	if (fd < 0)
		return err_set(-errno, "log file %s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || !(S_ISREG(st.st_mode) || S_ISFIFO(st.st_mode))) {
		close(fd);
		return err_set(-EINVAL, "log file %s: not a regular file or a FIFO", path);
	}
	log_file_close();
	snprintf(file_instance, sizeof(file_instance), "%s",
		 instance_id ? instance_id : "anonymous-instance");
	file_show_level = show_level;
	file_show_origin = show_origin;
	file_fd = fd;
	__atomic_store_n(&log_file_level, level, __ATOMIC_RELEASE);
	return 0;
}

void log_file_close(void)
{
	__atomic_store_n(&log_file_level, -1, __ATOMIC_RELEASE);
	if (file_fd >= 0)
		close(file_fd);
	file_fd = -1;
}

uint64_t log_missed(void)
{
	return __atomic_load_n(&file_missed, __ATOMIC_RELAXED);
}

void log_format_fc(char *out, size_t cap, const char *instance_id, const char *thread,
		   enum log_level lvl, bool show_level, const char *file, int line,
		   const char *msg)
{
	struct timespec ts;
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	n = strftime(out, cap, "%Y-%m-%dT%H:%M:%S", &tm);
	n += (size_t)snprintf(out + n, cap - n, ".%09ld [%s:%s", ts.tv_nsec, instance_id, thread);
	if (n < cap && show_level)
		n += (size_t)snprintf(out + n, cap - n, ":%s", fc_level_names[lvl]);
	if (n < cap && file)
		n += (size_t)snprintf(out + n, cap - n, ":%s:%d", file, line);
	if (n < cap)
		snprintf(out + n, cap - n, "] %s", msg);
}

static void file_write(enum log_level lvl, const char *file, int line, const char *msg)
{
	char out[1400], thread[16] = "main";
	size_t n;

	if ((pid_t)syscall(SYS_gettid) != getpid())
		pthread_getname_np(pthread_self(), thread, sizeof(thread));
	log_format_fc(out, sizeof(out) - 1, file_instance, thread, lvl, file_show_level,
		      file_show_origin ? file : NULL, line, msg);
	n = strlen(out);
	out[n++] = '\n';
	/* One write per line (atomic on a FIFO up to PIPE_BUF); never wait. */
	if (write(file_fd, out, n) != (ssize_t)n)
		__atomic_add_fetch(&file_missed, 1, __ATOMIC_RELAXED);
}

static void log_vmsg(enum log_level lvl, const char *file, int line, const char *fmt,
		     va_list ap)
{
	char msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	/* One fprintf per line so lines from several threads do not interleave. */
	if (lvl <= log_threshold)
		fprintf(stderr, "ember: %s: %s\n", level_names[lvl], msg);
	if ((int)lvl <= __atomic_load_n(&log_file_level, __ATOMIC_ACQUIRE) && file_fd >= 0)
		file_write(lvl, file, line, msg);
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	va_list ap;

	if (!log_enabled(lvl))
		return;
	va_start(ap, fmt);
	log_vmsg(lvl, NULL, 0, fmt, ap);
	va_end(ap);
}

void log_msg_at(enum log_level lvl, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	if (!log_enabled(lvl))
		return;
	va_start(ap, fmt);
	log_vmsg(lvl, file, line, fmt, ap);
	va_end(ap);
}
