/* test_hooks.c: the hooks: section (keys, defaults, errors at file:line:key,
 * the hook's user resolved at load), the daemon-wide hooks file, the
 * environment a hook gets from its record, and the runner on a real loop:
 * after hooks recorded with their exit, max_per_minute, and the engine's
 * wait for its before hooks (ended by their exit, or by the budget while
 * the hook runs on to its own timeout). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "hooks.h"
#include "loop.h"
#include "policy.h"
#include "tmptree.h"

static const char *env_get(const struct env_var *env, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(env[i].name, name) == 0)
			return env[i].value;
	return NULL;
}

static void print_diag(const struct diag *d)
{
	for (size_t i = 0; i < d->n; i++)
		fprintf(stderr, "diag: %s\n", d->msgs[i]);
}

static void test_hooks_parsed_with_user_resolved_and_defaults(void **state)
{
	static const char text[] =
		"service: web\n"
		"command: [/bin/true]\n"
		"hooks:\n"
		"  after:\n"
		"    - command: [/usr/local/bin/notify, --to, ops]\n"
		"      user: nobody\n"
		"      on: [kill, oom-kill]\n"
		"      timeout: 2s\n"
		"      max_per_minute: 3\n"
		"    - command: logger -t guardian killed\n"
		"  before:\n"
		"    - command: [/usr/local/bin/drain]\n";
	struct diag d = { 0 };
	struct policy *p = NULL;

	if (policy_load_buffer("h.yaml", text, strlen(text), &p, &d) < 0)
		print_diag(&d);
	assert_non_null(p);
	assert_int_equal(p->hooks.n_after, 2);
	assert_string_equal(p->hooks.after[0].command[0], "/usr/local/bin/notify");
	assert_string_equal(p->hooks.after[0].command[2], "ops");
	assert_string_equal(p->hooks.after[0].user, "nobody");
	assert_true(p->hooks.after[0].cred.set);
	assert_int_equal(p->hooks.after[0].cred.uid, 65534); /* fakenss.c, not the machine's */
	assert_int_equal(p->hooks.after[0].on, HOOK_ON_KILL | HOOK_ON_OOM_KILL);
	assert_int_equal(p->hooks.after[0].timeout, 2 * USEC_PER_SEC);
	assert_int_equal(p->hooks.after[0].max_per_minute, 3);
	assert_int_equal(p->hooks.after[0].line, 5);
	/* The defaults: every event, 10 s, 10 a minute, guardian's user. */
	assert_string_equal(p->hooks.after[1].command[0], "/bin/sh");
	assert_int_equal(p->hooks.after[1].on, HOOK_ON_ALL);
	assert_int_equal(p->hooks.after[1].timeout, 10 * USEC_PER_SEC);
	assert_int_equal(p->hooks.after[1].max_per_minute, 10);
	assert_false(p->hooks.after[1].cred.set);
	/* A before hook: guardian's own kill and restart, 2 s. */
	assert_int_equal(p->hooks.n_before, 1);
	assert_string_equal(p->hooks.before[0].command[0], "/usr/local/bin/drain");
	assert_int_equal(p->hooks.before[0].on, HOOK_ON_KILL | HOOK_ON_RESTART);
	assert_int_equal(p->hooks.before[0].timeout, 2 * USEC_PER_SEC);
	policy_free(p);
	diag_free(&d);
}

/* Each cgroup a watch policy matches runs under its own instance of it,
 * with its own copy of the hooks. */
static void test_watched_instances_carry_their_hooks(void **state)
{
	static const char text[] =
		"service: units\n"
		"watch: {cgroups: [system.slice/*.service]}\n"
		"hooks: {after: [{command: [/bin/notify, --to, ops], user: nobody}], before: [{command: /bin/b}]}\n";
	struct diag d = { 0 };
	struct policy *p = NULL, *q = NULL;

	if (policy_load_buffer("w.yaml", text, strlen(text), &p, &d) < 0)
		print_diag(&d);
	assert_non_null(p);
	assert_int_equal(policy_instance(p, "units-a", &q), 0);
	assert_int_equal(q->hooks.n_after, 1);
	assert_ptr_not_equal(q->hooks.after[0].command, p->hooks.after[0].command);
	assert_string_equal(q->hooks.after[0].command[1], "--to");
	assert_int_equal(q->hooks.after[0].cred.uid, 65534);
	assert_int_equal(q->hooks.n_before, 1);
	assert_ptr_not_equal(q->hooks.before[0].command, p->hooks.before[0].command);
	policy_free(p);
	assert_string_equal(q->hooks.after[0].cred.home, "/nonexistent");
	policy_free(q);
	diag_free(&d);
}

