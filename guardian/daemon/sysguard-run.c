/* sysguard-run.c: the system-wide guard in the daemon: samples MemAvailable
 * and system PSI (timerfd, PSI trigger), ranks the running services,
 * restarts the first, escalates to cgroup.kill, and records every decision. */
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>

#include "actionlog.h"
#include "log.h"
#include "loop.h"
#include "supervisor.h"
#include "procs.h"
#include "sysguard-run.h"
#include "victim.h"


#define MIB (1024.0 * 1024.0)

/* guardian's own growth samples, one per service, ~1 s apart. */
struct growth_ref {
	char *service;
	uint64_t bytes;
	usec_t at;
	double bps;
	bool seen;
};

struct sysguard {
	struct loop *loop;
	struct supervisor *sup;
	struct actionlog *log;
	struct sysguard_config cfg;
	sysguard_growth_fn growth;
	sysguard_engaged_fn engaged;
	void *growth_data;
	struct sysguard_state st;
	struct loop_source *timer;
	struct loop_source *psi_src;
	usec_t psi_woken;
	char *pending;         /* the victim whose stop is under way */
	struct growth_ref *refs;
	size_t n_refs;
	char *pressure_path;
};

/* One tick's view of the running services. */
struct candidates {
	struct victim_candidate *c;
	struct service **svc;
	struct victim_rank *rank;
	size_t n, n_ranked;
	const char **engaged;  /* left to their own engine */
	size_t n_engaged;
	bool stalled;          /* one of them stalls by its own limit or guardian's hand */
};

static void candidates_free(struct candidates *cs)
{
	free(cs->engaged);
	free(cs->c);
	free(cs->svc);
	free(cs->rank);
}

static int read_psi(const struct sysguard *g, struct sysguard_sample *s)
{
	struct cgfs_psi psi;
	int r = cgfs_read_psi(AT_FDCWD, g->pressure_path, &psi);

	if (r < 0)
		return r;
	s->has_psi = true;
	s->psi_some10 = psi.some.avg10;
	s->psi_full10 = psi.has_full ? psi.full.avg10 : 0;
	return 0;
}

static int take_sample(const struct sysguard *g, struct sysguard_sample *s)
{
	struct sysguard_meminfo m;
	int r;

	*s = (struct sysguard_sample){ .at = now_monotonic() };
	r = sysguard_read_meminfo(g->cfg.proc_root, &m);
	if (r < 0)
		return r;
	s->mem_total = m.mem_total;
	s->mem_available = m.mem_available;
	(void)read_psi(g, s); /* no PSI (psi=0 kernels): MemAvailable alone */
	return 0;
}

static struct growth_ref *growth_ref_get(struct sysguard *g, const char *name, uint64_t bytes, usec_t now)
{
	struct growth_ref *v;

	for (size_t i = 0; i < g->n_refs; i++)
		if (strcmp(g->refs[i].service, name) == 0)
			return &g->refs[i];
	v = realloc(g->refs, (g->n_refs + 1) * sizeof(*v));
	if (!v)
		return NULL;
	g->refs = v;
	v = &g->refs[g->n_refs];
	*v = (struct growth_ref){ .service = strdup(name), .bytes = bytes, .at = now };
	if (!v->service)
		return NULL;
	g->n_refs++;
	return v;
}

/* Bytes per second over the last second or two of our own samples. */
static double own_growth(struct sysguard *g, const char *name, uint64_t bytes, usec_t now)
{
	struct growth_ref *ref = growth_ref_get(g, name, bytes, now);

	if (!ref)
		return 0;
	ref->seen = true;
	if (now - ref->at >= USEC_PER_SEC) {
		ref->bps = ((double)bytes - (double)ref->bytes) * (double)USEC_PER_SEC / (double)(now - ref->at);
		ref->bytes = bytes;
		ref->at = now;
	}
	return ref->bps;
}

