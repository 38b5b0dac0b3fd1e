/* test_health.c: health checks against real servers on 127.0.0.1 (a thread
 * with blocking sockets) and real exec children, driven by the event loop;
 * names resolved by a stand-in resolver in the resolver's real child. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "health.h"

/* Long enough that a periodic tick never fires inside a test that drives
 * its runs with health_run_now. */
#define HOUR (3600 * USEC_PER_SEC)
/* Far above any run here, even under sanitizers on a loaded machine. */
#define TEST_DEADLINE (10 * USEC_PER_SEC)
/* The condition is looked at this often; every run here takes at least
 * that long, and nothing else is waiting on it. */
#define POLL_EVERY (1 * USEC_PER_MSEC)
#define MAX_SCRIPT 8

/* ---- a tiny HTTP server on a thread ---- */

struct server {
	int fd;
	uint16_t port;
	pthread_t thread;
	pthread_mutex_t lock;
	/* What to serve; `script` statuses are used first, one per request. */
	int status;
	char body[256];
	int script[MAX_SCRIPT];
	unsigned n_script, next;
	bool hang; /* accept, then never answer */
	int held[16];
	unsigned n_held, accepted;
};

static int listen_local(uint16_t *ret_port, bool do_listen)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	if (do_listen)
		assert_int_equal(listen(fd, 16), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	*ret_port = ntohs(sa.sin_port);
	return fd;
}

/* Reads the request head; a TCP-only client just closes (EOF). */
static void read_request(int fd)
{
	char buf[2048];
	size_t len = 0;

	while (len < sizeof(buf) - 1) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);

		if (n <= 0)
			return;
		len += (size_t)n;
		buf[len] = 0;
		if (strstr(buf, "\r\n\r\n"))
			return;
	}
}

static void serve_one(struct server *s, int fd)
{
	char resp[1024];
	int status, n;

	pthread_mutex_lock(&s->lock);
	status = s->next < s->n_script ? s->script[s->next++] : s->status;
	n = snprintf(resp, sizeof(resp),
		     "HTTP/1.1 %d X\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n\r\n%s",
		     status, strlen(s->body), s->body);
	pthread_mutex_unlock(&s->lock);
	read_request(fd);
	(void)!send(fd, resp, (size_t)n, MSG_NOSIGNAL);
	close(fd);
}

static void *server_main(void *arg)
{
	struct server *s = arg;

	for (;;) {
		int fd = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC);
		bool hold;

		if (fd < 0 && errno == EINTR)
			continue;
		if (fd < 0)
			return NULL; /* shutdown() by server_stop */
		pthread_mutex_lock(&s->lock);
		s->accepted++;
		hold = s->hang && s->n_held < ARRAY_SIZE(s->held);
		if (hold)
			s->held[s->n_held++] = fd;
		pthread_mutex_unlock(&s->lock);
		if (!hold)
			serve_one(s, fd);
	}
}

/* Everything set before the thread starts: it reads it under the lock. */
static void server_start(struct server *s, int status, const char *body, bool hang,
			 const int *script, unsigned n_script)
{
	*s = (struct server){ .status = status, .hang = hang, .n_script = n_script };
	assert_true(n_script <= MAX_SCRIPT);
	if (n_script)
		memcpy(s->script, script, n_script * sizeof(*script));
	snprintf(s->body, sizeof(s->body), "%s", body);
	pthread_mutex_init(&s->lock, NULL);
	s->fd = listen_local(&s->port, true);
	assert_int_equal(pthread_create(&s->thread, NULL, server_main, s), 0);
}

static void server_stop(struct server *s)
{
	/* Wakes the blocked accept() with EINVAL. */
	shutdown(s->fd, SHUT_RDWR);
	pthread_join(s->thread, NULL);
	close(s->fd);
	for (unsigned i = 0; i < s->n_held; i++)
		close(s->held[i]);
	pthread_mutex_destroy(&s->lock);
}

