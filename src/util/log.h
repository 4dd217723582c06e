/* Leveled logging. Messages go to stderr as "ember: <level>: text" (up to log_threshold)
 * and, once a log file is open (--log-path, PUT /logger), to that file or FIFO in
 * Firecracker's line format:
 *
 *   2026-11-22T03:07:07.123456789 [instance_id:thread_name:LEVEL:file:line] text
 *
 * where ":LEVEL" appears with show_level and ":file:line" with show_origin. The file is
 * written without blocking: a full FIFO drops the line (counted in log_missed()). */
#ifndef EMBER_UTIL_LOG_H
#define EMBER_UTIL_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3, LOG_TRACE = 4 };

extern enum log_level log_threshold;   /* stderr */
extern int log_file_level;             /* the log file's, -1 when there is none or Off */

/* Parses "error", "warn", "info" or "debug"; returns -EINVAL otherwise. */
int log_parse_level(const char *s, enum log_level *out);
void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_msg_at(enum log_level lvl, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Opens path (a file, created if missing, or a FIFO) with O_NONBLOCK|O_APPEND for the
 * Firecracker-format log; level -1 is Off. Replaces an open one. -errno with err_msg. */
int log_file_open(const char *path, int level, bool show_level, bool show_origin,
		  const char *instance_id);
void log_file_close(void);
/* Lines the log file could not take (a full FIFO, an error). */
uint64_t log_missed(void);
/* Formats one Firecracker-style line (no trailing newline) into out; for tests. */
void log_format_fc(char *out, size_t cap, const char *instance_id, const char *thread,
		   enum log_level lvl, bool show_level, const char *file, int line,
		   const char *msg);

/* Rate limiting for lines a guest (or any untrusted peer) can trigger at will: a guest
 * that resets a device with a bad ring in a loop must not flood stderr or the log file.
 * Each call site of log_warn_guest() has its own budget: LOG_RL_BURST lines per
 * LOG_RL_WINDOW_MS, then silence until the window ends; the first line after that says
 * how many were suppressed. */
#define LOG_RL_BURST 10
#define LOG_RL_WINDOW_MS 5000
struct log_ratelimit {
	uint64_t window_start_ms;
	unsigned int in_window;
	unsigned long suppressed;
};
/* true: print this line; *suppressed_before is the count dropped since the last printed
 * one (then reset). Thread-safe. The _at variant takes the time, for tests. */
bool log_ratelimit_allow(struct log_ratelimit *rl, unsigned long *suppressed_before);
bool log_ratelimit_allow_at(struct log_ratelimit *rl, uint64_t now_ms,
			    unsigned long *suppressed_before);
#define log_warn_guest(...)                                                               \
	do {                                                                              \
		static struct log_ratelimit log_rl_;                                      \
		unsigned long log_supp_;                                                  \
		if (log_ratelimit_allow(&log_rl_, &log_supp_)) {                          \
			if (log_supp_)                                                    \
				log_msg_at(LOG_WARN, __FILE__, __LINE__,                  \
					   "(%lu similar lines suppressed)", log_supp_);  \
			log_msg_at(LOG_WARN, __FILE__, __LINE__, __VA_ARGS__);            \
		}                                                                         \
	} while (0)

#define log_enabled(l) (log_threshold >= (l) || log_file_level >= (int)(l))
#define log_error(...) log_msg_at(LOG_ERROR, __FILE__, __LINE__, __VA_ARGS__)
#define log_warn(...)  log_msg_at(LOG_WARN, __FILE__, __LINE__, __VA_ARGS__)
#define log_info(...)  do { if (log_enabled(LOG_INFO)) log_msg_at(LOG_INFO, __FILE__, __LINE__, __VA_ARGS__); } while (0)
#define log_debug(...) do { if (log_enabled(LOG_DEBUG)) log_msg_at(LOG_DEBUG, __FILE__, __LINE__, __VA_ARGS__); } while (0)

#endif
