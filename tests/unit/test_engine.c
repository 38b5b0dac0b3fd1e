/* test_engine.c: the pressure engine's decisions from plain samples: rule
 * holds in every form, growth and time-to-max, the default guard's ladder
 * up and down, throttle release, rate limits, dry run, protected, and the
 * samples that must never fire (MADV_FREE'd memory, page cache). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>

#include "engine.h"

#define MiB (1024ULL * 1024ULL)
#define MS USEC_PER_MSEC
#define S USEC_PER_SEC

static struct policy pol;
static struct rule rules[4];
static struct engine eng;
static struct engine_decision out[ENGINE_MAX_DECISIONS];
static size_t n_out;

static void setup_policy(uint64_t max_mb, size_t n_rules)
{
	pol = (struct policy){ .service = "svc", .sample_interval = S, .rules = n_rules ? rules : NULL,
			       .n_rules = n_rules };
	pol.stop.timeout = 10 * S;
	if (max_mb)
		pol.limits.memory_max = (struct limit){ .set = true, .value = max_mb * MiB };
	engine_free(&eng); /* a test may set up twice */
	assert_int_equal(engine_init(&eng, &pol, false), 0);
}

static int teardown(void **state)
{
	engine_free(&eng);
	memset(rules, 0, sizeof(rules));
	return 0;
}

/* An anon-only sample: the working set is all of memory.current. */
static struct engine_sample anon(usec_t at, double ws_mb, uint64_t max_mb)
{
	/* Monotonic time never starts at 0 on a real machine. */
	return (struct engine_sample){ .at = 1000 * S + at, .current = (uint64_t)(ws_mb * MiB), .anon = (uint64_t)(ws_mb * MiB),
				       .memory_max = max_mb ? max_mb * MiB : UINT64_MAX, .memory_high = UINT64_MAX };
}

static size_t feed(struct engine_sample s)
{
	n_out = engine_feed(&eng, &s, out, ENGINE_MAX_DECISIONS);
	return n_out;
}

/* Feed a linear leak from..to at `step` intervals; returns the first
 * decision of the given action (or NULL), stopping there. */
static const struct engine_decision *leak_until(usec_t *t, double *mb, double rate_mbps, usec_t step,
						 usec_t until, uint64_t max_mb, enum action_kind want)
{
	for (; *t < until; *t += step) {
		*mb += rate_mbps * (double)step / 1e6;
		feed(anon(*t, *mb, max_mb));
		for (size_t i = 0; i < n_out; i++)
			if (out[i].action == want)
				return &out[i];
	}
	return NULL;
}

static void growth_is_a_least_squares_fit(void **state)
{
	double g;
	usec_t ttm;

	setup_policy(256, 0);
	assert_int_equal(engine_growth(&eng, &g), -ENODATA);
	for (int i = 0; i <= 10; i++)
		feed(anon((usec_t)i * 500 * MS, 10.0 + i * 10.0 + (i % 2 ? 1.0 : -1.0), 256)); /* 20 MB/s, jitter */
	assert_int_equal(engine_growth(&eng, &g), 0);
	assert_true(fabs(g / MiB - 20.0) < 2.5);
	assert_int_equal(engine_time_to_max(&eng, &ttm), 0);
	/* 256 - ~111 MB left at ~20 MB/s: about 7 s */
	assert_true(ttm > 6 * S && ttm < 9 * S);
}

static void flat_service_has_no_time_to_max(void **state)
{
	usec_t ttm;
	double v;

	setup_policy(256, 0);
	for (int i = 0; i < 10; i++)
		feed(anon((usec_t)i * S, 200, 256));
	assert_int_equal(engine_time_to_max(&eng, &ttm), -ENODATA);
	assert_int_equal(engine_metric(&eng, METRIC_TIME_TO_MAX, &v), 0);
	assert_true(isinf(v));
	assert_int_equal(n_out, 0);
}

static void madv_free_memory_does_not_fire(void **state)
{
	/* A Go service: memory.current races to 230 of 256 MB at 50 MB/s, but
	 * every page was freed with MADV_FREE: inactive_file holds it. */
	setup_policy(256, 0);
	for (int i = 0; i < 100; i++) {
		struct engine_sample s = anon((usec_t)i * 100 * MS, 0, 256);
		uint64_t lazy = (uint64_t)(i < 46 ? i * 5 : 230) * MiB;

		s.current = 8 * MiB + lazy;
		s.anon = s.current;
		s.inactive_file = lazy;
		assert_int_equal(feed(s), 0);
	}
	assert_false(eng.triggered);
}

