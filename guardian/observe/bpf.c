/* bpf.c: libbpf skeleton lifecycle for the observers (open, choose the
 * attach point the kernel supports, load, attach) in a short-lived child,
 * the program, link and map fds handed to the daemon, ring buffers in the
 * epoll loop, and the status line that says what runs and why. */
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

#include <linux/close_range.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

/* libbpf's CO-RE load parses the kernel's BTF (several MiB) and keeps its
 * peak: done in a child, it never raises the daemon's own footprint. The
 * child loads and attaches, passes the fds of the shared map, the ring
 * buffers and the links over a socket (the kernel objects live on in the
 * daemon's fds), and exits. Loading under software emulation takes a few
 * seconds; this bounds a loader that hangs. */
#define LOAD_TIMEOUT_MS (60 * 1000)
#define LOAD_FDS_MAX 16

/* The daemon's side: fds only, no libbpf objects. */
struct bpf_libbpf {
	int map_fd; /* guarded_cgroups, shared by signal and reclaim */
	int fds[LOAD_FDS_MAX]; /* every fd the loader passed (links included) */
	unsigned n_fds;
	struct ring_buffer *rb;
	struct loop_source *src;
};

/* The loader's side. */
struct skeletons {
	int map_fd;
	struct oomkill_bpf *oom;
	struct signal_bpf *sig;
	struct reclaim_bpf *rec;
};