/* Forget services that were not running in this tick. */
static void growth_refs_sweep(struct sysguard *g)
{
	size_t k = 0;

	for (size_t i = 0; i < g->n_refs; i++) {
		if (!g->refs[i].seen) {
			free(g->refs[i].service);
			continue;
		}
		g->refs[i].seen = false;
		g->refs[k++] = g->refs[i];
	}
	g->n_refs = k;
}

static int gather(struct sysguard *g, usec_t now, struct candidates *cs)
{
	size_t n = g->sup->n_services;

	*cs = (struct candidates){ 0 };
	cs->c = calloc(n ? n : 1, sizeof(*cs->c));
	cs->svc = calloc(n ? n : 1, sizeof(*cs->svc));
	cs->rank = calloc(n ? n : 1, sizeof(*cs->rank));
	cs->engaged = calloc(n ? n : 1, sizeof(*cs->engaged));
	if (!cs->c || !cs->svc || !cs->rank || !cs->engaged)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct service *svc = g->sup->services[i];
		const struct policy *p = svc->policy;
		struct victim_candidate *c = &cs->c[cs->n];
		double bps;
		bool stalled = false;

		if (svc->state != SVC_RUNNING || svc->removed || svc->cgfd < 0)
			continue;
		if (g->engaged && g->engaged(g->growth_data, svc, &stalled)) {
			cs->engaged[cs->n_engaged++] = p->service;
			cs->stalled |= stalled;
			continue;
		}
		if (cgfs_read_working_set(svc->cgfd, &c->usage) < 0)
			continue;
		c->service = p->service;
		c->protected_ = p->protected_;
		c->eviction_class = !svc->kube || svc->kube->qos == KUBE_QOS_GUARANTEED ? VICTIM_NOT_BURSTABLE
				    : svc->kube->qos == KUBE_QOS_BESTEFFORT ? VICTIM_BESTEFFORT : VICTIM_BURSTABLE;
		c->priority = p->priority;
		c->memory_low = p->limits.memory_low.set ? p->limits.memory_low.value : 0;
		if (svc->kube && !p->limits.memory_low.set && svc->kube->memory_request) {
			c->memory_low = svc->kube->memory_request;
			c->low_is_request = true;
		}
		if (svc->kube)
			c->pod_priority = svc->kube->pod_priority;
		/* The faster of the engine's fit and our own figure from this
		 * tick's working set: a calm service's engine samples every few
		 * seconds only, and a growth that just began is not in its fit
		 * yet. */
		c->growth_bps = own_growth(g, p->service, c->usage, now);
		if (g->growth && g->growth(g->growth_data, svc, &bps) == 0 && bps > c->growth_bps)
			c->growth_bps = bps;
		cs->svc[cs->n++] = svc;
	}
	growth_refs_sweep(g);
	cs->n_ranked = victim_rank(cs->c, cs->n, cs->rank);
	return 0;
}

static struct json_object *ranking_json(const struct candidates *cs)
{
	struct json_object *arr = json_object_new_array();

	for (size_t i = 0; i < cs->n_ranked; i++) {
		const struct victim_rank *r = &cs->rank[i];
		const struct victim_candidate *c = &cs->c[r->index];
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "service", json_object_new_string(c->service));
		json_object_object_add(o, "priority", json_object_new_int(c->priority));
		json_object_object_add(o, "usage", json_object_new_int64((int64_t)c->usage));
		json_object_object_add(o, "memory_low", c->memory_low == UINT64_MAX ?
				       json_object_new_string("max") : json_object_new_int64((int64_t)c->memory_low));
		json_object_object_add(o, "growth_bps", json_object_new_double((double)(int64_t)c->growth_bps));
		json_object_object_add(o, "reason", json_object_new_string(r->reason));
		json_object_array_add(arr, o);
	}
	return arr;
}

static struct json_object *engaged_json(const struct candidates *cs)
{
	struct json_object *arr = json_object_new_array();

	for (size_t i = 0; i < cs->n_engaged; i++)
		json_object_array_add(arr, json_object_new_string(cs->engaged[i]));
	return arr;
}

static struct json_object *protected_json(const struct candidates *cs)
{
	struct json_object *arr = json_object_new_array();

