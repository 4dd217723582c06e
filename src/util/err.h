/* Error reporting: library functions return -errno and leave one human line here.
 * Only main() prints it (once) and exits. The buffer is per thread. */
#ifndef EMBER_UTIL_ERR_H
#define EMBER_UTIL_ERR_H

/* Record a message and return code (a negative errno). Formats like printf. */
int err_set(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The last message recorded on this thread, or "" if none. */
const char *err_msg(void);
void err_clear(void);

#endif
