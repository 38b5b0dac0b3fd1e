/* policy-compile.c: the top-level keys and the map sections (environment,
 * rlimits, limits, stop, restart, output) checked into struct policy. */
#include "policy-internal.h"

#include <signal.h>
#include <stddef.h>
#include <sys/resource.h>

#define SERVICE_NAME_MAX 64
/* 1% of one CPU is 1ms per 100ms period, the kernel's smallest cpu.max quota. */
#define CPU_PERIOD_USEC 100000
#define CPU_PERCENT_MIN 1.0
#define CPU_PERCENT_MAX 100000.0
/* Sampling memory.stat faster than this costs more than it tells. */
#define SAMPLE_INTERVAL_MIN (100 * USEC_PER_MSEC)

static int f_service(struct pctx *c, const struct ynode *v, void *dst)
{
	struct policy *p = dst;
	const char *s;
	size_t len;

	if (read_scalar(c, v, "a service name", &s) < 0)
		return -EINVAL;
	len = strlen(s);
	if (len < 1 || len > SERVICE_NAME_MAX) {
		perr(c, v, "must be 1 to %d characters long", SERVICE_NAME_MAX);
		return -EINVAL;
	}
	if (strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.@:-") != len) {
		perr(c, v, "may only hold letters, digits and _ . @ : - (it names the cgroup), got %s", GOT(v));
		return -EINVAL;
	}
	if (s[0] == '.' || strncmp(s, "cgroup.", 7) == 0) {
		perr(c, v, "must not start with '.' or 'cgroup.' (kernel names), got %s", GOT(v));
		return -EINVAL;
	}
	p->service_line = v->line;
	p->service_col = v->col;
	return f_string(c, v, &p->service);
}

static int command_from_list(struct pctx *c, const struct ynode *v, char ***ret)
{
	_cleanup_strv_free_ char **argv = calloc(v->n + 1, sizeof(char *));
	unsigned before = c->errors;

	if (!argv) {
		perr(c, v, "out of memory");
		return -EINVAL;
	}
	for (size_t i = 0; i < v->n; i++) {
		size_t old = path_push_index(c, i);

		if (f_string(c, v->items[i], &argv[i]) < 0)
			argv[i] = strdup(""); /* keep argv dense for strv_free */
		else if (i == 0 && argv[0][0] != '/' && strchr(argv[0], '/'))
			perr(c, v->items[i], "must be an absolute path or a bare name looked up in PATH, got %s",
			     GOT(v->items[i]));
		path_pop(c, old);
		if (!argv[i])
			break;
	}
	if (c->errors != before)
		return -EINVAL;
	*ret = TAKE_PTR(argv);
	return 0;
}

int f_command(struct pctx *c, const struct ynode *v, void *dst)
{
	char **argv;

	if (v->kind == YNODE_SEQ) {
		if (v->n == 0) {
			perr(c, v, "must not be an empty list");
			return -EINVAL;
		}
		return command_from_list(c, v, dst);
	}
	if (v->kind != YNODE_SCALAR || ynode_is_null(v)) {
		perr(c, v, "expected a command string or a list of arguments, got %s", GOT(v));
		return -EINVAL;
	}
	if (v->value[strspn(v->value, " \t\n")] == '\0') { /* blank: nothing for sh to run */
		perr(c, v, "must not be empty");
		return -EINVAL;
	}
	argv = calloc(4, sizeof(char *));
	if (argv) {
		argv[0] = strdup("/bin/sh");
		argv[1] = strdup("-c");
		argv[2] = strdup(v->value);
	}
	if (!argv || !argv[0] || !argv[1] || !argv[2]) {
		if (argv)
			for (int i = 0; i < 3; i++)
				free(argv[i]);
		free(argv);
		perr(c, v, "out of memory");
		return -EINVAL;
	}
	*(char ***)dst = argv;
	return 0;
}

