/* VM files (src/config/vm_file.c): the schema in vm_file.h on TOML text, every value and
 * default, and every error as "file:line:col: key.path: what", the place being where the
 * offending key (or, for an array element, the element) is written. Lines and columns
 * are 1-based, as TOML parsers and compilers print them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "config/vm_file.h"
#include "util/err.h"

#define KERNEL "[kernel]\nkernel_path = \"/boot/vmlinuz\"\n"

static int parse_dir(struct vm_file *f, const char *text, const char *dir)
{
	err_clear();
	return vm_file_parse(f, text, strlen(text), "t.toml", dir);
}

static int parse(struct vm_file *f, const char *text)
{
	return parse_dir(f, text, NULL);
}

/* The text is rejected with -EINVAL and a message starting with prefix and containing
 * what; the struct is left empty. */
#define CHECK_ERR(text, prefix, what) check_err(__LINE__, (text), (prefix), (what))

static void check_err(int line, const char *text, const char *prefix, const char *what)
{
	struct vm_file f;
	int r = parse(&f, text);
	const char *m = err_msg();

	if (r != -EINVAL) {
		FAIL("line %d: vm_file_parse returned %d, want -EINVAL (%s)", line, r, m);
		if (r == 0)
			vm_file_free(&f);
		return;
	}
	if (strncmp(m, prefix, strlen(prefix)) != 0)
		FAIL("line %d: message \"%s\" does not start with \"%s\"", line, m, prefix);
	else if (what && !strstr(m, what))
		FAIL("line %d: message \"%s\" lacks \"%s\"", line, m, what);
	else
		CHECK(1);
	/* Freed and cleared on failure: nothing left to free or use. */
	CHECK_NULL(f.name);
	CHECK_NULL(f.kernel_path);
	CHECK_EQ_U64(f.nstrings, 0);
	/* Exactly one line. */
	CHECK(!strchr(m, '\n'));
}

/* ---- valid files ---- */

static const char full_example[] =
	"# a router VM\n"
	"[base]\n"
	"id = 7\n"
	"name = \"router-1.a_b\"\n"
	"cpu_num = 2\n"
	"phys_cpu_sets = [1, 0x6]\n"
	"\n"
	"[kernel]\n"
	"kernel_path = \"vmlinuz\"\n"
	"ramdisk_path = \"/abs/initrd.img\"\n"
	"cmdline = \"console=ttyS0 reboot=k panic=1\"\n"
	"memory_mib = 256\n"
	"\n"
	"[devices]\n"
	"disks = [\"rootfs.ext4\", \"/data/data.img,ro\", \"scratch.img,rw\"]\n"
	"nets = [\"tap=tap0,mac=06:00:ac:10:00:02\", \"tap=tap1\"]\n"
	"rng = true\n";

TEST(full_example)
{
	struct vm_file f;
	static const uint8_t mac[6] = { 0x06, 0x00, 0xac, 0x10, 0x00, 0x02 };

	REQUIRE_EQ_INT(parse_dir(&f, full_example, "/etc/ember"), 0);
	CHECK_EQ_INT(f.id, 7);
	CHECK_STR_EQ(f.name, "router-1.a_b");
	CHECK_EQ_U64(f.cpu_num, 2);
	CHECK(f.has_cpu_masks);
	CHECK_EQ_U64(f.cpu_masks[0], 1);
	CHECK_EQ_U64(f.cpu_masks[1], 6);
	CHECK_EQ_U64(f.cpu_masks[2], 0);
	CHECK_STR_EQ(f.kernel_path, "/etc/ember/vmlinuz");
	CHECK_STR_EQ(f.ramdisk_path, "/abs/initrd.img");
	CHECK_STR_EQ(f.cmdline, "console=ttyS0 reboot=k panic=1");
	CHECK_EQ_U64(f.memory_mib, 256);
	REQUIRE_EQ_U64(f.ndisks, 3);
	CHECK_STR_EQ(f.disks[0].path, "/etc/ember/rootfs.ext4");
	CHECK(!f.disks[0].read_only);
	CHECK_STR_EQ(f.disks[1].path, "/data/data.img");
	CHECK(f.disks[1].read_only);
	CHECK_STR_EQ(f.disks[2].path, "/etc/ember/scratch.img");
	CHECK(!f.disks[2].read_only);
	REQUIRE_EQ_U64(f.nnets, 2);
	CHECK_STR_EQ(f.nets[0].tap, "tap0");
	CHECK(f.nets[0].has_mac);
	CHECK_MEM_EQ(f.nets[0].mac, mac, 6);
	CHECK_STR_EQ(f.nets[1].tap, "tap1");
	CHECK(!f.nets[1].has_mac);
	CHECK(f.rng);
	vm_file_free(&f);
	CHECK_NULL(f.name);
}

