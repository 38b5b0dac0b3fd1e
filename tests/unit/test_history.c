/* test_history.c: the working-set ring behind explain's chart keeps one
 * point per 5 s whatever the sampling rate, the newest 10 minutes, and
 * never more than its fixed 120 points. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "history.h"

#define MS USEC_PER_MSEC

static void one_point_per_step_whatever_the_rate(void **state)
{
	struct history h = { 0 };

	(void)state;
	/* 100 ms samples for 30 s: points at 0, 5, ..., 25 s, plus 30 s. */
	for (usec_t t = 1000 * MS; t <= 31000 * MS; t += 100 * MS)
		history_note(&h, t, t / MS);
	assert_int_equal(h.n, 7);
	for (size_t i = 0; i < h.n; i++) {
		assert_int_equal(history_at(&h, i)->at, 1000 * MS + i * HISTORY_STEP);
		assert_int_equal(history_at(&h, i)->working_set, (1000 * MS + i * HISTORY_STEP) / MS);
	}
}

static void slow_samples_each_kept(void **state)
{
	struct history h = { 0 };

	(void)state;
	/* A lazy sampler's 30 s: each sample is a point. */
	for (int i = 0; i < 5; i++)
		history_note(&h, (usec_t)(1 + 30 * i) * USEC_PER_SEC, (uint64_t)i);
	assert_int_equal(h.n, 5);
	assert_int_equal(history_at(&h, 4)->working_set, 4);
}

static void a_day_of_samples_keeps_the_last_ten_minutes(void **state)
{
	struct history h = { 0 };
	usec_t last = 0;

	(void)state;
	for (usec_t t = 1 * USEC_PER_SEC; t <= 86400 * USEC_PER_SEC; t += 250 * MS) {
		history_note(&h, t, t);
		last = t;
		assert_true(h.n <= HISTORY_POINTS);
	}
	assert_int_equal(h.n, HISTORY_POINTS);
	/* Oldest first, a step apart, the newest within a step of the end. */
	for (size_t i = 1; i < h.n; i++)
		assert_int_equal(history_at(&h, i)->at - history_at(&h, i - 1)->at, HISTORY_STEP);
	assert_true(last - history_at(&h, h.n - 1)->at < HISTORY_STEP);
	assert_true(last - history_at(&h, 0)->at >= 595 * USEC_PER_SEC);
	assert_true(last - history_at(&h, 0)->at < 600 * USEC_PER_SEC + HISTORY_STEP);
	/* Fixed memory: the ring is the struct, nothing allocated. */
	assert_true(sizeof(h) <= 2048);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(one_point_per_step_whatever_the_rate),
		cmocka_unit_test(slow_samples_each_kept),
		cmocka_unit_test(a_day_of_samples_keeps_the_last_ten_minutes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
