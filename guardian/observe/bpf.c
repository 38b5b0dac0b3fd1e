/* bpf.c: libbpf skeleton lifecycle for the observers (open, choose the
 * attach point the kernel supports, load, attach, ring buffers in the
 * epoll loop, destroy) and the status line that says what runs and why. */
#include "bpf.h"

#include <stdarg.h>
#include <stdio.h>

#include "bpf-internal.h"
#include "log.h"

static void set_how(struct bpf_observers *o, enum observer i, bool on, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void set_how(struct bpf_observers *o, enum observer i, bool on, const char *fmt, ...)
{
	char what[sizeof(o->how[i]) - 8];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	o->on[i] = on;
	snprintf(o->how[i], sizeof(o->how[i]), "%s (%s)", on ? "on" : "off", what);
}

/* "oomkill: on (tp_btf), signal: ..." or, when all are off for one
 * reason, "off: REASON". */
static const char *build_status(struct bpf_observers *o)
{
	bool same = true, any = false;
	size_t len = 0;

	for (int i = 0; i < _OBS_MAX; i++) {
		any |= o->on[i];
		same &= strcmp(o->how[i], o->how[0]) == 0;
	}
	if (!any && same) {
		/* "off (why)" -> "off: why" */
		snprintf(o->status, sizeof(o->status), "off: %.*s; kernel OOM kills of services are "
			 "seen through memory.events", (int)strlen(o->how[0]) - 6, o->how[0] + 5);
		return o->status;
	}
	o->status[0] = '\0';
	for (int i = 0; i < _OBS_MAX && len < sizeof(o->status); i++)
		len += (size_t)snprintf(o->status + len, sizeof(o->status) - len, "%s%s: %s", i ? ", " : "",
					observer_names[i], o->how[i]);
	return o->status;
}

#if HAVE_BPF
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "oomkill.skel.h"
#include "reclaim.skel.h"
#include "signal.skel.h"

struct bpf_libbpf {
	int map_fd; /* guarded_cgroups, shared by signal and reclaim */
	struct oomkill_bpf *oom;
	struct signal_bpf *sig;
	struct reclaim_bpf *rec;
	struct ring_buffer *rb;
	struct loop_source *src;
};

/* Why the last load failed, in a few words: the verifier's complaint, or
 * libbpf's first warning. Reset before every attempt. */
static char load_error[160];

static void note_verifier_log(const char *log)
{
	const char *end = strstr(log, "-- END PROG LOAD LOG --");
	const char *line = NULL, *p = log;

	/* The error is the line before "processed N insns", else the last. */
	while (p && (!end || p < end) && *p) {
		const char *nl = strchr(p, '\n');

		if (strncmp(p, "processed ", 10) == 0)
			break;
		if (nl != p && strncmp(p, "--", 2) != 0)
			line = p;
		p = nl ? nl + 1 : NULL;
	}
	if (line)
		snprintf(load_error, sizeof(load_error), "verifier: %.*s", (int)strcspn(line, "\n"), line);
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	_cleanup_free_ char *msg = NULL;
	const char *log;

	if (level != LIBBPF_WARN || vasprintf(&msg, fmt, ap) < 0)
		return 0;
	log = strstr(msg, "-- BEGIN PROG LOAD LOG --");
	if (log)
		note_verifier_log(log + strlen("-- BEGIN PROG LOAD LOG --\n"));
	else if (!load_error[0])
		snprintf(load_error, sizeof(load_error), "%.*s", (int)strcspn(msg, "\n"), msg);
	/* libbpf's own words go to debug; the status line says it once. */
	log_debug("libbpf: %.*s", (int)strcspn(msg, "\n"), msg);
	return 0;
}

static const char *why(int err)
{
	static char buf[256];

	err = abs(err);
	if (err == EPERM || err == EACCES)
		snprintf(buf, sizeof(buf), "%s: needs CAP_BPF and CAP_PERFMON, or root%s%s", strerror(err),
			 load_error[0] ? "; " : "", load_error);
	else if (load_error[0])
		snprintf(buf, sizeof(buf), "%s", load_error);
	else
		snprintf(buf, sizeof(buf), "%s", strerror(err));
	return buf;
}

/* Does tp_btf/mark_victim take (struct task_struct *, uid_t)? Upstream
 * since 6.8, and Debian's 6.1.192 backport; before, (int pid), which the
 * verifier would accept and our program would misread as a pointer. */
static bool mark_victim_takes_task(void)
{
	struct btf *btf = btf__load_vmlinux_btf();
	const struct btf_type *t;
	bool ok = false;
	int id;

	if (!btf)
		return false;
	id = btf__find_by_name_kind(btf, "btf_trace_mark_victim", BTF_KIND_TYPEDEF);
	t = id > 0 ? btf__type_by_id(btf, id) : NULL;
	t = t ? btf__type_by_id(btf, t->type) : NULL;               /* pointer */
	t = t && btf_is_ptr(t) ? btf__type_by_id(btf, t->type) : NULL; /* prototype */
	if (t && btf_is_func_proto(t) && btf_vlen(t) >= 2) {
		id = btf__resolve_type(btf, btf_params(t)[1].type);
		t = id > 0 ? btf__type_by_id(btf, id) : NULL;
		ok = t && btf_is_ptr(t);
	}
	btf__free(btf);
	return ok;
}

static int try_oomkill(struct bpf_libbpf *lb, bool btf)
{
	struct oomkill_bpf *s = oomkill_bpf__open();
	int r;

	if (!s)
		return -errno;
	bpf_program__set_autoload(s->progs.handle_mark_victim_btf, btf);
	bpf_program__set_autoload(s->progs.handle_mark_victim, !btf);
	r = oomkill_bpf__load(s);
	r = r ?: oomkill_bpf__attach(s);
	if (r < 0) {
		oomkill_bpf__destroy(s);
		return r;
	}
	lb->oom = s;
	return 0;
}

static int try_signal(struct bpf_libbpf *lb, bool btf)
{
	struct signal_bpf *s = signal_bpf__open();
	int r;

	if (!s)
		return -errno;
	s->rodata->signal_mask = SIGNAL_FATAL_MASK;
	bpf_program__set_autoload(s->progs.handle_signal_btf, btf);
	bpf_program__set_autoload(s->progs.handle_signal_raw, !btf);
	r = bpf_map__reuse_fd(s->maps.guarded_cgroups, lb->map_fd);
	r = r ?: signal_bpf__load(s);
	r = r ?: signal_bpf__attach(s);
	if (r < 0) {
		signal_bpf__destroy(s);
		return r;
	}
	lb->sig = s;
	return 0;
}

static int try_reclaim(struct bpf_libbpf *lb, bool btf)
{
	struct reclaim_bpf *s = reclaim_bpf__open();
	int r;

	if (!s)
		return -errno;
	s->rodata->interval_ns = RECLAIM_EVENT_INTERVAL_NS;
	bpf_program__set_autoload(s->progs.handle_begin_btf, btf);
	bpf_program__set_autoload(s->progs.handle_end_btf, btf);
	bpf_program__set_autoload(s->progs.handle_begin_tp, !btf);
	bpf_program__set_autoload(s->progs.handle_end_tp, !btf);
	r = bpf_map__reuse_fd(s->maps.guarded_cgroups, lb->map_fd);
	r = r ?: reclaim_bpf__load(s);
	r = r ?: reclaim_bpf__attach(s);
	if (r < 0) {
		reclaim_bpf__destroy(s);
		return r;
	}
	lb->rec = s;
	return 0;
}

/* tp_btf first (typed arguments, cheapest), then the fallback attach
 * point; the status says which one runs and why the first did not. */
static bool load_one(struct bpf_observers *o, enum observer i, int (*try)(struct bpf_libbpf *, bool),
		     bool btf_ok, const char *btf_no, const char *fallback)
{
	char first[200] = "";
	int r;

	if (btf_ok) {
		load_error[0] = '\0';
		r = try(o->lb, true);
		if (r == 0) {
			set_how(o, i, true, "tp_btf");
			return true;
		}
		snprintf(first, sizeof(first), "%s", why(r));
	}
	load_error[0] = '\0';
	r = try(o->lb, false);
	if (r == 0) {
		set_how(o, i, true, "%s; tp_btf %s", fallback, btf_ok ? first : btf_no);
		return true;
	}
	set_how(o, i, false, "%s", why(r));
	log_warning("BPF observer %s is off: %s%s%s", observer_names[i], why(r), first[0] ? "; tp_btf: " : "",
		    first);
	return false;
}

static int on_ring(struct loop_source *src, int fd, uint32_t revents, void *data)
{
	struct bpf_observers *o = data;
	int r = ring_buffer__consume(o->lb->rb);

	return r < 0 ? r : 0;
}

static int on_oomkill(void *ctx, void *data, size_t len)
{
	if (len >= sizeof(struct oomkill_event))
		observers_oom_event(ctx, data);
	return 0;
}

static int on_signal(void *ctx, void *data, size_t len)
{
	if (len >= sizeof(struct signal_event))
		observers_signal_event(ctx, data);
	return 0;
}

static int on_reclaim(void *ctx, void *data, size_t len)
{
	if (len >= sizeof(struct reclaim_event))
		observers_reclaim_event(ctx, data);
	return 0;
}

static int add_ring(struct bpf_observers *o, struct bpf_map *map, ring_buffer_sample_fn fn)
{
	struct bpf_libbpf *lb = o->lb;
	int r;

	if (!lb->rb) {
		lb->rb = ring_buffer__new(bpf_map__fd(map), fn, o, NULL);
		if (!lb->rb)
			return -errno;
		r = loop_add_fd(o->loop, ring_buffer__epoll_fd(lb->rb), EPOLLIN, false, on_ring, o, &lb->src);
		return r;
	}
	return ring_buffer__add(lb->rb, bpf_map__fd(map), fn, o);
}

static void unload(struct bpf_libbpf *lb)
{
	if (!lb)
		return;
	loop_source_freep(&lb->src);
	ring_buffer__free(lb->rb);
	oomkill_bpf__destroy(lb->oom);
	signal_bpf__destroy(lb->sig);
	reclaim_bpf__destroy(lb->rec);
	if (lb->map_fd >= 0)
		close(lb->map_fd);
	free(lb);
}

/* A program whose ring buffer cannot join the loop sees nothing: off. */
static void ring_or_off(struct bpf_observers *o, enum observer i, struct bpf_map *map, ring_buffer_sample_fn fn)
{
	int r = add_ring(o, map, fn);

	if (r < 0) {
		set_how(o, i, false, "ring buffer: %s", strerror(-r));
		log_warning_errno(r, "BPF observer %s is off: its ring buffer", observer_names[i]);
	}
}

static void load_all(struct bpf_observers *o)
{
	struct bpf_libbpf *lb = calloc(1, sizeof(*lb));
	int fd;

	if (!lb) {
		for (int i = 0; i < _OBS_MAX; i++)
			set_how(o, i, false, "out of memory");
		return;
	}
	lb->map_fd = -1;
	o->lb = lb;
	libbpf_set_print(libbpf_print);
	load_error[0] = '\0';
	fd = bpf_map_create(BPF_MAP_TYPE_HASH, "guarded_cgroups", sizeof(uint64_t), sizeof(struct guarded_cgroup),
			    GUARDED_CGROUPS_MAX, NULL);
	if (fd < 0) {
		for (int i = 0; i < _OBS_MAX; i++)
			set_how(o, i, false, "%s", why(errno));
		return;
	}
	lb->map_fd = fd;
	if (load_one(o, OBS_OOMKILL, try_oomkill, mark_victim_takes_task(),
		     "not used: this kernel's mark_victim passes only a pid",
		     "tp/oom/mark_victim, pid only"))
		ring_or_off(o, OBS_OOMKILL, lb->oom->maps.events, on_oomkill);
	if (load_one(o, OBS_SIGNAL, try_signal, true, "", "raw_tp/signal_generate"))
		ring_or_off(o, OBS_SIGNAL, lb->sig->maps.signal_events, on_signal);
	if (load_one(o, OBS_RECLAIM, try_reclaim, true, "", "tp/vmscan/mm_vmscan_memcg_reclaim_*"))
		ring_or_off(o, OBS_RECLAIM, lb->rec->maps.reclaim_events, on_reclaim);
}

int observers_map_guard(struct bpf_observers *o, uint64_t cgroup_id, bool on)
{
	struct guarded_cgroup zero = { 0 };

	if (!o->lb || o->lb->map_fd < 0)
		return -ENODEV;
	if (on)
		return bpf_map_update_elem(o->lb->map_fd, &cgroup_id, &zero, BPF_NOEXIST) < 0 && errno != EEXIST
			       ? -errno : 0;
	return bpf_map_delete_elem(o->lb->map_fd, &cgroup_id) < 0 && errno != ENOENT ? -errno : 0;
}

int observers_map_read(struct bpf_observers *o, uint64_t cgroup_id, struct guarded_cgroup *ret)
{
	if (!o->lb || o->lb->map_fd < 0)
		return -ENODEV;
	return bpf_map_lookup_elem(o->lb->map_fd, &cgroup_id, ret) < 0 ? -errno : 0;
}

#else /* !HAVE_BPF */

struct bpf_libbpf {
	int unused;
};

static void unload(struct bpf_libbpf *lb) {}

static void load_all(struct bpf_observers *o)
{
	for (int i = 0; i < _OBS_MAX; i++)
		set_how(o, i, false, "built without BPF support: libbpf, bpftool or clang missing at build time");
}

int observers_map_guard(struct bpf_observers *o, uint64_t cgroup_id, bool on)
{
	return -ENODEV;
}

int observers_map_read(struct bpf_observers *o, uint64_t cgroup_id, struct guarded_cgroup *ret)
{
	return -ENODEV;
}

#endif

const char *bpf_observers_start(struct loop *loop, const struct bpf_observers_config *cfg,
				struct bpf_observers **ret)
{
	struct bpf_observers *o = calloc(1, sizeof(*o));

	*ret = NULL;
	if (!o)
		return "off: out of memory";
	*o = (struct bpf_observers){ .loop = loop, .cfg = *cfg };
	if (cfg->disabled) {
		for (int i = 0; i < _OBS_MAX; i++)
			set_how(o, i, false, "disabled by --no-bpf");
	} else if (HAVE_BPF && access("/sys/kernel/btf/vmlinux", R_OK) < 0) {
		for (int i = 0; i < _OBS_MAX; i++)
			set_how(o, i, false, "the kernel has no BTF (/sys/kernel/btf/vmlinux): CO-RE programs cannot load");
	} else
		load_all(o);
	build_status(o);
	if (o->on[OBS_OOMKILL] || o->on[OBS_SIGNAL] || o->on[OBS_RECLAIM])
		log_info("BPF observers: %s", o->status);
	else
		log_warning("BPF observers %s", o->status);
	*ret = o;
	return o->status;
}

void bpf_observers_stop(struct bpf_observers *o)
{
	if (!o)
		return;
	observers_free_guarded(o);
	unload(o->lb);
	free(o);
}
