/* control.c: the control socket. A request is one JSON object on one line,
 * e.g. {"command":"status","service":"web"}; the answer is one JSON line. */
#include "control.h"

#include <grp.h>
#include <stdarg.h>
#include <json-c/json.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "control-request.h"
#include "log.h"
#include "monitor.h"

/* How long a command may wait for its service to settle beyond the
 * service's own stop.timeout: a start that never reports exec success or
 * failure within this is a bug to report, not to wait on forever. */
#define SETTLE_SLACK_USEC (30 * USEC_PER_SEC)
/* Out of fds, accepting pauses this long: a spinning loop would starve
 * every guard, and fds come back as services stop or requests finish. */
#define ACCEPT_PAUSE (1 * USEC_PER_SEC)
/* A client has this long for its whole request line, however it trickles
 * in, and this long to take the whole answer; then it is dropped. Clients
 * are read and written without blocking, each as its bytes come, so a slow
 * one holds only its own connection, never the loop. */
#define REQUEST_DEADLINE (1 * USEC_PER_SEC)
#define REPLY_DEADLINE (10 * USEC_PER_SEC)
/* Open connections, per uid (root is not counted) and in all, as systemd's
 * varlink server has them. */
#define CONNS_PER_UID 1024
#define CONNS_MAX 4096

struct caller {
	uid_t uid;
	bool admin; /* root, or the admin group among its groups at connect time */
};

/* One client: its request as it arrives, then its answer as it leaves. */
struct conn {
	struct control *c;
	struct conn *prev, *next;
	int fd;
	struct loop_source *src, *timer;
	struct caller who;
	struct control_line line; /* the request so far */
	char *out;          /* the answer, written as the client takes it */
	size_t out_len, out_off;
	bool queued;        /* a mutating command owns it until it answers */
};

/* A mutating command waiting for its turn, or for its service to settle. */
struct pending {
	struct pending *next;
	struct conn *conn;
	const struct control_command *cmd;
	char *name;          /* resolved when the command runs: a reload may remove it */
	struct service *svc;
	bool waiting;
};

struct control {
	struct loop *loop;
	struct supervisor *sup;
	struct control_config cfg;
	int fd;
	struct loop_source *src;
	struct pending *head, *tail;
	struct loop_source *kick;     /* deferred queue processing */
	struct loop_source *deadline; /* the waiting command's time limit */
	struct loop_source *resume;   /* listening again after running out of fds */
	struct conn *conns;
	size_t n_conns;
};

/* Who is at the other end, taken when it connects (SO_PEERCRED and
 * SO_PEERGROUPS: the kernel's record, not /proc read later, where the
 * pid may be someone else's by then). Any doubt is no admin. */
static void identify(const struct control *c, int fd, struct caller *ret)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	gid_t small[64], *groups = small;
	_cleanup_free_ gid_t *big = NULL;
	socklen_t glen = sizeof(small);

	*ret = (struct caller){ .uid = (uid_t)-1 };
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return;
	ret->uid = cred.uid;
	ret->admin = cred.uid == 0 || (c->cfg.admin_gid != (gid_t)-1 && cred.gid == c->cfg.admin_gid);
	if (ret->admin || c->cfg.admin_gid == (gid_t)-1)
		return;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &glen) < 0) {
		if (errno != ERANGE || !(big = malloc(glen)))
			return;
		groups = big;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &glen) < 0)
			return;
	}
	for (size_t i = 0; i < glen / sizeof(gid_t); i++)
		if (groups[i] == c->cfg.admin_gid)
			ret->admin = true;
}

static void add_u64(struct json_object *o, const char *key, int dirfd, const char *attr)
{
	uint64_t v;

	if (dirfd < 0 || cgfs_read_u64(dirfd, attr, &v) < 0)
		json_object_object_add(o, key, NULL);
	else if (v == CGFS_MAX)
		json_object_object_add(o, key, json_object_new_string("max"));
	else
		json_object_object_add(o, key, json_object_new_uint64(v));
}

