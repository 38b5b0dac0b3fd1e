/* units.c: the value syntaxes of policy files (sizes, durations, percents,
 * rates, signals) and the names of the policy enums, both ways. */
#include "policy.h"

#include <ctype.h>
#include <signal.h>
#include <strings.h>

/* A non-negative decimal "123" or "1.25", read without floating point so
 * that 1.5G is exactly 1610612736. */
struct decimal {
	uint64_t ip;    /* integer part */
	uint64_t frac;  /* fraction digits as an integer: 25 for .25 */
	uint64_t scale; /* 10^digits: 100 for .25; 1 without a fraction */
};

/* More fraction digits than a microsecond or a byte can use are refused
 * rather than silently dropped. */
#define MAX_FRACTION_DIGITS 9

static int parse_decimal(const char *s, struct decimal *ret, const char **ret_end)
{
	struct decimal d = { .scale = 1 };
	char *end = NULL;
	const char *p;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	d.ip = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	if (errno || end == s)
		return -EINVAL;
	p = end;
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		for (unsigned n = 0; isdigit((unsigned char)*p); n++, p++) {
			if (n == MAX_FRACTION_DIGITS)
				return -EINVAL;
			d.frac = d.frac * 10 + (uint64_t)(*p - '0');
			d.scale *= 10;
		}
	}
	*ret = d;
	*ret_end = p;
	return 0;
}

/* d * mult, rounded down; -ERANGE past UINT64_MAX. */
static int decimal_scale(const struct decimal *d, uint64_t mult, uint64_t *ret)
{
	unsigned __int128 frac = (unsigned __int128)d->frac * mult / d->scale;
	uint64_t v;

	if (__builtin_mul_overflow(d->ip, mult, &v))
		return -ERANGE;
	if (__builtin_add_overflow(v, (uint64_t)frac, &v))
		return -ERANGE;
	*ret = v;
	return 0;
}

struct unit {
	const char *suffix;
	uint64_t mult;
};

/* Every size unit is a power of 1024: memory limits are set in pages and
 * nobody means 10^9 when writing 2G for memory.max. */
static const struct unit size_units[] = {
	{ "", 1 },          { "B", 1 },
	{ "K", 1ULL << 10 }, { "KB", 1ULL << 10 }, { "KiB", 1ULL << 10 },
	{ "M", 1ULL << 20 }, { "MB", 1ULL << 20 }, { "MiB", 1ULL << 20 },
	{ "G", 1ULL << 30 }, { "GB", 1ULL << 30 }, { "GiB", 1ULL << 30 },
	{ "T", 1ULL << 40 }, { "TB", 1ULL << 40 }, { "TiB", 1ULL << 40 },
	{ "P", 1ULL << 50 }, { "PB", 1ULL << 50 }, { "PiB", 1ULL << 50 },
};

static const struct unit time_units[] = {
	{ "us", 1 },
	{ "ms", USEC_PER_MSEC },
	{ "s", USEC_PER_SEC },
	{ "m", 60 * USEC_PER_SEC },
	{ "min", 60 * USEC_PER_SEC },
	{ "h", 3600 * USEC_PER_SEC },
	{ "d", 86400 * USEC_PER_SEC },
};

static const struct unit *unit_find(const struct unit *t, size_t n, const char *s, size_t len)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(t[i].suffix) == len && strncmp(t[i].suffix, s, len) == 0)
			return &t[i];
	return NULL;
}

int parse_size(const char *s, uint64_t *ret_bytes, bool *ret_is_max)
{
	const struct unit *u;
	struct decimal d;
	const char *end;
	uint64_t v;
	int r;

	if (!s)
		return -EINVAL;
	if (strcmp(s, "max") == 0) {
		if (!ret_is_max)
			return -EINVAL;
		*ret_bytes = LIMIT_MAX;
		*ret_is_max = true;
		return 0;
	}
	r = parse_decimal(s, &d, &end);
	if (r < 0)
		return r;
	u = unit_find(size_units, ARRAY_SIZE(size_units), end, strlen(end));
	if (!u)
		return -EINVAL;
	if (u->mult == 1 && d.frac != 0)
		return -EINVAL; /* no fractions of a byte */
	r = decimal_scale(&d, u->mult, &v);
	if (r < 0)
		return r;
	if (v == LIMIT_MAX)
		return -ERANGE; /* reserved for "max" */
	*ret_bytes = v;
	if (ret_is_max)
		*ret_is_max = false;
	return 0;
}

