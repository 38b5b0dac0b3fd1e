/* bpf-events.c: what the observers saw, in guardian's terms: the guarded
 * cgroups (their own table, never the supervisor's), kernel OOM kills
 * recorded under the cgroup's name (from BPF, else from memory.events),
 * signals handed up through on_signal, reclaim news. */
#include <fcntl.h>
#include <stdio.h>

#include "bpf-internal.h"
#include "cgfs.h"
#include "log.h"

const char *const observer_names[_OBS_MAX] = {
	[OBS_OOMKILL] = "oomkill",
	[OBS_SIGNAL] = "signal",
	[OBS_RECLAIM] = "reclaim",
};

static struct guarded *find_guarded(const struct bpf_observers *o, uint64_t id)
{
	for (size_t i = 0; id && i < o->n_g; i++)
		if (o->g[i]->cgroup_id == id)
			return o->g[i];
	return NULL;
}

static struct guarded *find_by_path(const struct bpf_observers *o, const char *path)
{
	for (size_t i = 0; i < o->n_g; i++)
		if (o->g[i]->path && strcmp(o->g[i]->path, path) == 0)
			return o->g[i];
	return NULL;
}

/* --- kernel OOM kills ---------------------------------------------------- */

struct oom_kill {
	const struct guarded *g; /* NULL: not a guarded cgroup */
	const char *cgroup;   /* the victim's cgroup path, when known */
	pid_t pid;            /* 0 when only a count is known (memory.events) */
	uint64_t count;       /* kills this record stands for */
	const char *via;      /* "bpf" or "memory.events" */
	const struct oomkill_event *e; /* the details, with BPF */
};

static void record_oom_kill(struct bpf_observers *o, const struct oom_kill *k)
{
	const struct oomkill_event *e = k->e;
	const char *name = k->g ? k->g->name : NULL;
	struct json_object *rec, *extra;
	char why[160];
	int r;

	if (name && k->pid)
		snprintf(why, sizeof(why), "the kernel OOM killer killed pid %d (%s) of %s", k->pid,
			 e && e->has_comm ? e->comm : "?", name);
	else if (name)
		snprintf(why, sizeof(why), "the kernel OOM killer killed %" PRIu64 " process(es) of %s "
			 "(memory.events oom_kill)", k->count, name);
	else
		snprintf(why, sizeof(why), "the kernel OOM killer killed pid %d (%s)", k->pid,
			 e && e->has_comm ? e->comm : "?");
	log_warning("%s", why);
	if (!o->cfg.log)
		return;
	rec = actionlog_record(name, k->g ? k->g->path : k->cgroup, "kernel", "oom-kill", why);
	extra = json_object_new_object();
	if (!rec || !extra) {
		json_object_put(rec);
		json_object_put(extra);
		return;
	}
	actionlog_add_pids(extra, &k->pid, k->pid ? 1 : 0);
	json_object_object_add(extra, "signal", json_object_new_string("KILL"));
	json_object_object_add(extra, "via", json_object_new_string(k->via));
	json_object_object_add(extra, "oom_kills", json_object_new_uint64(k->count));
	if (e && e->has_comm)
		json_object_object_add(extra, "comm", json_object_new_string(e->comm));
	if (e) {
		json_object_object_add(extra, "uid", json_object_new_int64(e->uid));
		json_object_object_add(extra, "oom_score_adj", json_object_new_int(e->oom_score_adj));
	}
	if (e && e->has_details) {
		json_object_object_add(extra, "anon_rss_kb", json_object_new_uint64(e->anon_rss));
		json_object_object_add(extra, "file_rss_kb", json_object_new_uint64(e->file_rss));
		json_object_object_add(extra, "shmem_rss_kb", json_object_new_uint64(e->shmem_rss));
	}
	if (k->g && o->cfg.annotate)
		o->cfg.annotate(o->cfg.data, k->g->cgroup_id, rec);
	r = actionlog_write_with(o->cfg.log, rec, extra);
	if (r < 0)
		log_warning_errno(r, "cannot write the action log");
}

/* memory.events oom_kill above what was accounted for: the kills nobody
 * reported (BPF off, or a victim gone before its cgroup was looked up). */
static uint64_t pending_kills(const struct guarded *g)
{
	uint64_t v;

	if (g->cgfd < 0 || cgfs_read_keyed(g->cgfd, "memory.events", "oom_kill", &v) < 0 || v <= g->oom_base)
		return 0;
	return v - g->oom_base;
}

