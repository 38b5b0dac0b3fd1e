/* metrics.c: /metrics over HTTP: libmicrohttpd driven from guardian's own
 * loop (its epoll fd in the loop, MHD_run on readiness and on its timeout),
 * the figures of each scrape gathered from the monitor, the supervisor, the
 * BPF observers and the action log, whose records are counted here. */
#include "metrics.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>

#include "log.h"

/* Nothing a client does may stall the loop: MHD only ever reads and
 * writes what the socket takes now. What a slow or stuck client can hold:
 *
 * - A request line and headers must arrive, and the whole answer be
 *   taken, within METRICS_REQUEST_DEADLINE of connecting (or of the
 *   previous answer on a kept-alive connection); then its socket is shut
 *   down.
 * - A connection idle for IDLE_TIMEOUT seconds is closed by MHD.
 * - CONNS_MAX connections at once, CONNS_PER_IP from one address (two
 *   Prometheus servers of an HA pair, an agent and a curl fit); MHD refuses
 *   the rest at accept.
 * - CONN_MEMORY bytes of request per connection (MHD's memory pool); a
 *   scrape is a short GET. */
#define IDLE_TIMEOUT 10
#define CONNS_MAX 16
#define CONNS_PER_IP 8
#define CONN_MEMORY (32u << 10)
/* sender_comm values per service, past which they count as "other": a
 * label must stay low in cardinality whoever sends the signals. */
#define SIGNAL_SERIES_MAX 16

#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* One service's counters from the action log, kept by name. */
struct tally {
	char *service;
	struct metrics_action_count *actions;
	size_t n_actions;
	struct metrics_signal_count *signals;
	size_t n_signals;
};

struct conn {
	struct metrics *m;
	int fd;
	struct loop_source *deadline;
};

struct metrics {
	struct loop *loop;
	struct metrics_config cfg;
	struct MHD_Daemon *d;
	struct loop_source *src;   /* MHD's epoll fd */
	struct loop_source *timer; /* MHD_get_timeout's */
	struct tally *t;           /* sorted by service */
	size_t n_t;
	char address[INET6_ADDRSTRLEN + 16];
};

/* --- counting the action log's records ------------------------------------ */