TEST(defaults)
{
	struct vm_file f;

	REQUIRE_EQ_INT(parse(&f, KERNEL), 0);
	CHECK_EQ_INT(f.id, 0);
	CHECK_NULL(f.name);
	CHECK_EQ_U64(f.cpu_num, 1);
	CHECK(!f.has_cpu_masks);
	CHECK_EQ_U64(f.cpu_masks[0], 0);
	CHECK_STR_EQ(f.kernel_path, "/boot/vmlinuz");
	CHECK_NULL(f.ramdisk_path);
	CHECK_NULL(f.cmdline);
	CHECK_EQ_U64(f.memory_mib, 128);
	CHECK_EQ_U64(f.ndisks, 0);
	CHECK_EQ_U64(f.nnets, 0);
	CHECK(!f.rng);
	vm_file_free(&f);
}

TEST(empty_sections_and_inline_tables)
{
	struct vm_file f;

	REQUIRE_EQ_INT(parse(&f, "[base]\n[devices]\n" KERNEL), 0);
	CHECK_EQ_U64(f.cpu_num, 1);
	vm_file_free(&f);
	/* The same schema written with inline tables and dotted keys. */
	REQUIRE_EQ_INT(parse(&f, "base = { name = \"x\", cpu_num = 3 }\n"
				 "kernel.kernel_path = \"/k\"\nkernel.memory_mib = 64\n"), 0);
	CHECK_STR_EQ(f.name, "x");
	CHECK_EQ_U64(f.cpu_num, 3);
	CHECK_STR_EQ(f.kernel_path, "/k");
	CHECK_EQ_U64(f.memory_mib, 64);
	vm_file_free(&f);
}

TEST(cpu_num_bounds_accepted)
{
	struct vm_file f;

	REQUIRE_EQ_INT(parse(&f, "[base]\ncpu_num = 1\n" KERNEL), 0);
	CHECK_EQ_U64(f.cpu_num, 1);
	vm_file_free(&f);
	REQUIRE_EQ_INT(parse(&f, "[base]\ncpu_num = 254\n" KERNEL), 0);
	CHECK_EQ_U64(f.cpu_num, 254);
	vm_file_free(&f);
}

TEST(phys_cpu_sets_before_cpu_num_in_the_file)
{
	struct vm_file f;

	/* Document order does not matter: the count is checked against cpu_num. */
	REQUIRE_EQ_INT(parse(&f, "[base]\nphys_cpu_sets = [2, 4, 8]\ncpu_num = 3\n" KERNEL), 0);
	CHECK_EQ_U64(f.cpu_masks[2], 8);
	vm_file_free(&f);
}

TEST(memory_regions_forms)
{
	struct vm_file f;

	/* AxVisor's four-element form. */
	REQUIRE_EQ_INT(parse(&f, KERNEL "memory_regions = [[0x0, 0x1000_0000, 0x7, 0]]\n"), 0);
	CHECK_EQ_U64(f.memory_mib, 256);
	vm_file_free(&f);
	/* Base and size only; decimal. */
	REQUIRE_EQ_INT(parse(&f, KERNEL "memory_regions = [[0, 67108864]]\n"), 0);
	CHECK_EQ_U64(f.memory_mib, 64);
	vm_file_free(&f);
	/* Three elements; the smallest size, 2 MiB. */
	REQUIRE_EQ_INT(parse(&f, KERNEL "memory_regions = [[0, 0x200000, 7]]\n"), 0);
	CHECK_EQ_U64(f.memory_mib, 2);
	vm_file_free(&f);
}

