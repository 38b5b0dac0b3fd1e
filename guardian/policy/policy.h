/* policy.h: one service's policy, as loaded from YAML, validated and
 * compiled. A struct policy that exists has passed every check. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util.h"

/* A cgroup limit: unset (leave the kernel default), a number, or "max". */
#define LIMIT_MAX UINT64_MAX
struct limit {
	bool set;
	uint64_t value; /* bytes, count; LIMIT_MAX for "max" */
};

enum restart_mode { RESTART_NEVER, RESTART_ON_FAILURE, RESTART_ALWAYS };

/* Every action a rule, a health check or the engine's ladder can take. */
enum action_kind {
	ACTION_NONE = 0,
	ACTION_NOTIFY,   /* record only */
	ACTION_RECLAIM,  /* memory.reclaim */
	ACTION_THROTTLE, /* lower memory.high in steps */
	ACTION_OOM_ADJ,  /* raise oom_score_adj */
	ACTION_FREEZE,   /* cgroup.freeze */
	ACTION_RESTART,  /* graceful stop, then start */
	ACTION_STOP,     /* graceful stop, no restart */
	ACTION_KILL,     /* cgroup.kill */
	ACTION_EXEC,     /* run a command with the event in its environment */
	_ACTION_MAX,
};

/* A pod's QoS class, as the Kubernetes API names it, and the kubelet's
 * cgroup driver (see kernel/kubepods.h for the layouts). */
enum kube_qos { KUBE_QOS_UNKNOWN, KUBE_QOS_GUARANTEED, KUBE_QOS_BURSTABLE, KUBE_QOS_BESTEFFORT, _KUBE_QOS_MAX };
enum kube_driver { KUBE_DRIVER_SYSTEMD, KUBE_DRIVER_CGROUPFS };
const char *kube_qos_to_string(enum kube_qos q);
int kube_qos_from_string(const char *s, enum kube_qos *ret);

enum metric_kind {
	METRIC_WORKING_SET,      /* bytes: memory.current - inactive_file */
	METRIC_MEMORY_CURRENT,   /* bytes */
	METRIC_ANON,             /* bytes, memory.stat anon */
	METRIC_FILE,             /* bytes, memory.stat file */
	METRIC_SHMEM,            /* bytes, memory.stat shmem */
	METRIC_SWAP,             /* bytes, memory.swap.current */
	METRIC_PSI_SOME_AVG10,   /* percent */
	METRIC_PSI_FULL_AVG10,   /* percent */
	METRIC_MEMORY_EVENTS_HIGH_RATE, /* memory.events high per second */
	METRIC_CPU,              /* percent of one CPU */
	METRIC_PIDS,             /* count, pids.current */
	METRIC_TIME_TO_MAX,      /* usec until memory.max at the current growth */
	_METRIC_MAX,
};

/* What unit a metric's thresholds are written in. */
enum metric_unit { UNIT_BYTES, UNIT_PERCENT, UNIT_USEC, UNIT_COUNT, UNIT_RATE };

struct rule {
	char *name;
	enum metric_kind metric;
	bool below;       /* false: fires when value > threshold */
	double threshold; /* in the metric's unit */
	/* Hold: either a duration or N of the last M samples. */
	usec_t for_usec;  /* 0: no duration hold */
	unsigned samples; /* N (0 when a duration is used) */
	unsigned of;      /* M >= N */
	enum action_kind action;
	char **exec;      /* argv for ACTION_EXEC */
	unsigned line;    /* where it was written, for records */
};

enum health_kind { HEALTH_HTTP, HEALTH_TCP, HEALTH_EXEC };

struct health_check {
	enum health_kind kind;
	/* http */
	char *url;        /* as written */
	char *host;       /* parsed from url or tcp */
	uint16_t port;
	char *path;       /* http request path, "/" by default */
	int status;       /* expected HTTP status, 200 by default */
	char *contains;   /* body substring, NULL for none */
	/* exec */
	char **exec;
	usec_t every;     /* default 10s */
	usec_t timeout;   /* default 2s */
	unsigned failures;/* consecutive failures before action, default 3 */
	enum action_kind action; /* ACTION_RESTART or ACTION_NOTIFY */
	unsigned line;
};

