/* signals.h: what the kernel says about one service's memory: a PSI
 * trigger on memory.pressure, inotify on memory.events, and samples of its
 * cgroup files on a timer that runs fast while something is happening. */
#pragma once

#include <stdbool.h>

#include "engine.h"
#include "loop.h"

struct signals;

/* Called with every full sample; it may call signals_stop. */
typedef void (*signals_cb)(void *data, const struct engine_sample *s);

/* The PSI trigger written to memory.pressure: 150 ms stalled within a 1 s
 * window (15%). A healthy page-cache reader at its memory.max sits at about
 * 8% (DESIGN.md), so this wakes us for real contention only; the kernel
 * wants root's window within 0.5-10 s. */
#define SIGNALS_PSI_TRIGGER "some 150000 1000000"

/* Start watching the group (cgfd is borrowed and must outlive it).
 * calm_interval: full samples while calm (the policy's sample_interval).
 * The PSI trigger and inotify are best effort: without them sampling
 * still runs; signals_describe says what is armed. */
int signals_start(struct loop *loop, int cgfd, usec_t calm_interval, signals_cb cb, void *data,
		  struct signals **ret);
void signals_stop(struct signals *s);
/* The engine asks for fast sampling (or lets it slow down again). */
void signals_set_fast(struct signals *s, bool fast);
bool signals_psi_armed(const struct signals *s);
bool signals_events_armed(const struct signals *s);
usec_t signals_interval(const struct signals *s);
unsigned long signals_samples(const struct signals *s);

/* One full sample of a group's files (also for tests on fixture trees).
 * memory.current and memory.stat are required; the rest default to 0 or
 * "max" when the controller or file is missing. */
int signals_read(int cgfd, struct engine_sample *ret);