static unsigned server_accepted(struct server *s)
{
	unsigned n;

	pthread_mutex_lock(&s->lock);
	n = s->accepted;
	pthread_mutex_unlock(&s->lock);
	return n;
}

/* ---- the fixture ---- */

struct snapshot {
	unsigned consecutive, callbacks;
	bool failed;
};

struct t {
	struct loop *loop;
	struct policy policy;
	struct health_check checks[4];
	char urls[4][64];
	struct health_targets *targets;
	struct health_runner *h;
	struct server srv;
	bool have_server;
	int closed_fd;        /* bound, never listening: connect is refused */
	uint16_t closed_port;
	/* callback */
	unsigned callbacks, cb_index, accepted_at_cb;
	char reason[512];
	bool stop_in_callback;
	/* sequence of runs driven one by one */
	struct snapshot seen[8];
	unsigned n_seen, want_runs;
	bool kicked;
	unsigned turns;
};

static char *argv_true[] = { "/bin/true", NULL };
static char *argv_false[] = { "/bin/false", NULL };
static char *argv_sleep[] = { "sleep", "5", NULL };
static char *argv_missing[] = { "/nonexistent/check", NULL };
static char *argv_term[] = { "/bin/sh", "-c", "kill -TERM $$", NULL };

static int setup(void **state)
{
	struct t *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	assert_int_equal(loop_new(&t->loop), 0);
	t->policy.service = "web";
	t->policy.health = t->checks;
	t->closed_fd = listen_local(&t->closed_port, false);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct t *t = *state;

	health_stop(t->h);
	health_targets_free(t->targets);
	if (t->have_server)
		server_stop(&t->srv);
	close(t->closed_fd);
	loop_free(t->loop);
	free(t);
	return 0;
}

static struct health_check *add_check(struct t *t, enum health_kind kind, uint16_t port)
{
	size_t i = t->policy.n_health++;
	struct health_check *c = &t->checks[i];

	*c = (struct health_check){ .kind = kind, .host = "127.0.0.1", .port = port,
				    .path = "/watchdog_page.html", .status = 200,
				    .every = HOUR, .timeout = 2 * USEC_PER_SEC, .failures = 1,
				    .action = ACTION_RESTART };
	if (kind == HEALTH_HTTP) {
		snprintf(t->urls[i], sizeof(t->urls[i]), "http://127.0.0.1:%u/watchdog_page.html", port);
		c->url = t->urls[i];
	}
	return c;
}

static struct health_check *add_exec(struct t *t, char **argv)
{
	struct health_check *c = add_check(t, HEALTH_EXEC, 0);

	c->host = NULL;
	c->path = NULL;
	c->exec = argv;
	return c;
}

static void on_failed(void *data, const struct health_check *check, unsigned index, const char *reason)
{
	struct t *t = data;

	t->callbacks++;
	t->cb_index = index;
	if (t->have_server)
		t->accepted_at_cb = server_accepted(&t->srv);
	snprintf(t->reason, sizeof(t->reason), "%s", reason);
	if (t->stop_in_callback) {
		health_stop(t->h);
		t->h = NULL;
	}
}

/* Addresses once per policy, as a service keeps them across its runs. */
static void start(struct t *t)
{
	if (!t->targets)
		assert_int_equal(health_targets_new(t->loop, &t->policy, &t->targets), 0);
	assert_int_equal(health_start(t->loop, &t->policy, t->targets, -1, on_failed, t, &t->h), 0);
}

/* ---- driving the loop ---- */

typedef bool (*cond_fn)(struct t *t);

struct waiter {
	struct t *t;
	cond_fn cond;
};

static int on_poll(struct loop_source *s, int fd, uint32_t revents, void *data)
{
	struct waiter *w = data;

	if (w->cond(w->t))
		loop_quit(w->t->loop, 0);
	return 0;
}

static int on_test_deadline(struct loop_source *s, int fd, uint32_t revents, void *data)
{
	struct waiter *w = data;

	loop_quit(w->t->loop, -ETIMEDOUT);
	return 0;
}