int parse_duration(const char *s, usec_t *ret)
{
	usec_t total = 0;
	const char *p = s;

	if (!s || !*s)
		return -EINVAL;
	if (strcmp(s, "0") == 0) {
		*ret = 0;
		return 0;
	}
	/* One or more NUMBERunit parts: 1h30m, 1.5s, 250ms. */
	while (*p) {
		const struct unit *u;
		const char *unit;
		struct decimal d;
		uint64_t v;
		int r;

		r = parse_decimal(p, &d, &unit);
		if (r < 0)
			return r;
		for (p = unit; isalpha((unsigned char)*p); p++)
			;
		u = unit_find(time_units, ARRAY_SIZE(time_units), unit, (size_t)(p - unit));
		if (!u)
			return -EINVAL; /* a bare number is ambiguous */
		r = decimal_scale(&d, u->mult, &v);
		if (r < 0)
			return r;
		if (__builtin_add_overflow(total, v, &total) || total == USEC_INFINITY)
			return -ERANGE;
	}
	*ret = total;
	return 0;
}

static double decimal_value(const struct decimal *d)
{
	return (double)d->ip + (double)d->frac / (double)d->scale;
}

/* A decimal followed by exactly one of the given suffixes ("" for none). */
static int parse_decimal_with(const char *s, const char *const *suffixes, double *ret)
{
	struct decimal d;
	const char *end;
	int r;

	if (!s)
		return -EINVAL;
	r = parse_decimal(s, &d, &end);
	if (r < 0)
		return r;
	for (; *suffixes; suffixes++)
		if (strcmp(end, *suffixes) == 0) {
			*ret = decimal_value(&d);
			return 0;
		}
	return -EINVAL;
}

int parse_percent(const char *s, double *ret)
{
	static const char *const suffixes[] = { "%", NULL };

	return parse_decimal_with(s, suffixes, ret);
}

int parse_rate(const char *s, double *ret)
{
	static const char *const suffixes[] = { "", "/s", NULL };

	return parse_decimal_with(s, suffixes, ret);
}

static const struct {
	const char *name;
	int sig;
} signals[] = {
	{ "HUP", SIGHUP },   { "INT", SIGINT },     { "QUIT", SIGQUIT },   { "ILL", SIGILL },
	{ "TRAP", SIGTRAP }, { "ABRT", SIGABRT },   { "BUS", SIGBUS },     { "FPE", SIGFPE },
	{ "KILL", SIGKILL }, { "USR1", SIGUSR1 },   { "SEGV", SIGSEGV },   { "USR2", SIGUSR2 },
	{ "PIPE", SIGPIPE }, { "ALRM", SIGALRM },   { "TERM", SIGTERM },   { "CHLD", SIGCHLD },
	{ "CONT", SIGCONT }, { "STOP", SIGSTOP },   { "TSTP", SIGTSTP },   { "TTIN", SIGTTIN },
	{ "TTOU", SIGTTOU }, { "URG", SIGURG },     { "XCPU", SIGXCPU },   { "XFSZ", SIGXFSZ },
	{ "VTALRM", SIGVTALRM }, { "PROF", SIGPROF }, { "WINCH", SIGWINCH }, { "IO", SIGIO },
	{ "PWR", SIGPWR },   { "SYS", SIGSYS },
};

int parse_signal(const char *s, int *ret)
{
	uint64_t n;

	if (!s)
		return -EINVAL;
	if (isdigit((unsigned char)*s)) {
		if (parse_u64(s, &n) < 0 || n < 1 || n > (uint64_t)SIGRTMAX)
			return -EINVAL;
		*ret = (int)n;
		return 0;
	}
	if (strncasecmp(s, "SIG", 3) == 0)
		s += 3;
	for (size_t i = 0; i < ARRAY_SIZE(signals); i++)
		if (strcasecmp(s, signals[i].name) == 0) {
			*ret = signals[i].sig;
			return 0;
		}
	return -EINVAL;
}

const char *signal_to_string(int sig)
{
	for (size_t i = 0; i < ARRAY_SIZE(signals); i++)
		if (signals[i].sig == sig)
			return signals[i].name;
	return NULL;
}

