// SPDX-License-Identifier: GPL-2.0
/* oomkill.bpf.c: every kernel OOM kill (tracepoint oom/mark_victim), sent
 * to the daemon through a ring buffer. */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

#include "oomkill.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} events SEC(".maps");

/* Kernels before 6.8 carry only the pid in this tracepoint; the comm and
 * rss fields were added later (and backported by some distributions), so
 * they are read only where CO-RE says they exist. */
struct trace_event_raw_mark_victim___new {
	int pid;
	u32 uid;
	unsigned long total_vm;
	unsigned long anon_rss;
	unsigned long file_rss;
	unsigned long shmem_rss;
	short oom_score_adj;
} __attribute__((preserve_access_index));

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