TEST(memory_mib_bounds)
{
	struct vm_file f;

	REQUIRE_EQ_INT(parse(&f, KERNEL "memory_mib = 2\n"), 0);
	CHECK_EQ_U64(f.memory_mib, 2);
	vm_file_free(&f);
	CHECK_ERR(KERNEL "memory_mib = 1\n", "t.toml:3:1: kernel.memory_mib: ", "out of range");
	CHECK_ERR(KERNEL "memory_mib = 0\n", "t.toml:3:1: kernel.memory_mib: ", "out of range");
	CHECK_ERR(KERNEL "memory_mib = -128\n", "t.toml:3:1: kernel.memory_mib: ", "out of range");
}

TEST(relative_paths_resolved_against_dir)
{
	struct vm_file f;
	const char *text = "[kernel]\nkernel_path = \"k/vmlinux\"\nramdisk_path = \"../i.img\"\n"
			   "[devices]\ndisks = [\"d.img,ro\", \"/abs.img\"]\n";

	REQUIRE_EQ_INT(parse_dir(&f, text, "/srv/vms"), 0);
	CHECK_STR_EQ(f.kernel_path, "/srv/vms/k/vmlinux");
	CHECK_STR_EQ(f.ramdisk_path, "/srv/vms/../i.img");
	CHECK_STR_EQ(f.disks[0].path, "/srv/vms/d.img");
	CHECK(f.disks[0].read_only);
	CHECK_STR_EQ(f.disks[1].path, "/abs.img");
	vm_file_free(&f);
	/* Without a directory, relative paths stay as written. */
	REQUIRE_EQ_INT(parse_dir(&f, text, NULL), 0);
	CHECK_STR_EQ(f.kernel_path, "k/vmlinux");
	CHECK_STR_EQ(f.disks[0].path, "d.img");
	vm_file_free(&f);
	/* The directory of a file in the current directory. */
	REQUIRE_EQ_INT(parse_dir(&f, text, "."), 0);
	CHECK_STR_EQ(f.kernel_path, "./k/vmlinux");
	vm_file_free(&f);
}

TEST(disk_suffixes)
{
	struct vm_file f;

	REQUIRE_EQ_INT(parse(&f, KERNEL "[devices]\ndisks = [\"/a.img,ro\", \"/b.img,rw\", "
				 "\"/c,d.img\", \"/e.img,RO\", \"/f.img,ro,ro\"]\n"), 0);
	REQUIRE_EQ_U64(f.ndisks, 5);
	CHECK_STR_EQ(f.disks[0].path, "/a.img");
	CHECK(f.disks[0].read_only);
	CHECK_STR_EQ(f.disks[1].path, "/b.img");
	CHECK(!f.disks[1].read_only);
	/* A comma that is not a suffix is part of the file name. */
	CHECK_STR_EQ(f.disks[2].path, "/c,d.img");
	CHECK(!f.disks[2].read_only);
	CHECK_STR_EQ(f.disks[3].path, "/e.img,RO");
	CHECK(!f.disks[3].read_only);
	CHECK_STR_EQ(f.disks[4].path, "/f.img,ro");
	CHECK(f.disks[4].read_only);
	vm_file_free(&f);
}

