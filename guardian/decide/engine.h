/* engine.h: the pressure engine's decisions as pure functions of samples:
 * metric values, rule holds, growth and time-to-max, the default guard's
 * ladder, throttle release and rate limits. No I/O: tests feed structs. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "cgfs.h"
#include "policy.h"
#include "util.h"

/* Samples kept for the growth fit: 64 covers the 5 s fit window at the
 * fastest sampling (100 ms) with room to spare. */
#define ENGINE_HISTORY 64
/* Decisions one sample can produce (a release, a step, a rule or two). */
#define ENGINE_MAX_DECISIONS 8

/* One reading of a service's cgroup, as observe/pressure.c takes it. Byte counts;
 * memory_max/memory_high are UINT64_MAX for "max". Event counters and
 * cpu_usec are the kernel's running totals. */
struct engine_sample {
	usec_t at; /* monotonic */
	usec_t woke; /* when the kernel event behind this sample woke guardian (0: a timer's) */
	uint64_t current, anon, file, inactive_file, shmem, swap, pids;
	uint64_t memory_max, memory_high;
	uint64_t swap_max;  /* memory.swap.max (UINT64_MAX: max; 0 without swap accounting) */
	uint64_t swap_free; /* the machine's free swap (SwapFree), filled in by the caller */
	double psi_some10, psi_full10; /* percent */
	uint64_t ev_high, ev_max, ev_oom, ev_oom_kill;
	uint64_t cpu_usec;
	bool psi_fired; /* the PSI trigger woke us since the last sample */
};

/* The default guard's ladder, gentlest first. */
enum engine_step {
	STEP_IDLE,
	STEP_NOTIFY,
	STEP_RECLAIM,
	STEP_THROTTLE,
	STEP_OOM_ADJ,
	STEP_FREEZE,
	STEP_RESTART,
	STEP_KILL,
	_STEP_MAX,
};

/* What the default guard sees. */
enum engine_sign {
	SIGN_NONE,
	SIGN_WARN,     /* the growth fit says memory.max may be near: gentle steps only */
	SIGN_EVIDENCE, /* the kernel holds it at its memory.high tripwire: restart */
	SIGN_KILL,     /* past 97% of memory.max and still growing: cgroup.kill */
};

enum engine_verdict {
	VERDICT_ACT,          /* do it */
	VERDICT_DRY_RUN,      /* record what would have happened */
	VERDICT_RATE_LIMITED, /* a disruptive action held back by the rate limits */
	VERDICT_PROTECTED,    /* protected: true keeps the guard from restarting it */
};

struct engine_decision {
	enum action_kind action;
	bool undo;             /* restore: memory.high back, thaw, oom_score_adj back */
	const struct rule *rule; /* NULL: the default guard */
	const char *source;    /* the rule's name or "default guard" */
	enum metric_kind metric;
	double value, threshold; /* in the metric's unit (time_to_max: usec) */
	enum engine_step step; /* STEP_IDLE for rules */
	uint64_t memory_high;  /* ACTION_THROTTLE: what to write (UINT64_MAX: max) */
	enum engine_verdict verdict;
	bool dry_run;          /* the policy or guardian runs dry: nothing is changed */
	char reason[400];
	/* Figures for the record. */
	uint64_t working_set, memory_max;
	double growth_bps;
	int64_t time_to_max_ms; /* -1: not growing or no memory.max */
	double psi_some, psi_full;
};

struct engine_rule_state {
	bool past;        /* the last sample was past the threshold */
	usec_t since;     /* first sample of the current run past it (0: none) */
	uint8_t ring[100];/* "N of M": the last M samples, 1 = past */
	unsigned ring_n, ring_head;
	usec_t last_fired;
	double value;
};

struct engine_limits {
	usec_t kills[16];  /* monotonic times of the recent disruptive actions */
	unsigned n_kills;
	usec_t min_interval; /* grows when a kill freed nothing */
};

