/* The Firecracker-format log file (src/util/log.c): the line format with and without
 * level and origin, levels filtering, and a FIFO nobody reads: writing never blocks, the
 * lines that do not fit are dropped and counted. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "util/err.h"
#include "util/log.h"

/* "YYYY-MM-DDTHH:MM:SS.nnnnnnnnn " then the rest. */
static int has_timestamp(const char *s)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:dd.ddddddddd ";

	for (size_t i = 0; i < sizeof(shape) - 1; i++) {
		if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != shape[i])
			return 0;
	}
	return 1;
}

TEST(line_format_variants)
{
	char line[512];

	log_format_fc(line, sizeof(line), "vm1", "fc_vcpu 0", LOG_WARN, false, NULL, 0, "hello");
	CHECK(has_timestamp(line));
	CHECK_STR_EQ(line + 30, "[vm1:fc_vcpu 0] hello");
	log_format_fc(line, sizeof(line), "vm1", "main", LOG_INFO, true, NULL, 0, "x");
	CHECK_STR_EQ(line + 30, "[vm1:main:INFO] x");
	log_format_fc(line, sizeof(line), "vm1", "main", LOG_ERROR, true, "src/a.c", 12, "y");
	CHECK_STR_EQ(line + 30, "[vm1:main:ERROR:src/a.c:12] y");
	log_format_fc(line, sizeof(line), "vm1", "main", LOG_DEBUG, false, "src/a.c", 7, "z");
	CHECK_STR_EQ(line + 30, "[vm1:main:src/a.c:7] z");
	/* Truncation stays within the buffer and NUL-terminated. */
	log_format_fc(line, 40, "vm1", "main", LOG_DEBUG, true, "src/a.c", 7, "long message");
	CHECK_EQ_U64(strlen(line), 39);
}

TEST(file_gets_levels_up_to_its_own)
{
	char path[64], buf[4096];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/tmp/ember-log-unit-%d", (int)getpid());
	unlink(path);
	REQUIRE_EQ_INT(log_file_open(path, LOG_INFO, true, false, "t1"), 0);
	log_info("info %d", 1);
	log_debug("debug %d", 2);
	log_msg(LOG_TRACE, "trace");
	log_file_close();
	log_info("after close");
	f = fopen(path, "r");
	REQUIRE_NOT_NULL(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	CHECK_STR_CONTAINS(buf, "[t1:main:INFO] info 1\n");
	CHECK(!strstr(buf, "debug"));
	CHECK(!strstr(buf, "trace"));
	CHECK(!strstr(buf, "after close"));
	unlink(path);
	CHECK_EQ_INT(log_file_open("/nonexistent/dir/log", LOG_INFO, false, false, NULL), -ENOENT);
	/* Devices and directories are refused without being opened. */
	CHECK_EQ_INT(log_file_open("/dev/null", LOG_INFO, false, false, NULL), -EINVAL);
	CHECK_STR_CONTAINS(err_msg(), "not a regular file or a FIFO");
	CHECK_EQ_INT(log_file_open("/tmp", LOG_INFO, false, false, NULL), -EINVAL);
}

TEST(full_fifo_drops_and_never_blocks)
{
	char path[64];
	uint64_t before;

	snprintf(path, sizeof(path), "/tmp/ember-log-fifo-%d", (int)getpid());
	unlink(path);
	REQUIRE(mkfifo(path, 0600) == 0);
	REQUIRE_EQ_INT(log_file_open(path, LOG_INFO, false, false, NULL), 0);
	before = log_missed();
	/* A pipe holds 64 KiB by default: 2000 lines of ~100 bytes overflow it. */
	for (int i = 0; i < 2000; i++)
		log_info("line %d ..............................................................", i);
	CHECK(log_missed() > before);
	log_file_close();
	unlink(path);
}

/* The per-call-site budget of log_warn_guest: LOG_RL_BURST lines per window, then
 * silence; the first line of a later window reports how many were dropped. */
TEST(ratelimit_burst_window_and_suppressed_count)
{
	struct log_ratelimit rl = { 0 };
	unsigned long supp = 99;
	int allowed = 0;

	for (int i = 0; i < 100; i++)
		allowed += log_ratelimit_allow_at(&rl, 1000 + (uint64_t)i, &supp);
	CHECK_EQ_INT(allowed, LOG_RL_BURST);
	CHECK_EQ_U64(rl.suppressed, 100 - LOG_RL_BURST);
	/* Still inside the window: nothing. */
	CHECK(!log_ratelimit_allow_at(&rl, 1000 + LOG_RL_WINDOW_MS - 1, &supp));
	/* A new window: allowed, with the count of what was dropped before it. */
	CHECK(log_ratelimit_allow_at(&rl, 1000 + LOG_RL_WINDOW_MS, &supp));
	CHECK_EQ_U64(supp, 100 - LOG_RL_BURST + 1);
	CHECK(log_ratelimit_allow_at(&rl, 1000 + LOG_RL_WINDOW_MS + 1, &supp));
	CHECK_EQ_U64(supp, 0);
	/* A clock far ahead (or a first use at time 0) never wraps into silence. */
	struct log_ratelimit fresh = { 0 };
	CHECK(log_ratelimit_allow_at(&fresh, 0, &supp));
	CHECK(log_ratelimit_allow_at(&fresh, UINT64_MAX, &supp));
}
