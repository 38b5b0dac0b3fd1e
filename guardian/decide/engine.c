/* engine.c: the pressure engine's decisions: rule holds, the working set's
 * growth fit and time-to-max, the default guard's escalation ladder with a
 * check after each step, throttle release and rate limits. Pure: no I/O. */
#include "engine.h"

#include <math.h>
#include <inttypes.h>
#include <stdarg.h>

#define MiB (1024.0 * 1024.0)

/* Growth is a least-squares fit of the working set over the last 5 s:
 * long enough to average out allocator jitter at 1 s sampling (5 points),
 * short enough that a leak that just started shows within a few samples. */
#define GROWTH_WINDOW (5 * USEC_PER_SEC)
/* ... and over the last 1 s, so a spike is not diluted by the flat samples
 * before it; the larger of the two is used (danger is judged pessimistic). */
#define GROWTH_SHORT (1 * USEC_PER_SEC)
/* Two samples closer than this give a slope dominated by noise. */
#define GROWTH_MIN_SPAN (200 * USEC_PER_MSEC)
/* Below 256 KiB/s the working set is flat for our purposes (page tables,
 * allocator caches): time_to_max is infinite. */
#define GROWTH_MIN (256.0 * 1024.0)

/* The default guard watches two kinds of signs. A warning is the growth
 * fit alone: memory.max under 20 s away at the current growth once the
 * working set is past half of it, or past 90% and still growing. It
 * samples fast and records a notify, and takes the gentle steps that can
 * work (reclaim and throttle, when there is memory to give back), but
 * never restarts: a fit over a few seconds is a hint, and a service that
 * grows fast for a moment and then stays flat (a cache warming up, a heap
 * sizing itself) would be restarted for nothing. */
#define GUARD_TTM (20 * USEC_PER_SEC)
#define GUARD_TTM_MIN_FRAC 0.5
#define GUARD_FRAC 0.90
/* Evidence is the kernel's own: the service's working set is at its
 * memory.high tripwire (set just below memory.max, policy_guard_high) and
 * memory.events `high` keeps rising, so the kernel is holding it there.
 * A memory.high within 1/8 of memory.max counts as a tripwire, whoever
 * set it. */
#define TRIPWIRE_NEAR_DIV 8
/* ... for 500 ms: a heap that touches the tripwire and is collected again
 * within that is left alone (five fast samples). */
#define EVIDENCE_HOLD (500 * USEC_PER_MSEC)
/* memory.events high "keeps rising": it rose within the last second. */
#define HIGH_RECENT (1 * USEC_PER_SEC)
/* Without a tripwire (memory.high far below memory.max, or max), evidence
 * is the working set past 90% of memory.max and still growing over the
 * long window, with memory.max under 10 s away. */
#define FALLBACK_TTM (10 * USEC_PER_SEC)
/* The long window: the working set every 5 s over the last 30 s. */
#define LONG_STEP (5 * USEC_PER_SEC)
/* Past 97% of memory.max and still growing: a graceful stop would lose the
 * race with the kernel; cgroup.kill. With a tripwire the line is 60% of
 * the way from memory.high to memory.max instead: the kernel lets a held
 * leak run a few MiB past memory.high (5.5-7 MiB measured on 256M), which
 * must not read as a failed hold. */
#define KILL_FRAC 0.97
#define KILL_TRIPWIRE_FRAC 0.6
/* Back to idle (throttle released) after 5 s without a sign: five calm
 * samples agree that the growth stopped. */
#define GUARD_CALM (5 * USEC_PER_SEC)

/* Dwell per gentle step: how long it gets to show an effect before the
 * next: one second, ten fast samples, so the growth fit has moved. */
#define STEP_DWELL (1 * USEC_PER_SEC)
/* There is memory to give back when page cache is at least 2% of
 * memory.max, or the group may swap and swap has room: without swap,
 * anonymous memory cannot be reclaimed, and throttling it only stalls it. */
#define RECLAIM_MIN_FRAC 0.02
/* reclaim helped if the working set fell by 1% of memory.max. */
#define RECLAIM_GAIN_FRAC 0.01

/* A throttled service is "pushing" when its working set is within 2% of
 * the lowered memory.high: the kernel is holding it there. */
#define PUSH_MARGIN_FRAC 0.02
/* The guard escalates past throttle after 10 s of pushing: the leak goes
 * on, only slowed, and memory.high without swap sleeps up to 2 s per fault. */
#define THROTTLE_PUSH_MAX (10 * USEC_PER_SEC)
/* ... or after 5 s of PSI full above 40%: the service is stalled, not served. */
#define THROTTLE_STALL_PSI 40.0
#define THROTTLE_STALL_MAX (5 * USEC_PER_SEC)
/* A rule's throttle is released after 2 min at most: nothing stalls for ever. */
#define THROTTLE_MAX (120 * USEC_PER_SEC)
/* Released once not pushing and not growing for 5 s: the leak stopped. */
#define THROTTLE_CALM (5 * USEC_PER_SEC)