static void add_memory(struct json_object *o, const struct service *svc)
{
	uint64_t ws, oom = 0;
	struct cgfs_psi psi;

	add_u64(o, "memory_current", svc->cgfd, "memory.current");
	add_u64(o, "memory_high", svc->cgfd, "memory.high");
	add_u64(o, "memory_max", svc->cgfd, "memory.max");
	if (svc->cgfd >= 0 && cgfs_read_working_set(svc->cgfd, &ws) == 0)
		json_object_object_add(o, "working_set", json_object_new_uint64(ws));
	else
		json_object_object_add(o, "working_set", NULL);
	if (svc->cgfd >= 0)
		(void)cgfs_read_keyed(svc->cgfd, "memory.events", "oom_kill", &oom);
	json_object_object_add(o, "oom_kills", json_object_new_uint64(oom));
	if (svc->cgfd >= 0 && cgfs_read_psi(svc->cgfd, "memory.pressure", &psi) == 0) {
		json_object_object_add(o, "psi_some_avg10", json_object_new_double(psi.some.avg10));
		json_object_object_add(o, "psi_full_avg10", json_object_new_double(psi.full.avg10));
	}
}

static struct json_object *service_status(const struct service *svc, const struct control_config *cfg)
{
	struct json_object *o = json_object_new_object(), *e = json_object_new_object();
	char ts[40];

	json_object_object_add(o, "name", json_object_new_string(svc->policy->service));
	json_object_object_add(o, "state", json_object_new_string(service_state_to_string(svc->state)));
	json_object_object_add(o, "pid", json_object_new_int(svc->pid));
	json_object_object_add(o, "cgroup", json_object_new_string(svc->cgroup));
	/* Watched: guardian guards the cgroup, its owner runs it; the policy
	 * file that chose it. */
	json_object_object_add(o, "watched", json_object_new_boolean(svc->watched));
	json_object_object_add(o, "policy", svc->watched && svc->policy->path ? json_object_new_string(svc->policy->path) : NULL);
	json_object_object_add(o, "kubernetes", service_kube_json(svc));
	json_object_object_add(o, "restarts", json_object_new_int(svc->restarts));
	json_object_object_add(o, "uptime_ms",
			       json_object_new_int64(svc->state == SVC_RUNNING && svc->started_mono
							     ? (int64_t)((now_monotonic() - svc->started_mono) / 1000)
							     : 0));
	add_memory(o, svc);
	monitor_status_json(cfg->monitors, (struct service *)svc, o);
	json_object_object_add(o, "cgroup_events_watched", json_object_new_boolean(svc->events != NULL));
	if (svc->watch_error)
		json_object_object_add(o, "cgroup_events_error", json_object_new_string(strerror(svc->watch_error)));
	bpf_observers_service_json(cfg->bpf, svc->cgroup_id, o);
	json_object_object_add(e, "cause", json_object_new_string(exit_cause_to_string(svc->last_exit.cause)));
	json_object_object_add(e, "code", json_object_new_int(svc->last_exit.code));
	if (svc->last_exit.has_sender) {
		char who[128];

		signal_sender_describe(&svc->last_exit.sender, who, sizeof(who));
		json_object_object_add(e, "sender", json_object_new_string(who));
		json_object_object_add(e, "sender_pid", json_object_new_int(svc->last_exit.sender.pid));
		json_object_object_add(e, "sender_comm", json_object_new_string(svc->last_exit.sender.comm));
	}
	if (svc->last_exit.at) {
		format_rfc3339(svc->last_exit.at, ts, sizeof(ts));
		json_object_object_add(e, "time", json_object_new_string(ts));
	}
	json_object_object_add(o, "last_exit", e);
	return o;
}

/* Where pod names come from: the kubelet (and how it answers), or
 * null when none was given (names from the log directories). */
static struct json_object *kubelet_json(const struct kubelet *k)
{
	struct json_object *o;
	const char *err;
	bool ok;

	if (!k)
		return NULL;
	o = json_object_new_object();
	ok = kubelet_ok(k, &err);
	json_object_object_add(o, "url", json_object_new_string(kubelet_url(k)));
	json_object_object_add(o, "ok", json_object_new_boolean(ok));
	json_object_object_add(o, "pods", json_object_new_uint64(kubelet_pods(k)->n));
	json_object_object_add(o, "fetches", json_object_new_uint64(kubelet_fetches(k)));
	json_object_object_add(o, "error", ok ? NULL : json_object_new_string(err));
	json_object_object_add(o, "names_from", json_object_new_string(ok ? "kubelet" : "pod-logs"));
	return o;
}

