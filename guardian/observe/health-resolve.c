/* health-resolve.c: the addresses of a policy's HTTP and TCP checks,
 * resolved once per policy; a name goes to a short-lived child, so the
 * loop never waits on DNS. */
#include "health-internal.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "log.h"

/* glibc's worst case with resolv.conf's defaults: 3 nameservers, each
 * tried twice with a 5 s timeout. Past it the child is killed and the
 * attempt counts as failed. */
#define RESOLVE_TIMEOUT (30 * USEC_PER_SEC)
/* A name that failed at boot (no network yet, a resolver restarting) is
 * usually there seconds later; one that does not exist never is, and a
 * fork a minute for it costs nothing. */
#define RESOLVE_RETRY_FIRST (1 * USEC_PER_SEC)
#define RESOLVE_RETRY_MAX (60 * USEC_PER_SEC)

/* What the child writes back, in one write(2) to an empty pipe. */
struct answer {
	int err;       /* 0 or EAI_* */
	int sys_errno; /* with EAI_SYSTEM */
	socklen_t len;
	struct sockaddr_storage addr;
};

struct target {
	struct health_targets *ts;
	unsigned index;
	bool used;       /* an HTTP or TCP check */
	bool ready;
	const char *host;
	char port[8];
	struct sockaddr_storage addr;
	socklen_t addrlen;
	char error[REASON_MAX / 2]; /* the last failure; "" before the first answer */
	unsigned attempts;
	usec_t backoff;
	/* The attempt in flight. */
	pid_t pid;
	int pidfd, answer_fd;
	struct loop_source *exited, *deadline;
	struct loop_source *retry;
};

struct health_targets {
	struct loop *loop;
	size_t n;
	struct target t[];
};

static int resolve_getaddrinfo(const char *host, const char *port, struct sockaddr_storage *ret,
			       socklen_t *ret_len)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG };
	struct addrinfo *ai = NULL;
	int r = getaddrinfo(host, port, &hints, &ai);

	if (r != 0)
		return r;
	memcpy(ret, ai->ai_addr, ai->ai_addrlen);
	*ret_len = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

static health_resolve_fn resolver = resolve_getaddrinfo;

void health_set_resolver(health_resolve_fn fn)
{
	resolver = fn ? fn : resolve_getaddrinfo;
}

