/* supervisor.h: services as cgroups: their limits, their processes
 * (clone3 into the cgroup, pidfds), stop, restart with backoff, give-up. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "actionlog.h"
#include "cgfs.h"
#include "cgwatch.h"
#include "health.h"
#include "loop.h"
#include "policy.h"
#include "lifecycle.h"
#include "procs.h"
#include "kubepods.h"
#include "kubelet.h"

struct supervisor;

/* A pod container's identity (a kubernetes watch): from its cgroup path
 * (uid, container id, QoS), then from the kubelet's /pods (names, the
 * container's name and memory request, the pod's priority, guardian's
 * annotations), or where the kubelet cannot be asked from its log
 * directories (namespace, pod and container names). */
struct service_kube {
	char namespace_[64], pod[254];  /* "" when not known (yet) */
	char container[64];             /* the container's name; "" when not known */
	char pod_uid[40], container_id[72];
	enum kube_qos qos;
	char priority_class[254];
	int64_t pod_priority;           /* the priority class's value; 0 when not known */
	uint64_t memory_request;        /* bytes; 0: none, or not known */
	char overrides[160];            /* the guardian.dev/ annotations applied, "" for none */
	const char *source;             /* where the names came from: "kubelet", "pod-logs" or "cgroup" */
};

struct service {
	struct supervisor *sup;
	struct policy *policy;
	char *cgroup;  /* path below the cgroup root, e.g. /guardian.slice/web.service */
	int cgfd;
	enum service_state state;
	bool want_running;
	bool state_loaded;  /* restored from state.json */
	bool removed;       /* its policy is gone: freed once stopped */

	pid_t pid;
	int pidfd;
	struct loop_source *pid_src;
	struct loop_source *exec_src;   /* CLOEXEC pipe that reports exec failures */
	struct cgwatch_entry *events;   /* cgroup.events */
	int watch_error;                /* errno why cgroup.events is not watched (0: it is) */
	struct loop_source *empty_poll; /* without that watch: checks a stopping group */
	struct loop_source *timer;      /* backoff or stop grace period */
	bool group_signalled;           /* stop signal already sent to the whole group */
	bool stop_kills;                /* the stop beginning is a kill: no stop command, no signal */
	bool stop_resumed;              /* the stop is a dead guardian's, finished: no stop command */
	enum exit_cause stop_cause;     /* why guardian is stopping it (EXIT_GUARDIAN, EXIT_HEALTH) */
	char *stop_reason;              /* words for the record, malloc'd */
	struct health_runner *health;
	struct health_targets *health_targets; /* its checks' addresses, for this policy */
	struct loop_source *stop_cmd_src; /* stop.command's pidfd */
	bool restart_pending;  /* counted restart once the stop completes */
	int exec_pipe;

	usec_t started_mono;
	usec_t started_real;
	usec_t stop_began;
	unsigned restarts;       /* since guardian started or the last explicit start */
	unsigned failures_in_row;/* drives the backoff; reset after stable_after */
	usec_t *restart_times;   /* ring of the last give_up_restarts restarts (monotonic) */
	unsigned restart_ring_len;
	uint64_t oom_kills_at_start;
	uint64_t cgroup_id;      /* the cgroup's inode number: what BPF sees */
	/* A cgroup someone else created (a policy's watch): guardian guards it
	 * but never starts, stops or removes it. */
	struct watch_set *watch; /* NULL once the watch set is gone (a reload, exit) */
	bool watched;            /* set once, never cleared: guardian does not own it */
	uint64_t guardian_high;  /* the last memory.high guardian's own throttle wrote there */
	/* A watched cgroup's oom_score_adj before guardian raised it (the
	 * kubelet's per-QoS value, systemd's OOMScoreAdjust=): what an undo
	 * writes back. */
	int oom_score_adj_found;
	bool oom_score_adj_raised;
	uint64_t tripwire;       /* the memory.high guardian wrote there (0: none) */
	/* The owner writes its limits just after its mkdir (runc, systemd):
	 * the tripwire waits until they have settled, and an owner's
	 * memory.high written later is seen (inotify on its writes). */
	struct loop_source *settle;
	struct cgwatch_entry *high_events;
	struct service_kube *kube; /* a pod container's, or NULL */
	struct signal_sender last_signal; /* the last fatal signal seen for its main process */
	struct service_exit last_exit;
};

struct supervisor_config {
	const char *state_dir;
	const char *cgroup_parent; /* NULL: derive from guardian's own cgroup */
	const char *proc_root;
	bool dry_run;
	struct actionlog *log;     /* not owned; may be NULL */
	struct cgwatch *watch;     /* not owned: the daemon's inotify */
};

