/* reload.c: applying a new policy set to running services: what changed,
 * section by section, and the least disruptive way to apply it. */
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>

#include "log.h"
#include "supervisor.h"

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

static void say(struct json_object *changes, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct json_object *changes, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_info("reload: %s", buf);
	json_object_array_add(changes, json_object_new_string(buf));
}

static void set_oom_score_adj(struct service *svc)
{
	_cleanup_free_ pid_t *pids = NULL;
	size_t n = 0;

	if (!svc->policy->oom_score_adj_set || svc->cgfd < 0 || cgfs_read_procs(svc->cgfd, &pids, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		char path[64];
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%d/oom_score_adj", pids[i]);
		f = fopen(path, "we");
		if (f) {
			fprintf(f, "%d", svc->policy->oom_score_adj);
			fclose(f);
		}
	}
}

/* Replace svc's policy with p (consumed), applying each difference. */
static int update_service(struct service *svc, struct policy *p, struct json_object *changes)
{
	struct policy *old = svc->policy;
	const char *name = p->service, *proc = process_change(old, p);
	bool limits = !limits_eq(old, p), health = !health_eq(old, p);
	bool oom = old->oom_score_adj_set != p->oom_score_adj_set || old->oom_score_adj != p->oom_score_adj;
	bool active = svc->state == SVC_RUNNING || svc->state == SVC_STARTING;
	usec_t *ring = calloc(p->restart.give_up_restarts + 1, sizeof(usec_t));

	if (!ring) {
		policy_free(p);
		return -ENOMEM;
	}
	/* Health runners point into the old policy: stop them before it goes. */
	health_stop(svc->health);
	svc->health = NULL;
	svc->policy = p;
	free(svc->restart_times);
	svc->restart_times = ring;
	svc->restart_ring_len = p->restart.give_up_restarts;
	if (limits && svc->cgfd >= 0 && service_apply_limits(svc) == 0)
		say(changes, "%s: limits applied to the running cgroup", name);
	if (oom && !proc) {
		set_oom_score_adj(svc);
		say(changes, "%s: oom_score_adj %d applied to its processes", name, p->oom_score_adj);
	}
	if (!rules_eq(old, p))
		say(changes, "%s: rules updated", name);
	if (health)
		say(changes, "%s: health checks updated", name);
	if (proc && active) {
		say(changes, "%s: %s changed: restarting", name, proc);
		service_restart(svc, EXIT_GUARDIAN, "policy reloaded", false);
	} else if (proc)
		say(changes, "%s: %s changed: applies at the next start", name, proc);
	else if (svc->state == SVC_RUNNING && p->n_health)
		service_resume_health(svc);
	policy_free(old);
	return 0;
}

static int on_reap(struct loop_source *src, int fd, uint32_t revents, void *data)
{
	struct supervisor *s = data;
	size_t j = 0;

	loop_source_freep(&s->reap);
	for (size_t i = 0; i < s->n_services; i++) {
		struct service *svc = s->services[i];

		if (svc->removed && svc->state == SVC_STOPPED) {
			(void)bpf_observers_guard(s->bpf, svc->cgroup_id, false);
			(void)cgfs_rmdir(s->cg, svc->cgroup);
			service_free(svc);
		} else
			s->services[j++] = svc;
	}
	s->n_services = j;
	return 0;
}

void supervisor_reap_removed(struct supervisor *s)
{
	if (!s->reap)
		(void)loop_add_timer(s->loop, 0, on_reap, s, &s->reap);
}

int supervisor_reload(struct supervisor *s, struct policy **v, size_t n, struct json_object *changes)
{
	int r = 0;

	for (size_t i = 0; i < s->n_services; i++) {
		struct service *svc = s->services[i];
		bool kept = false;

		for (size_t k = 0; k < n && !kept; k++)
			kept = v[k] && strcmp(v[k]->service, svc->policy->service) == 0;
		if (kept || svc->removed)
			continue;
		svc->removed = true;
		say(changes, "%s: policy removed: stopping it", svc->policy->service);
		service_stop(svc);
		supervisor_reap_removed(s);
	}
	for (size_t k = 0; k < n; k++) {
		struct service *svc = supervisor_find(s, v[k]->service);
		struct policy *p = TAKE_PTR(v[k]);

		if (svc && !svc->removed) {
			r = update_service(svc, p, changes);
		} else {
			r = supervisor_add(s, p, &svc);
			if (r < 0) {
				policy_free(p);
				break;
			}
			say(changes, "%s: new policy: starting it", p->service);
			service_start(svc);
		}
		if (r < 0)
			break;
	}
	if (json_object_array_length(changes) == 0)
		say(changes, "nothing changed");
	return r;
}
