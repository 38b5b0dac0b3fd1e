/* hooks.c: the hooks at work: a record that names a kill, restart, OOM
 * kill, foreign signal or give-up starts its hooks, each a child watched
 * through its pidfd on the loop and SIGKILLed at its timeout. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hooks.h"
#include "log.h"
#include "spawn.h"
#include "util.h"

/* A minute: the window max_per_minute counts in. */
#define HOOK_RATE_WINDOW (60 * USEC_PER_SEC)

struct hook_rate {
	const struct hook *hook; /* identity only: reloaded hooks start afresh */
	usec_t window_start;
	unsigned started, skipped;
	struct hook_rate *next;
};

struct hook_run {
	struct hooks *h;
	struct hook_run *prev, *next;
	struct loop_source *exit_src, *timer;
	int pidfd;
	pid_t pid;
	usec_t started;
	bool timed_out;
	unsigned skipped; /* runs skipped before this one by the rate limit */
	char *service, *cgroup, *for_action, *command;
	unsigned line;
	const char *scope; /* "policy" or "daemon" */
	bool before;
	struct hooks_wait *wait; /* a before hook whose kill still waits for it */
};

struct hooks_wait {
	struct hooks *h;
	struct loop_source *timer;
	unsigned pending, n;
	usec_t started;
	hooks_done_fn done;
	void *data;
};

struct hooks {
	struct loop *loop;
	struct actionlog *log;
	struct supervisor *sup;
	const struct hookset *daemon;
	struct hook_rate *rates;
	struct hook_run *runs;
};

int hooks_new(struct loop *loop, struct actionlog *log, struct supervisor *sup, const struct hookset *daemon,
	      struct hooks **ret)
{
	struct hooks *h = calloc(1, sizeof(*h));

	if (!h)
		return -ENOMEM;
	*h = (struct hooks){ .loop = loop, .log = log, .sup = sup, .daemon = daemon };
	*ret = h;
	return 0;
}

static void run_free(struct hook_run *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else
		r->h->runs = r->next;
	if (r->next)
		r->next->prev = r->prev;
	loop_source_free(r->exit_src);
	loop_source_free(r->timer);
	free(r->service);
	free(r->cgroup);
	free(r->for_action);
	free(r->command);
	free(r);
}

void hooks_free(struct hooks *h)
{
	if (!h)
		return;
	while (h->runs) {
		(void)syscall(SYS_pidfd_send_signal, h->runs->pidfd, SIGKILL, NULL, 0);
		run_free(h->runs);
	}
	while (h->rates) {
		struct hook_rate *n = h->rates->next;

		free(h->rates);
		h->rates = n;
	}
	free(h);
}

/* --- the environment ------------------------------------------------------- */

static int env_push(struct env_var **env, size_t *n, const char *key, const char *value)
{
	struct env_var *v = realloc(*env, (*n + 1) * sizeof(**env));
	char field[80], *name;

	if (!v)
		return -ENOMEM;
	*env = v;
	actionlog_field_name(key, field, sizeof(field));
	if (!(name = strdup(field)))
		return -ENOMEM;
	v[*n].name = name;
	v[*n].value = strdup(value);
	if (!v[*n].value) {
		free(name);
		return -ENOMEM;
	}
	(*n)++;
	return 0;
}

static int env_pids(struct env_var **env, size_t *n, struct json_object *pids)
{
	char buf[1024] = "";
	size_t len = 0;

	for (size_t i = 0; i < json_object_array_length(pids) && len + 24 < sizeof(buf); i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%" PRId64, i ? " " : "",
					json_object_get_int64(json_object_array_get_idx(pids, i)));
	return env_push(env, n, "pids", buf);
}

void hooks_env_free(struct env_var *env, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(env[i].name);
		free(env[i].value);
	}
	free(env);
}

int hooks_env_from_record(struct json_object *rec, struct env_var **ret, size_t *ret_n)
{
	static const char *const kube_keys[] = { "namespace", "pod", "container" };
	struct env_var *env = NULL;
	struct json_object *kube;
	size_t n = 0;
	int r = 0;

	json_object_object_foreach(rec, key, val) {
		enum json_type t = json_object_get_type(val);

		if (strcmp(key, "pids") == 0 && t == json_type_array)
			r = env_pids(&env, &n, val);
		else if (t == json_type_string || t == json_type_int || t == json_type_double ||
			 t == json_type_boolean)
			r = env_push(&env, &n, key, json_object_get_string(val));
		if (r < 0)
			break;
	}
	if (r == 0 && json_object_object_get_ex(rec, "kubernetes", &kube))
		for (size_t i = 0; i < ARRAY_SIZE(kube_keys) && r == 0; i++) {
			struct json_object *v;

			if (json_object_object_get_ex(kube, kube_keys[i], &v) && json_object_is_type(v, json_type_string))
				r = env_push(&env, &n, kube_keys[i], json_object_get_string(v));
		}
	if (r < 0) {
		hooks_env_free(env, n);
		return -ENOMEM;
	}
	*ret = env;
	*ret_n = n;
	return 0;
}

