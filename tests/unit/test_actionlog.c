/* test_actionlog.c: what readers of actions.jsonl rely on: one complete
 * JSON object per line with the common keys, rotation keeping N files;
 * and what the loop relies on: a write never waits for the disk's sync. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/resource.h>
#include <signal.h>
#include <pthread.h>
#include <time.h>

#include "actionlog.h"
#include "tmptree.h"

static char dir[256];

static int setup(void **state)
{
	tmptree_new(dir, sizeof(dir), "actionlog");
	return 0;
}

static int teardown(void **state)
{
	tmptree_remove(dir);
	return 0;
}

static struct json_object *read_line(const char *path, int index)
{
	char line[4096];
	FILE *f = fopen(path, "r");
	struct json_object *o = NULL;

	assert_non_null(f);
	for (int i = 0; fgets(line, sizeof(line), f); i++) {
		if (i != index)
			continue;
		assert_int_equal(line[strlen(line) - 1], '\n');
		o = json_tokener_parse(line);
		break;
	}
	fclose(f);
	return o;
}

static void record_is_one_line_with_the_common_keys(void **state)
{
	struct actionlog *a;
	struct json_object *rec, *got, *v;
	pid_t pids[] = { 42, 43 };
	char path[PATH_MAX];

	assert_int_equal(actionlog_open(dir, 0, 0, &a), 0);
	rec = actionlog_record("web", "/guardian.slice/web.service", "guardian", "kill",
			       "still running 10.0s after SIGTERM (stop.timeout)");
	actionlog_add_pids(rec, pids, 2);
	json_object_object_add(rec, "signal", json_object_new_string("KILL"));
	assert_int_equal(actionlog_write(a, rec), 0);
	snprintf(path, sizeof(path), "%s/actions.jsonl", dir);
	assert_string_equal(actionlog_path(a), path);
	actionlog_close(a);

	got = read_line(path, 0);
	assert_non_null(got);
	assert_true(json_object_object_get_ex(got, "time", &v));
	/* RFC 3339 UTC with milliseconds: 2026-11-23T11:29:10.832Z */
	assert_int_equal(strlen(json_object_get_string(v)), 24);
	assert_int_equal(json_object_get_string(v)[23], 'Z');
	assert_true(json_object_object_get_ex(got, "service", &v));
	assert_string_equal(json_object_get_string(v), "web");
	assert_true(json_object_object_get_ex(got, "source", &v));
	assert_string_equal(json_object_get_string(v), "guardian");
	assert_true(json_object_object_get_ex(got, "pids", &v));
	assert_int_equal(json_object_array_length(v), 2);
	assert_int_equal(json_object_get_int(json_object_array_get_idx(v, 1)), 43);
	json_object_put(got);
}

static void records_append_across_reopen(void **state)
{
	struct actionlog *a;
	char path[PATH_MAX];

	for (int i = 0; i < 2; i++) {
		assert_int_equal(actionlog_open(dir, 0, 0, &a), 0);
		assert_int_equal(actionlog_write(a, actionlog_record(NULL, NULL, "kernel", "oom-kill", "x")), 0);
		actionlog_close(a);
	}
	snprintf(path, sizeof(path), "%s/actions.jsonl", dir);
	struct json_object *second = read_line(path, 1);
	assert_non_null(second);
	json_object_put(second);
}

static void rotation_keeps_the_configured_number_of_files(void **state)
{
	struct actionlog *a;
	char path[PATH_MAX];
	struct stat st;

	/* Every record is over 100 bytes: each write after the first rotates. */
	assert_int_equal(actionlog_open(dir, 100, 2, &a), 0);
	for (int i = 0; i < 5; i++)
		assert_int_equal(actionlog_write(a, actionlog_record("svc", "/cg", "guardian", "restart",
								      "a reason long enough to pass 100 bytes")), 0);
	actionlog_close(a);
	snprintf(path, sizeof(path), "%s/actions.jsonl.1", dir);
	assert_int_equal(stat(path, &st), 0);
	snprintf(path, sizeof(path), "%s/actions.jsonl.2", dir);
	assert_int_equal(stat(path, &st), 0);
	snprintf(path, sizeof(path), "%s/actions.jsonl.3", dir);
	assert_int_equal(stat(path, &st), -1);
	/* The current file holds only the newest record, whole. */
	snprintf(path, sizeof(path), "%s/actions.jsonl", dir);
	struct json_object *last = read_line(path, 0);
	assert_non_null(last);
	json_object_put(last);
	assert_null(read_line(path, 1));
}

