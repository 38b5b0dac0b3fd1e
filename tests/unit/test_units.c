/* test_units.c: the value syntaxes of policy files: sizes, durations,
 * percents, rates, signals, and the enum names both ways. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <signal.h>

#include "policy.h"

static uint64_t size_ok(const char *s)
{
	uint64_t v = 0;
	bool is_max = true;

	assert_int_equal(parse_size(s, &v, &is_max), 0);
	assert_false(is_max);
	return v;
}

static void size_bad(const char *s, int err)
{
	uint64_t v = 7;
	bool is_max = false;

	assert_int_equal(parse_size(s, &v, &is_max), err);
	assert_int_equal(v, 7); /* untouched on error */
}

static void test_size_binary_units_are_1024_based(void **state)
{
	assert_int_equal(size_ok("512K"), 512ULL << 10);
	assert_int_equal(size_ok("512KB"), 512ULL << 10);
	assert_int_equal(size_ok("512KiB"), 512ULL << 10);
	assert_int_equal(size_ok("1536M"), 1536ULL << 20);
	assert_int_equal(size_ok("2G"), 2ULL << 30);
	assert_int_equal(size_ok("2GB"), 2ULL << 30);
	assert_int_equal(size_ok("2GiB"), 2ULL << 30);
	assert_int_equal(size_ok("3T"), 3ULL << 40);
	assert_int_equal(size_ok("1P"), 1ULL << 50);
}

static void test_size_without_unit_is_bytes(void **state)
{
	assert_int_equal(size_ok("100"), 100);
	assert_int_equal(size_ok("10"), 10);
	assert_int_equal(size_ok("0"), 0);
	assert_int_equal(size_ok("4096B"), 4096);
}

static void test_size_fraction_is_exact(void **state)
{
	assert_int_equal(size_ok("1.5G"), 1610612736ULL);
	assert_int_equal(size_ok("0.5K"), 512);
	assert_int_equal(size_ok("1.25M"), 1310720);
	/* fractions round down to whole bytes */
	assert_int_equal(size_ok("0.001K"), 1);
}

static void test_size_max_only_where_allowed(void **state)
{
	uint64_t v = 0;
	bool is_max = false;

	assert_int_equal(parse_size("max", &v, &is_max), 0);
	assert_true(is_max);
	assert_true(v == LIMIT_MAX);
	/* no ret_is_max: the caller has no use for "max" (thresholds) */
	assert_int_equal(parse_size("max", &v, NULL), -EINVAL);
	assert_int_equal(parse_size("MAX", &v, &is_max), -EINVAL);
}

static void test_size_rejects_negative_garbage_and_spaces(void **state)
{
	size_bad("-1", -EINVAL);
	size_bad("-1K", -EINVAL);
	size_bad("+1K", -EINVAL);
	size_bad("", -EINVAL);
	size_bad("lots", -EINVAL);
	size_bad("1x", -EINVAL);
	size_bad("1 G", -EINVAL);
	size_bad(" 1G", -EINVAL);
	size_bad("1G ", -EINVAL);
	size_bad("1.5", -EINVAL);  /* half a byte */
	size_bad("1.G", -EINVAL);
	size_bad(".5G", -EINVAL);
	size_bad("1g", -EINVAL);   /* units are case sensitive */
	size_bad("1Gb", -EINVAL);
	size_bad("1e9", -EINVAL);
	size_bad("0x10", -EINVAL);
	size_bad("1.0000000001G", -EINVAL); /* more precision than exists */
}

static void test_size_overflow_is_erange(void **state)
{
	assert_int_equal(size_ok("18446744073709551614"), UINT64_MAX - 1);
	size_bad("18446744073709551615", -ERANGE); /* the value of "max" */
	size_bad("18446744073709551616", -ERANGE);
	size_bad("99999999999999999999999", -ERANGE);
	size_bad("16384P", -ERANGE);
	size_bad("17179869184G", -ERANGE);
	assert_int_equal(size_ok("16383P"), 16383ULL << 50);
}

static usec_t duration_ok(const char *s)
{
	usec_t v = 0;

	assert_int_equal(parse_duration(s, &v), 0);
	return v;
}

