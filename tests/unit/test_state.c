/* test_state.c: <state-dir>/state.json, what a guardian restart keeps:
 * restart counters, the restart ring, the last exit, whether a service
 * was stopped by command or gave up. Real supervisors on a fake cgroup
 * tree (a temp directory) save and load it; a file from another boot is
 * ignored; a corrupt one is an error and changes nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

#include "log.h"
#include "tmptree.h"
#include "supervisor.h"

#define BOOT_ONE "3d4b6b1e-5c8a-4a31-9a0e-6f1f2b7c0001"
#define BOOT_TWO "3d4b6b1e-5c8a-4a31-9a0e-6f1f2b7c0002"

static const char web_yaml[] =
	"service: web\n"
	"command: [/bin/true]\n"
	"restart: {give_up: {restarts: 3, within: 5m}}\n";
static const char worker_yaml[] =
	"service: worker\n"
	"command: [/bin/true]\n";

struct fixture {
	char root[256];
	char cgroot[300], proc[300], state[300], boot_id[400], state_file[350];
	struct cgfs cg;
	struct loop *loop;
};

static char *read_file(const char *path)
{
	char *text = NULL;
	size_t len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(read_full(fd, 1 << 20, &text, &len), 0);
	close(fd);
	return text;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char path[512];

	if (!f)
		return -1;
	tmptree_new(f->root, sizeof(f->root), "state");
	snprintf(f->cgroot, sizeof(f->cgroot), "%s/cgroup", f->root);
	snprintf(f->proc, sizeof(f->proc), "%s/proc", f->root);
	snprintf(f->state, sizeof(f->state), "%s/state", f->root);
	snprintf(f->state_file, sizeof(f->state_file), "%s/state.json", f->state);
	snprintf(f->boot_id, sizeof(f->boot_id), "%s/sys/kernel/random/boot_id", f->proc);

	/* A cgroup root whose services' parent offers every controller and
	 * has them enabled already (so supervisor_new writes nothing). */
	tmptree_mkdir(f->cgroot);
	snprintf(path, sizeof(path), "%s/guardian.slice", f->cgroot);
	tmptree_mkdir(path);
	snprintf(path, sizeof(path), "%s/guardian.slice/cgroup.controllers", f->cgroot);
	tmptree_write(path, "cpu io memory pids\n");
	snprintf(path, sizeof(path), "%s/guardian.slice/cgroup.subtree_control", f->cgroot);
	tmptree_write(path, "cpu io memory pids\n");

	tmptree_mkdir(f->proc);
	snprintf(path, sizeof(path), "%s/sys", f->proc);
	tmptree_mkdir(path);
	snprintf(path, sizeof(path), "%s/sys/kernel", f->proc);
	tmptree_mkdir(path);
	snprintf(path, sizeof(path), "%s/sys/kernel/random", f->proc);
	tmptree_mkdir(path);
	tmptree_write(f->boot_id, BOOT_ONE "\n");

	tmptree_mkdir(f->state);
	if (cgfs_open(f->cgroot, &f->cg) < 0 || loop_new(&f->loop) < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	loop_free(f->loop);
	cgfs_close(&f->cg);
	tmptree_remove(f->root);
	free(f);
	return 0;
}

static struct policy *load_policy(const char *yaml)
{
	struct policy *p = NULL;

	assert_int_equal(policy_load_buffer("test.yaml", yaml, strlen(yaml), &p, NULL), 0);
	return p;
}

/* What guardian does at start: a supervisor with the policies, nothing started. */
static struct supervisor *new_supervisor(struct fixture *f, bool with_worker)
{
	struct supervisor_config cfg = {
		.state_dir = f->state,
		.cgroup_parent = "/guardian.slice",
		.proc_root = f->proc,
	};
	struct supervisor *s = NULL;

	assert_int_equal(supervisor_new(f->loop, &f->cg, &cfg, &s), 0);
	assert_int_equal(supervisor_add(s, load_policy(web_yaml), NULL), 0);
	if (with_worker)
		assert_int_equal(supervisor_add(s, load_policy(worker_yaml), NULL), 0);
	return s;
}

static struct service *web(struct supervisor *s)
{
	struct service *svc = supervisor_find(s, "web");

	assert_non_null(svc);
	return svc;
}

static struct service *worker(struct supervisor *s)
{
	struct service *svc = supervisor_find(s, "worker");