static bool env_name_valid(const char *s)
{
	if (!(*s == '_' || (*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z')))
		return false;
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") == strlen(s);
}

static void env_entry(struct pctx *c, const struct ynode *map, size_t i, struct policy *p)
{
	const struct ynode *key = map->keys[i], *val = map->items[i];
	size_t first = ynode_map_first_index(map, i);
	struct env_var *e = &p->environment[p->n_environment];
	const char *s;

	if (first != i) {
		perr(c, key, "duplicate key (first at line %u, column %u)", map->keys[first]->line,
		     map->keys[first]->col);
		return;
	}
	if (!env_name_valid(key->value))
		perr(c, key, "invalid variable name (expected [A-Za-z_][A-Za-z0-9_]*)");
	if (read_scalar(c, val, "a string", &s) < 0)
		return;
	e->name = strdup(key->value);
	e->value = strdup(s);
	p->n_environment++;
	if (!e->name || !e->value)
		perr(c, val, "out of memory");
}

static int f_environment(struct pctx *c, const struct ynode *v, void *dst)
{
	struct policy *p = dst;
	unsigned before = c->errors;

	if (v->kind != YNODE_MAP) {
		perr(c, v, "expected a map of NAME: value, got %s", GOT(v));
		return -EINVAL;
	}
	p->environment = calloc(v->n ? v->n : 1, sizeof(*p->environment));
	if (!p->environment) {
		perr(c, v, "out of memory");
		return -EINVAL;
	}
	for (size_t i = 0; i < v->n; i++) {
		size_t old = path_push_key(c, v->keys[i]->value);

		env_entry(c, v, i, p);
		path_pop(c, old);
	}
	return c->errors == before ? 0 : -EINVAL;
}

static const struct rlimit_name {
	const char *name; /* first member: suggest() */
	int resource;
	bool bytes;       /* takes a size like 8M */
} rlimit_names[] = {
	{ "as", RLIMIT_AS, true },           { "core", RLIMIT_CORE, true },
	{ "cpu", RLIMIT_CPU, false },        { "data", RLIMIT_DATA, true },
	{ "fsize", RLIMIT_FSIZE, true },     { "locks", RLIMIT_LOCKS, false },
	{ "memlock", RLIMIT_MEMLOCK, true }, { "msgqueue", RLIMIT_MSGQUEUE, true },
	{ "nice", RLIMIT_NICE, false },      { "nofile", RLIMIT_NOFILE, false },
	{ "nproc", RLIMIT_NPROC, false },    { "rss", RLIMIT_RSS, true },
	{ "rtprio", RLIMIT_RTPRIO, false },  { "rttime", RLIMIT_RTTIME, false },
	{ "sigpending", RLIMIT_SIGPENDING, false }, { "stack", RLIMIT_STACK, true },
};

struct soft_hard {
	const struct ynode *soft, *hard;
};

static int rlimit_value(struct pctx *c, const struct ynode *v, const struct rlimit_name *rn, uint64_t *ret)
{
	bool bytes = rn->bytes;
	const char *s;
	int r;

	if (read_scalar(c, v, bytes ? "a size or infinity" : "a number or infinity", &s) < 0)
		return -EINVAL;
	if (strcmp(s, "infinity") == 0 || strcmp(s, "max") == 0) {
		*ret = RLIM_INFINITY;
	} else {
		r = bytes ? parse_size(s, ret, NULL) : parse_u64(s, ret);
		if (r < 0 || strchr(s, '\n') || *ret == RLIM_INFINITY) {
			perr(c, v, bytes ? "expected a size like 8M or infinity, got %s"
					 : "expected a number or infinity, got %s", GOT(v));
			return -EINVAL;
		}
	}
	/* Here, not at the spawn: a limit the kernel refuses (nofile past
	 * fs.nr_open) would otherwise fail every start of the service. */
	return check_rlimit_ceiling(c, v, rn->resource, *ret);
}

static int rlimit_entry(struct pctx *c, const struct ynode *v, const struct rlimit_name *rn,
			struct rlimit_setting *ret)
{
	static const struct field fields[] = {
		REQUIRED("soft", f_node, offsetof(struct soft_hard, soft)),
		REQUIRED("hard", f_node, offsetof(struct soft_hard, hard)),
	};
	struct soft_hard sh = { 0 };
	size_t old;
	int r;

	ret->resource = rn->resource;
	if (v->kind != YNODE_MAP) {
		r = rlimit_value(c, v, rn, &ret->soft);
		ret->hard = ret->soft;
		return r;
	}
	if (walk_map(c, v, fields, ARRAY_SIZE(fields), &sh) < 0)
		return -EINVAL;
	old = path_push_key(c, "soft");
	r = rlimit_value(c, sh.soft, rn, &ret->soft);
	path_pop(c, old);
	old = path_push_key(c, "hard");
	if (rlimit_value(c, sh.hard, rn, &ret->hard) < 0)
		r = -EINVAL;
	path_pop(c, old);
	if (r == 0 && ret->soft > ret->hard) {
		perr(c, v, "soft limit %s is above the hard limit %s", sh.soft->value, sh.hard->value);
		return -EINVAL;
	}
	return r;
}

static int f_rlimits(struct pctx *c, const struct ynode *v, void *dst)
{
	struct policy *p = dst;
	unsigned before = c->errors;

	if (v->kind != YNODE_MAP) {
		perr(c, v, "expected a map like {nofile: 65536}, got %s", GOT(v));
		return -EINVAL;
	}
	p->rlimits = calloc(v->n ? v->n : 1, sizeof(*p->rlimits));
	if (!p->rlimits) {
		perr(c, v, "out of memory");
		return -EINVAL;
	}
	for (size_t i = 0; i < v->n; i++) {
		const struct ynode *key = v->keys[i];
		size_t first = ynode_map_first_index(v, i), old = path_push_key(c, key->value);
		const struct rlimit_name *rn = NULL;

		for (size_t j = 0; j < ARRAY_SIZE(rlimit_names); j++)
			if (strcmp(rlimit_names[j].name, key->value) == 0)
				rn = &rlimit_names[j];
		if (first != i) {
			perr(c, key, "duplicate key (first at line %u, column %u)", v->keys[first]->line,
			     v->keys[first]->col);
		} else if (!rn) {
			const char *s = suggest(key->value, rlimit_names, ARRAY_SIZE(rlimit_names), sizeof(*rlimit_names));

			if (s)
				perr(c, key, "unknown resource limit (did you mean '%s'?)", s);
			else
				perr(c, key, "unknown resource limit");
		} else if (rlimit_entry(c, v->items[i], rn, &p->rlimits[p->n_rlimits]) == 0) {
			p->n_rlimits++;
		}
		path_pop(c, old);
	}
	return c->errors == before ? 0 : -EINVAL;
}

static int f_limit_size(struct pctx *c, const struct ynode *v, void *dst)
{
	struct limit *l = dst;
	bool is_max;
	const char *s;
	int r;

	if (read_scalar(c, v, "a size like 512M or max", &s) < 0)
		return -EINVAL;
	r = parse_size(s, &l->value, &is_max);
	if (r == -ERANGE)
		perr(c, v, "size %s is too large", GOT(v));
	else if (r < 0)
		perr(c, v, "expected a size like 512M or max, got %s", GOT(v));
	l->set = r == 0;
	return r < 0 ? -EINVAL : 0;
}

/* memory_high and memory_max: 0 would stall or OOM-kill the first page. */
static int f_limit_ceiling(struct pctx *c, const struct ynode *v, void *dst)
{
	struct limit *l = dst;

	if (f_limit_size(c, v, dst) < 0)
		return -EINVAL;
	if (l->value == 0) {
		perr(c, v, "must be above 0 (0 would stall or OOM-kill the service at its first page)");
		l->set = false;
		return -EINVAL;
	}
	return 0;
}

static int f_restart_delay(struct pctx *c, const struct ynode *v, void *dst)
{
	return f_duration_floor(c, v, dst, 10 * USEC_PER_MSEC, "a restart loop without a pause burns the CPU");
}

static int f_limit_count(struct pctx *c, const struct ynode *v, void *dst)
{
	struct limit *l = dst;
	const char *s;
	int r;

	if (read_scalar(c, v, "a whole number or max", &s) < 0)
		return -EINVAL;
	if (strcmp(s, "max") == 0) {
		l->value = LIMIT_MAX;
	} else {
		r = parse_u64(s, &l->value);
		if (r < 0 || strchr(s, '\n') || l->value == LIMIT_MAX) {
			perr(c, v, "expected a whole number or max, got %s", GOT(v));
			return -EINVAL;
		}
		if (l->value == 0) {
			perr(c, v, "must be at least 1 (0 would forbid the service's first process)");
			return -EINVAL;
		}
	}
	l->set = true;
	return 0;
}

static int f_cpu_max(struct pctx *c, const struct ynode *v, void *dst)
{
	struct policy *p = dst;
	const char *s;
	double pct;

	if (read_scalar(c, v, "a percentage of one CPU like 150% or max", &s) < 0)
		return -EINVAL;
	p->limits.cpu_period_usec = CPU_PERIOD_USEC;
	if (strcmp(s, "max") == 0) {
		p->limits.cpu_quota_usec = LIMIT_MAX;
	} else if (parse_percent(s, &pct) < 0) {
		perr(c, v, "expected a percentage of one CPU like 150%% or max, got %s", GOT(v));
		return -EINVAL;
	} else if (pct < CPU_PERCENT_MIN || pct > CPU_PERCENT_MAX) {
		perr(c, v, "must be between 1%% and 100000%% of one CPU, got %s", GOT(v));
		return -EINVAL;
	} else {
		p->limits.cpu_quota_usec = (uint64_t)(pct / 100.0 * CPU_PERIOD_USEC + 0.5);
	}
	p->limits.cpu_set = true;
	return 0;
}

static int f_cpu_weight(struct pctx *c, const struct ynode *v, void *dst)
{
	return read_uint(c, v, 1, 10000, dst);
}

/* a <= b for two limits given in map; reported at a's value. */
static void check_order(struct pctx *c, const struct ynode *map, const char *a, const struct limit *la,
			const char *b, const struct limit *lb)
{
	size_t old;

	if (!la->set || !lb->set || la->value <= lb->value)
		return;
	old = path_push_key(c, a);
	perr(c, map_get(map, a), "%s must not be above %s %s", map_get(map, a)->value, b, map_get(map, b)->value);
	path_pop(c, old);
}

static int f_limits(struct pctx *c, const struct ynode *v, void *dst)
{
	static const struct field fields[] = {
		FIELD("memory_high", f_limit_ceiling, offsetof(struct policy, limits.memory_high)),
		FIELD("memory_max", f_limit_ceiling, offsetof(struct policy, limits.memory_max)),
		FIELD("memory_low", f_limit_size, offsetof(struct policy, limits.memory_low)),
		FIELD("memory_min", f_limit_size, offsetof(struct policy, limits.memory_min)),
		FIELD("memory_swap_max", f_limit_size, offsetof(struct policy, limits.memory_swap_max)),
		FIELD("cpu_max", f_cpu_max, 0),
		FIELD("cpu_weight", f_cpu_weight, offsetof(struct policy, limits.cpu_weight)),
		FIELD("pids_max", f_limit_count, offsetof(struct policy, limits.pids_max)),
	};
	struct policy *p = dst;

	if (walk_map(c, v, fields, ARRAY_SIZE(fields), p) < 0)
		return -EINVAL;
	/* memory_high: max is the kernel's default, no throttle at all, and
	 * how a policy turns the default guard's tripwire off. */
	if (p->limits.memory_high.value != LIMIT_MAX)
		check_order(c, v, "memory_high", &p->limits.memory_high, "memory_max", &p->limits.memory_max);
	check_order(c, v, "memory_low", &p->limits.memory_low, "memory_high", &p->limits.memory_high);
	check_order(c, v, "memory_low", &p->limits.memory_low, "memory_max", &p->limits.memory_max);
	check_order(c, v, "memory_min", &p->limits.memory_min, "memory_low", &p->limits.memory_low);
	return 0;
}

static int f_oom_score_adj(struct pctx *c, const struct ynode *v, void *dst)
{
	struct policy *p = dst;
	int64_t n;

	if (read_int(c, v, -1000, 1000, &n) < 0)
		return -EINVAL;
	p->oom_score_adj = (int)n;
	p->oom_score_adj_set = true;
	return 0;
}

static int f_priority(struct pctx *c, const struct ynode *v, void *dst)
{
	int64_t n;

	if (read_int(c, v, -1000, 1000, &n) < 0)
		return -EINVAL;
	*(int *)dst = (int)n;
	return 0;
}

static int f_stop(struct pctx *c, const struct ynode *v, void *dst)
{
	static const struct field fields[] = {
		FIELD("signal", f_signal, offsetof(struct policy, stop.signal)),
		FIELD("timeout", f_duration_pos, offsetof(struct policy, stop.timeout)),
		FIELD("command", f_command, offsetof(struct policy, stop.command)),
	};

	return walk_map(c, v, fields, ARRAY_SIZE(fields), dst);
}

static int f_restart_mode(struct pctx *c, const struct ynode *v, void *dst)
{
	static const char *const names[] = { "never", "on-failure", "always" };
	size_t i;

	if (read_enum(c, v, names, ARRAY_SIZE(names), &i) < 0)
		return -EINVAL;
	return restart_mode_from_string(names[i], dst);
}

static int f_give_up_restarts(struct pctx *c, const struct ynode *v, void *dst)
{
	uint64_t n;

	if (read_uint(c, v, 1, 1000000, &n) < 0)
		return -EINVAL;
	*(unsigned *)dst = (unsigned)n;
	return 0;
}

static int f_give_up(struct pctx *c, const struct ynode *v, void *dst)
{
	static const struct field fields[] = {
		REQUIRED("restarts", f_give_up_restarts, offsetof(struct policy, restart.give_up_restarts)),
		REQUIRED("within", f_duration_pos, offsetof(struct policy, restart.give_up_within)),
	};

	return walk_map(c, v, fields, ARRAY_SIZE(fields), dst);
}

static int f_restart(struct pctx *c, const struct ynode *v, void *dst)
{
	static const struct field fields[] = {
		FIELD("mode", f_restart_mode, offsetof(struct policy, restart.mode)),
		FIELD("delay", f_restart_delay, offsetof(struct policy, restart.delay)),
		FIELD("max_delay", f_restart_delay, offsetof(struct policy, restart.max_delay)),
		FIELD("stable_after", f_duration, offsetof(struct policy, restart.stable_after)),
		FIELD("give_up", f_give_up, 0),
	};
	struct policy *p = dst;
	size_t old;

	if (walk_map(c, v, fields, ARRAY_SIZE(fields), p) < 0)
		return -EINVAL;
	if (p->restart.delay <= p->restart.max_delay)
		return 0;
	old = path_push_key(c, "delay");
	perr(c, map_get(v, "delay") ? map_get(v, "delay") : v, "%s must not be above max_delay %s",
	     text_or(v, "delay", "1s"), text_or(v, "max_delay", "5m"));
	path_pop(c, old);
	return -EINVAL;
}

static int f_output_file(struct pctx *c, const struct ynode *v, void *dst)
{
	struct policy *p = dst;

	if (ynode_is_null(v) || (v->kind == YNODE_SCALAR && strcmp(v->value, "null") == 0)) {
		p->output.mode = OUTPUT_NULL;
		return 0;
	}
	if (v->kind == YNODE_SCALAR && strcmp(v->value, "inherit") == 0) {
		p->output.mode = OUTPUT_INHERIT;
		return 0;
	}
	if (v->kind != YNODE_SCALAR || v->value[0] != '/') {
		perr(c, v, "expected an absolute path, inherit or null, got %s", GOT(v));
		return -EINVAL;
	}
	p->output.mode = OUTPUT_FILE;
	return f_string(c, v, &p->output.file);
}

static int f_output_max_size(struct pctx *c, const struct ynode *v, void *dst)
{
	if (f_size(c, v, dst) < 0)
		return -EINVAL;
	if (*(uint64_t *)dst == 0) {
		perr(c, v, "must be larger than 0");
		return -EINVAL;
	}
	return 0;
}

static int f_output_keep(struct pctx *c, const struct ynode *v, void *dst)
{
	uint64_t n;

	if (read_uint(c, v, 0, 100, &n) < 0)
		return -EINVAL;
	*(unsigned *)dst = (unsigned)n;
	return 0;
}

static int f_output(struct pctx *c, const struct ynode *v, void *dst)
{
	static const struct field fields[] = {
		FIELD("file", f_output_file, 0),
		FIELD("max_size", f_output_max_size, offsetof(struct policy, output.max_size)),
		FIELD("keep", f_output_keep, offsetof(struct policy, output.keep)),
	};

	return walk_map(c, v, fields, ARRAY_SIZE(fields), dst);
}

static int f_sample_interval(struct pctx *c, const struct ynode *v, void *dst)
{
	if (f_duration(c, v, dst) < 0)
		return -EINVAL;
	if (*(usec_t *)dst < SAMPLE_INTERVAL_MIN) {
		perr(c, v, "must be at least 100ms, got %s", GOT(v));
		return -EINVAL;
	}
	return 0;
}

static void policy_defaults(struct policy *p)
{
	p->stop.signal = SIGTERM;
	p->stop.timeout = 10 * USEC_PER_SEC;
	p->restart.mode = RESTART_ON_FAILURE;
	p->restart.delay = 1 * USEC_PER_SEC;
	p->restart.max_delay = 5 * 60 * USEC_PER_SEC;
	p->restart.stable_after = 60 * USEC_PER_SEC;
	p->output.mode = OUTPUT_FILE;
	p->output.max_size = 10 << 20;
	p->output.keep = 3;
	p->sample_interval = 1 * USEC_PER_SEC;
	p->no_new_privileges = true;
	p->limits.cpu_period_usec = CPU_PERIOD_USEC;
	p->pressure.stall_usec = 150 * USEC_PER_MSEC;
	p->pressure.window_usec = 1 * USEC_PER_SEC;
}

/* The kernel's memory.high throttles a service that really reaches it and
 * costs nothing to one that stops below it, and memory.events `high`
 * tells guardian at once: the default guard's evidence that memory.max is
 * near. 1/16 of memory.max leaves the kernel room to hold a fast leak at
 * memory.high while a graceful restart runs. */
uint64_t policy_guard_high(uint64_t max)
{
	uint64_t margin = max / 16;

	if (margin < (2ULL << 20))
		margin = 2ULL << 20;
	if (margin > (256ULL << 20))
		margin = 256ULL << 20;
	return max > margin ? ((max - margin) & ~(uint64_t)4095) : max;
}

/* The default guard (no rules) with a memory.max and no memory.high of the
 * policy's own sets its tripwire. */
static void set_guard_high(struct policy *p)
{
	struct limit *max = &p->limits.memory_max, *high = &p->limits.memory_high;

	if (p->n_rules || !max->set || max->value == LIMIT_MAX || high->set)
		return;
	*high = (struct limit){ .set = true, .value = policy_guard_high(max->value) };
	p->limits.memory_high_is_guard = true;
}

static int f_pressure_pct(struct pctx *c, const struct ynode *v, void *dst)
{
	const char *s;
	double pct;

	if (read_scalar(c, v, "a percentage like 15%", &s) < 0)
		return -EINVAL;
	if (parse_percent(s, &pct) < 0 || pct <= 0 || pct > 100) {
		perr(c, v, "must be a percentage above 0%% and at most 100%%, like 15%%, got %s", GOT(v));
		return -EINVAL;
	}
	*(double *)dst = pct;
	return 0;
}

/* pressure: {some: 15%, window: 1s} or {full: 5%, window: 2s} */
static int f_pressure(struct pctx *c, const struct ynode *v, void *dst)
{
	struct {
		double some, full;
		usec_t window;
	} in = { .window = 1 * USEC_PER_SEC };
	static const struct field fields[] = {
		FIELD("some", f_pressure_pct, offsetof(__typeof__(in), some)),
		FIELD("full", f_pressure_pct, offsetof(__typeof__(in), full)),
		FIELD("window", f_duration_pos, offsetof(__typeof__(in), window)),
	};
	struct policy *p = dst;
	double pct;

	if (walk_map(c, v, fields, ARRAY_SIZE(fields), &in) < 0)
		return -EINVAL;
	if (in.some && in.full) {
		perr(c, v, "give some or full, not both");
		return -EINVAL;
	}
	/* The kernel takes a window of 500ms to 10s from root (kernel/sched/psi.c). */
	if (in.window < 500 * USEC_PER_MSEC || in.window > 10 * USEC_PER_SEC) {
		size_t len = path_push_key(c, "window");

		perr(c, map_get(v, "window") ?: v, "must be between 500ms and 10s (the kernel's PSI window), got %s",
		     text_or(v, "window", "?"));
		path_pop(c, len);
		return -EINVAL;
	}
	pct = in.full ? in.full : in.some ? in.some : 15.0;
	p->pressure.full = in.full > 0;
	p->pressure.window_usec = in.window;
	p->pressure.stall_usec = (usec_t)((double)in.window * pct / 100.0);
	if (p->pressure.stall_usec < 1)
		p->pressure.stall_usec = 1;
	return 0;
}

/* One glob of watch.cgroups: path segments below the cgroup root, each
 * a name or an fnmatch pattern; nothing that could leave the tree. */
static int f_cgroup_glob(struct pctx *c, const struct ynode *v, void *dst)
{
	const char *s, *seg;

	if (read_scalar(c, v, "a cgroup path glob like system.slice/*.service", &s) < 0)
		return -EINVAL;
	if (!*s || *s == '/' || strlen(s) > 255) {
		perr(c, v, "expected a path below the cgroup root like system.slice/*.service, got '%s'%s", s,
		     *s == '/' ? " (no leading /: it is relative to the cgroup root)" : "");
		return -EINVAL;
	}
	for (seg = s;; seg++) {
		const char *end = strchrnul(seg, '/');
		size_t n = (size_t)(end - seg);

		if (n == 0 || (n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.') ||
		    (n == 2 && seg[0] == '*' && seg[1] == '*')) {
			perr(c, v, "'%s': every segment must be a name or a pattern; empty, '.', '..' and '**' are not", s);
			return -EINVAL;
		}
		if (!*end)
			break;
		seg = end;
	}
	*(char **)dst = strdup(s);
	if (!*(char **)dst) {
		perr(c, v, "out of memory");
		return -EINVAL;
	}
	return 0;
}

/* A non-empty list whose items item() reads into a NULL-terminated array
 * of strings (*ret, *ret_n of them). */
static int string_list(struct pctx *c, const struct ynode *v, const char *what, field_fn item, char ***ret,
		       size_t *ret_n)
{
	unsigned before = c->errors;
	size_t n = 0;

	if (v->kind != YNODE_SEQ || v->n == 0) {
		perr(c, v, "expected a list of %s, got %s", what, GOT(v));
		return -EINVAL;
	}
	*ret = calloc(v->n + 1, sizeof(char *));
	if (!*ret) {
		perr(c, v, "out of memory");
		return -EINVAL;
	}
	for (size_t i = 0; i < v->n; i++) {
		size_t old = path_push_index(c, i);

		if (item(c, v->items[i], &(*ret)[n]) == 0)
			n++;
		path_pop(c, old);
	}
	if (ret_n)
		*ret_n = n;
	return c->errors == before ? 0 : -EINVAL;
}

static int f_watch_cgroups(struct pctx *c, const struct ynode *v, void *dst)
{
	struct policy *p = dst;

	return string_list(c, v, "cgroup path globs", f_cgroup_glob, &p->watch_cgroups, &p->n_watch_cgroups);
}

static int f_kube_namespaces(struct pctx *c, const struct ynode *v, void *dst)
{
	struct policy *p = dst;

	return string_list(c, v, "namespaces", f_string, &p->kube.namespaces, NULL);
}

static int f_kube_containers(struct pctx *c, const struct ynode *v, void *dst)
{
	struct policy *p = dst;

	return string_list(c, v, "container names", f_string, &p->kube.containers, NULL);
}

/* labels: / annotations: {KEY: VALUE}: a pod must carry every one, with
 * that value, as key, value, ..., NULL (the kubelet table's form). */
static int kube_selector(struct pctx *c, const struct ynode *v, char ***ret)
{
	unsigned before = c->errors;
	size_t n = 0;

	if (v->kind != YNODE_MAP || v->n == 0) {
		perr(c, v, "expected a map of KEY: VALUE a pod must carry, got %s", GOT(v));
		return -EINVAL;
	}
	*ret = calloc(2 * v->n + 1, sizeof(char *));
	if (!*ret) {
		perr(c, v, "out of memory");
		return -EINVAL;
	}
	for (size_t i = 0; i < v->n; i++) {
		size_t old = path_push_key(c, v->keys[i]->value), first = ynode_map_first_index(v, i);
		const char *val;

		if (first != i)
			perr(c, v->keys[i], "duplicate key (first at line %u, column %u)", v->keys[first]->line,
			     v->keys[first]->col);
		else if (read_scalar(c, v->items[i], "a string", &val) == 0) {
			(*ret)[n] = strdup(v->keys[i]->value);
			(*ret)[n + 1] = strdup(val);
			if (!(*ret)[n] || !(*ret)[n + 1])
				perr(c, v->items[i], "out of memory");
			n += 2;
		}
		path_pop(c, old);
	}
	return c->errors == before ? 0 : -EINVAL;
}

static int f_kube_labels(struct pctx *c, const struct ynode *v, void *dst)
{
	return kube_selector(c, v, &((struct policy *)dst)->kube.labels);
}

static int f_kube_annotations(struct pctx *c, const struct ynode *v, void *dst)
{
	return kube_selector(c, v, &((struct policy *)dst)->kube.annotations);
}

static int f_kube_qos(struct pctx *c, const struct ynode *v, void *dst)
{
	struct policy *p = dst;
	unsigned before = c->errors;

	if (v->kind != YNODE_SEQ || v->n == 0) {
		perr(c, v, "expected a list of QoS classes (Guaranteed, Burstable, BestEffort), got %s", GOT(v));
		return -EINVAL;
	}
	for (size_t i = 0; i < v->n; i++) {
		size_t old = path_push_index(c, i);
		enum kube_qos q;
		const char *s;

		if (read_scalar(c, v->items[i], "a QoS class", &s) == 0) {
			if (kube_qos_from_string(s, &q) < 0)
				perr(c, v->items[i], "expected Guaranteed, Burstable or BestEffort, got '%s'", s);
			else
				p->kube.qos_mask |= 1u << q;
		}
		path_pop(c, old);
	}
	return c->errors == before ? 0 : -EINVAL;
}

static int f_kube_driver(struct pctx *c, const struct ynode *v, void *dst)
{
	struct policy *p = dst;
	const char *s;

	if (read_scalar(c, v, "systemd, cgroupfs or auto", &s) < 0)
		return -EINVAL;
	if (strcmp(s, "systemd") == 0)
		p->kube.driver = KUBE_DRIVER_SYSTEMD;
	else if (strcmp(s, "cgroupfs") == 0)
		p->kube.driver = KUBE_DRIVER_CGROUPFS;
	else if (strcmp(s, "auto") == 0)
		p->kube.driver = -1;
	else {
		perr(c, v, "expected systemd, cgroupfs or auto (both layouts), got '%s'", s);
		return -EINVAL;
	}
	return 0;
}

static int f_watch_kube(struct pctx *c, const struct ynode *v, void *dst)
{
	static const struct field fields[] = {
		FIELD("namespaces", f_kube_namespaces, 0),
		FIELD("labels", f_kube_labels, 0),
		FIELD("annotations", f_kube_annotations, 0),
		FIELD("containers", f_kube_containers, 0),
		FIELD("qos", f_kube_qos, 0),
		FIELD("cgroup_driver", f_kube_driver, 0),
		FIELD("pod_logs", f_abs_path, offsetof(struct policy, kube.pod_logs)),
	};
	struct policy *p = dst;

	p->kube.on = true;
	p->kube.driver = -1;
	if (v->kind == YNODE_SCALAR && ynode_is_null(v))
		return 0; /* kubernetes: {} written as `kubernetes:` */
	return walk_map(c, v, fields, ARRAY_SIZE(fields), dst);
}

static int f_watch(struct pctx *c, const struct ynode *v, void *dst)
{
	static const struct field fields[] = {
		FIELD("cgroups", f_watch_cgroups, 0),
		FIELD("kubernetes", f_watch_kube, 0),
	};
	int r = walk_map(c, v, fields, ARRAY_SIZE(fields), dst);

	if (r == 0 && !map_get(v, "cgroups") == !map_get(v, "kubernetes"))
		perr(c, v, "give cgroups (globs of cgroup paths) or kubernetes (the node's pods), one of the two");
	return r;
}

/* Keys that describe a process guardian starts: meaningless for a cgroup
 * someone else created and filled. */
static const char *const launch_only[] = {
	"command", "user", "group", "working_directory", "environment", "rlimits", "stop", "restart", "output", "health",
	"no_new_privileges",
};

/* A policy starts a command or watches cgroups: exactly one of the two,
 * and a watched one none of the keys of a launched process. */
static void check_mode(struct pctx *c, const struct ynode *root)
{
	const struct ynode *watch = map_get(root, "watch");

	if (!watch && !map_get(root, "command")) {
		size_t old = path_push_key(c, "command");

		perr(c, root, "required key is missing (or `watch`, to guard cgroups guardian does not start)");
		path_pop(c, old);
		return;
	}
	if (!watch)
		return;
	for (size_t i = 0; i < root->n; i++)
		for (size_t k = 0; k < ARRAY_SIZE(launch_only); k++) {
			size_t old;

			if (strcmp(root->keys[i]->value, launch_only[k]) != 0)
				continue;
			old = path_push_key(c, launch_only[k]);
			perr(c, root->keys[i], "not for a policy with `watch`: guardian guards those cgroups but did not "
			     "start their processes (their owner, systemd or the kubelet, starts, stops and restarts them)");
			path_pop(c, old);
		}
}

int policy_compile(struct pctx *c, const struct ynode *root, struct policy *p)
{
	static const struct field fields[] = {
		REQUIRED("service", f_service, 0),
		FIELD("command", f_command, offsetof(struct policy, command)),
		FIELD("watch", f_watch, 0),
		FIELD("user", f_string, offsetof(struct policy, user)),
		FIELD("group", f_string, offsetof(struct policy, group)),
		FIELD("working_directory", f_abs_path, offsetof(struct policy, working_directory)),
		FIELD("environment", f_environment, 0),
		FIELD("rlimits", f_rlimits, 0),
		FIELD("limits", f_limits, 0),
		FIELD("oom_score_adj", f_oom_score_adj, 0),
		FIELD("stop", f_stop, 0),
		FIELD("restart", f_restart, 0),
		FIELD("output", f_output, 0),
		FIELD("health", f_health, 0),
		FIELD("rules", f_rules, 0),
		FIELD("protected", f_bool, offsetof(struct policy, protected_)),
		FIELD("priority", f_priority, offsetof(struct policy, priority)),
		FIELD("dry_run", f_bool, offsetof(struct policy, dry_run)),
		FIELD("no_new_privileges", f_bool, offsetof(struct policy, no_new_privileges)),
		FIELD("sample_interval", f_sample_interval, offsetof(struct policy, sample_interval)),
		FIELD("pressure", f_pressure, 0),
		FIELD("hooks", f_hooks, offsetof(struct policy, hooks)),
	};

	policy_defaults(p);
	if (!root) {
		c->errors++;
		diag_add(c->d, c->file, 1, 1, "the file is empty; a policy needs at least service and command");
		return -EINVAL;
	}
	if (root->kind != YNODE_MAP) {
		perr(c, root, "expected a map of policy keys, got %s", GOT(root));
		return -EINVAL;
	}
	walk_map(c, root, fields, ARRAY_SIZE(fields), p);
	check_mode(c, root);
	/* NSS only for a policy that is otherwise right: a lookup can wait
	 * on the network (LDAP), and a file with errors does not load. */
	if (!c->errors)
		policy_resolve_cred(c, root, p);
	if (c->errors)
		return -EINVAL;
	set_guard_high(p);
	return 0;
}
