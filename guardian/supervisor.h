/* supervisor.h: services as cgroups: their limits, their processes
 * (clone3 into the cgroup, pidfds), stop, restart with backoff, give-up. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "actionlog.h"
#include "cgfs.h"
#include "loop.h"
#include "policy.h"

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
};

struct service_exit {
	enum exit_cause cause;
	int code;
	usec_t at; /* realtime */
};

struct supervisor;

struct service {
	struct supervisor *sup;
	struct policy *policy;
	char *cgroup;  /* path below the cgroup root, e.g. /guardian.slice/web.service */
	int cgfd;
	enum service_state state;
	bool want_running;

	pid_t pid;
	int pidfd;
	struct loop_source *pid_src;
	struct loop_source *exec_src;   /* CLOEXEC pipe that reports exec failures */
	struct loop_source *events_src; /* inotify on cgroup.events */
	struct loop_source *timer;      /* backoff or stop grace period */
	bool group_signalled;           /* stop signal already sent to the whole group */
	int exec_pipe;

	usec_t started_mono;
	usec_t started_real;
	usec_t stop_began;
	unsigned restarts;       /* since guardian started or the last explicit start */
	unsigned failures_in_row;/* drives the backoff; reset after stable_after */
	usec_t *restart_times;   /* ring of the last give_up_restarts restarts (monotonic) */
	unsigned restart_ring_len;
	uint64_t oom_kills_at_start;
	struct service_exit last_exit;
};

struct supervisor_config {
	const char *state_dir;
	const char *cgroup_parent; /* NULL: derive from guardian's own cgroup */
	const char *proc_root;
	bool dry_run;
};

struct supervisor {
	struct loop *loop;
	struct cgfs *cg;
	struct supervisor_config cfg;
	struct actionlog *actions; /* not owned */
	char *parent;   /* cgroup that holds the services */
	int parent_fd;
	struct service **services;
	size_t n_services;
};

/* Decide where services live, move guardian into a leaf if the kernel's
 * no-internal-processes rule requires it, and enable the controllers. */
int supervisor_new(struct loop *loop, struct cgfs *cg, const struct supervisor_config *cfg,
		   struct supervisor **ret);
void supervisor_free(struct supervisor *s);

/* Take ownership of the policies and create one service each (stopped). */
int supervisor_add(struct supervisor *s, struct policy *p, struct service **ret);
struct service *supervisor_find(struct supervisor *s, const char *name);

/* Create the cgroup, write the limits, spawn. */
int service_start(struct service *svc);
/* Follow a process already in the group (guardian restarted, or the main
 * process daemonized): pidfd_open on a pid from cgroup.procs. */
int service_adopt_main(struct service *svc);
/* Graceful stop; the callback-free state machine ends in SVC_STOPPED. */
int service_stop(struct service *svc);

/* The cgroup name of a service below the parent. */
int service_cgroup_name(const char *service, char **ret);

const char *service_state_to_string(enum service_state s);
const char *exit_cause_to_string(enum exit_cause c);

/* Pure: the delay before restart number `failures` (1-based), with a
 * jitter fraction in [-1, 1] scaled to +-10%. */
usec_t restart_backoff(const struct policy *p, unsigned failures, double jitter);
/* Pure: would one more restart at `now` exceed the give-up budget, given
 * the monotonic times of earlier restarts? */
bool restart_budget_exhausted(const struct policy *p, const usec_t *times, unsigned n, usec_t now);