	assert_non_null(svc);
	return svc;
}

/* A life worth remembering: restarted, failing, killed by a signal. */
static void live_a_little(struct service *svc)
{
	assert_int_equal(svc->restart_ring_len, 3);
	svc->want_running = true;
	svc->state = SVC_BACKOFF;
	svc->restarts = 7;
	svc->failures_in_row = 2;
	svc->started_mono = 123456789;
	svc->started_real = 1700000000123456ULL;
	svc->restart_times[0] = 1000;
	svc->restart_times[1] = 2000;
	svc->restart_times[2] = 3000;
	svc->restart_times[3] = 4000;
	svc->last_exit = (struct service_exit){ .cause = EXIT_SIGNAL, .code = 9, .at = 1700000000999999ULL };
}

/* Nothing of state.json reached svc: it is as supervisor_add made it. */
static void assert_untouched(const struct service *svc)
{
	assert_false(svc->state_loaded);
	assert_false(svc->want_running);
	assert_int_equal(svc->state, SVC_STOPPED);
	assert_int_equal(svc->restarts, 0);
	assert_int_equal(svc->failures_in_row, 0);
	assert_int_equal(svc->started_mono, 0);
	assert_int_equal(svc->started_real, 0);
	for (unsigned i = 0; i <= svc->restart_ring_len; i++)
		assert_int_equal(svc->restart_times[i], 0);
	assert_int_equal(svc->last_exit.cause, EXIT_NONE);
	assert_int_equal(svc->last_exit.code, 0);
	assert_int_equal(svc->last_exit.at, 0);
}

/* --- the tests ------------------------------------------------------- */

static void test_counters_ring_and_last_exit_survive_a_guardian_restart(void **state)
{
	struct fixture *f = *state;
	struct supervisor *before = new_supervisor(f, false), *after;
	struct service *svc;

	live_a_little(web(before));
	assert_int_equal(supervisor_save_state(before), 0);
	supervisor_free(before);

	after = new_supervisor(f, false);
	assert_untouched(web(after));
	assert_int_equal(supervisor_load_state(after), 0);
	svc = web(after);
	assert_true(svc->state_loaded);
	assert_true(svc->want_running);
	assert_int_equal(svc->state, SVC_STOPPED); /* not gave up: started as usual */
	assert_int_equal(svc->restarts, 7);
	assert_int_equal(svc->failures_in_row, 2);
	assert_int_equal(svc->started_mono, 123456789);
	assert_int_equal(svc->started_real, 1700000000123456ULL);
	assert_int_equal(svc->restart_times[0], 1000);
	assert_int_equal(svc->restart_times[1], 2000);
	assert_int_equal(svc->restart_times[2], 3000);
	assert_int_equal(svc->restart_times[3], 4000);
	assert_int_equal(svc->last_exit.cause, EXIT_SIGNAL);
	assert_int_equal(svc->last_exit.code, 9);
	assert_int_equal(svc->last_exit.at, 1700000000999999ULL);
	supervisor_free(after);
}

static void test_every_exit_cause_round_trips_with_its_code(void **state)
{
	struct fixture *f = *state;

	for (int cause = EXIT_NONE; cause < _EXIT_CAUSE_MAX; cause++) {
		struct supervisor *before = new_supervisor(f, false), *after;

		web(before)->last_exit = (struct service_exit){ .cause = cause, .code = 10 * cause + 1, .at = 42 + cause };
		assert_int_equal(supervisor_save_state(before), 0);
		supervisor_free(before);
		after = new_supervisor(f, false);
		assert_int_equal(supervisor_load_state(after), 0);
		assert_int_equal(web(after)->last_exit.cause, cause);
		assert_int_equal(web(after)->last_exit.code, 10 * cause + 1);
		assert_int_equal(web(after)->last_exit.at, 42 + cause);
		supervisor_free(after);
	}
}

/* The counters are unsigned: past 2^31 they must not come back as 0
 * (written as a negative int, read as an unsigned one). */
static void test_counters_past_int_max_survive_a_guardian_restart(void **state)
{
	struct fixture *f = *state;
	struct supervisor *before = new_supervisor(f, false), *after;

	live_a_little(web(before));
	web(before)->restarts = 3000000000u;
	web(before)->failures_in_row = UINT32_MAX;
	assert_int_equal(supervisor_save_state(before), 0);
	supervisor_free(before);

	after = new_supervisor(f, false);
	assert_int_equal(supervisor_load_state(after), 0);
	assert_int_equal(web(after)->restarts, 3000000000u);
	assert_int_equal(web(after)->failures_in_row, UINT32_MAX);
	supervisor_free(after);
}

