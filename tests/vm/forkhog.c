/* forkhog: a VM test workload of many processes, each holding its own
 * anonymous memory.
 *
 *   forkhog --children N [--kib K] [--more M]
 *
 * Forks N children; each maps K KiB (default 1024) of its own, touches
 * every page and then waits to be killed. The parent prints
 * "forkhog: pid P start N children", then "forkhog: N children ready" once
 * every child has touched its memory. On each SIGUSR1 it forks M more such
 * children (default 0) and prints "forkhog: M more, T children". A test
 * counts the processes in cgroup.procs first, then crosses a pids rule's
 * threshold by sending SIGUSR1, so the rule cannot fire before the count
 * was seen. Line buffered, so a test can wait on the lines. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "util.h"

static void usage(void)
{
	fprintf(stderr, "usage: forkhog --children N [--kib K] [--more M]\n");
	exit(2);
}

/* The child's life: its own memory, one byte to say so, then wait. */
static _Noreturn void child(unsigned long kib, int ready_fd)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t len = kib * 1024;
	sigset_t none;
	unsigned char *p;

	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	if (len) {
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED) {
			fprintf(stderr, "forkhog: child %d: mmap %lu KiB: %s\n", (int)getpid(), kib, strerror(errno));
			_exit(1);
		}
		(void)madvise(p, len, MADV_NOHUGEPAGE);
		for (size_t off = 0; off < len; off += (size_t)page)
			p[off] = 1;
	}
	if (ready_fd >= 0 && write(ready_fd, "x", 1) != 1)
		_exit(1);
	if (ready_fd >= 0)
		close(ready_fd);
	for (;;)
		pause();
}

/* Forks n children and waits until each has touched its memory (one byte
 * each on a pipe). */
static int fork_children(unsigned long n, unsigned long kib)
{
	int fds[2];
	unsigned long got = 0;

	if (pipe(fds) < 0) {
		fprintf(stderr, "forkhog: pipe: %s\n", strerror(errno));
		return -1;
	}
	for (unsigned long i = 0; i < n; i++) {
		pid_t pid = fork();

		if (pid < 0) {
			fprintf(stderr, "forkhog: fork after %lu children: %s\n", i, strerror(errno));
			return -1;
		}
		if (pid == 0) {
			close(fds[0]);
			child(kib, fds[1]);
		}
	}
	close(fds[1]);
	while (got < n) {
		char buf[256];
		ssize_t r = read(fds[0], buf, sizeof(buf));

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			fprintf(stderr, "forkhog: only %lu of %lu children got ready\n", got, n);
			close(fds[0]);
			return -1;
		}
		got += (unsigned long)r;
	}
	close(fds[0]);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "children", required_argument, NULL, 'n' },
		{ "kib", required_argument, NULL, 'k' },
		{ "more", required_argument, NULL, 'm' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t n = 0, kib = 1024, more = 0, total;
	bool have_n = false;
	sigset_t usr1;
	int c;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'n':
			if (parse_u64(optarg, &n) < 0)
				usage();
			have_n = true;
			break;
		case 'k':
			if (parse_u64(optarg, &kib) < 0 || kib > 1024 * 1024)
				usage();
			break;
		case 'm':
			if (parse_u64(optarg, &more) < 0)
				usage();
			break;
		default:
			usage();
		}
	}
	if (optind != argc || !have_n)
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* Blocked from the start: a SIGUSR1 sent early waits for sigwait. */
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	if (sigprocmask(SIG_BLOCK, &usr1, NULL) < 0) {
		fprintf(stderr, "forkhog: sigprocmask: %s\n", strerror(errno));
		return 1;
	}
	printf("forkhog: pid %d start %lu children of %lu KiB\n", (int)getpid(), n, kib);
	if (fork_children(n, kib) < 0)
		return 1;
	total = n;
	printf("forkhog: %lu children ready\n", total);
	for (;;) {
		int sig;

		if (sigwait(&usr1, &sig) != 0)
			continue;
		if (fork_children(more, kib) < 0)
			return 1;
		total += more;
		printf("forkhog: %lu more, %lu children\n", more, total);
	}
}
