/* test_metrics.c: the Prometheus exposition built from known figures, and
 * the /metrics server on the real loop: answers, counts the action log's
 * records per service, and cuts off a client that trickles its request
 * while it goes on answering others. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/socket.h>

#include "metrics.h"
#include "tmptree.h"

/* ---- the text, from a known snapshot ---- */

static const double bounds[] = { 0.001, 0.01, 0.1 };
static const uint64_t counts[] = { 3, 1, 0, 2 }; /* the last: above 0.1 s */

static const struct metrics_action_count web_actions[] = {
	{ "engine", "restart", "default guard", 2 },
	{ "guardian", "restart", "", 1 },
};
static const struct metrics_signal_count web_signals[] = { { "KILL", "bash", 1 } };
static const struct metrics_bpf_program programs[] = {
	{ "oomkill", true }, { "signal", true }, { "reclaim", false },
};

static const struct metrics_service two_services[] = {
	{
		.name = "web", .state = "running",
		.has_memory = true, .working_set = 104857600, .memory_max = 268435456,
		.memory_high = 260046848,
		.has_growth = true, .growth_bps = 1048576.5,
		.has_time_to_max = true, .time_to_max_sec = 154.25,
		.has_pressure = true, .has_pressure_full = true,
		.pressure_some_usec = 2500001, .pressure_full_usec = 42,
		.restarts = 3, .kernel_oom_kills = 1,
		.actions = web_actions, .n_actions = 2, .signals = web_signals, .n_signals = 1,
	},
	{
		/* a pod container: unlimited, not growing, no stall figures yet */
		.name = "kubepods.slice/p1/c1", .namespace_ = "shop", .pod = "cart-7f9", .container = "app",
		.state = "running", .has_memory = true, .working_set = 5, .memory_max = UINT64_MAX,
		.memory_high = UINT64_MAX,
	},
};

static const struct metrics_snapshot known = {
	.version = "0.1.0",
	.action_log_lost = 4,
	.system_kernel_oom_kills = 7,
	.bpf = programs, .n_bpf = 3,
	.decision_latency = { .bounds = bounds, .n_bounds = 3, .counts = counts, .sum = 0.5 },
	.services = two_services, .n_services = 2,
};

#define WEB "service=\"web\""
#define POD "service=\"kubepods.slice/p1/c1\",namespace=\"shop\",pod=\"cart-7f9\",container=\"app\""

static const char *const known_samples[] = {
	"guardian_build_info{version=\"0.1.0\"} 1",
	"guardian_up 1",
	"guardian_decision_latency_seconds_bucket{le=\"0.001\"} 3",
	"guardian_decision_latency_seconds_bucket{le=\"0.01\"} 4",
	"guardian_decision_latency_seconds_bucket{le=\"0.1\"} 4",
	"guardian_decision_latency_seconds_bucket{le=\"+Inf\"} 6",
	"guardian_decision_latency_seconds_sum 0.5",
	"guardian_decision_latency_seconds_count 6",
	"guardian_action_log_lost_records_total 4",
	"guardian_bpf_program_loaded{program=\"oomkill\"} 1",
	"guardian_bpf_program_loaded{program=\"signal\"} 1",
	"guardian_bpf_program_loaded{program=\"reclaim\"} 0",
	"guardian_system_kernel_oom_kills_total 7",
	"guardian_service_state{" WEB ",state=\"stopped\"} 0",
	"guardian_service_state{" WEB ",state=\"starting\"} 0",
	"guardian_service_state{" WEB ",state=\"running\"} 1",
	"guardian_service_state{" WEB ",state=\"stopping\"} 0",
	"guardian_service_state{" WEB ",state=\"backoff\"} 0",
	"guardian_service_state{" WEB ",state=\"gave-up\"} 0",
	"guardian_service_state{" POD ",state=\"stopped\"} 0",
	"guardian_service_state{" POD ",state=\"starting\"} 0",
	"guardian_service_state{" POD ",state=\"running\"} 1",
	"guardian_service_state{" POD ",state=\"stopping\"} 0",
	"guardian_service_state{" POD ",state=\"backoff\"} 0",
	"guardian_service_state{" POD ",state=\"gave-up\"} 0",
	"guardian_memory_working_set_bytes{" WEB "} 104857600",
	"guardian_memory_working_set_bytes{" POD "} 5",
	"guardian_memory_max_bytes{" WEB "} 268435456",
	"guardian_memory_high_bytes{" WEB "} 260046848",
	"guardian_memory_growth_bytes_per_second{" WEB "} 1048576.5",
	"guardian_memory_time_to_max_seconds{" WEB "} 154.25",
	"guardian_pressure_memory_waiting_seconds_total{" WEB "} 2.500001",
	"guardian_pressure_memory_stalled_seconds_total{" WEB "} 0.000042",
	"guardian_restarts_total{" WEB "} 3",
	"guardian_restarts_total{" POD "} 0",
	"guardian_actions_total{" WEB ",source=\"engine\",action=\"restart\",rule=\"default guard\"} 2",
	"guardian_actions_total{" WEB ",source=\"guardian\",action=\"restart\",rule=\"\"} 1",
	"guardian_kernel_oom_kills_total{" WEB "} 1",
	"guardian_kernel_oom_kills_total{" POD "} 0",
	"guardian_signals_received_total{" WEB ",signal=\"KILL\",sender_comm=\"bash\"} 1",
};

