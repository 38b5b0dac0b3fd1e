/* lifecycle.h: the pure half of a service's state machine: its states,
 * how the end of its main process is classified, whether and when it
 * restarts, when it gives up. No I/O and no clock: times are parameters,
 * so tests drive it with a fake clock (service.c does the I/O). */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "policy.h"
#include "procs.h"

enum service_state {
	SVC_STOPPED,
	SVC_STARTING,
	SVC_RUNNING,
	SVC_STOPPING,
	SVC_BACKOFF,
	SVC_GAVE_UP,
};

enum exit_cause {
	EXIT_NONE,        /* never exited */
	EXIT_CODE,        /* exited by itself with `code` */
	EXIT_SIGNAL,      /* killed by signal `code`, not by guardian */
	EXIT_OOM_KILL,    /* killed by the kernel OOM killer (memory.events oom_kill rose) */
	EXIT_GUARDIAN,    /* stopped or killed by guardian */
	EXIT_EXEC_FAILED, /* could not be started: `code` is the errno */
	EXIT_HEALTH,      /* restarted by guardian after failed health checks */
	EXIT_UNKNOWN,     /* an adopted process: not our child, status unknown */
	EXIT_RULE,        /* restarted, stopped or killed by guardian's pressure engine */
	_EXIT_CAUSE_MAX,
};

struct service_exit {
	enum exit_cause cause;
	int code;
	usec_t at; /* realtime */
	bool has_sender; /* EXIT_SIGNAL: who sent it */
	struct signal_sender sender;
};

/* States from which nothing happens without an event or a command. */
static inline bool service_state_settled(enum service_state s)
{
	return s != SVC_STARTING && s != SVC_STOPPING;
}

const char *service_state_to_string(enum service_state s);
const char *exit_cause_to_string(enum exit_cause c);

/* What was known when the main process ended. */
struct exit_report {
	bool stopping;               /* guardian was stopping the service */
	enum exit_cause stop_cause;  /* ... for this reason (0: a command) */
	bool adopted;                /* not guardian's child: no status */
	int how;                     /* siginfo's si_code: CLD_EXITED, CLD_KILLED, CLD_DUMPED */
	int status;                  /* si_status: the exit status or the signal */
	pid_t pid;                   /* si_pid */
	bool oom_kill_rose;          /* memory.events oom_kill above its value at start */
	const struct signal_sender *last_signal; /* the last fatal signal seen (may be NULL) */
	usec_t now;                  /* realtime */
};
/* Classify an exit into *e, which holds the previous one: an exec failure
 * already reported through the exec pipe is kept as it is. */
void lifecycle_classify_exit(const struct exit_report *r, struct service_exit *e);
/* Did the run fail (anything but exit status 0)? */
bool lifecycle_exit_failed(const struct service_exit *e);
/* "exited with status 1", "killed by SIGKILL from pid 42 (bash, uid 0)" */
void lifecycle_describe_exit(const struct service_exit *e, char *buf, size_t len);

/* The delay before restart number `failures` (1-based), with a jitter
 * fraction in [-1, 1] scaled to +-10%. */
usec_t restart_backoff(const struct policy *p, unsigned failures, double jitter);
/* Would one more restart at `now` exceed the give-up budget, given the
 * monotonic times of earlier restarts (0 entries are unused)? */
bool restart_budget_exhausted(const struct policy *p, const usec_t *times, unsigned n, usec_t now);

enum restart_next {
	NEXT_STOP,     /* stay stopped: not wanted, restart: never, or a clean exit with on-failure */
	NEXT_RESTART,  /* after `delay` */
	NEXT_GIVE_UP,  /* the give-up budget is spent */
};

/* A run ended by itself (not by a stop): what follows. */
struct restart_input {
	const struct policy *policy;
	const struct service_exit *exit;
	bool want_running;
	usec_t started;           /* monotonic start of the run that ended (0: none) */
	unsigned failures_in_row; /* before this exit */
	const usec_t *times;      /* the restart ring */
	unsigned n_times;
	usec_t now;               /* monotonic */
	double jitter;            /* in [-1, 1] */
};
struct restart_plan {
	enum restart_next next;
	unsigned failures_in_row; /* the count to keep: reset after restart.stable_after */
	usec_t delay;             /* NEXT_RESTART: how long to wait */
};
struct restart_plan lifecycle_plan_restart(const struct restart_input *in);

/* Count a restart that happens at `now` into the ring of n_times entries. */
void lifecycle_note_restart(unsigned *restarts, usec_t *times, unsigned n_times, usec_t now);
/* Carry the newest restarts of one ring (n_from entries) into another
 * (n_to, zeroed), each where lifecycle_note_restart would have put it:
 * a reload that changes give_up.restarts keeps the recent history. */
void lifecycle_carry_restarts(unsigned restarts, const usec_t *from, unsigned n_from, usec_t *to, unsigned n_to);