void observers_oom_event(struct bpf_observers *o, const struct oomkill_event *e)
{
	struct oom_kill k = { .pid = e->tgid ?: e->pid, .count = 1, .via = "bpf", .e = e };
	_cleanup_free_ char *path = NULL;
	struct guarded *g = NULL;

	o->kernel_oom_kills++;
	if (e->cgroup_id) {
		g = find_guarded(o, e->cgroup_id);
	} else if (cgfs_pid_cgroup(o->cfg.proc_root, k.pid, &path) == 0) {
		/* The classic tracepoint has only the pid; the victim may still
		 * be there (it is marked, not yet gone). */
		g = find_by_path(o, path);
		k.cgroup = path;
	} else {
		/* Gone already: the guarded cgroup whose memory.events counted
		 * one more kill than we know of. */
		for (size_t i = 0; i < o->n_g && !g; i++)
			if (pending_kills(o->g[i]) > 0)
				g = o->g[i];
	}
	if (g) { /* this event accounts for one kill in its memory.events */
		g->oom_base++;
		g->kernel_oom_kills++;
	}
	k.g = g;
	record_oom_kill(o, &k);
}

/* Without the oomkill program: this guarded cgroup's memory.events changed. */
static void on_memory_events(void *data)
{
	struct guarded *g = data;
	uint64_t n = pending_kills(g);

	if (n) {
		struct oom_kill k = { .g = g, .count = n, .via = "memory.events" };

		g->oom_base += n;
		g->kernel_oom_kills += n;
		g->o->kernel_oom_kills += n;
		record_oom_kill(g->o, &k);
	}
}

/* --- guarded cgroups ----------------------------------------------------- */

static void guarded_free(struct guarded *g)
{
	cgwatch_removep(&g->events);
	if (g->cgfd >= 0)
		close(g->cgfd);
	free(g->name);
	free(g->path);
	free(g);
}

