// SPDX-License-Identifier: GPL-2.0
/* reclaim.bpf.c: memcg reclaim entered by tasks of guarded cgroups
 * (vmscan/mm_vmscan_memcg_reclaim_begin and _end), counted per cgroup in
 * the shared map, and at most one ring-buffer event per cgroup per
 * RECLAIM_EVENT_INTERVAL_NS as an early warning: reclaim starts before
 * PSI's averages move, and for an anonymous leak PSI never moves. */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "guarded.bpf.h"
#include "reclaim.h"

char LICENSE[] SEC("license") = "GPL";

const volatile unsigned long long interval_ns = RECLAIM_EVENT_INTERVAL_NS;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 * 1024);
} reclaim_events SEC(".maps");

/* The memcg being reclaimed is the charging task's (or an ancestor's, at
 * its limit); the task is current. Both tracepoints have had these
 * arguments since 2.6.36: (int order, gfp_t) and (unsigned long
 * nr_reclaimed); 6.1 knows no memcg argument, so current it is. */
static __always_inline int on_begin(void)
{
	unsigned long long cgid = bpf_get_current_cgroup_id(), now, last;
	struct guarded_cgroup *g = bpf_map_lookup_elem(&guarded_cgroups, &cgid);
	struct reclaim_event *e;

	if (!g)
		return 0;
	now = bpf_ktime_get_ns();
	__sync_fetch_and_add(&g->reclaims, 1);
	g->last_reclaim = now;
	last = g->last_sent;
	if (now - last < interval_ns)
		return 0;
	/* Two CPUs may both find the interval over: the one that swaps
	 * last_sent sends. */
	if (__sync_val_compare_and_swap(&g->last_sent, last, now) != last)
		return 0;
	e = bpf_ringbuf_reserve(&reclaim_events, sizeof(*e), 0);
	if (!e)
		return 0;
	e->cgroup_id = cgid;
	e->reclaims = g->reclaims;
	e->reclaimed = g->reclaimed;
	e->at = now;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

static __always_inline int on_end(unsigned long nr_reclaimed)
{
	unsigned long long cgid = bpf_get_current_cgroup_id();
	struct guarded_cgroup *g = bpf_map_lookup_elem(&guarded_cgroups, &cgid);

	if (g)
		__sync_fetch_and_add(&g->reclaimed, nr_reclaimed);
	return 0;
}

SEC("tp_btf/mm_vmscan_memcg_reclaim_begin")
int BPF_PROG(handle_begin_btf)
{
	return on_begin();
}

SEC("tp_btf/mm_vmscan_memcg_reclaim_end")
int BPF_PROG(handle_end_btf, unsigned long nr_reclaimed)
{
	return on_end(nr_reclaimed);
}

/* The classic tracepoints, where tp_btf is refused. */
SEC("tp/vmscan/mm_vmscan_memcg_reclaim_begin")
int handle_begin_tp(void *ctx)
{
	return on_begin();
}

SEC("tp/vmscan/mm_vmscan_memcg_reclaim_end")
int handle_end_tp(struct trace_event_raw_mm_vmscan_direct_reclaim_end_template *ctx)
{
	return on_end(BPF_CORE_READ(ctx, nr_reclaimed));
}