struct json_object *control_status(struct supervisor *sup, const char *only,
				   const struct control_config *cfg)
{
	struct json_object *o = json_object_new_object(), *arr = json_object_new_array();

	json_object_object_add(o, "ok", json_object_new_boolean(1));
	json_object_object_add(o, "version", json_object_new_string(GUARDIAN_VERSION));
	json_object_object_add(o, "cgroup_parent", json_object_new_string(sup->parent));
	json_object_object_add(o, "dry_run", json_object_new_boolean(sup->cfg.dry_run));
	json_object_object_add(o, "bpf", json_object_new_string(cfg->bpf_status ? cfg->bpf_status : "off"));
	bpf_observers_status_json(cfg->bpf, o);
	json_object_object_add(o, "action_log", cfg->actions_path ? json_object_new_string(cfg->actions_path) : NULL);
	json_object_object_add(o, "action_log_lost", json_object_new_uint64(actionlog_lost(cfg->actions)));
	json_object_object_add(o, "action_log_journal_lost", json_object_new_uint64(actionlog_journal_lost(cfg->actions)));
	json_object_object_add(o, "log_journal_dropped", json_object_new_uint64(log_journal_dropped()));
	json_object_object_add(o, "kubelet", kubelet_json(sup->kubelet));
	for (size_t i = 0; i < sup->n_services; i++)
		if (!only || strcmp(only, sup->services[i]->policy->service) == 0)
			json_object_array_add(arr, service_status(sup->services[i], cfg));
	json_object_object_add(o, "services", arr);
	return o;
}

__attribute__((format(printf, 1, 2)))
static struct json_object *error_reply(const char *fmt, ...)
{
	va_list ap;
	struct json_object *o = json_object_new_object();
	char msg[512];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_object_object_add(o, "ok", json_object_new_boolean(0));
	json_object_object_add(o, "error", json_object_new_string(msg));
	return o;
}

/* A command either answers at once or returns NULL: answer when the
 * service settles (control_settled). */
typedef struct json_object *(*command_fn)(struct control *c, struct service *svc);

static struct json_object *cmd_start(struct control *c, struct service *svc)
{
	if (svc->state == SVC_GAVE_UP || svc->state == SVC_BACKOFF) {
		/* An explicit start clears gave-up and skips the backoff. */
		loop_source_freep(&svc->timer);
		svc->state = SVC_STOPPED;
	}
	svc->restarts = 0;
	svc->failures_in_row = 0;
	memset(svc->restart_times, 0, (svc->restart_ring_len + 1) * sizeof(usec_t));
	service_start(svc);
	return NULL;
}

static struct json_object *cmd_stop(struct control *c, struct service *svc)
{
	service_stop(svc);
	return NULL;
}

static struct json_object *cmd_restart(struct control *c, struct service *svc)
{
	if (svc->state == SVC_GAVE_UP)
		svc->state = SVC_STOPPED;
	service_restart(svc, EXIT_GUARDIAN, "guardctl restart", false);
	return NULL;
}

static struct json_object *cmd_reload(struct control *c, struct service *svc)
{
	if (!c->cfg.reload)
		return error_reply("reload is not available");
	return c->cfg.reload(c->cfg.reload_data);
}

/* What the mutating commands do (control-request.c knows their names). */
static const command_fn command_fns[_CONTROL_COMMAND_MAX] = {
	[CONTROL_START] = cmd_start,
	[CONTROL_STOP] = cmd_stop,
	[CONTROL_RESTART] = cmd_restart,
	[CONTROL_RELOAD] = cmd_reload,
};

/* The reply for a command whose service has settled. */
static struct json_object *settled_reply(struct control *c, const struct control_command *cmd,
					 struct service *svc)
{
	bool want_run = cmd->id != CONTROL_STOP;

	if (want_run && svc->state != SVC_RUNNING) {
		struct json_object *o = error_reply("%s did not start: now %s (last exit: %s %d)",
						    svc->policy->service, service_state_to_string(svc->state),
						    exit_cause_to_string(svc->last_exit.cause),
						    svc->last_exit.code);
		struct json_object *st = control_status(c->sup, svc->policy->service, &c->cfg);

		json_object_object_add(o, "services", json_object_get(json_object_object_get(st, "services")));
		json_object_put(st);
		return o;
	}
	return control_status(c->sup, svc->policy->service, &c->cfg);
}

static void conn_free(struct conn *k)
{
	struct control *c = k->c;

	if (k->prev)
		k->prev->next = k->next;
	else
		c->conns = k->next;
	if (k->next)
		k->next->prev = k->prev;
	c->n_conns--;
	loop_source_freep(&k->src);
	loop_source_freep(&k->timer);
	close(k->fd);
	control_line_free(&k->line);
	free(k->out);
	free(k);
}