struct env_var {
	char *name;
	char *value;
};

struct rlimit_setting {
	int resource;   /* RLIMIT_* */
	uint64_t soft;  /* RLIM_INFINITY for "infinity"/"max" */
	uint64_t hard;
};

enum output_mode { OUTPUT_FILE, OUTPUT_INHERIT, OUTPUT_NULL };

/* user and group as the machine's user database (NSS) named them when the
 * policy was loaded or reloaded. Every spawn uses these ids: NSS is never
 * asked from the event loop (it can wait on LDAP or a socket) nor in a
 * child after fork. */
struct policy_cred {
	bool set;           /* user or group given: the child takes on these ids */
	uid_t uid;          /* the user's; with group only, guardian's own */
	gid_t gid;          /* group's, or else the user's primary group */
	gid_t *groups;      /* supplementary: getgrouplist(user, gid); none without user */
	size_t n_groups;
	char *home, *shell; /* the user's passwd entry; NULL without user */
};

/* hooks: commands run after guardian's or the kernel's kills and
 * restarts (policy-hooks.c). */
enum hook_event {
	HOOK_ON_KILL = 1 << 0,
	HOOK_ON_RESTART = 1 << 1,
	HOOK_ON_OOM_KILL = 1 << 2,
	HOOK_ON_SIGNAL = 1 << 3,
	HOOK_ON_GIVE_UP = 1 << 4,
	HOOK_ON_ALL = (1 << 5) - 1,
};

struct hook {
	char **command;          /* argv; a string becomes sh -c */
	char *user;              /* NULL: guardian's user */
	struct policy_cred cred; /* user resolved at load, as a service's */
	unsigned on;             /* HOOK_ON_* mask; default all */
	usec_t timeout;          /* killed (SIGKILL) past it; default 10s */
	unsigned max_per_minute; /* runs started per minute, the rest skipped; default 10 */
	unsigned line;           /* where it was written, for its records */
};

struct hookset {
	struct hook *after;
	size_t n_after;
	/* Run before the engine's own kill or restart, which waits for them
	 * at most their timeout and never past half the time left to
	 * memory.max; `on` is kill and/or restart; default timeout 2s. */
	struct hook *before;
	size_t n_before;
};

/* The record action (kill, restart, oom-kill, signal, give-up) a hook's
 * `on` names, or 0 for any other action. */
unsigned hook_event_of_action(const char *action);
/* A daemon-wide hooks file (--hooks): a map with the same keys as a
 * policy's hooks:, checked the same way (user resolved through NSS).
 * 0, or a negative errno with every problem added to d. */
struct diag;
int hookset_load_file(const char *path, struct hookset *ret, struct diag *d);
void hookset_free(struct hookset *h);
int hookset_copy(const struct hookset *from, struct hookset *ret);

struct policy {
	char *path;               /* file it came from */
	char *service;            /* name; also the cgroup directory name */
	unsigned service_line, service_col; /* where service: was written */
	char **command;           /* argv; a string command becomes sh -c */
	char *user;               /* NULL: run as guardian's user */
	char *group;              /* NULL: the user's primary group */
	struct policy_cred cred;  /* user and group resolved at load */
	char *working_directory;  /* NULL: / */
	struct env_var *environment;
	size_t n_environment;
	struct rlimit_setting *rlimits;
	size_t n_rlimits;

	struct {
		struct limit memory_high, memory_max, memory_low, memory_min,
			memory_swap_max, pids_max;
		bool cpu_set;
		uint64_t cpu_quota_usec;  /* LIMIT_MAX for "max" */
		uint64_t cpu_period_usec; /* 100000 unless given */
		uint64_t cpu_weight;      /* 0: unset */
		/* memory_high was not written: the default guard set it as its
		 * tripwire, just below memory_max (policy_guard_high). */
		bool memory_high_is_guard;
	} limits;

	/* The PSI trigger on memory.pressure: stall_usec of some (or full)
	 * stall within each window_usec. Default some 150ms per 1s (15%). */
	struct {
		bool full;
		usec_t stall_usec, window_usec;
	} pressure;

