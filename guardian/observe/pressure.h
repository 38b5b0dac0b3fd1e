/* pressure.h: what the kernel says about one cgroup's memory: a PSI
 * trigger on memory.pressure, memory.events changes, and samples of its
 * cgroup files on a timer that runs fast while something is happening. */
#pragma once

#include <stdbool.h>

#include "cgwatch.h"
#include "engine.h"
#include "loop.h"

struct pressure;

/* Called with every full sample; it may call pressure_stop. */
typedef void (*pressure_cb)(void *data, const struct engine_sample *s);

/* The PSI trigger written to memory.pressure by default: 150 ms stalled
 * within a 1 s window (15%). A healthy page-cache reader at its memory.max
 * sits at about 8% (docs/TESTING.md), so this wakes us for real contention
 * only; the kernel wants root's window within 0.5-10 s. A policy's
 * `pressure:` key gives its own. */
#define PRESSURE_PSI_TRIGGER "some 150000 1000000"

/* Start watching the group (cgfd is borrowed and must outlive it; watch,
 * the daemon's inotify, may be NULL). The PSI trigger and the
 * memory.events watch are best effort: without them sampling still runs;
 * pressure_psi_armed and pressure_events_armed say what is armed. */
struct pressure_config {
	usec_t calm_interval;    /* full samples while calm (the policy's sample_interval) */
	const char *psi_trigger; /* "some 150000 1000000"; NULL: PRESSURE_PSI_TRIGGER */
	bool lazy;               /* calm ticks read memory.current only, until it moves */
};
int pressure_start(struct loop *loop, struct cgwatch *watch, int cgfd, const struct pressure_config *cfg,
		   pressure_cb cb, void *data, struct pressure **ret);
void pressure_stop(struct pressure *s);
/* The engine asks for fast sampling (or lets it slow down again). */
void pressure_set_fast(struct pressure *s, bool fast);
bool pressure_psi_armed(const struct pressure *s);
bool pressure_events_armed(const struct pressure *s);
usec_t pressure_interval(const struct pressure *s);
unsigned long pressure_samples(const struct pressure *s);

/* One full sample of a group's files (also for tests on fixture trees).
 * memory.current and memory.stat are required; the rest default to 0 or
 * "max" when the controller or file is missing. */
int pressure_read(int cgfd, struct engine_sample *ret);