TEST(max_devices_accepted)
{
	struct vm_file f;
	char text[1024];
	size_t n = (size_t)snprintf(text, sizeof(text), KERNEL "[devices]\ndisks = [");

	for (int i = 0; i < VM_MAX_DISKS; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "%s\"/d%d\"", i ? ", " : "", i);
	n += (size_t)snprintf(text + n, sizeof(text) - n, "]\nnets = [");
	for (int i = 0; i < VM_MAX_NETS; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "%s\"tap=t%d\"", i ? ", " : "", i);
	snprintf(text + n, sizeof(text) - n, "]\n");
	REQUIRE_EQ_INT(parse(&f, text), 0);
	CHECK_EQ_U64(f.ndisks, VM_MAX_DISKS);
	CHECK_EQ_U64(f.nnets, VM_MAX_NETS);
	CHECK_STR_EQ(f.disks[VM_MAX_DISKS - 1].path, "/d7");
	CHECK_STR_EQ(f.nets[VM_MAX_NETS - 1].tap, "t7");
	vm_file_free(&f);
}

TEST(names_allowed)
{
	static const char *const names[] = { "a", "vm-1", "VM_2", "web.front", "0", "a-b_c.d-E9" };

	for (size_t i = 0; i < ARRAY_LEN(names); i++) {
		struct vm_file f;
		char text[256];

		snprintf(text, sizeof(text), "[base]\nname = \"%s\"\n" KERNEL, names[i]);
		if (!CHECK_EQ_INT(parse(&f, text), 0)) {
			FAIL("name \"%s\": %s", names[i], err_msg());
			continue;
		}
		CHECK_STR_EQ(f.name, names[i]);
		vm_file_free(&f);
	}
}

TEST(name_64_characters_allowed)
{
	struct vm_file f;
	char text[256];

	snprintf(text, sizeof(text), "[base]\nname = \"%064d\"\n" KERNEL, 0);
	REQUIRE_EQ_INT(parse(&f, text), 0);
	CHECK_EQ_U64(strlen(f.name), 64);
	vm_file_free(&f);
	snprintf(text, sizeof(text), "[base]\nname = \"%065d\"\n" KERNEL, 0);
	CHECK_ERR(text, "t.toml:2:1: base.name: ", "at most 64");
}

TEST(cmdline_may_be_empty)
{
	struct vm_file f;

	REQUIRE_EQ_INT(parse(&f, KERNEL "cmdline = \"\"\n"), 0);
	CHECK_STR_EQ(f.cmdline, "");
	vm_file_free(&f);
}

/* ---- errors ---- */

TEST(toml_syntax_error_keeps_the_parser_location)
{
	CHECK_ERR("[base]\ncpu_num = = 2\n" KERNEL, "t.toml:2:", NULL);
	CHECK_ERR("[base]\nname = \"x\"\nname = \"y\"\n" KERNEL, "t.toml:3:", "name");
}

TEST(unknown_section)
{
	CHECK_ERR(KERNEL "[network]\ntap = \"tap0\"\n", "t.toml:3:2: network: ", "unknown");
	CHECK_ERR("[base]\n[Base]\n" KERNEL, "t.toml:2:2: Base: ", "unknown");
	CHECK_ERR(KERNEL "[kernel.extra]\n", "t.toml:3:9: kernel.extra: ", "unknown");
}

TEST(top_level_key_is_unknown)
{
	CHECK_ERR("name = \"x\"\n" KERNEL, "t.toml:1:1: name: ", "unknown");
}

TEST(section_that_is_not_a_table)
{
	CHECK_ERR("base = 5\n" KERNEL, "t.toml:1:1: base: ", "expected a table, found integer");
	CHECK_ERR("kernel = \"/k\"\n", "t.toml:1:1: kernel: ", "expected a table");
}

TEST(unknown_key)
{
	CHECK_ERR("[base]\nid = 1\n  cpus = 2\n" KERNEL, "t.toml:3:3: base.cpus: ", "unknown key");
	CHECK_ERR(KERNEL "memory = 128\n", "t.toml:3:1: kernel.memory: ", "unknown key");
	CHECK_ERR(KERNEL "[devices]\nrng = true\nballoon = 3\n", "t.toml:5:1: devices.balloon: ",
		  "unknown key");
}

