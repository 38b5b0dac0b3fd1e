/* procs.h: the processes of a cgroup: killing the group and releasing its
 * memory at once, their oom_score_adj, and who sent one of them a signal. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util.h"

/* A kill of a whole group. The pidfds are taken before anything is sent,
 * while the pids still name the group's processes; afterwards they may be
 * reaped and reused. No cap on the number of processes. */
struct group_kill {
	pid_t *pids;        /* the group's processes before the kill */
	int *pidfds;        /* -1 where pidfd_open failed (already gone) */
	size_t n;
	unsigned released;  /* process_mrelease reaped the address space */
	unsigned exited;    /* ESRCH: its exit had freed it already */
	unsigned failed;    /* any other error, the first in `error` */
	int error;
	size_t unreleased;  /* no pidfd could be opened (out of fds): killed, not released */
};

/* Read cgroup.procs and open a pidfd for each process; out of fds, the
 * rest go without (and a few are closed again, so the kill has room). */
int group_kill_prepare(int cgfd, struct group_kill *ret);
/* cgroup.kill (cgfs_kill), then process_mrelease on every pidfd so the
 * memory comes back now, not when each exit gets to it. mrelease only
 * when the kill succeeded: a live process cannot be released. */
int group_kill_finish(int cgfd, struct group_kill *k);
/* Both, for a caller with nothing to do in between; the group is killed
 * even when its processes could not be read. */
int group_kill_and_release(int cgfd, struct group_kill *ret);
/* Close the pidfds and free; safe on a zeroed or finished kill. */
void group_kill_done(struct group_kill *k);

/* Write oom_score_adj of one process (proc_root NULL: "/proc"). */
int proc_set_oom_score_adj(const char *proc_root, pid_t pid, int value);
/* ... and of every process in a group: how many were written of how many. */
int group_set_oom_score_adj(int cgfd, const char *proc_root, int value, size_t *ret_done, size_t *ret_n);
/* The oom_score_adj of the group's first process that has one (what its
 * owner set): -ENOENT when the group is empty. */
int group_get_oom_score_adj(int cgfd, const char *proc_root, int *ret);

/* A fatal signal someone sent to a process, as the BPF signal observer
 * saw it. */
struct signal_sender {
	int sig;
	pid_t target;
	pid_t pid;      /* sender */
	uid_t uid;
	char comm[16];
	usec_t at;      /* monotonic */
};

/* "SIGKILL from pid 4242 (stop.sh, uid 0)" */
void signal_sender_describe(const struct signal_sender *s, char *buf, size_t len);
