/* test_loop.c: the event loop's timers: one timerfd for all of them, run
 * in deadline order, re-armed, repeating, and freed from any callback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>

#include "loop.h"

static struct loop *l;
static int order[16], n_order;

static int setup(void **state)
{
	n_order = 0;
	return loop_new(&l);
}

static int teardown(void **state)
{
	loop_free(l);
	return 0;
}

static int note(struct loop_source *s, int fd, uint32_t revents, void *data)
{
	order[n_order++] = (int)(intptr_t)data;
	return 0;
}

static int quit(struct loop_source *s, int fd, uint32_t revents, void *data)
{
	loop_quit(l, 0);
	return 0;
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	while (d && readdir(d))
		n++;
	if (d)
		closedir(d);
	return n;
}

static void timers_run_in_deadline_order(void **state)
{
	assert_int_equal(loop_add_timer(l, 30 * USEC_PER_MSEC, note, (void *)3, NULL), 0);
	assert_int_equal(loop_add_timer(l, 10 * USEC_PER_MSEC, note, (void *)1, NULL), 0);
	assert_int_equal(loop_add_timer(l, 20 * USEC_PER_MSEC, note, (void *)2, NULL), 0);
	assert_int_equal(loop_add_timer(l, 0, note, (void *)0, NULL), 0);
	assert_int_equal(loop_add_timer(l, 50 * USEC_PER_MSEC, quit, NULL, NULL), 0);
	assert_int_equal(loop_run(l), 0);
	assert_int_equal(n_order, 4);
	for (int i = 0; i < 4; i++)
		assert_int_equal(order[i], i);
}

static void a_thousand_timers_take_no_fd(void **state)
{
	int before = count_fds();

	for (int i = 0; i < 1000; i++)
		assert_int_equal(loop_add_timer(l, USEC_PER_SEC + (usec_t)i, note, NULL, NULL), 0);
	assert_int_equal(count_fds(), before);
}

static struct loop_source *victim, *rearmed;

static int free_victim(struct loop_source *s, int fd, uint32_t revents, void *data)
{
	order[n_order++] = 1;
	loop_source_free(victim); /* due in the same batch: must not run */
	victim = NULL;
	return 0;
}

static int rearm_once(struct loop_source *s, int fd, uint32_t revents, void *data)
{
	order[n_order++] = 3;
	if (n_order < 3)
		assert_int_equal(loop_timer_rearm(s, 10 * USEC_PER_MSEC), 0);
	return 0;
}

static void a_timer_freed_by_an_earlier_one_does_not_run_and_rearm_works(void **state)
{
	assert_int_equal(loop_add_timer(l, 10 * USEC_PER_MSEC, free_victim, NULL, NULL), 0);
	assert_int_equal(loop_add_timer(l, 10 * USEC_PER_MSEC + 1, note, (void *)2, &victim), 0);
	assert_int_equal(loop_add_timer(l, 20 * USEC_PER_MSEC, rearm_once, NULL, &rearmed), 0);
	assert_int_equal(loop_add_timer(l, 100 * USEC_PER_MSEC, quit, NULL, NULL), 0);
	assert_int_equal(loop_run(l), 0);
	/* free_victim, then rearm_once twice; the freed one never ran */
	assert_int_equal(n_order, 3);
	assert_int_equal(order[0], 1);
	assert_int_equal(order[1], 3);
	assert_int_equal(order[2], 3);
}

static int ticks;

static int tick(struct loop_source *s, int fd, uint32_t revents, void *data)
{
	if (++ticks == 3)
		loop_source_free(s);
	return 0;
}

static void an_interval_repeats_until_freed(void **state)
{
	ticks = 0;
	assert_int_equal(loop_add_interval(l, 10 * USEC_PER_MSEC, tick, NULL, NULL), 0);
	assert_int_equal(loop_add_timer(l, 150 * USEC_PER_MSEC, quit, NULL, NULL), 0);
	assert_int_equal(loop_run(l), 0);
	assert_int_equal(ticks, 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(timers_run_in_deadline_order, setup, teardown),
		cmocka_unit_test_setup_teardown(a_thousand_timers_take_no_fd, setup, teardown),
		cmocka_unit_test_setup_teardown(a_timer_freed_by_an_earlier_one_does_not_run_and_rearm_works, setup,
						teardown),
		cmocka_unit_test_setup_teardown(an_interval_repeats_until_freed, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
