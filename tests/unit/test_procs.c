/* test_procs.c: a group's kill when guardian is short of fds. A temp
 * directory stands in for the cgroup: its cgroup.procs lists real child
 * processes, so pidfd_open works on them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgfs.h"
#include "procs.h"
#include "tmptree.h"

#define CHILDREN 64

static pid_t kids[CHILDREN];

static int fake_group(char *dir, size_t len)
{
	FILE *f;
	int fd;

	tmptree_new(dir, len, "procs");
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	f = fdopen(openat(fd, "cgroup.procs", O_WRONLY | O_CREAT | O_CLOEXEC, 0644), "w");
	assert_non_null(f);
	for (int i = 0; i < CHILDREN; i++) {
		kids[i] = fork();
		assert_true(kids[i] >= 0);
		if (kids[i] == 0) {
			pause();
			_exit(0);
		}
		fprintf(f, "%d\n", (int)kids[i]);
	}
	fclose(f);
	close(openat(fd, "cgroup.kill", O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
	return fd;
}

static void remove_group(int cgfd, const char *dir)
{
	(void)unlinkat(cgfd, "cgroup.procs", 0);
	(void)unlinkat(cgfd, "cgroup.kill", 0);
	close(cgfd);
	(void)rmdir(dir);
}

static void reap_kids(void)
{
	for (int i = 0; i < CHILDREN; i++) {
		kill(kids[i], SIGKILL);
		waitpid(kids[i], NULL, 0);
	}
}

static int free_fds(void)
{
	int fds[64], n = 0;

	while (n < 64 && (fds[n] = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0)
		n++;
	for (int i = 0; i < n; i++)
		close(fds[i]);
	return n;
}

static void every_process_gets_a_pidfd_when_fds_suffice(void **state)
{
	char dir[64];
	int cgfd = fake_group(dir, sizeof(dir));
	struct group_kill k;
	size_t open_fds = 0;

	assert_int_equal(group_kill_prepare(cgfd, &k), 0);
	assert_int_equal(k.n, CHILDREN);
	for (size_t i = 0; i < k.n; i++)
		open_fds += k.pidfds[i] >= 0;
	assert_int_equal(open_fds, CHILDREN);
	assert_int_equal(k.unreleased, 0);
	group_kill_done(&k);
	reap_kids();
	remove_group(cgfd, dir);
}

static void out_of_fds_the_kill_still_has_room(void **state)
{
	char dir[64];
	int cgfd = fake_group(dir, sizeof(dir));
	struct rlimit old, low;
	struct group_kill k;
	int room;

	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	/* Fewer fds than the group has processes. */
	low = (struct rlimit){ .rlim_cur = 40, .rlim_max = old.rlim_max };
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	assert_int_equal(group_kill_prepare(cgfd, &k), 0);
	assert_int_equal(k.n, CHILDREN);
	assert_true(k.unreleased > 0);
	/* cgroup.kill and its fallback can still open what they need. */
	room = free_fds();
	assert_true(room >= 8);
	/* The kill itself goes through (here: a write to the stand-in file). */
	assert_int_equal(group_kill_finish(cgfd, &k), 0);
	group_kill_done(&k);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	reap_kids();
	remove_group(cgfd, dir);
}

/* The stop signal to a group without a main process: every listed
 * process gets it, through a pidfd that pins it (so a pid reused by a
 * stranger between the read and the signal is not hit), and out of fds
 * through kill() still. */
static void a_group_signal_reaches_every_listed_process(void **state)
{
	char dir[64];
	int cgfd = fake_group(dir, sizeof(dir));
	struct rlimit old, low;

	assert_int_equal(cgfs_signal_group(cgfd, SIGTERM), 0);
	for (int i = 0; i < CHILDREN; i++) {
		int st;

		assert_int_equal(waitpid(kids[i], &st, 0), kids[i]);
		assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);
	}
	remove_group(cgfd, dir);

	cgfd = fake_group(dir, sizeof(dir));
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	low = (struct rlimit){ .rlim_cur = 40, .rlim_max = old.rlim_max };
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	assert_int_equal(cgfs_signal_group(cgfd, SIGTERM), 0);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	for (int i = 0; i < CHILDREN; i++) {
		int st;

		assert_int_equal(waitpid(kids[i], &st, 0), kids[i]);
		assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);
	}
	remove_group(cgfd, dir);
}

/* What a watched group's owner set is read back before guardian raises
 * it, so that the undo restores it (the kubelet's per-QoS value). */
static void a_groups_oom_score_adj_is_read_back(void **state)
{
	char dir[64];
	int cgfd = fake_group(dir, sizeof(dir)), v = 0;
	size_t done = 0, n = 0;

	(void)state;
	assert_int_equal(group_set_oom_score_adj(cgfd, NULL, 500, &done, &n), 0);
	assert_int_equal(done, CHILDREN);
	assert_int_equal(group_get_oom_score_adj(cgfd, NULL, &v), 0);
	assert_int_equal(v, 500);
	assert_int_equal(group_set_oom_score_adj(cgfd, NULL, 1000, NULL, NULL), 0);
	assert_int_equal(group_get_oom_score_adj(cgfd, NULL, &v), 0);
	assert_int_equal(v, 1000);
	reap_kids();
	assert_int_equal(group_get_oom_score_adj(cgfd, NULL, &v), -ENOENT);
	remove_group(cgfd, dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_process_gets_a_pidfd_when_fds_suffice),
		cmocka_unit_test(out_of_fds_the_kill_still_has_room),
		cmocka_unit_test(a_group_signal_reaches_every_listed_process),
		cmocka_unit_test(a_groups_oom_score_adj_is_read_back),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