/* A rule still past its threshold fires again after 30 s, not every sample. */
#define RULE_REFIRE (30 * USEC_PER_SEC)

/* Restarts/kills/stops: at least 10 s apart (a restarted leaker shows its
 * growth again within that), at most 5 per 10 minutes; a kill that freed
 * nothing doubles the gap, up to 10 minutes. */
#define KILL_MIN_INTERVAL (10 * USEC_PER_SEC)
#define KILLS_WINDOW (600 * USEC_PER_SEC)
#define KILLS_MAX 5
#define KILL_BACKOFF_MAX (600 * USEC_PER_SEC)

/* Sample fast while the working set is past half of memory.max or
 * under a minute from it. */
#define FAST_FRAC 0.5
#define FAST_TTM (60 * USEC_PER_SEC)

static const char *const step_names[_STEP_MAX] = {
	[STEP_IDLE] = "idle", [STEP_NOTIFY] = "notify", [STEP_RECLAIM] = "reclaim",
	[STEP_THROTTLE] = "throttle", [STEP_OOM_ADJ] = "oom_score_adj", [STEP_FREEZE] = "freeze",
	[STEP_RESTART] = "restart", [STEP_KILL] = "kill",
};

const char *engine_step_to_string(enum engine_step s)
{
	return s < _STEP_MAX ? step_names[s] : "?";
}

const char *engine_verdict_to_string(enum engine_verdict v)
{
	static const char *const n[] = { "act", "dry-run", "rate-limited", "protected" };
	return v < ARRAY_SIZE(n) ? n[v] : "?";
}

enum action_kind engine_step_action(enum engine_step s)
{
	static const enum action_kind a[_STEP_MAX] = {
		[STEP_NOTIFY] = ACTION_NOTIFY, [STEP_RECLAIM] = ACTION_RECLAIM,
		[STEP_THROTTLE] = ACTION_THROTTLE, [STEP_OOM_ADJ] = ACTION_OOM_ADJ,
		[STEP_FREEZE] = ACTION_FREEZE, [STEP_RESTART] = ACTION_RESTART, [STEP_KILL] = ACTION_KILL,
	};
	return s < _STEP_MAX ? a[s] : ACTION_NONE;
}

/* --- lifecycle ---------------------------------------------------------- */

int engine_reset(struct engine *e, const struct policy *p, bool dry_run)
{
	struct engine_limits lim = e->lim;
	struct engine_rule_state *rules = NULL;

	if (p->n_rules && !(rules = calloc(p->n_rules, sizeof(*rules))))
		return -ENOMEM;
	free(e->rules);
	*e = (struct engine){ .p = p, .dry_run = dry_run || p->dry_run, .rules = rules, .lim = lim };
	return 0;
}

int engine_init(struct engine *e, const struct policy *p, bool dry_run)
{
	*e = (struct engine){ .lim.min_interval = KILL_MIN_INTERVAL };
	return engine_reset(e, p, dry_run);
}

void engine_free(struct engine *e)
{
	free(e->rules);
	e->rules = NULL;
}

void engine_note_futile_kill(struct engine *e)
{
	e->lim.min_interval = e->lim.min_interval * 2 > KILL_BACKOFF_MAX ? KILL_BACKOFF_MAX
									  : e->lim.min_interval * 2;
}

/* --- samples and metrics -------------------------------------------------- */

const struct engine_sample *engine_last(const struct engine *e)
{
	return e->n ? &e->last : NULL;
}

static const struct engine_point *nth(const struct engine *e, unsigned back)
{
	return back < e->n ? &e->hist[(e->head + ENGINE_HISTORY - back) % ENGINE_HISTORY] : NULL;
}

static const struct engine_sample *previous(const struct engine *e)
{
	return e->n >= 2 ? &e->prev : NULL;
}

uint64_t engine_working_set(const struct engine_sample *s)
{
	/* MADV_FREE'd (lazyfree) pages sit on the inactive file LRU, and page
	 * cache is file: neither is what the service needs to keep. */
	return memory_working_set(s->current, s->inactive_file);
}

/* Least-squares slope of the working set over the samples in the last
 * `window`; -ENODATA with fewer than two samples spanning GROWTH_MIN_SPAN. */
static int fit_slope(const struct engine *e, usec_t window, double *ret)
{
	const struct engine_sample *last = engine_last(e);
	const struct engine_point *s;
	double st = 0, sw = 0, stt = 0, stw = 0, k = 0, t0, span = 0;

	if (!last)
		return -ENODATA;
	t0 = (double)last->at;
	for (unsigned i = 0; (s = nth(e, i)) && last->at - s->at <= window; i++) {
		double t = ((double)s->at - t0) / 1e6, w = (double)s->ws;

		st += t, sw += w, stt += t * t, stw += t * w, k++;
		span = -t;
	}
	if (k < 2 || span * 1e6 < (double)GROWTH_MIN_SPAN)
		return -ENODATA;
	*ret = (k * stw - st * sw) / (k * stt - st * st);
	return 0;
}