	for (size_t i = 0; i < cs->n; i++)
		if (cs->c[i].protected_)
			json_object_array_add(arr, json_object_new_string(cs->c[i].service));
	return arr;
}

static void describe_trigger(const struct sysguard *g, enum sysguard_trigger t, const struct sysguard_sample *s,
			     char *buf, size_t len)
{
	char th[96];

	sysguard_threshold_describe(&g->cfg.min_available, th, sizeof(th));
	if (t == SG_TRIGGER_PSI_FULL)
		snprintf(buf, len, "system memory PSI full avg10 %.1f%% >= %g%% for %.1fs", s->psi_full10,
			 g->cfg.psi_full_limit, (double)g->st.psi_held / USEC_PER_SEC);
	else
		snprintf(buf, len, "MemAvailable %.0f MiB < %.0f MiB (%s)", (double)s->mem_available / MIB,
			 (double)sysguard_threshold_bytes(&g->cfg.min_available, s->mem_total) / MIB, th);
}

static void write_record(struct sysguard *g, struct service *svc, const char *action, const char *reason,
			 enum sysguard_verdict v, enum sysguard_trigger t, const struct sysguard_sample *s,
			 const struct candidates *cs, struct json_object *extra)
{
	struct json_object *rec;
	int r;

	if (!g->log) {
		json_object_put(extra);
		return;
	}
	rec = service_record(svc, "guardian", action, reason);
	if (!rec) {
		json_object_put(extra);
		return;
	}
	json_object_object_add(rec, "guard", json_object_new_string("system"));
	json_object_object_add(rec, "decision", json_object_new_string(sysguard_verdict_to_string(v)));
	json_object_object_add(rec, "trigger", json_object_new_string(sysguard_trigger_to_string(t)));
	json_object_object_add(rec, "mem_available", json_object_new_int64((int64_t)s->mem_available));
	json_object_object_add(rec, "mem_total", json_object_new_int64((int64_t)s->mem_total));
	json_object_object_add(rec, "min_available", json_object_new_int64((int64_t)sysguard_threshold_bytes(
				       &g->cfg.min_available, s->mem_total)));
	json_object_object_add(rec, "psi_some_avg10", s->has_psi ? json_object_new_double(s->psi_some10) : NULL);
	json_object_object_add(rec, "psi_full_avg10", s->has_psi ? json_object_new_double(s->psi_full10) : NULL);
	json_object_object_add(rec, "dry_run", json_object_new_boolean(v == SG_DRY_RUN));
	if (cs) {
		json_object_object_add(rec, "ranking", ranking_json(cs));
		json_object_object_add(rec, "protected", protected_json(cs));
		json_object_object_add(rec, "engaged", engaged_json(cs));
	}
	r = actionlog_write_with(g->log, rec, extra);
	if (r < 0)
		log_warning_errno(r, "system guard: cannot write the action log");
}

static void escalate(struct sysguard *g, enum sysguard_trigger t, const struct sysguard_sample *s)
{
	struct service *svc = supervisor_find(g->sup, g->pending);
	struct json_object *extra;
	char why[160], reason[320];
	struct group_kill k;
	int r;

	if (!svc)
		return;
	describe_trigger(g, t, s, why, sizeof(why));
	r = group_kill_and_release(svc->cgfd, &k);
	snprintf(reason, sizeof(reason), "%s %.1fs after its restart began: cgroup.kill and process_mrelease",
		 why, (double)SYSGUARD_KILL_AFTER / USEC_PER_SEC);
	if (r < 0)
		log_error_errno(r, "system guard: %s: cgroup.kill of %s", svc->policy->service, svc->cgroup);
	log_warning("system guard: %s: %s (%zu process(es): %u released, %u already exited, %u failed%s%s)",
		    svc->policy->service, reason, k.n, k.released, k.exited, k.failed, k.failed ? ": " : "",
		    k.failed ? strerror(k.error) : "");
	extra = json_object_new_object();
	json_object_object_add(extra, "signal", json_object_new_string("KILL"));
	json_object_object_add(extra, "mreleased", json_object_new_int((int)k.released));
	json_object_object_add(extra, "mrelease_exited", json_object_new_int((int)k.exited));
	json_object_object_add(extra, "mrelease_failed", json_object_new_int((int)k.failed));
	if (k.failed)
		json_object_object_add(extra, "mrelease_error", json_object_new_string(strerror(k.error)));
	actionlog_add_pids(extra, k.pids, k.n);
	group_kill_done(&k);
	write_record(g, svc, "kill", reason, SG_ESCALATE, t, s, NULL, extra);
}