static const char *rec_string(struct json_object *rec, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(rec, key, &v) && json_object_is_type(v, json_type_string)
		? json_object_get_string(v) : NULL;
}

bool hooks_record_matches(struct json_object *rec, unsigned on)
{
	const char *verdict = rec_string(rec, "verdict");
	struct json_object *dry;

	if (!(hook_event_of_action(rec_string(rec, "action")) & on))
		return false;
	/* The engine records what it held back too; only what was done counts. */
	if (verdict && strcmp(verdict, "act") != 0)
		return false;
	return !(json_object_object_get_ex(rec, "dry_run", &dry) && json_object_get_boolean(dry));
}

/* --- runs ------------------------------------------------------------------ */

static void record_run(struct hook_run *r, const char *result, const siginfo_t *si)
{
	struct json_object *rec = actionlog_record(r->service, r->cgroup, "hook", "hook", result);
	usec_t ms = (now_monotonic() - r->started) / USEC_PER_MSEC;

	if (!rec)
		return;
	json_object_object_add(rec, "for", json_object_new_string(r->for_action));
	json_object_object_add(rec, "hook", json_object_new_string(r->command));
	json_object_object_add(rec, "scope", json_object_new_string(r->scope));
	json_object_object_add(rec, "phase", json_object_new_string(r->before ? "before" : "after"));
	if (r->before)
		json_object_object_add(rec, "waited_for", json_object_new_boolean(r->wait != NULL));
	json_object_object_add(rec, "line", json_object_new_int((int)r->line));
	json_object_object_add(rec, "duration_ms", json_object_new_int64((int64_t)ms));
	json_object_object_add(rec, "timed_out", json_object_new_boolean(r->timed_out));
	if (r->pid)
		actionlog_add_pids(rec, &r->pid, 1);
	if (si && si->si_code == CLD_EXITED)
		json_object_object_add(rec, "exit_code", json_object_new_int(si->si_status));
	else if (si)
		json_object_object_add(rec, "signal", json_object_new_string(sigabbrev_np(si->si_status) ?: "?"));
	if (r->skipped)
		json_object_object_add(rec, "skipped", json_object_new_int((int)r->skipped));
	(void)actionlog_write(r->h->log, rec);
}

static void wait_finish(struct hooks_wait *w, bool cut_short)
{
	hooks_done_fn done = w->done;
	void *data = w->data;
	usec_t waited = now_monotonic() - w->started;
	unsigned n = w->n;

	hooks_wait_cancel(w);
	done(data, cut_short, waited, n);
}

void hooks_wait_cancel(struct hooks_wait *w)
{
	if (!w)
		return;
	for (struct hook_run *r = w->h->runs; r; r = r->next)
		if (r->wait == w)
			r->wait = NULL;
	loop_source_free(w->timer);
	free(w);
}

static int on_wait_timeout(struct loop_source *src, int fd, uint32_t revents, void *data)
{
	struct hooks_wait *w = data;

	loop_source_freep(&w->timer);
	wait_finish(w, true);
	return 0;
}

static int on_run_exit(struct loop_source *src, int fd, uint32_t revents, void *data)
{
	struct hook_run *r = data;
	struct hooks_wait *w;
	siginfo_t si = { 0 };
	char result[96];

	if (waitid((idtype_t)P_PIDFD, (id_t)fd, &si, WEXITED | WNOHANG) < 0 || si.si_pid == 0)
		return 0;
	if (r->timed_out)
		snprintf(result, sizeof(result), "killed at its timeout");
	else if (si.si_code == CLD_EXITED)
		snprintf(result, sizeof(result), "exited with %d", si.si_status);
	else
		snprintf(result, sizeof(result), "killed by SIG%s", sigabbrev_np(si.si_status) ?: "?");
	log_info("hook %s for %s of %s: %s", r->command, r->for_action, r->service ?: "-", result);
	record_run(r, result, &si);
	w = r->wait;
	run_free(r);
	if (w && --w->pending == 0)
		wait_finish(w, false);
	return 0;
}

static int on_run_timeout(struct loop_source *src, int fd, uint32_t revents, void *data)
{
	struct hook_run *r = data;

	loop_source_freep(&r->timer);
	r->timed_out = true;
	log_warning("hook %s for %s of %s: still running at its timeout, killing it", r->command, r->for_action,
		    r->service ?: "-");
	/* By pidfd: the pid cannot have been reused while the pidfd is open. */
	if (syscall(SYS_pidfd_send_signal, r->pidfd, SIGKILL, NULL, 0) < 0)
		log_warning_errno(-errno, "hook %s: cannot kill pid %d", r->command, r->pid);
	return 0;
}

