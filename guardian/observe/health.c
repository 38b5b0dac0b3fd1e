/* health.c: a service's health checks (HTTP, TCP connect, exec) as runs on
 * loop timers, each with a deadline, counted into consecutive failures. */
#include "health-internal.h"

#include <ctype.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "log.h"
#include "spawn.h"

/* A health page is a few hundred bytes; 64 KiB holds any sane status page
 * whole, and bounds what a service that streams without end can make
 * guardian buffer for one check. Past it the response is judged as read. */
#define HTTP_RESPONSE_MAX (64 * 1024)

enum run_phase { PHASE_IDLE, PHASE_CONNECT, PHASE_SEND, PHASE_RECV, PHASE_EXEC };

struct check_state {
	struct health_runner *h;
	const struct health_check *check;
	unsigned index;
	struct loop_source *tick; /* periodic, every `every` */
	struct loop_source *kick; /* one-shot, health_run_now */
	/* The run in flight. */
	enum run_phase phase;
	struct loop_source *deadline;
	struct loop_source *io;
	int fd;        /* socket, or the exec child's pidfd */
	pid_t pid;     /* exec child not yet reaped, else 0 */
	int exec_pipe; /* spawn's failure report */
	char *request, *response;
	size_t request_len, sent, len;
	/* Results. */
	unsigned consecutive;
	unsigned long runs;
	bool failed_last;
	char last_error[REASON_MAX];
};

struct health_runner {
	struct loop *loop;
	const struct policy *policy;
	const struct health_targets *targets; /* HTTP and TCP addresses */
	int cgroup_fd; /* our own dup, -1 for guardian's cgroup */
	health_failed_cb cb;
	void *data;
	size_t n;
	struct check_state checks[];
};

static int run_start(struct check_state *c);

/* ---- text ---- */

static void host_port(const struct health_check *hc, char *buf, size_t len)
{
	const char *host = hc->host ? hc->host : "127.0.0.1";

	snprintf(buf, len, strchr(host, ':') ? "[%s]:%u" : "%s:%u", host, hc->port);
}

static void http_target(const struct health_check *hc, char *buf, size_t len)
{
	char hp[300];

	if (hc->url) {
		snprintf(buf, len, "%s", hc->url);
		return;
	}
	host_port(hc, hp, sizeof(hp));
	snprintf(buf, len, "http://%s%s", hp, hc->path ? hc->path : "/");
}

/* "2s" for whole seconds, as policies write them; "200ms" otherwise. */
static void format_timeout(usec_t t, char *buf, size_t len)
{
	if (t % USEC_PER_SEC == 0)
		snprintf(buf, len, "%llus", (unsigned long long)(t / USEC_PER_SEC));
	else if (t % USEC_PER_MSEC == 0)
		snprintf(buf, len, "%llums", (unsigned long long)(t / USEC_PER_MSEC));
	else
		snprintf(buf, len, "%lluus", (unsigned long long)t);
}

static bool reason_fmt(char *buf, size_t len, const char **ret, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static bool reason_fmt(char *buf, size_t len, const char **ret, const char *fmt, ...)
{
	va_list ap;

	if (!buf || len == 0) {
		*ret = "HTTP response does not satisfy the check";
		return false;
	}
	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	*ret = buf;
	return false;
}

/* ---- the HTTP response, pure ---- */

/* "HTTP/1.1 200 OK": version, one space, three digits, then a space or
 * the line's end. */
static int parse_status_line(const char *s, size_t len, int *ret_status)
{
	if (len < 12 || memcmp(s, "HTTP/", 5) != 0 || !isdigit((unsigned char)s[5]) || s[6] != '.' ||
	    !isdigit((unsigned char)s[7]) || s[8] != ' ')
		return -EBADMSG;
	for (size_t i = 9; i < 12; i++)
		if (!isdigit((unsigned char)s[i]))
			return -EBADMSG;
	if (len > 12 && s[12] != ' ' && s[12] != '\r' && s[12] != '\n')
		return -EBADMSG;
	*ret_status = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
	return 0;
}

/* The body starts after the first empty line. Lines end in CRLF, or in a
 * bare LF from lax servers. NULL when the headers never end. */
static const char *find_body(const char *s, size_t len)
{
	const char *p = s, *end = s + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		if (!nl)
			return NULL;
		p = nl + 1;
		if (p < end && p[0] == '\n')
			return p + 1;
		if (p + 1 < end && p[0] == '\r' && p[1] == '\n')
			return p + 2;
	}
	return NULL;
}

