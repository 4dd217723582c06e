/* `ember run` argument parsing and the guest command line. The parser uses getopt_long,
 * whose state is global: parsing twice in one process (as these tests do) must work. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "cli/run_args.h"
#include "util/err.h"

/* Parses a NULL-terminated list of arguments (getopt may permute the array: it is a
 * fresh copy each time). */
#define PARSE(a, ...) parse_list((a), (const char *[]){ "run", __VA_ARGS__, NULL })
#define PARSE0(a) parse_list((a), (const char *[]){ "run", NULL })

static char *argv_buf[64];

static int parse_list(struct run_args *a, const char **list)
{
	int argc = 0;

	while (list[argc] && argc < 63) {
		argv_buf[argc] = (char *)(uintptr_t)list[argc];
		argc++;
	}
	argv_buf[argc] = NULL;
	err_clear();
	return run_args_parse(a, argc, argv_buf);
}

TEST(defaults)
{
	struct run_args a;

	REQUIRE_EQ_INT(PARSE(&a, "--kernel", "vmlinux"), 0);
	CHECK_STR_EQ(a.kernel, "vmlinux");
	CHECK_NULL(a.initrd);
	CHECK_EQ_U64(a.mem_mib, 128);
	CHECK_EQ_U64(a.vcpus, 1);
	CHECK_STR_EQ(a.cmdline, "console=ttyS0 reboot=k panic=1");
	CHECK_EQ_INT(a.log_level, LOG_WARN);
	CHECK_EQ_INT(a.help, 0);
}

TEST(every_option)
{
	struct run_args a;

	REQUIRE_EQ_INT(PARSE(&a, "--kernel", "bzImage", "--initrd", "rd.img", "--cmdline",
			     "console=ttyS0 quiet", "--memory", "512", "--vcpus", "4",
			     "--log-level", "debug"), 0);
	CHECK_STR_EQ(a.kernel, "bzImage");
	CHECK_STR_EQ(a.initrd, "rd.img");
	CHECK_STR_EQ(a.cmdline, "console=ttyS0 quiet");
	CHECK_EQ_U64(a.mem_mib, 512);
	CHECK_EQ_U64(a.vcpus, 4);
	CHECK_EQ_INT(a.log_level, LOG_DEBUG);
	/* The --opt=value form too, in another order. */
	REQUIRE_EQ_INT(PARSE(&a, "--vcpus=2", "--memory=64", "--kernel=k", "--log-level=info"),
		       0);
	CHECK_STR_EQ(a.kernel, "k");
	CHECK_EQ_U64(a.mem_mib, 64);
	CHECK_EQ_U64(a.vcpus, 2);
	CHECK_EQ_INT(a.log_level, LOG_INFO);
	REQUIRE_EQ_INT(PARSE(&a, "--kernel", "k", "--log-level", "error"), 0);
	CHECK_EQ_INT(a.log_level, LOG_ERROR);
	/* An empty command line is the user's choice. */
	REQUIRE_EQ_INT(PARSE(&a, "--kernel", "k", "--cmdline", ""), 0);
	CHECK_STR_EQ(a.cmdline, "");
}

TEST(state_does_not_leak_between_parses)
{
	struct run_args a;

	REQUIRE_EQ_INT(PARSE(&a, "--kernel", "k1", "--memory", "256", "--initrd", "r"), 0);
	REQUIRE_EQ_INT(PARSE(&a, "--kernel", "k2"), 0);
	CHECK_STR_EQ(a.kernel, "k2");
	CHECK_EQ_U64(a.mem_mib, 128);
	CHECK_NULL(a.initrd);
	/* After a failed parse, the next one starts clean. */
	CHECK_EQ_INT(PARSE(&a, "--kernel"), -EINVAL);
	REQUIRE_EQ_INT(PARSE(&a, "--kernel", "k3"), 0);
	CHECK_STR_EQ(a.kernel, "k3");
}

