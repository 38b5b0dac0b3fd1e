/* test_engine.c: the pressure engine's decisions from plain samples: rule
 * holds in every form, growth and time-to-max, the default guard on a
 * simulated kernel tripwire (warm-up and collected heaps left alone,
 * leaks restarted, spikes killed, gentle steps only where they can work),
 * rate limits, dry run, protected, and the samples that must never fire
 * (MADV_FREE'd memory, page cache). */
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
	pol.restart.mode = RESTART_ON_FAILURE;
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

/* The kernel as the tripwire sees it: memory.high just below memory.max
 * holds a working set that reaches it, and memory.events `high` counts
 * every throttled charge. */
struct sim {
	uint64_t max_mb, high_mb;
	double want_mb;    /* what the service would hold without memory.high */
	double file_mb;    /* page cache on top */
	uint64_t ev_high;
	bool holds;        /* memory.high holds it (false: a spike past it) */
};

static struct engine_sample sim_sample(struct sim *k, usec_t at)
{
	double ws = k->want_mb;
	struct engine_sample s;

	if (k->holds && k->high_mb && ws > (double)k->high_mb) {
		ws = (double)k->high_mb + 7; /* past it by what the kernel was seen to allow, crawling */
		k->ev_high += 50;
	}
	s = anon(at, ws, k->max_mb);
	s.file = (uint64_t)(k->file_mb * MiB);
	s.current += s.file;
	s.memory_high = k->high_mb ? k->high_mb * MiB : UINT64_MAX;
	s.ev_high = k->ev_high;
	return s;
}

/* Run the service for `until` at `step`, its wish given by fn; count each
 * action (undo included) and remember the first disruptive decision. */
struct run {
	unsigned count[_ACTION_MAX];
	struct engine_decision first_disruptive;
	bool disrupted;
	usec_t disrupted_at;
};

static void run_sim(struct sim *k, usec_t *t, usec_t until, usec_t step, double (*fn)(usec_t), struct run *r)
{
	for (; *t < until; *t += step) {
		k->want_mb = fn(*t);
		feed(sim_sample(k, *t));
		for (size_t i = 0; i < n_out; i++) {
			r->count[out[i].action]++;
			if (!r->disrupted && (out[i].action == ACTION_RESTART || out[i].action == ACTION_STOP ||
					      out[i].action == ACTION_KILL)) {
				r->first_disruptive = out[i];
				r->disrupted = true;
				r->disrupted_at = *t;
			}
		}
		if (r->disrupted)
			return;
	}
}

static void setup_guard(uint64_t max_mb)
{
	setup_policy(max_mb, 0);
	pol.limits.memory_high = (struct limit){ .set = true, .value = policy_guard_high(max_mb * MiB) };
}

static struct sim guard_sim(uint64_t max_mb)
{
	return (struct sim){ .max_mb = max_mb, .high_mb = policy_guard_high(max_mb * MiB) / MiB, .holds = true };
}

/* 100 MB/s for 1.2 s, then flat at 120 MB of 256M: a cache warming up. */
static double warm_up(usec_t t) { return t < 1200 * MS ? 5 + 100.0 * (double)t / 1e6 : 125; }
/* ... the same burst, flat at 210 MB (82%), just below the tripwire. */
static double warm_up_high(usec_t t) { return t < 2050 * MS ? 5 + 100.0 * (double)t / 1e6 : 210; }
/* A collected heap: 60 -> 200 MB at 70 MB/s, back to 60, every 2 s. */
static double gc_heap(usec_t t) { return 60 + 140.0 * (double)(t % (2 * S)) / (2e6); }
static double leak20(usec_t t) { return 5 + 20.0 * (double)t / 1e6; }
static double leak100(usec_t t) { return 5 + 100.0 * (double)t / 1e6; }
static double leak400(usec_t t) { return 5 + 400.0 * (double)t / 1e6; }