static void test_each_service_gets_its_own_state_back(void **state)
{
	struct fixture *f = *state;
	struct supervisor *before = new_supervisor(f, true), *after;

	live_a_little(web(before));
	worker(before)->want_running = true;
	worker(before)->restarts = 1;
	worker(before)->last_exit = (struct service_exit){ .cause = EXIT_CODE, .code = 3, .at = 5 };
	assert_int_equal(supervisor_save_state(before), 0);
	supervisor_free(before);

	after = new_supervisor(f, true);
	assert_int_equal(supervisor_load_state(after), 0);
	assert_int_equal(web(after)->restarts, 7);
	assert_int_equal(web(after)->last_exit.cause, EXIT_SIGNAL);
	assert_int_equal(worker(after)->restarts, 1);
	assert_int_equal(worker(after)->failures_in_row, 0);
	assert_int_equal(worker(after)->last_exit.cause, EXIT_CODE);
	assert_int_equal(worker(after)->last_exit.code, 3);
	assert_true(worker(after)->want_running);
	supervisor_free(after);
}

static void test_service_stopped_by_command_stays_stopped_after_a_guardian_restart(void **state)
{
	struct fixture *f = *state;
	struct supervisor *before = new_supervisor(f, false), *after;
	struct service *svc;

	live_a_little(web(before));
	web(before)->want_running = false; /* guardctl stop */
	web(before)->state = SVC_STOPPED;
	assert_int_equal(supervisor_save_state(before), 0);
	supervisor_free(before);

	after = new_supervisor(f, false);
	assert_int_equal(supervisor_load_state(after), 0);
	svc = web(after);
	assert_true(svc->state_loaded);
	assert_false(svc->want_running);
	assert_int_equal(svc->restarts, 7);
	/* Its cgroup does not exist: start_all leaves it stopped. */
	supervisor_start_all(after);
	assert_int_equal(svc->state, SVC_STOPPED);
	assert_false(svc->want_running);
	assert_int_equal(svc->pid, 0);
	supervisor_free(after);
}

/* The fake group web.service holding one real process (a child of the
 * test, which /proc/PID/cgroup under the fake root places there). */
static pid_t populate_web(struct fixture *f)
{
	char path[512], text[64];
	pid_t child = fork();

	assert_true(child >= 0);
	if (child == 0) {
		pause();
		_exit(0);
	}
	snprintf(path, sizeof(path), "%s/guardian.slice/web.service", f->cgroot);
	tmptree_mkdir(path);
	snprintf(path, sizeof(path), "%s/guardian.slice/web.service/cgroup.events", f->cgroot);
	tmptree_write(path, "populated 1\nfrozen 0\n");
	snprintf(path, sizeof(path), "%s/guardian.slice/web.service/cgroup.procs", f->cgroot);
	snprintf(text, sizeof(text), "%d\n", (int)child);
	tmptree_write(path, text);
	snprintf(path, sizeof(path), "%s/%d", f->proc, (int)child);
	tmptree_mkdir(path);
	snprintf(path, sizeof(path), "%s/%d/cgroup", f->proc, (int)child);
	tmptree_write(path, "0::/guardian.slice/web.service\n");
	return child;
}

/* The signal that ended child, 0 if it still ran after 5 s (then killed). */
static int end_signal(pid_t child)
{
	int status;

	for (int i = 0; i < 500; i++) {
		if (waitpid(child, &status, WNOHANG) == child)
			return WIFSIGNALED(status) ? WTERMSIG(status) : -1;
		usleep(10000);
	}
	kill(child, SIGKILL);
	(void)waitpid(child, &status, 0);
	return 0;
}