static int fit_growth(const struct engine *e, double *ret_bps)
{
	double lng, shrt;
	int r = fit_slope(e, GROWTH_WINDOW, &lng);

	if (r < 0)
		return r;
	if (fit_slope(e, GROWTH_SHORT, &shrt) == 0 && shrt > lng)
		lng = shrt;
	*ret_bps = lng;
	return 0;
}

int engine_growth(const struct engine *e, double *ret_bps)
{
	if (!e->have_growth)
		return -ENODATA;
	*ret_bps = e->growth_bps;
	return 0;
}

int engine_time_to_max(const struct engine *e, usec_t *ret)
{
	const struct engine_sample *s = engine_last(e);
	double g, us;
	uint64_t ws;

	if (!s || s->memory_max == UINT64_MAX || engine_growth(e, &g) < 0 || g < GROWTH_MIN)
		return -ENODATA;
	ws = engine_working_set(s);
	us = ws >= s->memory_max ? 0 : (double)(s->memory_max - ws) / g * 1e6;
	/* A huge memory.max at a slow growth is past what usec_t holds. */
	*ret = us >= (double)(USEC_INFINITY - 1) ? USEC_INFINITY - 1 : (usec_t)us;
	return 0;
}

static double frac_of_max(const struct engine_sample *s)
{
	if (s->memory_max == UINT64_MAX || s->memory_max == 0)
		return 0;
	return (double)engine_working_set(s) / (double)s->memory_max;
}

static int rate_since_prev(const struct engine *e, uint64_t now_v, uint64_t prev_v, double *ret)
{
	const struct engine_sample *s = engine_last(e), *p = previous(e);

	if (!p || s->at <= p->at || now_v < prev_v)
		return -ENODATA;
	*ret = (double)(now_v - prev_v) / ((double)(s->at - p->at) / 1e6);
	return 0;
}

int engine_metric(const struct engine *e, enum metric_kind m, double *ret)
{
	const struct engine_sample *s = engine_last(e), *p = previous(e);
	usec_t ttm;
	int r;

	if (!s)
		return -ENODATA;
	switch (m) {
	case METRIC_WORKING_SET: *ret = (double)engine_working_set(s); return 0;
	case METRIC_MEMORY_CURRENT: *ret = (double)s->current; return 0;
	case METRIC_ANON: *ret = (double)s->anon; return 0;
	case METRIC_FILE: *ret = (double)s->file; return 0;
	case METRIC_SHMEM: *ret = (double)s->shmem; return 0;
	case METRIC_SWAP: *ret = (double)s->swap; return 0;
	case METRIC_PSI_SOME_AVG10: *ret = s->psi_some10; return 0;
	case METRIC_PSI_FULL_AVG10: *ret = s->psi_full10; return 0;
	case METRIC_PIDS: *ret = (double)s->pids; return 0;
	case METRIC_MEMORY_EVENTS_HIGH_RATE:
		return p ? rate_since_prev(e, s->ev_high, p->ev_high, ret) : -ENODATA;
	case METRIC_CPU:
		if (!p || (r = rate_since_prev(e, s->cpu_usec, p->cpu_usec, ret)) < 0)
			return -ENODATA;
		*ret = *ret / 1e6 * 100.0; /* usec of CPU per second, as percent of one CPU */
		return 0;
	case METRIC_TIME_TO_MAX:
		*ret = engine_time_to_max(e, &ttm) == 0 ? (double)ttm : INFINITY;
		return 0;
	default: return -EINVAL;
	}
}

bool engine_wants_fast(const struct engine *e)
{
	const struct engine_sample *s = engine_last(e);
	usec_t ttm;

	if (!s)
		return false;
	return e->triggered || e->throttled || s->psi_fired || frac_of_max(s) >= FAST_FRAC ||
	       (engine_time_to_max(e, &ttm) == 0 && ttm < FAST_TTM);
}

bool engine_engaged(const struct engine *e, usec_t now, usec_t within, bool *ret_stalled)
{
	const struct engine_limits *l = &e->lim;
	usec_t last = l->n_kills ? l->kills[(l->n_kills - 1) % ARRAY_SIZE(l->kills)] : 0;

	double g;

	*ret_stalled = e->throttled || e->frozen || e->evidence_since;
	/* A warning counts while the service is heading for its limit now (a
	 * leak the engine will restart on the tripwire's evidence); a heap
	 * that warns on every cycle is a candidate again while it shrinks. */
	if (e->sign == SIGN_WARN && engine_growth(e, &g) == 0 && g >= GROWTH_MIN)
		return true;
	return e->sign >= SIGN_EVIDENCE || e->step > STEP_NOTIFY || e->throttled || e->frozen ||
	       e->evidence_since || (last && now >= last && now - last < within);
}

bool engine_guard_active(const struct engine *e)
{
	const struct engine_sample *s = engine_last(e);

	return e->p->n_rules == 0 && s && s->memory_max != UINT64_MAX;
}

/* --- decisions ------------------------------------------------------------- */