/* The samples of the known snapshot are exactly these, in this order, and
 * every family has its HELP and TYPE right before its samples. */
static void text_of_a_known_snapshot(void **state)
{
	_cleanup_free_ char *text = NULL;
	char *cursor, *line;
	size_t len, n = 0, fam = 0;
	const char *open_family = NULL;

	assert_int_equal(metrics_text(&known, &text, &len), 0);
	assert_int_equal(strlen(text), len);
	assert_true(len > 0 && text[len - 1] == '\n');
	cursor = text;
	while ((line = next_line(&cursor))) {
		if (strncmp(line, "# HELP ", 7) == 0) {
			char want[160];

			assert_true(fam < metrics_n_families);
			snprintf(want, sizeof(want), "# HELP %s ", metrics_families[fam].name);
			assert_memory_equal(line, want, strlen(want));
			line = next_line(&cursor);
			assert_non_null(line);
			snprintf(want, sizeof(want), "# TYPE %s %s", metrics_families[fam].name, metrics_families[fam].type);
			assert_string_equal(line, want);
			open_family = metrics_families[fam++].name;
			continue;
		}
		assert_true(n < ARRAY_SIZE(known_samples));
		assert_string_equal(line, known_samples[n]);
		/* A sample belongs to the family whose header came last. */
		assert_memory_equal(line, open_family, strlen(open_family));
		n++;
	}
	assert_int_equal(n, ARRAY_SIZE(known_samples));
	assert_int_equal(fam, metrics_n_families);
}

static void label_values_are_escaped(void **state)
{
	struct metrics_service s = { .name = "a\"b\\c\nd", .state = "stopped" };
	struct metrics_snapshot snap = { .version = "x", .services = &s, .n_services = 1,
					 .decision_latency = { .bounds = bounds, .n_bounds = 3, .counts = counts } };
	_cleanup_free_ char *text = NULL;
	size_t len;

	assert_int_equal(metrics_text(&snap, &text, &len), 0);
	assert_non_null(strstr(text, "guardian_restarts_total{service=\"a\\\"b\\\\c\\nd\"} 0\n"));
	/* Nothing sampled, not a pod: no memory series, no pod labels. */
	assert_null(strstr(text, "guardian_memory_working_set_bytes{"));
	assert_null(strstr(text, "namespace="));
}

/* Every family the table names is one the text can hold: a snapshot with
 * every figure present has a sample of each. The dashboard check
 * (tests/tools/grafana-dashboard.py) relies on the table. */
static void every_family_has_samples(void **state)
{
	_cleanup_free_ char *text = NULL;
	size_t len;

	assert_int_equal(metrics_text(&known, &text, &len), 0);
	for (size_t i = 0; i < metrics_n_families; i++) {
		char want[160];

		snprintf(want, sizeof(want), "\n%s%s", metrics_families[i].name,
			 strcmp(metrics_families[i].type, "histogram") == 0 ? "_bucket{" : "");
		assert_non_null(strstr(text, want));
		assert_int_equal(strncmp(metrics_families[i].name, "guardian_", 9), 0);
		if (strcmp(metrics_families[i].type, "counter") == 0)
			assert_non_null(strstr(metrics_families[i].name, "_total"));
	}
}

