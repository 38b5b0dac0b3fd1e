/* actions.h: doing what the engine decided to one service: memory.reclaim,
 * memory.high, oom_score_adj, cgroup.freeze, restart, stop, cgroup.kill
 * with process_mrelease, and a rule's exec command. */
#pragma once

#include "engine.h"
#include "supervisor.h"

/* oom_score_adj written by the oom_score_adj step: the kernel's maximum,
 * so that if the kernel wins the race it takes this service first. */
#define ACTIONS_OOM_SCORE_ADJ 1000

/* Do d to svc (d->verdict must be VERDICT_ACT). Returns 0 or a negative
 * errno; *note (may stay empty) says what happened in words for the
 * record, e.g. "memory.reclaim: EAGAIN (no swap, nothing reclaimable)".
 * restart, stop and kill end the service's run: the caller must not touch
 * its monitor state after them without checking. */
int actions_run(struct service *svc, const struct engine_decision *d, char *note, size_t len);

/* Restore what the ladder may have left behind on a group (thaw, the
 * policy's memory.high), before a new run starts. */
void actions_restore(struct service *svc, bool thaw, bool high);
