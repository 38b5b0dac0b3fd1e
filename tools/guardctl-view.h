/* guardctl-view.h: what `guardctl top` and `guardctl explain` draw, as pure
 * functions of the daemon's answers: top's rows, their order and lines,
 * and explain's chart of the working set against its limits. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <json-c/json.h>

#define VIEW_NONE UINT64_MAX /* a limit that is "max" or unknown */

struct top_row {
	char name[160];      /* the service, or namespace/pod/container for a pod */
	char state[16];
	uint64_t working_set, memory_max; /* VIEW_NONE: unknown / "max" */
	bool has_growth;
	double growth_bps;
	int64_t time_to_max_ms; /* -1: not growing toward a memory.max */
	double psi_some;
	char last[64];       /* the engine's last action, "-" when none */
};

/* The rows of a `status` answer, in its order; *ret freed by the caller. */
int top_rows_from_status(struct json_object *status, struct top_row **ret, size_t *ret_n);
/* Soonest to memory.max first; then those not growing toward it by their
 * share of memory.max, then by working set; the name breaks ties. */
void top_sort(struct top_row *v, size_t n);
/* The table: a header and one line per row, each at most width columns
 * (0: no limit, names never cut), at most max_rows rows (0: all). */
void top_print(FILE *out, const struct top_row *v, size_t n, int width, size_t max_rows);

struct chart_point {
	int64_t ago_ms;
	uint64_t working_set;
};
/* The working set over time as columns of '#', memory.max as a row of
 * '=' and memory.high as a row of '-' (VIEW_NONE: not drawn), height rows
 * tall and at most width columns wide. Oldest point on the left. */
void chart_print(FILE *out, const struct chart_point *pts, size_t n, uint64_t memory_high, uint64_t memory_max,
		 int width, int height);

/* Human figures: bytes (1.5G), a duration in ms (2m05s). */
void view_bytes(uint64_t b, char *buf, size_t len);
void view_duration(int64_t ms, char *buf, size_t len);