static void page_cache_reader_does_not_fire(void **state)
{
	/* memory.current at memory.max, page cache churning, PSI some ~8%. */
	setup_policy(128, 0);
	for (int i = 0; i < 200; i++) {
		struct engine_sample s = anon((usec_t)i * 100 * MS, 0, 128);

		s.current = 127 * MiB - (uint64_t)(i % 3) * MiB;
		s.file = 120 * MiB;
		s.inactive_file = 60 * MiB + (uint64_t)(i % 5) * MiB;
		s.psi_some10 = 8.0;
		s.ev_max = (uint64_t)i * 40;
		assert_int_equal(feed(s), 0);
	}
}

static void guard_climbs_the_ladder_gently(void **state)
{
	usec_t t = 0;
	double mb = 0;
	const struct engine_decision *d;

	setup_policy(128, 0);
	/* 4 MB/s toward 128M: fires once past half with under 20 s left. */
	d = leak_until(&t, &mb, 4, 100 * MS, 60 * S, 128, ACTION_NOTIFY);
	assert_non_null(d);
	assert_string_equal(d->source, "default guard");
	assert_int_equal(d->step, STEP_NOTIFY);
	assert_int_equal(d->metric, METRIC_TIME_TO_MAX);
	assert_true(d->working_set >= 64 * MiB && d->value <= 20e6 && d->threshold == 20e6);
	assert_true(d->time_to_max_ms > 0 && d->growth_bps > 3.5 * MiB);
	/* No page cache to reclaim: the next step is throttle, after 1 s. */
	d = leak_until(&t, &mb, 4, 100 * MS, 60 * S, 128, ACTION_THROTTLE);
	assert_non_null(d);
	assert_int_equal(d->step, STEP_THROTTLE);
	assert_true(d->memory_high > d->working_set && d->memory_high < 128 * MiB);
	/* halfway between the working set and memory.max */
	assert_true(llabs((long long)d->memory_high - (long long)(d->working_set + (128 * MiB - d->working_set) / 2)) < 8192);
	assert_true(eng.throttled);
}

static void guard_escalates_when_throttle_cannot_hold(void **state)
{
	usec_t t = 0;
	double mb = 0;
	const struct engine_decision *d;
	enum action_kind seen[8];
	size_t n_seen = 0;

	setup_policy(128, 0);
	assert_non_null(leak_until(&t, &mb, 4, 100 * MS, 60 * S, 128, ACTION_THROTTLE));
	/* It grows on to the lowered memory.high, where the kernel holds it:
	 * pushing, crawling. */
	for (; t < 120 * S && mb < (double)eng.throttle_high / MiB; t += 100 * MS) {
		mb += 0.4;
		feed(anon(t, mb, 128));
		assert_int_equal(n_out, 0);
	}
	for (; t < 120 * S && (!n_seen || seen[n_seen - 1] != ACTION_RESTART); t += 100 * MS) {
		mb += 0.01;
		feed(anon(t, mb, 128));
		for (size_t i = 0; i < n_out; i++)
			seen[n_seen++] = out[i].action;
	}
	assert_int_equal(n_seen, 3);
	assert_int_equal(seen[0], ACTION_OOM_ADJ);
	assert_int_equal(seen[1], ACTION_FREEZE);
	assert_int_equal(seen[2], ACTION_RESTART);
	d = &out[0];
	assert_int_equal(d->step, STEP_RESTART);
	assert_int_equal(d->verdict, VERDICT_ACT);
	assert_int_equal(d->metric, METRIC_WORKING_SET);
}

static void guard_releases_throttle_when_the_leak_stops(void **state)
{
	usec_t t = 0;
	double mb = 0;
	bool released = false, idle = false;

	setup_policy(128, 0);
	pol.limits.memory_high = (struct limit){ .set = true, .value = 120 * MiB };
	assert_non_null(leak_until(&t, &mb, 4, 100 * MS, 60 * S, 128, ACTION_THROTTLE));
	/* It stops growing well below the lowered memory.high. */
	for (; t < 200 * S && !idle; t += 100 * MS) {
		feed(anon(t, mb, 128));
		for (size_t i = 0; i < n_out; i++) {
			if (out[i].action == ACTION_THROTTLE && out[i].undo) {
				released = true;
				assert_int_equal(out[i].memory_high, 120 * MiB); /* the policy's */
			}
			if (out[i].action == ACTION_RESTART || out[i].action == ACTION_KILL)
				fail_msg("a stopped leak must not be restarted");
		}
		idle = eng.step == STEP_IDLE;
	}
	assert_true(released);
	assert_true(idle);
	assert_false(eng.throttled);
}

