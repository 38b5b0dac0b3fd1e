/* test_victim.c: the victim ranking under system-wide pressure: priority
 * first, protected never, then usage above memory.low, then growth, and the
 * same order whatever order the services come in. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "victim.h"

#define MB ((uint64_t)1 << 20)

static struct victim_candidate cand(const char *name, int prio, uint64_t usage_mb, uint64_t low_mb, double growth)
{
	return (struct victim_candidate){ .service = name, .priority = prio, .usage = usage_mb * MB,
					  .memory_low = low_mb * MB, .growth_bps = growth };
}

static const char *nth(const struct victim_candidate *c, const struct victim_rank *r, size_t i)
{
	return c[r[i].index].service;
}

static void lowest_priority_goes_first(void **state)
{
	/* The biggest and fastest-growing service has the highest priority:
	 * priority decides before any figure does. */
	struct victim_candidate c[] = {
		cand("db", 10, 900, 0, 50e6),
		cand("batch", 0, 100, 0, 0),
		cand("web", 5, 400, 0, 10e6),
	};
	struct victim_rank r[3];

	assert_int_equal(victim_rank(c, 3, r), 3);
	assert_string_equal(nth(c, r, 0), "batch");
	assert_string_equal(nth(c, r, 1), "web");
	assert_string_equal(nth(c, r, 2), "db");
	assert_int_equal(r[0].key, VICTIM_KEY_PRIORITY);
	assert_string_equal(r[0].reason, "before web: priority 0 < 5");
	assert_string_equal(r[2].reason, "after web: priority 10 > 5");
}

/* On a Kubernetes node the kubelet's order comes first: BestEffort pods,
 * then Burstable ones, then Guaranteed pods and what is not a pod, and
 * only then priority and the rest. */
static void pods_go_in_the_kubelets_eviction_order(void **state)
{
	struct victim_candidate c[] = {
		cand("guaranteed-pod", -50, 900, 0, 0),
		cand("burstable-pod", 10, 100, 0, 0),
		cand("besteffort-pod", 100, 10, 0, 0),
		cand("launched-service", -100, 500, 0, 0),
	};
	struct victim_rank r[4];

	c[0].eviction_class = VICTIM_NOT_BURSTABLE;
	c[1].eviction_class = VICTIM_BURSTABLE;
	c[2].eviction_class = VICTIM_BESTEFFORT;
	c[3].eviction_class = VICTIM_NOT_BURSTABLE;
	assert_int_equal(victim_rank(c, 4, r), 4);
	assert_string_equal(nth(c, r, 0), "besteffort-pod");
	assert_string_equal(nth(c, r, 1), "burstable-pod");
	assert_string_equal(nth(c, r, 2), "launched-service"); /* priority -100 < -50 */
	assert_string_equal(nth(c, r, 3), "guaranteed-pod");
	assert_int_equal(r[0].key, VICTIM_KEY_QOS);
	assert_string_equal(r[0].reason, "before burstable-pod: the kubelet's eviction order (BestEffort before Burstable)");
	assert_int_equal(r[2].key, VICTIM_KEY_PRIORITY);
}

/* Burstable pods: the most above its memory request goes first, not the
 * biggest; at equal excess the lower priority class goes first. */
static void burstable_pods_by_usage_above_request_then_priority_class(void **state)
{
	struct victim_candidate c[] = {
		cand("big-within-request", 0, 900, 1024, 0),  /* 900 MiB used of a 1 GiB request */
		cand("small-over-request", 0, 300, 64, 0),     /* 236 MiB over its 64 MiB request */
		cand("same-over-critical", 0, 300, 64, 0),
	};
	struct victim_rank r[3];

	for (size_t i = 0; i < 3; i++) {
		c[i].eviction_class = VICTIM_BURSTABLE;
		c[i].low_is_request = true;
	}
	c[1].pod_priority = 0;
	c[2].pod_priority = 2000000000;
	assert_int_equal(victim_rank(c, 3, r), 3);
	assert_string_equal(nth(c, r, 0), "small-over-request");
	assert_string_equal(nth(c, r, 1), "same-over-critical");
	assert_string_equal(nth(c, r, 2), "big-within-request");
	assert_int_equal(r[0].key, VICTIM_KEY_POD_PRIORITY);
	assert_string_equal(r[0].reason,
			    "before same-over-critical: same priority and usage; pod priority class 0 < 2000000000");
	assert_int_equal(r[1].key, VICTIM_KEY_ABOVE_LOW);
	assert_string_equal(r[1].reason, "before big-within-request: same priority 0; 236 MiB above its memory request vs -124 MiB");
}

static void negative_priorities_go_before_zero(void **state)
{
	struct victim_candidate c[] = { cand("a", 0, 10, 0, 0), cand("b", -100, 10, 0, 0) };
	struct victim_rank r[2];

	assert_int_equal(victim_rank(c, 2, r), 2);
	assert_string_equal(nth(c, r, 0), "b");
}

static void protected_is_never_ranked(void **state)
{
	/* Protected with the lowest priority and the most memory: still never. */
	struct victim_candidate c[] = {
		cand("keep", -1000, 900, 0, 99e6),
		cand("web", 5, 10, 0, 0),
	};
	struct victim_rank r[2];

	c[0].protected_ = true;
	assert_int_equal(victim_rank(c, 2, r), 1);
	assert_string_equal(nth(c, r, 0), "web");
	assert_int_equal(r[0].key, VICTIM_KEY_ONLY);
}