static void listen_addresses(void **state)
{
	static const char *const bad[] = {
		"", "9464", ":9464", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:x",
		"localhost:9464", "::1:9464", "[::1]", "[::1:9464", "[]:9464", "1.2.3:80",
	};
	struct sockaddr_storage ss;
	socklen_t len;

	assert_int_equal(metrics_parse_listen("127.0.0.1:9464", &ss, &len), 0);
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(ntohs(((struct sockaddr_in *)&ss)->sin_port), 9464);
	assert_int_equal(ntohl(((struct sockaddr_in *)&ss)->sin_addr.s_addr), INADDR_LOOPBACK);
	assert_int_equal(metrics_parse_listen("[::1]:80", &ss, &len), 0);
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_int_equal(len, sizeof(struct sockaddr_in6));
	assert_int_equal(ntohs(((struct sockaddr_in6 *)&ss)->sin6_port), 80);
	assert_int_equal(metrics_parse_listen("0.0.0.0:0", &ss, &len), 0);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		if (metrics_parse_listen(bad[i], &ss, &len) != -EINVAL)
			fail_msg("'%s' was taken", bad[i]);
	}
}

/* ---- the server on the real loop ---- */

/* Far above anything here, even under sanitizers on a loaded machine. */
#define TEST_DEADLINE (20 * USEC_PER_SEC)
#define SLOW_DEADLINE (400 * USEC_PER_MSEC)

struct t {
	char dir[256];
	struct loop *loop;
	struct supervisor sup;
	struct service *svcs[1];
	struct service web;
	struct policy web_policy;
	struct monitors *ms;
	struct actionlog *log;
	struct metrics *m;
	uint16_t port;
	int done[2]; /* the client thread writes a byte when it is finished */
};

static int setup(void **state)
{
	struct t *t = calloc(1, sizeof(*t));
	struct sockaddr_storage ss;
	socklen_t len;
	struct metrics_config cfg = { 0 };
	const char *colon;

	assert_non_null(t);
	tmptree_new(t->dir, sizeof(t->dir), "metrics");
	assert_int_equal(loop_new(&t->loop), 0);
	t->web_policy.service = "web";
	t->web = (struct service){ .sup = &t->sup, .policy = &t->web_policy, .cgfd = -1, .pidfd = -1,
				   .state = SVC_RUNNING, .restarts = 2 };
	t->svcs[0] = &t->web;
	t->sup.services = t->svcs;
	t->sup.n_services = 1;
	assert_int_equal(monitors_new(&(struct monitors_config){ .loop = t->loop }, &t->ms), 0);
	assert_int_equal(actionlog_open(t->dir, 0, 0, &t->log), 0);
	assert_int_equal(metrics_parse_listen("127.0.0.1:0", &ss, &len), 0);
	cfg = (struct metrics_config){ .addr = ss, .addr_len = len, .sup = &t->sup, .monitors = t->ms,
				       .actions = t->log, .request_deadline = SLOW_DEADLINE };
	assert_int_equal(metrics_new(t->loop, &cfg, &t->m), 0);
	colon = strrchr(metrics_address(t->m), ':');
	assert_non_null(colon);
	t->port = (uint16_t)atoi(colon + 1);
	assert_true(t->port > 0);
	assert_int_equal(pipe2(t->done, O_CLOEXEC | O_NONBLOCK), 0);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct t *t = *state;

	metrics_free(t->m);
	assert_int_equal(t->sup.n_subs, 0);
	free(t->sup.subs);
	monitors_free(t->ms);
	actionlog_close(t->log);
	loop_free(t->loop);
	close(t->done[0]);
	close(t->done[1]);
	tmptree_remove(t->dir);
	free(t);
	return 0;
}