static int on_conn_io(struct loop_source *src, int fd, uint32_t revents, void *data);

static int on_conn_timeout(struct loop_source *src, int fd, uint32_t revents, void *data)
{
	struct conn *k = data;

	log_debug("control: dropping a client (uid %u) that did not %s in time", (unsigned)k->who.uid,
		  k->out ? "take its answer" : "send its request");
	conn_free(k);
	return 0;
}

/* Writes what the client takes now; true once all of it is gone (or the
 * client is: then there is nobody to answer). */
static bool conn_flush(struct conn *k)
{
	while (k->out_off < k->out_len) {
		ssize_t n = send(k->fd, k->out + k->out_off, k->out_len - k->out_off, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno != EAGAIN;
		k->out_off += (size_t)n;
	}
	return true;
}

/* The answer (taken): sent as the client reads it, then the connection
 * closes. */
static void conn_reply(struct conn *k, struct json_object *reply)
{
	const char *text = json_object_to_json_string_ext(reply, JSON_C_TO_STRING_PLAIN);

	k->queued = false;
	free(k->out);
	k->out = NULL;
	if (asprintf(&k->out, "%s\n", text) < 0) {
		k->out = NULL;
		json_object_put(reply);
		conn_free(k);
		return;
	}
	json_object_put(reply);
	k->out_len = strlen(k->out);
	k->out_off = 0;
	if (conn_flush(k)) {
		conn_free(k);
		return;
	}
	if ((k->src ? loop_fd_set_events(k->src, EPOLLOUT)
		    : loop_add_fd(k->c->loop, k->fd, EPOLLOUT, false, on_conn_io, k, &k->src)) < 0 ||
	    (k->timer ? loop_timer_rearm(k->timer, REPLY_DEADLINE)
		      : loop_add_timer(k->c->loop, REPLY_DEADLINE, on_conn_timeout, k, &k->timer)) < 0)
		conn_free(k);
}

/* Checks who may run what and finds the service; NULL when allowed. */
static struct json_object *admit(struct control *c, const struct caller *who,
				 const struct control_command *cmd, const char *name, struct service **ret_svc)
{
	*ret_svc = NULL;
	if ((cmd->mutating || !c->cfg.allow_read) && !who->admin)
		return error_reply("permission denied: '%s' needs root or the admin group (uid %u)",
				   cmd->name, (unsigned)who->uid);
	if (name && !(*ret_svc = supervisor_find(c->sup, name)))
		return error_reply("no such service: %s", name);
	if (cmd->needs_service && !*ret_svc)
		return error_reply("'%s' needs a service name", cmd->name);
	if (cmd->mutating && *ret_svc && (*ret_svc)->watched)
		return error_reply("%s is a watched cgroup: its owner (systemd, the kubelet) starts, stops and "
				   "restarts it; guardian only guards it", name);
	return NULL;
}

static void pending_done(struct control *c, struct json_object *reply)
{
	struct pending *p = c->head;

	conn_reply(p->conn, reply);
	c->head = p->next;
	if (!c->head)
		c->tail = NULL;
	loop_source_freep(&c->deadline);
	free(p->name);
	free(p);
}

static int on_deadline(struct loop_source *src, int fd, uint32_t revents, void *data);

/* Runs queued commands in order until one has to wait for its service. */
static void process_queue(struct control *c)
{
	while (c->head) {
		struct pending *p = c->head;
		struct json_object *reply;

		if (!p->waiting) {
			if (p->name && !(p->svc = supervisor_find(c->sup, p->name))) {
				pending_done(c, error_reply("no such service: %s", p->name));
				continue;
			}
			reply = command_fns[p->cmd->id](c, p->svc);
			if (reply) {
				pending_done(c, reply);
				continue;
			}
			if (!p->svc) { /* a command without a service answers at once */
				pending_done(c, error_reply("'%s' gave no answer", p->cmd->name));
				continue;
			}
			p->waiting = true;
			if (loop_add_timer(c->loop, p->svc->policy->stop.timeout + SETTLE_SLACK_USEC,
					   on_deadline, c, &c->deadline) < 0)
				log_warning("control: cannot arm the command deadline");
		}
		if (!service_state_settled(p->svc->state))
			return;
		pending_done(c, settled_reply(c, p->cmd, p->svc));
	}
}

static int on_deadline(struct loop_source *src, int fd, uint32_t revents, void *data)
{
	struct control *c = data;
	struct service *svc = c->head->svc;

	loop_source_freep(&c->deadline);
	pending_done(c, error_reply("timed out waiting for %s (still %s)", svc->policy->service,
				    service_state_to_string(svc->state)));
	process_queue(c);
	return 0;
}

static int on_kick(struct loop_source *src, int fd, uint32_t revents, void *data)
{
	struct control *c = data;

	loop_source_freep(&c->kick);
	process_queue(c);
	return 0;
}

/* The supervisor calls this inside a service's state machine: only note
 * that the queue should be looked at, from the loop, once it returns. */
static void on_service_changed(void *data, struct service *svc)
{
	struct control *c = data;

	if (c->head && c->head->waiting && c->head->svc == svc && !c->kick)
		(void)loop_add_timer(c->loop, 0, on_kick, c, &c->kick);
}

/* The service is about to be freed (its policy was removed and it has
 * stopped): answer a command waiting on it now, while it still exists. */
static void on_service_removed(void *data, struct service *svc)
{
	struct control *c = data;

	if (!c->head || c->head->svc != svc)
		return;
	if (c->head->waiting)
		pending_done(c, settled_reply(c, c->head->cmd, svc));
	else
		c->head->svc = NULL; /* looked up again by name when it runs */
	if (c->head && !c->kick)
		(void)loop_add_timer(c->loop, 0, on_kick, c, &c->kick);
}

static const struct service_hooks control_hooks = { .changed = on_service_changed, .removed = on_service_removed };

static void enqueue(struct control *c, struct conn *k, const struct control_command *cmd,
		    struct service *svc)
{
	struct pending *p = calloc(1, sizeof(*p));

	if (!p || (svc && !(p->name = strdup(svc->policy->service)))) {
		free(p);
		conn_reply(k, error_reply("out of memory"));
		return;
	}
	/* The command's own deadline governs from here, not the request's. */
	k->queued = true;
	loop_source_freep(&k->timer);
	p->conn = k;
	p->cmd = cmd;
	p->svc = svc;
	if (c->tail)
		c->tail->next = p;
	else
		c->head = p;
	c->tail = p;
	if (c->head == p)
		process_queue(c);
}

/* Read-only commands answer at once; the others join the queue, which
 * then owns the connection. */
static void handle(struct control *c, struct conn *k, const char *line)
{
	struct control_request req;
	struct json_object *reply = NULL;
	struct service *svc = NULL;
	char err[512];
	int r;

	r = control_request_parse(line, &req, err, sizeof(err));
	if (r == -ENOMEM)
		reply = error_reply("out of memory");
	else if (r < 0)
		reply = error_reply("%s", err);
	else
		reply = admit(c, &k->who, req.cmd, req.service, &svc);
	if (!reply && req.cmd->mutating) {
		enqueue(c, k, req.cmd, svc);
		control_request_free(&req);
		return;
	}
	if (!reply && req.cmd->id == CONTROL_EXPLAIN)
		reply = monitor_explain(c->cfg.monitors, svc);
	else if (!reply)
		reply = control_status(c->sup, req.service, &c->cfg);
	control_request_free(&req);
	conn_reply(k, reply);
}

/* Reads what the client has sent so far; a whole line (or the client's
 * end of the stream) is the request, and nothing after its newline. */
static void conn_read(struct conn *k)
{
	char chunk[4096];
	bool done = false;

	for (;;) {
		ssize_t n = recv(k->fd, chunk, sizeof(chunk), MSG_DONTWAIT);
		int r;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) { /* the client closed its end, or failed */
			if (n < 0 || k->line.len == 0) {
				conn_free(k);
				return;
			}
			done = true;
			break;
		}
		r = control_line_add(&k->line, chunk, (size_t)n);
		if (r == -E2BIG) {
			conn_reply(k, error_reply("request longer than %d bytes", CONTROL_REQUEST_MAX));
			return;
		}
		if (r < 0) {
			conn_free(k);
			return;
		}
		if (r > 0) {
			done = true;
			break;
		}
	}
	if (!done)
		return;
	/* Nothing more is read from it; it waits for its answer. */
	if (loop_fd_set_events(k->src, 0) < 0) {
		conn_free(k);
		return;
	}
	handle(k->c, k, k->line.buf);
}

