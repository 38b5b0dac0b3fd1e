/* sysguard.c: the system-wide guard's pure parts: --system-min-available,
 * /proc/meminfo, and the decision (trigger, rate limit, escalation). The
 * daemon side (sampling, acting, records) is in sysguard-run.c. */
#include "sysguard.h"

#include <fcntl.h>

#include "policy.h"

#define MIB (1024.0 * 1024.0)

int sysguard_parse_threshold(const char *s, struct sysguard_threshold *ret)
{
	struct sysguard_threshold t = { 0 };
	_cleanup_free_ char *copy = NULL;
	char *save = NULL, *tok;
	size_t n = 0;

	if (!s || !*s)
		return -EINVAL;
	copy = strdup(s);
	if (!copy)
		return -ENOMEM;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save), n++) {
		double pct;
		uint64_t bytes;

		if (strchr(tok, '%')) {
			if (t.percent > 0 || parse_percent(tok, &pct) < 0 || !(pct > 0 && pct < 100))
				return -EINVAL;
			t.percent = pct;
		} else {
			if (t.bytes > 0 || parse_size(tok, &bytes, NULL) < 0 || bytes == 0)
				return -EINVAL;
			t.bytes = bytes;
		}
	}
	/* strtok_r skips empty fields: "5%,,1G" and ",5%" would pass unseen. */
	if (n == 0 || strstr(s, ",,") || s[0] == ',' || s[strlen(s) - 1] == ',')
		return -EINVAL;
	*ret = t;
	return 0;
}

uint64_t sysguard_threshold_bytes(const struct sysguard_threshold *t, uint64_t mem_total)
{
	uint64_t v = UINT64_MAX;

	if (t->percent > 0)
		v = (uint64_t)((double)mem_total * t->percent / 100.0);
	if (t->bytes > 0 && t->bytes < v)
		v = t->bytes;
	return v == UINT64_MAX ? 0 : v;
}

void sysguard_threshold_describe(const struct sysguard_threshold *t, char *buf, size_t len)
{
	if (t->percent > 0 && t->bytes > 0)
		snprintf(buf, len, "%g%% of MemTotal or %.0f MiB, whichever is lower", t->percent,
			 (double)t->bytes / MIB);
	else if (t->percent > 0)
		snprintf(buf, len, "%g%% of MemTotal", t->percent);
	else
		snprintf(buf, len, "%.0f MiB", (double)t->bytes / MIB);
}

/* "MemTotal:        1004772 kB": the value in bytes. */
static int parse_kb(const char *v, uint64_t *ret)
{
	_cleanup_free_ char *num = NULL;
	const char *end;
	uint64_t kb;

	v += strspn(v, " \t");
	end = v + strspn(v, "0123456789");
	if (end == v || strcmp(end, " kB") != 0)
		return -EBADMSG;
	num = strndup(v, (size_t)(end - v));
	if (!num)
		return -ENOMEM;
	if (parse_u64(num, &kb) < 0 || kb > UINT64_MAX / 1024)
		return -EBADMSG;
	*ret = kb * 1024;
	return 0;
}

int sysguard_parse_meminfo(const char *text, struct sysguard_meminfo *ret)
{
	_cleanup_free_ char *copy = strdup(text);
	struct sysguard_meminfo m = { 0 };
	bool have_total = false, have_avail = false, have_swap = false;
	char *cursor = copy, *line;
	int r;

	if (!copy)
		return -ENOMEM;
	while ((line = next_line(&cursor))) {
		char *colon = strchr(line, ':');
		bool *seen;
		uint64_t *dst;

		if (!colon) {
			if (*line)
				return -EBADMSG;
			continue;
		}
		*colon = '\0';
		if (strcmp(line, "MemTotal") == 0)
			seen = &have_total, dst = &m.mem_total;
		else if (strcmp(line, "MemAvailable") == 0)
			seen = &have_avail, dst = &m.mem_available;
		else if (strcmp(line, "SwapFree") == 0)
			seen = &have_swap, dst = &m.swap_free;
		else
			continue;
		if (*seen)
			return -EBADMSG;
		r = parse_kb(colon + 1, dst);
		if (r < 0)
			return r;
		*seen = true;
	}
	if (!have_total || !have_avail)
		return -EBADMSG;
	*ret = m;
	return 0;
}

int sysguard_read_meminfo(const char *proc_root, struct sysguard_meminfo *ret)
{
	_cleanup_free_ char *path = NULL, *text = NULL;
	_cleanup_close_ int fd = -1;
	int r;

	if (asprintf(&path, "%s/meminfo", proc_root ? proc_root : "/proc") < 0)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = read_full(fd, 1 << 20, &text, NULL);
	if (r < 0)
		return r;
	return sysguard_parse_meminfo(text, ret);
}