/* Would the rate limits allow a disruptive action now? */
static bool rate_peek(const struct engine *e, usec_t now)
{
	const struct engine_limits *l = &e->lim;
	unsigned recent = 0;

	if (l->n_kills && now - l->kills[(l->n_kills - 1) % ARRAY_SIZE(l->kills)] < l->min_interval)
		return false;
	for (unsigned i = 0; i < l->n_kills && i < ARRAY_SIZE(l->kills); i++)
		if (now - l->kills[i] < KILLS_WINDOW)
			recent++;
	return recent < KILLS_MAX;
}

/* ... and count it when they do. */
static bool rate_allows(struct engine *e, usec_t now)
{
	struct engine_limits *l = &e->lim;

	if (!rate_peek(e, now))
		return false;
	l->kills[l->n_kills % ARRAY_SIZE(l->kills)] = now;
	l->n_kills++;
	return true;
}

static void fill_figures(const struct engine *e, struct engine_decision *d)
{
	const struct engine_sample *s = engine_last(e);
	usec_t ttm;

	d->working_set = engine_working_set(s);
	d->memory_max = s->memory_max;
	if (engine_growth(e, &d->growth_bps) < 0)
		d->growth_bps = 0;
	d->time_to_max_ms = engine_time_to_max(e, &ttm) == 0 ? (int64_t)(ttm / USEC_PER_MSEC) : -1;
	d->psi_some = s->psi_some10;
	d->psi_full = s->psi_full10;
}

/* Append a decision; verdicts follow from dry run and the rate limits. */
static struct engine_decision *emit(struct engine *e, struct engine_decision *out, size_t max,
				    size_t *n, enum action_kind a, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));
static struct engine_decision *emit(struct engine *e, struct engine_decision *out, size_t max,
				    size_t *n, enum action_kind a, const char *fmt, ...)
{
	struct engine_decision *d;
	va_list ap;

	if (*n >= max)
		return NULL;
	d = &out[(*n)++];
	*d = (struct engine_decision){ .action = a, .source = "default guard", .step = STEP_IDLE,
				       .memory_high = UINT64_MAX };
	va_start(ap, fmt);
	vsnprintf(d->reason, sizeof(d->reason), fmt, ap);
	va_end(ap);
	fill_figures(e, d);
	d->dry_run = e->dry_run;
	d->verdict = e->dry_run ? VERDICT_DRY_RUN : VERDICT_ACT;
	if (action_ends_run(a) && !d->undo && !rate_allows(e, engine_last(e)->at))
		d->verdict = VERDICT_RATE_LIMITED;
	return d;
}

/* --- throttle: memory.high lowered in steps, and its release guard ------- */

static uint64_t policy_high(const struct engine *e)
{
	return e->p->limits.memory_high.set ? e->p->limits.memory_high.value : UINT64_MAX;
}

/* Halfway between the working set and the current ceiling: the service
 * keeps room to work, and the kernel slows it well before memory.max. */
static uint64_t throttle_target(const struct engine *e)
{
	const struct engine_sample *s = engine_last(e);
	uint64_t ws = engine_working_set(s), base = s->memory_max;

	if (e->throttled && e->throttle_high < base)
		base = e->throttle_high;
	if (s->memory_high < base)
		base = s->memory_high;
	if (base == UINT64_MAX) /* no ceiling: start from what it holds now */
		base = s->current + s->current / 10;
	if (base <= ws)
		return (ws + 4095) & ~(uint64_t)4095;
	return (ws + (base - ws) / 2 + 4095) & ~(uint64_t)4095;
}

static void throttle_on(struct engine *e, uint64_t high, bool by_guard, int rule)
{
	/* A further step keeps the first step's time: the 2 min bound is for
	 * the whole throttle, not for each step. */
	if (!e->throttled)
		e->throttle_at = engine_last(e)->at;
	e->throttle_rule = rule;
	e->throttled = true;
	e->throttle_by_guard = by_guard;
	e->throttle_high = high;
	e->push_since = e->stall_since = e->unpushed_since = 0;
}

static void throttle_release(struct engine *e, struct engine_decision *out, size_t max, size_t *n,
			     const char *why)
{
	struct engine_decision *d;

	d = emit(e, out, max, n, ACTION_THROTTLE, "release memory.high: %s", why);
	if (d) {
		d->undo = true;
		d->memory_high = policy_high(e);
		d->metric = METRIC_WORKING_SET;
		d->value = (double)d->working_set;
		d->threshold = (double)e->throttle_high;
		d->step = e->throttle_by_guard ? STEP_THROTTLE : STEP_IDLE;
	}
	e->throttled = false;
}

/* Track pushing, stalling and calm; release a rule's throttle when the
 * leak stopped, the service stalls, or it has been held long enough. The
 * guard's throttle is escalated or released by the guard. */
