/* guardctl-view.c: top's rows, their order and lines, and explain's chart:
 * pure functions of the daemon's answers, unit-tested in test_view. */
#include "guardctl-view.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static struct json_object *get(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static const char *str(struct json_object *o, const char *key, const char *dflt)
{
	struct json_object *v = get(o, key);

	return v ? json_object_get_string(v) : dflt;
}

/* A byte count, or VIEW_NONE for "max", null or missing. */
static uint64_t bytes_of(struct json_object *v)
{
	return v && json_object_is_type(v, json_type_int) ? json_object_get_uint64(v) : VIEW_NONE;
}

void view_bytes(uint64_t b, char *buf, size_t len)
{
	static const char units[] = "BKMGT";
	double x = (double)b;
	int u = 0;

	if (b == VIEW_NONE) {
		snprintf(buf, len, "-");
		return;
	}
	while (x >= 1024 && u < 4) {
		x /= 1024;
		u++;
	}
	snprintf(buf, len, u ? "%.1f%c" : "%.0f%c", x, units[u]);
}

void view_duration(int64_t ms, char *buf, size_t len)
{
	int64_t s = ms / 1000;

	if (ms < 0)
		snprintf(buf, len, "-");
	else if (ms < 10000)
		snprintf(buf, len, "%.1fs", (double)ms / 1000);
	else if (s < 60)
		snprintf(buf, len, "%" PRId64 "s", s);
	else if (s < 3600)
		snprintf(buf, len, "%" PRId64 "m%02" PRId64 "s", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, len, "%" PRId64 "h%02" PRId64 "m", s / 3600, s % 3600 / 60);
	else
		snprintf(buf, len, "%" PRId64 "d%02" PRId64 "h", s / 86400, s % 86400 / 3600);
}

static void row_name(struct json_object *s, char *buf, size_t len)
{
	struct json_object *k = get(s, "kubernetes");

	if (k && get(k, "pod"))
		snprintf(buf, len, "%s/%s%s%s", str(k, "namespace", "?"), str(k, "pod", "?"),
			 get(k, "container") ? "/" : "", str(k, "container", ""));
	else
		snprintf(buf, len, "%s", str(s, "name", "?"));
}

static void row_last(struct json_object *s, char *buf, size_t len)
{
	struct json_object *l = get(s, "last_action");
	const char *verdict;
	char ago[24];

	if (!l) {
		snprintf(buf, len, "-");
		return;
	}
	verdict = str(l, "verdict", "act");
	view_duration(json_object_get_int64(get(l, "ago_ms")), ago, sizeof(ago));
	snprintf(buf, len, "%s%s%s%s %s ago", str(l, "action", "?"),
		 json_object_get_boolean(get(l, "undo")) ? " undone" : "", strcmp(verdict, "act") ? " " : "",
		 strcmp(verdict, "act") ? verdict : "", ago);
}

