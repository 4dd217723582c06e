#include "cli/run_args.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"

const char run_usage[] =
	"usage: ember run --kernel PATH [options]\n"
	"\n"
	"Boots a Linux kernel (ELF vmlinux or bzImage) in a microVM. The guest's serial\n"
	"console is this terminal; the VM ends when the guest powers off, halts or reboots.\n"
	"\n"
	"  --kernel PATH       kernel image (ELF vmlinux or bzImage)\n"
	"  --initrd PATH       initial ramdisk\n"
	"  --cmdline STR       kernel command line; replaces the default\n"
	"                      \"" RUN_DEFAULT_CMDLINE "\"\n"
	"                      (Ember appends \"pci=off\" unless it has a pci= already)\n"
	"  --memory MIB        guest RAM in MiB (default 128)\n"
	"  --vcpus N           number of vCPUs (default 1)\n"
	"  --log-level LEVEL   error, warn (default), info or debug\n"
	"  -h, --help          this text\n";

static int parse_u64(const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	uintmax_t v;

	errno = 0;
	if (!s || !*s || *s == '-' || *s == '+')
		goto bad;
	v = strtoumax(s, &end, 10);
	if (errno || *end || v < min || v > max)
		goto bad;
	*out = (uint64_t)v;
	return 0;
bad:
	return err_set(-EINVAL, "%s %s: expected a whole number from %" PRIu64 " to %" PRIu64,
		       opt, s ? s : "", min, max);
}

int run_args_parse(struct run_args *a, int argc, char **argv)
{
	enum { O_KERNEL = 1000, O_INITRD, O_CMDLINE, O_MEMORY, O_VCPUS, O_LOG };
	static const struct option opts[] = {
		{ "kernel", required_argument, NULL, O_KERNEL },
		{ "initrd", required_argument, NULL, O_INITRD },
		{ "cmdline", required_argument, NULL, O_CMDLINE },
		{ "memory", required_argument, NULL, O_MEMORY },
		{ "vcpus", required_argument, NULL, O_VCPUS },
		{ "log-level", required_argument, NULL, O_LOG },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v;
	int c, r;

	memset(a, 0, sizeof(*a));
	a->cmdline = RUN_DEFAULT_CMDLINE;
	a->mem_mib = RUN_DEFAULT_MEM_MIB;
	a->vcpus = RUN_DEFAULT_VCPUS;
	a->log_level = LOG_WARN;

	optind = 0;  /* glibc: 0 re-initialises getopt fully, even mid short-option cluster */
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case O_KERNEL:
			a->kernel = optarg;
			break;
		case O_INITRD:
			a->initrd = optarg;
			break;
		case O_CMDLINE:
			a->cmdline = optarg;
			break;
		case O_MEMORY:
			/* The upper bound only keeps the byte count in range; what the host can
			 * really back is checked when the memory is mapped. */
			r = parse_u64("--memory", optarg, RUN_MIN_MEM_MIB, UINT64_C(1) << 40, &v);
			if (r < 0)
				return r;
			a->mem_mib = v;
			break;
		case O_VCPUS:
			r = parse_u64("--vcpus", optarg, 1, 4096, &v);
			if (r < 0)
				return r;
			a->vcpus = (unsigned int)v;
			break;
		case O_LOG:
			if (log_parse_level(optarg, &a->log_level) < 0)
				return err_set(-EINVAL, "--log-level %s: expected error, warn, info or "
					       "debug", optarg);
			break;
		case 'h':
			a->help = 1;
			return 0;
		case ':':
			return err_set(-EINVAL, "%s needs a value (see 'ember run --help')",
				       argv[optind - 1]);
		default:
			/* A short option inside a cluster ("-xy") is named by optopt; argv[optind
			 * - 1] has not advanced to its word yet. */
			if (optopt)
				return err_set(-EINVAL, "unknown option -%c (see 'ember run --help')",
					       optopt);
			return err_set(-EINVAL, "unknown option %s (see 'ember run --help')",
				       argv[optind - 1]);
		}
	}
	if (optind < argc)
		return err_set(-EINVAL, "unexpected argument '%s' (see 'ember run --help')",
			       argv[optind]);
	if (!a->kernel)
		return err_set(-EINVAL, "--kernel PATH is required (see 'ember run --help')");
	return 0;
}

/* Length of the kernel's part of cmdline: everything before a lone "--" word (what
 * follows it goes to init). *has_pci is set when that part has a pci= parameter. */
static size_t kernel_part(const char *cmdline, int *has_pci)
{
	const char *p = cmdline;

	*has_pci = 0;
	while (*p) {
		const char *w;

		while (*p == ' ')
			p++;
		w = p;
		while (*p && *p != ' ')
			p++;
		if (p - w == 2 && w[0] == '-' && w[1] == '-') {
			/* Back up over the spaces before "--". */
			while (w > cmdline && w[-1] == ' ')
				w--;
			return (size_t)(w - cmdline);
		}
		if (strncmp(w, "pci=", 4) == 0 && p - w >= 4)
			*has_pci = 1;
	}
	return strlen(cmdline);
}

char *run_args_guest_cmdline(const struct run_args *a)
{
	int has_pci;
	size_t head = kernel_part(a->cmdline, &has_pci);
	const char *extra = has_pci ? "" : (head ? " pci=off" : "pci=off");
	size_t len = strlen(a->cmdline) + strlen(extra) + 1;
	char *s = malloc(len);

	if (!s)
		return NULL;
	snprintf(s, len, "%.*s%s%s", (int)head, a->cmdline, extra, a->cmdline + head);
	return s;
}