/* A rotation that cannot rename (here: a directory with something in it
 * stands where actions.jsonl.1 goes) loses no record: they go on to the
 * current file, and the rotation is tried again at each record. */
static void records_survive_a_rotation_that_fails(void **state)
{
	struct actionlog *a;
	char path[PATH_MAX], blocker[PATH_MAX + 16];
	struct json_object *rec;

	snprintf(path, sizeof(path), "%s/actions.jsonl.1", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(blocker, sizeof(blocker), "%s/x", path);
	tmptree_write(blocker, "in the way\n");
	assert_int_equal(actionlog_open(dir, 100, 1, &a), 0);
	for (int i = 0; i < 3; i++)
		(void)actionlog_write(a, actionlog_record("svc", "/cg", "guardian", "restart",
							   "a reason long enough to pass 100 bytes"));
	/* Written (the writer is behind the loop): none of them rotated. */
	assert_int_equal(actionlog_flush(a), 0);
	assert_int_equal(actionlog_lost(a), 0);
	/* The way is clear again: the next record rotates. */
	assert_int_equal(unlink(blocker), 0);
	assert_int_equal(rmdir(path), 0);
	assert_int_equal(actionlog_write(a, actionlog_record("svc", "/cg", "guardian", "kill", "the fourth")), 0);
	actionlog_close(a);
	for (int i = 0; i < 3; i++) {
		rec = read_line(path, i);
		assert_non_null(rec);
		json_object_put(rec);
	}
	assert_null(read_line(path, 3));
	snprintf(path, sizeof(path), "%s/actions.jsonl", dir);
	rec = read_line(path, 0);
	assert_non_null(rec);
	assert_string_equal(json_object_get_string(json_object_object_get(rec, "reason")), "the fourth");
	json_object_put(rec);
}

/* A full disk that takes part of a record: the partial line is cut off,
 * the next record is whole and on a line of its own, and the loss is
 * counted. RLIMIT_FSIZE plays the full disk (in a child, SIGXFSZ ignored):
 * the kernel writes what fits under it, then refuses the rest. */
static void a_record_cut_short_by_a_full_disk_leaves_no_partial_line(void **state)
{
	char path[PATH_MAX];
	struct stat st;
	pid_t pid;
	int status;

	snprintf(path, sizeof(path), "%s/actions.jsonl", dir);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct actionlog *a;
		struct rlimit rl;

		signal(SIGXFSZ, SIG_IGN);
		if (actionlog_open(dir, 0, 0, &a) < 0 ||
		    actionlog_write(a, actionlog_record("svc", "/cg", "guardian", "restart", "the first, whole")) < 0 ||
		    actionlog_flush(a) < 0 || stat(path, &st) < 0)
			_exit(1);
		rl = (struct rlimit){ .rlim_cur = (rlim_t)st.st_size + 40, .rlim_max = RLIM_INFINITY };
		if (setrlimit(RLIMIT_FSIZE, &rl) < 0)
			_exit(2);
		/* Queued at once; the writer's failure shows at the flush. */
		if (actionlog_write(a, actionlog_record("svc", "/cg", "guardian", "kill", "cut short by the full disk")) < 0)
			_exit(3);
		if (actionlog_flush(a) != -EFBIG)
			_exit(6); /* it must say the record was not written */
		if (actionlog_lost(a) != 1)
			_exit(4);
		rl.rlim_cur = RLIM_INFINITY;
		if (setrlimit(RLIMIT_FSIZE, &rl) < 0 ||
		    actionlog_write(a, actionlog_record("svc", "/cg", "guardian", "restart", "the third, whole")) < 0)
			_exit(5);
		actionlog_close(a);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	for (int i = 0; i < 2; i++) {
		struct json_object *rec = read_line(path, i);

		assert_non_null(rec); /* each line parses */
		assert_string_equal(json_object_get_string(json_object_object_get(rec, "reason")),
				    i == 0 ? "the first, whole" : "the third, whole");
		json_object_put(rec);
	}
	assert_null(read_line(path, 2));
}

/* ---- a sync that stalls (a disk under memory pressure) ---- */

/* Far above any wait here, even under sanitizers on a loaded machine. */
#define GATE_WAIT_S 10

struct gate {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned syncs;  /* calls so far */
	bool in_sync;    /* a call is inside, held */
	bool released;   /* calls go through from now on */
	bool timed_out;  /* a call gave up waiting for the release */
};

static void gate_init(struct gate *g)
{
	*g = (struct gate){ 0 };
	pthread_mutex_init(&g->lock, NULL);
	pthread_cond_init(&g->cond, NULL);
}

static struct timespec gate_deadline(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += GATE_WAIT_S;
	return ts;
}

/* The writer's sync: held until the test releases it. */
static int held_sync(int fd, void *data)
{
	struct gate *g = data;
	struct timespec until = gate_deadline();

	pthread_mutex_lock(&g->lock);
	g->syncs++;
	g->in_sync = true;
	pthread_cond_broadcast(&g->cond);
	while (!g->released && !g->timed_out)
		if (pthread_cond_timedwait(&g->cond, &g->lock, &until) == ETIMEDOUT)
			g->timed_out = true;
	g->in_sync = false;
	pthread_mutex_unlock(&g->lock);
	return fdatasync(fd) < 0 ? -errno : 0;
}

/* Waits until the writer is held inside its sync. */
static void gate_wait_held(struct gate *g)
{
	struct timespec until = gate_deadline();

	pthread_mutex_lock(&g->lock);
	while (!g->in_sync)
		assert_int_equal(pthread_cond_timedwait(&g->cond, &g->lock, &until), 0);
	pthread_mutex_unlock(&g->lock);
}

static bool gate_held(struct gate *g)
{
	bool held;

	pthread_mutex_lock(&g->lock);
	held = g->in_sync && !g->timed_out;
	pthread_mutex_unlock(&g->lock);
	return held;
}

static void gate_release(struct gate *g)
{
	pthread_mutex_lock(&g->lock);
	g->released = true;
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->lock);
}