TEST(help)
{
	struct run_args a;

	REQUIRE_EQ_INT(PARSE(&a, "--help"), 0);   /* no --kernel needed */
	CHECK_EQ_INT(a.help, 1);
	REQUIRE_EQ_INT(PARSE(&a, "-h"), 0);
	CHECK_EQ_INT(a.help, 1);
	REQUIRE_EQ_INT(PARSE(&a, "--kernel", "k", "--help", "--bogus"), 0);
	CHECK_EQ_INT(a.help, 1);
	CHECK_STR_CONTAINS(run_usage, "--kernel");
	CHECK_STR_CONTAINS(run_usage, "--memory");
	CHECK_STR_CONTAINS(run_usage, "--vcpus");
	CHECK_STR_CONTAINS(run_usage, "--initrd");
	CHECK_STR_CONTAINS(run_usage, "--cmdline");
	CHECK_STR_CONTAINS(run_usage, "--log-level");
}

TEST(missing_kernel)
{
	struct run_args a;

	CHECK_EQ_INT(PARSE0(&a), -EINVAL);
	CHECK_STR_CONTAINS(err_msg(), "--kernel");
	CHECK_EQ_INT(PARSE(&a, "--memory", "64"), -EINVAL);
	CHECK_STR_CONTAINS(err_msg(), "--kernel");
}

TEST(unknown_option_and_stray_argument)
{
	struct run_args a;

	CHECK_EQ_INT(PARSE(&a, "--kernel", "k", "--bogus"), -EINVAL);
	CHECK_STR_CONTAINS(err_msg(), "--bogus");
	CHECK_EQ_INT(PARSE(&a, "--kernel", "k", "-x"), -EINVAL);
	CHECK_STR_CONTAINS(err_msg(), "-x");
	CHECK_EQ_INT(PARSE(&a, "--kernel", "k", "extra"), -EINVAL);
	CHECK_STR_CONTAINS(err_msg(), "extra");
}

TEST(missing_value)
{
	struct run_args a;

	CHECK_EQ_INT(PARSE(&a, "--kernel"), -EINVAL);
	CHECK_STR_CONTAINS(err_msg(), "--kernel");
	CHECK_STR_CONTAINS(err_msg(), "value");
	CHECK_EQ_INT(PARSE(&a, "--kernel", "k", "--memory"), -EINVAL);
	CHECK_STR_CONTAINS(err_msg(), "--memory");
	CHECK_EQ_INT(PARSE(&a, "--kernel", "k", "--vcpus"), -EINVAL);
	CHECK_STR_CONTAINS(err_msg(), "--vcpus");
}

TEST(memory_values)
{
	static const char *const bad[] = {
		"0", "1", "abc", "-5", "99999999999999999999", "", "12abc", "+64", "0x40",
		"1099511627777",   /* 2^40 + 1 MiB */
	};
	struct run_args a;

	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		if (!CHECK_EQ_INT(PARSE(&a, "--kernel", "k", "--memory", bad[i]), -EINVAL))
			FAIL("--memory '%s' accepted", bad[i]);
		CHECK_STR_CONTAINS(err_msg(), "--memory");
		if (bad[i][0])
			CHECK_STR_CONTAINS(err_msg(), bad[i]);
	}
	REQUIRE_EQ_INT(PARSE(&a, "--kernel", "k", "--memory", "2"), 0);   /* the minimum */
	CHECK_EQ_U64(a.mem_mib, 2);
	REQUIRE_EQ_INT(PARSE(&a, "--kernel", "k", "--memory", "1099511627776"), 0);
	CHECK_EQ_U64(a.mem_mib, 1ULL << 40);
	REQUIRE_EQ_INT(PARSE(&a, "--kernel", "k", "--memory", "8192"), 0);
	CHECK_EQ_U64(a.mem_mib, 8192);
}