static void test_bad_hooks_refused_at_file_line_key(void **state)
{
	static const char text[] =
		"service: web\n"
		"command: [/bin/true]\n"
		"hooks:\n"
		"  after:\n"
		"    - command: []\n"
		"    - command: [/bin/x]\n"
		"      on: [kill, reboot]\n"
		"      timeout: 0s\n"
		"      max_per_minute: 0\n"
		"    - command: [/bin/x]\n"
		"      user: no-such-user\n"
		"    - {comand: [/bin/x]}\n"
		"  before: [{command: [/bin/x], on: [kill, oom-kill]}]\n";
	static const char *const want[] = {
		"h.yaml:5:16: hooks.after[0].command: must not be an empty list",
		"h.yaml:7:18: hooks.after[1].on[1]: expected one of kill, restart, oom-kill, signal, give-up, got 'reboot'",
		"h.yaml:8:16: hooks.after[1].timeout: must be longer than 0",
		"h.yaml:9:23: hooks.after[1].max_per_minute: must be between 1 and 1000, got '0'",
		"h.yaml:12:7: hooks.after[3].command: required key is missing",
		"h.yaml:12:8: hooks.after[3].comand: unknown key (did you mean 'command'?)",
		"h.yaml:13:36: hooks.before[0].on: a before hook runs before guardian's own kill or restart: kill, restart (the kernel's kills and others' signals cannot wait)",
	};
	struct diag d = { 0 };
	struct policy *p = NULL;

	assert_int_equal(policy_load_buffer("h.yaml", text, strlen(text), &p, &d), -EINVAL);
	assert_null(p);
	print_diag(&d);
	assert_int_equal(d.n, ARRAY_SIZE(want));
	for (size_t i = 0; i < ARRAY_SIZE(want); i++)
		assert_string_equal(d.msgs[i], want[i]);
	diag_free(&d);
}

static void test_daemon_hooks_file_loads_and_reports_its_errors(void **state)
{
	char dir[] = "/tmp/test_hooks.XXXXXX", path[64];
	struct hookset hs;
	struct diag d = { 0 };
	FILE *f;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/hooks.yaml", dir);
	f = fopen(path, "w");
	fputs("after:\n  - command: [/bin/echo, hi]\n    on: [give-up]\n", f);
	fclose(f);
	assert_int_equal(hookset_load_file(path, &hs, &d), 0);
	assert_int_equal(hs.n_after, 1);
	assert_int_equal(hs.after[0].on, HOOK_ON_GIVE_UP);
	hookset_free(&hs);

	f = fopen(path, "w");
	fputs("after:\n  - command: [/bin/echo]\n    timeout: 11m\n", f);
	fclose(f);
	assert_int_equal(hookset_load_file(path, &hs, &d), -EINVAL);
	assert_int_equal(d.n, 1);
	{
		char want[160];

		snprintf(want, sizeof(want), "%s:3:14: after[0].timeout: at most 10m: a hook that runs longer is hung",
			 path);
		assert_string_equal(d.msgs[0], want);
	}
	diag_free(&d);
	unlink(path);
	rmdir(dir);
}

