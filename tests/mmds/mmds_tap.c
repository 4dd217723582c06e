/* MMDS against a real Linux TCP/IP stack, without a VM: this program plays the device,
 * moving frames between a tap and an mmds_stack, while the host kernel (in a private
 * network namespace, see run.sh) plays the guest, with curl and busybox wget as its
 * clients. Frames not for MMDS are dropped (there is no "host network" here).
 *
 *   mmds_tap TAP STORE.json V1|V2
 *
 * Runs until SIGTERM/SIGINT. Prints "ready" on stdout once the tap is open. */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "mmds/mmds_stack.h"
#include "mmds/mmds_store.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)n + 1);
		if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		}
		*len = (size_t)n;
	}
	fclose(f);
	return buf;
}

int main(int argc, char **argv)
{
	struct ifreq ifr;
	struct mmds_store *s;
	struct mmds_stack *st;
	static uint8_t frame[65536 + 64];
	char err[256];
	size_t jlen = 0;
	char *json;
	int fd;

	if (argc != 4) {
		fprintf(stderr, "usage: %s TAP STORE.json V1|V2\n", argv[0]);
		return 2;
	}
	json = slurp(argv[2], &jlen);
	s = mmds_store_new();
	if (!json || !s || mmds_store_put_json(s, json, jlen, err, sizeof(err)) < 0 ||
	    mmds_config_set(s, argv[3], NULL, err, sizeof(err)) < 0) {
		fprintf(stderr, "mmds_tap: bad store or version: %s\n", err);
		return 1;
	}
	st = mmds_stack_new(s);
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (!st || fd < 0) {
		perror("mmds_tap: /dev/net/tun");
		return 1;
	}
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", argv[1]);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		perror("mmds_tap: TUNSETIFF");
		return 1;
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	printf("ready\n");
	fflush(stdout);
	while (!stop) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 200) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p.revents & POLLIN) {
			n = read(fd, frame, sizeof(frame));
			if (n > 0)
				mmds_stack_rx_from_guest(st, frame, (size_t)n);
		}
		for (;;) {
			size_t len = mmds_stack_tx_to_guest(st, frame, 1514);

			if (!len)
				break;
			if (write(fd, frame, len) < 0)
				perror("mmds_tap: write");
		}
	}
	{
		struct mmds_stack_stats x;

		mmds_stack_get_stats(st, &x);
		fprintf(stderr, "mmds_tap: rx %llu (dropped %llu), tx %llu, conns opened %llu "
			"refused %llu reclaimed %llu, open now %u\n",
			(unsigned long long)x.rx_frames, (unsigned long long)x.rx_dropped,
			(unsigned long long)x.tx_frames, (unsigned long long)x.conns_opened,
			(unsigned long long)x.conns_refused, (unsigned long long)x.conns_reclaimed,
			mmds_stack_conns(st));
	}
	mmds_stack_free(st);
	mmds_store_free(s);
	free(json);
	close(fd);
	return 0;
}
