/* guarded.h: the map of guarded cgroups that signal.bpf.c and
 * reclaim.bpf.c share. The daemon creates it once, both objects reuse it
 * (bpf_map__reuse_fd), and the daemon adds a service's cgroup id when it
 * creates or adopts the cgroup and deletes it when the service goes. */
#pragma once

/* Far more services than one host runs; a full map refuses new entries
 * (the service is then simply not observed). */
#define GUARDED_CGROUPS_MAX 4096

/* The value per guarded cgroup: reclaim.bpf.c counts into it, signal.bpf.c
 * only tests that the key is there. Times are CLOCK_MONOTONIC ns
 * (bpf_ktime_get_ns). */
struct guarded_cgroup {
	unsigned long long reclaims;      /* memcg reclaim runs by its tasks */
	unsigned long long last_reclaim;  /* when the last one began */
	unsigned long long last_sent;     /* when the last ring-buffer event went out */
	unsigned long long reclaimed;     /* pages those runs freed */
};
