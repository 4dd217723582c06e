/* Firecracker-style metrics: one JSON object per line, written to a file or FIFO opened
 * O_NONBLOCK|O_APPEND (a full FIFO drops the line and counts it), with Firecracker's
 * group names. Counters are deltas since the previous line, as in Firecracker; the
 * timestamp and start-up times are values. See docs/firecracker-compat.md for which
 * counters Ember tracks (the others are reported as 0). */
#ifndef EMBER_VMM_FC_METRICS_H
#define EMBER_VMM_FC_METRICS_H

#include <jansson.h>
#include <stdint.h>

#include "api/api_routes.h"
#include "vmm/vm.h"

#define FC_METRICS_PERIOD_MS 60000

struct fc_metrics {
	int fd;                  /* -1: not configured */
	json_t *prev;            /* the previous absolute snapshot (for deltas) */
	uint64_t start_us, start_cpu_us;   /* process start-up times, if known */
	uint64_t missed, fails;
	uint64_t next_ms;        /* CLOCK_MONOTONIC ms of the next periodic write */
};

void fc_metrics_init(struct fc_metrics *m);
/* Opens path (created if missing; a FIFO works with no reader yet). -errno + err_msg. */
int fc_metrics_open(struct fc_metrics *m, const char *path);
/* The absolute counters now (vm NULL before boot). New reference. */
json_t *fc_metrics_snapshot(const struct fc_metrics *m, const struct vm *vm,
			    const struct api_counters *ac);
/* Writes one line (deltas since the previous one). -ENOENT when not configured. */
int fc_metrics_flush(struct fc_metrics *m, const struct vm *vm, const struct api_counters *ac);
/* Writes a line when the period has passed. */
void fc_metrics_tick(struct fc_metrics *m, const struct vm *vm, const struct api_counters *ac);
void fc_metrics_close(struct fc_metrics *m);

#endif
