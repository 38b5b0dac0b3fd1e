/* history.h: a service's working set over the last minutes, for
 * `guardctl explain`'s chart: a fixed ring, one point per step, whatever
 * the sampling rate (no I/O, no allocation). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* One point per 5 s for the last 10 minutes: enough to see a leak that
 * takes minutes and the restarts it caused, 120 points of 16 bytes
 * (under 2 KiB) per service, the same after a minute or a year. */
#define HISTORY_STEP (5 * USEC_PER_SEC)
#define HISTORY_POINTS 120

struct history_point {
	usec_t at;     /* monotonic */
	uint64_t working_set;
};

struct history {
	struct history_point p[HISTORY_POINTS];
	size_t n, head; /* the oldest at head once full */
};

/* A sample at `at`: kept when it is the first or HISTORY_STEP after the
 * last kept one; the oldest point goes when the ring is full. */
void history_note(struct history *h, usec_t at, uint64_t working_set);
/* The i-th point, oldest first (i < h->n). */
const struct history_point *history_at(const struct history *h, size_t i);
