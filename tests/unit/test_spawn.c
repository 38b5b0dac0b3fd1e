/* test_spawn.c: a spawn runs the service with the uid, gid and groups its
 * policy's load resolved, and asks NSS nothing on the way: the lookups
 * answer from fakenss.c and are counted, and the child's own
 * /proc/self/status says what the kernel gave it. Needs root (setresuid). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fakenss.h"
#include "policy.h"
#include "spawn.h"
#include "tmptree.h"

static struct policy *load(const char *yaml)
{
	struct diag d = { 0 };
	struct policy *p = NULL;
	int r = policy_load_buffer("svc.yaml", yaml, strlen(yaml), &p, &d);

	for (size_t i = 0; i < d.n; i++)
		print_message("  %s\n", d.msgs[i]);
	diag_free(&d);
	assert_int_equal(r, 0);
	return p;
}

/* The ids of one status line ("Uid:\t4242\t4242..." or "Groups:\t4 4343"),
 * as text with single spaces. */
static void status_line(const char *status, const char *key, char *buf, size_t len)
{
	const char *at = strstr(status, key);
	size_t n = 0;

	assert_non_null(at);
	at += strlen(key);
	for (; *at && *at != '\n' && n + 1 < len; at++) {
		bool space = *at == ' ' || *at == '\t';

		if (space && (n == 0 || buf[n - 1] == ' '))
			continue;
		buf[n++] = space ? ' ' : *at;
	}
	if (n && buf[n - 1] == ' ')
		n--;
	buf[n] = '\0';
}

struct seen {
	char uid[64], gid[64], groups[256];
	unsigned nss_calls; /* lookups made by spawn_in_cgroup */
};

/* Spawn cat /proc/self/status the way a service is spawned, wait for it,
 * and read back what it ran as. */
static void spawn_and_read(const struct policy *p, struct seen *ret)
{
	char *const argv[] = { "cat", "/proc/self/status", NULL };
	char dir[256], path[300], status[8192];
	struct spawn_result sr;
	struct spawn_failure f;
	unsigned before;
	ssize_t n;
	int out, st;

	tmptree_new(dir, sizeof(dir), "spawn");
	snprintf(path, sizeof(path), "%s/status", dir);
	out = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(out >= 0);
	before = fakenss_calls;
	assert_int_equal(spawn_in_cgroup(p, argv, -1, out, &sr), 0);
	ret->nss_calls = fakenss_calls - before;
	n = read(sr.exec_pipe, &f, sizeof(f));
	if (n == (ssize_t)sizeof(f))
		print_message("  child failed at %s: %s\n", spawn_stage_to_string(f.stage), strerror(f.err));
	assert_int_equal(n, 0); /* EOF: the exec happened */
	assert_int_equal(waitpid(sr.pid, &st, 0), sr.pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	close(sr.exec_pipe);
	close(sr.pidfd);
	n = pread(out, status, sizeof(status) - 1, 0);
	assert_true(n > 0);
	status[n] = '\0';
	close(out);
	tmptree_remove(dir);
	status_line(status, "\nUid:", ret->uid, sizeof(ret->uid));
	status_line(status, "\nGid:", ret->gid, sizeof(ret->gid));
	status_line(status, "\nGroups:", ret->groups, sizeof(ret->groups));
}

static void need_root(void)
{
	if (geteuid() != 0) {
		print_message("  needs root to change ids; skipped\n");
		skip();
	}
}

static void test_user_resolved_at_load_and_spawned_without_nss(void **state)
{
	unsigned before = fakenss_calls;
	struct policy *p = load("service: svc\ncommand: [cat]\nuser: svc\n");
	struct seen s;

	need_root();
	/* The load asked: svc is 4242, its own group 4242, and listed in
	 * adm (4) and svc-extra (4343), which only fakenss knows. */
	assert_true(fakenss_calls > before);
	assert_true(p->cred.set);
	assert_int_equal(p->cred.uid, 4242);
	assert_int_equal(p->cred.gid, 4242);
	assert_int_equal(p->cred.n_groups, 3);
	assert_string_equal(p->cred.home, "/");
	spawn_and_read(p, &s);
	assert_int_equal(s.nss_calls, 0);
	assert_string_equal(s.uid, "4242 4242 4242 4242");
	assert_string_equal(s.gid, "4242 4242 4242 4242");
	assert_string_equal(s.groups, "4 4242 4343"); /* the kernel sorts them */
	policy_free(p);
}

static void test_user_and_group_spawn_with_that_group_and_the_users_list(void **state)
{
	struct policy *p = load("service: svc\ncommand: [cat]\nuser: svc\ngroup: svc-extra\n");
	struct seen s;

	need_root();
	spawn_and_read(p, &s);
	assert_int_equal(s.nss_calls, 0);
	assert_string_equal(s.uid, "4242 4242 4242 4242");
	assert_string_equal(s.gid, "4343 4343 4343 4343");
	/* initgroups(svc, 4343): the groups listing svc, and 4343; not 4242,
	 * its primary group, which lists nobody. */
	assert_string_equal(s.groups, "4 4343");
	policy_free(p);
}

static void test_group_only_keeps_guardians_uid_and_drops_supplementary_groups(void **state)
{
	struct policy *p = load("service: svc\ncommand: [cat]\ngroup: adm\n");
	struct seen s;
	char uid[64];

	need_root();
	spawn_and_read(p, &s);
	assert_int_equal(s.nss_calls, 0);
	snprintf(uid, sizeof(uid), "%u %u %u %u", getuid(), getuid(), getuid(), getuid());
	assert_string_equal(s.uid, uid);
	assert_string_equal(s.gid, "4 4 4 4");
	assert_string_equal(s.groups, "");
	policy_free(p);
}

/* A changed user database reaches a service through a load (start or
 * reload), not through its next spawn: the ids are the policy's. */
static void test_spawn_uses_the_policys_ids_not_the_name(void **state)
{
	struct policy *p = load("service: svc\ncommand: [cat]\nuser: svc\n");
	struct seen s;
	gid_t groups[] = { 4 };

	need_root();
	free(p->user);
	p->user = strdup("no-such-user-anywhere");
	p->cred.uid = 4300;
	p->cred.gid = 4301;
	memcpy(p->cred.groups, groups, sizeof(groups));
	p->cred.n_groups = 1;
	spawn_and_read(p, &s);
	assert_int_equal(s.nss_calls, 0);
	assert_string_equal(s.uid, "4300 4300 4300 4300");
	assert_string_equal(s.gid, "4301 4301 4301 4301");
	assert_string_equal(s.groups, "4");
	policy_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_user_resolved_at_load_and_spawned_without_nss),
		cmocka_unit_test(test_user_and_group_spawn_with_that_group_and_the_users_list),
		cmocka_unit_test(test_group_only_keeps_guardians_uid_and_drops_supplementary_groups),
		cmocka_unit_test(test_spawn_uses_the_policys_ids_not_the_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
