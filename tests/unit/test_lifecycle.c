/* test_lifecycle.c: a service's state machine, driven by a fake clock:
 * how an exit is classified, how long to wait before a restart, when the
 * give-up budget is spent and what follows each kind of exit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#include "lifecycle.h"

static struct policy backoff_policy(void)
{
	struct policy p = { 0 };

	p.restart.delay = 1 * USEC_PER_SEC;
	p.restart.max_delay = 10 * USEC_PER_SEC;
	p.restart.give_up_restarts = 3;
	p.restart.give_up_within = 60 * USEC_PER_SEC;
	return p;
}

static void backoff_doubles_from_delay_up_to_max_delay(void **state)
{
	struct policy p = backoff_policy();

	assert_int_equal(restart_backoff(&p, 1, 0), 1 * USEC_PER_SEC);
	assert_int_equal(restart_backoff(&p, 2, 0), 2 * USEC_PER_SEC);
	assert_int_equal(restart_backoff(&p, 3, 0), 4 * USEC_PER_SEC);
	assert_int_equal(restart_backoff(&p, 4, 0), 8 * USEC_PER_SEC);
	assert_int_equal(restart_backoff(&p, 5, 0), 10 * USEC_PER_SEC);
	assert_int_equal(restart_backoff(&p, 500, 0), 10 * USEC_PER_SEC);
}

static void backoff_jitter_stays_within_ten_percent(void **state)
{
	struct policy p = backoff_policy();

	assert_int_equal(restart_backoff(&p, 2, 1.0), 2200 * USEC_PER_MSEC);
	assert_int_equal(restart_backoff(&p, 2, -1.0), 1800 * USEC_PER_MSEC);
	/* Even with the worst jitter, each step is longer than the last. */
	for (unsigned n = 1; n < 4; n++)
		assert_true(restart_backoff(&p, n, 1.0) < restart_backoff(&p, n + 1, -1.0));
}

static void budget_counts_only_restarts_inside_the_window(void **state)
{
	struct policy p = backoff_policy();
	usec_t now = 1000 * USEC_PER_SEC;
	usec_t times[4] = { 0 };

	assert_false(restart_budget_exhausted(&p, times, 4, now));
	times[0] = now - 10 * USEC_PER_SEC;
	times[1] = now - 20 * USEC_PER_SEC;
	assert_false(restart_budget_exhausted(&p, times, 4, now));
	times[2] = now - 30 * USEC_PER_SEC;
	assert_true(restart_budget_exhausted(&p, times, 4, now));
	/* The oldest falls out of the 60 s window: one more restart is allowed. */
	times[2] = now - 61 * USEC_PER_SEC;
	assert_false(restart_budget_exhausted(&p, times, 4, now));
}

static void budget_without_give_up_is_never_spent(void **state)
{
	struct policy p = backoff_policy();
	usec_t times[4] = { 1, 2, 3, 4 };

	p.restart.give_up_restarts = 0;
	assert_false(restart_budget_exhausted(&p, times, 4, 5));
}

/* --- exit classification ------------------------------------------------ */

static struct service_exit classify(const struct exit_report *r)
{
	struct service_exit e = { 0 };

	lifecycle_classify_exit(r, &e);
	return e;
}

static void exit_status_zero_is_a_clean_exit_and_one_is_a_failure(void **state)
{
	struct service_exit e = classify(&(struct exit_report){ .how = CLD_EXITED, .status = 0, .now = 7 });

	assert_int_equal(e.cause, EXIT_CODE);
	assert_int_equal(e.at, 7);
	assert_false(lifecycle_exit_failed(&e));
	e = classify(&(struct exit_report){ .how = CLD_EXITED, .status = 1 });
	assert_int_equal(e.cause, EXIT_CODE);
	assert_int_equal(e.code, 1);
	assert_true(lifecycle_exit_failed(&e));
}