/* Runs the loop until cond holds or the deadline passes. The loop's quit
 * is final, so each test runs it once, for its whole scenario. */
static bool run_until(struct t *t, cond_fn cond)
{
	struct waiter w = { .t = t, .cond = cond };
	struct loop_source *poll = NULL, *deadline = NULL;
	int r;

	assert_int_equal(loop_add_interval(t->loop, POLL_EVERY, on_poll, &w, &poll), 0);
	assert_int_equal(loop_add_timer(t->loop, TEST_DEADLINE, on_test_deadline, &w, &deadline), 0);
	r = loop_run(t->loop);
	loop_source_free(poll);
	loop_source_free(deadline);
	return r == 0;
}

static bool no_children(void)
{
	siginfo_t si = { 0 };

	/* WNOWAIT: look only; reaping is health.c's job. */
	return waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0 && errno == ECHILD;
}

static bool first_run_done(struct t *t) { return health_runs(t->h, 0) >= 1; }
static bool first_run_done_and_reaped(struct t *t) { return first_run_done(t) && no_children(); }

/* One run of check 0, from start to its verdict. */
static void run_once(struct t *t)
{
	start(t);
	assert_int_equal(health_run_now(t->h, 0), 0);
	assert_int_equal(health_run_now(t->h, 0), -EBUSY);
	assert_true(run_until(t, first_run_done_and_reaped));
	assert_int_equal(health_runs(t->h, 0), 1);
}

static void assert_failed_with(struct t *t, const char *want)
{
	assert_non_null(health_last_error(t->h, 0));
	assert_string_equal(health_last_error(t->h, 0), want);
	assert_int_equal(t->callbacks, 1);
	assert_string_equal(t->reason, want);
}

static void assert_passed(struct t *t)
{
	assert_null(health_last_error(t->h, 0));
	assert_int_equal(health_consecutive_failures(t->h, 0), 0);
	assert_int_equal(t->callbacks, 0);
}

/* ---- pure: health_http_response_ok ---- */

static bool resp_ok(struct health_check *c, const char *resp, const char **reason, char *buf)
{
	return health_http_response_ok(c, resp, strlen(resp), buf, 512, reason);
}

static struct health_check pure_check(const char *contains)
{
	return (struct health_check){ .kind = HEALTH_HTTP, .url = "http://127.0.0.1:8080/watchdog_page.html",
				      .host = "127.0.0.1", .port = 8080, .path = "/watchdog_page.html",
				      .status = 200, .contains = (char *)contains };
}

static void test_response_status_line_is_parsed(void **state)
{
	struct health_check c = pure_check(NULL);
	const char *reason = "unset";
	char buf[512];

	assert_true(resp_ok(&c, "HTTP/1.1 200 OK\r\nServer: x\r\n\r\nhello", &reason, buf));
	assert_null(reason);
	assert_true(resp_ok(&c, "HTTP/1.0 200\r\n\r\n", &reason, buf));
	assert_false(resp_ok(&c, "HTTP/1.0 404 Not Found\r\n\r\n", &reason, buf));
	assert_string_equal(reason, "GET http://127.0.0.1:8080/watchdog_page.html: status 404, expected 200");
	c.status = 404;
	assert_true(resp_ok(&c, "HTTP/1.0 404 Not Found\r\n\r\n", &reason, buf));
}

static void test_response_garbage_is_not_http(void **state)
{
	static const char *const bad[] = { "", "hello", "HTTP/1.1 20 OK\r\n\r\n", "HTTP/1.1 2000 OK\r\n\r\n",
					   "HTTP/11 200 OK\r\n\r\n", "http/1.1 200 OK\r\n\r\n",
					   "HTTP/1.1  200 OK\r\n\r\n", "SSH-2.0-OpenSSH_9.2\r\n" };
	struct health_check c = pure_check(NULL);
	const char *reason;
	char buf[512];

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		assert_false(resp_ok(&c, bad[i], &reason, buf));
		assert_string_equal(reason, "GET http://127.0.0.1:8080/watchdog_page.html: not an HTTP response");
	}
}