bool health_http_response_ok(const struct health_check *check, const char *response, size_t len,
			     char *buf, size_t buflen, const char **ret_reason)
{
	char target[REASON_MAX];
	const char *body;
	int status;

	http_target(check, target, sizeof(target));
	if (parse_status_line(response, len, &status) < 0)
		return reason_fmt(buf, buflen, ret_reason, "GET %s: not an HTTP response", target);
	if (status != check->status)
		return reason_fmt(buf, buflen, ret_reason, "GET %s: status %d, expected %d", target,
				  status, check->status);
	body = find_body(response, len);
	if (!body)
		return reason_fmt(buf, buflen, ret_reason, "GET %s: response headers do not end",
				  target);
	/* memmem, not strstr: the body may hold NUL bytes and is not terminated. */
	if (check->contains && !memmem(body, len - (size_t)(body - response), check->contains,
				       strlen(check->contains)))
		return reason_fmt(buf, buflen, ret_reason, "GET %s: body does not contain '%s'",
				  target, check->contains);
	*ret_reason = NULL;
	return true;
}

/* ---- exec children ---- */

/* After SIGKILL a child is normally gone at once, but one in
 * uninterruptible sleep (a hung NFS read) is not: it is reaped from the
 * loop rather than waited for. The source frees itself. */
static int on_orphan_exit(struct loop_source *s, int fd, uint32_t revents, void *data)
{
	siginfo_t si = { 0 };

	if (waitid((idtype_t)P_PIDFD, (id_t)fd, &si, WEXITED | WNOHANG) < 0 || si.si_pid != 0)
		loop_source_free(s);
	return 0;
}

/* An exec check's process group also holds what its script started
 * (curl, sleep). */
void health_end_child(struct loop *l, pid_t pid, int pidfd, bool group)
{
	siginfo_t si = { 0 };

	if (group)
		(void)kill(-pid, SIGKILL);
	(void)syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
	if (waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED | WNOHANG) == 0 && si.si_pid != 0) {
		close(pidfd);
		return;
	}
	if (loop_add_fd(l, pidfd, EPOLLIN, true, on_orphan_exit, NULL, NULL) < 0) {
		/* Out of memory: a zombie until guardian exits beats blocking. */
		log_debug("health: cannot watch killed child %d; leaving it unreaped", pid);
		close(pidfd);
	}
}

/* ---- one run ---- */

/* Ends whatever the run holds: sockets closed, exec child killed. */
static void run_cleanup(struct check_state *c)
{
	loop_source_freep(&c->deadline);
	loop_source_freep(&c->io);
	if (c->pid > 0)
		health_end_child(c->h->loop, c->pid, c->fd, true);
	else if (c->fd >= 0)
		close(c->fd);
	c->pid = 0;
	c->fd = -1;
	if (c->exec_pipe >= 0)
		close(c->exec_pipe);
	c->exec_pipe = -1;
	free(c->request);
	free(c->response);
	c->request = c->response = NULL;
	c->request_len = c->sent = c->len = 0;
	c->phase = PHASE_IDLE;
}

/* Ends the run and counts it. The callback comes last, and nothing here
 * or in any caller touches c after it: it may call health_stop. */
static int run_finish(struct check_state *c, bool ok, const char *reason)
{
	struct health_runner *h = c->h;
	unsigned needed = c->check->failures ? c->check->failures : 1;

	run_cleanup(c);
	c->runs++;
	c->failed_last = !ok;
	if (ok) {
		c->consecutive = 0;
		return 0;
	}
	snprintf(c->last_error, sizeof(c->last_error), "%s", reason);
	log_debug("%s: health check %u failed: %s", h->policy->service, c->index, reason);
	if (++c->consecutive < needed)
		return 0;
	/* Counted afresh, so the next callback needs `failures` more. */
	c->consecutive = 0;
	if (h->cb)
		h->cb(h->data, c->check, c->index, reason);
	return 0;
}

