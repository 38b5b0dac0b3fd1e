/* test_sysguard.c: the system-wide guard's pure parts: --system-min-available,
 * /proc/meminfo against fixtures, and the decisions: when to act, one
 * victim at a time, escalation, dry run, and records once per episode. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sysguard.h"

#define MIB ((uint64_t)1 << 20)
#define GIB ((uint64_t)1 << 30)
#define SEC USEC_PER_SEC

static const char *fixtures(void)
{
	const char *d = getenv("GUARDIAN_FIXTURES");

	return d ? d : "tests/fixtures";
}

static void threshold_accepts_percent_size_or_both(void **state)
{
	struct sysguard_threshold t;

	assert_int_equal(sysguard_parse_threshold("5%", &t), 0);
	assert_true(t.percent == 5.0 && t.bytes == 0);
	assert_int_equal(sysguard_threshold_bytes(&t, 1000 * MIB), 50 * MIB);
	assert_int_equal(sysguard_parse_threshold("512M", &t), 0);
	assert_true(t.percent == 0 && t.bytes == 512 * MIB);
	assert_int_equal(sysguard_threshold_bytes(&t, 64 * GIB), 512 * MIB);
	assert_int_equal(sysguard_parse_threshold("1.5%,1G", &t), 0);
	assert_true(t.percent == 1.5 && t.bytes == GIB);
	assert_int_equal(sysguard_parse_threshold("1G,10%", &t), 0);
	assert_true(t.percent == 10 && t.bytes == GIB);
}

static void threshold_both_means_the_lower(void **state)
{
	struct sysguard_threshold t;
	char buf[96];

	assert_int_equal(sysguard_parse_threshold(SYSGUARD_MIN_AVAILABLE_DEFAULT, &t), 0);
	/* 1 GiB machine: 10 % is lower than 2 GiB. */
	assert_int_equal(sysguard_threshold_bytes(&t, GIB), GIB / 10);
	/* 64 GiB machine: the 2 GiB cap. */
	assert_int_equal(sysguard_threshold_bytes(&t, 64 * GIB), 2 * GIB);
	sysguard_threshold_describe(&t, buf, sizeof(buf));
	assert_string_equal(buf, "10% of MemTotal or 2048 MiB, whichever is lower");
}

static void threshold_refuses_nonsense(void **state)
{
	const char *bad[] = { "", "0", "0%", "100%", "150%", "-5%", "5%,6%", "1G,2G", "5%,", ",5%",
			      "5%,,1G", "max", "ten%", "5 %" };
	struct sysguard_threshold t = { .percent = 42 };

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		if (sysguard_parse_threshold(bad[i], &t) != -EINVAL)
			fail_msg("'%s' was accepted", bad[i]);
	}
	assert_int_equal(sysguard_parse_threshold(NULL, &t), -EINVAL);
	assert_true(t.percent == 42); /* untouched on error */
}

static void meminfo_fixture_gives_total_and_available(void **state)
{
	_cleanup_free_ char *root = NULL;
	struct sysguard_meminfo m;

	assert_true(asprintf(&root, "%s/proc", fixtures()) > 0);
	assert_int_equal(sysguard_read_meminfo(root, &m), 0);
	assert_int_equal(m.mem_total, (uint64_t)1004772 * 1024);
	assert_int_equal(m.mem_available, (uint64_t)92160 * 1024);
}

static void meminfo_is_parsed_strictly(void **state)
{
	const char *bad[] = { "no-available", "duplicate", "bad-unit", "junk-line", "overflow" };
	struct sysguard_meminfo m;

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		_cleanup_free_ char *root = NULL;

		assert_true(asprintf(&root, "%s/proc/meminfo-cases/%s", fixtures(), bad[i]) > 0);
		if (sysguard_read_meminfo(root, &m) != -EBADMSG)
			fail_msg("meminfo-cases/%s was not refused", bad[i]);
	}
	assert_int_equal(sysguard_read_meminfo("/nonexistent", &m), -ENOENT);
	assert_int_equal(sysguard_parse_meminfo("MemAvailable: 1 kB\nMemTotal: 2 kB\n\n", &m), 0);
	assert_int_equal(m.mem_total, 2048);
	assert_int_equal(sysguard_parse_meminfo("MemAvailable: 1 kB\nMemTotal: kB\n", &m), -EBADMSG);
	assert_int_equal(sysguard_parse_meminfo("MemAvailable: 1 kB\nMemTotal: 2kB\n", &m), -EBADMSG);
}

