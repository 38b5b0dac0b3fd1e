/* guarded.bpf.h: the map of guarded cgroups as the BPF programs declare
 * it; both objects declare the same map and the daemon makes them share
 * one (bpf_map__reuse_fd). Kernel side only: the daemon uses guarded.h. */
#pragma once

#include "guarded.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, GUARDED_CGROUPS_MAX);
	__type(key, unsigned long long);
	__type(value, struct guarded_cgroup);
} guarded_cgroups SEC(".maps");