enum sysguard_trigger sysguard_check(const struct sysguard_config *cfg, struct sysguard_state *st,
				     const struct sysguard_sample *s)
{
	uint64_t min = sysguard_threshold_bytes(&cfg->min_available, s->mem_total);

	if (s->has_psi && cfg->psi_full_limit > 0 && s->psi_full10 >= cfg->psi_full_limit && !s->psi_self) {
		if (!st->psi_high_since)
			st->psi_high_since = s->at ? s->at : 1;
	} else
		st->psi_high_since = 0;
	if (s->mem_available < min)
		return SG_TRIGGER_MEM_AVAILABLE;
	if (st->psi_high_since && s->at - st->psi_high_since >= SYSGUARD_PSI_HOLD) {
		/* Kept for the record: deciding starts the hold over. */
		st->psi_held = s->at - st->psi_high_since;
		return SG_TRIGGER_PSI_FULL;
	}
	return SG_TRIGGER_NONE;
}

/* "Not acting" verdicts go to the action log once per episode, or a low
 * machine would write ten records a second. */
static struct sysguard_decision note(struct sysguard_state *st, enum sysguard_verdict v)
{
	bool first = !(st->noted & (1u << v));

	st->noted |= 1u << v;
	return (struct sysguard_decision){ .verdict = v, .record = first };
}

struct sysguard_decision sysguard_decide(const struct sysguard_config *cfg, struct sysguard_state *st,
					 enum sysguard_trigger trigger, usec_t now, size_t n_ranked,
					 bool victim_dry_run, bool victim_gone)
{
	if (st->pending) {
		if (!victim_gone) {
			/* Memory came back: the graceful stop may take its time. */
			if (trigger == SG_TRIGGER_NONE || st->escalated || now < st->pending_deadline)
				return (struct sysguard_decision){ .verdict = SG_WAIT };
			st->escalated = true;
			return (struct sysguard_decision){ .verdict = SG_ESCALATE, .record = true };
		}
		st->pending = false;
	}
	if (trigger == SG_TRIGGER_NONE) {
		st->noted = 0;
		return (struct sysguard_decision){ .verdict = SG_IDLE };
	}
	if (st->last_choice && now - st->last_choice < SYSGUARD_MIN_INTERVAL)
		return note(st, SG_RATE_LIMITED);
	if (n_ranked == 0)
		return note(st, SG_NO_VICTIM);
	st->last_choice = now;
	/* The PSI hold starts again: what was high before the choice says
	 * nothing about whether the choice helped. */
	st->psi_high_since = 0;
	st->noted = 0;
	if (cfg->dry_run || victim_dry_run)
		return (struct sysguard_decision){ .verdict = SG_DRY_RUN, .record = true };
	st->pending = true;
	st->pending_deadline = now + SYSGUARD_KILL_AFTER;
	st->escalated = false;
	return (struct sysguard_decision){ .verdict = SG_ACT, .record = true };
}

usec_t sysguard_next_interval(const struct sysguard_config *cfg, const struct sysguard_state *st,
			      const struct sysguard_sample *s, usec_t psi_woken, usec_t now)
{
	uint64_t min = sysguard_threshold_bytes(&cfg->min_available, s->mem_total);

	if (st->pending || st->psi_high_since)
		return SYSGUARD_FAST_INTERVAL;
	if (min > 0 && s->mem_available / 2 < min)
		return SYSGUARD_FAST_INTERVAL;
	if (psi_woken && now - psi_woken < SYSGUARD_PSI_FAST_FOR)
		return SYSGUARD_FAST_INTERVAL;
	return SYSGUARD_SLOW_INTERVAL;
}

const char *sysguard_trigger_to_string(enum sysguard_trigger t)
{
	switch (t) {
	case SG_TRIGGER_MEM_AVAILABLE: return "mem_available";
	case SG_TRIGGER_PSI_FULL: return "psi_full";
	default: return "none";
	}
}

const char *sysguard_verdict_to_string(enum sysguard_verdict v)
{
	static const char *const names[] = {
		[SG_IDLE] = "idle",
		[SG_ACT] = "act",
		[SG_DRY_RUN] = "dry-run",
		[SG_RATE_LIMITED] = "rate-limited",
		[SG_NO_VICTIM] = "no-victim",
		[SG_WAIT] = "wait",
		[SG_ESCALATE] = "escalate",
	};

	return (size_t)v < ARRAY_SIZE(names) ? names[v] : "?";
}
