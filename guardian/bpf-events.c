/* bpf-events.c: what the observers saw, in guardian's terms: guarded
 * cgroups, kernel OOM kills attributed to services (from BPF, else from
 * memory.events), signals handed to the supervisor, reclaim news. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/inotify.h>

#include "bpf-internal.h"
#include "log.h"
#include "supervisor.h"

const char *const observer_names[_OBS_MAX] = {
	[OBS_OOMKILL] = "oomkill",
	[OBS_SIGNAL] = "signal",
	[OBS_RECLAIM] = "reclaim",
};

static struct guarded *find_guarded(const struct bpf_observers *o, uint64_t id)
{
	for (size_t i = 0; i < o->n_g; i++)
		if (o->g[i].cgroup_id == id)
			return &o->g[i];
	return NULL;
}

/* --- kernel OOM kills ---------------------------------------------------- */

struct oom_kill {
	struct service *svc;  /* NULL: not one of guardian's services */
	const char *cgroup;   /* the victim's cgroup path, when known */
	pid_t pid;            /* 0 when only a count is known (memory.events) */
	uint64_t count;       /* kills this record stands for */
	const char *via;      /* "bpf" or "memory.events" */
	const struct oomkill_event *e; /* the details, with BPF */
};

static void record_oom_kill(struct bpf_observers *o, const struct oom_kill *k)
{
	const struct oomkill_event *e = k->e;
	struct json_object *rec;
	char why[160];

	if (k->svc && k->pid)
		snprintf(why, sizeof(why), "the kernel OOM killer killed pid %d (%s) of %s", k->pid,
			 e && e->has_comm ? e->comm : "?", k->svc->policy->service);
	else if (k->svc)
		snprintf(why, sizeof(why), "the kernel OOM killer killed %" PRIu64 " process(es) of %s "
			 "(memory.events oom_kill)", k->count, k->svc->policy->service);
	else
		snprintf(why, sizeof(why), "the kernel OOM killer killed pid %d (%s)", k->pid,
			 e && e->has_comm ? e->comm : "?");
	log_warning("%s", why);
	if (!o->log)
		return;
	rec = actionlog_record(k->svc ? k->svc->policy->service : NULL, k->svc ? k->svc->cgroup : k->cgroup,
			       "kernel", "oom-kill", why);
	if (!rec)
		return;
	actionlog_add_pids(rec, &k->pid, k->pid ? 1 : 0);
	json_object_object_add(rec, "signal", json_object_new_string("KILL"));
	json_object_object_add(rec, "via", json_object_new_string(k->via));
	json_object_object_add(rec, "oom_kills", json_object_new_uint64(k->count));
	if (e && e->has_comm)
		json_object_object_add(rec, "comm", json_object_new_string(e->comm));
	if (e) {
		json_object_object_add(rec, "uid", json_object_new_int64(e->uid));
		json_object_object_add(rec, "oom_score_adj", json_object_new_int(e->oom_score_adj));
	}
	if (e && e->has_details) {
		json_object_object_add(rec, "anon_rss_kb", json_object_new_uint64(e->anon_rss));
		json_object_object_add(rec, "file_rss_kb", json_object_new_uint64(e->file_rss));
		json_object_object_add(rec, "shmem_rss_kb", json_object_new_uint64(e->shmem_rss));
	}
	(void)actionlog_write(o->log, rec);
}

/* The cgroup v2 path of a process ("0::/guardian.slice/web.service"). */
static int proc_cgroup(const struct bpf_observers *o, pid_t pid, char *buf, size_t len)
{
	char path[128], line[4096];
	_cleanup_fclose_ FILE *f = NULL;

	snprintf(path, sizeof(path), "%s/%d/cgroup", o->sup->cfg.proc_root, pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "0::", 3) != 0)
			continue;
		line[strcspn(line, "\n")] = '\0';
		snprintf(buf, len, "%s", line + 3);
		return 0;
	}
	return -ENOENT;
}

static struct service *find_by_cgroup_path(struct supervisor *s, const char *path)
{
	for (size_t i = 0; i < s->n_services; i++)
		if (strcmp(s->services[i]->cgroup, path) == 0)
			return s->services[i];
	return NULL;
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
	char path[4096];
	struct guarded *g = NULL;

	o->kernel_oom_kills++;
	if (e->cgroup_id) {
		k.svc = supervisor_find_by_cgroup_id(o->sup, e->cgroup_id);
		g = find_guarded(o, e->cgroup_id);
	} else if (proc_cgroup(o, k.pid, path, sizeof(path)) == 0) {
		/* The classic tracepoint has only the pid; the victim may still
		 * be there (it is marked, not yet gone). */
		k.svc = find_by_cgroup_path(o->sup, path);
		k.cgroup = path;
		g = k.svc ? find_guarded(o, k.svc->cgroup_id) : NULL;
	} else {
		/* Gone already: the guarded cgroup whose memory.events counted
		 * one more kill than we know of. */
		for (size_t i = 0; i < o->n_g && !g; i++)
			if (pending_kills(&o->g[i]) > 0)
				g = &o->g[i];
		k.svc = g ? supervisor_find_by_cgroup_id(o->sup, g->cgroup_id) : NULL;
	}
	if (g) { /* this event accounts for one kill in its memory.events */
		g->oom_base++;
		g->kernel_oom_kills++;
	}
	record_oom_kill(o, &k);
}

