/* monitor.h: the pressure engine for each service: pressure samples feeding
 * the engine while the service runs, its decisions carried out by act and
 * written to the action log, each followed up a few seconds later. It
 * learns of services through the supervisor's hooks (monitor_hooks). */
#pragma once

#include <json-c/json.h>

#include "actionlog.h"
#include "cgwatch.h"
#include "hooks.h"
#include "supervisor.h"

struct monitors_config {
	struct loop *loop;
	struct cgwatch *watch;
	struct actionlog *log; /* may be NULL */
	const char *proc_root; /* for the machine's free swap; NULL: /proc */
	struct hooks *hooks;   /* before hooks for the engine's kills and restarts; NULL: none */
};

struct monitors;

int monitors_new(const struct monitors_config *cfg, struct monitors **ret);
/* After the supervisor is freed (its `removed` hooks free each monitor). */
void monitors_free(struct monitors *ms);

/* Subscribe with supervisor_subscribe(sup, &monitor_hooks, monitors):
 * a running service is watched; one whose run ended is not. */
extern const struct service_hooks monitor_hooks;

/* For `guardctl explain`: live signals, every rule and how close it is,
 * the ladder's step and what would come next, and the working set's
 * recent history ("history", decide/history.h). */
struct json_object *monitor_explain(struct monitors *ms, struct service *svc);

/* For `guardctl status` and `guardctl top`: the engine's growth, time to
 * memory.max and its last decision, added to a service's status object
 * (null when not known). */
void monitor_status_json(struct monitors *ms, struct service *svc, struct json_object *o);

/* For the system-wide guard (data is the monitors): the working set's
 * growth in bytes/s. -ENODATA when not known (not running, too few
 * samples, not growing). */
int monitor_growth(void *data, struct service *svc, double *ret_bps);
/* For the system-wide guard (data is the monitors): is the service's own
 * engine acting on it, or did it restart or kill it in the last 30 s? */
bool monitor_engaged(void *data, struct service *svc, bool *ret_stalled);

/* For the metrics: what the engine last sampled of a running service.
 * -ENODATA when it is not watched or not sampled yet this run. */
struct monitor_figures {
	uint64_t working_set, memory_max, memory_high; /* UINT64_MAX: "max" */
	bool has_growth, has_time_to_max;
	double growth_bps;
	usec_t time_to_max;
};
int monitor_figures(struct monitors *ms, struct service *svc, struct monitor_figures *ret);

/* Decision latency: from the kernel event that woke the sampler (or the
 * timer's sample) to each of the engine's decisions carried out and
 * recorded, in seconds. counts[i] are the decisions within bounds[i] (and
 * above bounds[i-1]); counts[MONITOR_LATENCY_BOUNDS] those above the last. */
#define MONITOR_LATENCY_BOUNDS 14
extern const double monitor_latency_bounds[MONITOR_LATENCY_BOUNDS];
struct monitor_latency {
	uint64_t counts[MONITOR_LATENCY_BOUNDS + 1];
	double sum;
};
const struct monitor_latency *monitor_latency(const struct monitors *ms);