static unsigned gate_syncs(struct gate *g)
{
	unsigned n;

	pthread_mutex_lock(&g->lock);
	n = g->syncs;
	pthread_mutex_unlock(&g->lock);
	return n;
}

/* How many lines, each a whole record. */
static int count_lines(const char *path)
{
	char line[4096];
	FILE *f = fopen(path, "r");
	int n = 0;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		struct json_object *o = json_tokener_parse(line);

		assert_int_equal(line[strlen(line) - 1], '\n');
		assert_non_null(o);
		json_object_put(o);
		n++;
	}
	fclose(f);
	return n;
}

static struct json_object *rec_n(int i)
{
	char why[32];

	snprintf(why, sizeof(why), "record %d", i);
	return actionlog_record("svc", "/cg", "guardian", "restart", why);
}

/* While the sync of one record is stuck, the next record is taken at once:
 * the loop goes on acting. The first is already in the file (readers see
 * it) before its sync returns. */
static void a_write_returns_while_the_sync_is_stalled(void **state)
{
	struct actionlog *a;
	struct gate g;
	char path[PATH_MAX];
	struct json_object *o;

	gate_init(&g);
	snprintf(path, sizeof(path), "%s/actions.jsonl", dir);
	assert_int_equal(actionlog_open(dir, 0, 0, &a), 0);
	actionlog_set_sync(a, held_sync, &g);
	assert_int_equal(actionlog_write(a, rec_n(0)), 0);
	gate_wait_held(&g);
	o = read_line(path, 0);
	assert_non_null(o);
	json_object_put(o);

	/* Were the write to wait for the sync, the sync would give up after
	 * GATE_WAIT_S and the gate would no longer be held here. */
	assert_int_equal(actionlog_write(a, rec_n(1)), 0);
	assert_true(gate_held(&g));
	assert_int_equal(actionlog_lost(a), 0);

	gate_release(&g);
	assert_int_equal(actionlog_flush(a), 0);
	assert_int_equal(gate_syncs(&g), 2); /* the second record was synced too */
	assert_int_equal(count_lines(path), 2);
	actionlog_close(a);
}

