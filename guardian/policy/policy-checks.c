/* policy-checks.c: the policy's lists: health checks (http, tcp, exec) and
 * rules (metric, threshold in the metric's unit, hold, action), compiled. */
#include "policy-internal.h"

#include <ctype.h>
#include <stddef.h>

/* A "N of M samples" window is kept per rule; 100 bounds that memory. */
#define SAMPLES_MAX 100

struct health_tmp {
	struct health_check h;
	const struct ynode *http, *tcp, *exec;
};

struct rule_tmp {
	struct rule r;
	const struct ynode *when, *exec;
};

struct when_tmp {
	const struct ynode *metric, *above, *below, *for_;
};

static int f_status(struct pctx *c, const struct ynode *v, void *dst)
{
	int64_t n;

	if (read_int(c, v, 100, 599, &n) < 0)
		return -EINVAL;
	*(int *)dst = (int)n;
	return 0;
}

static int f_port(struct pctx *c, const struct ynode *v, void *dst)
{
	uint64_t n;

	if (read_uint(c, v, 1, 65535, &n) < 0)
		return -EINVAL;
	*(uint16_t *)dst = (uint16_t)n;
	return 0;
}

static int f_failures(struct pctx *c, const struct ynode *v, void *dst)
{
	uint64_t n;

	if (read_uint(c, v, 1, 1000, &n) < 0)
		return -EINVAL;
	*(unsigned *)dst = (unsigned)n;
	return 0;
}

static int f_health_action(struct pctx *c, const struct ynode *v, void *dst)
{
	static const char *const names[] = { "restart", "stop", "notify" };
	size_t i;

	if (read_enum(c, v, names, ARRAY_SIZE(names), &i) < 0)
		return -EINVAL;
	return action_kind_from_string(names[i], dst);
}