static void test_environment_carries_the_records_fields(void **state)
{
	struct json_object *rec = actionlog_record("web", "guardian.slice/web", "engine", "restart",
						   "working set 190 MiB reaches memory.max in 2.1s");
	struct json_object *kube = json_object_new_object();
	pid_t pids[] = { 412, 413 };
	struct env_var *env = NULL;
	size_t n = 0;

	json_object_object_add(rec, "working_set", json_object_new_uint64(199229440));
	json_object_object_add(rec, "memory_max", json_object_new_uint64(209715200));
	json_object_object_add(rec, "time_to_max_ms", json_object_new_int64(2100));
	json_object_object_add(rec, "signal", json_object_new_string("TERM"));
	json_object_object_add(rec, "sender_comm", json_object_new_string("kill"));
	json_object_object_add(rec, "verdict", json_object_new_string("act"));
	actionlog_add_pids(rec, pids, 2);
	json_object_object_add(kube, "namespace", json_object_new_string("shop"));
	json_object_object_add(kube, "pod", json_object_new_string("cart-7f9"));
	json_object_object_add(kube, "container", json_object_new_string("app"));
	json_object_object_add(rec, "kubernetes", kube);

	assert_int_equal(hooks_env_from_record(rec, &env, &n), 0);
	assert_string_equal(env_get(env, n, "GUARDIAN_SERVICE"), "web");
	assert_string_equal(env_get(env, n, "GUARDIAN_ACTION"), "restart");
	assert_string_equal(env_get(env, n, "GUARDIAN_SOURCE"), "engine");
	assert_string_equal(env_get(env, n, "GUARDIAN_CGROUP"), "guardian.slice/web");
	assert_string_equal(env_get(env, n, "GUARDIAN_REASON"), "working set 190 MiB reaches memory.max in 2.1s");
	assert_string_equal(env_get(env, n, "GUARDIAN_WORKING_SET"), "199229440");
	assert_string_equal(env_get(env, n, "GUARDIAN_MEMORY_MAX"), "209715200");
	assert_string_equal(env_get(env, n, "GUARDIAN_TIME_TO_MAX_MS"), "2100");
	assert_string_equal(env_get(env, n, "GUARDIAN_SIGNAL"), "TERM");
	assert_string_equal(env_get(env, n, "GUARDIAN_SENDER_COMM"), "kill");
	assert_string_equal(env_get(env, n, "GUARDIAN_PIDS"), "412 413");
	assert_string_equal(env_get(env, n, "GUARDIAN_NAMESPACE"), "shop");
	assert_string_equal(env_get(env, n, "GUARDIAN_POD"), "cart-7f9");
	assert_string_equal(env_get(env, n, "GUARDIAN_CONTAINER"), "app");
	assert_null(env_get(env, n, "GUARDIAN_KUBERNETES")); /* a map: its parts only */
	hooks_env_free(env, n);

	assert_true(hooks_record_matches(rec, HOOK_ON_RESTART));
	assert_false(hooks_record_matches(rec, HOOK_ON_KILL));
	json_object_object_add(rec, "verdict", json_object_new_string("rate-limited"));
	assert_false(hooks_record_matches(rec, HOOK_ON_ALL)); /* held back: nothing happened */
	json_object_put(rec);

	rec = actionlog_record("web", NULL, "guardian", "throttle", "x");
	assert_false(hooks_record_matches(rec, HOOK_ON_ALL));
	json_object_put(rec);
	rec = actionlog_record("web", NULL, "hook", "hook", "exited with 0");
	assert_false(hooks_record_matches(rec, HOOK_ON_ALL)); /* a hook's record runs no hook */
	json_object_put(rec);
}

/* --- the runner on a real loop ------------------------------------------- */

#define MAX_SEEN 16

struct runner {
	char dir[256];
	struct loop *loop;
	struct actionlog *log;
	struct hooks *h;
	struct loop_source *deadline;
	struct json_object *seen[MAX_SEEN]; /* the "hook" records, in order */
	size_t n_seen, want_seen;
	bool done_called, want_done, cut_short;
	usec_t waited;
	unsigned n_hooks;
};

static void runner_maybe_quit(struct runner *t)
{
	if (t->n_seen >= t->want_seen && (!t->want_done || t->done_called))
		loop_quit(t->loop, 0);
}

static void collect(void *data, struct json_object *rec)
{
	struct runner *t = data;
	struct json_object *v;

	if (json_object_object_get_ex(rec, "action", &v) && strcmp(json_object_get_string(v), "hook") == 0 &&
	    t->n_seen < MAX_SEEN)
		t->seen[t->n_seen++] = json_object_get(rec);
	runner_maybe_quit(t);
}

static int on_deadline(struct loop_source *src, int fd, uint32_t revents, void *data)
{
	struct runner *t = data;

	loop_quit(t->loop, -ETIMEDOUT);
	return 0;
}

