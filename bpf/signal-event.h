/* signal-event.h: the event signal.bpf.c sends for a fatal signal delivered to
 * a process of a guarded cgroup, and the set of signals it watches. */
#pragma once

#define SIGNAL_COMM_LEN 16

/* The signals that end a process by default and that someone sends to
 * stop or kill one: HUP INT QUIT ILL ABRT BUS FPE KILL SEGV TERM. Left out:
 * USR1/USR2 (daemons use them for log reopening and reloads: a flood of
 * records for nothing), PIPE and ALRM (raised for the process's own I/O
 * and timers), STOP (not fatal). Bit n is signal n (x86 numbering). */
#define SIGNAL_FATAL_MASK                                                                \
	((1ULL << 1) | (1ULL << 2) | (1ULL << 3) | (1ULL << 4) | (1ULL << 6) | (1ULL << 7) | \
	 (1ULL << 8) | (1ULL << 9) | (1ULL << 11) | (1ULL << 15))

struct signal_event {
	unsigned long long target_cgroup; /* the guarded cgroup */
	unsigned long long sender_cgroup;
	int sig;
	int code;            /* si_code: SI_USER 0, SI_TKILL -6, SI_QUEUE -1 ... */
	int result;          /* TRACE_SIGNAL_DELIVERED (0): only those are sent */
	int target_pid;      /* thread */
	int target_tgid;     /* process */
	int sender_pid;      /* thread */
	int sender_tgid;     /* process: what getpid() says in the sender */
	unsigned int sender_uid;
	char target_comm[SIGNAL_COMM_LEN];
	char sender_comm[SIGNAL_COMM_LEN];
};
