/* bpf.c: libbpf skeleton lifecycle for the observers (open, load, attach,
 * ring buffer in the epoll loop, destroy) and their records. */
#include "bpf.h"

#include <stdio.h>

#include "log.h"

#if HAVE_BPF
#include <bpf/libbpf.h>

#include "oomkill.h"
#include "oomkill.skel.h"

struct bpf_observers {
	struct oomkill_bpf *oom;
	struct ring_buffer *rb;
	struct loop_source *src;
	struct actionlog *log;
};

static char status[256];

static int on_oomkill(void *ctx, void *data, size_t len)
{
	struct bpf_observers *o = ctx;
	const struct oomkill_event *e = data;
	struct json_object *rec;
	pid_t pid;

	if (len < sizeof(*e))
		return 0;
	pid = e->pid;
	log_warning("kernel OOM killer chose pid %d", e->pid);
	rec = actionlog_record(NULL, NULL, "kernel", "oom-kill", "kernel OOM killer");
	if (!rec)
		return 0;
	actionlog_add_pids(rec, &pid, 1);
	json_object_object_add(rec, "signal", json_object_new_string("KILL"));
	if (e->has_details) {
		json_object_object_add(rec, "anon_rss_kb", json_object_new_uint64(e->anon_rss));
		json_object_object_add(rec, "file_rss_kb", json_object_new_uint64(e->file_rss));
	}
	(void)actionlog_write(o->log, rec);
	return 0;
}

static int on_ringbuf(struct loop_source *src, int fd, uint32_t revents, void *data)
{
	struct bpf_observers *o = data;
	int r = ring_buffer__consume(o->rb);

	return r < 0 ? r : 0;
}

static int silent_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	/* libbpf's own chatter goes to debug; failures are reported once by us. */
	if (level == LIBBPF_WARN) {
		char buf[512];
		vsnprintf(buf, sizeof(buf), fmt, ap);
		buf[strcspn(buf, "\n")] = '\0';
		log_debug("libbpf: %s", buf);
	}
	return 0;
}

static const char *fail(struct bpf_observers *o, const char *what, int err)
{
	snprintf(status, sizeof(status), "off: %s failed: %s%s", what, strerror(abs(err)),
		 abs(err) == EPERM ? " (needs CAP_BPF and CAP_PERFMON, or root)" : "");
	log_warning("BPF observers %s; kernel OOM kills are seen through memory.events only", status);
	bpf_observers_stop(o);
	return status;
}

const char *bpf_observers_start(struct loop *loop, struct actionlog *log, bool disabled,
				struct bpf_observers **ret)
{
	struct bpf_observers *o;
	int r;

	*ret = NULL;
	if (disabled)
		return "off: disabled by --no-bpf";
	if (access("/sys/kernel/btf/vmlinux", R_OK) < 0)
		return "off: the kernel has no BTF (/sys/kernel/btf/vmlinux): CO-RE programs cannot load";
	libbpf_set_print(silent_print);
	o = calloc(1, sizeof(*o));
	if (!o)
		return "off: out of memory";
	o->log = log;
	o->oom = oomkill_bpf__open_and_load();
	if (!o->oom)
		return fail(o, "loading oomkill", errno);
	r = oomkill_bpf__attach(o->oom);
	if (r < 0)
		return fail(o, "attaching oom/mark_victim", r);
	o->rb = ring_buffer__new(bpf_map__fd(o->oom->maps.events), on_oomkill, o, NULL);
	if (!o->rb)
		return fail(o, "ring buffer", errno);
	r = loop_add_fd(loop, ring_buffer__epoll_fd(o->rb), EPOLLIN, false, on_ringbuf, o, &o->src);
	if (r < 0)
		return fail(o, "event loop", r);
	*ret = o;
	log_info("BPF observers on: oom/mark_victim");
	return "on: oomkill";
}

void bpf_observers_stop(struct bpf_observers *o)
{
	if (!o)
		return;
	loop_source_freep(&o->src);
	ring_buffer__free(o->rb);
	oomkill_bpf__destroy(o->oom);
	free(o);
}

#else /* !HAVE_BPF */

const char *bpf_observers_start(struct loop *loop, struct actionlog *log, bool disabled,
				struct bpf_observers **ret)
{
	*ret = NULL;
	return "off: built without BPF support (libbpf, bpftool or clang missing at build time)";
}

void bpf_observers_stop(struct bpf_observers *o) {}

#endif