static const char *rec_str(struct json_object *rec, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(rec, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static size_t tally_slot(const struct metrics *m, const char *service)
{
	size_t lo = 0, hi = m->n_t;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(m->t[mid].service, service) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct tally *tally_find(const struct metrics *m, const char *service)
{
	size_t i = tally_slot(m, service);

	return i < m->n_t && strcmp(m->t[i].service, service) == 0 ? &m->t[i] : NULL;
}

static struct tally *tally_get(struct metrics *m, const char *service)
{
	struct tally *t = tally_find(m, service), *v;
	size_t at;

	if (t)
		return t;
	v = realloc(m->t, (m->n_t + 1) * sizeof(*v));
	if (!v)
		return NULL;
	m->t = v;
	at = tally_slot(m, service);
	memmove(m->t + at + 1, m->t + at, (m->n_t - at) * sizeof(*m->t));
	m->t[at] = (struct tally){ .service = strdup(service) };
	if (!m->t[at].service) {
		memmove(m->t + at, m->t + at + 1, (m->n_t - at) * sizeof(*m->t));
		return NULL;
	}
	m->n_t++;
	return &m->t[at];
}

static void tally_free(struct tally *t)
{
	for (size_t i = 0; i < t->n_actions; i++) {
		free((char *)t->actions[i].source);
		free((char *)t->actions[i].action);
		free((char *)t->actions[i].rule);
	}
	for (size_t i = 0; i < t->n_signals; i++) {
		free((char *)t->signals[i].signal);
		free((char *)t->signals[i].sender_comm);
	}
	free(t->actions);
	free(t->signals);
	free(t->service);
}

static void count_action(struct tally *t, const char *source, const char *action, const char *rule)
{
	struct metrics_action_count *v, *c;

	for (size_t i = 0; i < t->n_actions; i++) {
		c = &t->actions[i];
		if (strcmp(c->source, source) == 0 && strcmp(c->action, action) == 0 && strcmp(c->rule, rule) == 0) {
			c->n++;
			return;
		}
	}
	v = realloc(t->actions, (t->n_actions + 1) * sizeof(*v));
	if (!v)
		return;
	t->actions = v;
	c = &v[t->n_actions];
	*c = (struct metrics_action_count){ .source = strdup(source), .action = strdup(action),
					    .rule = strdup(rule), .n = 1 };
	if (!c->source || !c->action || !c->rule) {
		free((char *)c->source);
		free((char *)c->action);
		free((char *)c->rule);
		return;
	}
	t->n_actions++;
}

static void count_signal(struct tally *t, const char *signal, const char *comm)
{
	struct metrics_signal_count *v, *c;

	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < t->n_signals; i++) {
			c = &t->signals[i];
			if (strcmp(c->signal, signal) == 0 && strcmp(c->sender_comm, comm) == 0) {
				c->n++;
				return;
			}
		}
		if (t->n_signals < SIGNAL_SERIES_MAX)
			break;
		comm = "other";
	}
	v = realloc(t->signals, (t->n_signals + 1) * sizeof(*v));
	if (!v)
		return;
	t->signals = v;
	c = &v[t->n_signals];
	*c = (struct metrics_signal_count){ .signal = strdup(signal), .sender_comm = strdup(comm), .n = 1 };
	if (!c->signal || !c->sender_comm) {
		free((char *)c->signal);
		free((char *)c->sender_comm);
		return;
	}
	t->n_signals++;
}

/* A record is an action when something was done or seen: not a follow-up,
 * not a decision held back (dry run, rate limit, protected, no victim). */
static bool acted(struct json_object *rec, const char *action)
{
	const char *verdict = rec_str(rec, "verdict"), *decision = rec_str(rec, "decision");

	if (strcmp(action, "follow-up") == 0 || strcmp(action, "none") == 0)
		return false;
	if (verdict && strcmp(verdict, "act") != 0)
		return false;
	return !decision || strcmp(decision, "act") == 0 || strcmp(decision, "escalate") == 0;
}

static void on_record(void *data, struct json_object *rec)
{
	struct metrics *m = data;
	const char *service = rec_str(rec, "service"), *source = rec_str(rec, "source");
	const char *action = rec_str(rec, "action"), *rule, *guard;
	struct tally *t;

	/* Kills outside guardian's services are in the machine-wide count. */
	if (!service || !source || !action || !acted(rec, action))
		return;
	t = tally_get(m, service);
	if (!t)
		return;
	rule = rec_str(rec, "rule");
	guard = rec_str(rec, "guard");
	if (!rule)
		rule = guard && strcmp(guard, "system") == 0 ? "system guard" : "";
	count_action(t, source, action, rule);
	if (strcmp(source, "signal") == 0)
		count_signal(t, rec_str(rec, "signal") ?: "?", rec_str(rec, "sender_comm") ?: "?");
}

/* A service that is gone takes its counters with it: on a node, pod
 * containers come and go. */
static void on_service_removed(void *data, struct service *svc)
{
	struct metrics *m = data;
	struct tally *t = tally_find(m, svc->policy->service);
	size_t i;

	if (!t)
		return;
	i = (size_t)(t - m->t);
	tally_free(t);
	memmove(m->t + i, m->t + i + 1, (m->n_t - i - 1) * sizeof(*m->t));
	m->n_t--;
}

static const struct service_hooks metrics_hooks = { .removed = on_service_removed };

/* --- a scrape ---------------------------------------------------------------- */

static void gather_service(struct metrics *m, struct service *svc, struct metrics_service *out)
{
	const struct tally *t = tally_find(m, svc->policy->service);
	struct monitor_figures fig;
	struct cgfs_psi psi;

	*out = (struct metrics_service){ .name = svc->policy->service,
					 .state = service_state_to_string(svc->state),
					 .restarts = svc->restarts,
					 .kernel_oom_kills = bpf_observers_oom_kills(m->cfg.bpf, svc->cgroup_id) };
	if (svc->kube) {
		out->namespace_ = svc->kube->namespace_;
		out->pod = svc->kube->pod;
		out->container = svc->kube->container;
	}
	if (monitor_figures(m->cfg.monitors, svc, &fig) == 0) {
		out->has_memory = true;
		out->working_set = fig.working_set;
		out->memory_max = fig.memory_max;
		out->memory_high = fig.memory_high;
		out->has_growth = fig.has_growth;
		out->growth_bps = fig.growth_bps;
		out->has_time_to_max = fig.has_time_to_max;
		out->time_to_max_sec = (double)fig.time_to_max / USEC_PER_SEC;
	}
	/* The one figure the monitor does not keep: the stall totals, read
	 * at the scrape (one small read) so the counter is current. */
	if (svc->cgfd >= 0 && cgfs_read_psi(svc->cgfd, "memory.pressure", &psi) == 0) {
		out->has_pressure = true;
		out->has_pressure_full = psi.has_full;
		out->pressure_some_usec = psi.some.total;
		out->pressure_full_usec = psi.full.total;
	}
	if (t) {
		out->actions = t->actions;
		out->n_actions = t->n_actions;
		out->signals = t->signals;
		out->n_signals = t->n_signals;
	}
}

static int render(struct metrics *m, char **ret, size_t *ret_len)
{
	struct supervisor *sup = m->cfg.sup;
	const struct monitor_latency *lat = monitor_latency(m->cfg.monitors);
	struct metrics_bpf_program bpf[8];
	_cleanup_free_ struct metrics_service *svcs = calloc(sup->n_services + 1, sizeof(*svcs));
	struct metrics_snapshot snap = {
		.version = GUARDIAN_VERSION,
		.action_log_lost = actionlog_lost(m->cfg.actions),
		.system_kernel_oom_kills = bpf_observers_oom_kills_all(m->cfg.bpf),
		.bpf = bpf,
		.decision_latency = { .bounds = monitor_latency_bounds, .n_bounds = MONITOR_LATENCY_BOUNDS,
				      .counts = lat->counts, .sum = lat->sum },
		.services = svcs,
	};

	if (!svcs)
		return -ENOMEM;
	while (snap.n_bpf < ARRAY_SIZE(bpf) &&
	       bpf_observers_program(m->cfg.bpf, snap.n_bpf, &bpf[snap.n_bpf].name, &bpf[snap.n_bpf].loaded))
		snap.n_bpf++;
	for (size_t i = 0; i < sup->n_services; i++)
		if (!sup->services[i]->removed)
			gather_service(m, sup->services[i], &svcs[snap.n_services++]);
	return metrics_text(&snap, ret, ret_len);
}

/* --- HTTP on the loop ---------------------------------------------------------- */

static enum MHD_Result respond(struct MHD_Connection *c, unsigned status, const char *type, char *body,
			       size_t len, const char *allow)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	enum MHD_Result q;

	if (!r) {
		free(body);
		return MHD_NO;
	}
	(void)MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (allow)
		(void)MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
	q = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return q;
}

