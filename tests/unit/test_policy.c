/* test_policy.c: policy loading: the shipped examples load, every key of a
 * full fixture arrives exactly, each bad fixture gives its exact messages,
 * directories, duplicate services and the file-mode rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "policy.h"
#include "tmptree.h"

/* Fixture paths are relative to tests/fixtures/policies so the expected
 * messages read exactly as a user would see them. */
#define MiB (1024ULL * 1024ULL)

static int chdir_fixtures(void **state)
{
	const char *root = getenv("GUARDIAN_FIXTURES");
	char path[4096];

	if (!root)
		return -1;
	snprintf(path, sizeof(path), "%s/policies", root);
	return chdir(path);
}

static void free_diag(struct diag *d) { diag_free(d); }
#define _cleanup_diag_ __attribute__((cleanup(free_diag)))

static void print_diag(const struct diag *d)
{
	for (size_t i = 0; i < d->n; i++)
		print_message("  %s\n", d->msgs[i]);
}

/* Load a bad file and compare every message, in order. */
static void expect_errors(const char *file, const char *const *want, size_t n)
{
	_cleanup_diag_ struct diag d = { 0 };
	struct policy *p = NULL;

	assert_int_equal(policy_load_file(file, &p, &d), -EINVAL);
	assert_null(p);
	if (d.n != n)
		print_diag(&d);
	assert_int_equal(d.n, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(d.msgs[i], want[i]);
}
#define EXPECT_ERRORS(file, ...)                                             \
	do {                                                                 \
		static const char *const _w[] = { __VA_ARGS__ };             \
		expect_errors((file), _w, ARRAY_SIZE(_w));                   \
	} while (0)

static struct policy *load_ok(const char *file)
{
	_cleanup_diag_ struct diag d = { 0 };
	struct policy *p = NULL;
	int r = policy_load_file(file, &p, &d);

	if (r < 0)
		print_diag(&d);
	assert_int_equal(r, 0);
	assert_int_equal(d.n, 0);
	assert_non_null(p);
	return p;
}

static void test_every_shipped_example_policy_loads(void **state)
{
	const char *dir = getenv("GUARDIAN_POLICIES");
	_cleanup_diag_ struct diag d = { 0 };
	struct policy **v = NULL;
	struct dirent *de;
	size_t n = 0, files = 0;
	DIR *dp;

	assert_non_null(dir);
	dp = opendir(dir);
	assert_non_null(dp);
	while ((de = readdir(dp))) {
		char path[4096];
		size_t len = strlen(de->d_name);

		if (len < 6 || strcmp(de->d_name + len - 5, ".yaml") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		policy_free(load_ok(path));
		files++;
	}
	closedir(dp);
	assert_true(files >= 4);
	assert_int_equal(policy_load_dir(dir, &v, &n, &d), 0);
	assert_int_equal(n, files);
	policy_freev(v, n);
}

static void test_example_recorder_is_the_issue_policy(void **state)
{
	char path[4096];
	struct policy *p;

	snprintf(path, sizeof(path), "%s/recorder.yaml", getenv("GUARDIAN_POLICIES"));
	p = load_ok(path);
	assert_string_equal(p->service, "recorder");
	assert_string_equal(p->command[0], "/usr/local/bin/recorder");
	assert_string_equal(p->user, "recorder");
	assert_int_equal(p->n_environment, 1);
	assert_string_equal(p->environment[0].name, "GODEBUG");
	assert_string_equal(p->environment[0].value, "madvdontneed=1");
	assert_int_equal(p->limits.memory_high.value, 1536ULL << 20);
	assert_int_equal(p->limits.memory_max.value, 2ULL << 30);
	assert_true(p->limits.memory_swap_max.set);
	assert_int_equal(p->limits.memory_swap_max.value, 0);
	assert_int_equal(p->limits.cpu_quota_usec, 150000);
	assert_int_equal(p->limits.pids_max.value, 512);
	assert_int_equal(p->oom_score_adj, 300);
	assert_int_equal(p->restart.give_up_restarts, 3);
	assert_int_equal(p->rules[0].metric, METRIC_WORKING_SET);
	assert_int_equal(p->rules[0].action, ACTION_RESTART);
	policy_free(p);
}

static void check_full_process(const struct policy *p)
{
	assert_string_equal(p->path, "good/full.yaml");
	assert_string_equal(p->service, "full@1");
	assert_int_equal(p->service_line, 3);
	assert_int_equal(p->service_col, 10);
	assert_int_equal(strv_length(p->command), 3);
	assert_string_equal(p->command[2], "/var/local/afaudio.db");
	assert_string_equal(p->user, "recorder");
	assert_string_equal(p->group, "audio");
	/* Resolved at load (fakenss.c): recorder is 1001; audio (29) lists it. */
	assert_true(p->cred.set);
	assert_int_equal(p->cred.uid, 1001);
	assert_int_equal(p->cred.gid, 29);
	assert_int_equal(p->cred.n_groups, 1);
	assert_int_equal(p->cred.groups[0], 29);
	assert_string_equal(p->cred.home, "/srv/recorder");
	assert_string_equal(p->working_directory, "/srv/recorder");
	assert_int_equal(p->n_environment, 2);
	assert_string_equal(p->environment[1].name, "_X1");
	assert_string_equal(p->environment[1].value, "two words");
	assert_int_equal(p->n_rlimits, 4);
	assert_int_equal(p->rlimits[0].resource, RLIMIT_NOFILE);
	assert_int_equal(p->rlimits[0].soft, 1024);
	assert_int_equal(p->rlimits[0].hard, 4096);
	assert_int_equal(p->rlimits[1].resource, RLIMIT_CORE);
	assert_int_equal(p->rlimits[1].hard, 0);
	assert_int_equal(p->rlimits[2].resource, RLIMIT_STACK);
	assert_int_equal(p->rlimits[2].soft, 8 << 20);
	assert_int_equal(p->rlimits[2].hard, 8 << 20);
	assert_int_equal(p->rlimits[3].resource, RLIMIT_MEMLOCK);
	assert_true(p->rlimits[3].soft == RLIM_INFINITY && p->rlimits[3].hard == RLIM_INFINITY);
}

static void check_full_limits(const struct policy *p)
{
	assert_true(p->limits.memory_high.set);
	assert_int_equal(p->limits.memory_high.value, 1536ULL << 20);
	assert_int_equal(p->limits.memory_max.value, 2ULL << 30);
	assert_int_equal(p->limits.memory_low.value, 256ULL << 20);
	assert_int_equal(p->limits.memory_min.value, 64ULL << 20);
	assert_true(p->limits.memory_swap_max.set);
	assert_int_equal(p->limits.memory_swap_max.value, 0);
	assert_true(p->limits.cpu_set);
	assert_int_equal(p->limits.cpu_quota_usec, 150000);
	assert_int_equal(p->limits.cpu_period_usec, 100000);
	assert_int_equal(p->limits.cpu_weight, 50);
	assert_int_equal(p->limits.pids_max.value, 512);
	assert_true(p->oom_score_adj_set);
	assert_int_equal(p->oom_score_adj, -300);
	assert_int_equal(p->stop.signal, SIGQUIT);
	assert_int_equal(p->stop.timeout, 90 * USEC_PER_SEC);
	assert_string_equal(p->stop.command[0], "/bin/sh");
	assert_string_equal(p->stop.command[1], "-c");
	assert_string_equal(p->stop.command[2], "/usr/local/bin/recorder --flush");
	assert_null(p->stop.command[3]);
	assert_int_equal(p->restart.mode, RESTART_ALWAYS);
	assert_int_equal(p->restart.delay, 500 * USEC_PER_MSEC);
	assert_int_equal(p->restart.max_delay, 120 * USEC_PER_SEC);
	assert_int_equal(p->restart.stable_after, 3600 * USEC_PER_SEC);
	assert_int_equal(p->restart.give_up_restarts, 3);
	assert_int_equal(p->restart.give_up_within, 300 * USEC_PER_SEC);
	assert_int_equal(p->output.mode, OUTPUT_FILE);
	assert_string_equal(p->output.file, "/var/log/recorder.log");
	assert_int_equal(p->output.max_size, 1572864);
	assert_int_equal(p->output.keep, 7);
	assert_true(p->protected_);
	assert_int_equal(p->priority, -5);
	assert_true(p->dry_run);
	assert_int_equal(p->sample_interval, 250 * USEC_PER_MSEC);
}

static void check_full_health(const struct policy *p)
{
	const struct health_check *h = p->health;

	assert_int_equal(p->n_health, 4);
	assert_int_equal(h[0].kind, HEALTH_HTTP);
	assert_string_equal(h[0].url, "http://127.0.0.1:8080/watchdog_page.html");
	assert_string_equal(h[0].host, "127.0.0.1");
	assert_int_equal(h[0].port, 8080);
	assert_string_equal(h[0].path, "/watchdog_page.html");
	assert_int_equal(h[0].status, 204);
	assert_string_equal(h[0].contains, "still alive");
	assert_int_equal(h[0].every, 10 * USEC_PER_SEC);
	assert_int_equal(h[0].timeout, 2 * USEC_PER_SEC);
	assert_int_equal(h[0].failures, 3);
	assert_int_equal(h[0].action, ACTION_RESTART);
	assert_int_equal(h[0].line, 26);
	assert_int_equal(h[1].kind, HEALTH_TCP);
	assert_string_equal(h[1].host, "127.0.0.1");
	assert_int_equal(h[1].port, 5432);
	assert_int_equal(h[1].every, 60 * USEC_PER_SEC);
	assert_int_equal(h[1].timeout, 5 * USEC_PER_SEC);
	assert_int_equal(h[1].failures, 1);
	assert_int_equal(h[1].action, ACTION_NOTIFY);
	assert_int_equal(h[2].kind, HEALTH_EXEC);
	assert_string_equal(h[2].exec[0], "/usr/local/bin/check");
	assert_string_equal(h[2].exec[1], "--quick");
	assert_null(h[2].exec[2]);
	assert_int_equal(h[2].action, ACTION_STOP);
	assert_int_equal(h[2].every, 10 * USEC_PER_SEC); /* defaults */
	assert_int_equal(h[2].failures, 3);
	assert_string_equal(h[3].host, "::1");
	assert_int_equal(h[3].port, 80);
	assert_string_equal(h[3].path, "/");
	assert_int_equal(h[3].status, 200);
	assert_null(h[3].contains);
}

static void check_full_rules(const struct policy *p)
{
	const struct rule *r = p->rules;

	assert_int_equal(p->n_rules, 6);
	assert_string_equal(r[0].name, "leak");
	assert_int_equal(r[0].metric, METRIC_WORKING_SET);
	assert_false(r[0].below);
	assert_true(r[0].threshold == 1800.0 * 1024 * 1024);
	assert_int_equal(r[0].for_usec, 30 * USEC_PER_SEC);
	assert_int_equal(r[0].samples, 0);
	assert_int_equal(r[0].action, ACTION_RESTART);
	assert_int_equal(r[0].line, 40);
	assert_int_equal(r[1].metric, METRIC_MEMORY_CURRENT);
	assert_true(r[1].threshold == 50.0 * 1024 * 1024 * 1024);
	assert_int_equal(r[1].for_usec, 0);
	assert_int_equal(r[1].samples, 3);
	assert_int_equal(r[1].of, 3);
	assert_int_equal(r[2].metric, METRIC_PSI_SOME_AVG10);
	assert_true(r[2].threshold == 12.5);
	assert_int_equal(r[2].samples, 3);
	assert_int_equal(r[2].of, 5);
	assert_int_equal(r[2].action, ACTION_THROTTLE);
	assert_int_equal(r[3].metric, METRIC_TIME_TO_MAX);
	assert_true(r[3].below);
	assert_true(r[3].threshold == 90.0 * USEC_PER_SEC);
	assert_int_equal(r[3].samples, 1); /* no "for": the first sample */
	assert_int_equal(r[3].of, 1);
	assert_int_equal(r[3].action, ACTION_EXEC);
	assert_string_equal(r[3].exec[2], "logger -t guardian soon full");
	assert_int_equal(r[4].metric, METRIC_MEMORY_EVENTS_HIGH_RATE);
	assert_true(r[4].threshold == 2.5);
	assert_int_equal(r[4].action, ACTION_RECLAIM);
	assert_int_equal(r[5].metric, METRIC_PIDS);
	assert_true(r[5].threshold == 400.0);
	assert_int_equal(r[5].action, ACTION_KILL);
	assert_null(r[5].exec);
}

static void test_full_fixture_every_field_exact(void **state)
{
	struct policy *p = load_ok("good/full.yaml");

	check_full_process(p);
	check_full_limits(p);
	check_full_health(p);
	check_full_rules(p);
	policy_free(p);
}

static void test_minimal_policy_gets_documented_defaults(void **state)
{
	struct policy *p = load_ok("good/minimal.yaml");

	assert_string_equal(p->command[0], "/bin/sh");
	assert_string_equal(p->command[1], "-c");
	assert_string_equal(p->command[2], "sleep infinity");
	assert_null(p->user);
	assert_null(p->working_directory);
	assert_false(p->limits.memory_max.set);
	assert_false(p->limits.cpu_set);
	assert_false(p->oom_score_adj_set);
	assert_int_equal(p->stop.signal, SIGTERM);
	assert_int_equal(p->stop.timeout, 10 * USEC_PER_SEC);
	assert_null(p->stop.command);
	assert_int_equal(p->restart.mode, RESTART_ON_FAILURE);
	assert_int_equal(p->restart.delay, USEC_PER_SEC);
	assert_int_equal(p->restart.max_delay, 300 * USEC_PER_SEC);
	assert_int_equal(p->restart.stable_after, 60 * USEC_PER_SEC);
	assert_int_equal(p->restart.give_up_restarts, 0);
	assert_int_equal(p->output.mode, OUTPUT_FILE);
	assert_null(p->output.file);
	assert_int_equal(p->output.max_size, 10 << 20);
	assert_int_equal(p->output.keep, 3);
	assert_int_equal(p->n_health, 0);
	assert_int_equal(p->n_rules, 0);
	assert_false(p->protected_);
	assert_int_equal(p->priority, 0);
	assert_int_equal(p->sample_interval, USEC_PER_SEC);
	policy_free(p);
}

static void test_default_guard_sets_its_tripwire_below_memory_max(void **state)
{
	struct policy *p = load_ok("good/tripwire.yaml");

	/* 256M - 256M/16: the kernel throttles there, memory.events says so. */
	assert_true(p->limits.memory_high.set);
	assert_true(p->limits.memory_high_is_guard);
	assert_int_equal(p->limits.memory_high.value, 240 * MiB);
	assert_true(p->pressure.full);
	assert_int_equal(p->pressure.window_usec, 2 * USEC_PER_SEC);
	assert_int_equal(p->pressure.stall_usec, 200 * USEC_PER_MSEC);
	policy_free(p);
	/* The policy's own memory.high stays as written. */
	p = load_ok("good/own-high.yaml");
	assert_int_equal(p->limits.memory_high.value, 200 * MiB);
	assert_false(p->limits.memory_high_is_guard);
	policy_free(p);
	/* memory_high: max turns the tripwire off, with memory_max set. */
	p = load_ok("good/no-tripwire.yaml");
	assert_true(p->limits.memory_high.set);
	assert_int_equal(p->limits.memory_high.value, LIMIT_MAX);
	assert_false(p->limits.memory_high_is_guard);
	policy_free(p);
	/* No memory_max, or rules of its own: no tripwire. */
	p = load_ok("good/minimal.yaml");
	assert_false(p->limits.memory_high.set);
	policy_free(p);
	/* The margin is 1/16, at least 2 MiB, at most 256 MiB. */
	assert_int_equal(policy_guard_high(16 * MiB), 14 * MiB);
	assert_int_equal(policy_guard_high(16ULL << 30), (16ULL << 30) - 256 * MiB);
}

static void test_pressure_trigger_is_validated(void **state)
{
	EXPECT_ERRORS("bad/pressure.yaml",
		      "bad/pressure.yaml:3:11: pressure: give some or full, not both");
	EXPECT_ERRORS("bad/pressure-values.yaml",
		      "bad/pressure-values.yaml:3:18: pressure.some: must be a percentage above 0% and at most 100%, like 15%, got '0%'",
		      "bad/pressure-values.yaml:3:37: pressure.stall: unknown key");
	EXPECT_ERRORS("bad/pressure-window.yaml",
		      "bad/pressure-window.yaml:3:30: pressure.window: must be between 500ms and 10s (the kernel's PSI window), got 100ms");
}

static void test_unknown_keys_rejected_with_nearest_suggestion(void **state)
{
	EXPECT_ERRORS("bad/unknown-key.yaml",
		      "bad/unknown-key.yaml:4:1: colour: unknown key",
		      "bad/unknown-key.yaml:7:5: limits.memory_hihg: unknown key (did you mean 'memory_high'?)");
}

static void test_missing_service_and_command_reported_at_the_map(void **state)
{
	EXPECT_ERRORS("bad/missing-required.yaml",
		      "bad/missing-required.yaml:2:1: service: required key is missing",
		      "bad/missing-required.yaml:2:1: command: required key is missing (or `watch`, to guard cgroups guardian does not start)");
}

/* watch: guard cgroups someone else created; no command, none of the keys
 * of a launched process; globs that stay below the cgroup root. */
static void test_watch_policy_guards_existing_cgroups(void **state)
{
	struct policy *p = load_ok("good/watch.yaml"), *q = NULL;

	assert_null(p->command);
	assert_int_equal(p->n_watch_cgroups, 2);
	assert_string_equal(p->watch_cgroups[0], "system.slice/*.service");
	assert_string_equal(p->watch_cgroups[1], "test.slice/*/worker-?");
	assert_true(policy_watch_matches(p->watch_cgroups[0], "system.slice/nginx.service"));
	assert_false(policy_watch_matches(p->watch_cgroups[0], "system.slice/nginx.socket"));
	assert_false(policy_watch_matches(p->watch_cgroups[0], "system.slice"));
	assert_false(policy_watch_matches(p->watch_cgroups[0], "system.slice/a.service/child"));
	assert_false(policy_watch_matches(p->watch_cgroups[0], "user.slice/nginx.service"));
	assert_true(policy_watch_matches(p->watch_cgroups[1], "test.slice/pool/worker-3"));
	assert_false(policy_watch_matches(p->watch_cgroups[1], "test.slice/worker-3"));
	assert_false(policy_watch_matches("*", ".hidden")); /* FNM_PERIOD */

	/* One watched cgroup's policy: the same keys, its own name. */
	assert_int_equal(policy_instance(p, "system.slice/nginx.service", &q), 0);
	assert_string_equal(q->service, "system.slice/nginx.service");
	assert_null(q->watch_cgroups);
	assert_int_equal(q->n_rules, 1);
	assert_string_equal(q->rules[0].name, "big");
	assert_ptr_not_equal(q->rules[0].name, p->rules[0].name);
	assert_int_equal(q->oom_score_adj, 300);
	assert_int_equal(q->priority, -5);
	policy_free(q);
	policy_free(p);

	EXPECT_ERRORS("bad/watch.yaml",
		      "bad/watch.yaml:3:1: command: not for a policy with `watch`: guardian guards those cgroups but did not "
		      "start their processes (their owner, systemd or the kubelet, starts, stops and restarts them)",
		      "bad/watch.yaml:4:1: user: not for a policy with `watch`: guardian guards those cgroups but did not "
		      "start their processes (their owner, systemd or the kubelet, starts, stops and restarts them)",
		      "bad/watch.yaml:5:1: restart: not for a policy with `watch`: guardian guards those cgroups but did not "
		      "start their processes (their owner, systemd or the kubelet, starts, stops and restarts them)",
		      "bad/watch.yaml:6:1: health: not for a policy with `watch`: guardian guards those cgroups but did not "
		      "start their processes (their owner, systemd or the kubelet, starts, stops and restarts them)");
	EXPECT_ERRORS("bad/watch-globs.yaml",
		      "bad/watch-globs.yaml:3:13: watch.cgroups[0]: expected a path below the cgroup root like "
		      "system.slice/*.service, got '/system.slice/*.service' (no leading /: it is relative to the cgroup root)",
		      "bad/watch-globs.yaml:3:40: watch.cgroups[1]: 'a/../b': every segment must be a name or a pattern; "
		      "empty, '.', '..' and '**' are not",
		      "bad/watch-globs.yaml:3:50: watch.cgroups[2]: 'a//b': every segment must be a name or a pattern; "
		      "empty, '.', '..' and '**' are not",
		      "bad/watch-globs.yaml:3:58: watch.cgroups[3]: '**/x.scope': every segment must be a name or a pattern; "
		      "empty, '.', '..' and '**' are not");
}

static void test_watch_kubernetes_policy(void **state)
{
	struct policy *p = load_ok("good/watch-kube.yaml");

	assert_true(p->kube.on);
	assert_null(p->watch_cgroups); /* the layouts' globs come with the watch */
	assert_int_equal(p->kube.driver, KUBE_DRIVER_CGROUPFS);
	assert_string_equal(p->kube.namespaces[0], "batch");
	assert_string_equal(p->kube.namespaces[1], "ci");
	assert_null(p->kube.namespaces[2]);
	assert_int_equal(p->kube.qos_mask, (1u << KUBE_QOS_BESTEFFORT) | (1u << KUBE_QOS_BURSTABLE));
	assert_string_equal(p->kube.pod_logs, "/var/log/pods");
	assert_string_equal(p->kube.labels[0], "app");
	assert_string_equal(p->kube.labels[1], "worker");
	assert_string_equal(p->kube.labels[2], "tier");
	assert_string_equal(p->kube.labels[3], "batch");
	assert_null(p->kube.labels[4]);
	assert_string_equal(p->kube.annotations[0], "example.com/guard");
	assert_string_equal(p->kube.annotations[1], "yes");
	assert_string_equal(p->kube.containers[1], "sidecar");
	assert_null(p->kube.containers[2]);
	policy_free(p);
	EXPECT_ERRORS("bad/watch-kube.yaml",
		      "bad/watch-kube.yaml:3:22: watch.kubernetes.qos[0]: expected Guaranteed, Burstable or BestEffort, got 'Besteffort'",
		      "bad/watch-kube.yaml:3:50: watch.kubernetes.cgroup_driver: expected systemd, cgroupfs or auto (both layouts), got 'docker'",
		      "bad/watch-kube.yaml:3:58: watch.kubernetes.label: unknown key (did you mean 'labels'?)",
		      "bad/watch-kube.yaml:3:85: watch.kubernetes.labels: expected a map of KEY: VALUE a pod must carry, got a list",
		      "bad/watch-kube.yaml:3:104: watch.kubernetes.containers: expected a list of container names, got a map");
	EXPECT_ERRORS("bad/watch-both.yaml",
		      "bad/watch-both.yaml:2:8: watch: give cgroups (globs of cgroup paths) or kubernetes (the node's pods), one of the two");
}

static void test_values_that_cannot_work_are_refused(void **state)
{
	EXPECT_ERRORS("bad/values.yaml",
		      "bad/values.yaml:3:23: limits.memory_high: must be above 0 (0 would stall or OOM-kill the service at its first page)",
		      "bad/values.yaml:3:38: limits.memory_max: must be above 0 (0 would stall or OOM-kill the service at its first page)",
		      "bad/values.yaml:4:17: stop.timeout: must be at most 30d, got '213160000d'",
		      "bad/values.yaml:5:18: restart.delay: must be at least 10ms (a restart loop without a pause burns the CPU), got '1ms'",
		      "bad/values.yaml:8:12: health[0].every: must be at least 100ms (checks more often than that are load, not health), got '1ms'");
}

/* 100,000 keys in one map: refused at once, not after seconds of checking
 * each against all the others for duplicates. */
static void test_a_map_of_very_many_keys_is_refused(void **state)
{
	_cleanup_diag_ struct diag d = { 0 };
	struct policy *p = NULL;
	size_t size = 64 + 100000 * 16, len;
	char *text = malloc(size);

	assert_non_null(text);
	len = (size_t)snprintf(text, size, "service: web\ncommand: /bin/true\nenvironment:\n");
	for (int i = 0; i < 100000; i++)
		len += (size_t)snprintf(text + len, size - len, "  K%06d: v\n", i);
	assert_int_equal(policy_load_buffer("big.yaml", text, len, &p, &d), -EINVAL);
	if (d.n != 1)
		print_diag(&d);
	assert_int_equal(d.n, 1);
	assert_string_equal(d.msgs[0], "big.yaml:10004:3: yaml: more than 10000 entries in one map");
	free(text);
}

static void test_wrong_types_all_reported_in_one_pass(void **state)
{
	EXPECT_ERRORS("bad/wrong-types.yaml",
		      "bad/wrong-types.yaml:2:10: command: expected a command string or a list of arguments, got a map",
		      "bad/wrong-types.yaml:3:7: user: expected a string, got a list",
		      "bad/wrong-types.yaml:5:15: limits.memory_max: expected a size like 512M or max, got 'lots'",
		      "bad/wrong-types.yaml:6:12: limits.cpu_max: expected a percentage of one CPU like 150% or max, got 'fast'",
		      "bad/wrong-types.yaml:7:13: limits.pids_max: expected a whole number or max, got '-1'",
		      "bad/wrong-types.yaml:8:15: limits.cpu_weight: must be between 1 and 10000, got '0'",
		      "bad/wrong-types.yaml:9:16: oom_score_adj: must be between -1000 and 1000, got '2000'",
		      "bad/wrong-types.yaml:10:16: stop.signal: expected a signal like TERM, QUIT, KILL or 15, got 'TERMINATE'",
		      "bad/wrong-types.yaml:10:36: stop.timeout: a duration needs a unit (ms, s, m, h, d), got '10'",
		      "bad/wrong-types.yaml:11:17: restart.mode: expected one of never, on-failure, always, got 'sometimes'",
		      "bad/wrong-types.yaml:11:35: restart.delay: expected a duration like 250ms, 30s or 5m, got '5 m'",
		      "bad/wrong-types.yaml:12:12: protected: expected true or false, got 'yes'",
		      "bad/wrong-types.yaml:13:11: priority: expected an integer, got 'high'",
		      "bad/wrong-types.yaml:14:18: sample_interval: must be at least 100ms, got '10ms'",
		      "bad/wrong-types.yaml:15:16: output.file: expected an absolute path, inherit or null, got 'relative.log'",
		      "bad/wrong-types.yaml:15:40: output.max_size: must be larger than 0",
		      "bad/wrong-types.yaml:15:49: output.keep: must be between 0 and 100, got '1000'");
}

static void test_semantic_limits_and_give_up_checked(void **state)
{
	EXPECT_ERRORS("bad/semantic.yaml",
		      "bad/semantic.yaml:3:23: limits.memory_high: 3G must not be above memory_max 2G",
		      "bad/semantic.yaml:3:71: limits.memory_min: 2G must not be above memory_low 1G",
		      "bad/semantic.yaml:4:17: stop.timeout: must be longer than 0",
		      "bad/semantic.yaml:5:58: restart.give_up.restarts: must be between 1 and 1000000, got '0'",
		      "bad/semantic.yaml:5:69: restart.give_up.within: must be longer than 0");
}

static void test_restart_delay_and_rlimits_checked(void **state)
{
	EXPECT_ERRORS("bad/restart-delay.yaml",
		      "bad/restart-delay.yaml:3:18: restart.delay: 10m must not be above max_delay 5m",
		      "bad/restart-delay.yaml:4:11: rlimits.nofiles: unknown resource limit (did you mean 'nofile'?)",
		      "bad/restart-delay.yaml:4:31: rlimits.nproc: soft limit 20 is above the hard limit 10",
		      "bad/restart-delay.yaml:4:59: rlimits.core: expected a size like 8M or infinity, got 'lots'",
		      "bad/restart-delay.yaml:4:72: rlimits.stack.hard: required key is missing");
}

/* Load text with the kernel's ceilings read under proc_root; the messages. */
static int load_text_at(const char *proc_root, const char *text, struct policy **ret, struct diag *d)
{
	int r = policy_load_buffer_at("t.yaml", proc_root, text, strlen(text), ret, d);

	if (r < 0 || d->n_warnings)
		print_diag(d);
	for (size_t i = 0; i < d->n_warnings; i++)
		print_message("  %s\n", d->warnings[i]);
	return r;
}

static void expect_text_errors(const char *proc_root, const char *text, const char *const *want, size_t n)
{
	_cleanup_diag_ struct diag d = { 0 };
	struct policy *p = NULL;

	assert_int_equal(load_text_at(proc_root, text, &p, &d), -EINVAL);
	assert_null(p);
	assert_int_equal(d.n, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(d.msgs[i], want[i]);
}
static void expect_text_error(const char *proc_root, const char *text, const char *want)
{
	expect_text_errors(proc_root, text, &want, 1);
}
#define EXPECT_TEXT_ERRORS(proc_root, text, ...)                                   \
	do {                                                                       \
		static const char *const _w[] = { __VA_ARGS__ };                   \
		expect_text_errors((proc_root), (text), _w, ARRAY_SIZE(_w));       \
	} while (0)

static void test_group_without_user_warns_that_it_runs_as_root(void **state)
{
	_cleanup_diag_ struct diag d = { 0 };
	struct policy *p = NULL;

	assert_int_equal(load_text_at(NULL, "service: t\ncommand: [sleep, '1']\ngroup: adm\n", &p, &d), 0);
	assert_int_equal(d.n, 0);
	assert_int_equal(d.n_warnings, 1);
	assert_string_equal(d.warnings[0], "t.yaml:3:8: warning: group: without user the service runs as root "
			    "(guardian's own user) with only its group changed to 'adm'; give user: too");
	assert_true(p->cred.set);
	assert_int_equal(p->cred.uid, getuid());
	assert_int_equal(p->cred.gid, 4);
	assert_int_equal(p->cred.n_groups, 0); /* supplementary groups dropped, as before */
	policy_free(p);
	diag_free(&d);
	/* With a user, or with neither, there is nothing to warn about. */
	assert_int_equal(load_text_at(NULL, "service: t\ncommand: [sleep, '1']\nuser: svc\ngroup: adm\n", &p, &d), 0);
	assert_int_equal(d.n_warnings, 0);
	policy_free(p);
	assert_int_equal(load_text_at(NULL, "service: t\ncommand: [sleep, '1']\n", &p, &d), 0);
	assert_int_equal(d.n_warnings, 0);
	assert_false(p->cred.set);
	policy_free(p);
}

/* The directory load (the daemon's start and reload, guardctl check) says
 * it too, and a warning alone fails nothing. */
static void test_dir_load_passes_warnings_on(void **state)
{
	_cleanup_diag_ struct diag d = { 0 };
	struct policy **v = NULL;
	char dir[256], path[300];
	size_t n = 0;

	tmptree_new(dir, sizeof(dir), "policywarn");
	snprintf(path, sizeof(path), "%s/g.yaml", dir);
	tmptree_write(path, "service: g\ncommand: [sleep, '1']\ngroup: adm\n");
	chmod(path, 0644);
	chmod(dir, 0755);
	assert_int_equal(policy_load_dir(dir, &v, &n, &d), 0);
	assert_int_equal(n, 1);
	assert_int_equal(d.n, 0);
	assert_int_equal(d.n_warnings, 1);
	assert_non_null(strstr(d.warnings[0], "/g.yaml:3:8: warning: group: without user the service runs as root"));
	policy_freev(v, n);
	tmptree_remove(dir);
}

static void test_unknown_user_or_group_fails_the_load_at_its_key(void **state)
{
	EXPECT_TEXT_ERRORS(NULL, "service: t\ncommand: [sleep, '1']\nuser: nosuch\n",
			   "t.yaml:3:7: user: no such user 'nosuch'");
	EXPECT_TEXT_ERRORS(NULL, "service: t\ncommand: [sleep, '1']\ngroup: nosuch\n",
			   "t.yaml:3:8: group: no such group 'nosuch'");
	/* Both are said at once. */
	EXPECT_TEXT_ERRORS(NULL, "service: t\ncommand: [sleep, '1']\nuser: nosuch\ngroup: nogrp\n",
			   "t.yaml:3:7: user: no such user 'nosuch'",
			   "t.yaml:4:8: group: no such group 'nogrp'");
	/* A lookup that fails is not a missing user. */
	EXPECT_TEXT_ERRORS(NULL, "service: t\ncommand: [sleep, '1']\nuser: broken-ldap\n",
			   "t.yaml:3:7: user: cannot look up user 'broken-ldap': Input/output error");
}

static void test_user_resolved_once_with_its_groups(void **state)
{
	_cleanup_diag_ struct diag d = { 0 };
	struct policy *p = NULL;

	assert_int_equal(load_text_at(NULL, "service: t\ncommand: [sleep, '1']\nuser: svc\n", &p, &d), 0);
	assert_int_equal(p->cred.uid, 4242);
	assert_int_equal(p->cred.gid, 4242);
	/* initgroups(svc, 4242): its own group first, then the groups listing it. */
	assert_int_equal(p->cred.n_groups, 3);
	assert_int_equal(p->cred.groups[0], 4242);
	assert_int_equal(p->cred.groups[1], 4);
	assert_int_equal(p->cred.groups[2], 4343);
	assert_string_equal(p->cred.home, "/");
	assert_string_equal(p->cred.shell, "/bin/sh");
	policy_free(p);
}

/* A proc root whose fs.nr_open is n (0: none at all). */
static void fake_proc(char *dir, size_t len, unsigned n)
{
	char path[320], text[32];

	tmptree_new(dir, len, "policyproc");
	if (!n)
		return;
	snprintf(path, sizeof(path), "%s/sys", dir);
	tmptree_mkdir(path);
	snprintf(path, sizeof(path), "%s/sys/fs", dir);
	tmptree_mkdir(path);
	snprintf(path, sizeof(path), "%s/sys/fs/nr_open", dir);
	snprintf(text, sizeof(text), "%u\n", n);
	tmptree_write(path, text);
}

static void test_nofile_above_fs_nr_open_refused_at_check_time(void **state)
{
	_cleanup_diag_ struct diag d = { 0 };
	char proc[256], want[3][512];
	struct policy *p = NULL;

	fake_proc(proc, sizeof(proc), 4096);
	assert_int_equal(load_text_at(proc, "service: t\ncommand: [sleep, '1']\nrlimits: {nofile: 4096}\n", &p, &d), 0);
	assert_int_equal(p->rlimits[0].hard, 4096);
	policy_free(p);
	snprintf(want[0], sizeof(want[0]), "t.yaml:3:19: rlimits.nofile: 4097 is above fs.nr_open (4096 in "
		 "%s/sys/fs/nr_open), the most the kernel allows; give at most 4096 or raise fs.nr_open", proc);
	snprintf(want[1], sizeof(want[1]), "t.yaml:3:38: rlimits.nofile.hard: 8192 is above fs.nr_open (4096 in "
		 "%s/sys/fs/nr_open), the most the kernel allows; give at most 4096 or raise fs.nr_open", proc);
	snprintf(want[2], sizeof(want[2]), "t.yaml:3:19: rlimits.nofile: infinity is above fs.nr_open (4096 in "
		 "%s/sys/fs/nr_open), the most the kernel allows; give at most 4096 or raise fs.nr_open", proc);
	expect_text_error(proc, "service: t\ncommand: [sleep, '1']\nrlimits: {nofile: 4097}\n", want[0]);
	expect_text_error(proc, "service: t\ncommand: [sleep, '1']\nrlimits: {nofile: {soft: 1024, hard: 8192}}\n",
			   want[1]);
	expect_text_error(proc, "service: t\ncommand: [sleep, '1']\nrlimits: {nofile: infinity}\n", want[2]);
	tmptree_remove(proc);

	/* Without fs.nr_open to read, the kernel's own bound still refuses
	 * infinity: no kernel takes an unlimited nofile. */
	fake_proc(proc, sizeof(proc), 0);
	snprintf(want[0], sizeof(want[0]), "t.yaml:3:19: rlimits.nofile: infinity is above 2147483584, the most the "
		 "kernel allows for open files (fs.nr_open could not be read from %s/sys/fs/nr_open)", proc);
	expect_text_error(proc, "service: t\ncommand: [sleep, '1']\nrlimits: {nofile: infinity}\n", want[0]);
	assert_int_equal(load_text_at(proc, "service: t\ncommand: [sleep, '1']\nrlimits: {nofile: 2000000}\n", &p, &d),
			 0);
	policy_free(p);
	tmptree_remove(proc);
}

/* The daemon and guardctl load directories: the same ceiling, read under
 * the proc root the daemon was given (--proc). */
static void test_dir_load_reads_nr_open_under_its_proc_root(void **state)
{
	_cleanup_diag_ struct diag d = { 0 };
	char proc[256], dir[256], path[300], want[1024];
	struct policy **v = NULL;
	size_t n = 0;

	fake_proc(proc, sizeof(proc), 1000);
	tmptree_new(dir, sizeof(dir), "policynofile");
	chmod(dir, 0755);
	snprintf(path, sizeof(path), "%s/n.yaml", dir);
	tmptree_write(path, "service: n\ncommand: [sleep, '1']\nrlimits: {nofile: 1024}\n");
	chmod(path, 0644);
	assert_int_equal(policy_load_dir_at(dir, proc, &v, &n, &d), -EINVAL);
	assert_int_equal(n, 0);
	assert_int_equal(d.n, 1);
	snprintf(want, sizeof(want), "%s:3:19: rlimits.nofile: 1024 is above fs.nr_open (1000 in %s/sys/fs/nr_open), "
		 "the most the kernel allows; give at most 1000 or raise fs.nr_open", path, proc);
	assert_string_equal(d.msgs[0], want);
	tmptree_remove(dir);
	tmptree_remove(proc);
}

static void test_rlimits_past_the_kernels_range_refused(void **state)
{
	_cleanup_diag_ struct diag d = { 0 };
	struct policy *p = NULL;

	EXPECT_TEXT_ERRORS(NULL, "service: t\ncommand: [sleep, '1']\nrlimits: {nice: 41, rtprio: 100}\n",
			   "t.yaml:3:17: rlimits.nice: must be at most 40 or infinity (40 already allows nice -20, the "
			   "kernel's highest priority), got '41'",
			   "t.yaml:3:29: rlimits.rtprio: must be at most 99 or infinity (the kernel's highest real-time "
			   "priority), got '100'");
	EXPECT_TEXT_ERRORS(NULL, "service: t\ncommand: [sleep, '1']\nrlimits: {rtprio: {soft: 100, hard: infinity}}\n",
			   "t.yaml:3:26: rlimits.rtprio.soft: must be at most 99 or infinity (the kernel's highest "
			   "real-time priority), got '100'");
	/* soft above hard was refused at check time already; so it stays. */
	EXPECT_TEXT_ERRORS(NULL, "service: t\ncommand: [sleep, '1']\nrlimits: {nofile: {soft: 2048, hard: 1024}}\n",
			   "t.yaml:3:19: rlimits.nofile: soft limit 2048 is above the hard limit 1024");
	assert_int_equal(load_text_at(NULL, "service: t\ncommand: [sleep, '1']\n"
				      "rlimits: {nice: 40, rtprio: 99, memlock: infinity}\n", &p, &d), 0);
	assert_int_equal(p->n_rlimits, 3);
	policy_free(p);
}

static void test_health_checks_validated(void **state)
{
	EXPECT_ERRORS("bad/health.yaml",
		      "bad/health.yaml:4:17: health[0].http.url: https is not supported yet; use http://, got 'https://127.0.0.1/'",
		      "bad/health.yaml:5:17: health[1].http.url: port must be between 1 and 65535, got 'http://127.0.0.1:99999/x'",
		      "bad/health.yaml:6:13: health[1].action: expected one of restart, stop, notify, got 'kill'",
		      "bad/health.yaml:7:27: health[2].tcp.port: must be between 1 and 65535, got '70000'",
		      "bad/health.yaml:10:5: health[3]: needs one of http, tcp or exec",
		      "bad/health.yaml:11:5: health[4]: give only one of http, tcp or exec",
		      "bad/health.yaml:13:17: health[5].http.url: expected a URL like http://127.0.0.1:8080/path, got 'ftp://host/'",
		      "bad/health.yaml:14:11: health[6].exec: must not be an empty list");
}

static void test_rules_validated_in_the_metric_unit(void **state)
{
	EXPECT_ERRORS("bad/rules.yaml",
		      "bad/rules.yaml:5:51: rules[0].when.below: give either above or below, not both",
		      "bad/rules.yaml:8:40: rules[1].when.above: expected a size like 1800M for metric working_set, got '50%'",
		      "bad/rules.yaml:8:50: rules[1].when.for: needs 1 <= N <= M <= 100 in \"N of M samples\", got '3 of 200 samples'",
		      "bad/rules.yaml:10:5: rules[2].exec: required when action is exec",
		      "bad/rules.yaml:11:20: rules[2].when.metric: expected one of working_set, memory_current, anon, file, shmem, "
		      "swap, psi_some_avg10, psi_full_avg10, memory_events_high_rate, cpu, pids, time_to_max, got 'working_sett' "
		      "(did you mean 'working_set'?)",
		      "bad/rules.yaml:11:50: rules[2].when.for: expected a duration like 30s, \"3 samples\" or \"3 of 5 samples\", got '5'",
		      "bad/rules.yaml:13:11: rules[3].name: duplicate rule name 'unit' (first in rules[1])",
		      "bad/rules.yaml:14:43: rules[3].when.above: must be between 0% and 100% for metric psi_full_avg10, got '150%'",
		      "bad/rules.yaml:15:13: rules[3].action: expected one of notify, reclaim, throttle, oom_score_adj, freeze, "
		      "restart, stop, kill, exec, got 'reboot'",
		      "bad/rules.yaml:17:5: rules[4].name: required key is missing",
		      "bad/rules.yaml:17:5: rules[4].action: required key is missing",
		      "bad/rules.yaml:17:11: rules[4].when: needs a threshold: above or below");
}

static void test_names_paths_and_environment_validated(void **state)
{
	EXPECT_ERRORS("bad/names.yaml",
		      "bad/names.yaml:1:10: service: must not start with '.' or 'cgroup.' (kernel names), got 'cgroup.procs'",
		      "bad/names.yaml:2:11: command[0]: must be an absolute path or a bare name looked up in PATH, got 'bin/x'",
		      "bad/names.yaml:2:18: command[1]: must not be empty",
		      "bad/names.yaml:3:20: working_directory: must be an absolute path, got 'srv/app'",
		      "bad/names.yaml:5:3: environment.1BAD: invalid variable name (expected [A-Za-z_][A-Za-z0-9_]*)",
		      "bad/names.yaml:6:9: environment.GOOD: expected a string, got a map",
		      "bad/names.yaml:7:9: environment.EMPTY: expected a string, got nothing");
	EXPECT_ERRORS("bad/bad-service.yaml",
		      "bad/bad-service.yaml:1:10: service: may only hold letters, digits and _ . @ : - (it names the cgroup), "
		      "got 'my service'",
		      "bad/bad-service.yaml:2:10: command: must not be empty");
}

static void test_duplicate_keys_name_the_first(void **state)
{
	EXPECT_ERRORS("bad/duplicate-key.yaml",
		      "bad/duplicate-key.yaml:6:3: limits.memory_max: duplicate key (first at line 5, column 3)",
		      "bad/duplicate-key.yaml:7:1: user: duplicate key (first at line 3, column 1)");
}

static void test_yaml_structure_errors(void **state)
{
	EXPECT_ERRORS("bad/syntax.yaml", "bad/syntax.yaml:5:16: yaml: mapping values are not allowed in this context");
	EXPECT_ERRORS("bad/alias.yaml", "bad/alias.yaml:2:10: yaml: anchors (&cmd) are not supported; write the value out");
	EXPECT_ERRORS("bad/two-documents.yaml",
		      "bad/two-documents.yaml:3:1: yaml: a policy file holds one document; found a second one");
	EXPECT_ERRORS("bad/not-a-map.yaml", "bad/not-a-map.yaml:1:1: expected a map of policy keys, got a list");
	EXPECT_ERRORS("bad/empty.yaml",
		      "bad/empty.yaml:1:1: the file is empty; a policy needs at least service and command");
}

static void test_missing_file_names_the_errno(void **state)
{
	_cleanup_diag_ struct diag d = { 0 };
	struct policy *p = NULL;

	assert_int_equal(policy_load_file("bad/nonexistent.yaml", &p, &d), -ENOENT);
	assert_int_equal(d.n, 1);
	assert_string_equal(d.msgs[0], "bad/nonexistent.yaml: cannot read: No such file or directory");
}

static void test_dir_loads_yaml_and_yml_sorted_skipping_hidden(void **state)
{
	_cleanup_diag_ struct diag d = { 0 };
	struct policy **v = NULL;
	size_t n = 0;

	assert_int_equal(policy_load_dir("dir", &v, &n, &d), 0);
	assert_int_equal(d.n, 0);
	assert_int_equal(n, 2);
	assert_string_equal(v[0]->path, "dir/a.yml");
	assert_string_equal(v[0]->service, "first");
	assert_string_equal(v[1]->path, "dir/b.yaml");
	policy_freev(v, n);
}

static void test_dir_duplicate_service_names_both_files(void **state)
{
	_cleanup_diag_ struct diag d = { 0 };
	struct policy **v = NULL;
	size_t n = 7;

	assert_int_equal(policy_load_dir("dup/", &v, &n, &d), -EINVAL);
	assert_null(v);
	assert_int_equal(n, 0);
	assert_int_equal(d.n, 1);
	assert_string_equal(d.msgs[0], "dup/b.yaml:2:10: service: 'web' is already defined in dup/a.yaml:1:10");
}

/* What the daemon's exit status rests on: a refused set is -EINVAL (an
 * admin's to fix), but a file that cannot be read now (here a link into a
 * mount not there yet) is its own errno, even beside an invalid file. */
static void test_dir_unreadable_file_is_not_an_invalid_one(void **state)
{
	_cleanup_diag_ struct diag d = { 0 }, d2 = { 0 };
	struct policy **v = NULL;
	char dir[256], path[300];
	size_t n = 0;

	tmptree_new(dir, sizeof(dir), "policyread");
	chmod(dir, 0755);
	snprintf(path, sizeof(path), "%s/a.yaml", dir);
	tmptree_write(path, "service: a\ncommand: [sleep, '1']\nlimits: {memory_max: lots}\n");
	chmod(path, 0644);
	assert_int_equal(policy_load_dir(dir, &v, &n, &d), -EINVAL);
	snprintf(path, sizeof(path), "%s/b.yaml", dir);
	assert_int_equal(symlink("/nonexistent/guardian/b.yaml", path), 0);
	assert_int_equal(policy_load_dir(dir, &v, &n, &d2), -ENOENT);
	assert_null(v);
	assert_int_equal(d2.n, 2); /* both files are still said */
	tmptree_remove(dir);
}

static void test_dir_checks_every_file_after_an_error(void **state)
{
	_cleanup_diag_ struct diag d = { 0 };
	struct policy **v = NULL;
	size_t n = 7;

	assert_int_equal(policy_load_dir("errors", &v, &n, &d), -EINVAL);
	assert_null(v);
	assert_int_equal(n, 0);
	assert_int_equal(d.n, 2);
	assert_string_equal(d.msgs[0],
			    "errors/a-bad.yaml:3:22: limits.memory_max: expected a size like 512M or max, got 'lots'");
	assert_string_equal(d.msgs[1], "errors/c-bad.yml:1:1: command: required key is missing (or `watch`, to guard cgroups guardian does not start)");
}

static void test_mode_rule_refuses_group_or_world_writable_for_root_only(void **state)
{
	assert_true(policy_mode_unsafe(S_IFREG | 0666, 0));
	assert_true(policy_mode_unsafe(S_IFREG | 0620, 0));
	assert_true(policy_mode_unsafe(S_IFREG | 0602, 0));
	assert_false(policy_mode_unsafe(S_IFREG | 0644, 0));
	assert_false(policy_mode_unsafe(S_IFREG | 0600, 0));
	assert_false(policy_mode_unsafe(S_IFREG | 0666, 1000));
}

static void test_world_writable_copy_refused_when_root(void **state)
{
	char dir[256], path[300], want[1024];
	_cleanup_diag_ struct diag d = { 0 };
	static const char text[] = "service: web\ncommand: /usr/local/bin/webapp\n";
	struct policy *p = NULL;
	int fd;

	if (geteuid() != 0)
		skip(); /* the rule only applies to root */
	tmptree_new(dir, sizeof(dir), "policy");
	snprintf(path, sizeof(path), "%s/web.yaml", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write_all(fd, text, sizeof(text) - 1), 0);
	assert_int_equal(fchmod(fd, 0666), 0);
	close(fd);

	assert_int_equal(policy_load_file(path, &p, &d), -EPERM);
	assert_null(p);
	assert_int_equal(d.n, 1);
	snprintf(want, sizeof(want),
		 "%s: refusing a policy writable by group or others (mode 0666) while running as root; "
		 "run chmod go-w %s", path, path);
	assert_string_equal(d.msgs[0], want);

	assert_int_equal(chmod(path, 0644), 0);
	p = load_ok(path);
	policy_free(p);
	unlink(path);
	rmdir(dir);
}

/* Root reads policies; what they say root runs. So, as root: a FIFO named
 * like a policy is refused at once instead of hanging the load; a file
 * (or a link) someone else owns is refused, and so is a directory others
 * can write. */
static void write_policy(const char *path)
{
	tmptree_write(path, "service: web\ncommand: /usr/local/bin/webapp\n");
}

static void expect_refused(const char *what, const char *want_substring)
{
	_cleanup_diag_ struct diag d = { 0 };
	struct policy **v = NULL;
	size_t n = 0;

	print_message("  %s\n", what);
	assert_true(policy_load_dir(what, &v, &n, &d) < 0);
	assert_null(v);
	if (d.n != 1)
		print_diag(&d);
	assert_int_equal(d.n, 1);
	if (!strstr(d.msgs[0], want_substring))
		print_message("  got: %s\n", d.msgs[0]);
	assert_non_null(strstr(d.msgs[0], want_substring));
}

static void test_files_root_would_read_that_others_control_are_refused(void **state)
{
	char dir[256], path[512], elsewhere[256], target[512];

	tmptree_new(dir, sizeof(dir), "policyfiles");
	snprintf(path, sizeof(path), "%s/x.yaml", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	expect_refused(dir, "x.yaml: not a regular file (a FIFO)");
	assert_int_equal(unlink(path), 0);
	if (geteuid() != 0) {
		tmptree_remove(dir);
		skip(); /* the ownership rules apply to root */
	}
	write_policy(path);
	assert_int_equal(chown(path, 65534, 65534), 0);
	expect_refused(dir, "refusing a policy owned by uid 65534 while running as root");
	assert_int_equal(unlink(path), 0);

	/* A root-owned link to a file nobody owns, elsewhere. */
	tmptree_new(elsewhere, sizeof(elsewhere), "policyelsewhere");
	snprintf(target, sizeof(target), "%s/web.yaml", elsewhere);
	write_policy(target);
	assert_int_equal(chown(target, 65534, 65534), 0);
	assert_int_equal(symlink(target, path), 0);
	expect_refused(dir, "refusing a policy owned by uid 65534 while running as root");
	/* ... and a link to a root-owned file is fine (a ConfigMap volume is
	 * links all the way down). */
	assert_int_equal(chown(target, 0, 0), 0);
	{
		_cleanup_diag_ struct diag d = { 0 };
		struct policy **v = NULL;
		size_t n = 0;

		assert_int_equal(policy_load_dir(dir, &v, &n, &d), 0);
		assert_int_equal(n, 1);
		policy_freev(v, n);
	}
	assert_int_equal(chmod(dir, 0777), 0);
	expect_refused(dir, "refusing a policies directory writable by group or others (mode 0777)");
	assert_int_equal(chmod(dir, 0755), 0);
	assert_int_equal(chown(dir, 65534, 65534), 0);
	expect_refused(dir, "refusing a policies directory owned by uid 65534");
	tmptree_remove(dir);
	tmptree_remove(elsewhere);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_files_root_would_read_that_others_control_are_refused),
		cmocka_unit_test(test_every_shipped_example_policy_loads),
		cmocka_unit_test(test_example_recorder_is_the_issue_policy),
		cmocka_unit_test(test_full_fixture_every_field_exact),
		cmocka_unit_test(test_minimal_policy_gets_documented_defaults),
		cmocka_unit_test(test_default_guard_sets_its_tripwire_below_memory_max),
		cmocka_unit_test(test_pressure_trigger_is_validated),
		cmocka_unit_test(test_unknown_keys_rejected_with_nearest_suggestion),
		cmocka_unit_test(test_missing_service_and_command_reported_at_the_map),
		cmocka_unit_test(test_watch_policy_guards_existing_cgroups),
		cmocka_unit_test(test_watch_kubernetes_policy),
		cmocka_unit_test(test_values_that_cannot_work_are_refused),
		cmocka_unit_test(test_a_map_of_very_many_keys_is_refused),
		cmocka_unit_test(test_wrong_types_all_reported_in_one_pass),
		cmocka_unit_test(test_semantic_limits_and_give_up_checked),
		cmocka_unit_test(test_restart_delay_and_rlimits_checked),
		cmocka_unit_test(test_group_without_user_warns_that_it_runs_as_root),
		cmocka_unit_test(test_dir_load_passes_warnings_on),
		cmocka_unit_test(test_unknown_user_or_group_fails_the_load_at_its_key),
		cmocka_unit_test(test_user_resolved_once_with_its_groups),
		cmocka_unit_test(test_nofile_above_fs_nr_open_refused_at_check_time),
		cmocka_unit_test(test_dir_load_reads_nr_open_under_its_proc_root),
		cmocka_unit_test(test_rlimits_past_the_kernels_range_refused),
		cmocka_unit_test(test_health_checks_validated),
		cmocka_unit_test(test_rules_validated_in_the_metric_unit),
		cmocka_unit_test(test_names_paths_and_environment_validated),
		cmocka_unit_test(test_duplicate_keys_name_the_first),
		cmocka_unit_test(test_yaml_structure_errors),
		cmocka_unit_test(test_missing_file_names_the_errno),
		cmocka_unit_test(test_dir_loads_yaml_and_yml_sorted_skipping_hidden),
		cmocka_unit_test(test_dir_duplicate_service_names_both_files),
		cmocka_unit_test(test_dir_checks_every_file_after_an_error),
		cmocka_unit_test(test_dir_unreadable_file_is_not_an_invalid_one),
		cmocka_unit_test(test_mode_rule_refuses_group_or_world_writable_for_root_only),
		cmocka_unit_test(test_world_writable_copy_refused_when_root),
	};

	return cmocka_run_group_tests(tests, chdir_fixtures, NULL);
}
