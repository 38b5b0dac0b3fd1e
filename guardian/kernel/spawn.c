/* spawn.c: clone3(CLONE_INTO_CGROUP | CLONE_PIDFD) and the child's setup
 * before exec. The child reports a failure through a CLOEXEC pipe. */
#include "spawn.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <linux/sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include "cgfs.h"
#include "procs.h"

#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif

static const char *const stage_names[] = {
	[SPAWN_STAGE_SETSID] = "setsid",
	[SPAWN_STAGE_STDIO] = "redirecting output",
	[SPAWN_STAGE_OOM_SCORE_ADJ] = "setting oom_score_adj",
	[SPAWN_STAGE_RLIMIT] = "setting rlimits",
	[SPAWN_STAGE_CHDIR] = "changing to working_directory",
	[SPAWN_STAGE_GROUPS] = "setting groups",
	[SPAWN_STAGE_USER] = "changing user",
	[SPAWN_STAGE_EXEC] = "exec",
};

const char *spawn_stage_to_string(int stage)
{
	if (stage < 0 || (size_t)stage >= ARRAY_SIZE(stage_names))
		return "setup";
	return stage_names[stage];
}

static int strv_push_fmt(char **v, size_t *n, const char *name, const char *value)
{
	char *s;

	if (asprintf(&s, "%s=%s", name, value) < 0)
		return -ENOMEM;
	v[(*n)++] = s;
	return 0;
}