TEST(vcpus_values)
{
	static const char *const bad[] = { "0", "-1", "x", "", "4097", "18446744073709551617" };
	struct run_args a;

	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		if (!CHECK_EQ_INT(PARSE(&a, "--kernel", "k", "--vcpus", bad[i]), -EINVAL))
			FAIL("--vcpus '%s' accepted", bad[i]);
		CHECK_STR_CONTAINS(err_msg(), "--vcpus");
	}
	REQUIRE_EQ_INT(PARSE(&a, "--kernel", "k", "--vcpus", "1"), 0);
	CHECK_EQ_U64(a.vcpus, 1);
	REQUIRE_EQ_INT(PARSE(&a, "--kernel", "k", "--vcpus", "254"), 0);
	CHECK_EQ_U64(a.vcpus, 254);
}

TEST(log_level_values)
{
	struct run_args a;

	CHECK_EQ_INT(PARSE(&a, "--kernel", "k", "--log-level", "loud"), -EINVAL);
	CHECK_STR_CONTAINS(err_msg(), "--log-level");
	CHECK_STR_CONTAINS(err_msg(), "loud");
	CHECK_EQ_INT(PARSE(&a, "--kernel", "k", "--log-level", "WARN"), -EINVAL);
}

static void check_guest_cmdline(const char *user, const char *want)
{
	struct run_args a;
	char *s;

	memset(&a, 0, sizeof(a));
	a.cmdline = user;
	s = run_args_guest_cmdline(&a);
	if (!CHECK_NOT_NULL(s))
		return;
	if (!CHECK_STR_EQ(s, want))
		FAIL("for \"%s\"", user);
	free(s);
}

TEST(guest_cmdline_appends_pci_off)
{
	check_guest_cmdline("console=ttyS0 reboot=k panic=1",
			    "console=ttyS0 reboot=k panic=1 pci=off");
	check_guest_cmdline("", "pci=off");
	check_guest_cmdline("quiet", "quiet pci=off");
	/* A user's pci= wins, wherever it is. */
	check_guest_cmdline("pci=noacpi", "pci=noacpi");
	check_guest_cmdline("console=ttyS0 pci=on", "console=ttyS0 pci=on");
	check_guest_cmdline("a  pci=realloc b", "a  pci=realloc b");
	/* Words that merely contain "pci=" are other parameters. */
	check_guest_cmdline("nopci=1", "nopci=1 pci=off");
	check_guest_cmdline("xpci=off", "xpci=off pci=off");
	check_guest_cmdline("pci", "pci pci=off");
}

TEST(guest_cmdline_from_parse_defaults)
{
	struct run_args a;
	char *s;

	REQUIRE_EQ_INT(PARSE(&a, "--kernel", "k"), 0);
	s = run_args_guest_cmdline(&a);
	REQUIRE_NOT_NULL(s);
	CHECK_STR_EQ(s, "console=ttyS0 reboot=k panic=1 pci=off");
	free(s);
}

/* The kernel stops reading its own parameters at "--": what follows goes to init
 * (Documentation/admin-guide/kernel-parameters.rst). "pci=off" must stay before it, and a
 * "pci=" after it is init's, not the user setting the kernel's. */
TEST(regression_guest_cmdline_pci_off_before_double_dash)
{
	char *s;
	struct run_args a;

	memset(&a, 0, sizeof(a));
	a.cmdline = "console=ttyS0 -- single";
	s = run_args_guest_cmdline(&a);
	REQUIRE_NOT_NULL(s);
	const char *dd = strstr(s, " -- ");
	const char *pci = strstr(s, "pci=off");
	CHECK(dd != NULL);
	if (!CHECK(pci != NULL && dd != NULL && pci < dd))
		FAIL("pci=off lands after \"--\": \"%s\"", s);
	free(s);
	a.cmdline = "console=ttyS0 -- pci=1";
	s = run_args_guest_cmdline(&a);
	REQUIRE_NOT_NULL(s);
	pci = strstr(s, "pci=off");
	if (!CHECK(pci != NULL && pci < strstr(s, "--")))
		FAIL("a pci= for init suppressed the kernel's pci=off: \"%s\"", s);
	free(s);
}

/* getopt keeps its position inside a cluster of short options across calls; optind = 1
 * does not reset that (glibc resets fully only for optind = 0). After "-hX" returned
 * early on -h, the next parse must not go on with the stale "X". */