static int run_fail(struct check_state *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int run_fail(struct check_state *c, const char *fmt, ...)
{
	char reason[REASON_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	return run_finish(c, false, reason);
}

/* guardian's own trouble (no memory, no fds) is not the service's: the
 * run ends uncounted and the loop logs the error. */
static int run_abort(struct check_state *c, int err)
{
	log_debug("%s: health check %u not run: %s", c->h->policy->service, c->index,
		  strerror(-err));
	run_cleanup(c);
	return err;
}

static int watch_fd(struct check_state *c, uint32_t events, loop_cb cb)
{
	/* epoll has no "modify" through the loop: replace the source. */
	loop_source_freep(&c->io);
	return loop_add_fd(c->h->loop, c->fd, events, false, cb, c, &c->io);
}

static int on_deadline(struct loop_source *s, int fd, uint32_t revents, void *data)
{
	struct check_state *c = data;
	char t[32], target[REASON_MAX];

	format_timeout(c->check->timeout, t, sizeof(t));
	/* run_fail's cleanup closes the socket or kills the exec child. */
	if (c->phase == PHASE_EXEC)
		return run_fail(c, "exec %s: timed out after %s", c->check->exec[0], t);
	if (c->phase == PHASE_CONNECT) {
		host_port(c->check, target, sizeof(target));
		return run_fail(c, "connect %s: timed out after %s", target, t);
	}
	http_target(c->check, target, sizeof(target));
	return run_fail(c, "GET %s: timed out after %s", target, t);
}

/* ---- HTTP and TCP ---- */

static int http_evaluate(struct check_state *c)
{
	char buf[REASON_MAX], target[REASON_MAX];
	const char *reason;

	if (c->len == 0) {
		http_target(c->check, target, sizeof(target));
		return run_fail(c, "GET %s: connection closed without a response", target);
	}
	if (health_http_response_ok(c->check, c->response, c->len, buf, sizeof(buf), &reason))
		return run_finish(c, true, NULL);
	return run_fail(c, "%s", reason);
}

static int on_readable(struct loop_source *s, int fd, uint32_t revents, void *data)
{
	struct check_state *c = data;
	char target[REASON_MAX];

	while (c->len < HTTP_RESPONSE_MAX) {
		ssize_t n = read(fd, c->response + c->len, HTTP_RESPONSE_MAX - c->len);

		if (n > 0) {
			c->len += (size_t)n;
			continue;
		}
		if (n == 0)
			break;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN)
			return 0;
		http_target(c->check, target, sizeof(target));
		return run_fail(c, "GET %s: %s", target, strerror(errno));
	}
	return http_evaluate(c);
}

static int http_send(struct check_state *c)
{
	char target[REASON_MAX];
	int r;

	while (c->sent < c->request_len) {
		ssize_t n = send(c->fd, c->request + c->sent, c->request_len - c->sent, MSG_NOSIGNAL);

		if (n >= 0) {
			c->sent += (size_t)n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN)
			return 0; /* the rest when the socket is writable again */
		http_target(c->check, target, sizeof(target));
		return run_fail(c, "GET %s: %s", target, strerror(errno));
	}
	c->response = malloc(HTTP_RESPONSE_MAX);
	if (!c->response)
		return run_abort(c, -ENOMEM);
	c->phase = PHASE_RECV;
	r = watch_fd(c, EPOLLIN, on_readable);
	return r < 0 ? run_abort(c, r) : 0;
}

/* HTTP/1.0 with Connection: close: the server ends the response by
 * closing, so reading to EOF needs no chunked or length parsing. */
static int http_request(struct check_state *c)
{
	const struct health_check *hc = c->check;
	char hp[300];
	int n;

	host_port(hc, hp, sizeof(hp));
	n = asprintf(&c->request,
		     "GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: guardian-health\r\n"
		     "Connection: close\r\n\r\n",
		     hc->path ? hc->path : "/", hp);
	if (n < 0) {
		c->request = NULL;
		return run_abort(c, -ENOMEM);
	}
	c->request_len = (size_t)n;
	c->phase = PHASE_SEND;
	return http_send(c);
}

static int on_writable(struct loop_source *s, int fd, uint32_t revents, void *data)
{
	struct check_state *c = data;
	char hp[300];
	int err = 0;
	socklen_t len = sizeof(err);

	if (c->phase == PHASE_SEND)
		return http_send(c);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err != 0) {
		host_port(c->check, hp, sizeof(hp));
		return run_fail(c, "connect %s: %s", hp, strerror(err));
	}
	if (c->check->kind == HEALTH_TCP)
		return run_finish(c, true, NULL);
	return http_request(c);
}

