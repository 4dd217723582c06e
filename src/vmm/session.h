/* One `ember run` (or `firecracker`) process: the VM description (Firecracker's schema,
 * from the command line, a TOML VM file, a --config-file or the pre-boot API), the API
 * server, the logger and the metrics, and the VM once it is started. The API server is
 * opened first and outlives the pre-boot phase: after InstanceStart vm_run serves the
 * same socket. */
#ifndef EMBER_VMM_SESSION_H
#define EMBER_VMM_SESSION_H

#include "cli/run_args.h"

/* Runs until the VM ends (or, before boot, until SIGINT/SIGTERM). Returns the process's
 * exit status or -errno with err_msg set. */
int session_run(const struct run_args *a);

#endif