static void act(struct sysguard *g, struct sysguard_decision d, enum sysguard_trigger t,
		const struct sysguard_sample *s, const struct candidates *cs)
{
	struct service *victim = cs->n_ranked ? cs->svc[cs->rank[0].index] : NULL;
	const char *name = victim ? victim->policy->service : NULL;
	char why[160], reason[512];

	describe_trigger(g, t, s, why, sizeof(why));
	switch (d.verdict) {
	case SG_ACT:
		snprintf(reason, sizeof(reason), "%s: restarting %s, first in the ranking (%s)", why, name,
			 cs->rank[0].reason);
		break;
	case SG_DRY_RUN:
		snprintf(reason, sizeof(reason), "%s: would restart %s, first in the ranking (%s); %s", why, name,
			 cs->rank[0].reason, g->cfg.dry_run ? "--dry-run" : "its policy says dry_run");
		break;
	case SG_RATE_LIMITED:
		snprintf(reason, sizeof(reason), "%s: no victim yet, the last was chosen %.1fs ago (one per %.0fs)",
			 why, (double)(s->at - g->st.last_choice) / USEC_PER_SEC,
			 (double)SYSGUARD_MIN_INTERVAL / USEC_PER_SEC);
		victim = NULL;
		break;
	case SG_NO_VICTIM:
		snprintf(reason, sizeof(reason), "%s: no victim: %s", why,
			 cs->n ? "every running service is protected" : "no guarded service is running");
		break;
	default:
		return;
	}
	if (d.verdict == SG_ACT)
		log_warning("system guard: %s", reason);
	else if (d.record)
		log_notice("system guard: %s", reason);
	if (d.record)
		write_record(g, d.verdict == SG_RATE_LIMITED || d.verdict == SG_NO_VICTIM ? NULL : victim,
			     d.verdict == SG_ACT || d.verdict == SG_DRY_RUN ? "restart" : "none", reason, d.verdict, t,
			     s, cs, NULL);
	if (d.verdict == SG_ACT) {
		free(g->pending);
		g->pending = strdup(name);
		service_restart(victim, EXIT_RULE, reason, true);
	}
}

/* The pending victim's stop has ended: restarted, stopped, or gone. */
static bool pending_gone(struct sysguard *g)
{
	struct service *svc = g->pending ? supervisor_find(g->sup, g->pending) : NULL;

	return !svc || svc->state != SVC_STOPPING;
}

static bool machine_short(const struct sysguard *g, const struct sysguard_sample *s)
{
	return g->st.pending || s->mem_available < sysguard_threshold_bytes(&g->cfg.min_available, s->mem_total) ||
	       (s->has_psi && g->cfg.psi_full_limit > 0 && s->psi_full10 >= g->cfg.psi_full_limit);
}