/* An address, or localhost, needs no resolver at all. */
static bool resolve_numeric(struct target *t)
{
	struct sockaddr_in *in = (struct sockaddr_in *)&t->addr;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&t->addr;
	uint16_t port = htons((uint16_t)atoi(t->port));

	memset(&t->addr, 0, sizeof(t->addr));
	if (inet_pton(AF_INET, t->host, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = port;
		t->addrlen = sizeof(*in);
		return true;
	}
	if (inet_pton(AF_INET6, t->host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = port;
		t->addrlen = sizeof(*in6);
		return true;
	}
	return false;
}

static _Noreturn void child_main(const struct target *t, pid_t parent, int fd)
{
	struct answer a = { 0 };

	/* Nothing to answer once guardian is gone. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(1);
	a.err = resolver(t->host, t->port, &a.addr, &a.len);
	if (a.err == EAI_SYSTEM)
		a.sys_errno = errno;
	_exit(write(fd, &a, sizeof(a)) == (ssize_t)sizeof(a) ? 0 : 1);
}

static void attempt_end(struct target *t)
{
	loop_source_freep(&t->exited);
	loop_source_freep(&t->deadline);
	if (t->pid > 0)
		health_end_child(t->ts->loop, t->pid, t->pidfd, false);
	else if (t->pidfd >= 0)
		close(t->pidfd);
	t->pid = 0;
	t->pidfd = -1;
	if (t->answer_fd >= 0)
		close(t->answer_fd);
	t->answer_fd = -1;
}

static int attempt_start(struct target *t);

static int on_retry(struct loop_source *s, int fd, uint32_t revents, void *data)
{
	struct target *t = data;

	loop_source_freep(&t->retry);
	return attempt_start(t);
}

/* The attempt ended without an address: say why, and try again later. */
static int attempt_failed(struct target *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int attempt_failed(struct target *t, const char *fmt, ...)
{
	va_list ap;

	attempt_end(t);
	va_start(ap, fmt);
	vsnprintf(t->error, sizeof(t->error), fmt, ap);
	va_end(ap);
	t->backoff = t->backoff ? t->backoff * 2 : RESOLVE_RETRY_FIRST;
	if (t->backoff > RESOLVE_RETRY_MAX)
		t->backoff = RESOLVE_RETRY_MAX;
	log_debug("health check %u: cannot resolve %s: %s; again in %llus", t->index, t->host, t->error,
		  (unsigned long long)(t->backoff / USEC_PER_SEC));
	return loop_add_timer(t->ts->loop, t->backoff, on_retry, t, &t->retry);
}

static int on_exited(struct loop_source *s, int fd, uint32_t revents, void *data)
{
	struct target *t = data;
	siginfo_t si = { 0 };
	struct answer a;
	ssize_t n;

	if (waitid((idtype_t)P_PIDFD, (id_t)fd, &si, WEXITED | WNOHANG) < 0)
		t->pid = 0; /* someone else reaped it: nothing left to kill */
	else if (si.si_pid == 0)
		return 0;
	else
		t->pid = 0;
	n = read(t->answer_fd, &a, sizeof(a));
	if (n != (ssize_t)sizeof(a) || (size_t)a.len > sizeof(a.addr))
		return attempt_failed(t, "the resolver ended without an answer");
	if (a.err == EAI_SYSTEM)
		return attempt_failed(t, "%s", strerror(a.sys_errno));
	if (a.err != 0)
		return attempt_failed(t, "%s", gai_strerror(a.err));
	attempt_end(t);
	t->addr = a.addr;
	t->addrlen = a.len;
	t->ready = true;
	log_debug("health check %u: %s resolved", t->index, t->host);
	return 0;
}

static int on_timeout(struct loop_source *s, int fd, uint32_t revents, void *data)
{
	struct target *t = data;

	return attempt_failed(t, "no answer within %llus",
			      (unsigned long long)(RESOLVE_TIMEOUT / USEC_PER_SEC));
}

/* fork, not spawn's clone3: the child runs glibc's resolver, which
 * allocates, and only fork resets malloc's locks in the child. The loop
 * hears of it through its pidfd; the answer waits in the pipe. */
static int attempt_start(struct target *t)
{
	pid_t parent = getpid();
	int fds[2], r;

	t->attempts++;
	if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0)
		return attempt_failed(t, "cannot start the resolver: %s", strerror(errno));
	t->pid = fork();
	if (t->pid == 0) {
		close(fds[0]);
		child_main(t, parent, fds[1]);
	}
	close(fds[1]);
	t->answer_fd = fds[0];
	if (t->pid < 0) {
		t->pid = 0;
		return attempt_failed(t, "cannot start the resolver: %s", strerror(errno));
	}
	t->pidfd = (int)syscall(SYS_pidfd_open, t->pid, 0);
	if (t->pidfd < 0) {
		/* Out of fds: no way to hear of it, so it goes now. Just forked,
		 * it is not in any I/O that SIGKILL would have to wait for. */
		r = errno;
		(void)kill(t->pid, SIGKILL);
		(void)waitpid(t->pid, NULL, 0);
		t->pid = 0;
		return attempt_failed(t, "cannot start the resolver: %s", strerror(r));
	}
	r = loop_add_fd(t->ts->loop, t->pidfd, EPOLLIN, false, on_exited, t, &t->exited);
	if (r == 0)
		r = loop_add_timer(t->ts->loop, RESOLVE_TIMEOUT, on_timeout, t, &t->deadline);
	if (r < 0)
		return attempt_failed(t, "cannot start the resolver: %s", strerror(-r));
	return 0;
}

static void target_init(struct health_targets *ts, const struct health_check *hc, unsigned i)
{
	struct target *t = &ts->t[i];

	*t = (struct target){ .ts = ts, .index = i, .pidfd = -1, .answer_fd = -1 };
	if (hc->kind == HEALTH_EXEC)
		return;
	t->used = true;
	t->host = hc->host ? hc->host : "127.0.0.1";
	/* Not via NSS: glibc may list ::1 first, and services bind IPv4
	 * loopback far more often than IPv6. */
	if (strcmp(t->host, "localhost") == 0)
		t->host = "127.0.0.1";
	snprintf(t->port, sizeof(t->port), "%u", hc->port);
	t->ready = resolve_numeric(t);
	if (!t->ready)
		(void)attempt_start(t); /* a failure to start is a failed attempt, retried */
}

int health_targets_new(struct loop *loop, const struct policy *p, struct health_targets **ret)
{
	struct health_targets *ts = calloc(1, sizeof(*ts) + p->n_health * sizeof(ts->t[0]));

	if (!ts)
		return -ENOMEM;
	ts->loop = loop;
	for (unsigned i = 0; i < p->n_health; i++) {
		ts->n = i + 1;
		target_init(ts, &p->health[i], i);
	}
	*ret = ts;
	return 0;
}

void health_targets_free(struct health_targets *ts)
{
	if (!ts)
		return;
	for (size_t i = 0; i < ts->n; i++) {
		attempt_end(&ts->t[i]);
		loop_source_freep(&ts->t[i].retry);
	}
	free(ts);
}

enum health_target_state health_target(const struct health_targets *ts, unsigned index,
				       const struct sockaddr_storage **ret_addr, socklen_t *ret_len,
				       const char **ret_why)
{
	const struct target *t = ts && index < ts->n ? &ts->t[index] : NULL;

	if (!t || !t->used) {
		*ret_why = "not an HTTP or TCP check";
		return HEALTH_TARGET_FAILED;
	}
	if (t->ready) {
		if (ret_addr)
			*ret_addr = &t->addr;
		if (ret_len)
			*ret_len = t->addrlen;
		*ret_why = NULL;
		return HEALTH_TARGET_READY;
	}
	*ret_why = t->error[0] ? t->error : "not resolved yet";
	return t->error[0] ? HEALTH_TARGET_FAILED : HEALTH_TARGET_PENDING;
}

unsigned health_targets_attempts(const struct health_targets *ts, unsigned index)
{
	return ts && index < ts->n ? ts->t[index].attempts : 0;
}
