// SPDX-License-Identifier: GPL-2.0
/* signal.bpf.c: who sends fatal signals to guarded processes (tracepoint
 * signal/signal_generate), filtered in the kernel so that everyone else's
 * signals cost a mask test, four reads and one hash lookup. */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "guarded.bpf.h"
#include "signal-event.h"

char LICENSE[] SEC("license") = "GPL";

/* Set by the loader before load (SIGNAL_FATAL_MASK). */
const volatile unsigned long long signal_mask = SIGNAL_FATAL_MASK;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} signal_events SEC(".maps");

#define SI_USER_ 0
#define SI_KERNEL_ 0x80
#define TRACE_SIGNAL_DELIVERED_ 0

/* info is a pointer or one of SEND_SIG_NOINFO (0: sent by a task with
 * kill(2), cgroup.kill, ...) and SEND_SIG_PRIV (1: raised by the kernel),
 * as the tracepoint itself decodes it (TP_STORE_SIGINFO). */
static __always_inline int si_code_of(struct kernel_siginfo *info)
{
	if ((unsigned long)info == 0)
		return SI_USER_;
	if ((unsigned long)info == 1)
		return SI_KERNEL_;
	return BPF_CORE_READ(info, si_code);
}

static __always_inline int observe(int sig, struct kernel_siginfo *info, struct task_struct *task,
				   int result)
{
	struct signal_event *e;
	unsigned long long cgid;
	int code;

	if (sig <= 0 || sig >= 64 || !(signal_mask & (1ULL << sig)))
		return 0;
	/* Ignored, already pending or failed: nothing changes for the target. */
	if (result != TRACE_SIGNAL_DELIVERED_)
		return 0;
	cgid = BPF_CORE_READ(task, cgroups, dfl_cgrp, kn, id);
	if (!bpf_map_lookup_elem(&guarded_cgroups, &cgid))
		return 0;
	/* si_code > 0 is the kernel's own: a fault (SEGV, BUS, ILL, FPE, the
	 * exit status says it) or SI_KERNEL (the OOM killer's SIGKILL, which
	 * oomkill reports). Nobody "sent" those. */
	code = si_code_of(info);
	if (code > 0)
		return 0;
	e = bpf_ringbuf_reserve(&signal_events, sizeof(*e), 0);
	if (!e)
		return 0;
	__builtin_memset(e, 0, sizeof(*e));
	e->target_cgroup = cgid;
	e->sender_cgroup = bpf_get_current_cgroup_id();
	e->sig = sig;
	e->code = code;
	e->result = result;
	e->target_pid = BPF_CORE_READ(task, pid);
	e->target_tgid = BPF_CORE_READ(task, tgid);
	BPF_CORE_READ_STR_INTO(&e->target_comm, task, comm);
	e->sender_pid = (int)bpf_get_current_pid_tgid();
	e->sender_tgid = (int)(bpf_get_current_pid_tgid() >> 32);
	e->sender_uid = (unsigned int)bpf_get_current_uid_gid();
	bpf_get_current_comm(&e->sender_comm, sizeof(e->sender_comm));
	bpf_ringbuf_submit(e, 0);
	return 0;
}

/* The 5th argument is `int group` before 6.2 and `enum pid_type type`
 * since; neither is needed. */
SEC("tp_btf/signal_generate")
int BPF_PROG(handle_signal_btf, int sig, struct kernel_siginfo *info, struct task_struct *task, int type,
	     int result)
{
	return observe(sig, info, task, result);
}

/* The fallback where tp_btf is refused: the same arguments as plain u64s
 * (raw tracepoints exist since 4.17); every read goes through
 * bpf_probe_read_kernel. */
SEC("raw_tp/signal_generate")
int BPF_PROG(handle_signal_raw, int sig, struct kernel_siginfo *info, struct task_struct *task, int type,
	     int result)
{
	return observe(sig, info, task, result);
}