static void sigkill_while_oom_kill_rose_is_the_kernel_oom_killer(void **state)
{
	struct service_exit e = classify(&(struct exit_report){ .how = CLD_KILLED, .status = SIGKILL,
							       .oom_kill_rose = true });

	assert_int_equal(e.cause, EXIT_OOM_KILL);
	assert_true(lifecycle_exit_failed(&e));
	/* A SIGTERM is never the OOM killer's, whatever memory.events says. */
	e = classify(&(struct exit_report){ .how = CLD_KILLED, .status = SIGTERM, .oom_kill_rose = true });
	assert_int_equal(e.cause, EXIT_SIGNAL);
}

static void a_signal_names_its_sender_only_when_it_hit_the_main_process(void **state)
{
	struct signal_sender s = { .sig = SIGKILL, .target = 100, .pid = 4242, .uid = 0, .comm = "stop.sh" };
	struct service_exit e;
	char buf[160];

	e = classify(&(struct exit_report){ .how = CLD_KILLED, .status = SIGKILL, .pid = 100, .last_signal = &s });
	assert_int_equal(e.cause, EXIT_SIGNAL);
	assert_true(e.has_sender);
	assert_int_equal(e.sender.pid, 4242);
	lifecycle_describe_exit(&e, buf, sizeof(buf));
	assert_string_equal(buf, "killed by SIGKILL from pid 4242 (stop.sh, uid 0)");
	/* The same signal seen for another process says nothing about this one. */
	e = classify(&(struct exit_report){ .how = CLD_KILLED, .status = SIGKILL, .pid = 101, .last_signal = &s });
	assert_false(e.has_sender);
	lifecycle_describe_exit(&e, buf, sizeof(buf));
	assert_string_equal(buf, "killed by SIGKILL");
}

static void an_exit_during_a_stop_is_guardians_with_the_stops_reason(void **state)
{
	struct service_exit e;

	e = classify(&(struct exit_report){ .stopping = true, .how = CLD_KILLED, .status = SIGTERM });
	assert_int_equal(e.cause, EXIT_GUARDIAN);
	e = classify(&(struct exit_report){ .stopping = true, .stop_cause = EXIT_RULE, .how = CLD_KILLED,
					    .status = SIGKILL, .oom_kill_rose = true });
	assert_int_equal(e.cause, EXIT_RULE);
}

static void an_adopted_process_has_no_status(void **state)
{
	struct service_exit e = classify(&(struct exit_report){ .adopted = true });

	assert_int_equal(e.cause, EXIT_UNKNOWN);
	assert_true(lifecycle_exit_failed(&e));
	e = classify(&(struct exit_report){ .adopted = true, .oom_kill_rose = true });
	assert_int_equal(e.cause, EXIT_OOM_KILL);
}

static void an_exec_failure_from_the_exec_pipe_is_kept(void **state)
{
	struct service_exit e = { .cause = EXIT_EXEC_FAILED, .code = 2 /* ENOENT */, .at = 5 };

	lifecycle_classify_exit(&(struct exit_report){ .how = CLD_EXITED, .status = 127, .now = 9 }, &e);
	assert_int_equal(e.cause, EXIT_EXEC_FAILED);
	assert_int_equal(e.code, 2);
	assert_int_equal(e.at, 5);
}

/* --- what follows an exit, on a fake clock --------------------------------- */

struct fake_service {
	struct policy p;
	struct service_exit exit;
	usec_t times[4];
	unsigned restarts, failures;
	usec_t started, now;
};

static struct fake_service fake(enum restart_mode mode)
{
	struct fake_service f = { .p = backoff_policy(), .now = 1000 * USEC_PER_SEC };

	f.p.restart.mode = mode;
	f.p.restart.stable_after = 30 * USEC_PER_SEC;
	return f;
}

/* The service ran for `ran` and exited with status `code`: what now? When
 * it restarts, the clock moves past the delay and the restart is counted. */
static struct restart_plan run_and_exit(struct fake_service *f, usec_t ran, int code)
{
	struct restart_plan plan;

	f->started = f->now;
	f->now += ran;
	f->exit = (struct service_exit){ .cause = EXIT_CODE, .code = code };
	plan = lifecycle_plan_restart(&(struct restart_input){
		.policy = &f->p, .exit = &f->exit, .want_running = true, .started = f->started,
		.failures_in_row = f->failures, .times = f->times, .n_times = 4, .now = f->now });
	f->failures = plan.failures_in_row;
	if (plan.next == NEXT_RESTART) {
		f->now += plan.delay;
		lifecycle_note_restart(&f->restarts, f->times, 4, f->now);
	}
	return plan;
}

