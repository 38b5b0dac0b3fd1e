/* policy-diff.c: what differs between two compiled policies of one
 * service, section by section: the pure half of reload (reload.c applies it). */
#include <string.h>

#include "policy.h"

static bool str_eq(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static bool strv_eq(char *const *a, char *const *b)
{
	size_t n = strv_length(a);

	if (n != strv_length(b))
		return false;
	for (size_t i = 0; i < n; i++)
		if (strcmp(a[i], b[i]) != 0)
			return false;
	return true;
}

static bool limit_eq(const struct limit *a, const struct limit *b)
{
	return a->set == b->set && (!a->set || a->value == b->value);
}

static bool limits_eq(const struct policy *a, const struct policy *b)
{
	return limit_eq(&a->limits.memory_high, &b->limits.memory_high) &&
	       limit_eq(&a->limits.memory_max, &b->limits.memory_max) &&
	       limit_eq(&a->limits.memory_low, &b->limits.memory_low) &&
	       limit_eq(&a->limits.memory_min, &b->limits.memory_min) &&
	       limit_eq(&a->limits.memory_swap_max, &b->limits.memory_swap_max) &&
	       limit_eq(&a->limits.pids_max, &b->limits.pids_max) && a->limits.cpu_set == b->limits.cpu_set &&
	       a->limits.cpu_quota_usec == b->limits.cpu_quota_usec &&
	       a->limits.cpu_period_usec == b->limits.cpu_period_usec &&
	       a->limits.cpu_weight == b->limits.cpu_weight;
}

static bool env_eq(const struct policy *a, const struct policy *b)
{
	if (a->n_environment != b->n_environment || a->n_rlimits != b->n_rlimits)
		return false;
	for (size_t i = 0; i < a->n_environment; i++)
		if (!str_eq(a->environment[i].name, b->environment[i].name) ||
		    !str_eq(a->environment[i].value, b->environment[i].value))
			return false;
	for (size_t i = 0; i < a->n_rlimits; i++)
		if (a->rlimits[i].resource != b->rlimits[i].resource || a->rlimits[i].soft != b->rlimits[i].soft ||
		    a->rlimits[i].hard != b->rlimits[i].hard)
			return false;
	return true;
}

/* What a new process would see: changing any of it needs a restart. */
static const char *process_change(const struct policy *a, const struct policy *b)
{
	if (!strv_eq(a->command, b->command))
		return "command";
	if (!str_eq(a->user, b->user) || !str_eq(a->group, b->group))
		return "user/group";
	if (!str_eq(a->working_directory, b->working_directory))
		return "working_directory";
	if (!env_eq(a, b))
		return "environment/rlimits";
	if (a->output.mode != b->output.mode || !str_eq(a->output.file, b->output.file))
		return "output";
	if (a->no_new_privileges != b->no_new_privileges)
		return "no_new_privileges";
	return NULL;
}

static bool health_eq(const struct policy *a, const struct policy *b)
{
	if (a->n_health != b->n_health)
		return false;
	for (size_t i = 0; i < a->n_health; i++) {
		const struct health_check *x = &a->health[i], *y = &b->health[i];

		if (x->kind != y->kind || !str_eq(x->url, y->url) || !str_eq(x->host, y->host) ||
		    x->port != y->port || !str_eq(x->path, y->path) || x->status != y->status ||
		    !str_eq(x->contains, y->contains) || !strv_eq(x->exec, y->exec) || x->every != y->every ||
		    x->timeout != y->timeout || x->failures != y->failures || x->action != y->action)
			return false;
	}
	return true;
}

static bool rules_eq(const struct policy *a, const struct policy *b)
{
	if (a->n_rules != b->n_rules)
		return false;
	for (size_t i = 0; i < a->n_rules; i++) {
		const struct rule *x = &a->rules[i], *y = &b->rules[i];

		if (!str_eq(x->name, y->name) || x->metric != y->metric || x->below != y->below ||
		    x->threshold != y->threshold || x->for_usec != y->for_usec || x->samples != y->samples ||
		    x->of != y->of || x->action != y->action || !strv_eq(x->exec, y->exec))
			return false;
	}
	return true;
}

void policy_diff(const struct policy *a, const struct policy *b, struct policy_diff *ret)
{
	*ret = (struct policy_diff){
		.limits = !limits_eq(a, b),
		.oom_score_adj = a->oom_score_adj_set != b->oom_score_adj_set || a->oom_score_adj != b->oom_score_adj,
		.rules = !rules_eq(a, b),
		.pressure = a->pressure.full != b->pressure.full || a->pressure.stall_usec != b->pressure.stall_usec ||
			    a->pressure.window_usec != b->pressure.window_usec,
		.sampling = a->sample_interval != b->sample_interval,
		.health = !health_eq(a, b),
		.process = process_change(a, b),
	};
}