static enum MHD_Result respond_text(struct MHD_Connection *c, unsigned status, const char *text, const char *allow)
{
	char *body = strdup(text);

	return body ? respond(c, status, "text/plain; charset=utf-8", body, strlen(body), allow) : MHD_NO;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
				  const char *version, const char *upload_data, size_t *upload_data_size,
				  void **req_cls)
{
	struct metrics *m = cls;
	char *body = NULL;
	size_t len = 0;
	int r;

	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return respond_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD\n", "GET, HEAD");
	if (strcmp(url, "/metrics") != 0)
		return respond_text(c, MHD_HTTP_NOT_FOUND, "guardian serves /metrics\n", NULL);
	r = render(m, &body, &len);
	if (r < 0) {
		log_warning_errno(r, "metrics: cannot build the exposition");
		return respond_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n", NULL);
	}
	return respond(c, MHD_HTTP_OK, CONTENT_TYPE, body, len, NULL);
}

static void rearm(struct metrics *m);

static int on_mhd(struct loop_source *src, int fd, uint32_t revents, void *data)
{
	struct metrics *m = data;

	(void)MHD_run(m->d);
	rearm(m);
	return 0;
}

/* MHD must run again within its timeout even when no fd moved (idle
 * connections to close, data already buffered). */
static void rearm(struct metrics *m)
{
	MHD_UNSIGNED_LONG_LONG ms;
	int r;

	if (MHD_get_timeout(m->d, &ms) != MHD_YES) {
		loop_source_freep(&m->timer);
		return;
	}
	r = m->timer ? loop_timer_rearm(m->timer, (usec_t)ms * USEC_PER_MSEC)
		     : loop_add_timer(m->loop, (usec_t)ms * USEC_PER_MSEC, on_mhd, m, &m->timer);
	if (r < 0)
		log_warning_errno(r, "metrics: cannot arm the server's timer");
}