static void runner_start(struct runner *t, const struct hookset *daemon)
{
	*t = (struct runner){ 0 };
	tmptree_new(t->dir, sizeof(t->dir), "hooks");
	assert_int_equal(loop_new(&t->loop), 0);
	assert_int_equal(actionlog_open(t->dir, 0, 0, &t->log), 0);
	assert_int_equal(hooks_new(t->loop, t->log, NULL, daemon, &t->h), 0);
	assert_int_equal(actionlog_add_observer(t->log, hooks_on_record, t->h), 0);
	assert_int_equal(actionlog_add_observer(t->log, collect, t), 0);
}

/* Runs the loop until what is wanted came, or 30 s (a failure). */
static void runner_run(struct runner *t)
{
	assert_int_equal(loop_add_timer(t->loop, 30 * USEC_PER_SEC, on_deadline, t, &t->deadline), 0);
	assert_int_equal(loop_run(t->loop), 0);
	loop_source_freep(&t->deadline);
}

static void runner_stop(struct runner *t)
{
	hooks_free(t->h);
	actionlog_close(t->log);
	loop_free(t->loop);
	for (size_t i = 0; i < t->n_seen; i++)
		json_object_put(t->seen[i]);
	tmptree_remove(t->dir);
}

static const char *field(struct json_object *rec, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(rec, key, &v) ? json_object_get_string(v) : NULL;
}

static struct hook shell_hook(char **argv, unsigned on, usec_t timeout, unsigned max_per_minute, unsigned line)
{
	return (struct hook){ .command = argv, .on = on, .timeout = timeout, .max_per_minute = max_per_minute,
			      .line = line };
}