static int add_guarded(struct bpf_observers *o, uint64_t id, int cgfd, const char *name, const char *path)
{
	struct guarded **v, *g;
	int r;

	v = realloc(o->g, (o->n_g + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	o->g = v;
	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	*g = (struct guarded){ .cgroup_id = id, .cgfd = -1, .o = o, .name = strdup(name ?: ""),
			       .path = path ? strdup(path) : NULL };
	if (!g->name || (path && !g->path)) {
		guarded_free(g);
		return -ENOMEM;
	}
	if (cgfd >= 0)
		g->cgfd = fcntl(cgfd, F_DUPFD_CLOEXEC, 3);
	if (g->cgfd >= 0)
		(void)cgfs_read_keyed(g->cgfd, "memory.events", "oom_kill", &g->oom_base);
	o->g[o->n_g++] = g;
	r = observers_map_guard(o, id, true);
	if (r < 0 && r != -ENODEV)
		log_warning_errno(r, "cannot add cgroup %" PRIu64 " to the BPF map guarded_cgroups: "
				  "signals to it and its reclaim go unobserved", id);
	if (!o->on[OBS_OOMKILL] && g->cgfd >= 0 && o->cfg.watch) {
		r = cgwatch_add(o->cfg.watch, g->cgfd, "memory.events", on_memory_events, g, &g->events);
		if (r < 0)
			log_warning_errno(r, "cannot watch memory.events of cgroup %" PRIu64, id);
	}
	log_debug("bpf: guarding cgroup %" PRIu64 " of %s", id, g->name);
	return 0;
}

static void drop_guarded(struct bpf_observers *o, size_t i)
{
	struct guarded *g = o->g[i];

	(void)observers_map_guard(o, g->cgroup_id, false);
	guarded_free(g);
	o->g[i] = o->g[--o->n_g];
}

int bpf_observers_guard(struct bpf_observers *o, uint64_t cgroup_id, int cgfd, const char *name,
			const char *path)
{
	if (!o || !cgroup_id || find_guarded(o, cgroup_id))
		return 0;
	return add_guarded(o, cgroup_id, cgfd, name, path);
}

void bpf_observers_unguard(struct bpf_observers *o, uint64_t cgroup_id)
{
	for (size_t i = 0; o && i < o->n_g; i++)
		if (o->g[i]->cgroup_id == cgroup_id) {
			drop_guarded(o, i);
			return;
		}
}

void observers_free_guarded(struct bpf_observers *o)
{
	while (o->n_g)
		drop_guarded(o, o->n_g - 1);
	free(o->g);
	o->g = NULL;
}

/* --- signals and reclaim -------------------------------------------------- */

void observers_signal_event(struct bpf_observers *o, const struct signal_event *e)
{
	struct signal_sender s = { .sig = e->sig, .target = e->target_tgid, .pid = e->sender_tgid,
				   .uid = e->sender_uid, .at = now_monotonic() };

	if (!find_guarded(o, e->target_cgroup))
		return; /* unguarded since: the map entry went with it */
	memcpy(s.comm, e->sender_comm, sizeof(s.comm));
	s.comm[sizeof(s.comm) - 1] = '\0';
	log_debug("bpf: SIG%s to %d (%.16s) from %d/%d (%s, uid %u, cgroup %llu)", sigabbrev_np(e->sig) ?: "?",
		  e->target_pid, e->target_comm, e->sender_tgid, e->sender_pid, s.comm, e->sender_uid,
		  e->sender_cgroup);
	if (o->cfg.on_signal)
		o->cfg.on_signal(o->cfg.data, e->target_cgroup, &s);
}

void observers_reclaim_event(struct bpf_observers *o, const struct reclaim_event *e)
{
	if (!find_guarded(o, e->cgroup_id))
		return;
	if (o->reclaim_cb)
		o->reclaim_cb(o->reclaim_data, e->cgroup_id, e->reclaims, e->at / 1000);
}

int bpf_observers_reclaim(struct bpf_observers *o, uint64_t cgroup_id, uint64_t *ret_count, usec_t *ret_last)
{
	struct guarded_cgroup v;
	int r;

	*ret_count = 0;
	*ret_last = 0;
	if (!o || !o->on[OBS_RECLAIM])
		return -ENODEV;
	r = observers_map_read(o, cgroup_id, &v);
	if (r < 0)
		return r;
	*ret_count = v.reclaims;
	*ret_last = v.last_reclaim / 1000;
	return 0;
}

void bpf_observers_on_reclaim(struct bpf_observers *o, bpf_reclaim_cb cb, void *data)
{
	if (!o)
		return;
	o->reclaim_cb = cb;
	o->reclaim_data = data;
}

/* --- status ---------------------------------------------------------------- */

void bpf_observers_status_json(const struct bpf_observers *o, struct json_object *status)
{
	struct json_object *p = json_object_new_object();

	for (int i = 0; i < _OBS_MAX; i++)
		json_object_object_add(p, observer_names[i],
				       json_object_new_string(o ? o->how[i] : "off"));
	json_object_object_add(status, "bpf_programs", p);
	json_object_object_add(status, "kernel_oom_kills", json_object_new_uint64(o ? o->kernel_oom_kills : 0));
}

void bpf_observers_service_json(const struct bpf_observers *o, uint64_t cgroup_id, struct json_object *svc)
{
	const struct guarded *g = o ? find_guarded(o, cgroup_id) : NULL;
	uint64_t count;
	usec_t last;
	char ts[40];

	json_object_object_add(svc, "kernel_oom_kills", json_object_new_uint64(g ? g->kernel_oom_kills : 0));
	if (bpf_observers_reclaim((struct bpf_observers *)o, cgroup_id, &count, &last) < 0) {
		json_object_object_add(svc, "reclaim_events", NULL);
		json_object_object_add(svc, "reclaim_last", NULL);
		return;
	}
	json_object_object_add(svc, "reclaim_events", json_object_new_uint64(count));
	if (!last) {
		json_object_object_add(svc, "reclaim_last", NULL);
		return;
	}
	format_rfc3339(now_realtime() - (now_monotonic() - last), ts, sizeof(ts));
	json_object_object_add(svc, "reclaim_last", json_object_new_string(ts));
}

uint64_t bpf_observers_oom_kills(const struct bpf_observers *o, uint64_t cgroup_id)
{
	const struct guarded *g = o ? find_guarded(o, cgroup_id) : NULL;

	return g ? g->kernel_oom_kills : 0;
}

uint64_t bpf_observers_oom_kills_all(const struct bpf_observers *o)
{
	return o ? o->kernel_oom_kills : 0;
}

bool bpf_observers_program(const struct bpf_observers *o, size_t i, const char **ret_name, bool *ret_loaded)
{
	if (i >= _OBS_MAX)
		return false;
	*ret_name = observer_names[i];
	*ret_loaded = o && o->on[i];
	return true;
}
