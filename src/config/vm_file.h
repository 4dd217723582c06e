/* VM files: one TOML file per VM, with AxVisor's section and key names where they fit.
 *
 *   [base]
 *   id = 1                      # integer, unique in a fleet
 *   name = "router"
 *   cpu_num = 2
 *   phys_cpu_sets = [1, 2]      # optional: one host CPU mask per vCPU (thread affinity)
 *
 *   [kernel]
 *   kernel_path = "vmlinuz"     # relative paths are relative to the VM file
 *   ramdisk_path = "initrd.img" # optional
 *   cmdline = "console=ttyS0 reboot=k panic=1"   # optional
 *   memory_mib = 256            # or memory_regions = [[0x0, 0x10000000, 0x7, 0]]
 *
 *   [devices]
 *   disks = ["rootfs.ext4", "data.img,ro"]        # as --disk
 *   nets = ["tap=tap0,mac=06:00:ac:10:00:02"]      # as --net
 *   rng = true                                     # as --rng
 *   vsock = { cid = 3, uds_path = "vm.vsock" }     # as --vsock cid=3,uds=vm.vsock
 *
 * Unknown sections or keys and wrong types are errors naming file, line and column. */
#ifndef EMBER_CONFIG_VM_FILE_H
#define EMBER_CONFIG_VM_FILE_H

#include <stdbool.h>
#include <stdint.h>

#include "vmm/vm.h"

#define VM_FILE_MAX_VCPUS 254

struct vm_file {
	int64_t id;
	char *name;
	unsigned int cpu_num;
	uint64_t cpu_masks[VM_FILE_MAX_VCPUS];   /* 0: no affinity */
	bool has_cpu_masks;
	char *kernel_path, *ramdisk_path, *cmdline;
	uint64_t memory_mib;
	struct vm_disk_config disks[VM_MAX_DISKS];
	unsigned int ndisks;
	struct vm_net_config nets[VM_MAX_NETS];
	unsigned int nnets;
	bool rng;
	struct vm_vsock_config vsock;   /* uds_path NULL: none */
	/* owned strings behind disks[].path, nets[].tap and vsock.uds_path */
	char *strings[VM_MAX_DISKS + VM_MAX_NETS + 1];
	unsigned int nstrings;
};

/* Reads and validates path. Returns 0 or -errno with err_msg "path:line:col: what". */
int vm_file_load(struct vm_file *f, const char *path);
/* Same from text in memory (tests, fuzzing); dir resolves relative paths (may be NULL). */
int vm_file_parse(struct vm_file *f, const char *text, size_t len, const char *name,
		  const char *dir);
void vm_file_free(struct vm_file *f);

#endif