TEST(wrong_types)
{
	CHECK_ERR("[base]\ncpu_num = \"2\"\n" KERNEL, "t.toml:2:1: base.cpu_num: ",
		  "expected an integer, found string");
	CHECK_ERR("[base]\ncpu_num = 2.0\n" KERNEL, "t.toml:2:1: base.cpu_num: ",
		  "expected an integer, found float");
	CHECK_ERR("[base]\nid = \"one\"\n" KERNEL, "t.toml:2:1: base.id: ", "expected an integer");
	CHECK_ERR("[base]\nname = 5\n" KERNEL, "t.toml:2:1: base.name: ",
		  "expected a string, found integer");
	CHECK_ERR("[kernel]\nkernel_path = [\"/k\"]\n", "t.toml:2:1: kernel.kernel_path: ",
		  "expected a string, found array");
	CHECK_ERR(KERNEL "cmdline = 1\n", "t.toml:3:1: kernel.cmdline: ", "expected a string");
	CHECK_ERR(KERNEL "memory_mib = \"256\"\n", "t.toml:3:1: kernel.memory_mib: ",
		  "expected an integer");
	CHECK_ERR(KERNEL "[devices]\nrng = 1\n", "t.toml:4:1: devices.rng: ",
		  "expected a boolean, found integer");
	CHECK_ERR(KERNEL "[devices]\ndisks = \"/a.img\"\n", "t.toml:4:1: devices.disks: ",
		  "array, found string");
	CHECK_ERR(KERNEL "[devices]\nnets = { tap = \"t\" }\n", "t.toml:4:1: devices.nets: ",
		  "array, found table");
	CHECK_ERR("[base]\ncpu_num = 2\nphys_cpu_sets = 3\n" KERNEL,
		  "t.toml:3:1: base.phys_cpu_sets: ", "array, found integer");
}

/* expect() picks the article for "integer" only: "expected a array". */
TEST(regression_expected_an_array_article)
{
	CHECK_ERR(KERNEL "[devices]\ndisks = \"/a.img\"\n", "t.toml:4:1: devices.disks: ",
		  "expected an array, found string");
	CHECK_ERR(KERNEL "memory_regions = [0]\n", "t.toml:3:19: kernel.memory_regions[0]: ",
		  "expected an array, found integer");
}

TEST(cpu_num_out_of_range)
{
	CHECK_ERR("[base]\ncpu_num = 0\n" KERNEL, "t.toml:2:1: base.cpu_num: ",
		  "0 is out of range (1 to 254)");
	CHECK_ERR("[base]\ncpu_num = 255\n" KERNEL, "t.toml:2:1: base.cpu_num: ",
		  "255 is out of range (1 to 254)");
	CHECK_ERR("[base]\ncpu_num = -1\n" KERNEL, "t.toml:2:1: base.cpu_num: ", "out of range");
	CHECK_ERR("[base]\nid = -3\n" KERNEL, "t.toml:2:1: base.id: ", "out of range");
}

TEST(phys_cpu_sets_count_mismatch)
{
	CHECK_ERR("[base]\ncpu_num = 2\nphys_cpu_sets = [1]\n" KERNEL,
		  "t.toml:3:1: base.phys_cpu_sets: ", "has 1 masks for 2 vCPUs");
	/* With the default of one vCPU. */
	CHECK_ERR("[base]\nphys_cpu_sets = [1, 2]\n" KERNEL, "t.toml:2:1: base.phys_cpu_sets: ",
		  "has 2 masks for 1 vCPUs");
	CHECK_ERR("[base]\nphys_cpu_sets = []\n" KERNEL, "t.toml:2:1: base.phys_cpu_sets: ",
		  "has 0 masks");
}