static void spike_goes_straight_to_restart_or_kill(void **state)
{
	setup_policy(256, 0);
	feed(anon(0, 5, 256));
	feed(anon(1 * S, 5, 256));
	/* 100 MB/s: one calm sample later 105 MB, 1.5 s left. */
	feed(anon(2 * S, 105, 256));
	assert_int_equal(n_out, 1);
	assert_int_equal(out[0].action, ACTION_RESTART);
	assert_int_equal(out[0].step, STEP_RESTART);
	/* Under a second left: cgroup.kill. */
	setup_policy(256, 0);
	feed(anon(0, 5, 256));
	feed(anon(500 * MS, 205, 256));
	assert_int_equal(n_out, 1);
	assert_int_equal(out[0].action, ACTION_KILL);
}

static void restarts_are_rate_limited(void **state)
{
	setup_policy(256, 0);
	feed(anon(0, 5, 256));
	feed(anon(500 * MS, 205, 256));
	assert_int_equal(out[0].verdict, VERDICT_ACT);
	/* A new run (the service restarted) spiking again 2 s later. */
	engine_reset(&eng, &pol, false);
	feed(anon(2 * S, 5, 256));
	feed(anon(2500 * MS, 205, 256));
	assert_int_equal(n_out, 1);
	assert_int_equal(out[0].verdict, VERDICT_RATE_LIMITED);
	/* ... recorded once, not on every sample */
	feed(anon(2600 * MS, 215, 256));
	assert_int_equal(n_out, 0);
	/* 10 s after the first it may act again. */
	feed(anon(10 * S, 150, 256));
	feed(anon(10 * S + 500 * MS, 225, 256));
	assert_int_equal(n_out, 1);
	assert_int_equal(out[0].verdict, VERDICT_ACT);
}

static void kills_per_window_and_futile_backoff(void **state)
{
	usec_t t = 0;
	int acted = 0;

	setup_policy(256, 0);
	/* One spike every 11 s: at most 5 act within 10 minutes. */
	for (int k = 0; k < 8; k++, t += 11 * S) {
		engine_reset(&eng, &pol, false);
		feed(anon(t, 5, 256));
		feed(anon(t + 500 * MS, 205, 256));
		acted += n_out && out[0].verdict == VERDICT_ACT;
	}
	assert_int_equal(acted, 5);
	/* A kill that freed nothing doubles the gap. */
	setup_policy(256, 0);
	engine_note_futile_kill(&eng);
	feed(anon(0, 5, 256));
	feed(anon(500 * MS, 205, 256));
	assert_int_equal(out[0].verdict, VERDICT_ACT);
	engine_reset(&eng, &pol, false);
	feed(anon(15 * S, 5, 256));
	feed(anon(15 * S + 500 * MS, 205, 256));
	assert_int_equal(out[0].verdict, VERDICT_RATE_LIMITED); /* 15 s < 20 s */
}

static void dry_run_records_what_would_happen(void **state)
{
	usec_t t = 0;
	double mb = 0;
	const struct engine_decision *d;

	setup_policy(128, 0);
	pol.dry_run = true;
	engine_reset(&eng, &pol, false);
	d = leak_until(&t, &mb, 4, 100 * MS, 60 * S, 128, ACTION_THROTTLE);
	assert_non_null(d);
	assert_int_equal(d->verdict, VERDICT_DRY_RUN);
	/* The global --dry-run as well. */
	pol.dry_run = false;
	engine_reset(&eng, &pol, true);
	t = 0, mb = 0;
	d = leak_until(&t, &mb, 4, 100 * MS, 60 * S, 128, ACTION_NOTIFY);
	assert_non_null(d);
	assert_int_equal(d->verdict, VERDICT_DRY_RUN);
}

static void protected_service_is_not_restarted_by_the_guard(void **state)
{
	setup_policy(256, 0);
	pol.protected_ = true;
	engine_reset(&eng, &pol, false);
	feed(anon(0, 5, 256));
	feed(anon(500 * MS, 205, 256));
	assert_int_equal(n_out, 1);
	assert_int_equal(out[0].action, ACTION_NOTIFY);
	assert_int_equal(out[0].verdict, VERDICT_PROTECTED);
	assert_int_equal(out[0].step, STEP_KILL);
}