static int on_conn_io(struct loop_source *src, int fd, uint32_t revents, void *data)
{
	struct conn *k = data;

	if (k->out) {
		if (conn_flush(k))
			conn_free(k);
		return 0;
	}
	if (k->queued) {
		/* Waiting for its command: a client that hung up meanwhile is
		 * only out of the epoll set, so it does not spin the loop. */
		if (revents & (EPOLLHUP | EPOLLERR))
			loop_source_freep(&k->src);
		return 0;
	}
	conn_read(k);
	return 0;
}

static int on_client(struct loop_source *src, int fd, uint32_t revents, void *data);

static int on_resume(struct loop_source *src, int fd, uint32_t revents, void *data)
{
	struct control *c = data;

	loop_source_freep(&c->resume);
	return loop_add_fd(c->loop, c->fd, EPOLLIN, false, on_client, c, &c->src);
}

static size_t conns_of(const struct control *c, uid_t uid)
{
	size_t n = 0;

	for (const struct conn *k = c->conns; k; k = k->next)
		n += k->who.uid == uid;
	return n;
}

static int on_client(struct loop_source *src, int fd, uint32_t revents, void *data)
{
	struct control *c = data;
	int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	struct caller who;
	struct conn *k;

	if (cfd < 0 && (errno == EMFILE || errno == ENFILE)) {
		/* The connection stays queued, so the socket stays readable:
		 * stop listening for a moment instead of spinning on it. */
		log_warning("control: out of file descriptors; not accepting connections for 1s");
		loop_source_freep(&c->src);
		(void)loop_add_timer(c->loop, ACCEPT_PAUSE, on_resume, c, &c->resume);
		return 0;
	}
	if (cfd < 0)
		return errno == EAGAIN ? 0 : -errno;
	identify(c, cfd, &who);
	if (who.uid != 0 && (c->n_conns >= CONNS_MAX || conns_of(c, who.uid) >= CONNS_PER_UID)) {
		static const char busy[] = "{\"ok\":false,\"error\":\"too many connections\"}\n";

		(void)!send(cfd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		close(cfd);
		return 0;
	}
	k = calloc(1, sizeof(*k));
	if (!k) {
		close(cfd);
		return -ENOMEM;
	}
	*k = (struct conn){ .c = c, .fd = cfd, .who = who, .next = c->conns };
	if (c->conns)
		c->conns->prev = k;
	c->conns = k;
	c->n_conns++;
	if (loop_add_fd(c->loop, cfd, EPOLLIN, false, on_conn_io, k, &k->src) < 0 ||
	    loop_add_timer(c->loop, REQUEST_DEADLINE, on_conn_timeout, k, &k->timer) < 0) {
		conn_free(k);
		return -ENOMEM;
	}
	return 0;
}

int control_new(struct loop *loop, struct supervisor *sup, const struct control_config *cfg,
		struct control **ret)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	_cleanup_close_ int fd = -1;
	struct control *c;
	int r;

	if (strlen(cfg->socket_path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, cfg->socket_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	(void)unlink(cfg->socket_path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 64) < 0)
		return -errno;
	/* Everyone may connect; what each caller may do is checked per request. */
	if (chmod(cfg->socket_path, 0666) < 0)
		return -errno;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	*c = (struct control){ .loop = loop, .sup = sup, .cfg = *cfg, .fd = -1 };
	r = supervisor_subscribe(sup, &control_hooks, c);
	if (r < 0) {
		free(c);
		return r;
	}
	r = loop_add_fd(loop, fd, EPOLLIN, false, on_client, c, &c->src);
	if (r < 0) {
		supervisor_unsubscribe(sup, &control_hooks, c);
		free(c);
		return r;
	}
	c->fd = TAKE_FD(fd);
	*ret = c;
	return 0;
}

void control_free(struct control *c)
{
	if (!c)
		return;
	loop_source_freep(&c->src);
	loop_source_freep(&c->resume);
	if (c->fd >= 0)
		close(c->fd);
	loop_source_freep(&c->kick);
	loop_source_freep(&c->deadline);
	while (c->head) {
		struct pending *p = c->head;

		c->head = p->next;
		free(p->name);
		free(p);
	}
	while (c->conns)
		conn_free(c->conns);
	supervisor_unsubscribe(c->sup, &control_hooks, c);
	if (c->cfg.socket_path)
		(void)unlink(c->cfg.socket_path);
	free(c);
}