static void test_response_without_blank_line_fails(void **state)
{
	struct health_check c = pure_check(NULL);
	const char *reason;
	char buf[512];

	assert_false(resp_ok(&c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n", &reason, buf));
	assert_string_equal(reason, "GET http://127.0.0.1:8080/watchdog_page.html: response headers do not end");
	assert_false(resp_ok(&c, "HTTP/1.1 200 OK", &reason, buf));
	/* Lax servers end lines with a bare LF. */
	assert_true(resp_ok(&c, "HTTP/1.0 200 OK\nServer: x\n\nbody", &reason, buf));
}

static void test_response_contains_looks_only_in_body(void **state)
{
	struct health_check c = pure_check("still alive");
	const char *reason;
	char buf[512];

	assert_true(resp_ok(&c, "HTTP/1.1 200 OK\r\n\r\n<p>still alive</p>", &reason, buf));
	assert_false(resp_ok(&c, "HTTP/1.1 200 OK\r\nX-Note: still alive\r\n\r\nnope", &reason, buf));
	assert_string_equal(reason, "GET http://127.0.0.1:8080/watchdog_page.html: body does not contain 'still alive'");
	/* A match spanning the header/body boundary is not in the body. */
	c.contains = "OK\r\n\r\nstill";
	assert_false(resp_ok(&c, "HTTP/1.1 200 OK\r\n\r\nstill alive", &reason, buf));
	c.contains = "\nstill";
	assert_false(resp_ok(&c, "HTTP/1.1 200 OK\r\n\r\nstill alive", &reason, buf));
}

static void test_response_body_may_hold_nul_and_is_length_bound(void **state)
{
	static const char resp[] = "HTTP/1.1 200 OK\r\n\r\n\0\0still alive";
	struct health_check c = pure_check("still alive");
	const char *reason;
	char buf[512];

	assert_true(health_http_response_ok(&c, resp, sizeof(resp) - 1, buf, sizeof(buf), &reason));
	/* Bytes past len are not the response. */
	assert_false(health_http_response_ok(&c, resp, sizeof(resp) - 3, buf, sizeof(buf), &reason));
}

static void test_response_status_checked_before_body(void **state)
{
	struct health_check c = pure_check("still alive");
	const char *reason;
	char buf[512];

	assert_false(resp_ok(&c, "HTTP/1.1 503 Unavailable\r\n\r\nstill alive", &reason, buf));
	assert_string_equal(reason, "GET http://127.0.0.1:8080/watchdog_page.html: status 503, expected 200");
}

/* ---- HTTP against a real server ---- */

static void test_http_page_with_text_passes(void **state)
{
	struct t *t = *state;

	server_start(&t->srv, 200, "<html>still alive</html>", false, NULL, 0);
	t->have_server = true;
	add_check(t, HEALTH_HTTP, t->srv.port)->contains = "still alive";
	run_once(t);
	assert_passed(t);
}

static void test_http_page_without_text_fails(void **state)
{
	struct t *t = *state;
	char want[256];

	server_start(&t->srv, 200, "<html>busy</html>", false, NULL, 0);
	t->have_server = true;
	add_check(t, HEALTH_HTTP, t->srv.port)->contains = "still alive";
	run_once(t);
	snprintf(want, sizeof(want),
		 "GET http://127.0.0.1:%u/watchdog_page.html: body does not contain 'still alive'",
		 t->srv.port);
	assert_failed_with(t, want);
}

static void test_http_status_500_fails(void **state)
{
	struct t *t = *state;
	char want[256];

	server_start(&t->srv, 500, "still alive", false, NULL, 0);
	t->have_server = true;
	add_check(t, HEALTH_HTTP, t->srv.port)->contains = "still alive";
	run_once(t);
	snprintf(want, sizeof(want),
		 "GET http://127.0.0.1:%u/watchdog_page.html: status 500, expected 200", t->srv.port);
	assert_failed_with(t, want);
}

static void test_http_connection_refused_fails(void **state)
{
	struct t *t = *state;
	char want[256];

	add_check(t, HEALTH_HTTP, t->closed_port);
	run_once(t);
	snprintf(want, sizeof(want), "connect 127.0.0.1:%u: Connection refused", t->closed_port);
	assert_failed_with(t, want);
}

/* every (50ms) < timeout (200ms): the ticks in between are skipped, so
 * the server saw one connection when the run timed out. */
static void test_http_silent_server_times_out_without_doubling(void **state)
{
	struct t *t = *state;
	struct health_check *c;
	char want[256];

	server_start(&t->srv, 200, "", true, NULL, 0);
	t->have_server = true;
	c = add_check(t, HEALTH_HTTP, t->srv.port);
	c->every = 50 * USEC_PER_MSEC;
	c->timeout = 200 * USEC_PER_MSEC;
	start(t);
	assert_true(run_until(t, first_run_done));
	snprintf(want, sizeof(want),
		 "GET http://127.0.0.1:%u/watchdog_page.html: timed out after 200ms", t->srv.port);
	assert_failed_with(t, want);
	assert_int_equal(t->accepted_at_cb, 1);
}

/* ---- TCP ---- */

static void test_tcp_listening_port_passes(void **state)
{
	struct t *t = *state;
	uint16_t port;
	_cleanup_close_ int fd = listen_local(&port, true);

	add_check(t, HEALTH_TCP, port);
	run_once(t);
	assert_passed(t);
}

static void test_tcp_localhost_is_ipv4_loopback(void **state)
{
	struct t *t = *state;
	uint16_t port;
	_cleanup_close_ int fd = listen_local(&port, true);

	add_check(t, HEALTH_TCP, port)->host = "localhost";
	run_once(t);
	assert_passed(t);
}

static void test_tcp_closed_port_fails(void **state)
{
	struct t *t = *state;
	char want[256];

	add_check(t, HEALTH_TCP, t->closed_port);
	run_once(t);
	snprintf(want, sizeof(want), "connect 127.0.0.1:%u: Connection refused", t->closed_port);
	assert_failed_with(t, want);
}

/* ---- exec ---- */

static void test_exec_true_passes(void **state)
{
	struct t *t = *state;

	add_exec(t, argv_true);
	run_once(t);
	assert_passed(t);
}

static void test_exec_false_fails_with_exit_status(void **state)
{
	struct t *t = *state;

	add_exec(t, argv_false);
	run_once(t);
	assert_failed_with(t, "exec /bin/false: exit status 1");
}

static void test_exec_signal_is_named(void **state)
{
	struct t *t = *state;

	add_exec(t, argv_term);
	run_once(t);
	assert_failed_with(t, "exec /bin/sh: killed by signal TERM");
}

static void test_exec_missing_command_says_why(void **state)
{
	struct t *t = *state;

	add_exec(t, argv_missing);
	run_once(t);
	assert_failed_with(t, "exec /nonexistent/check: exec: No such file or directory");
}

/* run_once also waits until no child is left: sleep was killed and
 * reaped long before its 5 s were up. */
static void test_exec_slow_command_times_out_and_is_killed(void **state)
{
	struct t *t = *state;
	usec_t began = now_monotonic();

	add_exec(t, argv_sleep)->timeout = 200 * USEC_PER_MSEC;
	run_once(t);
	assert_failed_with(t, "exec sleep: timed out after 200ms");
	assert_true(now_monotonic() - began < 4 * USEC_PER_SEC);
}

/* ---- counting failures ---- */

/* Records each finished run of check 0, then asks for the next one. */
static bool runs_recorded(struct t *t)
{
	if (!t->kicked || health_runs(t->h, 0) > t->n_seen) {
		if (t->kicked) {
			t->seen[t->n_seen++] = (struct snapshot){
				.consecutive = health_consecutive_failures(t->h, 0),
				.callbacks = t->callbacks,
				.failed = health_last_error(t->h, 0) != NULL,
			};
		}
		if (t->n_seen < t->want_runs)
			assert_int_equal(health_run_now(t->h, 0), 0);
		t->kicked = true;
	}
	return t->n_seen >= t->want_runs;
}

static void test_callback_after_exactly_failures(void **state)
{
	struct t *t = *state;
	static const struct snapshot want[] = {
		{ 1, 0, true }, { 2, 0, true }, { 0, 1, true }, { 1, 1, true }, { 2, 1, true }, { 0, 2, true },
	};

	add_check(t, HEALTH_TCP, t->closed_port)->failures = 3;
	t->want_runs = ARRAY_SIZE(want);
	start(t);
	assert_true(run_until(t, runs_recorded));
	for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
		assert_int_equal(t->seen[i].consecutive, want[i].consecutive);
		assert_int_equal(t->seen[i].callbacks, want[i].callbacks);
		assert_int_equal(t->seen[i].failed, want[i].failed);
	}
}

static void test_pass_resets_the_count(void **state)
{
	struct t *t = *state;
	static const int script[] = { 500, 200, 500, 500 };
	static const struct snapshot want[] = {
		{ 1, 0, true }, { 0, 0, false }, { 1, 0, true }, { 0, 1, true },
	};

	server_start(&t->srv, 200, "ok", false, script, ARRAY_SIZE(script));
	t->have_server = true;
	add_check(t, HEALTH_HTTP, t->srv.port)->failures = 2;
	t->want_runs = ARRAY_SIZE(want);
	start(t);
	assert_true(run_until(t, runs_recorded));
	for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
		assert_int_equal(t->seen[i].consecutive, want[i].consecutive);
		assert_int_equal(t->seen[i].callbacks, want[i].callbacks);
		assert_int_equal(t->seen[i].failed, want[i].failed);
	}
}