static struct sysguard_config config(void)
{
	struct sysguard_config cfg = { .psi_full_limit = SYSGUARD_PSI_FULL_DEFAULT };

	assert_int_equal(sysguard_parse_threshold("10%", &cfg.min_available), 0);
	return cfg;
}

static struct sysguard_sample sample(usec_t at, uint64_t avail_mib, double full10)
{
	return (struct sysguard_sample){ .at = at, .mem_total = 1000 * MIB, .mem_available = avail_mib * MIB,
					 .has_psi = true, .psi_full10 = full10 };
}

static void mem_available_below_threshold_triggers(void **state)
{
	struct sysguard_config cfg = config();
	struct sysguard_state st = { 0 };
	struct sysguard_sample s = sample(100 * SEC, 100, 0);

	assert_int_equal(sysguard_check(&cfg, &st, &s), SG_TRIGGER_NONE); /* exactly at 10 % */
	s.mem_available -= 1;
	assert_int_equal(sysguard_check(&cfg, &st, &s), SG_TRIGGER_MEM_AVAILABLE);
}

static void psi_full_must_stay_high_for_the_hold(void **state)
{
	struct sysguard_config cfg = config();
	struct sysguard_state st = { 0 };
	struct sysguard_sample s = sample(100 * SEC, 500, 60);

	assert_int_equal(sysguard_check(&cfg, &st, &s), SG_TRIGGER_NONE);
	s.at += SYSGUARD_PSI_HOLD - 1;
	assert_int_equal(sysguard_check(&cfg, &st, &s), SG_TRIGGER_NONE);
	/* One sample below the limit starts the hold again. */
	s.psi_full10 = 39.9;
	s.at += 1;
	assert_int_equal(sysguard_check(&cfg, &st, &s), SG_TRIGGER_NONE);
	s.psi_full10 = 45;
	assert_int_equal(sysguard_check(&cfg, &st, &s), SG_TRIGGER_NONE);
	s.at += SYSGUARD_PSI_HOLD;
	assert_int_equal(sysguard_check(&cfg, &st, &s), SG_TRIGGER_PSI_FULL);
	/* The measured machine-wide leak: 1.6 % PSI never triggers on its own. */
	st = (struct sysguard_state){ 0 };
	s = sample(100 * SEC, 500, 1.6);
	for (int i = 0; i < 100; i++, s.at += SEC)
		assert_int_equal(sysguard_check(&cfg, &st, &s), SG_TRIGGER_NONE);
	/* A 0 limit disables PSI. */
	cfg.psi_full_limit = 0;
	s.psi_full10 = 100;
	for (int i = 0; i < 10; i++, s.at += SEC)
		assert_int_equal(sysguard_check(&cfg, &st, &s), SG_TRIGGER_NONE);
}

static void psi_trigger_names_how_long_it_was_held_even_after_deciding(void **state)
{
	struct sysguard_config cfg = config();
	struct sysguard_state st = { 0 };
	struct sysguard_sample s = sample(100 * SEC, 500, 60);

	assert_int_equal(sysguard_check(&cfg, &st, &s), SG_TRIGGER_NONE);
	s.at += SYSGUARD_PSI_HOLD + 2 * SEC;
	assert_int_equal(sysguard_check(&cfg, &st, &s), SG_TRIGGER_PSI_FULL);
	assert_int_equal(st.psi_held, SYSGUARD_PSI_HOLD + 2 * SEC);
	/* Acting starts the hold over; what it was stays for the record (it
	 * read as the daemon's uptime before). */
	(void)sysguard_decide(&cfg, &st, SG_TRIGGER_PSI_FULL, s.at, 1, false, true);
	assert_int_equal(st.psi_high_since, 0);
	assert_int_equal(st.psi_held, SYSGUARD_PSI_HOLD + 2 * SEC);
}

