/* guardctl-explain.c: `guardctl explain SERVICE`: the pressure engine's view
 * of one service: live signals, every rule and how close it is, the
 * default guard's ladder and what guardian would do next. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "guardctl.h"
#include "guardctl-view.h"

static struct json_object *get(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	return json_object_object_get_ex(o, key, &v) ? v : NULL;
}

/* Bytes as MiB, "max", or "-" when unknown. */
static void bytes(char *buf, size_t len, struct json_object *v)
{
	if (!v)
		snprintf(buf, len, "-");
	else if (json_object_is_type(v, json_type_string))
		snprintf(buf, len, "%s", json_object_get_string(v));
	else
		snprintf(buf, len, "%.1f MiB", json_object_get_double(v) / 1048576.0);
}

/* A value in its metric's unit, as a human reads it. */
static void in_unit(char *buf, size_t len, const char *unit, struct json_object *v)
{
	double x = v ? json_object_get_double(v) : NAN;

	if (!v)
		snprintf(buf, len, "-");
	else if (strcmp(unit, "bytes") == 0)
		snprintf(buf, len, "%.1f MiB", x / 1048576.0);
	else if (strcmp(unit, "percent") == 0)
		snprintf(buf, len, "%.1f%%", x);
	else if (strcmp(unit, "usec") == 0)
		snprintf(buf, len, "%.1fs", x / 1e6);
	else
		snprintf(buf, len, "%g", x);
}

static void print_pressure(struct json_object *r)
{
	struct json_object *ev = get(r, "memory_events_since_start"), *g = get(r, "growth_bps"),
			   *t = get(r, "time_to_max_ms");
	char ws[32], cur[32], max[32], high[32];

	bytes(ws, sizeof(ws), get(r, "working_set"));
	bytes(cur, sizeof(cur), get(r, "memory_current"));
	bytes(max, sizeof(max), get(r, "memory_max"));
	bytes(high, sizeof(high), get(r, "memory_high"));
	printf("working set:   %s (memory.current %s, memory.high %s, memory.max %s)\n", ws, cur, high, max);
	if (g)
		printf("growth:        %.2f MiB/s\n", json_object_get_double(g) / 1048576.0);
	else
		printf("growth:        - (too few samples)\n");
	if (t)
		printf("time to max:   %.1fs\n", json_object_get_double(t) / 1000.0);
	else
		printf("time to max:   - (not growing, or no memory.max)\n");
	printf("PSI avg10:     some %.2f%%, full %.2f%% (trigger %s)\n",
	       json_object_get_double(get(r, "psi_some_avg10")), json_object_get_double(get(r, "psi_full_avg10")),
	       get_str(r, "psi_trigger", "not armed"));
	if (ev)
		printf("memory.events: high +%s, max +%s, oom +%s, oom_kill +%s since monitoring began\n",
		       get_str(ev, "high", "0"), get_str(ev, "max", "0"), get_str(ev, "oom", "0"),
		       get_str(ev, "oom_kill", "0"));
	printf("sampling:      every %s ms (%s samples)\n", get_str(r, "interval_ms", "-"), get_str(r, "samples", "0"));
}

static uint64_t limit_of(struct json_object *v)
{
	return v && json_object_is_type(v, json_type_int) ? json_object_get_uint64(v) : VIEW_NONE;
}

/* The working set's last minutes (the daemon keeps ten) against
 * memory.high and memory.max, as wide as the terminal (80 off one). */
static void print_chart(struct json_object *r)
{
	struct json_object *h = get(r, "history"), *pts = h ? get(h, "points") : NULL;
	size_t n = pts ? json_object_array_length(pts) : 0;
	struct chart_point *v = calloc(n ? n : 1, sizeof(*v));
	struct winsize ws;
	int width = 80;
	char step[24];

	if (!h || !v) {
		free(v);
		return;
	}
	if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col)
		width = ws.ws_col;
	for (size_t i = 0; i < n; i++) {
		struct json_object *p = json_object_array_get_idx(pts, i);

		v[i] = (struct chart_point){ .ago_ms = json_object_get_int64(get(p, "ago_ms")),
					     .working_set = json_object_get_uint64(get(p, "working_set")) };
	}
	view_duration(json_object_get_int64(get(h, "step_ms")), step, sizeof(step));
	printf("working set, one point per %s:\n", step);
	chart_print(stdout, v, n, limit_of(get(r, "memory_high")), limit_of(get(r, "memory_max")), width, 10);
	free(v);
}