/* ---- stopping ---- */

/* Check 0 (refused) fails while check 1 (sleep) and check 2 (a silent
 * server) are in flight; the callback stops the runner, which must end
 * both without touching freed memory (ASan) and leave no child behind. */
static bool stopped_and_reaped(struct t *t)
{
	if (!t->kicked && server_accepted(&t->srv) == 1) {
		assert_int_equal(health_run_now(t->h, 0), 0);
		t->kicked = true;
	}
	return !t->h && no_children();
}

static void test_stop_inside_callback_is_clean(void **state)
{
	struct t *t = *state;
	usec_t began = now_monotonic();

	server_start(&t->srv, 200, "", true, NULL, 0);
	t->have_server = true;
	add_check(t, HEALTH_TCP, t->closed_port);
	add_exec(t, argv_sleep)->timeout = HOUR;
	add_check(t, HEALTH_HTTP, t->srv.port)->timeout = HOUR;
	t->stop_in_callback = true;
	start(t);
	assert_int_equal(health_run_now(t->h, 1), 0);
	assert_int_equal(health_run_now(t->h, 2), 0);
	assert_true(run_until(t, stopped_and_reaped));
	assert_int_equal(t->callbacks, 1);
	assert_int_equal(t->cb_index, 0);
	assert_true(now_monotonic() - began < 4 * USEC_PER_SEC);
}

