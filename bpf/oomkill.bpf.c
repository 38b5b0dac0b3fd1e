// SPDX-License-Identifier: GPL-2.0
/* oomkill.bpf.c: every kernel OOM kill (tracepoint oom/mark_victim), sent
 * to the daemon through a ring buffer, with the victim's cgroup when the
 * kernel hands the tracepoint its task_struct. */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "oomkill.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} events SEC(".maps");

/* Kernels before 6.8 carry only the pid in this tracepoint; the comm and
 * rss fields were added later (and backported by some distributions, e.g.
 * Debian's 6.1.192), so they are read only where CO-RE says they exist. */
struct trace_event_raw_mark_victim___new {
	int pid;
	u32 uid;
	unsigned long total_vm;
	unsigned long anon_rss;
	unsigned long file_rss;
	unsigned long shmem_rss;
	short oom_score_adj;
} __attribute__((preserve_access_index));

/* The classic tracepoint: the victim's task is not in its context, so the
 * daemon finds the cgroup from the pid (/proc/PID/cgroup, then
 * memory.events). Loaded where tp_btf/mark_victim still takes an int pid
 * (upstream before 6.8). */
SEC("tp/oom/mark_victim")
int handle_mark_victim(struct trace_event_raw_mark_victim *ctx)
{
	struct trace_event_raw_mark_victim___new *n = (void *)ctx;
	struct oomkill_event *e;

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	__builtin_memset(e, 0, sizeof(*e));
	e->pid = BPF_CORE_READ(ctx, pid);
	if (bpf_core_field_exists(n->total_vm)) {
		e->has_details = 1;
		e->total_vm = BPF_CORE_READ(n, total_vm);
		e->anon_rss = BPF_CORE_READ(n, anon_rss);
		e->file_rss = BPF_CORE_READ(n, file_rss);
		e->shmem_rss = BPF_CORE_READ(n, shmem_rss);
	}
	if (bpf_core_field_exists(n->uid))
		e->uid = BPF_CORE_READ(n, uid);
	if (bpf_core_field_exists(n->oom_score_adj))
		e->oom_score_adj = BPF_CORE_READ(n, oom_score_adj);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

/* mm->rss_stat: before 6.2 a struct of atomic_long_t counters, since 6.2
 * (commit f1a7941243c1) an array of percpu_counter whose count is the
 * global (slightly lagging) sum. Either is good enough for a record. */
struct mm_rss_stat___old {
	atomic_long_t count[4];
} __attribute__((preserve_access_index));

struct mm_struct___old {
	struct mm_rss_stat___old rss_stat;
} __attribute__((preserve_access_index));

struct mm_struct___new {
	struct percpu_counter rss_stat[4];
	unsigned long total_vm;
} __attribute__((preserve_access_index));

/* enum mm_counters, stable since 2.6.34 (MM_SHMEMPAGES since 4.5) */
#define RSS_FILE 0
#define RSS_ANON 1
#define RSS_SHMEM 3

static __always_inline long rss_pages(struct mm_struct *mm, int i)
{
	if (bpf_core_type_exists(struct mm_rss_stat___old)) {
		struct mm_struct___old *o = (void *)mm;

		return BPF_CORE_READ(o, rss_stat.count[i].counter);
	}
	return BPF_CORE_READ((struct mm_struct___new *)mm, rss_stat[i].count);
}

static __always_inline unsigned long kib(long pages)
{
	return pages > 0 ? (unsigned long)pages * (4096 / 1024) : 0;
}

/* tp_btf: the victim's task_struct, so its cgroup comes from the kernel
 * itself. Only loaded where the tracepoint passes (struct task_struct *,
 * uid_t): upstream 6.8 and Debian's 6.1.192 backport; the loader checks
 * the prototype in the kernel's BTF, since the verifier would accept the
 * older (int pid) signature and read garbage through it. */
SEC("tp_btf/mark_victim")
int BPF_PROG(handle_mark_victim_btf, struct task_struct *task, unsigned int uid)
{
	struct oomkill_event *e;
	struct mm_struct *mm;

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	__builtin_memset(e, 0, sizeof(*e));
	e->pid = BPF_CORE_READ(task, pid);
	e->tgid = BPF_CORE_READ(task, tgid);
	e->uid = uid;
	e->cgroup_id = BPF_CORE_READ(task, cgroups, dfl_cgrp, kn, id);
	e->oom_score_adj = BPF_CORE_READ(task, signal, oom_score_adj);
	BPF_CORE_READ_STR_INTO(&e->comm, task, comm);
	e->has_comm = 1;
	mm = BPF_CORE_READ(task, mm);
	if (mm) {
		e->has_details = 1;
		e->total_vm = BPF_CORE_READ((struct mm_struct___new *)mm, total_vm);
		e->anon_rss = kib(rss_pages(mm, RSS_ANON));
		e->file_rss = kib(rss_pages(mm, RSS_FILE));
		e->shmem_rss = kib(rss_pages(mm, RSS_SHMEM));
	}
	bpf_ringbuf_submit(e, 0);
	return 0;
}