static void test_duration_units(void **state)
{
	assert_int_equal(duration_ok("250ms"), 250 * USEC_PER_MSEC);
	assert_int_equal(duration_ok("30s"), 30 * USEC_PER_SEC);
	assert_int_equal(duration_ok("5m"), 300 * USEC_PER_SEC);
	assert_int_equal(duration_ok("5min"), 300 * USEC_PER_SEC);
	assert_int_equal(duration_ok("1h"), 3600 * USEC_PER_SEC);
	assert_int_equal(duration_ok("1d"), 86400 * USEC_PER_SEC);
	assert_int_equal(duration_ok("10us"), 10);
	assert_int_equal(duration_ok("1.5s"), 1500 * USEC_PER_MSEC);
	assert_int_equal(duration_ok("0.25h"), 900 * USEC_PER_SEC);
	assert_int_equal(duration_ok("1h30m"), 5400 * USEC_PER_SEC);
	assert_int_equal(duration_ok("1m30s"), 90 * USEC_PER_SEC);
}

static void test_duration_zero_is_the_only_bare_number(void **state)
{
	usec_t v = 7;

	assert_int_equal(duration_ok("0"), 0);
	assert_int_equal(duration_ok("0s"), 0);
	assert_int_equal(parse_duration("10", &v), -EINVAL);
	assert_int_equal(parse_duration("00", &v), -EINVAL);
	assert_int_equal(parse_duration("1m30", &v), -EINVAL);
	assert_int_equal(v, 7);
}

static void test_duration_rejects_spaces_signs_and_unknown_units(void **state)
{
	usec_t v = 7;
	const char *bad[] = { "5 m", "-1s", "+1s", "", "s", "1x", "1S", "1.s", "1sec", " 1s", "1s ", "1e3ms", "inf" };

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		assert_int_equal(parse_duration(bad[i], &v), -EINVAL);
		assert_int_equal(v, 7);
	}
}

static void test_duration_overflow_is_erange(void **state)
{
	usec_t v;

	assert_int_equal(parse_duration("213503983d", &v), -ERANGE);
	assert_int_equal(parse_duration("99999999999999999999s", &v), -ERANGE);
	assert_int_equal(parse_duration("18446744073709551615us", &v), -ERANGE); /* USEC_INFINITY */
	assert_int_equal(parse_duration("106751992d106751991d", &v), -ERANGE);
	assert_int_equal(parse_duration("213503982d", &v), 0);
}

static void test_percent(void **state)
{
	double v = -1;

	assert_int_equal(parse_percent("20%", &v), 0);
	assert_true(v == 20.0);
	assert_int_equal(parse_percent("150%", &v), 0);
	assert_true(v == 150.0);
	assert_int_equal(parse_percent("0.5%", &v), 0);
	assert_true(v == 0.5);
	assert_int_equal(parse_percent("0%", &v), 0);
	assert_true(v == 0.0);
	v = -1;
	assert_int_equal(parse_percent("20", &v), -EINVAL); /* the sign says it is a percent */
	assert_int_equal(parse_percent("-5%", &v), -EINVAL);
	assert_int_equal(parse_percent("5 %", &v), -EINVAL);
	assert_int_equal(parse_percent("5%%", &v), -EINVAL);
	assert_int_equal(parse_percent("nan%", &v), -EINVAL);
	assert_int_equal(parse_percent("1e2%", &v), -EINVAL);
	assert_int_equal(parse_percent("99999999999999999999%", &v), -ERANGE);
	assert_true(v == -1);
}

static void test_rate(void **state)
{
	double v = -1;

	assert_int_equal(parse_rate("5", &v), 0);
	assert_true(v == 5.0);
	assert_int_equal(parse_rate("0.5/s", &v), 0);
	assert_true(v == 0.5);
	assert_int_equal(parse_rate("5/m", &v), -EINVAL);
	assert_int_equal(parse_rate("-1", &v), -EINVAL);
	assert_int_equal(parse_rate("", &v), -EINVAL);
}

