/* act.c: the engine's decisions carried out on a service's cgroup and
 * processes. Each returns 0/-errno and a note; monitor.c records them. */
#include "act.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "cgfs.h"
#include "log.h"
#include "spawn.h"

/* memory.reclaim asks for a tenth of memory.current: enough to show whether
 * the kernel can give memory back, small enough not to evict the service's
 * whole page cache at once. */
#define RECLAIM_FRACTION 10

static int do_reclaim(struct service *svc, char *note, size_t len)
{
	uint64_t cur = 0;
	int r;

	r = cgfs_read_u64(svc->cgfd, "memory.current", &cur);
	if (r < 0)
		return r;
	r = cgfs_write_u64(svc->cgfd, "memory.reclaim", cur / RECLAIM_FRACTION);
	if (r == -EAGAIN) {
		/* Documented: less than asked was reclaimed. Without swap and
		 * with little page cache that is the normal answer. */
		snprintf(note, len, "memory.reclaim of %" PRIu64 " bytes: EAGAIN (the kernel reclaimed less: "
			 "no swap or little page cache)", cur / RECLAIM_FRACTION);
		return 0;
	}
	if (r == 0)
		snprintf(note, len, "memory.reclaim of %" PRIu64 " bytes", cur / RECLAIM_FRACTION);
	return r;
}

static int do_throttle(struct service *svc, const struct engine_decision *d, char *note, size_t len)
{
	int r = cgfs_write_u64(svc->cgfd, "memory.high", d->memory_high);

	if (r == 0)
		svc->guardian_high = d->memory_high; /* a watched cgroup's tripwire logic knows it as guardian's */

	if (r == 0 && d->memory_high == UINT64_MAX)
		snprintf(note, len, "memory.high = max");
	else if (r == 0)
		snprintf(note, len, "memory.high = %" PRIu64, d->memory_high);
	return r;
}

/* Raise to the kernel's maximum, or undo: back to what guardian set at
 * the start (the policy's value, or 0), or for a watched cgroup to what
 * its owner had set before the raise. */
static int do_oom_adj(struct service *svc, bool undo, char *note, size_t len)
{
	const struct policy *p = svc->policy;
	int value = undo ? (p->oom_score_adj_set ? p->oom_score_adj : 0) : ACT_OOM_SCORE_ADJ;
	size_t done = 0, n = 0;
	int r;

	if (svc->watched && !undo && !svc->oom_score_adj_raised)
		svc->oom_score_adj_raised =
			group_get_oom_score_adj(svc->cgfd, svc->sup->cfg.proc_root, &svc->oom_score_adj_found) == 0;
	if (undo && svc->oom_score_adj_raised) {
		value = svc->oom_score_adj_found;
		svc->oom_score_adj_raised = false;
	}
	r = group_set_oom_score_adj(svc->cgfd, svc->sup->cfg.proc_root, value, &done, &n);
	if (r < 0)
		return r;
	snprintf(note, len, "oom_score_adj = %d on %zu of %zu processes%s", value, done, n,
		 undo && svc->watched ? " (the value its owner had set)" : "");
	return 0;
}

static int do_kill(struct service *svc, const char *reason, struct act_result *res)
{
	struct group_kill k;
	int r;

	/* Without the pids the group is still killed, only not released. */
	(void)group_kill_prepare(svc->cgfd, &k);
	/* Through the service's own stop path, so the exit is classified as
	 * the engine's and the restart policy decides what follows; no stop
	 * command and no SIGTERM ahead of the kill. */
	(void)service_kill_because(svc, EXIT_RULE, reason, svc->policy->restart.mode != RESTART_NEVER);
	r = group_kill_finish(svc->cgfd, &k);
	res->kill = (struct act_kill_counts){ .killed = true, .processes = (unsigned)k.n, .released = k.released,
					      .exited = k.exited, .release_failed = k.failed };
	snprintf(res->note, sizeof(res->note), "cgroup.kill; process_mrelease on %u of %zu processes "
		 "(%u had exited, %u failed)", k.released, k.n, k.exited, k.failed);
	group_kill_done(&k);
	return r;
}

struct exec_child {
	struct loop_source *src;
};

