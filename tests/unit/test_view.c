/* test_view.c: what `guardctl top` and `guardctl explain` draw: top's rows
 * from a status answer, soonest to memory.max first, pods by their names;
 * explain's chart of a growing working set under memory.max. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "guardctl-view.h"

#define MB ((uint64_t)1 << 20)

static struct top_row row(const char *name, uint64_t ws_mb, uint64_t max_mb, int64_t ttm_ms)
{
	struct top_row r = { .working_set = ws_mb * MB, .memory_max = max_mb ? max_mb * MB : VIEW_NONE,
			     .time_to_max_ms = ttm_ms };

	snprintf(r.name, sizeof(r.name), "%s", name);
	snprintf(r.state, sizeof(r.state), "running");
	snprintf(r.last, sizeof(r.last), "-");
	return r;
}

static void soonest_to_memory_max_first(void **state)
{
	/* Whatever order they come in: those growing toward memory.max by
	 * time left, then the rest by their share of memory.max, then those
	 * without one by working set. */
	struct top_row v[] = {
		row("calm-small", 10, 100, -1), row("slow", 50, 256, 90000), row("nolimit", 500, 0, -1),
		row("fast", 20, 256, 4000), row("calm-full", 90, 100, -1), row("nolimit-small", 5, 0, -1),
	};
	const char *want[] = { "fast", "slow", "calm-full", "calm-small", "nolimit", "nolimit-small" };

	(void)state;
	top_sort(v, 6);
	for (size_t i = 0; i < 6; i++)
		assert_string_equal(v[i].name, want[i]);
}

static char *printed_top(const struct top_row *v, size_t n, int width)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	top_print(f, v, n, width, 0);
	fclose(f);
	return buf;
}