/* What the loader reports, with the fds as SCM_RIGHTS. */
struct load_report {
	bool on[_OBS_MAX];
	char how[_OBS_MAX][200];
	int ring[_OBS_MAX]; /* index of its ring buffer's fd, -1: none */
	int map;            /* index of guarded_cgroups' fd, -1: none */
	unsigned n_fds;
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

static int try_oomkill(struct skeletons *lb, bool btf)
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

static int try_signal(struct skeletons *lb, bool btf)
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

static int try_reclaim(struct skeletons *lb, bool btf)
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
static bool load_one(struct bpf_observers *o, struct skeletons *sk, enum observer i,
		     int (*try)(struct skeletons *, bool), bool btf_ok, const char *btf_no, const char *fallback)
{
	char first[200] = "";
	int r;

	if (btf_ok) {
		load_error[0] = '\0';
		r = try(sk, true);
		if (r == 0) {
			set_how(o, i, true, "tp_btf");
			return true;
		}
		snprintf(first, sizeof(first), "%s", why(r));
	}
	load_error[0] = '\0';
	r = try(sk, false);
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

static int add_ring(struct bpf_observers *o, int map_fd, ring_buffer_sample_fn fn)
{
	struct bpf_libbpf *lb = o->lb;
	int r;

	if (!lb->rb) {
		lb->rb = ring_buffer__new(map_fd, fn, o, NULL);
		if (!lb->rb)
			return -errno;
		r = loop_add_fd(o->loop, ring_buffer__epoll_fd(lb->rb), EPOLLIN, false, on_ring, o, &lb->src);
		return r;
	}
	return ring_buffer__add(lb->rb, map_fd, fn, o);
}

static void unload(struct bpf_libbpf *lb)
{
	if (!lb)
		return;
	loop_source_freep(&lb->src);
	ring_buffer__free(lb->rb);
	/* Closing the last fd of a link detaches its program. */
	for (unsigned i = 0; i < lb->n_fds; i++)
		close(lb->fds[i]);
	free(lb);
}

/* A program whose ring buffer cannot join the loop sees nothing: off. */
static void ring_or_off(struct bpf_observers *o, enum observer i, int map_fd, ring_buffer_sample_fn fn)
{
	int r = map_fd >= 0 ? add_ring(o, map_fd, fn) : -EBADF;

	if (r < 0) {
		set_how(o, i, false, "ring buffer: %s", strerror(-r));
		log_warning_errno(r, "BPF observer %s is off: its ring buffer", observer_names[i]);
	}
}

/* The fds of a skeleton's attached links. */
static void add_links(const struct bpf_object_skeleton *skel, int *fds, unsigned *n)
{
	for (int i = 0; skel && i < skel->prog_cnt && *n < LOAD_FDS_MAX; i++) {
		struct bpf_link *l = *skel->progs[i].link;

		if (l && bpf_link__fd(l) >= 0)
			fds[(*n)++] = bpf_link__fd(l);
	}
}

static int add_fd(int fd, int *fds, unsigned *n)
{
	if (fd < 0 || *n >= LOAD_FDS_MAX)
		return -1;
	fds[*n] = fd;
	return (int)(*n)++;
}

/* In the child: load what the kernel allows, then report. */
static _Noreturn void loader(int sock)
{
	struct bpf_observers o = { 0 };
	struct skeletons sk = { .map_fd = -1 };
	struct load_report rep = { .map = -1, .ring = { -1, -1, -1 } };
	int fds[LOAD_FDS_MAX];
	char cbuf[CMSG_SPACE(sizeof(fds))] = { 0 };
	struct iovec iov = { .iov_base = &rep, .iov_len = sizeof(rep) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	unsigned n = 0;

	libbpf_set_print(libbpf_print);
	load_error[0] = '\0';
	sk.map_fd = bpf_map_create(BPF_MAP_TYPE_HASH, "guarded_cgroups", sizeof(uint64_t),
				   sizeof(struct guarded_cgroup), GUARDED_CGROUPS_MAX, NULL);
	if (sk.map_fd < 0) {
		for (int i = 0; i < _OBS_MAX; i++)
			set_how(&o, i, false, "%s", why(errno));
	} else {
		rep.map = add_fd(sk.map_fd, fds, &n);
		if (load_one(&o, &sk, OBS_OOMKILL, try_oomkill, mark_victim_takes_task(),
			     "not used: this kernel's mark_victim passes only a pid", "tp/oom/mark_victim, pid only")) {
			rep.ring[OBS_OOMKILL] = add_fd(bpf_map__fd(sk.oom->maps.events), fds, &n);
			add_links(sk.oom->skeleton, fds, &n);
		}
		if (load_one(&o, &sk, OBS_SIGNAL, try_signal, true, "", "raw_tp/signal_generate")) {
			rep.ring[OBS_SIGNAL] = add_fd(bpf_map__fd(sk.sig->maps.signal_events), fds, &n);
			add_links(sk.sig->skeleton, fds, &n);
		}
		if (load_one(&o, &sk, OBS_RECLAIM, try_reclaim, true, "", "tp/vmscan/mm_vmscan_memcg_reclaim_*")) {
			rep.ring[OBS_RECLAIM] = add_fd(bpf_map__fd(sk.rec->maps.reclaim_events), fds, &n);
			add_links(sk.rec->skeleton, fds, &n);
		}
	}
	memcpy(rep.on, o.on, sizeof(rep.on));
	memcpy(rep.how, o.how, sizeof(rep.how));
	rep.n_fds = n;
	if (n) {
		struct cmsghdr *c;

		msg.msg_control = cbuf;
		msg.msg_controllen = CMSG_SPACE(n * sizeof(int));
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(n * sizeof(int));
		memcpy(CMSG_DATA(c), fds, n * sizeof(int));
	}
	/* Exit without destroying anything: the objects live on in the fds
	 * the daemon received. */
	_exit(sendmsg(sock, &msg, MSG_NOSIGNAL) < 0 ? 1 : 0);
}

/* In the child, first: the loader is a fork of the daemon, so it must
 * not outlive it nor keep any fd of its. A loader left running by a
 * killed guardian still held the state directory's lock, and the guardian
 * started next refused to run. It dies with its parent and keeps stdio
 * and sock (as fd 3). */
static int loader_alone(int sock, pid_t parent)
{
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(1);
	if (sock != 3 && dup2(sock, 3) < 0)
		_exit(1);
	/* Before 5.9 there is no close_range: the death signal still ends
	 * the loader with guardian, and the lock with it. */
	(void)close_range(4, ~0U, 0);
	return 3;
}

/* In the daemon: the loader's report and fds. */
static int receive(int sock, struct load_report *rep, int *fds, unsigned *ret_n)
{
	char cbuf[CMSG_SPACE(LOAD_FDS_MAX * sizeof(int))];
	struct iovec iov = { .iov_base = rep, .iov_len = sizeof(*rep) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct pollfd pfd = { .fd = sock, .events = POLLIN };
	struct cmsghdr *c;
	ssize_t len;
	int r;

	*ret_n = 0;
	do
		r = poll(&pfd, 1, LOAD_TIMEOUT_MS);
	while (r < 0 && errno == EINTR);
	if (r <= 0)
		return r < 0 ? -errno : -ETIMEDOUT;
	len = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	if (len < 0)
		return -errno;
	for (c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			unsigned n = (unsigned)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));

			memcpy(fds, CMSG_DATA(c), n * sizeof(int));
			*ret_n = n;
		}
	if ((size_t)len != sizeof(*rep) || (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || rep->n_fds != *ret_n)
		return -EBADMSG;
	return 0;
}

static int fd_at(const struct bpf_libbpf *lb, int index)
{
	return index >= 0 && (unsigned)index < lb->n_fds ? lb->fds[index] : -1;
}

static void load_all(struct bpf_observers *o)
{
	struct bpf_libbpf *lb = calloc(1, sizeof(*lb));
	struct load_report rep;
	int sv[2], r, status;
	pid_t pid, parent;

	if (!lb || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		for (int i = 0; i < _OBS_MAX; i++)
			set_how(o, i, false, "%s", lb ? strerror(errno) : "out of memory");
		free(lb);
		return;
	}
	lb->map_fd = -1;
	parent = getpid();
	pid = fork();
	if (pid == 0)
		loader(loader_alone(sv[1], parent));
	close(sv[1]);
	r = pid < 0 ? -errno : receive(sv[0], &rep, lb->fds, &lb->n_fds);
	close(sv[0]);
	if (pid > 0) {
		if (r < 0)
			kill(pid, SIGKILL);
		(void)waitpid(pid, &status, 0);
	}
	o->lb = lb;
	if (r < 0) {
		for (int i = 0; i < _OBS_MAX; i++)
			set_how(o, i, false, "the BPF loader: %s", strerror(-r));
		return;
	}
	memcpy(o->on, rep.on, sizeof(o->on));
	memcpy(o->how, rep.how, sizeof(o->how));
	for (int i = 0; i < _OBS_MAX; i++)
		o->how[i][sizeof(o->how[i]) - 1] = '\0';
	lb->map_fd = fd_at(lb, rep.map);
	if (o->on[OBS_OOMKILL])
		ring_or_off(o, OBS_OOMKILL, fd_at(lb, rep.ring[OBS_OOMKILL]), on_oomkill);
	if (o->on[OBS_SIGNAL])
		ring_or_off(o, OBS_SIGNAL, fd_at(lb, rep.ring[OBS_SIGNAL]), on_signal);
	if (o->on[OBS_RECLAIM])
		ring_or_off(o, OBS_RECLAIM, fd_at(lb, rep.ring[OBS_RECLAIM]), on_reclaim);
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