static void rule_without_for_fires_on_the_first_sample(void **state)
{
	rules[0] = (struct rule){ .name = "big", .metric = METRIC_WORKING_SET, .threshold = 100.0 * MiB,
				  .action = ACTION_NOTIFY };
	setup_policy(256, 1);
	assert_int_equal(feed(anon(0, 90, 256)), 0);
	assert_int_equal(feed(anon(S, 110, 256)), 1);
	assert_string_equal(out[0].source, "big");
	assert_ptr_equal(out[0].rule, &rules[0]);
	assert_true(out[0].value == 110.0 * MiB && out[0].threshold == 100.0 * MiB);
	/* Still past: not again before RULE_REFIRE (30 s). */
	assert_int_equal(feed(anon(2 * S, 110, 256)), 0);
	assert_int_equal(feed(anon(32 * S, 110, 256)), 1);
	/* The default guard is off when a policy has rules. */
	assert_false(engine_guard_active(&eng));
}

static void rule_for_duration_needs_the_whole_hold(void **state)
{
	rules[0] = (struct rule){ .name = "leak", .metric = METRIC_WORKING_SET, .threshold = 100.0 * MiB,
				  .for_usec = 3 * S, .action = ACTION_RESTART };
	setup_policy(0, 1);
	assert_int_equal(feed(anon(0, 110, 0)), 0);
	assert_int_equal(feed(anon(2 * S, 110, 0)), 0);
	assert_int_equal(feed(anon(2500 * MS, 90, 0)), 0); /* dipped: the hold starts over */
	assert_int_equal(feed(anon(3 * S, 110, 0)), 0);
	assert_int_equal(engine_rule_held(&eng, 0, NULL), 0);
	assert_int_equal(feed(anon(5 * S, 110, 0)), 0);
	assert_int_equal(engine_rule_held(&eng, 0, NULL), 2 * S);
	assert_int_equal(feed(anon(6 * S, 110, 0)), 1);
	assert_int_equal(out[0].action, ACTION_RESTART);
}

static void rule_n_of_m_samples(void **state)
{
	static const double mb[] = { 110, 90, 110, 90, 110 };
	unsigned count;

	rules[0] = (struct rule){ .name = "mem", .metric = METRIC_MEMORY_CURRENT, .threshold = 100.0 * MiB,
				  .samples = 3, .of = 5, .action = ACTION_NOTIFY };
	setup_policy(0, 1);
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(feed(anon((usec_t)i * S, mb[i], 0)), 0);
	engine_rule_held(&eng, 0, &count);
	assert_int_equal(count, 2);
	assert_int_equal(feed(anon(4 * S, mb[4], 0)), 1);
	/* "3 samples" (N of N): consecutive. */
	rules[0].of = 3;
	engine_reset(&eng, &pol, false);
	assert_int_equal(feed(anon(0, 110, 0)), 0);
	assert_int_equal(feed(anon(S, 90, 0)), 0);
	assert_int_equal(feed(anon(2 * S, 110, 0)), 0);
	assert_int_equal(feed(anon(3 * S, 110, 0)), 0);
	assert_int_equal(feed(anon(4 * S, 110, 0)), 1);
}

static void rule_below_and_rates(void **state)
{
	struct engine_sample s;

	rules[0] = (struct rule){ .name = "soon", .metric = METRIC_TIME_TO_MAX, .below = true,
				  .threshold = 10.0 * S, .action = ACTION_NOTIFY };
	rules[1] = (struct rule){ .name = "highs", .metric = METRIC_MEMORY_EVENTS_HIGH_RATE, .threshold = 5,
				  .action = ACTION_NOTIFY };
	rules[2] = (struct rule){ .name = "cpu", .metric = METRIC_CPU, .threshold = 150, .action = ACTION_NOTIFY };
	rules[3] = (struct rule){ .name = "psi", .metric = METRIC_PSI_SOME_AVG10, .threshold = 20,
				  .for_usec = S, .action = ACTION_NOTIFY };
	setup_policy(256, 4);
	s = anon(0, 100, 256);
	assert_int_equal(feed(s), 0); /* a flat or unknown time_to_max is not "below" */
	s = anon(S, 150, 256);        /* 50 MB/s: 2 s left */
	s.ev_high = 10;               /* 10 per second */
	s.cpu_usec = 2 * S;           /* two CPUs busy */
	s.psi_some10 = 30;
	assert_int_equal(feed(s), 3);
	assert_string_equal(out[0].source, "soon");
	assert_string_equal(out[1].source, "highs");
	assert_true(fabs(out[1].value - 10.0) < 0.01);
	assert_string_equal(out[2].source, "cpu");
	assert_true(fabs(out[2].value - 200.0) < 0.01);
	s.at = 2 * S;
	assert_int_equal(feed(s), 1); /* psi held for its 1 s */
	assert_string_equal(out[0].source, "psi");
}