static void stall_of_a_service_at_its_own_limit_is_not_the_machines(void **state)
{
	struct sysguard_config cfg = config();
	struct sysguard_state st = { 0 };
	struct sysguard_sample s = sample(100 * SEC, 500, 60);

	/* A service held at its memory.high drives system PSI full up: not a
	 * machine short of memory. */
	s.psi_self = true;
	for (int i = 0; i < 60; i++, s.at += SEC)
		assert_int_equal(sysguard_check(&cfg, &st, &s), SG_TRIGGER_NONE);
	/* MemAvailable still counts. */
	s.mem_available = 50 * MIB;
	assert_int_equal(sysguard_check(&cfg, &st, &s), SG_TRIGGER_MEM_AVAILABLE);
	/* Once that stall is over, PSI full counts again, from then. */
	s.mem_available = 500 * MIB;
	s.psi_self = false;
	assert_int_equal(sysguard_check(&cfg, &st, &s), SG_TRIGGER_NONE);
	s.at += SYSGUARD_PSI_HOLD;
	assert_int_equal(sysguard_check(&cfg, &st, &s), SG_TRIGGER_PSI_FULL);
}

static void acts_once_then_waits_for_the_victim(void **state)
{
	struct sysguard_config cfg = config();
	struct sysguard_state st = { 0 };
	usec_t now = 100 * SEC;
	struct sysguard_decision d;

	assert_int_equal(sysguard_decide(&cfg, &st, SG_TRIGGER_NONE, now, 3, false, true).verdict, SG_IDLE);
	d = sysguard_decide(&cfg, &st, SG_TRIGGER_MEM_AVAILABLE, now, 3, false, true);
	assert_int_equal(d.verdict, SG_ACT);
	assert_true(d.record && st.pending);
	/* Its stop is under way: nobody else, nothing recorded. */
	d = sysguard_decide(&cfg, &st, SG_TRIGGER_MEM_AVAILABLE, now + 500 * USEC_PER_MSEC, 2, false, false);
	assert_int_equal(d.verdict, SG_WAIT);
	assert_false(d.record);
	/* It went, memory is still low: one victim per interval. */
	d = sysguard_decide(&cfg, &st, SG_TRIGGER_MEM_AVAILABLE, now + SEC, 2, false, true);
	assert_int_equal(d.verdict, SG_RATE_LIMITED);
	assert_true(d.record);
	assert_false(st.pending);
	d = sysguard_decide(&cfg, &st, SG_TRIGGER_MEM_AVAILABLE, now + 2 * SEC, 2, false, true);
	assert_int_equal(d.verdict, SG_RATE_LIMITED);
	assert_false(d.record); /* once per episode */
	d = sysguard_decide(&cfg, &st, SG_TRIGGER_MEM_AVAILABLE, now + SYSGUARD_MIN_INTERVAL, 2, false, true);
	assert_int_equal(d.verdict, SG_ACT);
}

static void escalates_when_memory_does_not_come_back(void **state)
{
	struct sysguard_config cfg = config();
	struct sysguard_state st = { 0 };
	usec_t now = 100 * SEC;
	struct sysguard_decision d;

	assert_int_equal(sysguard_decide(&cfg, &st, SG_TRIGGER_MEM_AVAILABLE, now, 1, false, true).verdict, SG_ACT);
	d = sysguard_decide(&cfg, &st, SG_TRIGGER_MEM_AVAILABLE, now + SYSGUARD_KILL_AFTER - 1, 1, false, false);
	assert_int_equal(d.verdict, SG_WAIT);
	d = sysguard_decide(&cfg, &st, SG_TRIGGER_MEM_AVAILABLE, now + SYSGUARD_KILL_AFTER, 1, false, false);
	assert_int_equal(d.verdict, SG_ESCALATE);
	assert_true(d.record);
	/* Once: then the kill is awaited. */
	d = sysguard_decide(&cfg, &st, SG_TRIGGER_MEM_AVAILABLE, now + SYSGUARD_KILL_AFTER + 1, 1, false, false);
	assert_int_equal(d.verdict, SG_WAIT);
}

static void no_escalation_once_memory_is_back(void **state)
{
	struct sysguard_config cfg = config();
	struct sysguard_state st = { 0 };
	usec_t now = 100 * SEC;

	assert_int_equal(sysguard_decide(&cfg, &st, SG_TRIGGER_MEM_AVAILABLE, now, 1, false, true).verdict, SG_ACT);
	/* A slow graceful stop, but the machine is fine again: let it be. */
	assert_int_equal(sysguard_decide(&cfg, &st, SG_TRIGGER_NONE, now + 30 * SEC, 1, false, false).verdict,
			 SG_WAIT);
}

