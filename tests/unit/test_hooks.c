/* test_hooks.c: the hooks: section (keys, defaults, errors at file:line:key,
 * the hook's user resolved at load), the daemon-wide hooks file, and the
 * environment a hook gets from its record. */
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hooks_parsed_with_user_resolved_and_defaults),
		cmocka_unit_test(test_watched_instances_carry_their_hooks),
		cmocka_unit_test(test_bad_hooks_refused_at_file_line_key),
		cmocka_unit_test(test_daemon_hooks_file_loads_and_reports_its_errors),
		cmocka_unit_test(test_environment_carries_the_records_fields),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
