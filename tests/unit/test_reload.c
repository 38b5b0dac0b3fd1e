/* test_reload.c: policy_diff(), the pure half of reload: which part of a
 * service a changed policy touches. Limits and oom_score_adj apply to the
 * running service, rules and health checks are swapped in place, and only
 * what a new process would see (command, user/group, working_directory,
 * environment/rlimits, output) restarts it. Policies are written as YAML,
 * as a user edits them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>

#include "policy.h"

/* One line per key, so a test can change exactly one of them. */
static const char base_yaml[] =
	"service: web\n"
	"command: [\"/usr/local/bin/webapp\", \"--listen\", \"127.0.0.1:8080\"]\n"
	"user: www-data\n"
	"group: www-data\n"
	"working_directory: /srv/app\n"
	"environment: {PORT: \"8080\", APP_ENV: production}\n"
	"rlimits: {nofile: 1024, core: 0}\n"
	"limits: {memory_high: 768M, memory_max: 1G, cpu_max: 50%, cpu_weight: 200, pids_max: 100}\n"
	"oom_score_adj: 100\n"
	"output: {file: /var/log/guardian/web.log, max_size: 10M, keep: 5}\n"
	"stop: {signal: TERM, timeout: 10s}\n"
	"restart: {mode: on-failure, delay: 1s}\n"
	"priority: 10\n"
	"health:\n"
	"  - http: {url: \"http://127.0.0.1:8080/health\", contains: \"ok\"}\n"
	"    every: 10s\n"
	"    failures: 3\n"
	"    action: restart\n"
	"rules:\n"
	"  - name: leak\n"
	"    when: {metric: working_set, above: 900M, for: 30s}\n"
	"    action: restart\n";

static struct policy *load_text(const char *text)
{
	struct diag d = { 0 };
	struct policy *p = NULL;
	int r = policy_load_buffer("web.yaml", text, strlen(text), &p, &d);

	for (size_t i = 0; i < d.n; i++)
		print_message("  %s\n", d.msgs[i]);
	diag_free(&d);
	assert_int_equal(r, 0);
	assert_non_null(p);
	return p;
}

/* The base policy with `from` (which must occur exactly once) replaced. */
static struct policy *load_edited(const char *from, const char *to)
{
	const char *at = strstr(base_yaml, from);
	char *text;
	struct policy *p;

	assert_non_null(at);
	assert_null(strstr(at + 1, from));
	assert_true(asprintf(&text, "%.*s%s%s", (int)(at - base_yaml), base_yaml, to, at + strlen(from)) > 0);
	p = load_text(text);
	free(text);
	return p;
}

struct want {
	bool limits, oom_score_adj, rules, pressure, sampling, health;
	const char *process;
};

static void assert_diff_is(const struct policy *a, const struct policy *b, struct want w)
{
	struct policy_diff d;

	/* Memset so a field policy_diff forgot to fill shows up. */
	memset(&d, 0xa5, sizeof(d));
	policy_diff(a, b, &d);
	assert_int_equal(d.limits, w.limits);
	assert_int_equal(d.oom_score_adj, w.oom_score_adj);
	assert_int_equal(d.rules, w.rules);
	assert_int_equal(d.pressure, w.pressure);
	assert_int_equal(d.sampling, w.sampling);
	assert_int_equal(d.health, w.health);
	if (w.process)
		assert_string_equal(d.process, w.process);
	else
		assert_null(d.process);
}

/* The edit from -> to, applied one way and undone the other: both say the same. */
static void expect_edit(const char *from, const char *to, struct want w)
{
	struct policy *a = load_text(base_yaml), *b = load_edited(from, to);

	assert_diff_is(a, b, w);
	assert_diff_is(b, a, w);
	policy_free(a);
	policy_free(b);
}

static void test_identical_policies_differ_in_nothing(void **state)
{
	struct policy *a = load_text(base_yaml), *b = load_text(base_yaml);

	assert_diff_is(a, b, (struct want){ 0 });
	assert_diff_is(a, a, (struct want){ 0 });
	policy_free(a);
	policy_free(b);
}

static void test_moved_lines_and_comments_differ_in_nothing(void **state)
{
	/* Rules and checks remember their line for records; moving them
	 * down the file changes nothing a service sees. */
	expect_edit("service: web\n", "# a comment\n\n\nservice: web\n", (struct want){ 0 });
}

static void test_changed_memory_max_is_limits_only_without_restart(void **state)
{
	expect_edit("memory_max: 1G", "memory_max: 2G", (struct want){ .limits = true });
}