/* max_per_minute: 0 when it may run now, else it is counted as skipped.
 * ret_skipped: the runs skipped since the last one that ran. */
static int rate_take(struct hooks *h, const struct hook *hook, unsigned *ret_skipped)
{
	usec_t now = now_monotonic();
	struct hook_rate *e, **pp;

	/* A window that ended with nothing skipped says nothing: dropped, so
	 * the hooks of policies reloaded away leave nothing behind. */
	for (pp = &h->rates; (e = *pp);)
		if (e->hook != hook && !e->skipped && now - e->window_start >= HOOK_RATE_WINDOW) {
			*pp = e->next;
			free(e);
		} else
			pp = &e->next;
	for (e = h->rates; e && e->hook != hook; e = e->next)
		;
	if (!e) {
		e = calloc(1, sizeof(*e));
		if (!e)
			return -ENOMEM;
		*e = (struct hook_rate){ .hook = hook, .window_start = now, .next = h->rates };
		h->rates = e;
	}
	if (now - e->window_start >= HOOK_RATE_WINDOW) {
		e->window_start = now;
		e->started = 0;
	}
	if (e->started >= hook->max_per_minute) {
		/* The first one skipped in a window is recorded, the rest only counted. */
		return e->skipped++ ? -EBUSY : -EDQUOT;
	}
	e->started++;
	*ret_skipped = e->skipped;
	e->skipped = 0;
	return 0;
}

static int hook_spawn(const struct hook *hook, struct json_object *rec, const char *service, pid_t main_pid,
		      bool before, struct spawn_result *sr)
{
	struct json_object *pids;
	char pid_text[24];
	struct policy p = { .service = (char *)(service ?: ""), .user = hook->user, .cred = hook->cred,
			    .no_new_privileges = true };
	struct env_var *env = NULL;
	size_t n = 0;
	int r;

	r = hooks_env_from_record(rec, &env, &n);
	/* The engine's decision names no pid: the run it ends is the service's. */
	if (r == 0 && main_pid && !json_object_object_get_ex(rec, "pids", &pids)) {
		snprintf(pid_text, sizeof(pid_text), "%d", (int)main_pid);
		r = env_push(&env, &n, "pids", pid_text);
	}
	if (r == 0)
		r = env_push(&env, &n, "hook", before ? "before" : "after");
	if (r < 0) {
		hooks_env_free(env, n);
		return r;
	}
	p.environment = env;
	p.n_environment = n;
	/* In guardian's own cgroup: a hook is guardian's errand, and the
	 * service's group may be the one that was just killed. */
	r = spawn_in_cgroup(&p, hook->command, -1, -1, sr);
	hooks_env_free(env, n);
	if (r == 0)
		close(sr->exec_pipe);
	return r;
}

static struct hook_run *start_one(struct hooks *h, const struct hook *hook, const char *scope,
				  struct json_object *rec, pid_t main_pid, bool before)
{
	const char *service = rec_string(rec, "service"), *action = rec_string(rec, "action");
	struct hook_run *r;
	struct spawn_result sr;
	unsigned skipped = 0;
	int e;