TEST(phys_cpu_sets_bad_masks_point_at_the_element)
{
	/* An array element has no key: its own position is given, with its index. */
	CHECK_ERR("[base]\ncpu_num = 2\nphys_cpu_sets = [1, 0]\n" KERNEL,
		  "t.toml:3:21: base.phys_cpu_sets[1]: ", "out of range");
	CHECK_ERR("[base]\ncpu_num = 2\nphys_cpu_sets = [\"1\", 2]\n" KERNEL,
		  "t.toml:3:18: base.phys_cpu_sets[0]: ", "expected an integer");
}

TEST(memory_regions_errors)
{
	/* The base must be 0 (Ember lays out guest memory itself). */
	CHECK_ERR(KERNEL "memory_regions = [[0x1000, 0x1000_0000, 7, 0]]\n",
		  "t.toml:3:20: kernel.memory_regions[0][0]: ", "4096 is out of range (0 to 0)");
	/* The size must be whole MiB. */
	CHECK_ERR(KERNEL "memory_regions = [[0, 0x1000_0800, 7, 0]]\n",
		  "t.toml:3:23: kernel.memory_regions[0][1]: ", "whole number of MiB");
	/* Smaller than 2 MiB. */
	CHECK_ERR(KERNEL "memory_regions = [[0, 0x100000]]\n",
		  "t.toml:3:23: kernel.memory_regions[0][1]: ", "out of range");
	CHECK_ERR(KERNEL "memory_regions = [[0, 0]]\n",
		  "t.toml:3:23: kernel.memory_regions[0][1]: ", "out of range");
	/* Exactly one region. */
	CHECK_ERR(KERNEL "memory_regions = [[0, 0x1000_0000], [0x1000_0000, 0x1000_0000]]\n",
		  "t.toml:3:1: kernel.memory_regions: ", "exactly one region");
	CHECK_ERR(KERNEL "memory_regions = []\n", "t.toml:3:1: kernel.memory_regions: ",
		  "exactly one region");
	/* Not nested. */
	CHECK_ERR(KERNEL "memory_regions = [0]\n", "t.toml:3:19: kernel.memory_regions[0]: ",
		  "array, found integer");
	/* Wrong lengths. */
	CHECK_ERR(KERNEL "memory_regions = [[0]]\n", "t.toml:3:19: kernel.memory_regions[0]: ",
		  "expected [base, size, flags, map_type]");
	CHECK_ERR(KERNEL "memory_regions = [[0, 0x1000_0000, 7, 0, 1]]\n",
		  "t.toml:3:19: kernel.memory_regions[0]: ", "expected [base, size");
	CHECK_ERR(KERNEL "memory_regions = \"256M\"\n", "t.toml:3:1: kernel.memory_regions: ",
		  "array, found string");
	CHECK_ERR(KERNEL "memory_regions = [[0, \"0x1000_0000\"]]\n",
		  "t.toml:3:23: kernel.memory_regions[0][1]: ", "expected an integer");
}

TEST(memory_mib_and_memory_regions_both)
{
	CHECK_ERR(KERNEL "memory_mib = 256\nmemory_regions = [[0, 0x1000_0000, 7, 0]]\n",
		  "t.toml:4:1: kernel.memory_regions: ", "not both");
	/* Either order in the file. */
	CHECK_ERR(KERNEL "memory_regions = [[0, 0x1000_0000, 7, 0]]\nmemory_mib = 256\n",
		  "t.toml:3:1: kernel.memory_regions: ", "not both");
}

TEST(missing_kernel)
{
	CHECK_ERR("[base]\nname = \"x\"\n", "t.toml: ", "[kernel] section with kernel_path is required");
	CHECK_ERR("", "t.toml: ", "[kernel]");
	CHECK_ERR("[base]\n[kernel]\ncmdline = \"x\"\n", "t.toml:2:2: kernel: ",
		  "kernel_path is required");
	CHECK_ERR("[kernel]\nkernel_path = \"\"\n", "t.toml:2:1: kernel.kernel_path: ",
		  "non-empty");
	CHECK_ERR("[kernel]\nkernel_path = \"/a\\u0000b\"\n", "t.toml:2:1: kernel.kernel_path: ",
		  "NUL");
}