int spawn_build_env(const struct policy *p, const char *home, const char *user, const char *shell,
		    char ***ret)
{
	_cleanup_strv_free_ char **env = calloc(p->n_environment + 8, sizeof(char *));
	size_t n = 0;
	int r = 0;

	if (!env)
		return -ENOMEM;
	r |= strv_push_fmt(env, &n, "PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	r |= strv_push_fmt(env, &n, "GUARDIAN_SERVICE", p->service);
	if (home)
		r |= strv_push_fmt(env, &n, "HOME", home);
	if (user) {
		r |= strv_push_fmt(env, &n, "USER", user);
		r |= strv_push_fmt(env, &n, "LOGNAME", user);
	}
	if (shell)
		r |= strv_push_fmt(env, &n, "SHELL", shell);
	if (r < 0)
		return -ENOMEM;
	/* The policy's variables come last and replace earlier ones. */
	for (size_t i = 0; i < p->n_environment; i++) {
		size_t len = strlen(p->environment[i].name);

		for (size_t j = 0; j < n; j++)
			if (strncmp(env[j], p->environment[i].name, len) == 0 && env[j][len] == '=') {
				free(env[j]);
				env[j] = env[--n];
				env[n] = NULL;
				break;
			}
		if (strv_push_fmt(env, &n, p->environment[i].name, p->environment[i].value) < 0)
			return -ENOMEM;
	}
	*ret = TAKE_PTR(env);
	return 0;
}

static _Noreturn void child_fail(int pipe_fd, int stage)
{
	struct spawn_failure f = { .stage = stage, .err = errno };

	(void)!write(pipe_fd, &f, sizeof(f));
	_exit(127);
}

static void child_reset_signals(void)
{
	sigset_t all;
	struct sigaction dfl = { .sa_handler = SIG_DFL };

	for (int sig = 1; sig < _NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			sigaction(sig, &dfl, NULL);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
}

static void child_setup_stdio(int output_fd, int pipe_fd)
{
	int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (null_fd < 0 || dup2(null_fd, STDIN_FILENO) < 0)
		child_fail(pipe_fd, SPAWN_STAGE_STDIO);
	if (output_fd >= 0 &&
	    (dup2(output_fd, STDOUT_FILENO) < 0 || dup2(output_fd, STDERR_FILENO) < 0))
		child_fail(pipe_fd, SPAWN_STAGE_STDIO);
}

/* The soft RLIMIT_NOFILE guardian started with; 0: never raised. */
static rlim_t child_nofile;

int spawn_raise_nofile(rlim_t *ret_soft)
{
	struct rlimit rl;

	uint64_t nr_open = 0;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -errno;
	if (!child_nofile)
		child_nofile = rl.rlim_cur;
	/* As root the hard limit may go up to fs.nr_open (a busybox init
	 * leaves 4096, a few fds short of a thousand services); up to 1M, as
	 * systemd gives its services at most. */
	if (cgfs_read_u64(AT_FDCWD, "/proc/sys/fs/nr_open", &nr_open) == 0 && nr_open > rl.rlim_max) {
		struct rlimit up = { .rlim_cur = (rlim_t)(nr_open < (1 << 20) ? nr_open : (1 << 20)) };

		up.rlim_max = up.rlim_cur;
		if (up.rlim_max > rl.rlim_max && setrlimit(RLIMIT_NOFILE, &up) == 0)
			rl = up;
	}
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -errno;
	*ret_soft = rl.rlim_cur;
	return 0;
}

static void child_setup_limits(const struct policy *p, int pipe_fd)
{
	if (child_nofile) {
		struct rlimit rl;

		if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
			child_fail(pipe_fd, SPAWN_STAGE_RLIMIT);
		rl.rlim_cur = child_nofile;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			child_fail(pipe_fd, SPAWN_STAGE_RLIMIT);
	}
	/* Always the service's own value (the policy's, or 0): otherwise it
	 * inherits guardian's (the shipped unit's -900), and the kernel's
	 * OOM killer would spare exactly the services guardian guards. */
	{
		int r = proc_set_oom_score_adj("/proc", getpid(), p->oom_score_adj_set ? p->oom_score_adj : 0);

		if (r < 0) {
			errno = -r;
			child_fail(pipe_fd, SPAWN_STAGE_OOM_SCORE_ADJ);
		}
	}
	for (size_t i = 0; i < p->n_rlimits; i++) {
		struct rlimit rl = { .rlim_cur = p->rlimits[i].soft, .rlim_max = p->rlimits[i].hard };

		if (setrlimit(p->rlimits[i].resource, &rl) < 0)
			child_fail(pipe_fd, SPAWN_STAGE_RLIMIT);
	}
}

/* The ids the policy's load resolved: no NSS after fork (its locks and
 * sockets are the parent's, and the event loop must not wait on it). */
static void child_setup_user(const struct policy_cred *c, int pipe_fd)
{
	if (!c->set)
		return;
	if (setgroups(c->n_groups, c->groups) < 0)
		child_fail(pipe_fd, SPAWN_STAGE_GROUPS);
	if (setresgid(c->gid, c->gid, c->gid) < 0)
		child_fail(pipe_fd, SPAWN_STAGE_GROUPS);
	if (setresuid(c->uid, c->uid, c->uid) < 0)
		child_fail(pipe_fd, SPAWN_STAGE_USER);
}

static _Noreturn void child_run(const struct policy *p, char *const *argv, char **envp, int output_fd,
				int pipe_fd)
{
	extern char **environ;

	child_reset_signals();
	if (setsid() < 0)
		child_fail(pipe_fd, SPAWN_STAGE_SETSID);
	child_setup_stdio(output_fd, pipe_fd);
	/* oom_score_adj and rlimits while still privileged: lowering either
	 * needs CAP_SYS_RESOURCE. */
	child_setup_limits(p, pipe_fd);
	child_setup_user(&p->cred, pipe_fd);
	/* As the service's user, as systemd does: a directory the user may
	 * not enter is an error here, not a start in a place it cannot use. */
	if (chdir(p->working_directory ? p->working_directory : (p->cred.home ? p->cred.home : "/")) < 0 &&
	    (p->working_directory || chdir("/") < 0))
		child_fail(pipe_fd, SPAWN_STAGE_CHDIR);
	/* Nothing of guardian's reaches the service: every fd above stderr
	 * closes at exec (the exec report pipe is close-on-exec already), and
	 * setuid binaries give it no more than it has. */
	(void)close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
	if (p->no_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		child_fail(pipe_fd, SPAWN_STAGE_USER);
	/* execvp searches the PATH of environ: give it the service's own. */
	environ = envp;
	execvp(argv[0], argv);
	child_fail(pipe_fd, SPAWN_STAGE_EXEC);
}

int spawn_in_cgroup(const struct policy *p, char *const *argv, int cgroup_fd, int output_fd,
		    struct spawn_result *ret)
{
	_cleanup_strv_free_ char **envp = NULL;
	int pidfd = -1, pipefd[2];
	struct clone_args args = {
		.flags = CLONE_INTO_CGROUP | CLONE_PIDFD,
		.exit_signal = SIGCHLD,
		.cgroup = (uint64_t)cgroup_fd,
	};
	long pid;
	int r;

	r = spawn_build_env(p, p->cred.home, p->user, p->cred.shell, &envp);
	if (r < 0)
		return r;
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;
	args.pidfd = (uint64_t)(uintptr_t)&pidfd;
	/* clone3 refuses CLONE_INTO_CGROUP with an invalid fd: -1 means the
	 * child stays in guardian's own cgroup (exec health checks, tests). */
	if (cgroup_fd < 0) {
		args.flags &= ~(uint64_t)CLONE_INTO_CGROUP;
		args.cgroup = 0;
	}
	pid = syscall(SYS_clone3, &args, sizeof(args));
	if (pid < 0) {
		r = -errno;
		close(pipefd[0]);
		close(pipefd[1]);
		return r;
	}
	if (pid == 0) {
		close(pipefd[0]);
		child_run(p, argv, envp, output_fd, pipefd[1]);
	}
	close(pipefd[1]);
	*ret = (struct spawn_result){ .pid = (pid_t)pid, .pidfd = pidfd, .exec_pipe = pipefd[0] };
	return 0;
}
