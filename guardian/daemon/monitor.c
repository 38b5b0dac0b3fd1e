/* monitor.c: the pressure engine per service: pressure samples -> engine
 * -> act -> action log, the follow-up records, and `explain`. */
#include "monitor.h"

#include <math.h>

#include "act.h"
#include "engine.h"
#include "history.h"
#include "log.h"
#include "pressure.h"
#include "sysguard.h"

/* A follow-up record 3 s after an action: long enough for a stop signal to
 * be handled, freed memory to show in memory.current and PSI avg10 to
 * move; short enough that the record still reads as the action's outcome. */
#define FOLLOWUP_DELAY (3 * USEC_PER_SEC)
/* Follow-ups in flight at once: a full ladder climb within 3 s is 4 steps. */
#define FOLLOWUPS_MAX 4
/* A restart or kill that freed less than 1 MiB did nothing useful. */
#define FUTILE_FREED (1ULL << 20)

struct followup {
	struct monitor *m;
	struct loop_source *timer;
	enum action_kind action;
	char source[64];
	uint64_t current, ws, oom_kill;
	double psi_some;
	struct act_kill_counts kill; /* what a kill itself reported */
};

struct monitors {
	struct monitors_config cfg;
	struct monitor **v;
	size_t n;
	uint64_t swap_free;  /* SwapFree from /proc/meminfo ... */
	usec_t swap_at;      /* ... read then (monotonic) */
	struct monitor_latency latency;
};

/* The machine's free swap changes slowly and is the same for every
 * service: read at most once a second. */
#define SWAP_REFRESH (1 * USEC_PER_SEC)

struct monitor {
	struct monitors *ms;
	struct service *svc;
	struct engine eng;
	struct pressure *pressure;
	char trigger[64];            /* the PSI trigger armed for this run */
	bool running;
	bool we_throttled, we_froze; /* left on the group: undone at the next start */
	struct engine_sample first;  /* memory.events deltas are counted from here */
	bool have_first;
	struct followup fu[FOLLOWUPS_MAX];
	struct engine_decision last;
	bool have_last;
	bool new_run;     /* a watched cgroup was killed: the engine starts afresh */
	usec_t last_at;   /* when the last decision was carried out (monotonic) */
	/* Kept across runs, so a restart shows as the drop it is. */
	struct history hist;
	/* A kill or restart waiting for its before hooks, and what they did
	 * once they are done (for its record). */
	struct hooks_wait *wait;
	struct engine_decision pend_d;
	struct engine_sample pend_s;
	usec_t pend_budget;
	bool before_done, before_cut_short;
	unsigned before_n;
	usec_t before_waited;
};

#define svc_name(svc) ((svc)->policy->service)

static bool dry(const struct service *svc)
{
	return svc->sup->cfg.dry_run || svc->policy->dry_run;
}

/* --- records ------------------------------------------------------------ */

static void add_bytes(struct json_object *rec, const char *key, uint64_t v)
{
	json_object_object_add(rec, key, v == UINT64_MAX ? json_object_new_string("max") : json_object_new_uint64(v));
}

static struct json_object *decision_json(const struct engine_decision *d)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "rule", json_object_new_string(d->source));
	json_object_object_add(o, "metric", json_object_new_string(metric_kind_to_string(d->metric)));
	json_object_object_add(o, "value", isfinite(d->value) ? json_object_new_double(d->value) : NULL);
	json_object_object_add(o, "threshold", json_object_new_double(d->threshold));
	json_object_object_add(o, "step", d->step ? json_object_new_string(engine_step_to_string(d->step)) : NULL);
	json_object_object_add(o, "verdict", json_object_new_string(engine_verdict_to_string(d->verdict)));
	json_object_object_add(o, "dry_run", json_object_new_boolean(d->dry_run));
	json_object_object_add(o, "undo", json_object_new_boolean(d->undo));
	add_bytes(o, "working_set", d->working_set);
	add_bytes(o, "memory_max", d->memory_max);
	if (d->action == ACTION_THROTTLE)
		add_bytes(o, "memory_high", d->memory_high);
	json_object_object_add(o, "growth_bps", json_object_new_int64((int64_t)d->growth_bps));
	json_object_object_add(o, "time_to_max_ms",
			       d->time_to_max_ms >= 0 ? json_object_new_int64(d->time_to_max_ms) : NULL);
	json_object_object_add(o, "psi_some_avg10", json_object_new_double(d->psi_some));
	json_object_object_add(o, "psi_full_avg10", json_object_new_double(d->psi_full));
	return o;
}

