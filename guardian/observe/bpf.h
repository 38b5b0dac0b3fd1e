/* bpf.h: the BPF observers: load, attach, and feed their ring buffers into
 * the event loop; what they saw, per guarded cgroup. An extra sense:
 * guardian runs without them, and then sees kernel OOM kills of its
 * services through memory.events. */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "actionlog.h"
#include "cgwatch.h"
#include "loop.h"
#include "procs.h"

struct bpf_observers;

struct bpf_observers_config {
	bool disabled;          /* --no-bpf */
	const char *proc_root;  /* "/proc" when NULL */
	struct actionlog *log;  /* kernel OOM kills are recorded here (may be NULL) */
	struct cgwatch *watch;  /* memory.events watches when oomkill is off */
	/* A fatal signal was sent to a process of the guarded cgroup
	 * cgroup_id (by anyone, guardian included: compare the sender). */
	void (*on_signal)(void *data, uint64_t cgroup_id, const struct signal_sender *s);
	/* Add what the layers above know of the guarded cgroup cgroup_id to
	 * a kernel OOM kill's record (a pod container's names). May be NULL. */
	void (*annotate)(void *data, uint64_t cgroup_id, struct json_object *rec);
	void *data;
};

/* Loads what the kernel allows: oomkill (every kernel OOM kill), signal
 * (fatal signals sent to guarded processes, and by whom) and reclaim
 * (memcg reclaim in guarded cgroups). Never fails the daemon: *ret is set
 * even when every program is off (it then still counts kernel OOM kills
 * from memory.events), NULL only without memory. Returns the status line
 * for `guardctl status`, e.g. "oomkill: on (tp_btf), signal: off
 * (verifier: ...), reclaim: on (tp_btf)" or "off: disabled by --no-bpf";
 * it stays valid until bpf_observers_stop. */
const char *bpf_observers_start(struct loop *loop, const struct bpf_observers_config *cfg,
				struct bpf_observers **ret);
void bpf_observers_stop(struct bpf_observers *o);

/* Watch the cgroup with this id (the inode of its directory, open as
 * cgfd, which is duplicated), known as `name` at `path` below the cgroup
 * root: its kernel OOM kills are recorded under that name, signals to its
 * processes reported through on_signal. Idempotent; o may be NULL.
 * Returns 0 or a negative errno (out of memory; a full BPF map is logged
 * and the cgroup is then watched through memory.events only). */
int bpf_observers_guard(struct bpf_observers *o, uint64_t cgroup_id, int cgfd, const char *name,
			const char *path);
/* Stop watching it (the service is gone). Idempotent; o may be NULL. */
void bpf_observers_unguard(struct bpf_observers *o, uint64_t cgroup_id);

/* --- for the pressure engine: memcg reclaim as an early warning ---------
 *
 * Reclaim starts as soon as a cgroup's charges meet memory.high or
 * memory.max: before PSI's averages move, and for an anonymous leak
 * against memory.max (nothing to reclaim, so nothing stalls) long before
 * PSI ever shows anything.
 *
 * Pull: bpf_observers_reclaim() reads the kernel's counters for one
 * guarded cgroup (one bpf(2) map lookup; fine at every sample):
 * *ret_count is the number of memcg reclaim runs its tasks entered since
 * it was guarded, *ret_last the CLOCK_MONOTONIC time of the latest
 * (usec, as now_monotonic(); 0 if none). Compare counts between samples:
 * a count that rises means the cgroup is at a limit now. Returns -ENODEV
 * when the reclaim program is off (o NULL, no BPF), -ENOENT when the
 * cgroup is not guarded.
 *
 * Push: bpf_observers_on_reclaim() sets one callback (NULL to clear),
 * called from the event loop at most once per cgroup per 100 ms
 * (RECLAIM_EVENT_INTERVAL_NS in bpf/reclaim.h) while its tasks reclaim,
 * with the same count and time. Use it to wake a sampler early. */
int bpf_observers_reclaim(struct bpf_observers *o, uint64_t cgroup_id, uint64_t *ret_count, usec_t *ret_last);
typedef void (*bpf_reclaim_cb)(void *data, uint64_t cgroup_id, uint64_t count, usec_t last);
void bpf_observers_on_reclaim(struct bpf_observers *o, bpf_reclaim_cb cb, void *data);

/* --- status ------------------------------------------------------------- */

/* Adds "bpf_programs" ({"oomkill": "on (tp_btf)", ...}) and the daemon-wide
 * "kernel_oom_kills" to the status object. o may be NULL. */
void bpf_observers_status_json(const struct bpf_observers *o, struct json_object *status);
/* Adds a service's "kernel_oom_kills", "reclaim_events" and
 * "reclaim_last" (RFC 3339, null if none) to its status object. */
void bpf_observers_service_json(const struct bpf_observers *o, uint64_t cgroup_id, struct json_object *svc);

/* For the metrics: kernel OOM kills attributed to the cgroup (0 when not
 * guarded) and on the whole machine; program i's name and whether it is
 * loaded, false past the last. o may be NULL (every program off). */
uint64_t bpf_observers_oom_kills(const struct bpf_observers *o, uint64_t cgroup_id);
uint64_t bpf_observers_oom_kills_all(const struct bpf_observers *o);
bool bpf_observers_program(const struct bpf_observers *o, size_t i, const char **ret_name, bool *ret_loaded);
