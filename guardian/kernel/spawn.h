/* spawn.h: starting one service process straight into its cgroup with
 * clone3(CLONE_INTO_CGROUP), with its user, limits and environment. */
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include "policy.h"

/* What the child reports through the exec pipe when it fails before exec. */
struct spawn_failure {
	int stage; /* enum spawn_stage */
	int err;   /* errno */
};

enum spawn_stage {
	SPAWN_STAGE_SETSID,
	SPAWN_STAGE_STDIO,
	SPAWN_STAGE_OOM_SCORE_ADJ,
	SPAWN_STAGE_RLIMIT,
	SPAWN_STAGE_CHDIR,
	SPAWN_STAGE_GROUPS,
	SPAWN_STAGE_USER,
	SPAWN_STAGE_EXEC,
};

const char *spawn_stage_to_string(int stage);

struct spawn_result {
	pid_t pid;
	int pidfd;
	int exec_pipe; /* read end: EOF means exec succeeded; else a struct spawn_failure */
};

/* guardian holds a few fds per guarded cgroup, so it raises its own
 * RLIMIT_NOFILE soft limit to the hard one; services get the soft limit it
 * started with (select(2) breaks above 1024), unless their policy sets
 * nofile. Returns 0 or a negative errno; the soft limit raised to. */
int spawn_raise_nofile(rlim_t *ret_soft);

/* argv: the command; output_fd: where stdout/stderr go (-1: inherit).
 * The child takes on p->cred, the ids resolved when the policy loaded:
 * a spawn asks NSS nothing. Returns 0 or a negative errno (clone3). */
int spawn_in_cgroup(const struct policy *p, char *const *argv, int cgroup_fd, int output_fd,
		    struct spawn_result *ret);

/* Build the environment a service sees: a clean PATH, the user's HOME,
 * USER, LOGNAME, SHELL, GUARDIAN_SERVICE, then the policy's variables. */
int spawn_build_env(const struct policy *p, const char *home, const char *user, const char *shell,
		    char ***ret);
