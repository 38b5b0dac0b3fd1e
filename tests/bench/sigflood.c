/* sigflood: what sending a fatal signal costs the sender, for the signal
 * observer's overhead (bpf-signal.sh).
 *
 *   sigflood [N]    (default 200000)
 *
 * A child blocks SIGTERM and takes each one with sigwaitinfo(), then
 * answers on a pipe; the parent sends N SIGTERMs one at a time and times
 * only its kill() calls, so every signal is generated and queued
 * ("delivered" to the tracepoint, not "already pending") and the figure is
 * the sender's path through signal_generate, where the observer runs.
 * Prints "sigflood: N signals, X ns/signal (kill only)". */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void child(int ack)
{
	sigset_t set;
	char c = 1;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	for (;;) {
		if (sigwaitinfo(&set, NULL) < 0 && errno != EINTR)
			_exit(1);
		if (write(ack, &c, 1) != 1)
			_exit(0);
	}
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 200000;
	long long total = 0;
	int ack[2];
	sigset_t set;
	pid_t pid;
	char c;

	if (n <= 0 || pipe(ack) < 0)
		return 2;
	/* Blocked before the fork, so no SIGTERM can kill the child early. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		close(ack[0]);
		child(ack[1]);
	}
	close(ack[1]);
	for (long i = 0; i < n; i++) {
		long long t0 = now_ns();

		if (kill(pid, SIGTERM) < 0) {
			perror("sigflood: kill");
			return 1;
		}
		total += now_ns() - t0;
		if (read(ack[0], &c, 1) != 1) {
			fprintf(stderr, "sigflood: the child is gone\n");
			return 1;
		}
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	printf("sigflood: %ld signals, %.0f ns/signal (kill only)\n", n, (double)total / (double)n);
	return 0;
}