static void throttle_check(struct engine *e, struct engine_decision *out, size_t max, size_t *n)
{
	const struct engine_sample *s = engine_last(e);
	uint64_t ws = engine_working_set(s);
	bool pushing;
	double g = 0;

	if (!e->throttled)
		return;
	pushing = (double)ws + (double)e->throttle_high * PUSH_MARGIN_FRAC >= (double)e->throttle_high;
	(void)engine_growth(e, &g);
	e->push_since = pushing ? (e->push_since ?: s->at) : 0;
	e->stall_since = s->psi_full10 >= THROTTLE_STALL_PSI ? (e->stall_since ?: s->at) : 0;
	e->unpushed_since = !pushing && g < GROWTH_MIN ? (e->unpushed_since ?: s->at) : 0;
	if (e->throttle_by_guard) {
		if (s->at - e->throttle_at >= THROTTLE_MAX) {
			throttle_release(e, out, max, n, "held for the longest a throttle may last (2m)");
			e->gentle_done = true;
		}
		return;
	}
	if (e->unpushed_since && s->at - e->unpushed_since >= THROTTLE_CALM &&
	    !(e->throttle_rule >= 0 && (size_t)e->throttle_rule < e->p->n_rules && e->rules[e->throttle_rule].past))
		throttle_release(e, out, max, n, "the growth stopped below it and the rule no longer holds");
	else if (e->stall_since && s->at - e->stall_since >= THROTTLE_STALL_MAX)
		throttle_release(e, out, max, n, "the service stalls (PSI full above 40%)");
	else if (s->at - e->throttle_at >= THROTTLE_MAX)
		throttle_release(e, out, max, n, "held for the longest a throttle may last (2m)");
}

/* --- rules ------------------------------------------------------------------ */

static bool rule_past(const struct rule *r, double v)
{
	return r->below ? v < r->threshold : v > r->threshold;
}

usec_t engine_rule_held(const struct engine *e, size_t i, unsigned *ret_count)
{
	const struct engine_rule_state *st = &e->rules[i];
	const struct engine_sample *s = engine_last(e);
	unsigned count = 0;

	for (unsigned k = 0; k < st->ring_n; k++)
		count += st->ring[k];
	if (ret_count)
		*ret_count = count;
	return s && st->since ? s->at - st->since : 0;
}

static bool rule_held(const struct engine *e, size_t i)
{
	const struct rule *r = &e->p->rules[i];
	const struct engine_rule_state *st = &e->rules[i];
	unsigned count;
	usec_t held = engine_rule_held(e, i, &count);

	if (r->samples)
		return count >= r->samples;
	if (r->for_usec)
		return st->past && held >= r->for_usec;
	return st->past;
}

static void rule_observe(struct engine *e, size_t i)
{
	const struct rule *r = &e->p->rules[i];
	struct engine_rule_state *st = &e->rules[i];
	const struct engine_sample *s = engine_last(e);
	double v = NAN;

	st->past = engine_metric(e, r->metric, &v) == 0 && rule_past(r, v);
	st->value = v;
	st->since = st->past ? (st->since ?: s->at) : 0;
	if (r->samples) {
		st->ring[st->ring_head] = st->past;
		st->ring_head = (st->ring_head + 1) % r->of;
		if (st->ring_n < r->of)
			st->ring_n++;
	}
}

static void rule_fire(struct engine *e, size_t i, struct engine_decision *out, size_t max, size_t *n)
{
	const struct rule *r = &e->p->rules[i];
	struct engine_rule_state *st = &e->rules[i];
	struct engine_decision *d;
	char val[64];

	snprintf(val, sizeof(val), "%g", st->value);
	d = emit(e, out, max, n, r->action, "rule %s: %s %s %g (%s)", r->name, metric_kind_to_string(r->metric),
		 r->below ? "below" : "above", r->threshold, val);
	if (!d)
		return;
	d->rule = r;
	d->source = r->name;
	d->metric = r->metric;
	d->value = st->value;
	d->threshold = r->threshold;
	st->last_fired = engine_last(e)->at;
	/* The hold starts over: a condition that stays true fires again only
	 * after another full hold (and RULE_REFIRE). */
	st->since = st->past ? st->last_fired : 0;
	st->ring_n = st->ring_head = 0;
	if (d->verdict == VERDICT_RATE_LIMITED)
		return;
	if (r->action == ACTION_THROTTLE) {
		d->memory_high = throttle_target(e);
		throttle_on(e, d->memory_high, false, (int)i);
	} else if (r->action == ACTION_FREEZE)
		e->frozen = true;
	else if (r->action == ACTION_OOM_ADJ)
		e->oom_raised = true;
}

static void rules_check(struct engine *e, struct engine_decision *out, size_t max, size_t *n)
{
	usec_t now = engine_last(e)->at;

	for (size_t i = 0; i < e->p->n_rules; i++) {
		struct engine_rule_state *st = &e->rules[i];

		rule_observe(e, i);
		if (!rule_held(e, i))
			continue;
		if (st->last_fired && now - st->last_fired < RULE_REFIRE)
			continue;
		rule_fire(e, i, out, max, n);
	}
}

/* --- the default guard: a ladder toward memory.max --------------------------- */