/* Without the oomkill program: memory.events changed (inotify). */
static int on_memory_events(struct loop_source *src, int fd, uint32_t revents, void *data)
{
	struct bpf_observers *o = data;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));

	while (read(fd, buf, sizeof(buf)) > 0)
		;
	for (size_t i = 0; i < o->n_g; i++) {
		struct guarded *g = &o->g[i];
		uint64_t n;

		if (g->events_src != src)
			continue;
		n = pending_kills(g);
		if (n) {
			struct oom_kill k = { .svc = supervisor_find_by_cgroup_id(o->sup, g->cgroup_id), .count = n,
					      .via = "memory.events" };

			g->oom_base += n;
			g->kernel_oom_kills += n;
			o->kernel_oom_kills += n;
			record_oom_kill(o, &k);
		}
	}
	return 0;
}

static int watch_memory_events(struct bpf_observers *o, struct guarded *g)
{
	_cleanup_close_ int ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	char path[64];
	int r;

	if (ifd < 0)
		return -errno;
	snprintf(path, sizeof(path), "/proc/self/fd/%d/memory.events", g->cgfd);
	if (inotify_add_watch(ifd, path, IN_MODIFY) < 0)
		return -errno;
	r = loop_add_fd(o->loop, ifd, EPOLLIN, true, on_memory_events, o, &g->events_src);
	if (r < 0)
		return r;
	ifd = -1;
	return 0;
}

/* --- guarded cgroups ----------------------------------------------------- */

static int add_guarded(struct bpf_observers *o, uint64_t id)
{
	struct service *svc = supervisor_find_by_cgroup_id(o->sup, id);
	struct guarded *v, *g;
	int r;

	v = realloc(o->g, (o->n_g + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	o->g = v;
	g = &o->g[o->n_g];
	*g = (struct guarded){ .cgroup_id = id, .cgfd = -1 };
	if (svc && svc->cgfd >= 0)
		g->cgfd = fcntl(svc->cgfd, F_DUPFD_CLOEXEC, 3);
	if (g->cgfd >= 0)
		(void)cgfs_read_keyed(g->cgfd, "memory.events", "oom_kill", &g->oom_base);
	o->n_g++;
	r = observers_map_guard(o, id, true);
	if (r < 0 && r != -ENODEV)
		log_warning_errno(r, "cannot add cgroup %" PRIu64 " to the BPF map guarded_cgroups: "
				  "signals to it and its reclaim go unobserved", id);
	if (!o->on[OBS_OOMKILL] && g->cgfd >= 0) {
		r = watch_memory_events(o, g);
		if (r < 0)
			log_warning_errno(r, "cannot watch memory.events of cgroup %" PRIu64, id);
	}
	log_debug("bpf: guarding cgroup %" PRIu64 "%s%s", id, svc ? " of " : "", svc ? svc->policy->service : "");
	return 0;
}

static void drop_guarded(struct bpf_observers *o, struct guarded *g)
{
	(void)observers_map_guard(o, g->cgroup_id, false);
	loop_source_freep(&g->events_src);
	if (g->cgfd >= 0)
		close(g->cgfd);
	*g = o->g[--o->n_g];
}

int bpf_observers_guard(struct bpf_observers *o, uint64_t cgroup_id, bool on)
{
	struct guarded *g;

	if (!o || !cgroup_id)
		return 0;
	g = find_guarded(o, cgroup_id);
	if (on)
		return g ? 0 : add_guarded(o, cgroup_id);
	if (g)
		drop_guarded(o, g);
	return 0;
}

void observers_guard_known(struct bpf_observers *o)
{
	for (size_t i = 0; i < o->sup->n_services; i++)
		(void)bpf_observers_guard(o, o->sup->services[i]->cgroup_id, true);
}

void observers_free_guarded(struct bpf_observers *o)
{
	while (o->n_g)
		drop_guarded(o, &o->g[o->n_g - 1]);
	free(o->g);
	o->g = NULL;
}

/* --- signals and reclaim -------------------------------------------------- */

void observers_signal_event(struct bpf_observers *o, const struct signal_event *e)
{
	struct service *svc = supervisor_find_by_cgroup_id(o->sup, e->target_cgroup);
	struct signal_sender s = { .sig = e->sig, .target = e->target_tgid, .pid = e->sender_tgid,
				   .uid = e->sender_uid, .at = now_monotonic() };

	if (!svc)
		return; /* removed since: the map entry goes with it */
	memcpy(s.comm, e->sender_comm, sizeof(s.comm));
	s.comm[sizeof(s.comm) - 1] = '\0';
	log_debug("bpf: SIG%s to %d (%.16s) from %d/%d (%s, uid %u, cgroup %llu)", sigabbrev_np(e->sig) ?: "?",
		  e->target_pid, e->target_comm, e->sender_tgid, e->sender_pid, s.comm, e->sender_uid,
		  e->sender_cgroup);
	service_note_signal(svc, &s);
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