static void a_service_that_grows_fast_then_stays_flat_is_left_alone(void **state)
{
	struct sim k = guard_sim(256);
	struct run r = { 0 };
	usec_t t = 0;

	setup_guard(256);
	run_sim(&k, &t, 60 * S, 100 * MS, warm_up, &r);
	assert_false(r.disrupted);
	assert_int_equal(r.count[ACTION_THROTTLE] + r.count[ACTION_RECLAIM] + r.count[ACTION_FREEZE], 0);
	/* Flat at 82%, after a burst whose fit said memory.max was 0.5 s away:
	 * a warning at most, never a restart. */
	setup_guard(256);
	k = guard_sim(256), r = (struct run){ 0 }, t = 0;
	run_sim(&k, &t, 60 * S, 100 * MS, warm_up_high, &r);
	assert_false(r.disrupted);
	assert_int_equal(r.count[ACTION_THROTTLE] + r.count[ACTION_RECLAIM], 0);
	assert_true(r.count[ACTION_NOTIFY] >= 1);
	assert_int_equal(eng.step, STEP_IDLE); /* calm again */
}

static void a_heap_that_grows_and_shrinks_is_left_alone(void **state)
{
	struct sim k = guard_sim(256);
	struct run r = { 0 };
	usec_t t = 0;

	bool stalled;

	setup_guard(256);
	run_sim(&k, &t, 60 * S, 100 * MS, gc_heap, &r);
	assert_false(r.disrupted);
	assert_int_equal(r.count[ACTION_THROTTLE] + r.count[ACTION_RECLAIM] + r.count[ACTION_FREEZE], 0);
	/* Warning on every cycle is not acting on it while it shrinks: within
	 * a cycle there is a moment the system guard may choose it. */
	{
		bool free_at_some_point = false;

		for (usec_t end = t + 2 * S; t < end; t += 100 * MS) {
			feed(sim_sample(&k, t));
			k.want_mb = gc_heap(t);
			free_at_some_point |= !engine_engaged(&eng, 1000 * S + t, 30 * S, &stalled);
		}
		assert_true(free_at_some_point);
	}
}

static void a_leak_held_at_the_tripwire_is_restarted_before_memory_max(void **state)
{
	double (*leaks[])(usec_t) = { leak20, leak100, leak400 };

	for (size_t i = 0; i < ARRAY_SIZE(leaks); i++) {
		struct sim k = guard_sim(256);
		struct run r = { 0 };
		usec_t t = 0;

		setup_guard(256);
		run_sim(&k, &t, 60 * S, 100 * MS, leaks[i], &r);
		assert_true(r.disrupted);
		assert_int_equal(r.first_disruptive.action, ACTION_RESTART);
		assert_int_equal(r.first_disruptive.verdict, VERDICT_ACT);
		assert_int_equal(r.first_disruptive.step, STEP_RESTART);
		assert_int_equal(r.first_disruptive.metric, METRIC_WORKING_SET);
		assert_non_null(strstr(r.first_disruptive.reason, "held at memory.high"));
		/* Anonymous memory and no swap: the gentle steps could not work,
		 * and the record says so. */
		assert_non_null(strstr(r.first_disruptive.reason, "reclaim and throttle skipped: nothing to give back"));
		assert_int_equal(r.count[ACTION_THROTTLE] + r.count[ACTION_RECLAIM], 0);
		/* ... within EVIDENCE_HOLD and a sample of reaching memory.high */
		assert_true(r.first_disruptive.working_set <= (k.high_mb + 7) * MiB);
	}
}

static void a_spike_the_tripwire_cannot_hold_is_killed(void **state)
{
	struct sim k = guard_sim(256);
	struct run r = { 0 };
	usec_t t = 0;

	setup_guard(256);
	k.holds = false; /* it got past memory.high between two samples */
	run_sim(&k, &t, 60 * S, 100 * MS, leak400, &r);
	assert_true(r.disrupted);
	assert_int_equal(r.first_disruptive.action, ACTION_KILL);
	assert_true(r.first_disruptive.working_set >= 0.97 * 256 * MiB);
}