static void test_stop_with_runs_in_flight_and_null(void **state)
{
	struct t *t = *state;

	health_stop(NULL);
	add_exec(t, argv_true);
	start(t);
	assert_int_equal(health_run_now(t->h, 0), 0);
	assert_int_equal(health_run_now(t->h, 1), -EINVAL);
	assert_int_equal(health_consecutive_failures(t->h, 7), 0);
	assert_null(health_last_error(t->h, 7));
	/* The run was requested but never started: stop frees the request. */
	health_stop(t->h);
	t->h = NULL;
}

/* ---- names: resolved off the loop, once per policy ---- */

/* The stand-in resolver, run by health-resolve.c in its child: it says it
 * was called (a byte on calls), then waits for the test's verdict:
 * 'o' answers 127.0.0.1, anything else is a temporary failure. */
static int calls[2] = { -1, -1 }, verdicts[2] = { -1, -1 };

static int stand_in_resolver(const char *host, const char *port, struct sockaddr_storage *ret,
			     socklen_t *ret_len)
{
	struct pollfd p = { .fd = verdicts[0], .events = POLLIN };
	struct sockaddr_in *in = (struct sockaddr_in *)ret;
	char v = 0;

	if (write(calls[1], "c", 1) != 1 || poll(&p, 1, (int)(TEST_DEADLINE / USEC_PER_MSEC)) != 1 ||
	    read(verdicts[0], &v, 1) != 1 || v != 'o')
		return EAI_AGAIN;
	*in = (struct sockaddr_in){ .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port)),
				    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	*ret_len = sizeof(*in);
	return 0;
}