TEST(regression_reparse_after_early_return_in_short_option_cluster)
{
	struct run_args a;

	REQUIRE_EQ_INT(PARSE(&a, "-hX"), 0);
	CHECK_EQ_INT(a.help, 1);
	if (!CHECK_EQ_INT(PARSE(&a, "--kernel", "k"), 0))
		FAIL("second parse: %s", err_msg());
	CHECK_STR_EQ(a.kernel, "k");
}

/* An unknown short option inside a cluster: the message must name it, not the word
 * before it (argv[optind - 1] is "run" while getopt is still inside "-xy"). */
TEST(regression_unknown_option_in_cluster_named)
{
	struct run_args a;

	CHECK_EQ_INT(PARSE(&a, "-xy", "--kernel", "k"), -EINVAL);
	CHECK_STR_CONTAINS(err_msg(), "-x");
	/* Leave getopt clean for whatever runs next. */
	(void)PARSE(&a, "--kernel", "k");
	(void)PARSE(&a, "--kernel", "k");
}

/* Firecracker's flags. */
TEST(firecracker_flags)
{
	struct run_args a;

	REQUIRE_EQ_INT(PARSE(&a, "--api-sock", "fc.sock", "--id", "vm-1", "--log-path", "l.fifo",
			     "--level", "Debug", "--show-level", "--show-log-origin",
			     "--metrics-path", "m.fifo", "--boot-timer", "--seccomp-filter", "f.bpf",
			     "--no-seccomp", "--start-time-us", "123", "--start-time-cpu-us", "45",
			     "--parent-cpu-time-us", "6", "--http-api-max-payload-size", "51200",
			     "--mmds-size-limit", "51200"), 0);
	CHECK_STR_EQ(a.api_sock, "fc.sock");
	CHECK_NULL(a.kernel);
	CHECK_STR_EQ(a.log_path, "l.fifo");
	CHECK_EQ_INT(a.fc_level, LOG_DEBUG);
	CHECK(a.show_level && a.show_origin && a.boot_timer);
	CHECK_STR_EQ(a.metrics_path, "m.fifo");
	CHECK_EQ_U64(a.start_time_us, 123);
	CHECK_EQ_U64(a.start_time_cpu_us, 45);
	CHECK_EQ_U64(a.parent_cpu_time_us, 6);
	CHECK(!a.fc_mode);
	REQUIRE_EQ_INT(PARSE(&a, "--config-file", "vm.json", "--no-api", "--metadata", "m.json"), 0);
	CHECK_STR_EQ(a.config_file, "vm.json");
	CHECK(a.no_api);
	CHECK_STR_EQ(a.metadata, "m.json");
	CHECK_NULL(a.api_sock);
}

TEST(firecracker_flag_errors)
{
	struct run_args a;

	CHECK_EQ_INT(PARSE(&a, "--no-api"), -EINVAL);
	CHECK_STR_CONTAINS(err_msg(), "--config-file");
	CHECK_EQ_INT(PARSE(&a, "--config-file", "vm.json", "--no-api", "--api-sock", "s"), -EINVAL);
	CHECK_STR_CONTAINS(err_msg(), "contradict");
	CHECK_EQ_INT(PARSE(&a, "--config-file", "vm.json", "--kernel", "k"), -EINVAL);
	CHECK_STR_CONTAINS(err_msg(), "--config-file vm.json describes the whole VM");
	CHECK_EQ_INT(PARSE(&a, "--config-file", "vm.json", "--config", "vm.toml"), -EINVAL);
	CHECK_EQ_INT(PARSE(&a, "--api-sock", "s", "--level", "Loud"), -EINVAL);
	CHECK_STR_CONTAINS(err_msg(), "--level Loud");
	CHECK_EQ_INT(PARSE(&a, "--api-sock", "s", "--start-time-us", "-1"), -EINVAL);
	CHECK_STR_CONTAINS(err_msg(), "--start-time-us");
	CHECK_EQ_INT(PARSE(&a, "--config-file", ""), -EINVAL);
	CHECK_EQ_INT(PARSE(&a, "--log-path", "", "--api-sock", "s"), -EINVAL);
}

