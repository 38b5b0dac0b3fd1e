/* reload.c: applying a new policy set to running services: policy_diff()
 * says what changed; this applies it in the least disruptive way. */
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>

#include "log.h"
#include "supervisor.h"

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

/* The policy's value, or 0 (the kernel's default) once it says none. */
static void set_oom_score_adj(struct service *svc)
{
	const struct policy *p = svc->policy;

	if (svc->cgfd >= 0)
		(void)group_set_oom_score_adj(svc->cgfd, svc->sup->cfg.proc_root,
					      p->oom_score_adj_set ? p->oom_score_adj : 0, NULL, NULL);
}

/* Replace svc's policy with p (consumed), applying each difference. */
static int update_service(struct service *svc, struct policy *p, struct json_object *changes)
{
	struct policy *old = svc->policy;
	const char *name = p->service;
	struct policy_diff d;
	bool active = svc->state == SVC_RUNNING || svc->state == SVC_STARTING;
	usec_t *ring = calloc(p->restart.give_up_restarts + 1, sizeof(usec_t));

	if (!ring) {
		policy_free(p);
		return -ENOMEM;
	}
	policy_diff(old, p, &d);
	/* Health runners and their addresses point into the old policy: they
	 * go before it does, and the new one's names are resolved afresh. */
	health_stop(svc->health);
	svc->health = NULL;
	health_targets_free(svc->health_targets);
	svc->health_targets = NULL;
	svc->policy = p;
	/* The give-up budget counts on across a reload: a crash loop gets no
	 * fresh budget from it. */
	lifecycle_carry_restarts(svc->restarts, svc->restart_times, svc->restart_ring_len + 1, ring,
				 p->restart.give_up_restarts + 1);
	free(svc->restart_times);
	svc->restart_times = ring;
	svc->restart_ring_len = p->restart.give_up_restarts;
	if (d.limits && svc->cgfd >= 0 && service_apply_limits(svc) == 0)
		say(changes, "%s: limits applied to the running cgroup", name);
	if (d.oom_score_adj && !d.process) {
		set_oom_score_adj(svc);
		say(changes, "%s: oom_score_adj %d applied to its processes", name,
		    p->oom_score_adj_set ? p->oom_score_adj : 0);
	}
	supervisor_notify(svc, policy_changed);
	if (d.rules)
		say(changes, "%s: rules updated", name);
	if (d.pressure)
		say(changes, "%s: pressure trigger updated", name);
	if (d.sampling)
		say(changes, "%s: sample_interval updated", name);
	if (d.health)
		say(changes, "%s: health checks updated", name);
	if (d.process && active) {
		say(changes, "%s: %s changed: restarting", name, d.process);
		service_restart(svc, EXIT_GUARDIAN, "policy reloaded", false);
	} else if (d.process)
		say(changes, "%s: %s changed: applies at the next start", name, d.process);
	else if (svc->state == SVC_RUNNING && p->n_health)
		service_resume_health(svc);
	policy_free(old);
	return 0;
}

static bool watch_policies(struct policy *const *v, size_t n)
{
	for (size_t k = 0; k < n; k++)
		if (v[k] && policy_watches(v[k]))
			return true;
	return false;
}

int supervisor_reload(struct supervisor *s, struct policy **v, size_t n, struct json_object *changes)
{
	int r = 0;

	for (size_t i = 0; i < s->n_services; i++) {
		struct service *svc = s->services[i];
		bool kept = false;

		if (svc->watched)
			continue; /* the watch policies come after */
		for (size_t k = 0; k < n && !kept; k++)
			kept = v[k] && !policy_watches(v[k]) && strcmp(v[k]->service, svc->policy->service) == 0;
		if (kept || svc->removed)
			continue;
		svc->removed = true;
		say(changes, "%s: policy removed: stopping it", svc->policy->service);
		service_stop(svc);
		supervisor_reap_removed(s);
	}
	for (size_t k = 0; k < n; k++) {
		struct service *svc;
		struct policy *p;

		if (policy_watches(v[k]))
			continue;
		svc = supervisor_find(s, v[k]->service);
		p = TAKE_PTR(v[k]);

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
	/* Watched cgroups start over on the new watch policies: each is
	 * forgotten and found again (its engine starts afresh). */
	if (r == 0 && (s->n_watches || watch_policies(v, n))) {
		size_t before = s->n_watches;

		supervisor_unwatch_all(s);
		for (size_t k = 0; k < n && r == 0; k++) {
			if (!v[k] || !policy_watches(v[k]))
				continue;
			if (v[k]->kube.on)
				say(changes, "%s: watching the node's pods", v[k]->service);
			else
				say(changes, "%s: watching %zu cgroup glob(s)", v[k]->service, v[k]->n_watch_cgroups);
			r = supervisor_watch(s, v[k]);
			if (r == 0)
				v[k] = NULL;
		}
		if (before && !s->n_watches)
			say(changes, "no watch policies any more: watched cgroups forgotten");
	}
	if (json_object_array_length(changes) == 0)
		say(changes, "nothing changed");
	return r;
}