/* Shutdown: records queued behind a stalled sync are written and synced
 * before close returns. */
static void close_writes_what_waits_behind_a_stalled_sync(void **state)
{
	struct actionlog *a;
	struct gate g;
	char path[PATH_MAX];

	gate_init(&g);
	snprintf(path, sizeof(path), "%s/actions.jsonl", dir);
	assert_int_equal(actionlog_open(dir, 0, 0, &a), 0);
	actionlog_set_sync(a, held_sync, &g);
	assert_int_equal(actionlog_write(a, rec_n(0)), 0);
	gate_wait_held(&g);
	assert_int_equal(actionlog_write(a, rec_n(1)), 0);
	assert_int_equal(actionlog_write(a, rec_n(2)), 0);
	assert_int_equal(count_lines(path), 1);
	gate_release(&g);
	actionlog_close(a);
	assert_int_equal(count_lines(path), 3);
	assert_int_equal(gate_syncs(&g), 2);
}

/* A disk that takes nothing for long: the queue is bounded, records past
 * it are counted lost (action_log_lost in the status) instead of the loop
 * waiting or guardian's memory growing; once the disk is back, records
 * are taken again and every line is whole. */
static void a_full_queue_loses_and_counts_records_instead_of_waiting(void **state)
{
	struct actionlog *a;
	struct gate g;
	char path[PATH_MAX];
	int queued = 0, r = 0;

	gate_init(&g);
	snprintf(path, sizeof(path), "%s/actions.jsonl", dir);
	assert_int_equal(actionlog_open(dir, 0, 0, &a), 0);
	actionlog_set_sync(a, held_sync, &g);
	assert_int_equal(actionlog_write(a, rec_n(0)), 0);
	gate_wait_held(&g);
	while (queued < 100000 && (r = actionlog_write(a, rec_n(queued + 1))) == 0)
		queued++;
	assert_int_equal(r, -ENOBUFS);
	assert_true(queued > 100);
	assert_true(gate_held(&g));
	assert_int_equal(actionlog_lost(a), 1);

	gate_release(&g);
	assert_int_equal(actionlog_flush(a), 0);
	assert_int_equal(actionlog_write(a, rec_n(-1)), 0);
	assert_int_equal(actionlog_flush(a), 0);
	assert_int_equal(actionlog_lost(a), 1);
	actionlog_close(a);
	assert_int_equal(count_lines(path), 1 + queued + 1);
}

/* The journal entry of a record: what `journalctl MESSAGE_ID=...
 * GUARDIAN_SERVICE=...` users query. */
static const char *entry_field(const struct actionlog_journal_entry *e, const char *name)
{
	const struct iovec *iov;
	size_t n = actionlog_journal_entry_fields(e, &iov), len = strlen(name);
	const char *found = NULL;

	for (size_t i = 0; i < n; i++) {
		const char *f = iov[i].iov_base;

		if (iov[i].iov_len > len && strncmp(f, name, len) == 0 && f[len] == '=') {
			assert_null(found); /* every field once */
			found = f + len + 1;
		}
	}
	return found;
}