static void protected_alone_means_nobody(void **state)
{
	struct victim_candidate c[] = { cand("keep", 0, 900, 0, 99e6) };
	struct victim_rank r[1];

	c[0].protected_ = true;
	assert_int_equal(victim_rank(c, 1, r), 0);
	assert_int_equal(victim_rank(c, 0, r), 0);
}

static void same_priority_most_above_memory_low_first(void **state)
{
	/* "big" uses more, but 500 MiB of it is protected by memory.low: "lean"
	 * is further above its protection and goes first. */
	struct victim_candidate c[] = {
		cand("big", 0, 600, 500, 0),
		cand("lean", 0, 300, 0, 0),
		cand("under", 0, 100, 200, 0),
	};
	struct victim_rank r[3];

	assert_int_equal(victim_rank(c, 3, r), 3);
	assert_string_equal(nth(c, r, 0), "lean");
	assert_string_equal(nth(c, r, 1), "big");
	assert_string_equal(nth(c, r, 2), "under");
	assert_int_equal(r[0].key, VICTIM_KEY_ABOVE_LOW);
	assert_int_equal(r[0].above_low, (int64_t)(300 * MB));
	assert_int_equal(r[2].above_low, -(int64_t)(100 * MB));
	assert_string_equal(r[0].reason, "before big: same priority 0; 300 MiB above memory.low vs 100 MiB");
}

static void memory_low_max_protects_everything(void **state)
{
	struct victim_candidate c[] = { cand("a", 0, 900, 0, 0), cand("b", 0, 10, 0, 0) };
	struct victim_rank r[2];

	c[0].memory_low = UINT64_MAX;
	assert_int_equal(victim_rank(c, 2, r), 2);
	assert_string_equal(nth(c, r, 0), "b");
}

static void near_equal_usage_falls_to_growth(void **state)
{
	/* 200 and 205 MiB above memory.low are within one VICTIM_USAGE_GRAIN:
	 * the faster grower goes first although it uses slightly less. */
	struct victim_candidate c[] = {
		cand("steady", 0, 205, 0, 0.5e6),
		cand("leaking", 0, 200, 0, 40e6),
	};
	struct victim_rank r[2];

	assert_true(5 * MB < VICTIM_USAGE_GRAIN);
	assert_int_equal(victim_rank(c, 2, r), 2);
	assert_string_equal(nth(c, r, 0), "leaking");
	assert_int_equal(r[0].key, VICTIM_KEY_GROWTH);
	assert_string_equal(r[0].reason, "before steady: same priority, above memory.low alike (200 vs 205 MiB); "
					 "growing 40.0 MB/s vs 0.5 MB/s");
	/* A shrinking service ranks after one that is not growing at all. */
	c[1].growth_bps = -1e6;
	c[0].growth_bps = 0;
	assert_int_equal(victim_rank(c, 2, r), 2);
	assert_string_equal(nth(c, r, 0), "steady");
}

static void full_tie_is_broken_by_name(void **state)
{
	struct victim_candidate c[] = { cand("zeta", 1, 64, 0, 0), cand("alpha", 1, 64, 0, 0) };
	struct victim_rank r[2];

	assert_int_equal(victim_rank(c, 2, r), 2);
	assert_string_equal(nth(c, r, 0), "alpha");
	assert_int_equal(r[0].key, VICTIM_KEY_NAME);
	assert_int_equal(r[1].key, VICTIM_KEY_NAME);
}

static void any_input_order_gives_the_same_ranking(void **state)
{
	const struct victim_candidate base[] = {
		cand("a", 5, 100, 0, 0), cand("b", 0, 300, 0, 1e6), cand("c", 0, 300, 0, 9e6),
		cand("d", 0, 800, 600, 0), cand("e", 0, 64, 0, 0), cand("f", 5, 100, 0, 0),
	};
	const char *want[] = { "c", "b", "d", "e", "a", "f" };
	struct victim_candidate c[6];
	struct victim_rank r[6];

	/* Every rotation and its reverse. */
	for (size_t rot = 0; rot < 6; rot++) {
		for (int rev = 0; rev < 2; rev++) {
			for (size_t i = 0; i < 6; i++) {
				size_t j = (i + rot) % 6;
				c[rev ? 5 - i : i] = base[j];
			}
			assert_int_equal(victim_rank(c, 6, r), 6);
			for (size_t i = 0; i < 6; i++)
				assert_string_equal(nth(c, r, i), want[i]);
		}
	}
}

static void every_place_has_a_reason(void **state)
{
	struct victim_candidate c[] = {
		cand("a", 0, 100, 0, 0), cand("b", 1, 100, 0, 0), cand("c", 2, 100, 0, 0),
	};
	struct victim_rank r[3];

	assert_int_equal(victim_rank(c, 3, r), 3);
	for (size_t i = 0; i < 3; i++)
		assert_true(r[i].reason[0] != '\0');
	assert_string_equal(victim_key_to_string(r[1].key), "priority");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(lowest_priority_goes_first),
		cmocka_unit_test(negative_priorities_go_before_zero),
		cmocka_unit_test(protected_is_never_ranked),
		cmocka_unit_test(protected_alone_means_nobody),
		cmocka_unit_test(same_priority_most_above_memory_low_first),
		cmocka_unit_test(memory_low_max_protects_everything),
		cmocka_unit_test(near_equal_usage_falls_to_growth),
		cmocka_unit_test(full_tie_is_broken_by_name),
		cmocka_unit_test(any_input_order_gives_the_same_ranking),
		cmocka_unit_test(every_place_has_a_reason),
		cmocka_unit_test(pods_go_in_the_kubelets_eviction_order),
		cmocka_unit_test(burstable_pods_by_usage_above_request_then_priority_class),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