static void all_protected_is_recorded_once(void **state)
{
	struct sysguard_config cfg = config();
	struct sysguard_state st = { 0 };
	usec_t now = 100 * SEC;
	struct sysguard_decision d;

	d = sysguard_decide(&cfg, &st, SG_TRIGGER_MEM_AVAILABLE, now, 0, false, true);
	assert_int_equal(d.verdict, SG_NO_VICTIM);
	assert_true(d.record);
	d = sysguard_decide(&cfg, &st, SG_TRIGGER_MEM_AVAILABLE, now + SEC, 0, false, true);
	assert_int_equal(d.verdict, SG_NO_VICTIM);
	assert_false(d.record);
	/* The episode ends; the next one is recorded again. */
	assert_int_equal(sysguard_decide(&cfg, &st, SG_TRIGGER_NONE, now + 2 * SEC, 0, false, true).verdict, SG_IDLE);
	d = sysguard_decide(&cfg, &st, SG_TRIGGER_MEM_AVAILABLE, now + 3 * SEC, 0, false, true);
	assert_true(d.record);
	assert_false(st.pending);
}

static void dry_run_records_but_never_acts(void **state)
{
	struct sysguard_config cfg = config();
	struct sysguard_state st = { 0 };
	usec_t now = 100 * SEC;
	struct sysguard_decision d;

	/* --dry-run */
	cfg.dry_run = true;
	d = sysguard_decide(&cfg, &st, SG_TRIGGER_MEM_AVAILABLE, now, 2, false, true);
	assert_int_equal(d.verdict, SG_DRY_RUN);
	assert_true(d.record);
	assert_false(st.pending);
	/* ... at the rate a real victim would be chosen. */
	d = sysguard_decide(&cfg, &st, SG_TRIGGER_MEM_AVAILABLE, now + SEC, 2, false, true);
	assert_int_equal(d.verdict, SG_RATE_LIMITED);
	d = sysguard_decide(&cfg, &st, SG_TRIGGER_MEM_AVAILABLE, now + SYSGUARD_MIN_INTERVAL, 2, false, true);
	assert_int_equal(d.verdict, SG_DRY_RUN);
	/* The victim's own policy says dry_run. */
	cfg.dry_run = false;
	st = (struct sysguard_state){ 0 };
	d = sysguard_decide(&cfg, &st, SG_TRIGGER_PSI_FULL, now, 2, true, true);
	assert_int_equal(d.verdict, SG_DRY_RUN);
	assert_false(st.pending);
}

static void samples_faster_near_the_threshold(void **state)
{
	struct sysguard_config cfg = config();
	struct sysguard_state st = { 0 };
	usec_t now = 100 * SEC;
	struct sysguard_sample s = sample(now, 500, 0);

	assert_int_equal(sysguard_next_interval(&cfg, &st, &s, 0, now), SYSGUARD_SLOW_INTERVAL);
	s.mem_available = 199 * MIB; /* under twice the 100 MiB threshold */
	assert_int_equal(sysguard_next_interval(&cfg, &st, &s, 0, now), SYSGUARD_FAST_INTERVAL);
	s.mem_available = 500 * MIB;
	assert_int_equal(sysguard_next_interval(&cfg, &st, &s, now - SEC, now), SYSGUARD_FAST_INTERVAL);
	assert_int_equal(sysguard_next_interval(&cfg, &st, &s, now - SYSGUARD_PSI_FAST_FOR, now),
			 SYSGUARD_SLOW_INTERVAL);
	st.pending = true;
	assert_int_equal(sysguard_next_interval(&cfg, &st, &s, 0, now), SYSGUARD_FAST_INTERVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(threshold_accepts_percent_size_or_both),
		cmocka_unit_test(threshold_both_means_the_lower),
		cmocka_unit_test(threshold_refuses_nonsense),
		cmocka_unit_test(meminfo_fixture_gives_total_and_available),
		cmocka_unit_test(meminfo_is_parsed_strictly),
		cmocka_unit_test(mem_available_below_threshold_triggers),
		cmocka_unit_test(psi_full_must_stay_high_for_the_hold),
		cmocka_unit_test(psi_trigger_names_how_long_it_was_held_even_after_deciding),
		cmocka_unit_test(stall_of_a_service_at_its_own_limit_is_not_the_machines),
		cmocka_unit_test(acts_once_then_waits_for_the_victim),
		cmocka_unit_test(escalates_when_memory_does_not_come_back),
		cmocka_unit_test(no_escalation_once_memory_is_back),
		cmocka_unit_test(all_protected_is_recorded_once),
		cmocka_unit_test(dry_run_records_but_never_acts),
		cmocka_unit_test(samples_faster_near_the_threshold),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
