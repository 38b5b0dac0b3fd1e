/* sysguard.h: the system-wide guard: MemAvailable and system PSI, and when
 * the whole machine runs short, one victim from the ranking at a time. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* Sampling /proc/meminfo and /proc/pressure/memory. Slow while the machine
 * is comfortable: at the measured leak rates (20-100 MB/s) one second moves
 * MemAvailable by at most 100 MB, less than the distance from the fast zone
 * (twice the threshold) to the threshold on any machine of 1 GiB or more.
 * Fast once near it: the peers that caught a machine-wide leak did so
 * 3.5-6.5 s before the kernel, and 100 ms is a few percent of that. */
#define SYSGUARD_SLOW_INTERVAL (1 * USEC_PER_SEC)
#define SYSGUARD_FAST_INTERVAL (100 * USEC_PER_MSEC)
/* A PSI trigger wake-up keeps fast sampling this long: the avg10 window. */
#define SYSGUARD_PSI_FAST_FOR (10 * USEC_PER_SEC)
/* The graceful restart's bound: if the victim still holds its memory and
 * MemAvailable is still low this long after its stop began, cgroup.kill
 * and process_mrelease. A process that dies on SIGTERM frees its memory in
 * milliseconds; the kernel was measured to be 3.5-6.5 s from acting when
 * the peers caught the leak, so 2 s is what a graceful stop can have. */
#define SYSGUARD_KILL_AFTER (2 * USEC_PER_SEC)
/* At most one victim per interval: the freed memory has to show and the
 * kernel's reclaim to settle before the next sample means anything, and
 * PSI avg10 decays with a ~10 s time constant, so for 10 s after a cure it
 * still shows the pressure that was cured. */
#define SYSGUARD_MIN_INTERVAL (10 * USEC_PER_SEC)
/* System PSI "full" (every non-idle task stalled on memory) must stay at
 * or above the limit this long before it alone chooses a victim. */
#define SYSGUARD_PSI_HOLD (3 * USEC_PER_SEC)
/* The default limit for full avg10, percent. PSI is the weak signal for a
 * machine-wide leak (0.4-1.6 % system PSI measured right up to the
 * kernel's OOM kill), which MemAvailable catches; it is here for
 * thrashing that MemAvailable misses (swap, page cache refaults). A
 * healthy page-cache reader at its limit sits at ~8 % "some" (measured),
 * "full" is far rarer: 40 % full for 3 s means the machine is mostly
 * stalled, well clear of anything healthy. */
#define SYSGUARD_PSI_FULL_DEFAULT 40.0
/* The trigger that switches to fast sampling: 100 ms of "full" stall in a
 * 1 s window (10 %), a quarter of the limit, so sampling is fast before
 * the limit is reached. A false wake-up costs a few file reads. */
#define SYSGUARD_PSI_TRIGGER "full 100000 1000000"
/* --system-min-available's default: earlyoom's long-standing 10 %, capped
 * at 2 GiB so a large machine does not keep tens of GiB idle. */
#define SYSGUARD_MIN_AVAILABLE_DEFAULT "10%,2G"

/* --system-min-available: a percentage of MemTotal, a size, or both
 * ("5%,1G"), in which case the lower applies. */
struct sysguard_threshold {
	double percent;  /* 0: none */
	uint64_t bytes;  /* 0: none */
};
/* 0 or -EINVAL (empty, 0, >= 100 %, two of a kind, junk). */
int sysguard_parse_threshold(const char *s, struct sysguard_threshold *ret);
uint64_t sysguard_threshold_bytes(const struct sysguard_threshold *t, uint64_t mem_total);
/* "10% of MemTotal or 2.0 GiB, whichever is lower" */
void sysguard_threshold_describe(const struct sysguard_threshold *t, char *buf, size_t len);

/* /proc/meminfo, bytes. MemTotal and MemAvailable are required (once
 * each, in kB); other keys are skipped. 0 or -EBADMSG. */
struct sysguard_meminfo {
	uint64_t mem_total, mem_available;
	uint64_t swap_free;   /* 0 when the key is missing (no swap) */
};
int sysguard_parse_meminfo(const char *text, struct sysguard_meminfo *ret);
int sysguard_read_meminfo(const char *proc_root, struct sysguard_meminfo *ret);

struct sysguard_sample {
	usec_t at; /* monotonic */
	uint64_t mem_total, mem_available;
	bool has_psi;
	double psi_some10, psi_full10; /* percent */
	/* Some service is held at its own memory.high, or throttled or frozen
	 * by guardian: that stall is guardian's own doing or the service's
	 * own limit, not the machine running short, so PSI full does not
	 * count while it lasts (MemAvailable still does). */
	bool psi_self;
};

struct sysguard_config {
	const char *proc_root;              /* "/proc" */
	struct sysguard_threshold min_available;
	double psi_full_limit;              /* percent of full avg10; 0 disables */
	bool dry_run;                       /* --dry-run: record, change nothing */
};

enum sysguard_trigger {
	SG_TRIGGER_NONE,
	SG_TRIGGER_MEM_AVAILABLE,
	SG_TRIGGER_PSI_FULL,
};

enum sysguard_verdict {
	SG_IDLE,          /* nothing to do */
	SG_ACT,           /* restart the first of the ranking */
	SG_DRY_RUN,       /* record what would have happened */
	SG_RATE_LIMITED,  /* a victim was chosen less than MIN_INTERVAL ago */
	SG_NO_VICTIM,     /* nobody may be chosen: all protected, or none running */
	SG_WAIT,          /* the victim's graceful stop is under way */
	SG_ESCALATE,      /* ... and took too long: cgroup.kill */
};

/* The guard's memory between samples. Zero-initialised is the start. */
struct sysguard_state {
	usec_t psi_high_since;  /* 0: full avg10 below the limit */
	usec_t psi_held;        /* how long it had been high when the PSI trigger fired */
	usec_t last_choice;     /* when a victim was last chosen (also dry run) */
	bool pending;           /* a victim's graceful stop is under way */
	usec_t pending_deadline;
	bool escalated;
	unsigned noted;         /* verdicts recorded in this episode (bit per verdict) */
};

struct sysguard_decision {
	enum sysguard_verdict verdict;
	bool record;            /* write it to the action log */
};

/* Pure: is the machine short of memory, by the sample? Tracks how long PSI
 * full has been high in st. */
enum sysguard_trigger sysguard_check(const struct sysguard_config *cfg, struct sysguard_state *st,
				     const struct sysguard_sample *s);
/* Pure: what to do about it. n_ranked is how many services the ranking
 * holds; victim_dry_run whether the first one's policy says dry_run;
 * victim_gone whether the pending victim's stop has ended. "Not acting"
 * verdicts are recorded once per episode (until the trigger clears). */
struct sysguard_decision sysguard_decide(const struct sysguard_config *cfg, struct sysguard_state *st,
					 enum sysguard_trigger trigger, usec_t now, size_t n_ranked,
					 bool victim_dry_run, bool victim_gone);
/* Pure: when to sample next. */
usec_t sysguard_next_interval(const struct sysguard_config *cfg, const struct sysguard_state *st,
			      const struct sysguard_sample *s, usec_t psi_woken, usec_t now);

const char *sysguard_trigger_to_string(enum sysguard_trigger t);
const char *sysguard_verdict_to_string(enum sysguard_verdict v);