TEST(bad_disk_strings)
{
	CHECK_ERR(KERNEL "[devices]\ndisks = [\"/a.img\", \"\"]\n",
		  "t.toml:4:20: devices.disks[1]: ", "non-empty");
	CHECK_ERR(KERNEL "[devices]\ndisks = [5]\n", "t.toml:4:10: devices.disks[0]: ",
		  "expected a string, found integer");
	CHECK_ERR(KERNEL "[devices]\ndisks = [[\"/a.img\"]]\n", "t.toml:4:10: devices.disks[0]: ",
		  "expected a string");
	CHECK_ERR(KERNEL "[devices]\ndisks = [\"/1\",\"/2\",\"/3\",\"/4\",\"/5\",\"/6\",\"/7\","
		  "\"/8\",\"/9\"]\n", "t.toml:4:1: devices.disks: ", "at most 8 disks");
}

TEST(bad_net_strings)
{
	CHECK_ERR(KERNEL "[devices]\nnets = [\"tap=\"]\n", "t.toml:4:9: devices.nets[0]: ",
		  "'tap=': expected tap=NAME[,mac=MAC]");
	CHECK_ERR(KERNEL "[devices]\nnets = [\"tap0\"]\n", "t.toml:4:9: devices.nets[0]: ",
		  "'tap0'");
	CHECK_ERR(KERNEL "[devices]\nnets = [\"tap=t0\", \"mac=06:00:00:00:00:01\"]\n",
		  "t.toml:4:19: devices.nets[1]: ", "tap=NAME is required");
	CHECK_ERR(KERNEL "[devices]\nnets = [\"tap=t0,mac=01:00:00:00:00:00\"]\n",
		  "t.toml:4:9: devices.nets[0]: ", "unicast");
	CHECK_ERR(KERNEL "[devices]\nnets = [\"tap=t0,mac=06:00:00:00:00\"]\n",
		  "t.toml:4:9: devices.nets[0]: ", "'mac=06:00:00:00:00'");
	CHECK_ERR(KERNEL "[devices]\nnets = [\"tap=t0,mac=06:00:00:00:00:0g\"]\n",
		  "t.toml:4:9: devices.nets[0]: ", "expected tap=NAME");
	CHECK_ERR(KERNEL "[devices]\nnets = [\"tap=t0,queues=2\"]\n",
		  "t.toml:4:9: devices.nets[0]: ", "'queues=2'");
	CHECK_ERR(KERNEL "[devices]\nnets = [\"\"]\n", "t.toml:4:9: devices.nets[0]: ",
		  "non-empty");
	CHECK_ERR(KERNEL "[devices]\nnets = [1]\n", "t.toml:4:9: devices.nets[0]: ",
		  "expected a string");
}

TEST(invalid_name_characters)
{
	static const char *const names[] = { "a b", "a/b", "../x", "vm:1", "caf\\u00e9", "a\\tb",
					      "x;rm", "\\\"q\\\"" };

	for (size_t i = 0; i < ARRAY_LEN(names); i++) {
		char text[256];

		snprintf(text, sizeof(text), "[base]\nid = 1\nname = \"%s\"\n" KERNEL, names[i]);
		CHECK_ERR(text, "t.toml:3:1: base.name: ",
			  "names may use letters, digits, '-', '_' and '.' only");
	}
	CHECK_ERR("[base]\nname = \"\"\n" KERNEL, "t.toml:2:1: base.name: ", "non-empty");
}

TEST(error_column_counts_characters_not_bytes)
{
	/* TOML columns are Unicode characters: "é" before the key is one column. */
	CHECK_ERR("[base]\n\"é\" = 1\n" KERNEL, "t.toml:2:1: base.\"é\": ", "unknown key");
	CHECK_ERR("[base]\nname = \"x\" # é\ncpu_num = 0\n" KERNEL, "t.toml:3:1: base.cpu_num: ",
		  "out of range");
}