struct engine {
	const struct policy *p;
	bool dry_run;
	/* The last two samples whole (rates need the one before); of the
	 * others only what the growth fit and the tripwire need: a few bytes
	 * a sample, not a whole sample, for every guarded service. */
	struct engine_sample last, prev;
	struct engine_point {
		usec_t at;
		uint64_t ws, ev_high;
	} hist[ENGINE_HISTORY];
	unsigned n, head;                 /* hist[head] is the newest */
	bool have_growth;                 /* the growth fit of the newest sample, */
	double growth_bps;                /* once per sample for all who ask */
	struct engine_rule_state *rules;  /* p->n_rules */
	/* the default guard */
	enum engine_step step;
	usec_t step_at, calm_since;
	uint64_t step_ws;     /* working set when the step was taken */
	bool triggered, rl_noted, protected_noted;
	enum engine_sign sign;
	usec_t evidence_since; /* at the memory.high tripwire since (0: not) */
	bool gentle_done;     /* the gentle steps were taken or skipped this episode */
	char skipped[160];    /* why gentle steps were skipped, for the next record */
	uint64_t step_current; /* memory.current when the step was taken */
	/* The working set every LONG_STEP over the last 30 s. */
	uint64_t long_ws[7];
	usec_t long_at[7];
	unsigned long_n, long_head;
	char why[400];
	enum metric_kind why_metric;
	double why_value, why_threshold;
	/* throttle (by the guard or a rule) */
	bool throttled, throttle_by_guard;
	int throttle_rule;    /* the rule that throttled, -1 for the guard */
	uint64_t throttle_high;
	usec_t throttle_at, push_since, stall_since, unpushed_since;
	bool frozen, oom_raised;
	struct engine_limits lim; /* survives engine_reset: it spans restarts */
};

int engine_init(struct engine *e, const struct policy *p, bool dry_run);
/* Forget samples, holds and the ladder (a new run of the service); the
 * rate limits stay. p may change (a reload). */
int engine_reset(struct engine *e, const struct policy *p, bool dry_run);
void engine_free(struct engine *e);

/* Take one sample; write up to `max` decisions into out and return how many. */
size_t engine_feed(struct engine *e, const struct engine_sample *s, struct engine_decision *out,
		   size_t max);

/* A restart or kill freed almost nothing: back off before the next. */
void engine_note_futile_kill(struct engine *e);

/* Current values (after the last engine_feed). */
const struct engine_sample *engine_last(const struct engine *e);
uint64_t engine_working_set(const struct engine_sample *s);
/* -ENODATA before two samples span enough time. */
int engine_growth(const struct engine *e, double *ret_bps);
/* -ENODATA without memory.max or growth; 0 with *ret when growing. */
int engine_time_to_max(const struct engine *e, usec_t *ret);
/* A metric's value now; -ENODATA when it cannot be known yet (rates need
 * two samples; time_to_max needs growth: then +inf is returned with 0). */
int engine_metric(const struct engine *e, enum metric_kind m, double *ret);
/* Should sampling be fast (the guard is triggered, growth is high, or the
 * working set is above a fraction of memory.max)? */
bool engine_wants_fast(const struct engine *e);
/* How long rule i has been held (usec), and for "N of M" how many of the
 * last M samples were past its threshold. */
usec_t engine_rule_held(const struct engine *e, size_t i, unsigned *ret_count);
/* The guard's next step were it still triggered after its dwell; and when
 * (monotonic) the dwell ends. STEP_IDLE when not triggered. */
enum engine_step engine_next_step(const struct engine *e, usec_t *ret_at);
bool engine_guard_active(const struct engine *e);
/* Is the engine acting on the service: a sign seen, a step taken, or a
 * restart, stop or kill within `within` of `now`? *ret_stalled: the
 * service is held at its memory.high, or throttled or frozen by it. */
bool engine_engaged(const struct engine *e, usec_t now, usec_t within, bool *ret_stalled);

const char *engine_step_to_string(enum engine_step s);
const char *engine_verdict_to_string(enum engine_verdict v);
enum action_kind engine_step_action(enum engine_step s);
