/* monitor.h: the pressure engine for one service: signals feeding the
 * engine while the service runs, its decisions carried out by actions and
 * written to the action log, each followed up a few seconds later. */
#pragma once

#include <json-c/json.h>

#include "supervisor.h"

struct monitor;

/* The service is RUNNING: start (or restart) watching it. */
int monitor_start(struct service *svc);
/* The service leaves RUNNING: stop sampling (safe from inside the
 * monitor's own action, and when nothing was started). */
void monitor_stop(struct service *svc);
void monitor_free(struct service *svc);

/* For `guardctl explain`: live signals, every rule and how close it is,
 * the ladder's step and what would come next. */
struct json_object *monitor_explain(struct service *svc);

/* For the system-wide half: the working set's growth (bytes/s) and the
 * time until memory.max at that growth. -ENODATA when not known (not
 * running, too few samples, not growing, or no memory.max). */
int monitor_growth(struct service *svc, double *ret_bps);
int monitor_time_to_max(struct service *svc, usec_t *ret);
