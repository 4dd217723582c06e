/* Fleets: `ember up FILE...` supervises one VM process per TOML file (AxVisor's model on
 * a Linux host: a VM list, per-VM lifecycle states, a running-VM count, a coordinated
 * shutdown), and the commands that act on a running fleet from another shell through
 * each VM's API socket. See docs/fleet.md. */
#ifndef EMBER_FLEET_FLEET_H
#define EMBER_FLEET_FLEET_H

#include <stddef.h>

/* Each returns the process exit status, or a negative errno with err_msg set. */
int fleet_up(int argc, char **argv);
int fleet_list(int argc, char **argv);
int fleet_status(int argc, char **argv);
int fleet_stop(int argc, char **argv);
int fleet_pause(int argc, char **argv);
int fleet_resume(int argc, char **argv);
int fleet_console(int argc, char **argv);

/* The directory holding the fleet's sockets, pid files and logs:
 * $EMBER_RUN_DIR, else $XDG_RUNTIME_DIR/ember, else /tmp/ember-<uid>. */
const char *fleet_run_dir(void);

/* RUN_DIR/NAME.EXT: a VM's socket ("sock"), console ("console"), log or pid file. */
void fleet_vm_path(char *out, size_t size, const char *name, const char *ext);

#endif