static void tick(struct sysguard *g)
{
	struct candidates cs = { 0 };
	struct sysguard_sample s;
	struct sysguard_decision d;
	enum sysguard_trigger t;
	usec_t now;
	int r;

	r = take_sample(g, &s);
	if (r < 0) {
		log_warning_errno(r, "system guard: cannot read %s/meminfo", g->cfg.proc_root);
		(void)loop_timer_rearm(g->timer, SYSGUARD_SLOW_INTERVAL);
		return;
	}
	now = s.at;
	/* The services are looked at only when the machine is short (or a
	 * victim's stop is under way): on a comfortable machine a tick reads
	 * two /proc files, however many services there are. */
	if (machine_short(g, &s) && gather(g, now, &cs) < 0) {
		candidates_free(&cs);
		(void)loop_timer_rearm(g->timer, SYSGUARD_FAST_INTERVAL);
		return;
	}
	s.psi_self = cs.stalled;
	t = sysguard_check(&g->cfg, &g->st, &s);
	d = sysguard_decide(&g->cfg, &g->st, t, now, cs.n_ranked,
			    cs.n_ranked && cs.svc[cs.rank[0].index]->policy->dry_run, pending_gone(g));
	if (d.verdict == SG_ESCALATE)
		escalate(g, t, &s);
	else
		act(g, d, t, &s, &cs);
	candidates_free(&cs);
	(void)loop_timer_rearm(g->timer, sysguard_next_interval(&g->cfg, &g->st, &s, g->psi_woken, now));
}

static int on_timer(struct loop_source *src, int fd, uint32_t revents, void *data)
{
	tick(data);
	return 0;
}

static int on_psi(struct loop_source *src, int fd, uint32_t revents, void *data)
{
	struct sysguard *g = data;

	if (revents & EPOLLERR) {
		log_warning("system guard: the PSI trigger on %s failed; MemAvailable only", g->pressure_path);
		loop_source_free(src);
		g->psi_src = NULL;
		return 0;
	}
	g->psi_woken = now_monotonic();
	log_debug("system guard: PSI trigger '%s' fired", SYSGUARD_PSI_TRIGGER);
	tick(g);
	return 0;
}

/* The trigger is the wake-up for fast sampling; without it (no PSI, not
 * root) the guard still works on its timer. */
static int setup_psi_trigger(struct sysguard *g)
{
	int fd = cgfs_psi_trigger(AT_FDCWD, g->pressure_path, SYSGUARD_PSI_TRIGGER), r;

	if (fd < 0)
		return fd;
	r = loop_add_fd(g->loop, fd, EPOLLPRI, true, on_psi, g, &g->psi_src);
	if (r < 0)
		close(fd);
	return r;
}

int sysguard_start(struct loop *loop, struct supervisor *sup, const struct sysguard_run_config *cfg,
		   struct sysguard **ret)
{
	struct sysguard *g = calloc(1, sizeof(*g));
	char th[96];
	int r;

	if (!g)
		return -ENOMEM;
	*g = (struct sysguard){ .loop = loop, .sup = sup, .log = cfg->log, .cfg = cfg->guard,
				.growth = cfg->growth, .engaged = cfg->engaged,
				.growth_data = cfg->growth_data };
	if (!g->cfg.proc_root)
		g->cfg.proc_root = "/proc";
	if (asprintf(&g->pressure_path, "%s/pressure/memory", g->cfg.proc_root) < 0) {
		free(g);
		return -ENOMEM;
	}
	r = setup_psi_trigger(g);
	if (r < 0)
		log_warning_errno(r, "system guard: no PSI trigger on %s (sampling every %.1fs instead)",
				  g->pressure_path, (double)SYSGUARD_SLOW_INTERVAL / USEC_PER_SEC);
	r = loop_add_timer(loop, SYSGUARD_FAST_INTERVAL, on_timer, g, &g->timer);
	if (r < 0) {
		sysguard_stop(g);
		return r;
	}
	sysguard_threshold_describe(&g->cfg.min_available, th, sizeof(th));
	log_info("system guard: acting when MemAvailable is below %s, or PSI full avg10 >= %g%% for %.0fs%s", th,
		 g->cfg.psi_full_limit, (double)SYSGUARD_PSI_HOLD / USEC_PER_SEC, g->cfg.dry_run ? " (dry run)" : "");
	*ret = g;
	return 0;
}

void sysguard_stop(struct sysguard *g)
{
	if (!g)
		return;
	loop_source_freep(&g->timer);
	loop_source_freep(&g->psi_src);
	for (size_t i = 0; i < g->n_refs; i++)
		free(g->refs[i].service);
	free(g->refs);
	free(g->pending);
	free(g->pressure_path);
	free(g);
}
