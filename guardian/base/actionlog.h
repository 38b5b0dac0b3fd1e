/* actionlog.h: the record of every action guardian takes and every kill it
 * sees: one JSON object per line, appended and fsynced before reporting. */
#pragma once

#include <json-c/json.h>
#include <stdint.h>
#include <sys/types.h>

#include "util.h"

struct actionlog;

/* Open (create) <dir>/actions.jsonl; rotate at max_size keeping `keep`. */
int actionlog_open(const char *dir, uint64_t max_size, unsigned keep, struct actionlog **ret);
void actionlog_close(struct actionlog *a);

/* A record under construction: the common keys are set here, the caller
 * adds its figures with json_object_object_add(rec, ...). */
struct json_object *actionlog_record(const char *service, const char *cgroup, const char *source,
				     const char *action, const char *reason);
void actionlog_add_pids(struct json_object *rec, const pid_t *pids, size_t n);
/* Append rec (consumed) as one line and fsync it. */
int actionlog_write(struct actionlog *a, struct json_object *rec);
/* The same with extra's keys (consumed too, may be NULL) merged into rec
 * first. Without a log (a NULL) both are dropped and 0 is returned. */
int actionlog_write_with(struct actionlog *a, struct json_object *rec, struct json_object *extra);
/* Records that could not be written since it was opened (a full disk). */
uint64_t actionlog_lost(const struct actionlog *a);
const char *actionlog_path(const struct actionlog *a);

/* Called with every record as it is handed to actionlog_write (written or
 * not), before it is consumed: the metrics count actions from here. One
 * observer; NULL clears it. It must not keep rec. */
typedef void (*actionlog_observer_fn)(void *data, struct json_object *rec);
void actionlog_set_observer(struct actionlog *a, actionlog_observer_fn fn, void *data);