static void without_a_tripwire_evidence_is_growth_near_memory_max(void **state)
{
	struct sim k = { .max_mb = 256, .holds = false };
	struct run r = { 0 };
	usec_t t = 0;

	setup_policy(256, 0); /* memory_high: max */
	run_sim(&k, &t, 60 * S, 100 * MS, leak20, &r);
	assert_true(r.disrupted);
	assert_int_equal(r.first_disruptive.action, ACTION_RESTART);
	assert_true(r.first_disruptive.working_set >= 0.90 * 256 * MiB);
	assert_non_null(strstr(r.first_disruptive.reason, "no memory.high tripwire"));
	/* A warm-up that stops at 82% is still left alone. */
	setup_policy(256, 0);
	k = (struct sim){ .max_mb = 256 }, r = (struct run){ 0 }, t = 0;
	run_sim(&k, &t, 60 * S, 100 * MS, warm_up_high, &r);
	assert_false(r.disrupted);
}

/* 4 MB/s with 40 MB of page cache: warnings take the gentle steps that can
 * give memory back, and a throttle that gave nothing back is released. */
static double slow_leak(usec_t t) { return 20 + 4.0 * (double)t / 1e6; }

static void gentle_steps_only_where_there_is_memory_to_give_back(void **state)
{
	struct sim k = guard_sim(128);
	struct run r = { 0 };
	usec_t t = 0;

	setup_guard(128);
	k.file_mb = 40;
	run_sim(&k, &t, 12 * S, 100 * MS, slow_leak, &r);
	assert_true(r.count[ACTION_NOTIFY] >= 1);
	assert_int_equal(r.count[ACTION_RECLAIM], 1);
	assert_int_equal(r.count[ACTION_THROTTLE], 2); /* on, then released: it gave nothing back */
	assert_false(eng.throttled);
	/* Anonymous memory only: notify, and nothing else until the kernel's
	 * evidence. */
	setup_guard(128);
	k = guard_sim(128), r = (struct run){ 0 }, t = 0;
	run_sim(&k, &t, 12 * S, 100 * MS, slow_leak, &r);
	assert_true(r.count[ACTION_NOTIFY] >= 1);
	assert_int_equal(r.count[ACTION_RECLAIM] + r.count[ACTION_THROTTLE], 0);
	assert_false(r.disrupted);
}

static void restart_never_makes_the_ladder_stop_the_service(void **state)
{
	struct sim k = guard_sim(256);
	struct run r = { 0 };
	usec_t t = 0;

	setup_guard(256);
	pol.restart.mode = RESTART_NEVER;
	run_sim(&k, &t, 60 * S, 100 * MS, leak100, &r);
	assert_true(r.disrupted);
	assert_int_equal(r.first_disruptive.action, ACTION_STOP);
	assert_int_equal(r.first_disruptive.step, STEP_RESTART);
}

/* One run toward 256M that spikes past the tripwire at `at`: a kill. */
static void spike_at(usec_t at)
{
	struct sim k = guard_sim(256);

	k.holds = false;
	k.want_mb = 5;
	feed(sim_sample(&k, at));
	k.want_mb = 252;
	feed(sim_sample(&k, at + 500 * MS));
}

static void restarts_are_rate_limited(void **state)
{
	setup_guard(256);
	spike_at(0);
	assert_int_equal(n_out, 1);
	assert_int_equal(out[0].action, ACTION_KILL);
	assert_int_equal(out[0].verdict, VERDICT_ACT);
	/* A new run (the service restarted) spiking again 2 s later. */
	engine_reset(&eng, &pol, false);
	spike_at(2 * S);
	assert_int_equal(n_out, 1);
	assert_int_equal(out[0].verdict, VERDICT_RATE_LIMITED);
	/* ... recorded once, not on every sample */
	feed(anon(2600 * MS, 253, 256));
	assert_int_equal(n_out, 0);
	/* 10 s after the first it may act again. */
	engine_reset(&eng, &pol, false);
	spike_at(10 * S);
	assert_int_equal(n_out, 1);
	assert_int_equal(out[0].verdict, VERDICT_ACT);
}

