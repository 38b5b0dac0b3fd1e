/* act.h: carrying out what the engine decided for one service:
 * memory.reclaim, memory.high, oom_score_adj, cgroup.freeze, restart,
 * stop, kill with process_mrelease, and a rule's exec command. */
#pragma once

#include "engine.h"
#include "supervisor.h"

/* oom_score_adj written by the oom_score_adj step: the kernel's maximum,
 * so that if the kernel wins the race it takes this service first. */
#define ACT_OOM_SCORE_ADJ 1000

struct act_result {
	/* What happened in words for the record (may stay empty), e.g.
	 * "memory.reclaim: EAGAIN (no swap, nothing reclaimable)". */
	char note[256];
	/* kill: the group's processes, and what process_mrelease did. */
	struct act_kill_counts {
		bool killed;
		unsigned processes, released, exited, release_failed;
	} kill;
};

/* Do d to svc (d->verdict must be VERDICT_ACT). Returns 0 or a negative
 * errno; *ret is filled either way. restart, stop and kill end the
 * service's run: the caller must not touch its monitor state after them
 * without checking. */
int act_run(struct service *svc, const struct engine_decision *d, struct act_result *ret);

/* Restore what the ladder may have left behind on a group (thaw, the
 * policy's memory.high), before a new run starts. */
void act_restore(struct service *svc, bool thaw, bool high);