static void test_signal_names_numbers_and_sig_prefix(void **state)
{
	int s = 0;

	assert_int_equal(parse_signal("TERM", &s), 0);
	assert_int_equal(s, SIGTERM);
	assert_int_equal(parse_signal("SIGTERM", &s), 0);
	assert_int_equal(s, SIGTERM);
	assert_int_equal(parse_signal("15", &s), 0);
	assert_int_equal(s, 15);
	assert_int_equal(parse_signal("sigquit", &s), 0);
	assert_int_equal(s, SIGQUIT);
	assert_int_equal(parse_signal("KILL", &s), 0);
	assert_int_equal(s, SIGKILL);
	assert_int_equal(parse_signal("HUP", &s), 0);
	assert_int_equal(s, SIGHUP);
	assert_int_equal(parse_signal("INT", &s), 0);
	assert_int_equal(s, SIGINT);
	assert_int_equal(parse_signal("USR1", &s), 0);
	assert_int_equal(s, SIGUSR1);
	assert_int_equal(parse_signal("SIGUSR2", &s), 0);
	assert_int_equal(s, SIGUSR2);
	assert_string_equal(signal_to_string(SIGQUIT), "QUIT");
}

static void test_signal_rejects_unknown_and_out_of_range(void **state)
{
	int s = 7;
	const char *bad[] = { "TERMINATE", "SIG", "", "0", "-15", "65", "15x", "SIG15", " TERM" };

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_int_equal(parse_signal(bad[i], &s), -EINVAL);
	assert_int_equal(s, 7);
}

static void test_enum_names_round_trip(void **state)
{
	for (int i = ACTION_NONE + 1; i < _ACTION_MAX; i++) {
		enum action_kind a;

		assert_int_equal(action_kind_from_string(action_kind_to_string(i), &a), 0);
		assert_int_equal(a, i);
	}
	for (int i = 0; i < _METRIC_MAX; i++) {
		enum metric_kind m;

		assert_int_equal(metric_kind_from_string(metric_kind_to_string(i), &m), 0);
		assert_int_equal(m, i);
	}
	for (int i = RESTART_NEVER; i <= RESTART_ALWAYS; i++) {
		enum restart_mode r;

		assert_int_equal(restart_mode_from_string(restart_mode_to_string(i), &r), 0);
		assert_int_equal(r, i);
	}
	assert_string_equal(action_kind_to_string(ACTION_OOM_ADJ), "oom_score_adj");
	assert_string_equal(restart_mode_to_string(RESTART_ON_FAILURE), "on-failure");
	assert_null(action_kind_to_string(_ACTION_MAX));
	assert_null(metric_kind_to_string(_METRIC_MAX));
}

static void test_metric_units(void **state)
{
	assert_int_equal(metric_kind_unit(METRIC_WORKING_SET), UNIT_BYTES);
	assert_int_equal(metric_kind_unit(METRIC_SWAP), UNIT_BYTES);
	assert_int_equal(metric_kind_unit(METRIC_PSI_SOME_AVG10), UNIT_PERCENT);
	assert_int_equal(metric_kind_unit(METRIC_CPU), UNIT_PERCENT);
	assert_int_equal(metric_kind_unit(METRIC_TIME_TO_MAX), UNIT_USEC);
	assert_int_equal(metric_kind_unit(METRIC_PIDS), UNIT_COUNT);
	assert_int_equal(metric_kind_unit(METRIC_MEMORY_EVENTS_HIGH_RATE), UNIT_RATE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_size_binary_units_are_1024_based),
		cmocka_unit_test(test_size_without_unit_is_bytes),
		cmocka_unit_test(test_size_fraction_is_exact),
		cmocka_unit_test(test_size_max_only_where_allowed),
		cmocka_unit_test(test_size_rejects_negative_garbage_and_spaces),
		cmocka_unit_test(test_size_overflow_is_erange),
		cmocka_unit_test(test_duration_units),
		cmocka_unit_test(test_duration_zero_is_the_only_bare_number),
		cmocka_unit_test(test_duration_rejects_spaces_signs_and_unknown_units),
		cmocka_unit_test(test_duration_overflow_is_erange),
		cmocka_unit_test(test_percent),
		cmocka_unit_test(test_rate),
		cmocka_unit_test(test_signal_names_numbers_and_sig_prefix),
		cmocka_unit_test(test_signal_rejects_unknown_and_out_of_range),
		cmocka_unit_test(test_enum_names_round_trip),
		cmocka_unit_test(test_metric_units),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