static void kills_per_window_and_futile_backoff(void **state)
{
	usec_t t = 0;
	int acted = 0;

	setup_guard(256);
	/* One spike every 11 s: at most 5 act within 10 minutes. */
	for (int k = 0; k < 8; k++, t += 11 * S) {
		engine_reset(&eng, &pol, false);
		spike_at(t);
		acted += n_out && out[0].verdict == VERDICT_ACT;
	}
	assert_int_equal(acted, 5);
	/* A kill that freed nothing doubles the gap. */
	setup_guard(256);
	engine_note_futile_kill(&eng);
	spike_at(0);
	assert_int_equal(out[0].verdict, VERDICT_ACT);
	engine_reset(&eng, &pol, false);
	spike_at(15 * S);
	assert_int_equal(out[0].verdict, VERDICT_RATE_LIMITED); /* 15 s < 20 s */
}

static void dry_run_records_what_would_happen(void **state)
{
	struct sim k = guard_sim(256);
	struct run r = { 0 };
	usec_t t = 0;

	setup_guard(256);
	pol.dry_run = true;
	engine_reset(&eng, &pol, false);
	run_sim(&k, &t, 60 * S, 100 * MS, leak20, &r);
	assert_true(r.disrupted);
	assert_int_equal(r.first_disruptive.verdict, VERDICT_DRY_RUN);
	/* The global --dry-run as well. */
	setup_guard(256);
	engine_reset(&eng, &pol, true);
	k = guard_sim(256), r = (struct run){ 0 }, t = 0;
	run_sim(&k, &t, 60 * S, 100 * MS, leak20, &r);
	assert_true(r.disrupted);
	assert_int_equal(r.first_disruptive.verdict, VERDICT_DRY_RUN);
}

static void the_engine_is_engaged_while_acting_and_for_a_while_after(void **state)
{
	struct sim w = guard_sim(256);
	struct run wr = { 0 };
	usec_t wt = 0;
	struct sim k = guard_sim(256);
	struct run r = { 0 };
	usec_t t = 0;
	bool stalled;

	/* A leak the fit warns about is the engine's while it keeps growing. */
	setup_guard(256);
	run_sim(&w, &wt, 2300 * MS, 100 * MS, leak100, &wr);
	assert_false(wr.disrupted);
	assert_int_equal(eng.sign, SIGN_WARN);
	assert_true(engine_engaged(&eng, 1000 * S + wt, 30 * S, &stalled));
	setup_guard(256);
	assert_false(engine_engaged(&eng, 1000 * S, 30 * S, &stalled));
	run_sim(&k, &t, 60 * S, 100 * MS, leak100, &r);
	assert_true(r.disrupted);
	/* Held at its memory.high: its stall is its own limit's. */
	assert_true(engine_engaged(&eng, 1000 * S + t, 30 * S, &stalled));
	assert_true(stalled);
	/* The next run, calm: engaged for 30 s after the restart, then not. */
	engine_reset(&eng, &pol, false);
	feed(anon(t + 1 * S, 5, 256));
	assert_true(engine_engaged(&eng, 1000 * S + t + 29 * S, 30 * S, &stalled));
	assert_false(stalled);
	assert_false(engine_engaged(&eng, 1000 * S + t + 31 * S, 30 * S, &stalled));
}

static void protected_service_is_not_restarted_by_the_guard(void **state)
{
	setup_guard(256);
	pol.protected_ = true;
	engine_reset(&eng, &pol, false);
	spike_at(0);
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
		cmocka_unit_test_teardown(a_service_that_grows_fast_then_stays_flat_is_left_alone, teardown),
		cmocka_unit_test_teardown(a_heap_that_grows_and_shrinks_is_left_alone, teardown),
		cmocka_unit_test_teardown(a_leak_held_at_the_tripwire_is_restarted_before_memory_max, teardown),
		cmocka_unit_test_teardown(a_spike_the_tripwire_cannot_hold_is_killed, teardown),
		cmocka_unit_test_teardown(without_a_tripwire_evidence_is_growth_near_memory_max, teardown),
		cmocka_unit_test_teardown(gentle_steps_only_where_there_is_memory_to_give_back, teardown),
		cmocka_unit_test_teardown(restart_never_makes_the_ladder_stop_the_service, teardown),
		cmocka_unit_test_teardown(the_engine_is_engaged_while_acting_and_for_a_while_after, teardown),
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
