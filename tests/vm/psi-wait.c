/* psi-wait: arm a PSI trigger and wait for it to fire (VM test helper).
 *
 *   psi-wait FILE "some 150000 1000000" TIMEOUT_MS
 *
 * FILE is a pressure file (/proc/pressure/memory, CG/memory.pressure).
 * Prints "psi-wait: armed" once the trigger is written, then
 * "psi-wait: woken after S s" and exits 0 on POLLPRI, or
 * "psi-wait: timeout after S s" and exits 1. Exit 2 on errors, including
 * POLLERR (the cgroup went away). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int parse_timeout(const char *s, int *ret)
{
	long v;
	char *end;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 0 || v > 24L * 3600 * 1000)
		return -EINVAL;
	*ret = (int)v;
	return 0;
}

int main(int argc, char **argv)
{
	const char *file, *trigger;
	struct pollfd pfd;
	double start, left_ms;
	int timeout_ms, fd, r;

	if (argc != 4 || parse_timeout(argv[3], &timeout_ms) < 0) {
		fprintf(stderr, "usage: psi-wait FILE \"some|full STALL_US WINDOW_US\" TIMEOUT_MS\n");
		return 2;
	}
	file = argv[1];
	trigger = argv[2];
	setvbuf(stdout, NULL, _IOLBF, 0);

	fd = open(file, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "psi-wait: open %s: %s\n", file, strerror(errno));
		return 2;
	}
	/* The kernel takes the trigger with its terminating NUL
	 * (Documentation/accounting/psi.rst). */
	if (write(fd, trigger, strlen(trigger) + 1) < 0) {
		fprintf(stderr, "psi-wait: write '%s' to %s: %s\n", trigger, file, strerror(errno));
		close(fd);
		return 2;
	}
	printf("psi-wait: armed %s \"%s\"\n", file, trigger);

	start = now();
	pfd = (struct pollfd){ .fd = fd, .events = POLLPRI };
	for (;;) {
		left_ms = (double)timeout_ms - (now() - start) * 1000.0;
		if (left_ms < 0)
			left_ms = 0;
		r = poll(&pfd, 1, (int)left_ms);
		if (r < 0 && errno == EINTR)
			continue;
		break;
	}
	close(fd);
	if (r < 0) {
		fprintf(stderr, "psi-wait: poll %s: %s\n", file, strerror(errno));
		return 2;
	}
	if (r == 0) {
		printf("psi-wait: timeout after %.3f s\n", now() - start);
		return 1;
	}
	if (pfd.revents & POLLERR) {
		fprintf(stderr, "psi-wait: POLLERR on %s (cgroup removed?)\n", file);
		return 2;
	}
	printf("psi-wait: woken after %.3f s\n", now() - start);
	return 0;
}
