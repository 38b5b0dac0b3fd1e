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

/* before hooks: for a kill or restart the engine decided (rec: its
 * record, not yet written), start the daemon's and policy's before hooks
 * whose `on` names it and call done once all have exited or budget has
 * passed, whichever is first (cut_short: budget ran out). The hooks go on
 * to their own timeout either way. -ENOENT: no hook applies (done is not
 * called). Else *ret until done is called; hooks_wait_cancel drops it
 * without calling done. */
struct hooks_wait;
typedef void (*hooks_done_fn)(void *data, bool cut_short, usec_t waited, unsigned n_hooks);
int hooks_before(struct hooks *h, struct json_object *rec, const struct hookset *policy, usec_t budget,
		 hooks_done_fn done, void *data, struct hooks_wait **ret);
void hooks_wait_cancel(struct hooks_wait *w);
/* The longest timeout of the before hooks that would run for action (0:
 * none would). */
usec_t hooks_before_timeout(struct hooks *h, const struct hookset *policy, const char *action);

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
