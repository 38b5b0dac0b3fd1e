/* reclaim.h: the early warning reclaim.bpf.c sends when tasks of a guarded
 * cgroup enter memcg reclaim, at most once per cgroup per interval. */
#pragma once

/* 100 ms: the pressure engine samples a growing service every 100 ms at
 * its fastest, so more frequent news would only be coalesced there. A
 * cgroup above memory.high reclaims on every charge, thousands of times
 * a second; one ring-buffer record each would make the observer a load
 * of its own exactly when memory is short. The counts in the map stay
 * exact either way. */
#define RECLAIM_EVENT_INTERVAL_NS (100ULL * 1000 * 1000)

struct reclaim_event {
	unsigned long long cgroup_id;
	unsigned long long reclaims;   /* runs so far (the map's count) */
	unsigned long long reclaimed;  /* pages freed so far */
	unsigned long long at;         /* CLOCK_MONOTONIC ns of this run */
};
