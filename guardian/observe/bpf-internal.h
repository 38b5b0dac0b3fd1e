/* bpf-internal.h: what bpf.c (the libbpf side) and bpf-events.c (what the
 * observers saw, and the memory.events fallback) share. */
#pragma once

#include "bpf.h"
#include "guarded.h"
#include "oomkill.h"
#include "reclaim.h"
#include "signal-event.h"

enum observer { OBS_OOMKILL, OBS_SIGNAL, OBS_RECLAIM, _OBS_MAX };

/* A guarded cgroup, as the daemon keeps it (the BPF map has its twin). */
struct guarded {
	uint64_t cgroup_id;
	char *name;                     /* the service's name, for records */
	char *path;                     /* below the cgroup root */
	int cgfd;                       /* our own dup of the service's cgroup dir */
	uint64_t oom_base;              /* memory.events oom_kill accounted for */
	uint64_t kernel_oom_kills;      /* attributed to this cgroup */
	struct cgwatch_entry *events;   /* memory.events (oomkill off) */
	struct bpf_observers *o;
};

struct bpf_libbpf; /* bpf.c's skeletons and ring buffers */

struct bpf_observers {
	struct loop *loop;
	struct bpf_observers_config cfg;
	struct guarded **g;             /* pointers: cgwatch callbacks hold them */
	size_t n_g;
	uint64_t kernel_oom_kills; /* daemon-wide: every OOM kill seen */
	bool on[_OBS_MAX];
	char how[_OBS_MAX][200];   /* "on (tp_btf)" or "off (why)" */
	char status[700];
	struct bpf_libbpf *lb;     /* NULL: no program loaded */
	bpf_reclaim_cb reclaim_cb;
	void *reclaim_data;
};

extern const char *const observer_names[_OBS_MAX];

/* bpf-events.c: the decoded ring-buffer events. */
void observers_oom_event(struct bpf_observers *o, const struct oomkill_event *e);
void observers_signal_event(struct bpf_observers *o, const struct signal_event *e);
void observers_reclaim_event(struct bpf_observers *o, const struct reclaim_event *e);
void observers_free_guarded(struct bpf_observers *o);

/* bpf.c: the shared map, when loaded (-ENODEV otherwise). */
int observers_map_guard(struct bpf_observers *o, uint64_t cgroup_id, bool on);
int observers_map_read(struct bpf_observers *o, uint64_t cgroup_id, struct guarded_cgroup *ret);