static void write_record(struct monitor *m, const char *action, const char *reason, struct json_object *extra)
{
	struct service *svc = m->svc;
	struct json_object *rec = m->ms->cfg.log ? service_record(svc, "engine", action, reason) : NULL;
	int r = actionlog_write_with(m->ms->cfg.log, rec, extra);

	if (r < 0)
		log_warning_errno(r, "%s: cannot write the action log", svc_name(svc));
}

static void record_decision(struct monitor *m, const struct engine_decision *d, int r, const char *note)
{
	struct json_object *o = decision_json(d);

	if (d->verdict == VERDICT_ACT)
		json_object_object_add(o, "result", json_object_new_string(r < 0 ? strerror(-r) : "ok"));
	if (note && *note)
		json_object_object_add(o, "note", json_object_new_string(note));
	if (m->before_done && action_ends_run(d->action)) {
		json_object_object_add(o, "before_hooks", json_object_new_int((int)m->before_n));
		json_object_object_add(o, "before_waited_ms",
				       json_object_new_int64((int64_t)(m->before_waited / USEC_PER_MSEC)));
		json_object_object_add(o, "before_budget_ms",
				       json_object_new_int64((int64_t)(m->pend_budget / USEC_PER_MSEC)));
		json_object_object_add(o, "before_cut_short", json_object_new_boolean(m->before_cut_short));
	}
	write_record(m, action_kind_to_string(d->action), d->reason, o);
}

/* --- follow-ups ------------------------------------------------------------ */

static int on_followup(struct loop_source *src, int fd, uint32_t revents, void *data)
{
	struct followup *f = data;
	struct monitor *m = f->m;
	struct service *svc = m->svc;
	struct engine_sample now = { 0 };
	struct json_object *o = json_object_new_object();
	uint64_t freed;
	char why[160];

	loop_source_freep(&f->timer);
	if (svc->cgfd < 0 || pressure_read(svc->cgfd, &now) < 0)
		now = (struct engine_sample){ .ev_oom_kill = f->oom_kill }; /* the group is gone: all freed */
	freed = f->current > now.current ? f->current - now.current : 0;
	json_object_object_add(o, "followed", json_object_new_string(action_kind_to_string(f->action)));
	json_object_object_add(o, "rule", json_object_new_string(f->source));
	json_object_object_add(o, "freed_bytes", json_object_new_uint64(freed));
	json_object_object_add(o, "working_set_before", json_object_new_uint64(f->ws));
	json_object_object_add(o, "working_set", json_object_new_uint64(engine_working_set(&now)));
	json_object_object_add(o, "psi_some_avg10", json_object_new_double(now.psi_some10));
	json_object_object_add(o, "pressure_fell", json_object_new_boolean(now.psi_some10 <= f->psi_some));
	json_object_object_add(o, "kernel_oom_kill",
			       json_object_new_uint64(now.ev_oom_kill > f->oom_kill ? now.ev_oom_kill - f->oom_kill : 0));
	snprintf(why, sizeof(why), "%.0fs after %s: %.1f MiB freed%s", (double)FOLLOWUP_DELAY / 1e6,
		 action_kind_to_string(f->action), (double)freed / (1 << 20),
		 now.ev_oom_kill > f->oom_kill ? "; the kernel OOM killer fired anyway" : "");
	if (f->kill.killed) {
		json_object_object_add(o, "processes", json_object_new_uint64(f->kill.processes));
		json_object_object_add(o, "released", json_object_new_uint64(f->kill.released));
		json_object_object_add(o, "exited", json_object_new_uint64(f->kill.exited));
		json_object_object_add(o, "release_failed", json_object_new_uint64(f->kill.release_failed));
	}
	write_record(m, "follow-up", why, o);
	if ((f->action == ACTION_RESTART || f->action == ACTION_KILL) && freed < FUTILE_FREED)
		engine_note_futile_kill(&m->eng);
	return 0;
}