static int connect_local(uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct timeval tv = { .tv_sec = 15 };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* One request, the whole answer (the server closes: Connection: close). */
static char *http(uint16_t port, const char *request)
{
	char *buf = calloc(1, 1 << 20);
	size_t len = 0;
	ssize_t n;
	int fd = connect_local(port);

	if (fd < 0 || !buf || write(fd, request, strlen(request)) != (ssize_t)strlen(request)) {
		if (fd >= 0)
			close(fd);
		free(buf);
		return NULL;
	}
	while (len < (1 << 20) - 1 && (n = read(fd, buf + len, (1 << 20) - 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	return buf;
}

#define GET(path) "GET " path " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"

struct client {
	struct t *t;
	char *metrics, *missing, *post;
	/* the slow client's part */
	bool slow;
	long slow_cut_ms;       /* when the server ended the trickling connection */
	char *beside_slow;      /* a scrape while it trickled */
};

static long ms_since(usec_t t0)
{
	return (long)((now_monotonic() - t0) / USEC_PER_MSEC);
}

static void *client_main(void *arg)
{
	struct client *c = arg;

	if (!c->slow) {
		c->metrics = http(c->t->port, GET("/metrics"));
		c->missing = http(c->t->port, GET("/"));
		c->post = http(c->t->port, "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
					   "Connection: close\r\n\r\n");
	} else {
		/* A byte every 50 ms of a request that never ends, then a
		 * scrape beside it: the server must cut the first off at its
		 * deadline and answer the second meanwhile. */
		static const char head[] = "GET /metrics HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
		usec_t t0 = now_monotonic();
		int fd = connect_local(c->t->port);

		c->slow_cut_ms = -1;
		for (size_t i = 0; fd >= 0 && i < sizeof(head) - 1 && ms_since(t0) < 5000; i++) {
			char b;

			if (send(fd, &head[i], 1, MSG_NOSIGNAL) != 1 ||
			    recv(fd, &b, 1, MSG_DONTWAIT) == 0) {
				c->slow_cut_ms = ms_since(t0);
				break;
			}
			if (i == 2)
				c->beside_slow = http(c->t->port, GET("/metrics"));
			usleep(50000);
		}
		if (fd >= 0)
			close(fd);
	}
	(void)!write(c->t->done[1], "x", 1);
	return NULL;
}

static int on_done(struct loop_source *s, int fd, uint32_t revents, void *data)
{
	loop_quit(data, 0);
	return 0;
}

static int on_timeout(struct loop_source *s, int fd, uint32_t revents, void *data)
{
	loop_quit(data, -ETIMEDOUT);
	return 0;
}

/* Runs the loop (the server) while a thread plays the clients. */
static void run_client(struct t *t, struct client *c)
{
	struct loop_source *done = NULL, *timeout = NULL;
	pthread_t th;

	c->t = t;
	assert_int_equal(loop_add_fd(t->loop, t->done[0], EPOLLIN, false, on_done, t->loop, &done), 0);
	assert_int_equal(loop_add_timer(t->loop, TEST_DEADLINE, on_timeout, t->loop, &timeout), 0);
	assert_int_equal(pthread_create(&th, NULL, client_main, c), 0);
	assert_int_equal(loop_run(t->loop), 0);
	pthread_join(th, NULL);
	loop_source_free(done);
	loop_source_free(timeout);
}

static void write_record(struct t *t, const char *service, const char *source, const char *action,
			 const char *key, const char *value)
{
	struct json_object *rec = actionlog_record(service, NULL, source, action, "test");

	if (key)
		json_object_object_add(rec, key, json_object_new_string(value));
	assert_int_equal(actionlog_write(t->log, rec), 0);
}

static void serves_metrics_and_counts_records(void **state)
{
	struct t *t = *state;
	struct client c = { 0 };
	struct json_object *sig;

	/* What the action log saw: counted per service, source, action and
	 * rule; decisions not acted on and follow-ups are not actions. */
	write_record(t, "web", "engine", "restart", "rule", "default guard");
	write_record(t, "web", "engine", "restart", "rule", "default guard");
	write_record(t, "web", "engine", "throttle", "verdict", "dry-run");
	write_record(t, "web", "engine", "follow-up", "rule", "default guard");
	write_record(t, "web", "guardian", "restart", NULL, NULL);
	write_record(t, NULL, "kernel", "oom-kill", NULL, NULL);
	sig = actionlog_record("web", NULL, "signal", "signal", "killed");
	json_object_object_add(sig, "signal", json_object_new_string("KILL"));
	json_object_object_add(sig, "sender_comm", json_object_new_string("bash"));
	assert_int_equal(actionlog_write(t->log, sig), 0);

	run_client(t, &c);
	assert_non_null(c.metrics);
	assert_non_null(strstr(c.metrics, "HTTP/1.1 200"));
	assert_non_null(strstr(c.metrics, "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
	assert_non_null(strstr(c.metrics, "\r\n\r\n# HELP guardian_build_info "));
	assert_non_null(strstr(c.metrics, "\nguardian_up 1\n"));
	assert_non_null(strstr(c.metrics, "\nguardian_restarts_total{service=\"web\"} 2\n"));
	assert_non_null(strstr(c.metrics, "\nguardian_service_state{service=\"web\",state=\"running\"} 1\n"));
	assert_non_null(strstr(c.metrics, "\nguardian_actions_total{service=\"web\",source=\"engine\",action=\"restart\","
					  "rule=\"default guard\"} 2\n"));
	assert_non_null(strstr(c.metrics, "\nguardian_actions_total{service=\"web\",source=\"guardian\",action=\"restart\","
					  "rule=\"\"} 1\n"));
	assert_non_null(strstr(c.metrics, "\nguardian_signals_received_total{service=\"web\",signal=\"KILL\","
					  "sender_comm=\"bash\"} 1\n"));
	assert_null(strstr(c.metrics, "action=\"throttle\""));
	assert_null(strstr(c.metrics, "action=\"follow-up\""));
	assert_null(strstr(c.metrics, "action=\"oom-kill\""));
	/* Without BPF observers every program is off. */
	assert_non_null(strstr(c.metrics, "\nguardian_bpf_program_loaded{program=\"oomkill\"} 0\n"));
	/* Not running under a monitor: no memory figures for it. */
	assert_null(strstr(c.metrics, "guardian_memory_working_set_bytes{"));

	assert_non_null(c.missing);
	assert_non_null(strstr(c.missing, "HTTP/1.1 404"));
	assert_non_null(c.post);
	assert_non_null(strstr(c.post, "HTTP/1.1 405"));
	free(c.metrics);
	free(c.missing);
	free(c.post);
}

static void slow_client_is_cut_off_others_answered(void **state)
{
	struct t *t = *state;
	struct client c = { .slow = true };

	run_client(t, &c);
	assert_non_null(c.beside_slow);
	assert_non_null(strstr(c.beside_slow, "HTTP/1.1 200"));
	assert_non_null(strstr(c.beside_slow, "\nguardian_up 1\n"));
	/* Cut at its deadline (400 ms), well before its 3 s of trickling end. */
	if (c.slow_cut_ms < (long)(SLOW_DEADLINE / USEC_PER_MSEC) - 50 || c.slow_cut_ms > 2500)
		fail_msg("the trickling client was cut after %ld ms (-1: never)", c.slow_cut_ms);
	free(c.beside_slow);
}

/* A service that goes away takes its counters: a new one of the same name
 * starts from nothing. */
static void removed_service_forgets_its_counters(void **state)
{
	struct t *t = *state;
	struct client c = { 0 };

	write_record(t, "web", "guardian", "stop", NULL, NULL);
	for (size_t i = 0; i < t->sup.n_subs; i++)
		if (t->sup.subs[i].hooks->removed)
			t->sup.subs[i].hooks->removed(t->sup.subs[i].data, &t->web);
	run_client(t, &c);
	assert_non_null(c.metrics);
	assert_null(strstr(c.metrics, "guardian_actions_total{"));
	free(c.metrics);
	free(c.missing);
	free(c.post);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(text_of_a_known_snapshot),
		cmocka_unit_test(label_values_are_escaped),
		cmocka_unit_test(every_family_has_samples),
		cmocka_unit_test(listen_addresses),
		cmocka_unit_test_setup_teardown(serves_metrics_and_counts_records, setup, teardown),
		cmocka_unit_test_setup_teardown(slow_client_is_cut_off_others_answered, setup, teardown),
		cmocka_unit_test_setup_teardown(removed_service_forgets_its_counters, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