static void rows_from_status_with_pods_and_last_action(void **state)
{
	struct json_object *st = json_tokener_parse(
		"{\"ok\":true,\"services\":["
		"{\"name\":\"web\",\"state\":\"running\",\"working_set\":104857600,\"memory_max\":\"max\","
		" \"growth_bps\":null,\"time_to_max_ms\":null,\"psi_some_avg10\":1.5,\"last_action\":null},"
		"{\"name\":\"kubepods.slice/x\",\"state\":\"running\",\"working_set\":209715200,"
		" \"memory_max\":268435456,\"growth_bps\":2097152,\"time_to_max_ms\":28000,\"psi_some_avg10\":0,"
		" \"kubernetes\":{\"namespace\":\"shop\",\"pod\":\"cart-7d9\",\"container\":\"app\"},"
		" \"last_action\":{\"action\":\"restart\",\"verdict\":\"dry-run\",\"undo\":false,\"ago_ms\":12000}}]}");
	struct top_row *v = NULL;
	size_t n = 0;
	char *out;

	(void)state;
	assert_non_null(st);
	assert_int_equal(top_rows_from_status(st, &v, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(v[0].name, "web");
	assert_true(v[0].memory_max == VIEW_NONE);
	assert_int_equal(v[0].time_to_max_ms, -1);
	assert_false(v[0].has_growth);
	assert_string_equal(v[0].last, "-");
	assert_string_equal(v[1].name, "shop/cart-7d9/app");
	assert_int_equal(v[1].time_to_max_ms, 28000);
	assert_string_equal(v[1].last, "restart dry-run 12s ago");
	top_sort(v, n);
	assert_string_equal(v[0].name, "shop/cart-7d9/app");
	out = printed_top(v, n, 0);
	/* header, then the pod first with its figures */
	assert_non_null(strstr(out, "SERVICE"));
	assert_non_null(strstr(out, "TO-MAX"));
	assert_true(strstr(out, "shop/cart-7d9/app") < strstr(out, "web"));
	assert_non_null(strstr(out, "200.0M"));
	assert_non_null(strstr(out, "+2.0M/s"));
	assert_non_null(strstr(out, "28s"));
	assert_non_null(strstr(out, "restart dry-run 12s ago"));
	free(out);
	free(v);
	json_object_put(st);
}

static void narrow_terminal_cuts_lines_and_keeps_the_names_end(void **state)
{
	struct top_row v[] = { row("kube/a-very-long-namespace/a-very-long-pod-name-12345/container", 10, 100, 5000) };
	char *out, *line;

	(void)state;
	out = printed_top(v, 1, 100);
	for (line = strtok(out, "\n"); line; line = strtok(NULL, "\n"))
		assert_true(strlen(line) <= 100);
	free(out);
	out = printed_top(v, 1, 100);
	assert_non_null(strstr(out, "~"));
	assert_non_null(strstr(out, "container"));
	free(out);
}

static char *printed_chart(const struct chart_point *p, size_t n, uint64_t high, uint64_t max)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	chart_print(f, p, n, high, max, 80, 10);
	fclose(f);
	return buf;
}

/* The chart's rows, top first (the plot part of each, after '|'). */
static size_t chart_rows(char *out, char **rows, size_t max)
{
	size_t n = 0;

	for (char *line = strtok(out, "\n"); line && n < max; line = strtok(NULL, "\n")) {
		char *bar = strchr(line, '|');

		if (bar)
			rows[n++] = bar + 1;
	}
	return n;
}

static void chart_shows_a_leak_under_memory_max(void **state)
{
	struct chart_point p[8];
	char *out, *rows[16];
	size_t n, max_row = 99, high_row = 99;
	int prev = -1;

	(void)state;
	for (int i = 0; i < 8; i++)
		p[i] = (struct chart_point){ .ago_ms = (7 - i) * 5000, .working_set = (uint64_t)(20 + 20 * i) * MB };
	out = printed_chart(p, 8, 200 * MB, 256 * MB);
	assert_non_null(strstr(out, "memory.max 256.0M"));
	assert_non_null(strstr(out, "memory.high 200.0M"));
	assert_non_null(strstr(out, "35s ago"));
	assert_non_null(strstr(out, "now"));
	n = chart_rows(out, rows, 16);
	assert_int_equal(n, 10);
	for (size_t i = 0; i < n; i++) {
		if (strchr(rows[i], '='))
			max_row = i;
		if (strchr(rows[i], '-') && !strstr(rows[i], "memory.max"))
			high_row = i;
	}
	assert_int_equal(max_row, 0);     /* memory.max is the chart's ceiling */
	assert_true(high_row > max_row && high_row < n);
	/* Every '#' below the memory.max row, and each column's bar at least
	 * as tall as the one before it: the leak, under its limit. */
	assert_null(strchr(rows[max_row], '#'));
	for (size_t c = 0; rows[n - 1][c] == '#' || rows[n - 1][c] == ' '; c++) {
		int h = 0;

		for (size_t i = 0; i < n; i++)
			if (rows[i][c] == '#')
				h = (int)(n - i) > h ? (int)(n - i) : h;
		assert_true(h >= prev);
		prev = h;
	}
	assert_true(prev >= 6); /* the last point, 160 of 256 MiB */
	free(out);
}

static void chart_without_limits_or_samples(void **state)
{
	struct chart_point p[] = { { 10000, 50 * MB }, { 5000, 60 * MB }, { 0, 70 * MB } };
	char *out;

	(void)state;
	out = printed_chart(p, 3, VIEW_NONE, VIEW_NONE);
	assert_null(strstr(out, "memory.max"));
	assert_null(strchr(out, '='));
	assert_non_null(strchr(out, '#'));
	free(out);
	out = printed_chart(NULL, 0, VIEW_NONE, 256 * MB);
	assert_non_null(strstr(out, "no samples"));
	free(out);
}

static void figures_read_as_people_write_them(void **state)
{
	char b[32];

	(void)state;
	view_bytes(1536 * MB, b, sizeof(b));
	assert_string_equal(b, "1.5G");
	view_bytes(VIEW_NONE, b, sizeof(b));
	assert_string_equal(b, "-");
	view_duration(4200, b, sizeof(b));
	assert_string_equal(b, "4.2s");
	view_duration(125000, b, sizeof(b));
	assert_string_equal(b, "2m05s");
	view_duration(-1, b, sizeof(b));
	assert_string_equal(b, "-");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(soonest_to_memory_max_first),
		cmocka_unit_test(rows_from_status_with_pods_and_last_action),
		cmocka_unit_test(narrow_terminal_cuts_lines_and_keeps_the_names_end),
		cmocka_unit_test(chart_shows_a_leak_under_memory_max),
		cmocka_unit_test(chart_without_limits_or_samples),
		cmocka_unit_test(figures_read_as_people_write_them),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