static void a_crash_loop_backs_off_then_gives_up(void **state)
{
	struct fake_service f = fake(RESTART_ON_FAILURE);
	struct restart_plan plan;

	plan = run_and_exit(&f, USEC_PER_SEC, 1);
	assert_int_equal(plan.next, NEXT_RESTART);
	assert_int_equal(plan.delay, 1 * USEC_PER_SEC);
	plan = run_and_exit(&f, USEC_PER_SEC, 1);
	assert_int_equal(plan.next, NEXT_RESTART);
	assert_int_equal(plan.delay, 2 * USEC_PER_SEC);
	plan = run_and_exit(&f, USEC_PER_SEC, 1);
	assert_int_equal(plan.next, NEXT_RESTART);
	assert_int_equal(plan.delay, 4 * USEC_PER_SEC);
	assert_int_equal(f.restarts, 3);
	/* Three restarts within the 60 s window: the fourth exit gives up. */
	plan = run_and_exit(&f, USEC_PER_SEC, 1);
	assert_int_equal(plan.next, NEXT_GIVE_UP);
	assert_int_equal(f.restarts, 3);
}

static void a_run_longer_than_stable_after_starts_the_backoff_over(void **state)
{
	struct fake_service f = fake(RESTART_ALWAYS);
	struct restart_plan plan;

	(void)run_and_exit(&f, USEC_PER_SEC, 1);
	plan = run_and_exit(&f, USEC_PER_SEC, 1);
	assert_int_equal(plan.delay, 2 * USEC_PER_SEC);
	/* 40 s up (stable_after is 30 s): the next failure is the first again,
	 * and the window has moved past the earlier restarts. */
	plan = run_and_exit(&f, 40 * USEC_PER_SEC, 1);
	assert_int_equal(plan.next, NEXT_RESTART);
	assert_int_equal(plan.failures_in_row, 1);
	assert_int_equal(plan.delay, 1 * USEC_PER_SEC);
}

static void restarts_spread_beyond_the_window_never_give_up(void **state)
{
	struct fake_service f = fake(RESTART_ALWAYS);

	for (int i = 0; i < 20; i++)
		assert_int_equal(run_and_exit(&f, 25 * USEC_PER_SEC, 1).next, NEXT_RESTART);
	assert_int_equal(f.restarts, 20);
}

static void restart_mode_decides_what_a_clean_exit_gets(void **state)
{
	struct fake_service f = fake(RESTART_ON_FAILURE);

	assert_int_equal(run_and_exit(&f, USEC_PER_SEC, 0).next, NEXT_STOP);
	f = fake(RESTART_ALWAYS);
	assert_int_equal(run_and_exit(&f, USEC_PER_SEC, 0).next, NEXT_RESTART);
	f = fake(RESTART_NEVER);
	assert_int_equal(run_and_exit(&f, USEC_PER_SEC, 1).next, NEXT_STOP);
	assert_int_equal(f.restarts, 0);
}

static void a_service_stopped_by_command_stays_stopped(void **state)
{
	struct fake_service f = fake(RESTART_ALWAYS);
	struct service_exit e = { .cause = EXIT_SIGNAL, .code = SIGKILL };
	struct restart_plan plan = lifecycle_plan_restart(&(struct restart_input){
		.policy = &f.p, .exit = &e, .want_running = false, .times = f.times, .n_times = 4, .now = f.now });

	assert_int_equal(plan.next, NEXT_STOP);
}

static void the_restart_ring_keeps_the_newest_times(void **state)
{
	usec_t times[4] = { 0 };
	unsigned restarts = 0;

	for (usec_t t = 1; t <= 6; t++)
		lifecycle_note_restart(&restarts, times, 4, t * 10);
	assert_int_equal(restarts, 6);
	/* 6 restarts in a ring of 4: the last four times, at index n % 4. */
	assert_int_equal(times[6 % 4], 60);
	assert_int_equal(times[5 % 4], 50);
	assert_int_equal(times[4 % 4], 40);
	assert_int_equal(times[3 % 4], 30);
}