static unsigned n_calls;

static bool resolver_called(struct t *t, unsigned n)
{
	char buf[16];
	ssize_t got;

	while ((got = read(calls[0], buf, sizeof(buf))) > 0)
		n_calls += (unsigned)got;
	return n_calls >= n;
}

static bool called_once(struct t *t) { return resolver_called(t, 1); }
static bool called_twice(struct t *t) { return resolver_called(t, 2); }

static bool target_is(struct t *t, enum health_target_state want)
{
	const char *why;

	return health_target(t->targets, 0, NULL, NULL, &why) == want;
}

static bool target_failed(struct t *t) { return target_is(t, HEALTH_TARGET_FAILED); }
static bool target_ready(struct t *t) { return target_is(t, HEALTH_TARGET_READY); }
static bool runs_done(struct t *t) { return health_runs(t->h, 0) >= t->want_runs; }

/* A few turns of the loop: a health_run_now request (a timer due at
 * once) is always taken before the first POLL_EVERY tick. */
static bool a_few_turns(struct t *t)
{
	if (++t->turns < 3)
		return false;
	t->turns = 0;
	return true;
}

static void verdict(char v)
{
	assert_int_equal(write(verdicts[1], &v, 1), 1);
}

static void resolver_setup(void)
{
	assert_int_equal(pipe2(calls, O_CLOEXEC | O_NONBLOCK), 0);
	assert_int_equal(pipe2(verdicts, O_CLOEXEC), 0);
	n_calls = 0;
	health_set_resolver(stand_in_resolver);
}

static void resolver_teardown(void)
{
	health_set_resolver(NULL);
	for (int i = 0; i < 2; i++) {
		close(calls[i]);
		close(verdicts[i]);
	}
}

/* A name is resolved in the background: health_targets_new returns while
 * the resolver is stuck, and the loop goes on running (run_until's own
 * timers); a run meanwhile is skipped, not failed. A failure is the run's
 * reason, and is tried again, again without holding the loop; the address
 * is then used by every later run and by a new runner (the service's next
 * run) without another resolution. */