static void test_after_hooks_run_are_recorded_and_rate_limited(void **state)
{
	struct runner t;
	char script[800], out[600], text[256] = "";
	char *argv[] = { "/bin/sh", "-c", script, NULL };
	struct hook after;
	struct hookset hs = { .after = &after, .n_after = 1 };
	FILE *f;

	runner_start(&t, &hs);
	snprintf(out, sizeof(out), "%s/out", t.dir);
	snprintf(script, sizeof(script), "echo \"$GUARDIAN_SERVICE $GUARDIAN_ACTION $GUARDIAN_HOOK\" >> %s; exit 3", out);
	after = shell_hook(argv, HOOK_ON_KILL, 10 * USEC_PER_SEC, 2, 7);

	/* A restart is not what the hook is on; four kills, two of them over
	 * max_per_minute: the first over it is recorded, the next only counted. */
	assert_int_equal(actionlog_write(t.log, actionlog_record("web", "g/web", "engine", "restart", "r")), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(actionlog_write(t.log, actionlog_record("web", "g/web", "engine", "kill", "k")), 0);
	assert_int_equal(t.n_seen, 1);
	assert_string_equal(field(t.seen[0], "reason"), "skipped: over max_per_minute");
	assert_string_equal(field(t.seen[0], "for"), "kill");
	assert_string_equal(field(t.seen[0], "line"), "7");
	assert_string_equal(field(t.seen[0], "max_per_minute"), "2");

	t.want_seen = 3;
	runner_run(&t);
	for (size_t i = 1; i < 3; i++) {
		assert_string_equal(field(t.seen[i], "reason"), "exited with 3");
		assert_string_equal(field(t.seen[i], "exit_code"), "3");
		assert_string_equal(field(t.seen[i], "for"), "kill");
		assert_string_equal(field(t.seen[i], "phase"), "after");
		assert_string_equal(field(t.seen[i], "scope"), "daemon");
		assert_string_equal(field(t.seen[i], "service"), "web");
		assert_string_equal(field(t.seen[i], "timed_out"), "false");
		assert_non_null(field(t.seen[i], "duration_ms"));
	}
	f = fopen(out, "r");
	assert_non_null(f);
	assert_int_equal(fread(text, 1, sizeof(text) - 1, f) > 0, 1);
	fclose(f);
	assert_string_equal(text, "web kill after\nweb kill after\n");
	runner_stop(&t);
}

static void on_done(void *data, bool cut_short, usec_t waited, unsigned n_hooks)
{
	struct runner *t = data;

	t->done_called = true;
	t->cut_short = cut_short;
	t->waited = waited;
	t->n_hooks = n_hooks;
	runner_maybe_quit(t);
}

static void test_before_hook_that_exits_ends_the_wait(void **state)
{
	struct runner t;
	char *argv[] = { "/bin/sh", "-c", "exit 0", NULL };
	struct hook before = shell_hook(argv, HOOK_ON_KILL | HOOK_ON_RESTART, 5 * USEC_PER_SEC, 10, 3);
	struct hookset hs = { .before = &before, .n_before = 1 };
	struct json_object *rec;
	struct hooks_wait *w = NULL;

	runner_start(&t, &hs);
	rec = actionlog_record("web", "g/web", "engine", "restart", "r");
	assert_int_equal(hooks_before_timeout(t.h, NULL, "restart"), 5 * USEC_PER_SEC);
	assert_int_equal(hooks_before_timeout(t.h, NULL, "oom-kill"), 0);
	/* A budget far past the hook's run: only its exit can end the wait. */
	assert_int_equal(hooks_before(t.h, rec, NULL, 25 * USEC_PER_SEC, on_done, &t, &w), 0);
	t.want_seen = 1;
	t.want_done = true;
	runner_run(&t);
	assert_false(t.cut_short);
	assert_int_equal(t.n_hooks, 1);
	assert_true(t.waited < 25 * USEC_PER_SEC);
	assert_string_equal(field(t.seen[0], "phase"), "before");
	assert_string_equal(field(t.seen[0], "waited_for"), "true");
	assert_string_equal(field(t.seen[0], "exit_code"), "0");
	assert_string_equal(field(t.seen[0], "for"), "restart");
	json_object_put(rec);

	/* Nothing applies to an OOM kill: no wait, done is never called. */
	t.done_called = false;
	rec = actionlog_record("web", "g/web", "kernel", "oom-kill", "r");
	assert_int_equal(hooks_before(t.h, rec, NULL, USEC_PER_SEC, on_done, &t, &w), -ENOENT);
	assert_false(t.done_called);
	json_object_put(rec);
	runner_stop(&t);
}

static void test_before_hook_past_the_budget_is_cut_short_then_killed(void **state)
{
	struct runner t;
	char *argv[] = { "/bin/sh", "-c", "exec sleep 60", NULL };
	struct hook before = shell_hook(argv, HOOK_ON_KILL, 1500 * USEC_PER_MSEC, 10, 9);
	struct hookset hs = { .before = &before, .n_before = 1 };
	struct json_object *rec = actionlog_record("web", "g/web", "engine", "kill", "k");
	struct hooks_wait *w = NULL;

	runner_start(&t, &hs);
	assert_int_equal(hooks_before(t.h, rec, NULL, 200 * USEC_PER_MSEC, on_done, &t, &w), 0);
	/* The kill goes on at the budget, the hook runs on to its timeout. */
	t.want_done = true;
	runner_run(&t);
	assert_true(t.cut_short);
	assert_int_equal(t.n_hooks, 1);
	assert_true(t.waited >= 200 * USEC_PER_MSEC);
	assert_int_equal(t.n_seen, 0);

	t.want_seen = 1;
	runner_run(&t);
	assert_string_equal(field(t.seen[0], "reason"), "killed at its timeout");
	assert_string_equal(field(t.seen[0], "timed_out"), "true");
	assert_string_equal(field(t.seen[0], "signal"), "KILL");
	assert_string_equal(field(t.seen[0], "waited_for"), "false");
	assert_true(json_object_get_int64(json_object_object_get(t.seen[0], "duration_ms")) >= 1500);
	json_object_put(rec);
	runner_stop(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hooks_parsed_with_user_resolved_and_defaults),
		cmocka_unit_test(test_watched_instances_carry_their_hooks),
		cmocka_unit_test(test_bad_hooks_refused_at_file_line_key),
		cmocka_unit_test(test_daemon_hooks_file_loads_and_reports_its_errors),
		cmocka_unit_test(test_environment_carries_the_records_fields),
		cmocka_unit_test(test_after_hooks_run_are_recorded_and_rate_limited),
		cmocka_unit_test(test_before_hook_that_exits_ends_the_wait),
		cmocka_unit_test(test_before_hook_past_the_budget_is_cut_short_then_killed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