static void test_stop_under_way_when_guardian_died_is_finished_not_adopted(void **state)
{
	struct fixture *f = *state;
	struct supervisor *before = new_supervisor(f, false), *after;
	struct service *svc;
	pid_t child;

	live_a_little(web(before));
	web(before)->want_running = false; /* guardctl stop, and guardian died in it */
	web(before)->state = SVC_STOPPING;
	assert_int_equal(supervisor_save_state(before), 0);
	supervisor_free(before);
	child = populate_web(f);

	after = new_supervisor(f, false);
	assert_int_equal(supervisor_load_state(after), 0);
	svc = web(after);
	supervisor_start_all(after);
	/* Followed, and the stop goes on: the stop signal, then the grace
	 * period; never adopted as running. */
	assert_int_equal(end_signal(child), SIGTERM); /* the child is gone either way */
	assert_int_equal(svc->state, SVC_STOPPING);
	assert_false(svc->want_running);
	assert_int_equal(svc->pid, child);
	supervisor_free(after);
}

static void test_service_that_gave_up_stays_given_up_after_a_guardian_restart(void **state)
{
	struct fixture *f = *state;
	struct supervisor *before = new_supervisor(f, false), *after;
	struct service *svc;

	live_a_little(web(before));
	web(before)->state = SVC_GAVE_UP; /* want_running stays true */
	assert_int_equal(supervisor_save_state(before), 0);
	supervisor_free(before);

	after = new_supervisor(f, false);
	assert_int_equal(supervisor_load_state(after), 0);
	svc = web(after);
	assert_int_equal(svc->state, SVC_GAVE_UP);
	assert_true(svc->want_running);
	assert_int_equal(svc->restart_times[3], 4000);
	supervisor_start_all(after);
	assert_int_equal(svc->state, SVC_GAVE_UP);
	assert_false(svc->want_running); /* until guardctl start */
	assert_int_equal(svc->pid, 0);
	supervisor_free(after);
}

static void test_state_file_from_another_boot_is_ignored(void **state)
{
	struct fixture *f = *state;
	struct supervisor *before = new_supervisor(f, false), *after;

	live_a_little(web(before));
	web(before)->state = SVC_GAVE_UP;
	assert_int_equal(supervisor_save_state(before), 0);
	supervisor_free(before);

	/* Rebooted: counters and monotonic times mean nothing now. */
	tmptree_write(f->boot_id, BOOT_TWO "\n");
	after = new_supervisor(f, false);
	assert_int_equal(supervisor_load_state(after), 0);
	assert_untouched(web(after));
	supervisor_free(after);

	/* A file with no boot id at all is not one guardian wrote: an error
	 * (the daemon logs it and goes on), and it changes nothing. */
	tmptree_write(f->state_file, "{\"services\": {\"web\": {\"want_running\": true, \"restarts\": 9}}}");
	after = new_supervisor(f, false);
	assert_int_equal(supervisor_load_state(after), -EBADMSG);
	assert_untouched(web(after));
	supervisor_free(after);
}

