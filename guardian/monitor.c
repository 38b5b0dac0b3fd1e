/* monitor.c: per-service glue of the pressure engine: signals -> engine ->
 * actions -> action log, the follow-up records, and `explain`. */
#include "monitor.h"

#include <math.h>

#include "actions.h"
#include "engine.h"
#include "log.h"
#include "signals.h"

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
};

struct monitor {
	struct service *svc;
	const struct policy *policy; /* the one the engine was built for */
	struct engine eng;
	struct signals *sig;
	bool running;
	bool we_throttled, we_froze; /* left on the group: undone at the next start */
	struct engine_sample first;  /* memory.events deltas are counted from here */
	bool have_first;
	struct followup fu[FOLLOWUPS_MAX];
	struct engine_decision last;
	bool have_last;
};

#define svc_name(svc) ((svc)->policy->service)

static bool dry(const struct service *svc)
{
	return svc->sup->cfg.dry_run || svc->policy->dry_run;
}

/* A reload may have replaced the policy the engine points into. */
static int sync_policy(struct monitor *m)
{
	if (m->policy == m->svc->policy)
		return 0;
	m->policy = m->svc->policy;
	m->have_first = false;
	return engine_reset(&m->eng, m->policy, dry(m->svc));
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

static void write_record(struct service *svc, const char *action, const char *reason, struct json_object *extra)
{
	struct json_object *rec;

	if (!svc->sup->actions) {
		json_object_put(extra);
		return;
	}
	rec = actionlog_record(svc_name(svc), svc->cgroup, "engine", action, reason);
	if (rec) {
		json_object_object_foreach(extra, k, v)
			json_object_object_add(rec, k, json_object_get(v));
		if (actionlog_write(svc->sup->actions, rec) < 0)
			log_warning("%s: cannot write the action log", svc_name(svc));
	}
	json_object_put(extra);
}

static void record_decision(struct service *svc, const struct engine_decision *d, int r, const char *note)
{
	struct json_object *o = decision_json(d);

	if (d->verdict == VERDICT_ACT)
		json_object_object_add(o, "result", json_object_new_string(r < 0 ? strerror(-r) : "ok"));
	if (note && *note)
		json_object_object_add(o, "note", json_object_new_string(note));
	write_record(svc, action_kind_to_string(d->action), d->reason, o);
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
	if (svc->cgfd < 0 || signals_read(svc->cgfd, &now) < 0)
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
	write_record(svc, "follow-up", why, o);
	if ((f->action == ACTION_RESTART || f->action == ACTION_KILL) && freed < FUTILE_FREED)
		engine_note_futile_kill(&m->eng);
	return 0;
}

static void schedule_followup(struct monitor *m, const struct engine_decision *d, const struct engine_sample *s)
{
	for (size_t i = 0; i < FOLLOWUPS_MAX; i++) {
		struct followup *f = &m->fu[i];

		if (f->timer)
			continue;
		*f = (struct followup){ .m = m, .action = d->action, .current = s->current,
					.ws = engine_working_set(s), .oom_kill = s->ev_oom_kill,
					.psi_some = s->psi_some10 };
		snprintf(f->source, sizeof(f->source), "%s", d->source);
		if (loop_add_timer(m->svc->sup->loop, FOLLOWUP_DELAY, on_followup, f, &f->timer) < 0)
			f->timer = NULL;
		return;
	}
}

/* --- the sample loop ----------------------------------------------------------- */

static bool ends_run(enum action_kind a)
{
	return a == ACTION_RESTART || a == ACTION_STOP || a == ACTION_KILL;
}

static void carry_out(struct monitor *m, const struct engine_decision *d, const struct engine_sample *s)
{
	struct service *svc = m->svc;
	char note[256] = "";
	int r = 0;

	m->last = *d;
	m->have_last = true;
	if (d->verdict != VERDICT_ACT) {
		record_decision(svc, d, 0, NULL);
		return;
	}
	if (d->action != ACTION_NOTIFY && !d->undo)
		schedule_followup(m, d, s);
	if (ends_run(d->action)) /* the record first: the stop writes its own after */
		record_decision(svc, d, 0, "the service's stop begins");
	if (d->action == ACTION_THROTTLE)
		m->we_throttled = !d->undo;
	if (d->action == ACTION_FREEZE)
		m->we_froze = !d->undo;
	r = actions_run(svc, d, note, sizeof(note));
	if (r < 0)
		log_warning_errno(r, "%s: %s: %s", svc_name(svc), action_kind_to_string(d->action), d->reason);
	else
		log_notice("%s: %s%s (%s)", svc_name(svc), action_kind_to_string(d->action), d->undo ? " undone" : "",
			   d->reason);
	if (!ends_run(d->action))
		record_decision(svc, d, r, note);
}

static void on_sample(void *data, const struct engine_sample *s)
{
	struct monitor *m = data;
	struct engine_decision out[ENGINE_MAX_DECISIONS];
	size_t n;

	if (sync_policy(m) < 0)
		return;
	if (!m->have_first) {
		m->first = *s;
		m->have_first = true;
	}
	n = engine_feed(&m->eng, s, out, ARRAY_SIZE(out));
	signals_set_fast(m->sig, engine_wants_fast(&m->eng));
	for (size_t i = 0; i < n && m->running; i++)
		carry_out(m, &out[i], s);
}

int monitor_start(struct service *svc)
{
	struct monitor *m = svc->monitor;
	int r;

	if (!m) {
		m = calloc(1, sizeof(*m));
		if (!m)
			return -ENOMEM;
		m->svc = svc;
		r = engine_init(&m->eng, svc->policy, dry(svc));
		if (r < 0) {
			free(m);
			return r;
		}
		m->policy = svc->policy;
		svc->monitor = m;
	} else if (m->running)
		return 0;
	m->policy = svc->policy;
	r = engine_reset(&m->eng, svc->policy, dry(svc));
	if (r < 0)
		return r;
	/* A new run starts from the policy's limits, not the last run's throttle. */
	actions_restore(svc, m->we_froze, m->we_throttled);
	m->we_froze = m->we_throttled = false;
	m->have_first = false;
	m->running = true;
	r = signals_start(svc->sup->loop, svc->cgfd, svc->policy->sample_interval, on_sample, m, &m->sig);
	if (r < 0)
		m->running = false;
	return r;
}

void monitor_stop(struct service *svc)
{
	struct monitor *m = svc->monitor;

	if (!m || !m->running)
		return;
	signals_stop(m->sig);
	m->sig = NULL;
	m->running = false;
}

void monitor_free(struct service *svc)
{
	struct monitor *m = svc->monitor;

	if (!m)
		return;
	monitor_stop(svc);
	for (size_t i = 0; i < FOLLOWUPS_MAX; i++)
		loop_source_freep(&m->fu[i].timer);
	engine_free(&m->eng);
	free(m);
	svc->monitor = NULL;
}

int monitor_growth(struct service *svc, double *ret_bps)
{
	struct monitor *m = svc->monitor;

	if (!m || !m->running || sync_policy(m) < 0)
		return -ENODATA;
	return engine_growth(&m->eng, ret_bps);
}

int monitor_time_to_max(struct service *svc, usec_t *ret)
{
	struct monitor *m = svc->monitor;

	if (!m || !m->running || sync_policy(m) < 0)
		return -ENODATA;
	return engine_time_to_max(&m->eng, ret);
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

static void add_signals(struct json_object *o, struct monitor *m)
{
	const struct engine *e = &m->eng;
	const struct engine_sample *s = engine_last(e);
	struct json_object *ev = json_object_new_object();
	double g;
	usec_t ttm;

	json_object_object_add(o, "psi_trigger", m->sig && signals_psi_armed(m->sig)
							 ? json_object_new_string(SIGNALS_PSI_TRIGGER) : NULL);
	json_object_object_add(o, "memory_events_watched", json_object_new_boolean(m->sig && signals_events_armed(m->sig)));
	json_object_object_add(o, "interval_ms",
			       m->sig ? json_object_new_int64((int64_t)(signals_interval(m->sig) / 1000)) : NULL);
	json_object_object_add(o, "samples", json_object_new_int64(m->sig ? (int64_t)signals_samples(m->sig) : 0));
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

struct json_object *monitor_explain(struct service *svc)
{
	struct json_object *o = json_object_new_object(), *rules = json_object_new_array();
	struct monitor *m = svc->monitor;

	json_object_object_add(o, "ok", json_object_new_boolean(1));
	json_object_object_add(o, "service", json_object_new_string(svc_name(svc)));
	json_object_object_add(o, "state", json_object_new_string(service_state_to_string(svc->state)));
	json_object_object_add(o, "monitoring", json_object_new_boolean(m && m->running));
	json_object_object_add(o, "dry_run", json_object_new_boolean(dry(svc)));
	json_object_object_add(o, "protected", json_object_new_boolean(svc->policy->protected_));
	if (!m || sync_policy(m) < 0) {
		json_object_object_add(o, "rules", rules);
		return o;
	}
	add_signals(o, m);
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