static void print_rule(struct json_object *rule)
{
	const char *unit = get_str(rule, "unit", "");
	bool armed = json_object_get_boolean(get(rule, "armed"));
	char val[32], thr[32], hold[64];

	in_unit(val, sizeof(val), unit, get(rule, "value"));
	in_unit(thr, sizeof(thr), unit, get(rule, "threshold"));
	if (get(rule, "samples"))
		snprintf(hold, sizeof(hold), "%s of the last %s samples (need %s)", get_str(rule, "count", "0"),
			 get_str(rule, "of", "?"), get_str(rule, "samples", "?"));
	else
		snprintf(hold, sizeof(hold), "held %.1fs of %.1fs", json_object_get_double(get(rule, "held_ms")) / 1000.0,
			 json_object_get_double(get(rule, "for_ms")) / 1000.0);
	printf("  %-16s %s %s %s: now %s, %s; %s -> %s\n", get_str(rule, "name", "?"), get_str(rule, "metric", "?"),
	       get_str(rule, "op", "?"), thr, val, armed ? "ARMED" : "not armed", hold, get_str(rule, "action", "?"));
}

static void print_ladder(struct json_object *l, bool has_rules)
{
	if (!l)
		return;
	if (!json_object_get_boolean(get(l, "active"))) {
		printf("default guard: off (%s)\n", has_rules ? "the policy has rules" : "no memory.max");
		return;
	}
	printf("default guard: step %s, %s\n", get_str(l, "step", "?"),
	       json_object_get_boolean(get(l, "triggered")) ? "TRIGGERED" : "calm");
	if (get(l, "why"))
		printf("  why:  %s\n", get_str(l, "why", ""));
	if (json_object_get_boolean(get(l, "throttled")))
		printf("  throttled: memory.high lowered to %.1f MiB\n",
		       json_object_get_double(get(l, "throttle_memory_high")) / 1048576.0);
	if (get(l, "next_step"))
		printf("  next: %s in %.1fs if still triggered and the current step does not help\n",
		       get_str(l, "next_step", "?"), json_object_get_double(get(l, "next_in_ms")) / 1000.0);
	else
		printf("  next: nothing while the working set stays clear of memory.max\n");
}

static void print_explain(struct json_object *r)
{
	struct json_object *rules = get(r, "rules"), *last = get(r, "last_decision"), *k;
	size_t n = rules ? json_object_array_length(rules) : 0;

	printf("%s: %s%s%s\n", get_str(r, "service", "?"), get_str(r, "state", "?"),
	       json_object_get_boolean(get(r, "dry_run")) ? ", dry run (decisions recorded, nothing changed)" : "",
	       json_object_get_boolean(get(r, "protected")) ? ", protected" : "");
	if ((k = get(r, "kubernetes")))
		printf("pod:           %s/%s, container %s (id %.12s), %s; names from %s%s%s\n", get_str(k, "namespace", "?"),
		       get_str(k, "pod", "?"), get_str(k, "container", "?"), get_str(k, "container_id", "?"),
		       get_str(k, "qos", "?"), get_str(k, "names_from", "?"), get(k, "annotations_applied") ? "; " : "",
		       get_str(k, "annotations_applied", ""));
	if (!json_object_get_boolean(get(r, "monitoring"))) {
		printf("not monitored (the engine runs while the service is running)\n");
		return;
	}
	print_pressure(r);
	print_chart(r);
	printf("rules:%s\n", n ? "" : " none");
	for (size_t i = 0; i < n; i++)
		print_rule(json_object_array_get_idx(rules, i));
	print_ladder(get(r, "ladder"), n > 0);
	if (last)
		printf("last decision: %s by %s (%s): %s\n", get_str(last, "action", "?"), get_str(last, "rule", "?"),
		       get_str(last, "verdict", "?"), get_str(last, "reason", ""));
}

int cmd_explain(const char *socket_path, int argc, char **argv)
{
	struct json_object *reply = NULL;
	const char *service = NULL;
	bool json = false;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = true;
		else if (argv[i][0] == '-' || service) {
			fprintf(stderr, "guardctl explain: unexpected argument '%s'\n", argv[i]);
			return 2;
		} else
			service = argv[i];
	}
	if (!service) {
		fprintf(stderr, "guardctl explain: needs a SERVICE\n");
		return 2;
	}
	if (request(socket_path, "explain", service, &reply) < 0)
		return 1;
	if (!json_object_get_boolean(get(reply, "ok"))) {
		fprintf(stderr, "guardctl explain: %s\n", get_str(reply, "error", "failed"));
		json_object_put(reply);
		return 1;
	}
	if (json)
		printf("%s\n", json_object_to_json_string_ext(reply, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED));
	else
		print_explain(reply);
	json_object_put(reply);
	return 0;
}