/* A reload resizes the ring (give_up.restarts changed): the newest times
 * come along, each where the next note_restart expects it. */
static void a_resized_ring_keeps_the_newest_restarts(void **state)
{
	usec_t times[4] = { 0 }, smaller[3] = { 0 }, bigger[8] = { 0 }, same[4] = { 0 };
	unsigned restarts = 0;

	for (usec_t t = 1; t <= 6; t++)
		lifecycle_note_restart(&restarts, times, 4, t * 10);
	lifecycle_carry_restarts(restarts, times, 4, smaller, 3);
	assert_int_equal(smaller[6 % 3], 60);
	assert_int_equal(smaller[5 % 3], 50);
	assert_int_equal(smaller[4 % 3], 40);
	lifecycle_carry_restarts(restarts, times, 4, bigger, 8);
	for (unsigned n = 3; n <= 6; n++)
		assert_int_equal(bigger[n % 8], n * 10);
	assert_int_equal(bigger[2 % 8], 0); /* 20 had fallen out of the old ring */
	lifecycle_carry_restarts(restarts, times, 4, same, 4);
	assert_memory_equal(same, times, sizeof(times));
	/* The budget sees them: 4 within the window of a give_up of 4. */
	struct policy p = backoff_policy();
	p.restart.give_up_restarts = 4;
	p.restart.give_up_within = 1000;
	assert_true(restart_budget_exhausted(&p, bigger, 8, 61));
	/* Two restarts so far: only those two come along. */
	usec_t two[4] = { 0 }, into[8] = { 0 };
	restarts = 0;
	lifecycle_note_restart(&restarts, two, 4, 10);
	lifecycle_note_restart(&restarts, two, 4, 20);
	lifecycle_carry_restarts(restarts, two, 4, into, 8);
	assert_int_equal(into[1], 10);
	assert_int_equal(into[2], 20);
	assert_int_equal(into[0] + into[3] + into[4] + into[5] + into[6] + into[7], 0);
}

static void states_and_causes_have_names(void **state)
{
	assert_string_equal(service_state_to_string(SVC_GAVE_UP), "gave-up");
	assert_string_equal(service_state_to_string(SVC_BACKOFF), "backoff");
	for (int c = 0; c < _EXIT_CAUSE_MAX; c++)
		assert_non_null(exit_cause_to_string((enum exit_cause)c));
	assert_string_equal(exit_cause_to_string(EXIT_OOM_KILL), "oom-kill");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(backoff_doubles_from_delay_up_to_max_delay),
		cmocka_unit_test(backoff_jitter_stays_within_ten_percent),
		cmocka_unit_test(budget_counts_only_restarts_inside_the_window),
		cmocka_unit_test(budget_without_give_up_is_never_spent),
		cmocka_unit_test(exit_status_zero_is_a_clean_exit_and_one_is_a_failure),
		cmocka_unit_test(sigkill_while_oom_kill_rose_is_the_kernel_oom_killer),
		cmocka_unit_test(a_signal_names_its_sender_only_when_it_hit_the_main_process),
		cmocka_unit_test(an_exit_during_a_stop_is_guardians_with_the_stops_reason),
		cmocka_unit_test(an_adopted_process_has_no_status),
		cmocka_unit_test(an_exec_failure_from_the_exec_pipe_is_kept),
		cmocka_unit_test(a_crash_loop_backs_off_then_gives_up),
		cmocka_unit_test(a_run_longer_than_stable_after_starts_the_backoff_over),
		cmocka_unit_test(restarts_spread_beyond_the_window_never_give_up),
		cmocka_unit_test(restart_mode_decides_what_a_clean_exit_gets),
		cmocka_unit_test(a_service_stopped_by_command_stays_stopped),
		cmocka_unit_test(the_restart_ring_keeps_the_newest_times),
		cmocka_unit_test(a_resized_ring_keeps_the_newest_restarts),
		cmocka_unit_test(states_and_causes_have_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
