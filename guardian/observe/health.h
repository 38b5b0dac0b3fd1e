/* health.h: a service's health checks (HTTP status and body, TCP connect,
 * exec) on timers in the event loop; none of them ever blocks it. */
#pragma once

#include <stdbool.h>
#include <sys/socket.h>

#include "loop.h"
#include "policy.h"

struct health_runner;
struct health_targets;

/* The addresses of p's HTTP and TCP checks, resolved once for this policy
 * and kept across the service's runs: an address or localhost at once, a
 * name in a short-lived child whose answer the loop reads when it comes
 * (the loop never waits on DNS); a failed name is tried again in the
 * background, 1 s after the first failure, doubling to once a minute.
 * p must outlive it. */
int health_targets_new(struct loop *loop, const struct policy *p, struct health_targets **ret);
/* Ends a resolution in flight (the child killed). NULL is fine. */
void health_targets_free(struct health_targets *t);

enum health_target_state {
	HEALTH_TARGET_READY,   /* the address is known */
	HEALTH_TARGET_PENDING, /* the first answer is not in yet */
	HEALTH_TARGET_FAILED,  /* the last answer was a failure, *ret_why says which */
};
/* Check `index`'s address (READY; ret_addr and ret_len may be NULL), or
 * why there is none. */
enum health_target_state health_target(const struct health_targets *t, unsigned index,
				       const struct sockaddr_storage **ret_addr, socklen_t *ret_len,
				       const char **ret_why);
/* Resolutions of check `index` started so far (0 for an address). */
unsigned health_targets_attempts(const struct health_targets *t, unsigned index);

/* For tests: what the resolver child runs instead of getaddrinfo. Returns
 * 0 or an EAI_* code. NULL restores getaddrinfo. */
typedef int (*health_resolve_fn)(const char *host, const char *port, struct sockaddr_storage *ret,
				 socklen_t *ret_len);
void health_set_resolver(health_resolve_fn fn);

/* Called once a check has failed `failures` times in a row (and again
 * after every further `failures` consecutive failures). `reason` says what
 * failed: "GET http://127.0.0.1:8080/watchdog_page.html: body does not
 * contain 'still alive'" or "connect 127.0.0.1:5432: Connection refused"
 * or "exec /usr/local/bin/check: exit status 2" or "...: timed out after 2s". */
typedef void (*health_failed_cb)(void *data, const struct health_check *check, unsigned index,
				 const char *reason);

/* Start running every check of `p` (first run after one `every`) on the
 * addresses in `targets` (health_targets_new for the same p; it must
 * outlive the runner). A run whose address is still being resolved for
 * the first time is skipped, uncounted: guardian's resolver being slow is
 * not the service's failure; a failed resolution fails the run with its
 * reason ("connect db:5432: cannot resolve: Name or service not known").
 * cgroup_fd: exec checks run inside the service's cgroup (clone3
 * CLONE_INTO_CGROUP) with the service's user; -1 runs them in guardian's.
 * p must outlive the runner: its checks are used in place. */
int health_start(struct loop *loop, const struct policy *p, const struct health_targets *targets,
		 int cgroup_fd, health_failed_cb cb, void *data, struct health_runner **ret);
/* Stop every check; in-flight connections and exec children are ended
 * (exec children killed by pidfd) and freed. NULL is fine. */
void health_stop(struct health_runner *h);

/* Status for guardctl: consecutive failures and the last failure reason
 * (NULL when the last run passed) of check `index`. */
unsigned health_consecutive_failures(const struct health_runner *h, unsigned index);
const char *health_last_error(const struct health_runner *h, unsigned index);
/* Runs of check `index` finished so far (passed or failed). */
unsigned long health_runs(const struct health_runner *h, unsigned index);
/* Run check `index` on the next loop iteration instead of waiting for its
 * timer (guardctl, tests); the callback never runs inside this call.
 * -EBUSY while a run is in flight or already requested. */
int health_run_now(struct health_runner *h, unsigned index);

/* Pure, for tests: does an HTTP response (status line, headers, body)
 * satisfy the check? On false, *ret_reason says why (static or in buf). */
bool health_http_response_ok(const struct health_check *check, const char *response, size_t len,
			     char *buf, size_t buflen, const char **ret_reason);