static void test_every_changed_limit_is_limits_only_without_restart(void **state)
{
	static const char *const edits[][2] = {
		{ "memory_high: 768M", "memory_high: 700M" },
		{ "memory_high: 768M, ", "" },               /* set -> unset */
		{ "memory_max: 1G", "memory_max: max" },
		{ "cpu_max: 50%", "cpu_max: 150%" },
		{ "cpu_weight: 200", "cpu_weight: 100" },
		{ "pids_max: 100", "pids_max: 101" },
		{ "pids_max: 100}", "pids_max: 100, memory_low: 64M}" },   /* unset -> set */
		{ "pids_max: 100}", "pids_max: 100, memory_min: 32M}" },
		{ "pids_max: 100}", "pids_max: 100, memory_swap_max: 0}" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(edits); i++) {
		print_message("  %s -> %s\n", edits[i][0], edits[i][1]);
		expect_edit(edits[i][0], edits[i][1], (struct want){ .limits = true });
	}
}

static void test_changed_oom_score_adj_is_oom_score_adj_only_without_restart(void **state)
{
	expect_edit("oom_score_adj: 100", "oom_score_adj: 200", (struct want){ .oom_score_adj = true });
	/* Removed: the kernel's default comes back, which is a change too. */
	expect_edit("oom_score_adj: 100\n", "", (struct want){ .oom_score_adj = true });
}

static void test_oom_score_adj_of_zero_differs_from_none(void **state)
{
	/* 0 written out is applied; no value leaves the processes alone. */
	struct policy *none = load_edited("oom_score_adj: 100\n", ""),
		      *zero = load_edited("oom_score_adj: 100", "oom_score_adj: 0");

	assert_diff_is(none, zero, (struct want){ .oom_score_adj = true });
	assert_diff_is(zero, none, (struct want){ .oom_score_adj = true });
	policy_free(none);
	policy_free(zero);
}

static void test_changed_command_restarts_for_command(void **state)
{
	struct want w = { .process = "command" };

	expect_edit("\"127.0.0.1:8080\"]", "\"127.0.0.1:8081\"]", w);          /* an argument */
	expect_edit("\"/usr/local/bin/webapp\"", "\"/opt/webapp\"", w);        /* the program */
	expect_edit(", \"127.0.0.1:8080\"]", "]", w);                          /* one argument fewer */
	expect_edit("command: [\"/usr/local/bin/webapp\", \"--listen\", \"127.0.0.1:8080\"]",
		    "command: \"/usr/local/bin/webapp --listen 127.0.0.1:8080\"", w); /* sh -c */
}

static void test_changed_user_or_group_restarts_for_user_group(void **state)
{
	struct want w = { .process = "user/group" };

	expect_edit("user: www-data", "user: nobody", w);
	expect_edit("group: www-data", "group: nogroup", w);
	expect_edit("group: www-data\n", "", w); /* back to the user's primary group */
}

static void test_changed_environment_or_rlimits_restarts_for_environment_rlimits(void **state)
{
	struct want w = { .process = "environment/rlimits" };

	expect_edit("PORT: \"8080\"", "PORT: \"8081\"", w);                        /* a value */
	expect_edit("APP_ENV: production}", "APP_ENV: production, DEBUG: \"1\"}", w); /* one more */
	expect_edit("APP_ENV: production", "APP_MODE: production", w);             /* a name */
	expect_edit("nofile: 1024", "nofile: 4096", w);
	expect_edit("nofile: 1024", "nofile: {soft: 1024, hard: 4096}", w);
	expect_edit("rlimits: {nofile: 1024, core: 0}\n", "rlimits: {nofile: 1024}\n", w);
}

static void test_changed_working_directory_restarts_for_working_directory(void **state)
{
	struct want w = { .process = "working_directory" };

	expect_edit("working_directory: /srv/app", "working_directory: /srv/app2", w);
	expect_edit("working_directory: /srv/app\n", "", w);
}

static void test_changed_output_restarts_for_output(void **state)
{
	struct want w = { .process = "output" };

	expect_edit("file: /var/log/guardian/web.log", "file: /var/log/web.log", w);
	expect_edit("file: /var/log/guardian/web.log", "file: inherit", w);
	expect_edit("file: /var/log/guardian/web.log", "file: null", w);

	/* inherit -> null: no file either side, the mode alone differs. */
	struct policy *inherit = load_edited("file: /var/log/guardian/web.log", "file: inherit"),
		      *null = load_edited("file: /var/log/guardian/web.log", "file: null");

	assert_diff_is(inherit, null, w);
	policy_free(inherit);
	policy_free(null);
}

static void test_changed_sampling_or_pressure_trigger_is_that_only_without_restart(void **state)
{
	/* (and no_new_privileges is the process's: a restart) */
	expect_edit("priority: 10\n", "priority: 10\nno_new_privileges: false\n",
		    (struct want){ .process = "no_new_privileges" });
	expect_edit("priority: 10\n", "priority: 10\nsample_interval: 250ms\n", (struct want){ .sampling = true });
	expect_edit("priority: 10\n", "priority: 10\npressure: {full: 5%, window: 2s}\n", (struct want){ .pressure = true });
	expect_edit("priority: 10\n", "priority: 10\npressure: {some: 15%, window: 2s}\n", (struct want){ .pressure = true });
}

static void test_changed_rule_is_rules_only_without_restart(void **state)
{
	struct want w = { .rules = true };

	expect_edit("above: 900M", "above: 950M", w);
	expect_edit("for: 30s}", "for: 1m}", w);
	expect_edit("for: 30s}", "for: \"3 of 5 samples\"}", w);
	expect_edit("metric: working_set", "metric: memory_current", w);
	expect_edit("above: 900M", "below: 900M", w);
	expect_edit("name: leak", "name: growth", w);
	expect_edit("30s}\n    action: restart\n", "30s}\n    action: throttle\n", w);
	expect_edit("30s}\n    action: restart\n", "30s}\n    action: exec\n    exec: \"logger leak\"\n", w);
	/* A second rule, or none at all. */
	expect_edit("30s}\n    action: restart\n",
		    "30s}\n    action: restart\n  - name: forks\n    when: {metric: pids, above: 90}\n    action: kill\n", w);
	expect_edit("rules:\n  - name: leak\n    when: {metric: working_set, above: 900M, for: 30s}\n"
		    "    action: restart\n", "", w);
}

static void test_changed_health_check_is_health_only_without_restart(void **state)
{
	struct want w = { .health = true };

	expect_edit("8080/health\"", "8080/healthz\"", w);
	expect_edit("contains: \"ok\"", "contains: \"alive\"", w);
	expect_edit(", contains: \"ok\"}", ", status: 204}", w);
	expect_edit("every: 10s", "every: 30s", w);
	expect_edit("failures: 3", "failures: 5", w);
	expect_edit("    action: restart\nrules:", "    action: notify\nrules:", w);
	expect_edit("  - http: {url: \"http://127.0.0.1:8080/health\", contains: \"ok\"}\n",
		    "  - tcp: {port: 8080}\n", w);
	expect_edit("health:\n  - http: {url: \"http://127.0.0.1:8080/health\", contains: \"ok\"}\n"
		    "    every: 10s\n    failures: 3\n    action: restart\n", "", w);
}

static void test_stop_restart_and_priority_settings_need_no_restart(void **state)
{
	/* Read when they are used, from the new policy: nothing to apply. */
	expect_edit("timeout: 10s}", "timeout: 30s}", (struct want){ 0 });
	expect_edit("signal: TERM", "signal: INT", (struct want){ 0 });
	expect_edit("delay: 1s}", "delay: 5s}", (struct want){ 0 });
	expect_edit("priority: 10", "priority: -10", (struct want){ 0 });
	expect_edit("max_size: 10M", "max_size: 20M", (struct want){ 0 }); /* rotation, not the file */
}

static void test_several_changes_are_each_reported_and_command_names_the_restart(void **state)
{
	struct policy *a = load_text(base_yaml), *b, *c;

	/* Two edits against each other: both categories, no restart. */
	b = load_edited("memory_max: 1G", "memory_max: 2G");
	c = load_edited("above: 900M", "above: 950M");
	assert_diff_is(b, c, (struct want){ .limits = true, .rules = true });
	policy_free(b);
	policy_free(c);

	/* Nearly everything at once. */
	b = load_text("service: web\n"
		      "command: [\"/opt/other\"]\n"
		      "user: nobody\n"
		      "limits: {memory_max: 2G}\n"
		      "oom_score_adj: 5\n");
	/* Command and user changed: the restart is named after the command. */
	assert_diff_is(a, b, (struct want){ .limits = true, .oom_score_adj = true, .rules = true,
					    .health = true, .process = "command" });
	policy_free(a);
	policy_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_identical_policies_differ_in_nothing),
		cmocka_unit_test(test_moved_lines_and_comments_differ_in_nothing),
		cmocka_unit_test(test_changed_memory_max_is_limits_only_without_restart),
		cmocka_unit_test(test_every_changed_limit_is_limits_only_without_restart),
		cmocka_unit_test(test_changed_oom_score_adj_is_oom_score_adj_only_without_restart),
		cmocka_unit_test(test_oom_score_adj_of_zero_differs_from_none),
		cmocka_unit_test(test_changed_command_restarts_for_command),
		cmocka_unit_test(test_changed_user_or_group_restarts_for_user_group),
		cmocka_unit_test(test_changed_environment_or_rlimits_restarts_for_environment_rlimits),
		cmocka_unit_test(test_changed_working_directory_restarts_for_working_directory),
		cmocka_unit_test(test_changed_output_restarts_for_output),
		cmocka_unit_test(test_changed_rule_is_rules_only_without_restart),
		cmocka_unit_test(test_changed_sampling_or_pressure_trigger_is_that_only_without_restart),
		cmocka_unit_test(test_changed_health_check_is_health_only_without_restart),
		cmocka_unit_test(test_stop_restart_and_priority_settings_need_no_restart),
		cmocka_unit_test(test_several_changes_are_each_reported_and_command_names_the_restart),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