static void a_record_is_a_journal_entry_with_its_kind_and_figures(void **state)
{
	struct json_object *rec = actionlog_record("web", "/guardian/web.service", "engine", "restart",
						   "working set 900M above 800M");
	struct actionlog_journal_entry *e;
	pid_t pids[] = { 41, 42 };

	json_object_object_add(rec, "rule", json_object_new_string("leak"));
	json_object_object_add(rec, "working_set", json_object_new_uint64(943718400));
	json_object_object_add(rec, "verdict", json_object_new_string("act"));
	json_object_object_add(rec, "step", NULL);
	actionlog_add_pids(rec, pids, 2);
	e = actionlog_journal_entry(rec);
	assert_non_null(e);
	assert_string_equal(entry_field(e, "MESSAGE_ID"), ACTIONLOG_MID_RESTART);
	assert_string_equal(entry_field(e, "PRIORITY"), "4");
	assert_string_equal(entry_field(e, "SYSLOG_IDENTIFIER"), "guardian");
	assert_string_equal(entry_field(e, "MESSAGE"), "web: restart: working set 900M above 800M");
	assert_string_equal(entry_field(e, "GUARDIAN_SERVICE"), "web");
	assert_string_equal(entry_field(e, "GUARDIAN_CGROUP"), "/guardian/web.service");
	assert_string_equal(entry_field(e, "GUARDIAN_SOURCE"), "engine");
	assert_string_equal(entry_field(e, "GUARDIAN_ACTION"), "restart");
	assert_string_equal(entry_field(e, "GUARDIAN_RULE"), "leak");
	assert_string_equal(entry_field(e, "GUARDIAN_WORKING_SET"), "943718400");
	assert_string_equal(entry_field(e, "GUARDIAN_PIDS"), "[41,42]");
	assert_null(entry_field(e, "GUARDIAN_STEP")); /* null: left out */
	assert_null(entry_field(e, "GUARDIAN_TIME")); /* the entry has its own */
	actionlog_journal_entry_free(e);
	json_object_put(rec);
}

static void each_kind_has_its_id_and_one_not_carried_out_has_the_other(void **state)
{
	static const struct {
		const char *action, *verdict, *id, *prio;
	} cases[] = {
		{ "kill", NULL, ACTIONLOG_MID_KILL, "4" },
		{ "oom-kill", NULL, ACTIONLOG_MID_OOM_KILL, "4" },
		{ "signal", NULL, ACTIONLOG_MID_SIGNAL, "4" },
		{ "give-up", NULL, ACTIONLOG_MID_GIVE_UP, "3" },
		{ "throttle", "act", ACTIONLOG_MID_THROTTLE, "5" },
		{ "stop", NULL, ACTIONLOG_MID_OTHER, "5" },
		{ "kill", "dry-run", ACTIONLOG_MID_OTHER, "6" },
		{ "restart", "rate-limited", ACTIONLOG_MID_OTHER, "6" },
		{ "follow-up", NULL, ACTIONLOG_MID_OTHER, "6" },
	};
	const char *ids[] = { ACTIONLOG_MID_KILL, ACTIONLOG_MID_RESTART, ACTIONLOG_MID_OOM_KILL,
			      ACTIONLOG_MID_SIGNAL, ACTIONLOG_MID_GIVE_UP, ACTIONLOG_MID_THROTTLE,
			      ACTIONLOG_MID_OTHER };

	for (size_t i = 0; i < ARRAY_SIZE(ids); i++) {
		assert_int_equal(strlen(ids[i]), 32);
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(ids[i], ids[j]);
	}
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct json_object *rec = actionlog_record(NULL, NULL, "guardian", cases[i].action, NULL);
		struct actionlog_journal_entry *e;
		char msg[64];

		if (cases[i].verdict)
			json_object_object_add(rec, "verdict", json_object_new_string(cases[i].verdict));
		e = actionlog_journal_entry(rec);
		assert_non_null(e);
		assert_string_equal(entry_field(e, "MESSAGE_ID"), cases[i].id);
		assert_string_equal(entry_field(e, "PRIORITY"), cases[i].prio);
		snprintf(msg, sizeof(msg), "(no service): %s", cases[i].action);
		assert_string_equal(entry_field(e, "MESSAGE"), msg);
		actionlog_journal_entry_free(e);
		json_object_put(rec);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(record_is_one_line_with_the_common_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(records_append_across_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(rotation_keeps_the_configured_number_of_files, setup, teardown),
		cmocka_unit_test_setup_teardown(records_survive_a_rotation_that_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(a_record_cut_short_by_a_full_disk_leaves_no_partial_line, setup, teardown),
		cmocka_unit_test_setup_teardown(a_write_returns_while_the_sync_is_stalled, setup, teardown),
		cmocka_unit_test_setup_teardown(close_writes_what_waits_behind_a_stalled_sync, setup, teardown),
		cmocka_unit_test_setup_teardown(a_full_queue_loses_and_counts_records_instead_of_waiting, setup, teardown),
		cmocka_unit_test(a_record_is_a_journal_entry_with_its_kind_and_figures),
		cmocka_unit_test(each_kind_has_its_id_and_one_not_carried_out_has_the_other),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