static int on_exec_exit(struct loop_source *src, int fd, uint32_t revents, void *data)
{
	struct exec_child *c = data;
	siginfo_t si = { 0 };

	if (waitid((idtype_t)P_PIDFD, (id_t)fd, &si, WEXITED | WNOHANG) == 0 && si.si_pid == 0)
		return 0;
	loop_source_free(c->src);
	free(c);
	return 0;
}

static int do_exec(struct service *svc, const struct engine_decision *d, char *note, size_t len)
{
	struct policy copy = *svc->policy;
	const struct policy *p = svc->policy;
	_cleanup_free_ struct env_var *env = calloc(p->n_environment + 5, sizeof(*env));
	char value[64];
	struct spawn_result sr;
	struct exec_child *c;
	int r;

	if (!env || !d->rule || !d->rule->exec)
		return env ? -EINVAL : -ENOMEM;
	memcpy(env, p->environment, p->n_environment * sizeof(*env));
	snprintf(value, sizeof(value), "%g", d->value);
	env[p->n_environment + 0] = (struct env_var){ "GUARDIAN_RULE", (char *)d->source };
	env[p->n_environment + 1] = (struct env_var){ "GUARDIAN_METRIC", (char *)metric_kind_to_string(d->metric) };
	env[p->n_environment + 2] = (struct env_var){ "GUARDIAN_VALUE", value };
	env[p->n_environment + 3] = (struct env_var){ "GUARDIAN_ACTION", "exec" };
	env[p->n_environment + 4] = (struct env_var){ "GUARDIAN_REASON", (char *)d->reason };
	copy.environment = env;
	copy.n_environment = p->n_environment + 5;
	/* GUARDIAN_SERVICE is set by spawn_build_env for every child. */
	r = spawn_in_cgroup(&copy, d->rule->exec, -1, -1, &sr);
	if (r < 0)
		return r;
	close(sr.exec_pipe);
	c = calloc(1, sizeof(*c));
	if (!c || loop_add_fd(svc->sup->loop, sr.pidfd, EPOLLIN, true, on_exec_exit, c, &c->src) < 0) {
		free(c);
		close(sr.pidfd); /* the child is left to init's reaping once we exit */
		return -ENOMEM;
	}
	snprintf(note, len, "ran %s as pid %d", d->rule->exec[0], sr.pid);
	return 0;
}

int act_run(struct service *svc, const struct engine_decision *d, struct act_result *ret)
{
	char *note = ret->note;
	size_t len = sizeof(ret->note);

	*ret = (struct act_result){ 0 };
	if (svc->cgfd < 0)
		return -EBADF;
	/* A watched cgroup is someone else's to restart or stop: guardian's
	 * restart, stop and kill of it are all the kill. */
	if (svc->watched && action_ends_run(d->action))
		return do_kill(svc, d->reason, ret);
	switch (d->action) {
	case ACTION_NOTIFY: return 0;
	case ACTION_RECLAIM: return do_reclaim(svc, note, len);
	case ACTION_THROTTLE: return do_throttle(svc, d, note, len);
	case ACTION_OOM_ADJ: return do_oom_adj(svc, d->undo, note, len);
	case ACTION_FREEZE:
		snprintf(note, len, "cgroup.freeze = %d", d->undo ? 0 : 1);
		return cgfs_freeze(svc->cgfd, !d->undo);
	case ACTION_RESTART: return service_restart(svc, EXIT_RULE, d->reason, true); /* thaws */
	case ACTION_STOP: return service_stop_because(svc, EXIT_RULE, d->reason);
	case ACTION_KILL: return do_kill(svc, d->reason, ret);
	case ACTION_EXEC: return do_exec(svc, d, note, len);
	default: return -EINVAL;
	}
}

void act_restore(struct service *svc, bool thaw, bool high)
{
	const struct limit *l = &svc->policy->limits.memory_high;

	if (svc->cgfd < 0)
		return;
	if (thaw)
		(void)cgfs_freeze(svc->cgfd, false);
	if (high)
		(void)cgfs_write_u64(svc->cgfd, "memory.high", l->set ? l->value : CGFS_MAX);
}
