/* One VM: the KVM VM, guest memory, the buses and devices, the vCPU threads and the
 * main thread's event loop. vm_create() builds it (rolling back on failure), vm_run()
 * runs it until the guest stops or a signal arrives, vm_destroy() frees it. */
#ifndef EMBER_VMM_VM_H
#define EMBER_VMM_VM_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "arch/x86/acpi.h"
#include "devices/acpi_pm.h"
#include "devices/cmos.h"
#include "devices/i8042.h"
#include "devices/irq.h"
#include "devices/serial.h"
#include "devices/virtio/virtio_blk.h"
#include "devices/virtio/virtio_net.h"
#include "devices/virtio/virtio_rng.h"
#include "devices/virtio/virtio_vsock.h"
#include "kvm/kvm.h"
#include "mem/guest_mem.h"
#include "vmm/bus.h"
#include "vmm/console_out.h"

#define VM_MAX_DISKS 8
#define VM_MAX_NETS 8

struct vm_disk_config {
	const char *path;
	bool read_only;
};

struct vm_net_config {
	const char *tap;
	uint8_t mac[6];
	bool has_mac;
};

/* virtio-vsock (docs/vsock.md): guest CID and the host Unix socket; uds_path NULL: none. */
struct vm_vsock_config {
	uint64_t cid;
	const char *uds_path;
};

struct vm_config {
	const char *kernel;
	const char *initrd;       /* NULL: none */
	const char *cmdline;      /* as given by the user (or the default) */
	uint64_t mem_mib;
	unsigned int vcpus;
	const char *kvm_path;     /* "/dev/kvm" */
	int console_in;           /* fd feeding the UART, -1 for none */
	int console_out;          /* fd receiving guest serial output */
	struct vm_disk_config disks[VM_MAX_DISKS];
	unsigned int ndisks;
	struct vm_net_config nets[VM_MAX_NETS];
	unsigned int nnets;
	bool rng;
	struct vm_vsock_config vsock;
	const uint64_t *cpu_masks; /* NULL, or one host CPU mask per vCPU (thread affinity) */
	const char *console_sock; /* NULL: no console socket (ember console attaches here) */
	/* The API server, opened before the VM by its owner (vmm/session.c) on the epoll set
	 * api_epfd: vm_run serves it on that set and leaves it open. NULL: no API. */
	struct api_server *api;
	int api_epfd;
	/* Called on the main thread every HALT_PROBE_MS while the VM runs (metrics). */
	void (*tick)(void *ctx);
	void *tick_ctx;
	bool fc_thread_names;     /* vCPU threads are "fc_vcpu N" (Firecracker's names) */
};

enum vm_stop_reason {
	VM_RUNNING = 0,
	VM_STOP_RESET,      /* the guest rebooted (i8042, triple fault, system event) */
	VM_STOP_POWEROFF,   /* KVM system event: shutdown */
	VM_STOP_HALT,       /* every vCPU halted with interrupts off */
	VM_STOP_SIGNAL,     /* SIGINT / SIGTERM on the host */
	VM_STOP_ERROR,      /* something failed; stop_msg says what */
};

struct vm;

struct vcpu {
	struct vm *vm;
	unsigned int id;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	int thread_started;
	unsigned int probe_seen;   /* last halt-probe generation answered */
	uint64_t exits;
	/* Exit counters for the metrics (written by the vCPU thread, read relaxed). */
	uint64_t exit_io_in, exit_io_out, exit_mmio_read, exit_mmio_write;
};

struct vm {
	struct vm_config cfg;
	struct kvm kvm;
	struct guest_mem mem;
	struct bus pio, mmio;
	struct irq_line irq_serial, irq_kbd;
	struct serial serial;
	struct i8042 i8042;
	struct cmos cmos;
	struct acpi_pm acpi_pm;
	/* virtio-mmio devices, in the order the guest sees them: disks, NICs, entropy. */
	struct virtio_blk *blks;
	unsigned int nblks;
	struct virtio_net *nets;
	unsigned int nnets;
	struct virtio_rng *rng;
	struct virtio_vsock *vsock;
	unsigned int nvirtio;      /* windows and GSIs handed out so far */
	struct acpi_virtio virtio_windows[ACPI_MAX_VIRTIO]; /* what the DSDT describes */
	char *cmdline;             /* the final kernel command line */
	/* An attached console client (or -1): gets the serial output too, and its input goes
	 * to the UART. The lock orders its use by vCPU threads against the main thread's
	 * close. */
	pthread_mutex_t console_lock;
	int console_client;
	struct console_out console_out;  /* the serial output to cfg.console_out */
	struct vcpu *vcpus;
	unsigned int nvcpus;
	uint64_t entry;

	int exit_efd;              /* written when the VM must stop */
	int wake_efd;              /* main-thread wake-up: UART FIFO drained, halt probe answered */
	int stopping;              /* vCPU threads leave their loop */
	int stop_reason;           /* enum vm_stop_reason; first writer wins */
	char stop_msg[256];

	/* Halt detection: the main thread bumps probe_gen and kicks every vCPU; each
	 * answers once per generation. */
	unsigned int probe_gen;
	unsigned int probe_acks;
	unsigned int probe_halted;
	unsigned int probe_all_halted_rounds;

	/* Pause: vCPUs park outside KVM_RUN until resumed (vm_pause / vm_resume). */
	pthread_mutex_t park_lock;
	pthread_cond_t park_cond;
	int pause_requested;
	unsigned int parked;
	unsigned int vcpus_left;   /* vCPU threads that left their loop (a stop): never park */
};

int vm_create(struct vm *vm, const struct vm_config *cfg);
/* Returns the process exit status (0 for a guest that powered off, halted or rebooted,
 * or a clean signal stop) or a negative errno with err_msg set. */
int vm_run(struct vm *vm);
void vm_destroy(struct vm *vm);

/* Asks the VM to stop; the first reason recorded wins. Safe from any thread. */
void vm_request_stop(struct vm *vm, enum vm_stop_reason reason, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Parks every vCPU outside KVM_RUN and returns once all are parked, or once a stop (the
 * guest's reset or power-off, a host signal) makes the vCPUs leave instead: the wait never
 * outlives the VM. The guest's state stays in KVM. vm_resume() lets them continue where
 * they stopped. Main thread only. */
void vm_pause(struct vm *vm);
void vm_resume(struct vm *vm);

/* vCPU threads (vmm/vcpu.c). */
int vcpu_start_all(struct vm *vm);
void vcpu_kick_all(struct vm *vm);
/* Called by a vCPU thread as it leaves its loop (exposed for tests). */
void vcpu_left(struct vm *vm);
void vcpu_join_all(struct vm *vm);

#endif
