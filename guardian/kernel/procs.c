/* procs.c: a cgroup's processes: the one kill-and-release, the one
 * oom_score_adj writer, and the words for a signal's sender. */
#include "procs.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cgfs.h"

/* Fds left free for cgroup.kill and its freeze-and-signal fallback when a
 * group has more processes than guardian may open pidfds. */
#define KILL_FD_RESERVE 8

#ifndef SYS_process_mrelease
#define SYS_process_mrelease 448 /* Linux 5.15; the same number on every arch */
#endif

int group_kill_prepare(int cgfd, struct group_kill *ret)
{
	struct group_kill k = { 0 };
	int r;

	*ret = k;
	r = cgfs_read_procs(cgfd, &k.pids, &k.n);
	if (r < 0)
		return r;
	k.pidfds = malloc((k.n ? k.n : 1) * sizeof(*k.pidfds));
	if (!k.pidfds) {
		free(k.pids);
		return -ENOMEM;
	}
	for (size_t i = 0; i < k.n; i++) {
		k.pidfds[i] = (int)syscall(SYS_pidfd_open, k.pids[i], 0);
		if (k.pidfds[i] >= 0 || (errno != EMFILE && errno != ENFILE))
			continue;
		/* Out of fds: the rest are killed but not released, and the
		 * last few pidfds make room for the kill itself. */
		for (size_t j = i + 1; j < k.n; j++)
			k.pidfds[j] = -1;
		for (size_t j = i, freed = 0; j > 0 && freed < KILL_FD_RESERVE; j--)
			if (k.pidfds[j - 1] >= 0) {
				close(k.pidfds[j - 1]);
				k.pidfds[j - 1] = -1;
				freed++;
			}
		k.unreleased = k.n - i;
		break;
	}
	*ret = k;
	return 0;
}

int group_kill_finish(int cgfd, struct group_kill *k)
{
	int r = cgfs_kill(cgfd);

	for (size_t i = 0; k->pidfds && i < k->n; i++) {
		if (k->pidfds[i] < 0 || r < 0)
			continue;
		if (syscall(SYS_process_mrelease, k->pidfds[i], 0) == 0)
			k->released++;
		else if (errno == ESRCH)
			k->exited++;
		else if (k->failed++ == 0)
			k->error = errno;
	}
	return r;
}

int group_kill_and_release(int cgfd, struct group_kill *ret)
{
	/* Without the pids (cgroup.procs unreadable, no memory) the group is
	 * still killed, only not released. */
	(void)group_kill_prepare(cgfd, ret);
	return group_kill_finish(cgfd, ret);
}

void group_kill_done(struct group_kill *k)
{
	for (size_t i = 0; k->pidfds && i < k->n; i++)
		if (k->pidfds[i] >= 0)
			close(k->pidfds[i]);
	free(k->pidfds);
	free(k->pids);
	*k = (struct group_kill){ 0 };
}

int proc_set_oom_score_adj(const char *proc_root, pid_t pid, int value)
{
	char path[512], buf[16];
	_cleanup_close_ int fd = -1;

	snprintf(path, sizeof(path), "%s/%d/oom_score_adj", proc_root ? proc_root : "/proc", (int)pid);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	snprintf(buf, sizeof(buf), "%d", value);
	return write_all(fd, buf, strlen(buf));
}

int group_set_oom_score_adj(int cgfd, const char *proc_root, int value, size_t *ret_done, size_t *ret_n)
{
	_cleanup_free_ pid_t *pids = NULL;
	size_t n = 0, done = 0;
	int r = cgfs_read_procs(cgfd, &pids, &n);

	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++)
		done += proc_set_oom_score_adj(proc_root, pids[i], value) == 0;
	if (ret_done)
		*ret_done = done;
	if (ret_n)
		*ret_n = n;
	return 0;
}

int group_get_oom_score_adj(int cgfd, const char *proc_root, int *ret)
{
	_cleanup_free_ pid_t *pids = NULL;
	size_t n = 0;
	int r = cgfs_read_procs(cgfd, &pids, &n);

	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		char path[512], buf[16];
		_cleanup_close_ int fd = -1;
		int64_t v;
		ssize_t l;

		snprintf(path, sizeof(path), "%s/%d/oom_score_adj", proc_root ? proc_root : "/proc", (int)pids[i]);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || (l = read_up_to(fd, buf, sizeof(buf) - 1)) <= 0)
			continue; /* exited meanwhile */
		buf[l] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		if (parse_i64(buf, &v) == 0 && v >= -1000 && v <= 1000) {
			*ret = (int)v;
			return 0;
		}
	}
	return -ENOENT;
}

void signal_sender_describe(const struct signal_sender *s, char *buf, size_t len)
{
	snprintf(buf, len, "SIG%s from pid %d (%s, uid %u)", sigabbrev_np(s->sig) ?: "?", s->pid,
		 s->comm[0] ? s->comm : "?", (unsigned)s->uid);
}