static void rule_throttle_steps_and_releases(void **state)
{
	usec_t t;
	bool released = false;

	rules[0] = (struct rule){ .name = "grow", .metric = METRIC_WORKING_SET, .threshold = 100.0 * MiB,
				  .action = ACTION_THROTTLE };
	setup_policy(256, 1);
	assert_int_equal(feed(anon(0, 110, 256)), 1);
	assert_int_equal(out[0].action, ACTION_THROTTLE);
	assert_int_equal(out[0].memory_high, (110 * MiB + (256 - 110) * MiB / 2));
	/* Still past after 30 s: a second step, lower. */
	for (t = S; t <= 30 * S; t += S)
		feed(anon(t, 110, 256));
	assert_int_equal(n_out, 1);
	assert_true(out[0].memory_high < 183 * MiB && out[0].memory_high > 110 * MiB);
	/* Below the threshold and flat: released after 5 s. */
	for (t = 31 * S; t < 60 * S && !released; t += S) {
		feed(anon(t, 95, 256));
		released = n_out && out[0].undo;
	}
	assert_true(released);
	assert_int_equal(out[0].memory_high, UINT64_MAX);
}

static void rule_throttle_is_released_when_it_stalls_or_lasts(void **state)
{
	struct engine_sample s;
	usec_t t;
	bool released = false;

	rules[0] = (struct rule){ .name = "grow", .metric = METRIC_WORKING_SET, .threshold = 100.0 * MiB,
				  .action = ACTION_THROTTLE };
	setup_policy(256, 1);
	feed(anon(0, 110, 256));
	/* Held at memory.high with PSI full at 60%: stalled, released. */
	for (t = S; t < 20 * S && !released; t += S) {
		s = anon(t, (double)eng.throttle_high / MiB, 256);
		s.psi_full10 = 60;
		feed(s);
		for (size_t i = 0; i < n_out; i++)
			released |= out[i].action == ACTION_THROTTLE && out[i].undo;
	}
	assert_true(released);
	assert_true(t <= 8 * S);
	/* Without stalling: released after 2 minutes at most. */
	setup_policy(256, 1);
	feed(anon(0, 110, 256));
	released = false;
	for (t = S; t <= 130 * S && !released; t += S) {
		feed(anon(t, (double)eng.throttle_high / MiB, 256));
		for (size_t i = 0; i < n_out; i++)
			released |= out[i].action == ACTION_THROTTLE && out[i].undo;
	}
	assert_true(released);
	assert_true(t >= 120 * S);
}

static void fast_sampling_follows_danger(void **state)
{
	setup_policy(256, 0);
	feed(anon(0, 10, 256));
	feed(anon(S, 10, 256));
	assert_false(engine_wants_fast(&eng));
	feed(anon(2 * S, 140, 256)); /* past half */
	assert_true(engine_wants_fast(&eng));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(growth_is_a_least_squares_fit, teardown),
		cmocka_unit_test_teardown(flat_service_has_no_time_to_max, teardown),
		cmocka_unit_test_teardown(madv_free_memory_does_not_fire, teardown),
		cmocka_unit_test_teardown(page_cache_reader_does_not_fire, teardown),
		cmocka_unit_test_teardown(guard_climbs_the_ladder_gently, teardown),
		cmocka_unit_test_teardown(guard_escalates_when_throttle_cannot_hold, teardown),
		cmocka_unit_test_teardown(guard_releases_throttle_when_the_leak_stops, teardown),
		cmocka_unit_test_teardown(spike_goes_straight_to_restart_or_kill, teardown),
		cmocka_unit_test_teardown(restarts_are_rate_limited, teardown),
		cmocka_unit_test_teardown(kills_per_window_and_futile_backoff, teardown),
		cmocka_unit_test_teardown(dry_run_records_what_would_happen, teardown),
		cmocka_unit_test_teardown(protected_service_is_not_restarted_by_the_guard, teardown),
		cmocka_unit_test_teardown(rule_without_for_fires_on_the_first_sample, teardown),
		cmocka_unit_test_teardown(rule_for_duration_needs_the_whole_hold, teardown),
		cmocka_unit_test_teardown(rule_n_of_m_samples, teardown),
		cmocka_unit_test_teardown(rule_below_and_rates, teardown),
		cmocka_unit_test_teardown(rule_throttle_steps_and_releases, teardown),
		cmocka_unit_test_teardown(rule_throttle_is_released_when_it_stalls_or_lasts, teardown),
		cmocka_unit_test_teardown(fast_sampling_follows_danger, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
