/* test_supervisor.c: the supervisor's pure decisions: how long to wait
 * before a restart, and when the give-up budget is spent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "supervisor.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(backoff_doubles_from_delay_up_to_max_delay),
		cmocka_unit_test(backoff_jitter_stays_within_ten_percent),
		cmocka_unit_test(budget_counts_only_restarts_inside_the_window),
		cmocka_unit_test(budget_without_give_up_is_never_spent),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