static struct followup *schedule_followup(struct monitor *m, const struct engine_decision *d,
					  const struct engine_sample *s)
{
	for (size_t i = 0; i < FOLLOWUPS_MAX; i++) {
		struct followup *f = &m->fu[i];

		if (f->timer)
			continue;
		*f = (struct followup){ .m = m, .action = d->action, .current = s->current,
					.ws = engine_working_set(s), .oom_kill = s->ev_oom_kill,
					.psi_some = s->psi_some10 };
		snprintf(f->source, sizeof(f->source), "%s", d->source);
		if (loop_add_timer(m->ms->cfg.loop, FOLLOWUP_DELAY, on_followup, f, &f->timer) < 0) {
			f->timer = NULL;
			return NULL;
		}
		return f;
	}
	return NULL;
}

/* --- the sample loop ----------------------------------------------------------- */

static void carry_out_now(struct monitor *m, const struct engine_decision *d, const struct engine_sample *s);

static void on_before_done(void *data, bool cut_short, usec_t waited, unsigned n)
{
	struct monitor *m = data;

	m->wait = NULL;
	m->before_done = true;
	m->before_cut_short = cut_short;
	m->before_n = n;
	m->before_waited = waited;
	if (cut_short)
		log_notice("%s: before hooks still running after %.1fs (the most the time to memory.max allows): "
			   "the %s goes on", svc_name(m->svc), (double)waited / USEC_PER_SEC,
			   action_kind_to_string(m->pend_d.action));
	if (m->running)
		carry_out_now(m, &m->pend_d, &m->pend_s);
	m->before_done = false;
}

/* How long a kill or restart may wait for its before hooks: their longest
 * timeout, and never more than half the predicted time to memory.max (the
 * other half is the stop's). 0: no before hook applies. */
static usec_t before_budget(struct monitor *m, const struct engine_decision *d)
{
	usec_t t = hooks_before_timeout(m->ms->cfg.hooks, &m->svc->policy->hooks, action_kind_to_string(d->action));

	if (t && d->time_to_max_ms >= 0) {
		usec_t half = (usec_t)d->time_to_max_ms * USEC_PER_MSEC / 2;

		t = half < t ? half : t;
		t = t ? t : 1; /* already there: the hooks start, the kill does not wait */
	}
	return t;
}

/* Starts the before hooks of a kill or restart: 0 when it now waits for
 * them (on_before_done carries it out). */
static int start_before(struct monitor *m, const struct engine_decision *d, const struct engine_sample *s)
{
	struct json_object *rec, *o;
	usec_t budget;
	int r;

	if (!m->ms->cfg.hooks || d->verdict != VERDICT_ACT || d->dry_run || d->undo ||
	    (d->action != ACTION_KILL && d->action != ACTION_RESTART))
		return -ENOENT;
	budget = before_budget(m, d);
	if (!budget)
		return -ENOENT;
	rec = service_record(m->svc, "engine", action_kind_to_string(d->action), d->reason);
	o = decision_json(d);
	if (!rec || !o) {
		json_object_put(rec);
		json_object_put(o);
		return -ENOMEM;
	}
	json_object_object_foreach(o, key, val)
		json_object_object_add(rec, key, json_object_get(val));
	json_object_put(o);
	m->pend_d = *d;
	m->pend_s = *s;
	m->pend_budget = budget;
	r = hooks_before(m->ms->cfg.hooks, rec, &m->svc->policy->hooks, budget, on_before_done, m, &m->wait);
	json_object_put(rec);
	return r;
}

static void carry_out(struct monitor *m, const struct engine_decision *d, const struct engine_sample *s)
{
	m->last = *d;
	m->have_last = true;
	/* One kill or restart at a time: while one waits for its hooks, the
	 * next decision to end the run is that same one again. */
	if (m->wait && d->verdict == VERDICT_ACT && action_ends_run(d->action))
		return;
	if (start_before(m, d, s) == 0)
		return;
	carry_out_now(m, d, s);
}