/* The client took too long: its socket is shut down, so MHD sees the end
 * of it at its next run and closes the connection. */
static int on_deadline(struct loop_source *src, int fd, uint32_t revents, void *data)
{
	struct conn *k = data;
	struct metrics *m = k->m;

	log_debug("metrics: dropping a client that did not finish its request in %.1fs",
		  (double)m->cfg.request_deadline / USEC_PER_SEC);
	(void)shutdown(k->fd, SHUT_RDWR);
	/* The shutdown wakes MHD's epoll too; running it at once is sooner. */
	if ((m->timer ? loop_timer_rearm(m->timer, 0) : loop_add_timer(m->loop, 0, on_mhd, m, &m->timer)) < 0)
		log_warning("metrics: cannot arm the server's timer");
	return 0;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	struct metrics *m = cls;
	struct conn *k = *socket_context;
	const union MHD_ConnectionInfo *info;

	if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
		if (k)
			loop_source_freep(&k->deadline);
		free(k);
		*socket_context = NULL;
		return;
	}
	info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	k = calloc(1, sizeof(*k));
	if (!k || !info) {
		free(k);
		return;
	}
	*k = (struct conn){ .m = m, .fd = info->connect_fd };
	if (loop_add_timer(m->loop, m->cfg.request_deadline, on_deadline, k, &k->deadline) < 0) {
		/* No deadline for it: the idle timeout and the limits still hold. */
		free(k);
		return;
	}
	*socket_context = k;
}

/* An answer went out: a kept-alive connection's next request has its own
 * deadline. */
static void on_completed(void *cls, struct MHD_Connection *c, void **req_cls, enum MHD_RequestTerminationCode code)
{
	const union MHD_ConnectionInfo *info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct conn *k = info ? info->socket_context : NULL;

	if (k && k->deadline)
		(void)loop_timer_rearm(k->deadline, k->m->cfg.request_deadline);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[256];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	log_debug("metrics: %s", msg);
}

/* --- setup ---------------------------------------------------------------------- */

int metrics_parse_listen(const char *arg, struct sockaddr_storage *ret, socklen_t *ret_len)
{
	const char *colon = strrchr(arg, ':');
	char host[INET6_ADDRSTRLEN + 2];
	uint64_t port;
	size_t hlen;

	if (!colon || colon == arg || parse_u64(colon + 1, &port) < 0 || port > 65535)
		return -EINVAL;
	hlen = (size_t)(colon - arg);
	if (hlen >= sizeof(host))
		return -EINVAL;
	memcpy(host, arg, hlen);
	host[hlen] = '\0';
	memset(ret, 0, sizeof(*ret));
	if (host[0] == '[') {
		struct sockaddr_in6 *sa = (struct sockaddr_in6 *)ret;

		if (hlen < 3 || host[hlen - 1] != ']')
			return -EINVAL;
		host[hlen - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, &sa->sin6_addr) != 1)
			return -EINVAL;
		sa->sin6_family = AF_INET6;
		sa->sin6_port = htons((uint16_t)port);
		*ret_len = sizeof(*sa);
	} else {
		struct sockaddr_in *sa = (struct sockaddr_in *)ret;

		if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
			return -EINVAL;
		sa->sin_family = AF_INET;
		sa->sin_port = htons((uint16_t)port);
		*ret_len = sizeof(*sa);
	}
	return 0;
}