/* Say why the guard fired: the figures records and explain show. */
__attribute__((format(printf, 5, 6)))
static bool guard_why(struct engine *e, enum metric_kind metric, double value, double threshold,
		      const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e->why, sizeof(e->why), fmt, ap);
	va_end(ap);
	e->why_metric = metric;
	e->why_value = value;
	e->why_threshold = threshold;
	return true;
}

/* A memory.high close below memory.max: the kernel throttles a service
 * that gets there, and memory.events `high` says so at once. */
static bool has_tripwire(const struct engine_sample *s)
{
	return s->memory_max != UINT64_MAX && s->memory_high != UINT64_MAX && s->memory_high < s->memory_max &&
	       s->memory_high >= s->memory_max - s->memory_max / TRIPWIRE_NEAR_DIV;
}

/* memory.events high rose within HIGH_RECENT (or since the sample before,
 * when that is older). */
static uint64_t high_rise(const struct engine *e)
{
	const struct engine_sample *last = engine_last(e);
	const struct engine_point *s, *old = nth(e, 1);

	for (unsigned i = 2; (s = nth(e, i)) && last->at - s->at <= HIGH_RECENT; i++)
		old = s;
	return old && last->ev_high > old->ev_high ? last->ev_high - old->ev_high : 0;
}

/* The working set at the tripwire while the kernel keeps throttling it. */
static bool at_tripwire(const struct engine *e)
{
	const struct engine_sample *s = engine_last(e);
	double ws = (double)engine_working_set(s), high = (double)s->memory_high;

	return has_tripwire(s) && ws + PUSH_MARGIN_FRAC * high >= high && high_rise(e) > 0;
}

static void long_note(struct engine *e, const struct engine_sample *s)
{
	if (e->long_n && s->at - e->long_at[e->long_head] < LONG_STEP)
		return;
	e->long_head = e->long_n ? (e->long_head + 1) % ARRAY_SIZE(e->long_ws) : 0;
	e->long_ws[e->long_head] = engine_working_set(s);
	e->long_at[e->long_head] = s->at;
	if (e->long_n < ARRAY_SIZE(e->long_ws))
		e->long_n++;
}

/* Has the working set grown over the long window (up to 30 s, since the
 * run began when it is younger)? Sets the seconds it spans. */
static bool long_growing(const struct engine *e, double *ret_span)
{
	const struct engine_sample *s = engine_last(e);
	unsigned oldest = (e->long_head + ARRAY_SIZE(e->long_ws) + 1 - e->long_n) % ARRAY_SIZE(e->long_ws);
	double span = e->long_n ? (double)(s->at - e->long_at[oldest]) / 1e6 : 0;

	*ret_span = span;
	return span > 0 && (double)engine_working_set(s) - (double)e->long_ws[oldest] >= GROWTH_MIN * span;
}

/* Can the cgroup give memory back without a restart? Says why not. */
static bool can_give_back(const struct engine *e, char *why, size_t len)
{
	const struct engine_sample *s = engine_last(e);
	bool may_swap = s->swap_free > 0 && s->swap_max > s->swap;

	if ((double)s->file >= RECLAIM_MIN_FRAC * (double)s->memory_max || may_swap)
		return true;
	snprintf(why, len, "reclaim and throttle skipped: nothing to give back (page cache %.1f MiB, under 2%% of "
		 "memory.max; %s)", (double)s->file / MiB,
		 s->swap_free == 0 ? "no swap" : "memory.swap.max reached");
	return false;
}

static double kill_line(const struct engine_sample *s)
{
	if (has_tripwire(s))
		return (double)s->memory_high + KILL_TRIPWIRE_FRAC * (double)(s->memory_max - s->memory_high);
	return KILL_FRAC * (double)s->memory_max;
}

/* What the guard sees now; says why in e->why. */
static enum engine_sign guard_sign(struct engine *e)
{
	const struct engine_sample *s = engine_last(e);
	uint64_t ws = engine_working_set(s);
	double frac = frac_of_max(s), g = 0, span;
	bool growing, pushing = at_tripwire(e);
	usec_t ttm = 0;