	e = rate_take(h, hook, &skipped);
	if (e == -EDQUOT) {
		struct json_object *rec2 = actionlog_record(service, rec_string(rec, "cgroup"), "hook", "hook",
							    "skipped: over max_per_minute");

		log_notice("hook %s: over max_per_minute %u, skipped (and counted) for the rest of the minute",
			   hook->command[0], hook->max_per_minute);
		if (rec2) {
			json_object_object_add(rec2, "for", json_object_new_string(action ?: "?"));
			json_object_object_add(rec2, "hook", json_object_new_string(hook->command[0]));
			json_object_object_add(rec2, "scope", json_object_new_string(scope));
			json_object_object_add(rec2, "line", json_object_new_int((int)hook->line));
			json_object_object_add(rec2, "max_per_minute", json_object_new_int((int)hook->max_per_minute));
			(void)actionlog_write(h->log, rec2);
		}
	}
	if (e < 0)
		return NULL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	*r = (struct hook_run){ .h = h, .pidfd = -1, .started = now_monotonic(), .skipped = skipped,
				.line = hook->line, .scope = scope, .before = before };
	r->service = service ? strdup(service) : NULL;
	r->cgroup = rec_string(rec, "cgroup") ? strdup(rec_string(rec, "cgroup")) : NULL;
	r->for_action = strdup(action ?: "?");
	r->command = strdup(hook->command[0]);
	r->next = h->runs;
	if (h->runs)
		h->runs->prev = r;
	h->runs = r;
	if (!r->for_action || !r->command) {
		run_free(r);
		return NULL;
	}
	e = hook_spawn(hook, rec, service, main_pid, before, &sr);
	if (e < 0) {
		log_warning_errno(e, "hook %s: cannot start it", r->command);
		record_run(r, "could not start", NULL);
		run_free(r);
		return NULL;
	}
	r->pid = sr.pid;
	r->pidfd = sr.pidfd;
	if (loop_add_fd(h->loop, sr.pidfd, EPOLLIN, true, on_run_exit, r, &r->exit_src) < 0) {
		siginfo_t si;

		/* Reaped here, or it would stay a zombie: a child SIGKILLed
		 * right after its start is gone at once. Without the kill
		 * (it cannot fail on a child of ours) the wait could last. */
		if (syscall(SYS_pidfd_send_signal, sr.pidfd, SIGKILL, NULL, 0) == 0 || errno == ESRCH)
			(void)waitid((idtype_t)P_PIDFD, (id_t)sr.pidfd, &si, WEXITED);
		close(sr.pidfd);
		record_run(r, "could not watch it (killed)", NULL);
		run_free(r);
		return NULL;
	}
	if (loop_add_timer(h->loop, hook->timeout, on_run_timeout, r, &r->timer) < 0) {
		/* Without a timeout it could run forever: killed now, and its
		 * exit reaped and recorded as any other's. */
		log_warning("hook %s: cannot arm its timeout, killing it", r->command);
		r->timed_out = true;
		(void)syscall(SYS_pidfd_send_signal, sr.pidfd, SIGKILL, NULL, 0);
	}
	return r;
}

static void start_set(struct hooks *h, const struct hookset *hs, const char *scope, struct json_object *rec,
		      pid_t main_pid)
{
	for (size_t i = 0; hs && i < hs->n_after; i++)
		if (hooks_record_matches(rec, hs->after[i].on))
			(void)start_one(h, &hs->after[i], scope, rec, main_pid, false);
}

void hooks_on_record(void *data, struct json_object *rec)
{
	struct hooks *h = data;
	const char *service = rec_string(rec, "service");
	struct service *svc = service && h->sup ? supervisor_find(h->sup, service) : NULL;
	pid_t main_pid = svc ? svc->pid : 0;

	if (!hook_event_of_action(rec_string(rec, "action")))
		return;
	start_set(h, h->daemon, "daemon", rec, main_pid);
	if (svc)
		start_set(h, &svc->policy->hooks, "policy", rec, main_pid);
}

/* --- before hooks ---------------------------------------------------------- */

usec_t hooks_before_timeout(struct hooks *h, const struct hookset *policy, const char *action)
{
	const struct hookset *sets[] = { h->daemon, policy };
	unsigned ev = hook_event_of_action(action);
	usec_t t = 0;

	for (size_t k = 0; k < ARRAY_SIZE(sets); k++)
		for (size_t i = 0; sets[k] && i < sets[k]->n_before; i++)
			if ((sets[k]->before[i].on & ev) && sets[k]->before[i].timeout > t)
				t = sets[k]->before[i].timeout;
	return t;
}

int hooks_before(struct hooks *h, struct json_object *rec, const struct hookset *policy, usec_t budget,
		 hooks_done_fn done, void *data, struct hooks_wait **ret)
{
	const struct hookset *sets[] = { h->daemon, policy };
	static const char *const scopes[] = { "daemon", "policy" };
	const char *service = rec_string(rec, "service");
	struct service *svc = service && h->sup ? supervisor_find(h->sup, service) : NULL;
	unsigned ev = hook_event_of_action(rec_string(rec, "action"));
	struct hooks_wait *w = calloc(1, sizeof(*w));

	if (!w)
		return -ENOMEM;
	*w = (struct hooks_wait){ .h = h, .started = now_monotonic(), .done = done, .data = data };
	for (size_t k = 0; k < ARRAY_SIZE(sets); k++)
		for (size_t i = 0; sets[k] && i < sets[k]->n_before; i++) {
			struct hook_run *r;

			if (!(sets[k]->before[i].on & ev))
				continue;
			r = start_one(h, &sets[k]->before[i], scopes[k], rec, svc ? svc->pid : 0, true);
			if (r) {
				r->wait = w;
				w->pending++;
				w->n++;
			}
		}
	if (!w->pending || loop_add_timer(h->loop, budget, on_wait_timeout, w, &w->timer) < 0) {
		hooks_wait_cancel(w);
		return -ENOENT;
	}
	*ret = w;
	return 0;
}