static void carry_out_now(struct monitor *m, const struct engine_decision *d, const struct engine_sample *s)
{
	struct service *svc = m->svc;
	struct followup *f = NULL;
	struct act_result res;
	int r = 0;

	m->last_at = now_monotonic();
	if (d->verdict != VERDICT_ACT) {
		record_decision(m, d, 0, NULL);
		return;
	}
	if (d->action != ACTION_NOTIFY && !d->undo)
		f = schedule_followup(m, d, s);
	if (action_ends_run(d->action) && !svc->watched) /* the record first: the stop writes its own after */
		record_decision(m, d, 0, "the service's stop begins");
	if (d->action == ACTION_THROTTLE)
		m->we_throttled = !d->undo;
	if (d->action == ACTION_FREEZE)
		m->we_froze = !d->undo;
	r = act_run(svc, d, &res);
	if (f)
		f->kill = res.kill;
	if (r < 0)
		log_warning_errno(r, "%s: %s: %s", svc_name(svc), action_kind_to_string(d->action), d->reason);
	else
		log_notice("%s: %s%s (%s)", svc_name(svc), action_kind_to_string(d->action), d->undo ? " undone" : "",
			   d->reason);
	if (!action_ends_run(d->action))
		record_decision(m, d, r, res.note);
	else if (svc->watched) {
		char note[sizeof(res.note) + 64];

		snprintf(note, sizeof(note), "%s; a watched cgroup: its owner restarts it", res.note);
		record_decision(m, d, r, note);
		/* Its processes are gone, its cgroup stays: what follows is a
		 * new run to the engine, as a restart is for a launched one. */
		m->new_run = r >= 0;
	}
}

/* From 100 us (a sample read and a memory.high write) to 2.5 s (a stuck
 * disk under the action log's fsync): where the engine's reaction time
 * lives and where it goes wrong. */
const double monitor_latency_bounds[MONITOR_LATENCY_BOUNDS] = {
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
};

static void note_latency(struct monitors *ms, const struct engine_sample *s)
{
	usec_t from = s->woke ? s->woke : s->at, now = now_monotonic();
	double sec = now > from ? (double)(now - from) / USEC_PER_SEC : 0;
	size_t i = 0;

	while (i < MONITOR_LATENCY_BOUNDS && sec > monitor_latency_bounds[i])
		i++;
	ms->latency.counts[i]++;
	ms->latency.sum += sec;
}

const struct monitor_latency *monitor_latency(const struct monitors *ms)
{
	return &ms->latency;
}

static int monitor_start(struct monitors *ms, struct service *svc);
static void monitor_stop(struct monitor *m);


static void on_sample(void *data, const struct engine_sample *s)
{
	struct monitor *m = data;
	struct monitors *ms = m->ms;
	struct engine_sample smp;
	struct engine_decision out[ENGINE_MAX_DECISIONS];
	size_t n;

	if (!m->ms->swap_at || s->at - m->ms->swap_at >= SWAP_REFRESH) {
		struct sysguard_meminfo mi;

		m->ms->swap_free = sysguard_read_meminfo(m->ms->cfg.proc_root, &mi) == 0 ? mi.swap_free : 0;
		m->ms->swap_at = s->at;
	}
	smp = *s;
	smp.swap_free = m->ms->swap_free;
	s = &smp;
	if (!m->have_first) {
		m->first = *s;
		m->have_first = true;
	}
	history_note(&m->hist, s->at, engine_working_set(s));
	n = engine_feed(&m->eng, s, out, ARRAY_SIZE(out));
	pressure_set_fast(m->pressure, engine_wants_fast(&m->eng));
	for (size_t i = 0; i < n && m->running && !m->new_run; i++) {
		carry_out(m, &out[i], s);
		note_latency(ms, s);
	}
	if (m->new_run && m->running) {
		m->new_run = false;
		monitor_stop(m);
		if (monitor_start(m->ms, m->svc) < 0)
			log_warning("%s: cannot watch it after the kill", svc_name(m->svc));
	}
}

/* The monitors are kept sorted by their service's address: the system
 * guard asks about every service on each of its ticks while memory is
 * short, and a node has hundreds. Returns where svc is or would go. */