/* As `firecracker`: argv[0] is the program; the API socket defaults to Firecracker's. */
TEST(firecracker_mode_defaults)
{
	struct run_args a;
	char *argv1[] = { (char *)"firecracker", NULL };
	char *argv2[] = { (char *)"firecracker", (char *)"--config-file", (char *)"c.json",
			  (char *)"--no-api", NULL };
	char *argv3[] = { (char *)"firecracker", (char *)"--api-sock", (char *)"rel.sock", NULL };

	REQUIRE_EQ_INT(run_args_parse_fc(&a, 1, argv1), 0);
	CHECK(a.fc_mode);
	CHECK_STR_EQ(a.api_sock, "/run/firecracker.socket");
	REQUIRE_EQ_INT(run_args_parse_fc(&a, 4, argv2), 0);
	CHECK_NULL(a.api_sock);
	REQUIRE_EQ_INT(run_args_parse_fc(&a, 3, argv3), 0);
	CHECK_STR_EQ(a.api_sock, "rel.sock");
}

/* --vsock's value is split in place (as --net's): writable copies, as a real argv. */
static char *vs(const char *v)
{
	static char bufs[8][64];
	static unsigned int n;
	char *b = bufs[n++ % 8];

	snprintf(b, sizeof(bufs[0]), "%s", v);
	return b;
}

TEST(vsock_option)
{
	struct run_args a;

	REQUIRE_EQ_INT(PARSE(&a, "--kernel", "k", "--vsock", vs("cid=3,uds=/tmp/v.sock")), 0);
	CHECK_EQ_U64(a.vsock.cid, 3);
	CHECK_STR_EQ(a.vsock.uds_path, "/tmp/v.sock");
	REQUIRE_EQ_INT(PARSE(&a, "--kernel", "k", "--vsock", vs("uds=/v,cid=4294967294")), 0);
	CHECK_EQ_U64(a.vsock.cid, 4294967294u);
	REQUIRE_EQ_INT(PARSE(&a, "--kernel", "k"), 0);
	CHECK_NULL(a.vsock.uds_path);
	CHECK_EQ_INT(PARSE(&a, "--kernel", "k", "--vsock", vs("cid=2,uds=/v")), -EINVAL);
	CHECK_STR_CONTAINS(err_msg(), "--vsock cid 2: expected a whole number from 3 to");
	CHECK_EQ_INT(PARSE(&a, "--kernel", "k", "--vsock", vs("cid=4294967295,uds=/v")), -EINVAL);
	CHECK_EQ_INT(PARSE(&a, "--kernel", "k", "--vsock", vs("cid=3")), -EINVAL);
	CHECK_STR_CONTAINS(err_msg(), "--vsock needs cid=N (3 or more) and uds=PATH");
	CHECK_EQ_INT(PARSE(&a, "--kernel", "k", "--vsock", vs("uds=/v")), -EINVAL);
	CHECK_EQ_INT(PARSE(&a, "--kernel", "k", "--vsock", vs("cid=3,uds=")), -EINVAL);
	CHECK_EQ_INT(PARSE(&a, "--kernel", "k", "--vsock", vs("cid=3,uds=/v,port=1")), -EINVAL);
	CHECK_STR_CONTAINS(err_msg(), "unknown setting 'port=1'");
	CHECK_EQ_INT(PARSE(&a, "--kernel", "k", "--vsock", vs("cid=3,uds=/a"), "--vsock",
			   vs("cid=4,uds=/b")), -EINVAL);
	CHECK_STR_CONTAINS(err_msg(), "only one vsock device");
	CHECK_EQ_INT(PARSE(&a, "--config", "vm.toml", "--vsock", vs("cid=3,uds=/a")), -EINVAL);
	CHECK_STR_CONTAINS(err_msg(), "--vsock");
}
