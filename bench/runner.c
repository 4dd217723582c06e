/* runner: runs a command many times and prints one CSV line per run (bench/run.sh).
 *
 *   runner [-n RUNS] [-r FIRST] [-p PAR | -w MS [-g MIB] | -H] [-T] [-t SEC] [-l LABEL]
 *          [-e ERRFILE] -- CMD ARG...
 *
 * Default (sequential) mode: RUNS times, spawn CMD (stdin and stdout /dev/null, stderr
 * appended to ERRFILE or /dev/null), wait4() for it and print
 *   LABEL,RUN,wall_us,user_us,sys_us,maxrss_kb,status
 * wall_us is CLOCK_MONOTONIC from just before posix_spawn() to wait4()'s return (exec,
 * VMM set-up, guest run, teardown, exit); user/sys/maxrss are the child's rusage. status
 * is the exit status, or 128+signal.
 *
 * -p PAR (parallel): each run spawns PAR copies at once and waits for all of them:
 *   LABEL,RUN,wall_us,cpu_us,maxrss_kb,failures
 * wall_us from the first spawn to the last exit, cpu_us the sum of every child's
 * user+sys, maxrss_kb the largest child's, failures the number that did not exit 0.
 *
 * -w MS (snapshot): spawn CMD, sleep MS ms, read /proc/PID/smaps, SIGKILL it, reap it:
 *   LABEL,RUN,rss_kb,guest_kb,other_kb,anon_kb,file_kb,threads,alive,guest_vmas
 * rss_kb is the sum of every mapping's Rss; guest_kb that of the mappings of at least MIB
 * MiB (-g, default 128: the guest RAM); other_kb = rss_kb - guest_kb, split into
 * anonymous (anon_kb: heap, stacks, anonymous mmaps, KVM's vCPU run area) and
 * file-backed (file_kb: the executable and its libraries). alive is 1 if the process was still
 * running when sampled (0: it had exited, the sample is void); guest_vmas counts the
 * mappings taken as guest RAM (expected: 1).
 *
 * -H (high-water mark): spawn CMD under ptrace with PTRACE_O_TRACEEXIT; when its main
 * thread stops at exit (its memory still mapped), read VmHWM from /proc/PID/status:
 *   LABEL,RUN,hwm_kb,status
 * hwm_kb is the peak RSS of the program's own address space. (wait4's ru_maxrss is not:
 * it is the larger of the child's peak and the peak of the address space it had before
 * execve, which for posix_spawn is the runner's own, ~1.4 MiB; ptrace slows the run, so
 * -H runs are not timed.)
 *
 * -t SEC kills every child of a run still alive after SEC seconds (status 128+9).
 * -r FIRST numbers the runs from FIRST (default 1), for callers that interleave.
 * -T disables transparent huge pages for the children (PR_SET_THP_DISABLE on the runner,
 * which children inherit across fork and execve): an A/B switch for profiling. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define MAX_PAR 1024

static pid_t live[MAX_PAR];
static volatile sig_atomic_t nlive;

static void on_alarm(int sig)
{
	(void)sig;
	for (int i = 0; i < nlive; i++)
		if (live[i] > 0)
			kill(live[i], SIGKILL);
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static uint64_t tv_us(struct timeval tv)
{
	return (uint64_t)tv.tv_sec * 1000000u + (uint64_t)tv.tv_usec;
}

static posix_spawn_file_actions_t fa;

static pid_t spawn(char **cmd)
{
	pid_t pid;
	int r = posix_spawn(&pid, cmd[0], &fa, NULL, cmd, environ);

	if (r != 0) {
		fprintf(stderr, "runner: cannot run %s: %s\n", cmd[0], strerror(r));
		exit(1);
	}
	return pid;
}

/* Reaps pid; returns its status code (exit status, or 128 + signal). */
static int reap(pid_t pid, struct rusage *ru)
{
	int st;

	while (wait4(pid, &st, 0, ru) < 0) {
		if (errno != EINTR) {
			perror("runner: wait4");
			exit(1);
		}
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

struct smaps_sum {
	uint64_t rss, guest, anon, file, guest_vmas;
};

static int read_smaps(pid_t pid, uint64_t guest_min, struct smaps_sum *s)
{
	char path[64], line[512];
	FILE *f;
	uint64_t size = 0;
	int is_file = 0;

	memset(s, 0, sizeof(*s));
	snprintf(path, sizeof(path), "/proc/%d/smaps", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long a, b, v;
		char perms[8], dev[16];
		unsigned long long off, inode;

		if (sscanf(line, "%llx-%llx %7s %llx %15s %llu", &a, &b, perms, &off, dev,
			   &inode) == 6) {
			size = b - a;
			is_file = inode != 0;
			if (size >= guest_min)
				s->guest_vmas++;
			continue;
		}
		if (sscanf(line, "Rss: %llu kB", &v) == 1) {
			s->rss += v;
			if (size >= guest_min)
				s->guest += v;
			else if (is_file)
				s->file += v;
			else
				s->anon += v;
		}
	}
	fclose(f);
	return 0;
}

/* One -H run: returns the exit status; *hwm_kb = VmHWM at the exit stop (0 if none). */
static int run_hiwater(char **cmd, const char *errfile, unsigned long long *hwm_kb)
{
	int st, fd;
	pid_t pid = fork();

	*hwm_kb = 0;
	if (pid < 0) {
		perror("runner: fork");
		exit(1);
	}
	if (pid == 0) {
		fd = open("/dev/null", O_RDWR);
		dup2(fd, 0);
		dup2(fd, 1);
		fd = open(errfile, O_WRONLY | O_CREAT | O_APPEND, 0644);
		dup2(fd, 2);
		ptrace(PTRACE_TRACEME, 0, NULL, NULL);
		execvp(cmd[0], cmd);
		_exit(127);
	}
	live[0] = pid;
	nlive = 1;
	/* First stop: the SIGTRAP after execve. */
	if (waitpid(pid, &st, 0) < 0 || !WIFSTOPPED(st)) {
		nlive = 0;
		return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	}
	ptrace(PTRACE_SETOPTIONS, pid, NULL, (void *)(long)PTRACE_O_TRACEEXIT);
	ptrace(PTRACE_CONT, pid, NULL, NULL);
	for (;;) {
		if (waitpid(pid, &st, 0) < 0) {
			if (errno == EINTR)
				continue;
			perror("runner: waitpid");
			exit(1);
		}
		if (WIFEXITED(st) || WIFSIGNALED(st))
			break;
		if (WIFSTOPPED(st) && st >> 8 == (SIGTRAP | (PTRACE_EVENT_EXIT << 8))) {
			char path[64], line[256];
			FILE *f;

			snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
			f = fopen(path, "r");
			while (f && fgets(line, sizeof(line), f))
				if (sscanf(line, "VmHWM: %llu kB", hwm_kb) == 1)
					break;
			if (f)
				fclose(f);
			ptrace(PTRACE_CONT, pid, NULL, NULL);
		} else if (WIFSTOPPED(st)) {
			/* Pass every other signal on (a signal-delivery stop). */
			ptrace(PTRACE_CONT, pid, NULL, (void *)(long)WSTOPSIG(st));
		}
	}
	nlive = 0;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int count_threads(pid_t pid)
{
	char path[64], line[256];
	FILE *f;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Threads: %d", &n) == 1)
			break;
	fclose(f);
	return n;
}

static void usage(void)
{
	fputs("usage: runner [-n RUNS] [-r FIRST] [-p PAR | -w MS [-g MIB] | -H] [-T] [-t SEC] "
	      "[-l LABEL] [-e ERRFILE] -- CMD ARG...\n", stderr);
	exit(2);
}

int main(int argc, char **argv)
{
	int runs = 1, first = 1, par = 0, wait_ms = -1, timeout = 0, hiwater = 0, opt;
	uint64_t guest_min = 128ull << 20;
	const char *label = "run", *errfile = "/dev/null";

	while ((opt = getopt(argc, argv, "+n:r:p:w:g:t:l:e:HT")) != -1) {
		switch (opt) {
		case 'n': runs = atoi(optarg); break;
		case 'r': first = atoi(optarg); break;
		case 'p': par = atoi(optarg); break;
		case 'w': wait_ms = atoi(optarg); break;
		case 'g': guest_min = strtoull(optarg, NULL, 0) << 20; break;
		case 't': timeout = atoi(optarg); break;
		case 'l': label = optarg; break;
		case 'e': errfile = optarg; break;
		case 'H': hiwater = 1; break;
		case 'T':
			if (prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) < 0) {
				perror("runner: PR_SET_THP_DISABLE");
				return 1;
			}
			break;
		default: usage();
		}
	}
	if (optind >= argc || runs < 1 || par < 0 || par > MAX_PAR)
		usage();
	char **cmd = argv + optind;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, errfile, O_WRONLY | O_CREAT | O_APPEND, 0644);

	struct sigaction sa = { .sa_handler = on_alarm };
	sigaction(SIGALRM, &sa, NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);

	for (int run = first; run < first + runs; run++) {
		struct rusage ru;

		if (hiwater) {
			unsigned long long hwm;
			int st;

			if (timeout)
				alarm((unsigned)timeout);
			st = run_hiwater(cmd, errfile, &hwm);
			alarm(0);
			printf("%s,%d,%llu,%d\n", label, run, hwm, st);
		} else if (wait_ms >= 0) {
			struct smaps_sum s;
			struct timespec d = { wait_ms / 1000, (long)(wait_ms % 1000) * 1000000L };
			pid_t pid = spawn(cmd);
			int alive, threads;

			live[0] = pid;
			nlive = 1;
			while (nanosleep(&d, &d) < 0 && errno == EINTR)
				;
			/* Still running (not a zombie) when sampled? */
			siginfo_t si = { .si_pid = 0 };
			alive = waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
				si.si_pid == 0 && read_smaps(pid, guest_min, &s) == 0;
			threads = count_threads(pid);
			kill(pid, SIGKILL);
			reap(pid, &ru);
			nlive = 0;
			if (!alive)
				memset(&s, 0, sizeof(s));
			printf("%s,%d,%llu,%llu,%llu,%llu,%llu,%d,%d,%llu\n", label, run,
			       (unsigned long long)s.rss, (unsigned long long)s.guest,
			       (unsigned long long)(s.rss - s.guest), (unsigned long long)s.anon,
			       (unsigned long long)s.file, threads, alive,
			       (unsigned long long)s.guest_vmas);
		} else if (par > 0) {
			uint64_t t0 = now_us(), cpu = 0;
			long maxrss = 0;
			int failures = 0;

			for (int i = 0; i < par; i++)
				live[i] = spawn(cmd);
			nlive = par;
			if (timeout)
				alarm((unsigned)timeout);
			for (int i = 0; i < par; i++) {
				if (reap(live[i], &ru) != 0)
					failures++;
				cpu += tv_us(ru.ru_utime) + tv_us(ru.ru_stime);
				if (ru.ru_maxrss > maxrss)
					maxrss = ru.ru_maxrss;
			}
			uint64_t wall = now_us() - t0;
			alarm(0);
			nlive = 0;
			printf("%s,%d,%llu,%llu,%ld,%d\n", label, run, (unsigned long long)wall,
			       (unsigned long long)cpu, maxrss, failures);
		} else {
			uint64_t t0 = now_us();
			pid_t pid = spawn(cmd);
			int st;

			live[0] = pid;
			nlive = 1;
			if (timeout)
				alarm((unsigned)timeout);
			st = reap(pid, &ru);
			uint64_t wall = now_us() - t0;
			alarm(0);
			nlive = 0;
			printf("%s,%d,%llu,%llu,%llu,%ld,%d\n", label, run, (unsigned long long)wall,
			       (unsigned long long)tv_us(ru.ru_utime),
			       (unsigned long long)tv_us(ru.ru_stime), ru.ru_maxrss, st);
		}
	}
	return 0;
}