/* What the layers above learn of a service's life: a table of callbacks
 * that each subscriber registers (the monitor, the BPF observers, the
 * control socket). Any entry may be NULL. They run inside the state
 * machine: they may read the service and act on other objects, but must
 * not free it; a restart or stop they want goes through the service API
 * and is safe from every hook but `removed`. */
struct service_hooks {
	/* Its cgroup is open (created, found or adopted): cgfd and cgroup_id
	 * are valid from here until `removed`. */
	void (*cgroup_opened)(void *data, struct service *svc);
	/* It reached RUNNING (started, or adopted after guardian's restart). */
	void (*running)(void *data, struct service *svc);
	/* Its run is over: a stop began, or its main process failed. */
	void (*run_ended)(void *data, struct service *svc);
	/* After every state change (and after state.json was saved). */
	void (*changed)(void *data, struct service *svc);
	/* A reload gave it a new policy (svc->policy); the old one is freed
	 * right after: nothing may keep pointing into it. */
	void (*policy_changed)(void *data, struct service *svc);
	/* It is about to be freed: its policy was removed, or guardian exits. */
	void (*removed)(void *data, struct service *svc);
};

struct supervisor_subscriber {
	const struct service_hooks *hooks;
	void *data;
};

struct supervisor {
	struct loop *loop;
	struct cgfs *cg;
	struct supervisor_config cfg;
	char *parent;   /* cgroup that holds the services */
	int parent_fd;
	struct service **services;
	size_t n_services;
	struct loop_source *reap; /* frees removed services once stopped */
	struct loop_source *save; /* state.json is due (deferred: one write for many changes) */
	struct supervisor_subscriber *subs;
	size_t n_subs;
	char boot_id[64];         /* this boot's, read at the first save */
	struct watch_set **watches; /* the policies with watch: */
	size_t n_watches;
	struct kubelet *kubelet;    /* not owned: the node's kubelet, or NULL */
};

/* Decide where services live, move guardian into a leaf if the kernel's
 * no-internal-processes rule requires it, and enable the controllers. */
int supervisor_new(struct loop *loop, struct cgfs *cg, const struct supervisor_config *cfg,
		   struct supervisor **ret);
void supervisor_free(struct supervisor *s);

/* Register (or drop) a hook table; called for every service from then on. */
int supervisor_subscribe(struct supervisor *s, const struct service_hooks *h, void *data);
void supervisor_unsubscribe(struct supervisor *s, const struct service_hooks *h, void *data);

/* Take ownership of the policies and create one service each (stopped). */
int supervisor_add(struct supervisor *s, struct policy *p, struct service **ret);

/* Watched cgroups (watch.c). supervisor_watch takes a policy with watch:
 * and guards every cgroup that matches its globs, now and as they appear
 * (inotify on the directories that can hold them), each a service named
 * by its path ("system.slice/x.service"); a cgroup that goes away is
 * forgotten. supervisor_unwatch_all forgets them all (a reload, exit). */
int supervisor_watch(struct supervisor *s, struct policy *p);
void supervisor_unwatch_all(struct supervisor *s);
/* The kubelet's table changed (or the kubelet failed): containers that
 * waited for their pod's metadata are guarded (or left) now, and those
 * named another way get the kubelet's names. */
void supervisor_kube_update(struct supervisor *s);
/* Only the directory watches and the watch policies (guardian's exit,
 * where the services are freed right after). */
void supervisor_unwatch_dirs(struct supervisor *s);
/* A service for the existing cgroup at path (below the root), p its own. */
int supervisor_add_watched(struct supervisor *s, struct policy *p, const char *path, struct service **ret);
/* Open it and guard it: RUNNING from here. The default guard's tripwire
 * goes on memory.high where nobody set one (and comes off at the end). */
int service_watch_begin(struct service *svc);
/* Forget it: stopped, removed (reaped later); nothing of the cgroup is
 * touched but the tripwire guardian put there. */
void service_watch_end(struct service *svc, const char *why);
/* The tripwire back to max, if it is still ours (guardian's exit). */
void service_watch_restore(struct service *svc);
/* Its policy's dry_run, protected or priority changed (a pod's
 * guardian.dev/ annotations): the tripwire follows dry_run. */
void service_watch_policy_changed(struct service *svc);
struct service *supervisor_find(struct supervisor *s, const char *name);
/* The service whose cgroup has this id (inode number), or NULL. */
struct service *supervisor_find_by_cgroup_id(struct supervisor *s, uint64_t id);