static size_t monitor_slot(const struct monitors *ms, const struct service *svc)
{
	size_t lo = 0, hi = ms->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if ((uintptr_t)ms->v[mid]->svc < (uintptr_t)svc)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct monitor *monitor_find(const struct monitors *ms, const struct service *svc)
{
	size_t i = monitor_slot(ms, svc);

	return i < ms->n && ms->v[i]->svc == svc ? ms->v[i] : NULL;
}

static struct monitor *monitor_get(struct monitors *ms, struct service *svc)
{
	struct monitor *m = monitor_find(ms, svc), **v;
	size_t at;

	if (m)
		return m;
	v = realloc(ms->v, (ms->n + 1) * sizeof(*v));
	if (!v)
		return NULL;
	ms->v = v;
	m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	*m = (struct monitor){ .ms = ms, .svc = svc };
	if (engine_init(&m->eng, svc->policy, dry(svc)) < 0) {
		free(m);
		return NULL;
	}
	at = monitor_slot(ms, svc);
	memmove(ms->v + at + 1, ms->v + at, (ms->n - at) * sizeof(*ms->v));
	ms->v[at] = m;
	ms->n++;
	return m;
}

static int monitor_start(struct monitors *ms, struct service *svc)
{
	struct monitor *m = monitor_get(ms, svc);
	int r;

	if (!m)
		return -ENOMEM;
	if (m->running)
		return 0;
	r = engine_reset(&m->eng, svc->policy, dry(svc));
	if (r < 0)
		return r;
	/* A new run starts from the policy's limits, not the last run's throttle. */
	act_restore(svc, m->we_froze, m->we_throttled);
	m->we_froze = m->we_throttled = false;
	m->have_first = false;
	m->running = true;
	snprintf(m->trigger, sizeof(m->trigger), "%s %" PRIu64 " %" PRIu64, svc->policy->pressure.full ? "full" : "some",
		 svc->policy->pressure.stall_usec, svc->policy->pressure.window_usec);
	r = pressure_start(ms->cfg.loop, ms->cfg.watch, svc->cgfd,
			   &(struct pressure_config){ .calm_interval = svc->policy->sample_interval,
						      .psi_trigger = m->trigger,
						      .lazy = svc->policy->n_rules == 0 },
			   on_sample, m, &m->pressure);
	if (r < 0)
		m->running = false;
	return r;
}

static void monitor_stop(struct monitor *m)
{
	if (!m || !m->running)
		return;
	/* A kill or restart waiting for its hooks is dropped with the run
	 * (the service ended, or a reload starts the engine afresh). */
	hooks_wait_cancel(m->wait);
	m->wait = NULL;
	pressure_stop(m->pressure);
	m->pressure = NULL;
	m->running = false;
}

static void monitor_free(struct monitor *m)
{
	monitor_stop(m);
	for (size_t i = 0; i < FOLLOWUPS_MAX; i++)
		loop_source_freep(&m->fu[i].timer);
	engine_free(&m->eng);
	free(m);
}

static void on_running(void *data, struct service *svc)
{
	int r = monitor_start(data, svc);

	if (r < 0)
		log_warning_errno(r, "%s: cannot start its pressure engine", svc_name(svc));
}

/* A watched cgroup goes on without guardian: nothing guardian did to it
 * (a freeze, a throttle) may outlive the guarding. A launched service's
 * next run starts from its limits anyway (monitor_start). */
static void undo_on_watched(struct monitor *m)
{
	if (!m || !m->svc->watched)
		return;
	act_restore(m->svc, m->we_froze, m->we_throttled);
	m->we_froze = m->we_throttled = false;
}

static void on_run_ended(void *data, struct service *svc)
{
	struct monitor *m = monitor_find(data, svc);

	undo_on_watched(m);
	monitor_stop(m);
}

static void on_removed(void *data, struct service *svc)
{
	struct monitors *ms = data;
	size_t i = monitor_slot(ms, svc);
	struct monitor *m = i < ms->n && ms->v[i]->svc == svc ? ms->v[i] : NULL;

	if (!m)
		return;
	undo_on_watched(m);
	memmove(ms->v + i, ms->v + i + 1, (ms->n - i - 1) * sizeof(*ms->v));
	ms->n--;
	monitor_free(m);
}

/* A reload replaced the policy the engine points into. A running monitor
 * starts afresh on the new one: what the engine did to the group under
 * the old policy is undone (a throttle it forgot would outlive it, and
 * one near memory.max would read as the kernel's tripwire), and the
 * sampling follows the new sample_interval, PSI trigger and rules. */
static void on_policy_changed(void *data, struct service *svc)
{
	struct monitors *ms = data;
	struct monitor *m = monitor_find(ms, svc);
	int r;

	if (!m)
		return;
	m->have_last = false; /* its rule name pointed into the old policy */
	if (!m->running) {
		r = engine_reset(&m->eng, svc->policy, dry(svc));
	} else {
		monitor_stop(m);
		r = monitor_start(ms, svc);
	}
	if (r < 0)
		log_warning_errno(r, "%s: cannot watch it under its new policy", svc_name(svc));
}

const struct service_hooks monitor_hooks = {
	.running = on_running,
	.run_ended = on_run_ended,
	.policy_changed = on_policy_changed,
	.removed = on_removed,
};

int monitors_new(const struct monitors_config *cfg, struct monitors **ret)
{
	struct monitors *ms = calloc(1, sizeof(*ms));

	if (!ms)
		return -ENOMEM;
	ms->cfg = *cfg;
	*ret = ms;
	return 0;
}

void monitors_free(struct monitors *ms)
{
	if (!ms)
		return;
	for (size_t i = 0; i < ms->n; i++)
		monitor_free(ms->v[i]);
	free(ms->v);
	free(ms);
}

/* After its engine restarted or killed a service, the system guard leaves
 * it alone this long: the restarted service refills its working set, and
 * the memory it freed takes a moment to show in MemAvailable. */
#define ENGAGED_AFTER (30 * USEC_PER_SEC)

bool monitor_engaged(void *data, struct service *svc, bool *ret_stalled)
{
	struct monitor *m = monitor_find(data, svc);

	*ret_stalled = false;
	return m && engine_engaged(&m->eng, now_monotonic(), ENGAGED_AFTER, ret_stalled);
}

int monitor_growth(void *data, struct service *svc, double *ret_bps)
{
	struct monitor *m = monitor_find(data, svc);

	if (!m || !m->running)
		return -ENODATA;
	return engine_growth(&m->eng, ret_bps);
}

int monitor_figures(struct monitors *ms, struct service *svc, struct monitor_figures *ret)
{
	struct monitor *m = monitor_find(ms, svc);
	const struct engine_sample *s = m && m->running ? engine_last(&m->eng) : NULL;

	if (!s)
		return -ENODATA;
	*ret = (struct monitor_figures){ .working_set = engine_working_set(s), .memory_max = s->memory_max,
					 .memory_high = s->memory_high };
	ret->has_growth = engine_growth(&m->eng, &ret->growth_bps) == 0;
	ret->has_time_to_max = engine_time_to_max(&m->eng, &ret->time_to_max) == 0;
	return 0;
}

/* --- explain --------------------------------------------------------------------- */

static struct json_object *rule_json(const struct engine *e, size_t i)
{
	const struct rule *r = &e->p->rules[i];
	const struct engine_rule_state *st = &e->rules[i];
	const struct engine_sample *s = engine_last(e);
	struct json_object *o = json_object_new_object();
	unsigned count = 0;
	usec_t held = engine_rule_held(e, i, &count);

	json_object_object_add(o, "name", json_object_new_string(r->name));
	json_object_object_add(o, "metric", json_object_new_string(metric_kind_to_string(r->metric)));
	json_object_object_add(o, "unit", json_object_new_string(metric_unit_to_string(metric_kind_unit(r->metric))));
	json_object_object_add(o, "op", json_object_new_string(r->below ? "below" : "above"));
	json_object_object_add(o, "threshold", json_object_new_double(r->threshold));
	json_object_object_add(o, "value", s && isfinite(st->value) ? json_object_new_double(st->value) : NULL);
	json_object_object_add(o, "armed", json_object_new_boolean(st->past));
	json_object_object_add(o, "held_ms", json_object_new_int64((int64_t)(held / USEC_PER_MSEC)));
	if (r->samples) {
		json_object_object_add(o, "samples", json_object_new_int((int)r->samples));
		json_object_object_add(o, "of", json_object_new_int((int)r->of));
		json_object_object_add(o, "count", json_object_new_int((int)count));
	} else
		json_object_object_add(o, "for_ms", json_object_new_int64((int64_t)(r->for_usec / USEC_PER_MSEC)));
	json_object_object_add(o, "action", json_object_new_string(action_kind_to_string(r->action)));
	json_object_object_add(o, "last_fired_ms_ago",
			       st->last_fired && s ? json_object_new_int64((int64_t)((s->at - st->last_fired) / 1000)) : NULL);
	return o;
}

static struct json_object *ladder_json(const struct monitor *m)
{
	const struct engine *e = &m->eng;
	struct json_object *o = json_object_new_object();
	usec_t at = 0;
	enum engine_step next = engine_next_step(e, &at);
	usec_t now = now_monotonic();

	json_object_object_add(o, "active", json_object_new_boolean(engine_guard_active(e)));
	json_object_object_add(o, "step", json_object_new_string(engine_step_to_string(e->step)));
	json_object_object_add(o, "triggered", json_object_new_boolean(e->triggered));
	json_object_object_add(o, "why", e->triggered ? json_object_new_string(e->why) : NULL);
	json_object_object_add(o, "next_step", next ? json_object_new_string(engine_step_to_string(next)) : NULL);
	json_object_object_add(o, "next_in_ms",
			       next ? json_object_new_int64(at > now ? (int64_t)((at - now) / 1000) : 0) : NULL);
	json_object_object_add(o, "throttled", json_object_new_boolean(e->throttled));
	if (e->throttled)
		add_bytes(o, "throttle_memory_high", e->throttle_high);
	json_object_object_add(o, "frozen", json_object_new_boolean(e->frozen));
	json_object_object_add(o, "oom_score_adj_raised", json_object_new_boolean(e->oom_raised));
	return o;
}

static void add_pressure(struct json_object *o, struct monitor *m)
{
	const struct engine *e = &m->eng;
	const struct engine_sample *s = engine_last(e);
	struct json_object *ev = json_object_new_object();
	double g;
	usec_t ttm;

	json_object_object_add(o, "psi_trigger", m->pressure && pressure_psi_armed(m->pressure)
							 ? json_object_new_string(m->trigger) : NULL);
	json_object_object_add(o, "memory_events_watched", json_object_new_boolean(m->pressure && pressure_events_armed(m->pressure)));
	json_object_object_add(o, "interval_ms",
			       m->pressure ? json_object_new_int64((int64_t)(pressure_interval(m->pressure) / 1000)) : NULL);
	json_object_object_add(o, "samples", json_object_new_int64(m->pressure ? (int64_t)pressure_samples(m->pressure) : 0));
	if (!s)
		return;
	add_bytes(o, "working_set", engine_working_set(s));
	add_bytes(o, "memory_current", s->current);
	add_bytes(o, "memory_max", s->memory_max);
	add_bytes(o, "memory_high", s->memory_high);
	add_bytes(o, "inactive_file", s->inactive_file);
	json_object_object_add(o, "growth_bps", engine_growth(e, &g) == 0 ? json_object_new_int64((int64_t)g) : NULL);
	json_object_object_add(o, "time_to_max_ms",
			       engine_time_to_max(e, &ttm) == 0 ? json_object_new_int64((int64_t)(ttm / 1000)) : NULL);
	json_object_object_add(o, "psi_some_avg10", json_object_new_double(s->psi_some10));
	json_object_object_add(o, "psi_full_avg10", json_object_new_double(s->psi_full10));
	json_object_object_add(ev, "high", json_object_new_uint64(s->ev_high - m->first.ev_high));
	json_object_object_add(ev, "max", json_object_new_uint64(s->ev_max - m->first.ev_max));
	json_object_object_add(ev, "oom", json_object_new_uint64(s->ev_oom - m->first.ev_oom));
	json_object_object_add(ev, "oom_kill", json_object_new_uint64(s->ev_oom_kill - m->first.ev_oom_kill));
	json_object_object_add(o, "memory_events_since_start", ev);
}

/* One point: its age from now and the working set. */
static void history_point_add(struct json_object *pts, usec_t now, usec_t at, uint64_t working_set)
{
	struct json_object *pt = json_object_new_object();

	json_object_object_add(pt, "ago_ms", json_object_new_int64(now > at ? (int64_t)((now - at) / 1000) : 0));
	json_object_object_add(pt, "working_set", json_object_new_uint64(working_set));
	json_object_array_add(pts, pt);
}

/* Oldest first, each point's age from now; the last sample is the final
 * point when it is newer than the ring's last. */
static struct json_object *history_json(const struct monitor *m)
{
	struct json_object *o = json_object_new_object(), *pts = json_object_new_array();
	const struct engine_sample *s = m->running ? engine_last(&m->eng) : NULL;
	usec_t now = now_monotonic();

	for (size_t i = 0; i < m->hist.n; i++) {
		const struct history_point *p = history_at(&m->hist, i);

		history_point_add(pts, now, p->at, p->working_set);
	}
	/* The newest sample, when the ring has not taken it yet. */
	if (s && (!m->hist.n || s->at > history_at(&m->hist, m->hist.n - 1)->at))
		history_point_add(pts, now, s->at, engine_working_set(s));
	json_object_object_add(o, "step_ms", json_object_new_int64(HISTORY_STEP / 1000));
	json_object_object_add(o, "points", pts);
	return o;
}

void monitor_status_json(struct monitors *ms, struct service *svc, struct json_object *o)
{
	struct monitor *m = ms ? monitor_find(ms, svc) : NULL;
	const struct engine_sample *s = m && m->running ? engine_last(&m->eng) : NULL;
	struct json_object *last = NULL;
	double g;
	usec_t ttm, now = now_monotonic();

	json_object_object_add(o, "growth_bps", s && engine_growth(&m->eng, &g) == 0 ? json_object_new_int64((int64_t)g) : NULL);
	json_object_object_add(o, "time_to_max_ms", s && engine_time_to_max(&m->eng, &ttm) == 0
							    ? json_object_new_int64((int64_t)(ttm / 1000)) : NULL);
	if (m && m->have_last) {
		last = json_object_new_object();
		json_object_object_add(last, "action", json_object_new_string(action_kind_to_string(m->last.action)));
		json_object_object_add(last, "verdict", json_object_new_string(engine_verdict_to_string(m->last.verdict)));
		json_object_object_add(last, "undo", json_object_new_boolean(m->last.undo));
		json_object_object_add(last, "rule", json_object_new_string(m->last.source));
		json_object_object_add(last, "ago_ms", json_object_new_int64(now > m->last_at ? (int64_t)((now - m->last_at) / 1000) : 0));
	}
	json_object_object_add(o, "last_action", last);
}

struct json_object *monitor_explain(struct monitors *ms, struct service *svc)
{
	struct json_object *o = json_object_new_object(), *rules = json_object_new_array();
	struct monitor *m = monitor_find(ms, svc);

	json_object_object_add(o, "ok", json_object_new_boolean(1));
	json_object_object_add(o, "service", json_object_new_string(svc_name(svc)));
	json_object_object_add(o, "kubernetes", service_kube_json(svc));
	json_object_object_add(o, "state", json_object_new_string(service_state_to_string(svc->state)));
	json_object_object_add(o, "monitoring", json_object_new_boolean(m && m->running));
	json_object_object_add(o, "dry_run", json_object_new_boolean(dry(svc)));
	json_object_object_add(o, "protected", json_object_new_boolean(svc->policy->protected_));
	if (!m) {
		json_object_object_add(o, "rules", rules);
		return o;
	}
	add_pressure(o, m);
	json_object_object_add(o, "history", history_json(m));
	for (size_t i = 0; i < m->eng.p->n_rules; i++)
		json_object_array_add(rules, rule_json(&m->eng, i));
	json_object_object_add(o, "rules", rules);
	json_object_object_add(o, "ladder", ladder_json(m));
	if (m->have_last) {
		struct json_object *d = decision_json(&m->last);

		json_object_object_add(d, "action", json_object_new_string(action_kind_to_string(m->last.action)));
		json_object_object_add(d, "reason", json_object_new_string(m->last.reason));
		json_object_object_add(o, "last_decision", d);
	}
	return o;
}
