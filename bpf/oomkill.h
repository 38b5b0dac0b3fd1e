/* oomkill.h: the event oomkill.bpf.c sends through its ring buffer, shared
 * by the BPF program and the daemon's loader. */
#pragma once

#define OOMKILL_COMM_LEN 16

struct oomkill_event {
	unsigned long long cgroup_id; /* the victim's cgroup (kernfs id = inode); 0: unknown */
	int pid;            /* the victim (the thread the kernel marked) */
	int tgid;           /* its process; 0 when only the pid is known */
	unsigned int uid;   /* 0 when the kernel's tracepoint has no uid */
	int oom_score_adj;
	int has_details;    /* the rss fields below are valid */
	int has_comm;       /* comm is valid */
	unsigned long total_vm;   /* pages */
	unsigned long anon_rss;   /* KiB */
	unsigned long file_rss;   /* KiB */
	unsigned long shmem_rss;  /* KiB */
	char comm[OOMKILL_COMM_LEN];
};