	bool oom_score_adj_set;
	int oom_score_adj;

	struct {
		char **command;   /* optional stop command, run before the signal */
		int signal;       /* default SIGTERM */
		usec_t timeout;   /* grace period, default 10s */
	} stop;

	struct {
		enum restart_mode mode; /* default on-failure */
		usec_t delay;           /* first delay, default 1s */
		usec_t max_delay;       /* cap, default 5m */
		usec_t stable_after;    /* run this long to reset backoff, default 1m */
		unsigned give_up_restarts; /* 0: never give up */
		usec_t give_up_within;
	} restart;

	struct {
		enum output_mode mode;    /* default file */
		char *file;               /* NULL: <state-dir>/logs/<service>.log */
		uint64_t max_size;        /* rotate at, default 10M */
		unsigned keep;            /* rotated files kept, default 3 */
	} output;

	struct health_check *health;
	size_t n_health;

	struct rule *rules;
	size_t n_rules;

	/* watch: {cgroups: [...]}: guard existing cgroups instead of starting
	 * a command; globs of path segments below the cgroup root, e.g.
	 * "system.slice/NAME.service" (a * in NAME). NULL for a launched service. */
	char **watch_cgroups;
	size_t n_watch_cgroups;
	/* watch: {kubernetes: {...}}: every pod container of the node (the
	 * kubelet's cgroups, either driver), narrowed by these. */
	struct {
		bool on;
		int driver;         /* enum kube_driver, or -1: both layouts */
		char **namespaces;  /* NULL: all */
		char **labels;      /* KEY, VALUE, ..., NULL: a pod must carry all; NULL: any */
		char **annotations; /* likewise */
		char **containers;  /* container names; NULL: all */
		unsigned qos_mask;  /* 1 << enum kube_qos; 0: all */
		char *pod_logs;     /* the kubelet's pod log directory: /var/log/pods */
	} kube;

	bool protected_;  /* never chosen as a victim under system pressure */
	int priority;     /* lower is killed first; default 0 */
	bool dry_run;     /* record decisions, change nothing */
	bool no_new_privileges; /* PR_SET_NO_NEW_PRIVS in the child; default true */
	usec_t sample_interval; /* rule cycle, default 1s */
	struct hookset hooks;
};

/* Diagnostics: every problem found while loading, already formatted as
 * "FILE:LINE:COLUMN: KEY: message" (KEY a dotted path like
 * health[0].http.url; no KEY for YAML syntax errors, which start "yaml: ").
 * Problems with the file as a whole (unreadable, mode) are "FILE: message":
 * diag_add with line 0 leaves out the position. d may be NULL.
 * Warnings are kept apart: a policy that loads may have them, and they
 * never fail a load or a check. They read "FILE:LINE:COLUMN: warning: KEY:
 * message". */
struct diag {
	char **msgs;
	size_t n;
	char **warnings;
	size_t n_warnings;
};