static void test_saved_file_names_this_boot_and_is_private(void **state)
{
	struct fixture *f = *state;
	struct supervisor *s = new_supervisor(f, false);
	struct json_object *root, *v;
	struct stat st;
	char tmp[400];

	assert_int_equal(supervisor_save_state(s), 0);
	root = json_object_from_file(f->state_file);
	assert_non_null(root);
	assert_true(json_object_object_get_ex(root, "boot_id", &v));
	assert_string_equal(json_object_get_string(v), BOOT_ONE);
	json_object_put(root);
	assert_int_equal(stat(f->state_file, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* Written aside and renamed: no temporary left behind. */
	snprintf(tmp, sizeof(tmp), "%s/.state.json.tmp", f->state);
	assert_int_equal(access(tmp, F_OK), -1);
	supervisor_free(s);
}

static void test_later_save_replaces_the_earlier_one(void **state)
{
	struct fixture *f = *state;
	struct supervisor *s = new_supervisor(f, false), *after;

	live_a_little(web(s));
	assert_int_equal(supervisor_save_state(s), 0);
	web(s)->restarts = 8;
	web(s)->last_exit = (struct service_exit){ .cause = EXIT_OOM_KILL, .code = 9, .at = 77 };
	assert_int_equal(supervisor_save_state(s), 0);
	supervisor_free(s);

	after = new_supervisor(f, false);
	assert_int_equal(supervisor_load_state(after), 0);
	assert_int_equal(web(after)->restarts, 8);
	assert_int_equal(web(after)->last_exit.cause, EXIT_OOM_KILL);
	assert_int_equal(web(after)->last_exit.at, 77);
	supervisor_free(after);
}

static void test_missing_state_file_is_no_error_and_changes_nothing(void **state)
{
	struct fixture *f = *state;
	struct supervisor *s = new_supervisor(f, true);

	assert_int_equal(access(f->state_file, F_OK), -1);
	assert_int_equal(supervisor_load_state(s), 0);
	assert_untouched(web(s));
	assert_untouched(worker(s));
	supervisor_free(s);
}

static void test_corrupt_state_file_is_an_error_and_changes_nothing(void **state)
{
	struct fixture *f = *state;
	static const char *const corrupt[] = {
		"",
		"not json at all",
		/* cut short, as a full disk would leave it */
		"{\"boot_id\": \"" BOOT_ONE "\", \"services\": {\"web\": {\"want_running\": false, \"restarts\": 5,",
		"\x7f" "ELF\x02\x01\x01",
	};

	for (size_t i = 0; i < ARRAY_SIZE(corrupt); i++) {
		struct supervisor *s = new_supervisor(f, true);
		char *text, aside[512];

		print_message("  corrupt[%zu]\n", i);
		tmptree_write(f->state_file, corrupt[i]);
		assert_int_equal(supervisor_load_state(s), -EBADMSG);
		assert_untouched(web(s));
		assert_untouched(worker(s));
		/* The file is kept aside for a human to look at, and out of
		 * the way of the next start. */
		assert_int_equal(access(f->state_file, F_OK), -1);
		snprintf(aside, sizeof(aside), "%s.bad", f->state_file);
		text = read_file(aside);
		assert_string_equal(text, corrupt[i]);
		free(text);
		assert_int_equal(supervisor_load_state(s), 0); /* nothing there now: no error */
		supervisor_free(s);
	}
}

static void test_services_missing_from_the_file_are_left_alone(void **state)
{
	struct fixture *f = *state;
	struct supervisor *before = new_supervisor(f, false), *after;

	/* Saved before worker's policy was added; an old service's entry
	 * whose policy is gone is ignored. */
	live_a_little(web(before));
	assert_int_equal(supervisor_save_state(before), 0);
	supervisor_free(before);

	after = new_supervisor(f, true);
	assert_int_equal(supervisor_load_state(after), 0);
	assert_true(web(after)->state_loaded);
	assert_int_equal(web(after)->restarts, 7);
	assert_untouched(worker(after));
	supervisor_free(after);
}

static void test_exit_cause_out_of_range_is_not_loaded(void **state)
{
	struct fixture *f = *state;
	struct supervisor *s = new_supervisor(f, false);
	char text[512];

	/* A cause this guardian does not know (a newer one wrote it). */
	snprintf(text, sizeof(text),
		 "{\"boot_id\": \"%s\", \"services\": {\"web\": {\"want_running\": true, \"restarts\": 2,"
		 " \"last_exit_cause\": %d, \"last_exit_code\": 1, \"last_exit_at\": 3,"
		 " \"last_exit_sender\": {\"sig\": 9, \"pid\": 42, \"comm\": \"kill\"}}}}",
		 BOOT_ONE, _EXIT_CAUSE_MAX + 5);
	tmptree_write(f->state_file, text);
	assert_int_equal(supervisor_load_state(s), 0);
	assert_int_equal(web(s)->restarts, 2);
	assert_int_equal(web(s)->last_exit.cause, EXIT_NONE);
	assert_int_equal(web(s)->last_exit.code, 0);
	/* Nor its sender: "killed by SIGKILL from pid 42" of no exit. */
	assert_false(web(s)->last_exit.has_sender);
	assert_int_equal(web(s)->last_exit.sender.pid, 0);
	supervisor_free(s);
}

/* --- the signal sender and malformed files --------------------------------- */

/* After a guardian restart `guardctl status` still says who sent the
 * signal that killed the service. */
static void test_signal_sender_of_the_last_exit_survives_a_guardian_restart(void **state)
{
	struct fixture *f = *state;
	struct supervisor *before, *after;
	struct service_exit *e;

	before = new_supervisor(f, false);
	live_a_little(web(before));
	e = &web(before)->last_exit;
	e->has_sender = true;
	e->sender = (struct signal_sender){ .sig = 9, .target = 4242, .pid = 42, .uid = 1000, .at = 99 };
	snprintf(e->sender.comm, sizeof(e->sender.comm), "stop.sh");
	assert_int_equal(supervisor_save_state(before), 0);
	supervisor_free(before);

	after = new_supervisor(f, false);
	assert_int_equal(supervisor_load_state(after), 0);
	e = &web(after)->last_exit;
	assert_true(e->has_sender);
	assert_int_equal(e->sender.sig, 9);
	assert_int_equal(e->sender.pid, 42);
	assert_int_equal(e->sender.uid, 1000);
	assert_string_equal(e->sender.comm, "stop.sh");
	supervisor_free(after);
}

/* A file guardian did not write as it is (a wrong shape, an entry that
 * is not an object or lacks want_running, garbage after the JSON) is an
 * error the daemon logs, and it changes nothing: an entry of the wrong
 * shape must not load as "stopped by command" and keep the service down. */
static void test_state_file_of_the_wrong_shape_or_with_trailing_garbage_is_an_error(void **state)
{
	struct fixture *f = *state;
	static const char *const wrong[] = {
		"{\"boot_id\": \"" BOOT_ONE "\", \"services\": {\"web\": \"running\"}}",
		"{\"boot_id\": \"" BOOT_ONE "\", \"services\": {\"web\": [1, 2, 3]}}",
		"{\"boot_id\": \"" BOOT_ONE "\", \"services\": [\"web\"]}",
		"[\"" BOOT_ONE "\"]",
		/* json_object_from_file() stops at the end of the first value */
		"{\"boot_id\": \"" BOOT_ONE "\", \"services\": {\"web\": {\"restarts\": 5}}}}}garbage",
	};

	for (size_t i = 0; i < ARRAY_SIZE(wrong); i++) {
		struct supervisor *s = new_supervisor(f, false);

		print_message("  wrong[%zu]\n", i);
		tmptree_write(f->state_file, wrong[i]);
		assert_int_equal(supervisor_load_state(s), -EBADMSG);
		assert_untouched(web(s));
		supervisor_free(s);
	}
}

/* A value of the wrong type or out of its field's range is not one
 * guardian wrote: the file is an error and no service takes any of it
 * (a "restarts" of 2^32 + 5 must not come back as 5, a cause of 2^32 + 2
 * not as a signal, a null not as 0). */
static void test_wrong_types_nulls_and_numbers_out_of_range_are_an_error(void **state)
{
	struct fixture *f = *state;
	static const char *const wrong[] = {
		"\"want_running\": null",
		"\"want_running\": 1",
		"\"want_running\": true, \"restarts\": \"5\"",
		"\"want_running\": true, \"restarts\": null",
		"\"want_running\": true, \"restarts\": 2.5",
		"\"want_running\": true, \"restarts\": -1",
		"\"want_running\": true, \"restarts\": 4294967301",
		"\"want_running\": true, \"failures_in_row\": true",
		"\"want_running\": true, \"gave_up\": \"yes\"",
		"\"want_running\": true, \"gave_up\": 1",
		"\"want_running\": true, \"started_mono\": 18446744073709551616",
		"\"want_running\": true, \"started_mono\": 9223372036854775808",
		"\"want_running\": true, \"started_real\": -5",
		"\"want_running\": true, \"started_real\": 1e300",
		"\"want_running\": true, \"started_real\": NaN",
		"\"want_running\": true, \"restart_times\": [1, \"2\"]",
		"\"want_running\": true, \"restart_times\": [null]",
		"\"want_running\": true, \"restart_times\": [-1]",
		"\"want_running\": true, \"restart_times\": \"1,2\"",
		"\"want_running\": true, \"last_exit_cause\": 4294967298",
		"\"want_running\": true, \"last_exit_cause\": -1",
		"\"want_running\": true, \"last_exit_cause\": \"2\"",
		"\"want_running\": true, \"last_exit_code\": 2147483648",
		"\"want_running\": true, \"last_exit_at\": {}",
		"\"want_running\": true, \"last_exit_sender\": null",
		"\"want_running\": true, \"last_exit_sender\": {\"comm\": 5}",
		"\"want_running\": true, \"last_exit_sender\": {\"comm\": \"sh\", \"pid\": \"42\"}",
		"\"want_running\": true, \"last_exit_sender\": {\"comm\": \"sh\", \"uid\": 4294967296}",
		"\"want_running\": true, \"last_exit_sender\": {\"comm\": \"sh\", \"sig\": -2147483649}",
	};

	for (size_t i = 0; i < ARRAY_SIZE(wrong); i++) {
		struct supervisor *s = new_supervisor(f, false);
		char text[1024];

		print_message("  wrong[%zu]: %s\n", i, wrong[i]);
		snprintf(text, sizeof(text), "{\"boot_id\": \"%s\", \"services\": {\"web\": {%s, \"last\": 0}}}",
			 BOOT_ONE, wrong[i]);
		tmptree_write(f->state_file, text);
		assert_int_equal(supervisor_load_state(s), -EBADMSG);
		assert_untouched(web(s));
		assert_false(web(s)->last_exit.has_sender);
		supervisor_free(s);
	}
}

/* One entry of the wrong shape, even a service's that no policy names any
 * more, and the file is not one guardian wrote: the good entries beside
 * it are not taken either. */
static void test_one_bad_entry_and_no_service_takes_anything(void **state)
{
	struct fixture *f = *state;
	static const char *const bad[] = {
		"\"worker\": {\"want_running\": true, \"restarts\": \"lots\"}",
		"\"gone\": {\"restarts\": 1}",
	};

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct supervisor *s = new_supervisor(f, true);
		char text[1024];

		print_message("  bad[%zu]\n", i);
		snprintf(text, sizeof(text),
			 "{\"boot_id\": \"%s\", \"services\": {\"web\": {\"want_running\": true, \"restarts\": 4}, %s}}",
			 BOOT_ONE, bad[i]);
		tmptree_write(f->state_file, text);
		assert_int_equal(supervisor_load_state(s), -EBADMSG);
		assert_untouched(web(s));
		assert_untouched(worker(s));
		supervisor_free(s);
	}
}

/* Nesting deeper than the JSON parser's limit is refused, not recursed
 * into; an unknown key within it is skipped. */
static void test_deep_nesting_is_refused_and_unknown_keys_skipped(void **state)
{
	struct fixture *f = *state;
	struct supervisor *s;
	char text[4096], deep[1024];
	size_t n = 0;

	for (int i = 0; i < 200; i++)
		deep[n++] = '[';
	for (int i = 0; i < 200; i++)
		deep[n++] = ']';
	deep[n] = '\0';
	snprintf(text, sizeof(text),
		 "{\"boot_id\": \"%s\", \"services\": {\"web\": {\"want_running\": true, \"restarts\": 3, \"x\": %s}}}",
		 BOOT_ONE, deep);
	tmptree_write(f->state_file, text);
	s = new_supervisor(f, false);
	assert_int_equal(supervisor_load_state(s), -EBADMSG);
	assert_untouched(web(s));
	supervisor_free(s);

	snprintf(text, sizeof(text),
		 "{\"boot_id\": \"%s\", \"later\": {\"a\": [[[1]]]}, \"services\": {\"web\": {\"want_running\": true,"
		 " \"restarts\": 3, \"x\": [[[{\"y\": null}]]]}}}",
		 BOOT_ONE);
	tmptree_write(f->state_file, text);
	s = new_supervisor(f, false);
	assert_int_equal(supervisor_load_state(s), 0);
	assert_int_equal(web(s)->restarts, 3);
	supervisor_free(s);
}

/* Every field at the ends of its range comes back as it was. */
static void test_values_at_the_ends_of_their_ranges_round_trip(void **state)
{
	struct fixture *f = *state;
	struct supervisor *before = new_supervisor(f, false), *after;
	struct service *svc = web(before);
	struct service_exit *e;

	svc->want_running = true;
	svc->restarts = UINT32_MAX;
	svc->failures_in_row = UINT32_MAX;
	svc->started_mono = INT64_MAX;
	svc->started_real = INT64_MAX;
	svc->restart_times[0] = INT64_MAX;
	svc->last_exit = (struct service_exit){ .cause = _EXIT_CAUSE_MAX - 1, .code = INT32_MIN, .at = INT64_MAX,
						.has_sender = true };
	svc->last_exit.sender = (struct signal_sender){ .sig = INT32_MAX, .target = INT32_MIN, .pid = INT32_MAX,
							.uid = UINT32_MAX };
	snprintf(svc->last_exit.sender.comm, sizeof(svc->last_exit.sender.comm), "%s", "fifteen-chars-x");
	assert_int_equal(supervisor_save_state(before), 0);
	supervisor_free(before);

	after = new_supervisor(f, false);
	assert_int_equal(supervisor_load_state(after), 0);
	svc = web(after);
	assert_int_equal(svc->restarts, UINT32_MAX);
	assert_int_equal(svc->failures_in_row, UINT32_MAX);
	assert_int_equal(svc->started_mono, INT64_MAX);
	assert_int_equal(svc->started_real, INT64_MAX);
	assert_int_equal(svc->restart_times[0], INT64_MAX);
	e = &svc->last_exit;
	assert_int_equal(e->cause, _EXIT_CAUSE_MAX - 1);
	assert_int_equal(e->code, INT32_MIN);
	assert_int_equal(e->at, INT64_MAX);
	assert_true(e->has_sender);
	assert_int_equal(e->sender.sig, INT32_MAX);
	assert_int_equal(e->sender.target, INT32_MIN);
	assert_int_equal(e->sender.pid, INT32_MAX);
	assert_int_equal(e->sender.uid, UINT32_MAX);
	assert_string_equal(e->sender.comm, "fifteen-chars-x");
	supervisor_free(after);
}

/* The `removed` hooks run as services are freed, and a subscriber may
 * look at the services that remain (the BPF observers do, for a twin
 * that shares the cgroup): a service already freed must be out of the
 * list by then, when guardian exits and when removed services are reaped. */
struct removals {
	const struct service *gone[4];
	size_t n;
};

static void on_removed(void *data, struct service *svc)
{
	struct removals *r = data;

	for (size_t i = 0; i < svc->sup->n_services; i++)
		for (size_t k = 0; k < r->n; k++)
			assert_ptr_not_equal(svc->sup->services[i], r->gone[k]);
	assert_true(r->n < ARRAY_SIZE(r->gone));
	r->gone[r->n++] = svc;
}

static const struct service_hooks removal_hooks = { .removed = on_removed };

static int quit_loop(struct loop_source *src, int fd, uint32_t revents, void *data)
{
	loop_quit(data, 0);
	return 0;
}

static void test_removed_hooks_see_only_services_not_yet_freed(void **state)
{
	struct fixture *f = *state;
	struct removals at_exit = { 0 }, at_reap = { 0 };
	struct supervisor *s = new_supervisor(f, true);

	assert_int_equal(supervisor_subscribe(s, &removal_hooks, &at_exit), 0);
	supervisor_free(s);
	assert_int_equal(at_exit.n, 2);

	s = new_supervisor(f, true);
	assert_int_equal(supervisor_subscribe(s, &removal_hooks, &at_reap), 0);
	for (size_t i = 0; i < s->n_services; i++)
		s->services[i]->removed = true; /* both stopped, their policies gone */
	supervisor_reap_removed(s);
	assert_int_equal(loop_add_timer(f->loop, 50 * USEC_PER_MSEC, quit_loop, f->loop, NULL), 0);
	assert_int_equal(loop_run(f->loop), 0);
	assert_int_equal(at_reap.n, 2);
	assert_int_equal(s->n_services, 0);
	supervisor_free(s);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_counters_ring_and_last_exit_survive_a_guardian_restart),
		T(test_every_exit_cause_round_trips_with_its_code),
		T(test_counters_past_int_max_survive_a_guardian_restart),
		T(test_each_service_gets_its_own_state_back),
		T(test_service_stopped_by_command_stays_stopped_after_a_guardian_restart),
		T(test_stop_under_way_when_guardian_died_is_finished_not_adopted),
		T(test_service_that_gave_up_stays_given_up_after_a_guardian_restart),
		T(test_state_file_from_another_boot_is_ignored),
		T(test_saved_file_names_this_boot_and_is_private),
		T(test_later_save_replaces_the_earlier_one),
		T(test_missing_state_file_is_no_error_and_changes_nothing),
		T(test_corrupt_state_file_is_an_error_and_changes_nothing),
		T(test_services_missing_from_the_file_are_left_alone),
		T(test_exit_cause_out_of_range_is_not_loaded),
		T(test_signal_sender_of_the_last_exit_survives_a_guardian_restart),
		T(test_state_file_of_the_wrong_shape_or_with_trailing_garbage_is_an_error),
		T(test_wrong_types_nulls_and_numbers_out_of_range_are_an_error),
		T(test_one_bad_entry_and_no_service_takes_anything),
		T(test_deep_nesting_is_refused_and_unknown_keys_skipped),
		T(test_values_at_the_ends_of_their_ranges_round_trip),
		T(test_removed_hooks_see_only_services_not_yet_freed),
	};

	log_setup("test_state", LOG_LVL_WARN, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