static int connect_start(struct check_state *c)
{
	const struct sockaddr_storage *addr;
	socklen_t addrlen;
	const char *why;
	char hp[300];
	int r;

	host_port(c->check, hp, sizeof(hp));
	switch (health_target(c->h->targets, c->index, &addr, &addrlen, &why)) {
	case HEALTH_TARGET_READY:
		break;
	case HEALTH_TARGET_PENDING:
		log_debug("%s: health check %u skipped: %s not resolved yet", c->h->policy->service,
			  c->index, hp);
		run_cleanup(c);
		return 0;
	case HEALTH_TARGET_FAILED:
		return run_fail(c, "connect %s: cannot resolve: %s", hp, why);
	}
	c->fd = socket(addr->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return run_abort(c, -errno);
	/* Loopback connects often finish at once; EPOLLOUT then fires on the
	 * next iteration, so both outcomes take the same path. */
	if (connect(c->fd, (const struct sockaddr *)addr, addrlen) < 0 && errno != EINPROGRESS)
		return run_fail(c, "connect %s: %s", hp, strerror(errno));
	c->phase = PHASE_CONNECT;
	r = watch_fd(c, EPOLLOUT, on_writable);
	return r < 0 ? run_abort(c, r) : 0;
}

/* ---- exec ---- */

static int exec_report(struct check_state *c, const siginfo_t *si)
{
	const char *cmd = c->check->exec[0], *sig;
	struct spawn_failure f;

	if (read(c->exec_pipe, &f, sizeof(f)) == (ssize_t)sizeof(f))
		return run_fail(c, "exec %s: %s: %s", cmd, spawn_stage_to_string(f.stage),
				strerror(f.err));
	if (si->si_code == CLD_EXITED && si->si_status == 0)
		return run_finish(c, true, NULL);
	if (si->si_code == CLD_EXITED)
		return run_fail(c, "exec %s: exit status %d", cmd, si->si_status);
	sig = signal_to_string(si->si_status);
	if (sig)
		return run_fail(c, "exec %s: killed by signal %s", cmd, sig);
	return run_fail(c, "exec %s: killed by signal %d", cmd, si->si_status);
}

static int on_exec_exit(struct loop_source *s, int fd, uint32_t revents, void *data)
{
	struct check_state *c = data;
	siginfo_t si = { 0 };

	if (waitid((idtype_t)P_PIDFD, (id_t)fd, &si, WEXITED | WNOHANG) < 0) {
		c->pid = 0; /* someone else reaped it: nothing left to kill */
		return run_abort(c, -errno);
	}
	if (si.si_pid == 0)
		return 0;
	c->pid = 0;
	return exec_report(c, &si);
}

static int spawn_error(struct check_state *c, int r)
{
	return run_fail(c, "exec %s: cannot start: %s", c->check->exec[0], strerror(-r));
}

/* Runs as the service's user, in its cgroup, so the check sees what the
 * service sees and its memory counts where the service's does. */
static int exec_start(struct check_state *c)
{
	_cleanup_close_ int null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	struct spawn_result sr;
	int r;

	if (null_fd < 0)
		return run_abort(c, -errno);
	r = spawn_in_cgroup(c->h->policy, c->check->exec, c->h->cgroup_fd, null_fd, &sr);
	if (r < 0)
		return spawn_error(c, r);
	c->pid = sr.pid;
	c->fd = sr.pidfd;
	c->exec_pipe = sr.exec_pipe;
	c->phase = PHASE_EXEC;
	/* Read only once the child is gone, but never let a stray writer block us. */
	if (fcntl(c->exec_pipe, F_SETFL, O_NONBLOCK) < 0)
		return run_abort(c, -errno);
	r = watch_fd(c, EPOLLIN, on_exec_exit);
	return r < 0 ? run_abort(c, r) : 0;
}

/* ---- timers ---- */

static int run_start(struct check_state *c)
{
	int r = loop_add_timer(c->h->loop, c->check->timeout, on_deadline, c, &c->deadline);

	if (r < 0)
		return run_abort(c, r);
	if (c->check->kind == HEALTH_EXEC)
		return exec_start(c);
	return connect_start(c);
}

static int on_tick(struct loop_source *s, int fd, uint32_t revents, void *data)
{
	struct check_state *c = data;

	/* A run slower than `every` is not doubled: this tick is skipped. */
	if (c->phase != PHASE_IDLE) {
		log_debug("%s: health check %u still running; skipping this run",
			  c->h->policy->service, c->index);
		return 0;
	}
	return run_start(c);
}

static int on_kick(struct loop_source *s, int fd, uint32_t revents, void *data)
{
	struct check_state *c = data;

	loop_source_freep(&c->kick);
	if (c->phase != PHASE_IDLE)
		return 0;
	return run_start(c);
}

/* ---- the runner ---- */

static void health_stopp(struct health_runner **h)
{
	health_stop(*h);
}

static int check_init(struct health_runner *h, unsigned i)
{
	struct check_state *c = &h->checks[i];

	*c = (struct check_state){ .h = h, .check = &h->policy->health[i], .index = i,
				   .fd = -1, .exec_pipe = -1 };
	if (c->check->kind == HEALTH_EXEC && (!c->check->exec || !c->check->exec[0]))
		return -EINVAL;
	return loop_add_interval(h->loop, c->check->every, on_tick, c, &c->tick);
}

int health_start(struct loop *loop, const struct policy *p, const struct health_targets *targets,
		 int cgroup_fd, health_failed_cb cb, void *data, struct health_runner **ret)
{
	__attribute__((cleanup(health_stopp))) struct health_runner *h = NULL;
	int r;

	h = calloc(1, sizeof(*h) + p->n_health * sizeof(h->checks[0]));
	if (!h)
		return -ENOMEM;
	*h = (struct health_runner){ .loop = loop, .policy = p, .targets = targets, .cgroup_fd = -1,
				     .cb = cb, .data = data };
	/* Our own fd: the caller may close its copy while checks still run. */
	if (cgroup_fd >= 0 && (h->cgroup_fd = fcntl(cgroup_fd, F_DUPFD_CLOEXEC, 3)) < 0)
		return -errno;
	for (unsigned i = 0; i < p->n_health; i++) {
		h->n = i + 1;
		r = check_init(h, i);
		if (r < 0)
			return r;
	}
	*ret = TAKE_PTR(h);
	return 0;
}

void health_stop(struct health_runner *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < h->n; i++) {
		struct check_state *c = &h->checks[i];

		run_cleanup(c);
		loop_source_freep(&c->tick);
		loop_source_freep(&c->kick);
	}
	if (h->cgroup_fd >= 0)
		close(h->cgroup_fd);
	free(h);
}

static const struct check_state *check_at(const struct health_runner *h, unsigned index)
{
	return h && index < h->n ? &h->checks[index] : NULL;
}

unsigned health_consecutive_failures(const struct health_runner *h, unsigned index)
{
	const struct check_state *c = check_at(h, index);

	return c ? c->consecutive : 0;
}

const char *health_last_error(const struct health_runner *h, unsigned index)
{
	const struct check_state *c = check_at(h, index);

	return c && c->failed_last ? c->last_error : NULL;
}

unsigned long health_runs(const struct health_runner *h, unsigned index)
{
	const struct check_state *c = check_at(h, index);

	return c ? c->runs : 0;
}

int health_run_now(struct health_runner *h, unsigned index)
{
	struct check_state *c = h && index < h->n ? &h->checks[index] : NULL;

	if (!c)
		return -EINVAL;
	if (c->phase != PHASE_IDLE || c->kick)
		return -EBUSY;
	/* Through the loop, so the callback (which may stop h) never runs
	 * inside our caller. */
	return loop_add_timer(h->loop, 0, on_kick, c, &c->kick);
}