static void format_address(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sa = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &sa->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, ntohs(sa->sin6_port));
	} else {
		const struct sockaddr_in *sa = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &sa->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(sa->sin_port));
	}
}

static int listen_on(const struct metrics_config *cfg, char *address, size_t len)
{
	_cleanup_close_ int fd = socket(cfg->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	struct sockaddr_storage bound;
	socklen_t blen = sizeof(bound);
	int one = 1;

	if (fd < 0)
		return -errno;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* [::] means IPv6 only here; 0.0.0.0 is IPv4's. */
	if (cfg->addr.ss_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&cfg->addr, cfg->addr_len) < 0 || listen(fd, 64) < 0)
		return -errno;
	if (getsockname(fd, (struct sockaddr *)&bound, &blen) == 0)
		format_address(&bound, address, len);
	return TAKE_FD(fd);
}

int metrics_new(struct loop *loop, const struct metrics_config *cfg, struct metrics **ret)
{
	const union MHD_DaemonInfo *info;
	struct metrics *m = calloc(1, sizeof(*m));
	int fd, r;

	if (!m)
		return -ENOMEM;
	*m = (struct metrics){ .loop = loop, .cfg = *cfg };
	if (!m->cfg.request_deadline)
		m->cfg.request_deadline = METRICS_REQUEST_DEADLINE;
	format_address(&cfg->addr, m->address, sizeof(m->address));
	fd = listen_on(cfg, m->address, sizeof(m->address));
	if (fd < 0) {
		free(m);
		return fd;
	}
	/* External polling, no thread of MHD's own: every callback runs inside
	 * MHD_run, called from this loop only. */
	m->d = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request, m,
				MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, m,
				MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)IDLE_TIMEOUT,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONNS_MAX,
				MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)CONNS_PER_IP,
				MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONN_MEMORY,
				MHD_OPTION_NOTIFY_CONNECTION, on_connection, m,
				MHD_OPTION_NOTIFY_COMPLETED, on_completed, m,
				MHD_OPTION_SIGPIPE_HANDLED_BY_APP, (int)1,
				MHD_OPTION_END);
	if (!m->d) {
		close(fd);
		free(m);
		return -EIO;
	}
	info = MHD_get_daemon_info(m->d, MHD_DAEMON_INFO_EPOLL_FD);
	r = info ? loop_add_fd(loop, info->epoll_fd, EPOLLIN, false, on_mhd, m, &m->src) : -EIO;
	r = r ?: supervisor_subscribe(cfg->sup, &metrics_hooks, m);
	if (r < 0) {
		loop_source_freep(&m->src);
		MHD_stop_daemon(m->d);
		free(m);
		return r;
	}
	if (cfg->actions)
		(void)actionlog_add_observer(cfg->actions, on_record, m);
	rearm(m);
	*ret = m;
	return 0;
}

void metrics_free(struct metrics *m)
{
	if (!m)
		return;
	if (m->cfg.actions)
		actionlog_remove_observer(m->cfg.actions, on_record, m);
	supervisor_unsubscribe(m->cfg.sup, &metrics_hooks, m);
	loop_source_freep(&m->src);
	loop_source_freep(&m->timer);
	MHD_stop_daemon(m->d); /* closes the connections (their deadlines go) and the listening socket */
	for (size_t i = 0; i < m->n_t; i++)
		tally_free(&m->t[i]);
	free(m->t);
	free(m);
}

const char *metrics_address(const struct metrics *m)
{
	return m->address;
}