	growing = engine_time_to_max(e, &ttm) == 0;
	(void)engine_growth(e, &g);
	e->evidence_since = pushing ? (e->evidence_since ?: s->at) : 0;
	if (s->memory_max != UINT64_MAX && (double)ws >= kill_line(s) && (pushing || growing)) {
		guard_why(e, METRIC_WORKING_SET, (double)ws, kill_line(s),
			  "working set %.1f MiB is %.0f%% of memory.max and still growing: a graceful stop would "
			  "lose the race with the kernel", (double)ws / MiB, frac * 100);
		return SIGN_KILL;
	}
	if (e->evidence_since && s->at - e->evidence_since >= EVIDENCE_HOLD) {
		guard_why(e, METRIC_WORKING_SET, (double)ws, (double)s->memory_high,
			  "working set %.1f MiB held at memory.high %.1f MiB for %.1fs by the kernel (memory.events "
			  "high +%" PRIu64 "): memory.max %.1f MiB is next", (double)ws / MiB,
			  (double)s->memory_high / MiB, (double)(s->at - e->evidence_since) / 1e6, high_rise(e),
			  (double)s->memory_max / MiB);
		return SIGN_EVIDENCE;
	}
	if (!has_tripwire(s) && growing && frac >= GUARD_FRAC && ttm <= FALLBACK_TTM && long_growing(e, &span)) {
		guard_why(e, METRIC_TIME_TO_MAX, (double)ttm, (double)FALLBACK_TTM,
			  "working set %.1f MiB is %.0f%% of memory.max, grew over the last %.0fs, memory.max in "
			  "%.1fs at %.1f MiB/s (no memory.high tripwire)", (double)ws / MiB, frac * 100, span,
			  (double)ttm / 1e6, g / MiB);
		return SIGN_EVIDENCE;
	}
	if (pushing) {
		guard_why(e, METRIC_WORKING_SET, (double)ws, (double)s->memory_high,
			  "working set %.1f MiB reached memory.high %.1f MiB", (double)ws / MiB,
			  (double)s->memory_high / MiB);
		return SIGN_WARN;
	}
	if (growing && ttm <= GUARD_TTM && frac >= GUARD_TTM_MIN_FRAC) {
		guard_why(e, METRIC_TIME_TO_MAX, (double)ttm, (double)GUARD_TTM,
			  "memory.max in %.1fs at %.1f MiB/s (working set %.1f MiB, %.0f%% of memory.max)",
			  (double)ttm / 1e6, g / MiB, (double)ws / MiB, frac * 100);
		return SIGN_WARN;
	}
	if (growing && frac >= GUARD_FRAC) {
		guard_why(e, METRIC_WORKING_SET, (double)ws, GUARD_FRAC * (double)s->memory_max,
			  "working set %.1f MiB is %.0f%% of memory.max and growing at %.1f MiB/s",
			  (double)ws / MiB, frac * 100, g / MiB);
		return SIGN_WARN;
	}
	return SIGN_NONE;
}

/* Did the current gentle step help enough to stay on it? */
static bool step_helping(const struct engine *e)
{
	const struct engine_sample *s = engine_last(e);
	uint64_t ws = engine_working_set(s);

	switch (e->step) {
	case STEP_RECLAIM:
		return (double)ws + RECLAIM_GAIN_FRAC * (double)s->memory_max <= (double)e->step_ws;
	case STEP_THROTTLE:
		/* It gave memory back and the service is not stalled. */
		return e->throttled && s->current < e->step_current &&
		       !(e->stall_since && s->at - e->stall_since >= THROTTLE_STALL_MAX);
	default:
		return false;
	}
}

/* The next gentle step after `from`, when one can work. */
static enum engine_step next_gentle(const struct engine *e, enum engine_step from, char *why, size_t len)
{
	if (e->gentle_done || from >= STEP_THROTTLE || !can_give_back(e, why, len))
		return STEP_IDLE;
	return from < STEP_RECLAIM ? STEP_RECLAIM : STEP_THROTTLE;
}

enum engine_step engine_next_step(const struct engine *e, usec_t *ret_at)
{
	char why[160];
	enum engine_step g;

	*ret_at = 0;
	switch (e->triggered ? e->sign : SIGN_NONE) {
	case SIGN_NONE: return STEP_IDLE;
	case SIGN_KILL: *ret_at = engine_last(e)->at; return STEP_KILL;
	case SIGN_EVIDENCE: *ret_at = engine_last(e)->at; return STEP_RESTART;
	default: break;
	}
	if (e->step == STEP_IDLE)
		return STEP_NOTIFY;
	g = next_gentle(e, e->step, why, sizeof(why));
	if (g == STEP_IDLE) /* only the kernel's evidence goes further */
		return STEP_IDLE;
	*ret_at = e->step_at + STEP_DWELL;
	return g;
}

static void guard_take(struct engine *e, enum engine_step st, struct engine_decision *out, size_t max,
		       size_t *n)
{
	const struct engine_sample *s = engine_last(e);
	enum action_kind a = engine_step_action(st);
	struct engine_decision *d;

	/* restart: never means the ladder's restart is a stop. */
	if (a == ACTION_RESTART && e->p->restart.mode == RESTART_NEVER)
		a = ACTION_STOP;
	if (action_ends_run(a) && e->skipped[0]) {
		size_t l = strlen(e->why);

		snprintf(e->why + l, sizeof(e->why) - l, "; %s", e->skipped);
		e->skipped[0] = '\0';
	}
	if (e->p->protected_ && st >= STEP_OOM_ADJ) {
		if (e->protected_noted)
			return;
		e->protected_noted = true;
		d = emit(e, out, max, n, ACTION_NOTIFY, "%s; protected: not taking step %s",
			 e->why, engine_step_to_string(st));
		if (d) {
			d->verdict = VERDICT_PROTECTED;
			d->step = st;
			d->metric = e->why_metric, d->value = e->why_value, d->threshold = e->why_threshold;
		}
		return;
	}
	if (action_ends_run(a) && e->rl_noted && !rate_peek(e, s->at))
		return; /* already recorded as held back */
	d = emit(e, out, max, n, a, "%s", e->why);
	if (!d)
		return;
	d->step = st;
	d->metric = e->why_metric, d->value = e->why_value, d->threshold = e->why_threshold;
	if (d->verdict == VERDICT_RATE_LIMITED) {
		e->rl_noted = true;
		return;
	}
	e->rl_noted = false;
	e->step = st;
	e->step_at = s->at;
	e->step_ws = engine_working_set(s);
	e->step_current = s->current;
	if (st == STEP_THROTTLE) {
		d->memory_high = throttle_target(e);
		throttle_on(e, d->memory_high, true, -1);
	} else if (st == STEP_FREEZE)
		e->frozen = true;
	else if (st == STEP_OOM_ADJ)
		e->oom_raised = true;
}