TEST(errors_name_the_given_file_name)
{
	struct vm_file f;

	err_clear();
	CHECK_EQ_INT(vm_file_parse(&f, "[base]\ncpu_num = 0\n", 19, "/etc/vms/web.toml", "/etc/vms"),
		     -EINVAL);
	CHECK_STR_CONTAINS(err_msg(), "/etc/vms/web.toml:2:1: base.cpu_num: ");
}

/* ---- vm_file_load ---- */

static char tmpdir[64];

static const char *write_file(const char *name, const char *text, char *path, size_t cap)
{
	FILE *fp;

	if (!tmpdir[0]) {
		snprintf(tmpdir, sizeof(tmpdir), "/tmp/ember-vmfile.XXXXXX");
		if (!mkdtemp(tmpdir))
			return NULL;
	}
	snprintf(path, cap, "%s/%s", tmpdir, name);
	fp = fopen(path, "w");
	if (!fp)
		return NULL;
	fputs(text, fp);
	fclose(fp);
	return path;
}

TEST(load_resolves_against_the_files_directory)
{
	struct vm_file f;
	char path[256], want[256];

	REQUIRE_NOT_NULL(write_file("a.toml", "[kernel]\nkernel_path = \"guest.elf\"\n", path,
				    sizeof(path)));
	REQUIRE_EQ_INT(vm_file_load(&f, path), 0);
	snprintf(want, sizeof(want), "%s/guest.elf", tmpdir);
	CHECK_STR_EQ(f.kernel_path, want);
	vm_file_free(&f);
	unlink(path);
}

TEST(load_errors)
{
	struct vm_file f;
	char path[256], want[300];

	REQUIRE_NOT_NULL(write_file("bad.toml", "[kernel]\nkernel_path = \"k\"\nmemory_mib = 1\n",
				    path, sizeof(path)));
	CHECK_EQ_INT(vm_file_load(&f, path), -EINVAL);
	snprintf(want, sizeof(want), "%s:3:1: kernel.memory_mib: ", path);
	CHECK(strncmp(err_msg(), want, strlen(want)) == 0);
	unlink(path);

	CHECK_EQ_INT(vm_file_load(&f, "/nonexistent/ember/x.toml"), -ENOENT);
	CHECK_STR_CONTAINS(err_msg(), "/nonexistent/ember/x.toml: cannot open");
	CHECK(vm_file_load(&f, tmpdir) < 0);   /* a directory */
	CHECK_STR_CONTAINS(err_msg(), "not a regular file");
	rmdir(tmpdir);
}

TEST(vsock_device)
{
	struct vm_file f;

	REQUIRE_EQ_INT(parse_dir(&f, KERNEL "[devices]\nvsock = { cid = 7, uds_path = \"v.sock\" }\n",
				 "/srv/vms"), 0);
	CHECK_EQ_U64(f.vsock.cid, 7);
	CHECK_STR_EQ(f.vsock.uds_path, "/srv/vms/v.sock");
	vm_file_free(&f);
	REQUIRE_EQ_INT(parse(&f, KERNEL), 0);
	CHECK_NULL(f.vsock.uds_path);
	vm_file_free(&f);
	CHECK_ERR(KERNEL "[devices]\nvsock = 3\n", "t.toml:4:1: devices.vsock: ",
		  "expected a table, found integer");
	CHECK_ERR(KERNEL "[devices]\nvsock = { cid = 3 }\n", "t.toml:4:1: devices.vsock: ",
		  "needs cid (3 or more) and uds_path");
	CHECK_ERR(KERNEL "[devices]\nvsock = { cid = 2, uds_path = \"v\" }\n",
		  "t.toml:4:11: devices.vsock.cid: ", "out of range (3 to 4294967294)");
	CHECK_ERR(KERNEL "[devices]\nvsock = { cid = 3, uds_path = \"v\", port = 1 }\n",
		  "t.toml:4:36: devices.vsock.port: ", "unknown key");
}