int top_rows_from_status(struct json_object *status, struct top_row **ret, size_t *ret_n)
{
	struct json_object *arr = get(status, "services");
	size_t n = arr && json_object_is_type(arr, json_type_array) ? json_object_array_length(arr) : 0;
	struct top_row *v = calloc(n ? n : 1, sizeof(*v));

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct json_object *s = json_object_array_get_idx(arr, i), *t = get(s, "time_to_max_ms");
		struct top_row *r = &v[i];

		row_name(s, r->name, sizeof(r->name));
		snprintf(r->state, sizeof(r->state), "%s", str(s, "state", "?"));
		r->working_set = bytes_of(get(s, "working_set"));
		r->memory_max = bytes_of(get(s, "memory_max"));
		r->has_growth = get(s, "growth_bps") != NULL;
		r->growth_bps = json_object_get_double(get(s, "growth_bps"));
		r->time_to_max_ms = t ? json_object_get_int64(t) : -1;
		r->psi_some = json_object_get_double(get(s, "psi_some_avg10"));
		row_last(s, r->last, sizeof(r->last));
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

/* The share of memory.max in use, -1 without a memory.max. */
static double fill(const struct top_row *r)
{
	if (r->memory_max == VIEW_NONE || r->memory_max == 0 || r->working_set == VIEW_NONE)
		return -1;
	return (double)r->working_set / (double)r->memory_max;
}

static int row_cmp(const void *a, const void *b)
{
	const struct top_row *x = a, *y = b;
	double fx = fill(x), fy = fill(y);
	uint64_t wx = x->working_set == VIEW_NONE ? 0 : x->working_set,
		 wy = y->working_set == VIEW_NONE ? 0 : y->working_set;

	if ((x->time_to_max_ms >= 0) != (y->time_to_max_ms >= 0))
		return x->time_to_max_ms >= 0 ? -1 : 1;
	if (x->time_to_max_ms >= 0 && x->time_to_max_ms != y->time_to_max_ms)
		return x->time_to_max_ms < y->time_to_max_ms ? -1 : 1;
	if (fx != fy)
		return fx > fy ? -1 : 1;
	if (wx != wy)
		return wx > wy ? -1 : 1;
	return strcmp(x->name, y->name);
}

void top_sort(struct top_row *v, size_t n)
{
	if (n > 1)
		qsort(v, n, sizeof(*v), row_cmp);
}

/* The columns after the name: state, working set, max, growth, time to
 * max, PSI, last action. */
#define TOP_FIXED_W (1 + 8 + 1 + 7 + 1 + 7 + 1 + 9 + 1 + 8 + 1 + 5 + 1)
#define TOP_NAME_MIN 8

static void print_line(FILE *out, const char *line, int width)
{
	if (width > 0)
		fprintf(out, "%.*s\n", width, line);
	else
		fprintf(out, "%s\n", line);
}

void top_print(FILE *out, const struct top_row *v, size_t n, int width, size_t max_rows)
{
	int w = 7; /* "SERVICE" */
	char line[512];

	for (size_t i = 0; i < n; i++) {
		int len = (int)strlen(v[i].name);

		if (len > w)
			w = len;
	}
	if (width > 0 && w > width - TOP_FIXED_W - 16)
		w = width - TOP_FIXED_W - 16 > TOP_NAME_MIN ? width - TOP_FIXED_W - 16 : TOP_NAME_MIN;
	if (w > 200)
		w = 200;
	snprintf(line, sizeof(line), "%-*s %-8s %7s %7s %9s %8s %5s %s", w, "SERVICE", "STATE", "WSET", "MAX",
		 "GROWTH", "TO-MAX", "PSI%", "LAST ACTION");
	print_line(out, line, width);
	for (size_t i = 0; i < n && (!max_rows || i < max_rows); i++) {
		const struct top_row *r = &v[i];
		char ws[16], mx[16], g[24], ttm[24], name[208];
		size_t len = strlen(r->name);

		view_bytes(r->working_set, ws, sizeof(ws));
		view_bytes(r->memory_max, mx, sizeof(mx));
		if (!r->has_growth)
			snprintf(g, sizeof(g), "-");
		else {
			char b[16];

			view_bytes((uint64_t)(r->growth_bps < 0 ? -r->growth_bps : r->growth_bps), b, sizeof(b));
			snprintf(g, sizeof(g), "%s%s/s", r->growth_bps < 0 ? "-" : "+", b);
		}
		view_duration(r->time_to_max_ms, ttm, sizeof(ttm));
		/* A name too long for its column keeps its end (the pod and
		 * container), marked with '~' where it was cut. */
		if ((int)len > w)
			snprintf(name, sizeof(name), "~%s", r->name + len - (size_t)w + 1);
		else
			snprintf(name, sizeof(name), "%s", r->name);
		snprintf(line, sizeof(line), "%-*s %-8s %7s %7s %9s %8s %5.1f %s", w, name, r->state, ws, mx, g, ttm,
			 r->psi_some, r->last);
		print_line(out, line, width);
	}
}

/* --- the chart ---------------------------------------------------------- */

#define CHART_LABEL_W 9 /* "  256.0M |" less the bar */

static int level_of(uint64_t v, uint64_t top, int height)
{
	double l = (double)v / (double)top * height;

	return l >= height ? height : (int)(l + 0.5);
}

void chart_print(FILE *out, const struct chart_point *pts, size_t n, uint64_t memory_high, uint64_t memory_max,
		 int width, int height)
{
	uint64_t top = 0;
	int plot_w, per, cols, lmax, lhigh, pad, *lv;
	char lab[16], ago[32];

	if (n == 0 || height < 2) {
		fprintf(out, "  (no samples yet)\n");
		return;
	}
	for (size_t i = 0; i < n; i++)
		if (pts[i].working_set > top)
			top = pts[i].working_set;
	if (memory_high != VIEW_NONE && memory_high > top)
		top = memory_high;
	if (memory_max != VIEW_NONE && memory_max > top)
		top = memory_max;
	else if (memory_max == VIEW_NONE)
		top += top / 4; /* no ceiling: some room above the highest point */
	if (top == 0)
		top = 1;
	/* The plot: one column per point, stretched up to 4 wide when there
	 * are few, the newest kept when there are more than fit. */
	plot_w = width - CHART_LABEL_W - 2 - 18;
	if (plot_w < 10)
		plot_w = 10;
	if ((size_t)plot_w < n) {
		pts += n - (size_t)plot_w;
		n = (size_t)plot_w;
	}
	per = plot_w / (int)n;
	per = per < 1 ? 1 : per > 4 ? 4 : per;
	cols = per * (int)n;
	lv = calloc(n, sizeof(*lv));
	if (!lv)
		return;
	for (size_t i = 0; i < n; i++)
		lv[i] = level_of(pts[i].working_set, top, height);
	lmax = memory_max == VIEW_NONE ? -1 : level_of(memory_max, top, height);
	lhigh = memory_high == VIEW_NONE || memory_high >= memory_max ? -1 : level_of(memory_high, top, height);
	if (lhigh == lmax)
		lhigh = -1; /* one row for both: memory.max is the one that kills */
	for (int l = height; l >= 1; l--) {
		char fillc = l == lmax ? '=' : l == lhigh ? '-' : ' ';

		view_bytes((uint64_t)((double)top * l / height), lab, sizeof(lab));
		fprintf(out, "%*s |", CHART_LABEL_W - 2, lab);
		for (int c = 0; c < cols; c++)
			fputc(lv[c / per] >= l ? '#' : fillc, out);
		if (l == lmax) {
			view_bytes(memory_max, lab, sizeof(lab));
			fprintf(out, " memory.max %s", lab);
		} else if (l == lhigh) {
			view_bytes(memory_high, lab, sizeof(lab));
			fprintf(out, " memory.high %s", lab);
		}
		fputc('\n', out);
	}
	fprintf(out, "%*s +", CHART_LABEL_W - 2, "0");
	for (int c = 0; c < cols; c++)
		fputc('-', out);
	view_duration(pts[0].ago_ms, ago, sizeof(ago));
	strcat(ago, " ago");
	pad = cols - (int)strlen(ago) - 3;
	fprintf(out, "\n%*s  %s%*s%s\n", CHART_LABEL_W - 2, "", ago, pad > 1 ? pad : 1, "", "now");
	free(lv);
}