/* Calm again: undo what the ladder changed, back to idle. */
static void guard_calm(struct engine *e, struct engine_decision *out, size_t max, size_t *n)
{
	struct engine_decision *d;

	if (e->throttled && e->throttle_by_guard)
		throttle_release(e, out, max, n, "the growth stopped");
	if (e->frozen && (d = emit(e, out, max, n, ACTION_FREEZE, "thaw: the growth stopped")))
		d->undo = true, d->step = STEP_FREEZE;
	if (e->oom_raised && (d = emit(e, out, max, n, ACTION_OOM_ADJ, "restore oom_score_adj: the growth stopped")))
		d->undo = true, d->step = STEP_OOM_ADJ;
	d = emit(e, out, max, n, ACTION_NOTIFY, "calm for %.0fs after step %s: back to idle",
		 (double)GUARD_CALM / 1e6, engine_step_to_string(e->step));
	e->frozen = e->oom_raised = false;
	e->step = STEP_IDLE;
	e->rl_noted = e->protected_noted = e->gentle_done = false;
	e->skipped[0] = '\0';
}

/* The gentle part of the ladder, on a warning: notify, then reclaim and
 * throttle where there is memory to give back; a throttle that gave
 * nothing back is released. Never further without the kernel's evidence. */
static void guard_gentle(struct engine *e, struct engine_decision *out, size_t max, size_t *n)
{
	const struct engine_sample *s = engine_last(e);
	enum engine_step next;

	if (e->step == STEP_IDLE) {
		guard_take(e, STEP_NOTIFY, out, max, n);
		return;
	}
	if (s->at - e->step_at < STEP_DWELL || step_helping(e))
		return;
	if (e->step == STEP_THROTTLE && e->throttled && e->throttle_by_guard) {
		throttle_release(e, out, max, n, s->current >= e->step_current
				 ? "it gave nothing back: a throttle would only stall the service"
				 : "the service stalls (PSI full above 40%)");
		e->gentle_done = true;
		return;
	}
	next = next_gentle(e, e->step, e->skipped, sizeof(e->skipped));
	if (next != STEP_IDLE)
		guard_take(e, next, out, max, n);
	else
		e->gentle_done = true;
}

static void guard_check(struct engine *e, struct engine_decision *out, size_t max, size_t *n)
{
	const struct engine_sample *s = engine_last(e);

	long_note(e, s);
	e->sign = guard_sign(e);
	e->triggered = e->sign != SIGN_NONE;
	if (!e->triggered) {
		if (e->step == STEP_IDLE)
			return;
		e->calm_since = e->calm_since ?: s->at;
		if (s->at - e->calm_since >= GUARD_CALM)
			guard_calm(e, out, max, n);
		return;
	}
	e->calm_since = 0;
	if (e->sign == SIGN_KILL) {
		if (e->step < STEP_KILL)
			guard_take(e, STEP_KILL, out, max, n);
	} else if (e->sign == SIGN_EVIDENCE) {
		if (e->step < STEP_RESTART) {
			/* The gentle steps that could not work are named in the record. */
			if (!e->skipped[0] && !e->gentle_done)
				(void)can_give_back(e, e->skipped, sizeof(e->skipped));
			guard_take(e, STEP_RESTART, out, max, n);
		}
	} else
		guard_gentle(e, out, max, n);
}

size_t engine_feed(struct engine *e, const struct engine_sample *s, struct engine_decision *out,
		   size_t max)
{
	size_t n = 0;

	if (e->n)
		e->prev = e->last;
	e->last = *s;
	e->head = e->n ? (e->head + 1) % ENGINE_HISTORY : 0;
	e->hist[e->head] = (struct engine_point){ .at = s->at, .ws = engine_working_set(s), .ev_high = s->ev_high };
	if (e->n < ENGINE_HISTORY)
		e->n++;
	e->have_growth = fit_growth(e, &e->growth_bps) == 0;
	throttle_check(e, out, max, &n);
	rules_check(e, out, max, &n);
	if (engine_guard_active(e))
		guard_check(e, out, max, &n);
	return n;
}