void diag_add(struct diag *d, const char *file, unsigned line, unsigned col, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
void diag_warn(struct diag *d, const char *file, unsigned line, unsigned col, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
void diag_free(struct diag *d);

/* Load one file. Returns 0 and a policy, or a negative errno with every
 * problem added to d (-EINVAL for a policy that does not validate).
 * Besides the file itself a load checks the policy against the machine:
 * user and group are resolved through NSS into p->cred (a name it does
 * not know is an error) and rlimits are held to the kernel's ceilings
 * (fs.nr_open), read under /proc or, for the _at variants, proc_root
 * (NULL: /proc). */
int policy_load_file(const char *path, struct policy **ret, struct diag *d);
/* The same from text already in memory (no file mode check); `path` only
 * names it in diagnostics. For tests and fuzzing. */
int policy_load_buffer(const char *path, const char *buf, size_t len, struct policy **ret, struct diag *d);
int policy_load_buffer_at(const char *path, const char *proc_root, const char *buf, size_t len,
			  struct policy **ret, struct diag *d);

/* Load every *.yaml / *.yml in a directory (sorted by name). All files are
 * checked even after an error; service names must be unique. On error no
 * policies are returned. */
int policy_load_dir(const char *dir, struct policy ***ret, size_t *ret_n, struct diag *d);
/* Whether a load's error is a refusal, an admin's to fix (invalid, too
 * large, not root's or writable by others), rather than a file that could
 * not be read now (EACCES, EIO, a dangling link, no memory). */
static inline bool policy_load_refused(int r)
{
	return r == -EINVAL || r == -EPERM || r == -EFBIG;
}
int policy_load_dir_at(const char *dir, const char *proc_root, struct policy ***ret, size_t *ret_n,
		       struct diag *d);

void policy_free(struct policy *p);
/* Does p watch cgroups (globs or the node's pods) instead of starting one? */
static inline bool policy_watches(const struct policy *p)
{
	return p->watch_cgroups || p->kube.on;
}
/* One watched cgroup's own policy: a copy of the watch policy p named
 * `name` (the cgroup's path below the root), without the globs. */
int policy_instance(const struct policy *p, const char *name, struct policy **ret);
/* Does a cgroup path below the root ("system.slice/x.service") match the
 * glob, segment by segment (fnmatch, no '/' inside a segment)? */
bool policy_watch_matches(const char *glob, const char *path);
void policy_freev(struct policy **v, size_t n);

/* Text for enums, as written in YAML. */
const char *action_kind_to_string(enum action_kind a);
/* Restart, stop and kill end the service's run: disruptive, rate-limited. */
static inline bool action_ends_run(enum action_kind a)
{
	return a == ACTION_RESTART || a == ACTION_STOP || a == ACTION_KILL;
}
const char *metric_kind_to_string(enum metric_kind m);
enum metric_unit metric_kind_unit(enum metric_kind m);
const char *restart_mode_to_string(enum restart_mode m);
const char *metric_unit_to_string(enum metric_unit u);
const char *health_kind_to_string(enum health_kind k);
const char *signal_to_string(int sig); /* "TERM"; NULL for unnamed */
/* The reverse, for guardctl and the tests: 0 or -EINVAL. */
int action_kind_from_string(const char *s, enum action_kind *ret);
int metric_kind_from_string(const char *s, enum metric_kind *ret);
int restart_mode_from_string(const char *s, enum restart_mode *ret);

/* The file-mode rule: true when a policy with this mode must be refused
 * for a process with this effective uid (root, and writable by group or
 * others). policy_load_file applies it with geteuid(). */
bool policy_mode_unsafe(mode_t mode, uid_t euid);

/* Unit parsing shared with guardctl and the tests. Each returns 0 or
 * -EINVAL / -ERANGE and never logs. parse_size refuses "max" when
 * ret_is_max is NULL. */
/* The default guard's tripwire for a memory.max of `max` bytes: memory.high
 * that far below it (1/16 of it, between 2 MiB and 256 MiB). */
uint64_t policy_guard_high(uint64_t max);

/* What differs between two policies of one service (reload). */
struct policy_diff {
	bool limits;         /* memory, cpu or pids limits: applied to the running cgroup */
	bool oom_score_adj;  /* applied to the running processes */
	bool rules;          /* these three: the monitor starts afresh on the new policy */
	bool pressure;       /* the PSI trigger */
	bool sampling;       /* sample_interval */
	bool health;
	/* What a new process would see ("command", "user/group",
	 * "working_directory", "environment/rlimits", "output"): a running
	 * service restarts. NULL when none of it changed. */
	const char *process;
};
void policy_diff(const struct policy *a, const struct policy *b, struct policy_diff *ret);

int parse_size(const char *s, uint64_t *ret_bytes, bool *ret_is_max); /* 512K 1.5G max 0 */
int parse_duration(const char *s, usec_t *ret);                    /* 250ms 30s 5m 1h 1d */
int parse_percent(const char *s, double *ret);                      /* 20% 150% 1.5% */
int parse_signal(const char *s, int *ret);                          /* TERM SIGTERM 15 */
int parse_rate(const char *s, double *ret);                         /* 5 0.5 5/s */
