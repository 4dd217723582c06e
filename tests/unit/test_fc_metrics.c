/* Firecracker-style metrics (src/vmm/fc_metrics.c): one JSON object per line with
 * Firecracker's groups, counters as deltas since the previous line, values as values;
 * -ENOENT when no file is configured; a FIFO nobody reads never blocks. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "vmm/fc_metrics.h"

/* Line n (0-based) of path, parsed. */
static json_t *line_of(const char *path, int n)
{
	char buf[8192];
	FILE *f = fopen(path, "r");
	json_t *j = NULL;

	if (!f)
		return NULL;
	for (int i = 0; i <= n && fgets(buf, sizeof(buf), f); i++)
		if (i == n)
			j = json_loads(buf, 0, NULL);
	fclose(f);
	return j;
}

static json_int_t get2(json_t *o, const char *g, const char *k)
{
	return json_integer_value(json_object_get(json_object_get(o, g), k));
}

TEST(lines_are_deltas_with_firecracker_groups)
{
	static const char *const groups[] = { "utc_timestamp_ms", "api_server", "get_api_requests",
		"put_api_requests", "patch_api_requests", "block", "net", "vcpu", "vmm", "logger",
		"vsock", "entropy" };
	struct fc_metrics m;
	struct api_counters ac;
	char path[64];
	json_t *l0, *l1;

	snprintf(path, sizeof(path), "/tmp/ember-metrics-unit-%d", (int)getpid());
	unlink(path);
	memset(&ac, 0, sizeof(ac));
	fc_metrics_init(&m);
	CHECK_EQ_INT(fc_metrics_flush(&m, NULL, &ac), -ENOENT);
	REQUIRE_EQ_INT(fc_metrics_open(&m, path), 0);
	m.start_us = 1234;
	ac.count[AC_PUT_DRIVE] = 3;
	ac.fails[AC_PUT_DRIVE] = 1;
	ac.count[AC_GET_INSTANCE_INFO] = 7;
	REQUIRE_EQ_INT(fc_metrics_flush(&m, NULL, &ac), 0);
	ac.count[AC_PUT_DRIVE] = 5;
	REQUIRE_EQ_INT(fc_metrics_flush(&m, NULL, &ac), 0);
	fc_metrics_close(&m);
	l0 = line_of(path, 0);
	l1 = line_of(path, 1);
	REQUIRE_NOT_NULL(l0);
	REQUIRE_NOT_NULL(l1);
	for (size_t i = 0; i < ARRAY_LEN(groups); i++)
		CHECK_NOT_NULL(json_object_get(l0, groups[i]));
	CHECK_EQ_INT(get2(l0, "put_api_requests", "drive_count"), 3);
	CHECK_EQ_INT(get2(l0, "put_api_requests", "drive_fails"), 1);
	CHECK_EQ_INT(get2(l0, "get_api_requests", "instance_info_count"), 7);
	CHECK_EQ_INT(get2(l1, "put_api_requests", "drive_count"), 2);
	CHECK_EQ_INT(get2(l1, "put_api_requests", "drive_fails"), 0);
	CHECK_EQ_INT(get2(l1, "get_api_requests", "instance_info_count"), 0);
	/* Values stay values. */
	CHECK_EQ_INT(get2(l1, "api_server", "process_startup_time_us"), 1234);
	CHECK(json_integer_value(json_object_get(l1, "utc_timestamp_ms")) > 1600000000000LL);
	json_decref(l0);
	json_decref(l1);
	unlink(path);
	CHECK_EQ_INT(fc_metrics_open(&m, "/nonexistent/dir/m"), -ENOENT);
	CHECK_EQ_INT(fc_metrics_open(&m, "/dev/null"), -EINVAL);
	CHECK_EQ_INT(m.fd, -1);
}

TEST(full_fifo_counts_missed_lines)
{
	struct fc_metrics m;
	char path[64];

	snprintf(path, sizeof(path), "/tmp/ember-metrics-fifo-%d", (int)getpid());
	unlink(path);
	REQUIRE(mkfifo(path, 0600) == 0);
	fc_metrics_init(&m);
	REQUIRE_EQ_INT(fc_metrics_open(&m, path), 0);
	/* About 1.5 KiB a line: a 64 KiB pipe fills within 100 lines. */
	for (int i = 0; i < 100; i++)
		CHECK_EQ_INT(fc_metrics_flush(&m, NULL, NULL), 0);
	CHECK(m.missed > 0);
	fc_metrics_close(&m);
	unlink(path);
}