/* http://HOST[:PORT][/PATH]; HOST a name, an IPv4 address or [IPv6]. */
static int split_url(const char *url, struct health_check *h)
{
	const char *host = url + strlen("http://"), *end, *p;
	uint64_t port = 80;

	if (strncmp(url, "http://", 7) != 0)
		return -EINVAL;
	if (*host == '[')
		end = strchr(host, ']') ? strchr(host, ']') + 1 : host;
	else
		end = host + strspn(host, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-");
	if (end == host || (*host == '[' && end - host < 3))
		return -EINVAL;
	p = end;
	if (*p == ':') {
		_cleanup_free_ char *digits = strndup(p + 1, strspn(p + 1, "0123456789"));

		if (!digits || parse_u64(digits, &port) < 0 || port < 1 || port > 65535)
			return -ERANGE;
		p += 1 + strlen(digits);
	}
	if (*p && *p != '/')
		return -EINVAL;
	for (const char *q = p; *q; q++)
		if (!isgraph((unsigned char)*q) || *q == '#')
			return -EINVAL;
	h->host = *host == '[' ? strndup(host + 1, (size_t)(end - host - 2)) : strndup(host, (size_t)(end - host));
	h->path = strdup(*p ? p : "/");
	h->port = (uint16_t)port;
	return h->host && h->path ? 0 : -ENOMEM;
}

static int f_url(struct pctx *c, const struct ynode *v, void *dst)
{
	struct health_check *h = dst;
	const char *s;
	int r;

	if (read_scalar(c, v, "a URL like http://127.0.0.1:8080/path", &s) < 0)
		return -EINVAL;
	if (strncmp(s, "https://", 8) == 0) {
		perr(c, v, "https is not supported yet; use http://, got %s", GOT(v));
		return -EINVAL;
	}
	r = split_url(s, h);
	if (r == -ERANGE)
		perr(c, v, "port must be between 1 and 65535, got %s", GOT(v));
	else if (r < 0)
		perr(c, v, "expected a URL like http://127.0.0.1:8080/path, got %s", GOT(v));
	if (r < 0)
		return -EINVAL;
	return f_string(c, v, &h->url);
}

static int health_kind(struct pctx *c, const struct ynode *item, struct health_tmp *t)
{
	static const struct field http[] = {
		REQUIRED("url", f_url, 0),
		FIELD("status", f_status, offsetof(struct health_check, status)),
		FIELD("contains", f_string, offsetof(struct health_check, contains)),
	};
	static const struct field tcp[] = {
		FIELD("host", f_string, offsetof(struct health_check, host)),
		REQUIRED("port", f_port, offsetof(struct health_check, port)),
	};
	int n = !!t->http + !!t->tcp + !!t->exec;
	size_t old;
	int r;

	if (n != 1) {
		perr(c, item, n ? "give only one of http, tcp or exec" : "needs one of http, tcp or exec");
		return -EINVAL;
	}
	if (t->http) {
		t->h.kind = HEALTH_HTTP;
		old = path_push_key(c, "http");
		r = walk_map(c, t->http, http, ARRAY_SIZE(http), &t->h);
	} else if (t->tcp) {
		t->h.kind = HEALTH_TCP;
		old = path_push_key(c, "tcp");
		r = walk_map(c, t->tcp, tcp, ARRAY_SIZE(tcp), &t->h);
		if (r == 0 && !t->h.host && !(t->h.host = strdup("127.0.0.1")))
			r = -ENOMEM;
	} else {
		t->h.kind = HEALTH_EXEC;
		old = path_push_key(c, "exec");
		r = f_command(c, t->exec, &t->h.exec);
	}
	path_pop(c, old);
	return r;
}

static int f_health_every(struct pctx *c, const struct ynode *v, void *dst)
{
	return f_duration_floor(c, v, dst, 100 * USEC_PER_MSEC, "checks more often than that are load, not health");
}

static void health_item(struct pctx *c, const struct ynode *item, struct health_check *ret)
{
	static const struct field fields[] = {
		FIELD("http", f_node, offsetof(struct health_tmp, http)),
		FIELD("tcp", f_node, offsetof(struct health_tmp, tcp)),
		FIELD("exec", f_node, offsetof(struct health_tmp, exec)),
		FIELD("every", f_health_every, offsetof(struct health_tmp, h.every)),
		FIELD("timeout", f_duration_pos, offsetof(struct health_tmp, h.timeout)),
		FIELD("failures", f_failures, offsetof(struct health_tmp, h.failures)),
		FIELD("action", f_health_action, offsetof(struct health_tmp, h.action)),
	};
	struct health_tmp t = {
		.h = { .status = 200, .every = 10 * USEC_PER_SEC, .timeout = 2 * USEC_PER_SEC,
		       .failures = 3, .action = ACTION_RESTART, .line = item->line },
	};
	unsigned before = c->errors;

	walk_map(c, item, fields, ARRAY_SIZE(fields), &t);
	if (item->kind == YNODE_MAP)
		health_kind(c, item, &t);
	if (c->errors == before && t.h.timeout > t.h.every) {
		size_t old = path_push_key(c, "timeout");

		perr(c, map_get(item, "timeout") ? map_get(item, "timeout") : item,
		     "%s must not be above every %s", text_or(item, "timeout", "2s"), text_or(item, "every", "10s"));
		path_pop(c, old);
	}
	*ret = t.h; /* partly filled on error: policy_free frees it */
}

int f_health(struct pctx *c, const struct ynode *v, void *dst)
{
	struct policy *p = dst;

	if (v->kind != YNODE_SEQ) {
		perr(c, v, "expected a list of checks, got %s", GOT(v));
		return -EINVAL;
	}
	p->health = calloc(v->n ? v->n : 1, sizeof(*p->health));
	if (!p->health) {
		perr(c, v, "out of memory");
		return -EINVAL;
	}
	p->n_health = v->n;
	for (size_t i = 0; i < v->n; i++) {
		size_t old = path_push_index(c, i);

		health_item(c, v->items[i], &p->health[i]);
		path_pop(c, old);
	}
	return 0;
}

static int f_rule_action(struct pctx *c, const struct ynode *v, void *dst)
{
	static const char *const names[] = { "notify", "reclaim", "throttle", "oom_score_adj", "freeze",
					     "restart", "stop", "kill", "exec" };
	size_t i;

	if (read_enum(c, v, names, ARRAY_SIZE(names), &i) < 0)
		return -EINVAL;
	return action_kind_from_string(names[i], dst);
}

/* "3 samples", "1 sample", "3 of 5 samples". */
static int parse_samples(const char *s, unsigned *ret_n, unsigned *ret_m)
{
	unsigned long long n, m;
	char *end = NULL;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	n = m = strtoull(s, &end, 10);
	if (errno)
		return -ERANGE;
	if (strncmp(end, " of ", 4) == 0) {
		const char *p = end + 4;

		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		errno = 0;
		m = strtoull(p, &end, 10);
		if (errno)
			return -ERANGE;
	}
	if (strcmp(end, " samples") != 0 && strcmp(end, " sample") != 0)
		return -EINVAL;
	if (n < 1 || n > m || m > SAMPLES_MAX)
		return -ERANGE;
	*ret_n = (unsigned)n;
	*ret_m = (unsigned)m;
	return 0;
}

static void rule_for(struct pctx *c, const struct ynode *v, struct rule *r)
{
	size_t old = path_push_key(c, "for");
	const char *s;
	int k;

	if (read_scalar(c, v, "a duration or \"N of M samples\"", &s) < 0)
		goto out;
	if (strstr(s, "sample")) {
		k = parse_samples(s, &r->samples, &r->of);
		if (k == -ERANGE)
			perr(c, v, "needs 1 <= N <= M <= %d in \"N of M samples\", got %s", SAMPLES_MAX, GOT(v));
		else if (k < 0)
			perr(c, v, "expected \"N samples\" or \"N of M samples\", got %s", GOT(v));
	} else if (parse_duration(s, &r->for_usec) < 0 || r->for_usec == 0) {
		perr(c, v, "expected a duration like 30s, \"3 samples\" or \"3 of 5 samples\", got %s", GOT(v));
	}
out:
	path_pop(c, old);
}

static const char *threshold_example(enum metric_unit u)
{
	switch (u) {
	case UNIT_BYTES:
		return "a size like 1800M";
	case UNIT_PERCENT:
		return "a percentage like 20%";
	case UNIT_USEC:
		return "a duration like 5m";
	case UNIT_RATE:
		return "a number per second like 5";
	default:
		return "a whole number";
	}
}

static int threshold_parse(enum metric_kind m, const char *s, double *ret)
{
	uint64_t u;
	int r;

	switch (metric_kind_unit(m)) {
	case UNIT_BYTES:
		r = parse_size(s, &u, NULL);
		break;
	case UNIT_USEC:
		r = parse_duration(s, &u);
		break;
	case UNIT_COUNT:
		r = parse_u64(s, &u);
		if (r == 0 && strchr(s, '\n'))
			r = -EINVAL;
		break;
	case UNIT_PERCENT:
		r = parse_percent(s, ret);
		if (r == 0 && (m == METRIC_PSI_SOME_AVG10 || m == METRIC_PSI_FULL_AVG10) && *ret > 100.0)
			r = -ERANGE;
		return r;
	default:
		return parse_rate(s, ret);
	}
	if (r == 0)
		*ret = (double)u;
	return r;
}

static void rule_threshold(struct pctx *c, const struct ynode *when, const struct when_tmp *w, struct rule *r)
{
	const struct ynode *v = w->above ? w->above : w->below;
	size_t old;
	const char *s;
	int k;

	if (!w->above && !w->below) {
		perr(c, when, "needs a threshold: above or below");
		return;
	}
	if (w->above && w->below) {
		old = path_push_key(c, "below");
		perr(c, w->below, "give either above or below, not both");
		path_pop(c, old);
		return;
	}
	r->below = !w->above;
	old = path_push_key(c, w->above ? "above" : "below");
	if (read_scalar(c, v, threshold_example(metric_kind_unit(r->metric)), &s) == 0) {
		k = threshold_parse(r->metric, s, &r->threshold);
		if (k == -ERANGE && metric_kind_unit(r->metric) == UNIT_PERCENT)
			perr(c, v, "must be between 0%% and 100%% for metric %s, got %s",
			     metric_kind_to_string(r->metric), GOT(v));
		else if (k < 0)
			perr(c, v, "expected %s for metric %s, got %s", threshold_example(metric_kind_unit(r->metric)),
			     metric_kind_to_string(r->metric), GOT(v));
	}
	path_pop(c, old);
}

static void rule_when(struct pctx *c, const struct ynode *when, struct rule *r)
{
	static const struct field fields[] = {
		REQUIRED("metric", f_node, offsetof(struct when_tmp, metric)),
		FIELD("above", f_node, offsetof(struct when_tmp, above)),
		FIELD("below", f_node, offsetof(struct when_tmp, below)),
		FIELD("for", f_node, offsetof(struct when_tmp, for_)),
	};
	const char *metrics[_METRIC_MAX];
	struct when_tmp w = { 0 };
	size_t old = path_push_key(c, "when"), m;

	for (int i = 0; i < _METRIC_MAX; i++)
		metrics[i] = metric_kind_to_string((enum metric_kind)i);
	walk_map(c, when, fields, ARRAY_SIZE(fields), &w);
	if (w.metric) {
		size_t o = path_push_key(c, "metric");
		int k = read_enum(c, w.metric, metrics, _METRIC_MAX, &m);

		path_pop(c, o);
		if (k == 0) {
			r->metric = (enum metric_kind)m;
			rule_threshold(c, when, &w, r);
		}
	}
	r->samples = r->of = 1; /* without "for": act on the first sample */
	if (w.for_) {
		r->samples = r->of = 0;
		rule_for(c, w.for_, r);
	}
	path_pop(c, old);
}

static void rule_exec(struct pctx *c, const struct ynode *item, struct rule_tmp *t)
{
	size_t old = path_push_key(c, "exec");

	if (t->r.action == ACTION_EXEC && !t->exec)
		perr(c, item, "required when action is exec");
	else if (t->r.action != ACTION_EXEC && t->exec && t->r.action != ACTION_NONE)
		perr(c, t->exec, "only used with action: exec");
	else if (t->exec)
		f_command(c, t->exec, &t->r.exec);
	path_pop(c, old);
}

static void rule_item(struct pctx *c, const struct ynode *item, struct policy *p, size_t i)
{
	static const struct field fields[] = {
		REQUIRED("name", f_string, offsetof(struct rule_tmp, r.name)),
		REQUIRED("when", f_node, offsetof(struct rule_tmp, when)),
		REQUIRED("action", f_rule_action, offsetof(struct rule_tmp, r.action)),
		FIELD("exec", f_node, offsetof(struct rule_tmp, exec)),
	};
	struct rule_tmp t = { .r = { .line = item->line } };

	walk_map(c, item, fields, ARRAY_SIZE(fields), &t);
	if (t.when)
		rule_when(c, t.when, &t.r);
	if (item->kind == YNODE_MAP)
		rule_exec(c, item, &t);
	for (size_t j = 0; t.r.name && j < i; j++)
		if (p->rules[j].name && strcmp(p->rules[j].name, t.r.name) == 0) {
			size_t old = path_push_key(c, "name");

			perr(c, map_get(item, "name"), "duplicate rule name '%s' (first in rules[%zu])", t.r.name, j);
			path_pop(c, old);
			break;
		}
	p->rules[i] = t.r; /* partly filled on error: policy_free frees it */
}

int f_rules(struct pctx *c, const struct ynode *v, void *dst)
{
	struct policy *p = dst;

	if (v->kind != YNODE_SEQ) {
		perr(c, v, "expected a list of rules, got %s", GOT(v));
		return -EINVAL;
	}
	p->rules = calloc(v->n ? v->n : 1, sizeof(*p->rules));
	if (!p->rules) {
		perr(c, v, "out of memory");
		return -EINVAL;
	}
	p->n_rules = v->n;
	for (size_t i = 0; i < v->n; i++) {
		size_t old = path_push_index(c, i);

		rule_item(c, v->items[i], p, i);
		path_pop(c, old);
	}
	return 0;
}
