/* monitor.h: the pressure engine for each service: pressure samples feeding
 * the engine while the service runs, its decisions carried out by act and
 * written to the action log, each followed up a few seconds later. It
 * learns of services through the supervisor's hooks (monitor_hooks). */
#pragma once

#include <json-c/json.h>

#include "actionlog.h"
#include "cgwatch.h"
#include "supervisor.h"

struct monitors_config {
	struct loop *loop;
	struct cgwatch *watch;
	struct actionlog *log; /* may be NULL */
	const char *proc_root; /* for the machine's free swap; NULL: /proc */
};

struct monitors;

int monitors_new(const struct monitors_config *cfg, struct monitors **ret);
/* After the supervisor is freed (its `removed` hooks free each monitor). */
void monitors_free(struct monitors *ms);

/* Subscribe with supervisor_subscribe(sup, &monitor_hooks, monitors):
 * a running service is watched; one whose run ended is not. */
extern const struct service_hooks monitor_hooks;

/* For `guardctl explain`: live signals, every rule and how close it is,
 * the ladder's step and what would come next. */
struct json_object *monitor_explain(struct monitors *ms, struct service *svc);

/* For the system-wide guard (data is the monitors): the working set's
 * growth in bytes/s. -ENODATA when not known (not running, too few
 * samples, not growing). */
int monitor_growth(void *data, struct service *svc, double *ret_bps);
/* For the system-wide guard (data is the monitors): is the service's own
 * engine acting on it, or did it restart or kill it in the last 30 s? */
bool monitor_engaged(void *data, struct service *svc, bool *ret_stalled);