static void test_name_resolved_once_off_the_loop_and_retried(void **state)
{
	struct t *t = *state;
	uint16_t port;
	_cleanup_close_ int fd = listen_local(&port, true);
	const char *why;
	char want[256];

	resolver_setup();
	add_check(t, HEALTH_TCP, port)->host = "db.test";
	start(t);
	assert_true(run_until(t, called_once));
	assert_int_equal(health_target(t->targets, 0, NULL, NULL, &why), HEALTH_TARGET_PENDING);

	/* The first answer is not in: the run is skipped, uncounted. */
	assert_int_equal(health_run_now(t->h, 0), 0);
	assert_true(run_until(t, a_few_turns));
	assert_int_equal(health_run_now(t->h, 0), 0); /* taken: not -EBUSY */
	assert_true(run_until(t, a_few_turns));
	assert_int_equal(health_runs(t->h, 0), 0);
	assert_int_equal(t->callbacks, 0);

	verdict('f');
	assert_true(run_until(t, target_failed));
	(void)health_target(t->targets, 0, NULL, NULL, &why);
	assert_string_equal(why, gai_strerror(EAI_AGAIN));
	assert_int_equal(health_run_now(t->h, 0), 0);
	t->want_runs = 1;
	assert_true(run_until(t, runs_done));
	snprintf(want, sizeof(want), "connect db.test:%u: cannot resolve: %s", port, gai_strerror(EAI_AGAIN));
	assert_failed_with(t, want);

	/* The retry, in the background: the loop runs while it is stuck. */
	assert_true(run_until(t, called_twice));
	assert_int_equal(health_targets_attempts(t->targets, 0), 2);
	assert_true(target_failed(t));
	verdict('o');
	assert_true(run_until(t, target_ready));
	for (unsigned i = 0; i < 3; i++) {
		assert_int_equal(health_run_now(t->h, 0), 0);
		t->want_runs = 2 + i;
		assert_true(run_until(t, runs_done));
		assert_null(health_last_error(t->h, 0));
	}

	/* The service's next run: a new runner, the same addresses. */
	health_stop(t->h);
	t->h = NULL;
	start(t);
	assert_int_equal(health_run_now(t->h, 0), 0);
	t->want_runs = 1;
	assert_true(run_until(t, runs_done));
	assert_null(health_last_error(t->h, 0));

	assert_true(resolver_called(t, 0));
	assert_int_equal(n_calls, 2);
	assert_int_equal(health_targets_attempts(t->targets, 0), 2);
	assert_true(no_children());
	resolver_teardown();
}

/* Addresses and localhost never reach the resolver. */
static void test_address_needs_no_resolver(void **state)
{
	struct t *t = *state;

	resolver_setup();
	add_check(t, HEALTH_TCP, t->closed_port);
	add_check(t, HEALTH_TCP, t->closed_port)->host = "localhost";
	add_check(t, HEALTH_TCP, t->closed_port)->host = "::1";
	start(t);
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(health_targets_attempts(t->targets, i), 0);
	assert_true(target_ready(t));
	assert_true(no_children());
	resolver_teardown();
}

/* The policy goes (a reload) while its name is being resolved: the child
 * is killed, and reaped from the loop. */
static bool no_child_left(struct t *t) { return no_children(); }

static void test_resolution_in_flight_ends_with_its_targets(void **state)
{
	struct t *t = *state;

	resolver_setup();
	add_check(t, HEALTH_HTTP, 8080)->host = "db.test";
	start(t);
	assert_true(run_until(t, called_once));
	health_stop(t->h);
	t->h = NULL;
	health_targets_free(t->targets);
	t->targets = NULL;
	assert_true(run_until(t, no_child_left));
	resolver_teardown();
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_response_status_line_is_parsed),
		cmocka_unit_test(test_response_garbage_is_not_http),
		cmocka_unit_test(test_response_without_blank_line_fails),
		cmocka_unit_test(test_response_contains_looks_only_in_body),
		cmocka_unit_test(test_response_body_may_hold_nul_and_is_length_bound),
		cmocka_unit_test(test_response_status_checked_before_body),
		T(test_http_page_with_text_passes),
		T(test_http_page_without_text_fails),
		T(test_http_status_500_fails),
		T(test_http_connection_refused_fails),
		T(test_http_silent_server_times_out_without_doubling),
		T(test_tcp_listening_port_passes),
		T(test_tcp_localhost_is_ipv4_loopback),
		T(test_tcp_closed_port_fails),
		T(test_exec_true_passes),
		T(test_exec_false_fails_with_exit_status),
		T(test_exec_signal_is_named),
		T(test_exec_missing_command_says_why),
		T(test_exec_slow_command_times_out_and_is_killed),
		T(test_callback_after_exactly_failures),
		T(test_pass_resets_the_count),
		T(test_stop_inside_callback_is_clean),
		T(test_stop_with_runs_in_flight_and_null),
		T(test_name_resolved_once_off_the_loop_and_retried),
		T(test_address_needs_no_resolver),
		T(test_resolution_in_flight_ends_with_its_targets),
	};

	/* The server writes to clients that may have gone (MSG_NOSIGNAL too). */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