/* Someone sent a fatal signal to a process of svc (the BPF signal
 * observer saw it): remember it (to classify the coming exit) and record
 * it in the action log. Signals guardian sends itself are recognised by
 * the sender's pid. */
void service_note_signal(struct service *svc, const struct signal_sender *sender);

/* Create the cgroup, write the limits, spawn. */
int service_start(struct service *svc);
/* Does the service's cgroup hold processes? (false when it is gone) */
bool service_group_populated(struct service *svc);
/* Write the policy's limits into the service's cgroup (also live). */
int service_apply_limits(struct service *svc);
/* Follow a process already in the group (guardian restarted, or the main
 * process daemonized): pidfd_open on a pid from cgroup.procs. */
int service_adopt_main(struct service *svc);
/* Graceful stop: stop.command, the stop signal, the grace period, then
 * cgroup.kill; ends in SVC_STOPPED. */
int service_stop(struct service *svc);
/* The same for guardian's own reasons (EXIT_RULE, EXIT_HEALTH): recorded
 * with `reason`, the exit classified as `cause`. */
int service_stop_because(struct service *svc, enum exit_cause cause, const char *reason);
/* guardian restarted while the service was being stopped (it was not to
 * run, and its group still has processes): the stop goes on, with the stop
 * signal, the grace period and cgroup.kill; stop.command is not run again,
 * as guardian cannot tell whether the first one ran (or still runs, in the
 * group). Ends in SVC_STOPPED. */
int service_finish_stop(struct service *svc);
/* Stop, then start again. `cause` is EXIT_GUARDIAN for a command,
 * EXIT_HEALTH for failed checks; `counted` restarts count toward give_up. */
int service_restart(struct service *svc, enum exit_cause cause, const char *reason, bool counted);
/* The state side of a kill the caller does itself (cgroup.kill, then
 * process_mrelease): the service enters its stop as service_restart
 * (restart, counted) or service_stop_because would, but runs no
 * stop.command and sends no stop signal; stop.timeout stays the backstop. */
int service_kill_because(struct service *svc, enum exit_cause cause, const char *reason, bool restart);

/* Persisted state (<state-dir>/state.json): restart counters, last exit
 * and whether the service was stopped on purpose, across guardian
 * restarts within one boot. */
int supervisor_save_state(struct supervisor *s);
/* Write it now if a change is pending (and on guardian's way out). */
int supervisor_flush_state(struct supervisor *s);
int supervisor_load_state(struct supervisor *s);
/* Apply a new, already validated policy set (taking ownership): add and
 * start new services, stop removed ones, apply changed limits live and
 * restart services whose command, user or environment changed. Each
 * change is appended to `changes` as a sentence. */
int supervisor_reload(struct supervisor *s, struct policy **v, size_t n, struct json_object *changes);
/* Free services whose policy was removed, once they are stopped (from the
 * loop, never inside their own state machine). */
void supervisor_reap_removed(struct supervisor *s);
/* Start every service that should run; a populated cgroup is adopted,
 * never started twice. A service stopped (by command, a rule or a health
 * check) or given up before guardian restarted stays so until 'guardctl
 * start'; one whose stop was under way, its group still populated, is
 * stopped (service_finish_stop). */
void supervisor_start_all(struct supervisor *s);
void service_free(struct service *svc);
/* Tell the subscribers (supervisor.c's loop over their tables). */
#define supervisor_notify(svc, hook)                                                    \
	do {                                                                            \
		struct supervisor *s_ = (svc)->sup;                                     \
		for (size_t i_ = 0; i_ < s_->n_subs; i_++)                              \
			if (s_->subs[i_].hooks->hook)                                    \
				s_->subs[i_].hooks->hook(s_->subs[i_].data, (svc));      \
	} while (0)
/* Start the health checks of a running service again (after a reload). */
void service_resume_health(struct service *svc);
/* Called by the state machine after every change. */
void supervisor_service_changed(struct service *svc);

/* A new action-log record about svc (its name, cgroup, and for a pod
 * container the pod's namespace, name, uid, container id and QoS class). */
struct json_object *service_record(const struct service *svc, const char *source, const char *action,
				   const char *reason);
/* The pod's identity as a JSON object, or NULL when svc is no pod. */
struct json_object *service_kube_json(const struct service *svc);

/* The cgroup name of a service below the parent. */
int service_cgroup_name(const char *service, char **ret);



