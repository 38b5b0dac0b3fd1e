/* lifecycle.c: the pure half of a service's state machine (lifecycle.h):
 * exit classification, backoff, the give-up budget, what follows an exit. */
#include "lifecycle.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

const char *service_state_to_string(enum service_state s)
{
	static const char *const names[] = {
		[SVC_STOPPED] = "stopped",   [SVC_STARTING] = "starting", [SVC_RUNNING] = "running",
		[SVC_STOPPING] = "stopping", [SVC_BACKOFF] = "backoff",   [SVC_GAVE_UP] = "gave-up",
	};
	return names[s];
}

const char *exit_cause_to_string(enum exit_cause c)
{
	static const char *const names[] = {
		[EXIT_NONE] = "none",         [EXIT_CODE] = "exited",     [EXIT_SIGNAL] = "signal",
		[EXIT_OOM_KILL] = "oom-kill", [EXIT_GUARDIAN] = "guardian", [EXIT_EXEC_FAILED] = "exec-failed",
		[EXIT_HEALTH] = "health",     [EXIT_UNKNOWN] = "unknown",      [EXIT_RULE] = "rule",
	};
	return names[c];
}

usec_t restart_backoff(const struct policy *p, unsigned failures, double jitter)
{
	double d = (double)p->restart.delay;

	for (unsigned i = 1; i < failures && d < (double)p->restart.max_delay; i++)
		d *= 2;
	if (d > (double)p->restart.max_delay)
		d = (double)p->restart.max_delay;
	/* +-10% so services that failed together do not restart in lockstep. */
	d += d * 0.1 * jitter;
	return d < 0 ? 0 : (usec_t)d;
}

bool restart_budget_exhausted(const struct policy *p, const usec_t *times, unsigned n, usec_t now)
{
	unsigned recent = 0;

	if (p->restart.give_up_restarts == 0)
		return false;
	for (unsigned i = 0; i < n; i++)
		if (times[i] && now - times[i] <= p->restart.give_up_within)
			recent++;
	return recent >= p->restart.give_up_restarts;
}

void lifecycle_classify_exit(const struct exit_report *r, struct service_exit *e)
{
	if (e->cause == EXIT_EXEC_FAILED && e->at && r->how == CLD_EXITED && r->status == 127)
		return; /* already classified from the exec pipe */
	e->at = r->now;
	e->has_sender = false;
	e->code = r->adopted ? 0 : r->status;
	if (r->stopping) {
		e->cause = r->stop_cause ?: EXIT_GUARDIAN;
		return;
	}
	if (r->adopted) {
		e->cause = r->oom_kill_rose ? EXIT_OOM_KILL : EXIT_UNKNOWN;
		return;
	}
	if (r->how == CLD_EXITED) {
		e->cause = EXIT_CODE;
		return;
	}
	e->cause = EXIT_SIGNAL;
	e->has_sender = r->last_signal && r->last_signal->sig == r->status && r->last_signal->target == r->pid;
	if (e->has_sender)
		e->sender = *r->last_signal;
	if (r->status == SIGKILL && r->oom_kill_rose)
		e->cause = EXIT_OOM_KILL;
}

bool lifecycle_exit_failed(const struct service_exit *e)
{
	return !(e->cause == EXIT_CODE && e->code == 0);
}

void lifecycle_describe_exit(const struct service_exit *e, char *buf, size_t len)
{
	switch (e->cause) {
	case EXIT_CODE: snprintf(buf, len, "exited with status %d", e->code); break;
	case EXIT_SIGNAL:
		if (e->has_sender) {
			char who[96];

			signal_sender_describe(&e->sender, who, sizeof(who));
			snprintf(buf, len, "killed by %s", who);
		} else
			snprintf(buf, len, "killed by SIG%s", sigabbrev_np(e->code) ?: "?");
		break;
	case EXIT_OOM_KILL: snprintf(buf, len, "killed by the kernel OOM killer"); break;
	case EXIT_EXEC_FAILED: snprintf(buf, len, "could not start: %s", strerror(e->code)); break;
	case EXIT_UNKNOWN: snprintf(buf, len, "its processes are gone (adopted: no exit status)"); break;
	default: snprintf(buf, len, "%s", exit_cause_to_string(e->cause)); break;
	}
}

struct restart_plan lifecycle_plan_restart(const struct restart_input *in)
{
	const struct policy *p = in->policy;
	struct restart_plan plan = { .next = NEXT_STOP, .failures_in_row = in->failures_in_row };

	if (!in->want_running || p->restart.mode == RESTART_NEVER ||
	    (p->restart.mode == RESTART_ON_FAILURE && !lifecycle_exit_failed(in->exit)))
		return plan;
	if (in->started && in->now - in->started >= p->restart.stable_after)
		plan.failures_in_row = 0;
	plan.failures_in_row++;
	if (restart_budget_exhausted(p, in->times, in->n_times, in->now)) {
		plan.next = NEXT_GIVE_UP;
		return plan;
	}
	plan.next = NEXT_RESTART;
	plan.delay = restart_backoff(p, plan.failures_in_row, in->jitter);
	return plan;
}

void lifecycle_note_restart(unsigned *restarts, usec_t *times, unsigned n_times, usec_t now)
{
	(*restarts)++;
	times[*restarts % n_times] = now;
}

void lifecycle_carry_restarts(unsigned restarts, const usec_t *from, unsigned n_from, usec_t *to, unsigned n_to)
{
	for (unsigned k = 0; k < n_from && k < n_to && k < restarts; k++)
		to[(restarts - k) % n_to] = from[(restarts - k) % n_from];
}