static const char *const action_names[_ACTION_MAX] = {
	[ACTION_NONE] = "none",         [ACTION_NOTIFY] = "notify",
	[ACTION_RECLAIM] = "reclaim",   [ACTION_THROTTLE] = "throttle",
	[ACTION_OOM_ADJ] = "oom_score_adj", [ACTION_FREEZE] = "freeze",
	[ACTION_RESTART] = "restart",   [ACTION_STOP] = "stop",
	[ACTION_KILL] = "kill",         [ACTION_EXEC] = "exec",
};

static const struct {
	const char *name;
	enum metric_unit unit;
} metrics[_METRIC_MAX] = {
	[METRIC_WORKING_SET] = { "working_set", UNIT_BYTES },
	[METRIC_MEMORY_CURRENT] = { "memory_current", UNIT_BYTES },
	[METRIC_ANON] = { "anon", UNIT_BYTES },
	[METRIC_FILE] = { "file", UNIT_BYTES },
	[METRIC_SHMEM] = { "shmem", UNIT_BYTES },
	[METRIC_SWAP] = { "swap", UNIT_BYTES },
	[METRIC_PSI_SOME_AVG10] = { "psi_some_avg10", UNIT_PERCENT },
	[METRIC_PSI_FULL_AVG10] = { "psi_full_avg10", UNIT_PERCENT },
	[METRIC_MEMORY_EVENTS_HIGH_RATE] = { "memory_events_high_rate", UNIT_RATE },
	[METRIC_CPU] = { "cpu", UNIT_PERCENT },
	[METRIC_PIDS] = { "pids", UNIT_COUNT },
	[METRIC_TIME_TO_MAX] = { "time_to_max", UNIT_USEC },
};

static const char *const restart_names[] = {
	[RESTART_NEVER] = "never",
	[RESTART_ON_FAILURE] = "on-failure",
	[RESTART_ALWAYS] = "always",
};

const char *action_kind_to_string(enum action_kind a)
{
	return (unsigned)a < _ACTION_MAX ? action_names[a] : NULL;
}

const char *metric_kind_to_string(enum metric_kind m)
{
	return (unsigned)m < _METRIC_MAX ? metrics[m].name : NULL;
}

enum metric_unit metric_kind_unit(enum metric_kind m)
{
	return (unsigned)m < _METRIC_MAX ? metrics[m].unit : UNIT_COUNT;
}

const char *metric_unit_to_string(enum metric_unit u)
{
	static const char *const names[] = {
		[UNIT_BYTES] = "bytes", [UNIT_PERCENT] = "percent", [UNIT_USEC] = "usec",
		[UNIT_COUNT] = "count", [UNIT_RATE] = "per second",
	};

	return (unsigned)u < ARRAY_SIZE(names) ? names[u] : NULL;
}

const char *restart_mode_to_string(enum restart_mode m)
{
	return (unsigned)m < ARRAY_SIZE(restart_names) ? restart_names[m] : NULL;
}

const char *health_kind_to_string(enum health_kind k)
{
	static const char *const names[] = {
		[HEALTH_HTTP] = "http", [HEALTH_TCP] = "tcp", [HEALTH_EXEC] = "exec",
	};

	return (unsigned)k < ARRAY_SIZE(names) ? names[k] : NULL;
}

int action_kind_from_string(const char *s, enum action_kind *ret)
{
	/* "none" is the engine's, not something a policy can ask for. */
	for (int i = ACTION_NONE + 1; i < _ACTION_MAX; i++)
		if (strcmp(s, action_names[i]) == 0) {
			*ret = (enum action_kind)i;
			return 0;
		}
	return -EINVAL;
}

int metric_kind_from_string(const char *s, enum metric_kind *ret)
{
	for (int i = 0; i < _METRIC_MAX; i++)
		if (strcmp(s, metrics[i].name) == 0) {
			*ret = (enum metric_kind)i;
			return 0;
		}
	return -EINVAL;
}

int restart_mode_from_string(const char *s, enum restart_mode *ret)
{
	for (size_t i = 0; i < ARRAY_SIZE(restart_names); i++)
		if (strcmp(s, restart_names[i]) == 0) {
			*ret = (enum restart_mode)i;
			return 0;
		}
	return -EINVAL;
}
