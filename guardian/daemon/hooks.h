/* hooks.h: running the policies' and the daemon's hooks after a kill, a
 * restart, a kernel OOM kill, a foreign signal or a give-up: spawned with
 * a pidfd watched on the loop, killed at their timeout, rate-limited, and
 * recorded in the action log as action "hook". */
#pragma once

#include <json-c/json.h>

#include "actionlog.h"
#include "loop.h"
#include "policy.h"
#include "supervisor.h"

struct hooks;

/* daemon: the --hooks file's hooks (may be NULL), kept by the caller for
 * as long as the runner lives. Records the runner writes go to log. */
int hooks_new(struct loop *loop, struct actionlog *log, struct supervisor *sup, const struct hookset *daemon,
	      struct hooks **ret);
/* Kills (SIGKILL by pidfd) the hooks still running and frees the runner. */
void hooks_free(struct hooks *h);
/* An action log observer: every record passes here on the loop; the hooks
 * whose `on` names its action are started. */
void hooks_on_record(void *data, struct json_object *rec);

/* The environment a hook sees, from its record (pure, for tests): each
 * top-level scalar KEY as GUARDIAN_KEY (upper case, - as _), pids as
 * GUARDIAN_PIDS (space-separated), kubernetes.{namespace,pod,container}
 * as GUARDIAN_NAMESPACE, _POD, _CONTAINER. 0 or -ENOMEM; free with
 * hooks_env_free. */
int hooks_env_from_record(struct json_object *rec, struct env_var **ret, size_t *ret_n);
void hooks_env_free(struct env_var *env, size_t n);
/* Whether rec is one a hook with mask `on` runs for: the action it names,
 * carried out (no dry run, no held-back decision). */
bool hooks_record_matches(struct json_object *rec, unsigned on);
