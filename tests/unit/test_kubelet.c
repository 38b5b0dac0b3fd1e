/* test_kubelet.c: the kubelet's /pods. The parser on a PodList in the
 * kubelet's format (tests/fixtures/kubelet/pods.json), Kubernetes
 * quantities, and the client on guardian's real loop against a stand-in
 * kubelet (tests/tools/kubelet-standin.py) over HTTPS with a certificate
 * made for the test: the right token gets the pods, a wrong one is told
 * 401 and keeps no pods, a kubelet that is gone is a connect error, and
 * the loop is never blocked waiting for any of it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "kubelet.h"
#include "loop.h"
#include "tmptree.h"

static char *fixture(const char *name, size_t *len)
{
	char path[512];
	char *text = NULL;
	int fd;

	snprintf(path, sizeof(path), "%s/kubelet/%s", getenv("GUARDIAN_FIXTURES") ?: "tests/fixtures", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(read_full(fd, 1 << 20, &text, len), 0);
	close(fd);
	return text;
}

static void test_parse_fixture(void **state)
{
	struct kube_pods pods = { 0 };
	const struct kube_pod *p;
	const struct kube_container *c;
	char err[128] = "";
	size_t len;
	char *json = fixture("pods.json", &len);

	(void)state;
	assert_int_equal(kube_pods_parse(json, len, &pods, err, sizeof(err)), 0);
	/* The item without a uid is no pod to name. */
	assert_int_equal(pods.n, 3);

	p = kube_pods_find(&pods, "5f3c2b9e-1d2a-4c6b-9e8f-0a1b2c3d4e5f");
	assert_non_null(p);
	assert_string_equal(p->namespace_, "default");
	assert_string_equal(p->name, "leaky-6d4cf56db6-x2v9q");
	assert_int_equal(p->qos, KUBE_QOS_BESTEFFORT);
	assert_string_equal(kube_meta_get(p->labels, "app"), "leaky");
	assert_null(kube_meta_get(p->labels, "tier"));
	assert_int_equal(p->priority, 0);
	c = kube_pod_container(p, "8a1f0c6b2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f90");
	assert_non_null(c);
	assert_string_equal(c->name, "leaky");
	assert_int_equal(c->memory_request, 0);

	p = kube_pods_find(&pods, "a0b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d");
	assert_non_null(p);
	assert_int_equal(p->qos, KUBE_QOS_BURSTABLE);
	assert_string_equal(kube_meta_get(p->annotations, "guardian.dev/protected"), "true");
	assert_string_equal(p->priority_class, "shop-high");
	assert_int_equal(p->priority, 1000);
	/* nginx, sidecar and the init container, whose id comes from
	 * initContainerStatuses; the sidecar has no id until it is created. */
	assert_int_equal(p->n_containers, 3);
	c = kube_pod_container(p, "2222222222222222222222222222222222222222222222222222222222222222");
	assert_non_null(c);
	assert_string_equal(c->name, "nginx");
	assert_int_equal(c->memory_request, 128ull << 20);
	assert_int_equal(c->memory_limit, 256ull << 20);
	c = kube_pod_container(p, "1111111111111111111111111111111111111111111111111111111111111111");
	assert_non_null(c);
	assert_string_equal(c->name, "init-config");
	for (size_t i = 0; i < p->n_containers; i++)
		if (strcmp(p->containers[i].name, "sidecar") == 0) {
			assert_null(p->containers[i].id);
			assert_int_equal(p->containers[i].memory_request, 32000000);
		}

	/* cri-o:// is a scheme like containerd://; a limit alone is the request. */
	p = kube_pods_find(&pods, "c9d8e7f6-a5b4-4c3d-8e2f-1a0b9c8d7e6f");
	assert_non_null(p);
	assert_int_equal(p->qos, KUBE_QOS_GUARANTEED);
	assert_int_equal(p->priority, 2000000000);
	c = kube_pod_container(p, "3333333333333333333333333333333333333333333333333333333333333333");
	assert_non_null(c);
	assert_int_equal(c->memory_request, 170ull << 20);

	assert_null(kube_pods_find(&pods, "00000000-0000-0000-0000-000000000000"));
	assert_null(kube_pod_container(p, "8a1f"));
	kube_pods_clear(&pods);
	free(json);
}

static void test_parse_refuses(void **state)
{
	static const char *const bad[] = {
		"", "{", "[]", "{\"kind\":\"Pod\",\"items\":[]}", "{\"kind\":\"PodList\",\"items\":{}}", "null",
	};
	struct kube_pods pods = { 0 };
	char err[128];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		err[0] = '\0';
		assert_int_equal(kube_pods_parse(bad[i], strlen(bad[i]), &pods, err, sizeof(err)), -EBADMSG);
		assert_true(err[0] != '\0');
		assert_int_equal(pods.n, 0);
	}
	/* Wrong types inside an item are left out, not trusted. */
	static const char odd[] = "{\"kind\":\"PodList\",\"items\":[{\"metadata\":{\"uid\":\"u\",\"name\":\"n\","
				  "\"namespace\":\"ns\",\"labels\":{\"a\":1,\"b\":\"x\"}},\"spec\":{\"priority\":\"9\","
				  "\"containers\":[{\"name\":7},{\"name\":\"c\",\"resources\":{\"requests\":{\"memory\":"
				  "\"lots\"}}}]},\"status\":{\"qosClass\":\"Platinum\"}}]}";
	assert_int_equal(kube_pods_parse(odd, strlen(odd), &pods, err, sizeof(err)), 0);
	assert_int_equal(pods.n, 1);
	assert_null(kube_meta_get(pods.pods[0].labels, "a"));
	assert_string_equal(kube_meta_get(pods.pods[0].labels, "b"), "x");
	assert_int_equal(pods.pods[0].priority, 0);
	assert_int_equal(pods.pods[0].qos, KUBE_QOS_UNKNOWN);
	assert_int_equal(pods.pods[0].n_containers, 1);
	assert_int_equal(pods.pods[0].containers[0].memory_request, 0);
	kube_pods_clear(&pods);
}

/* A PodList of pods "a", "b", "c" with these labels and annotations. */
static void three_pods(struct kube_pods *pods, const char *la, const char *aa, const char *lb, const char *ab)
{
	char json[2048], err[128];

	snprintf(json, sizeof(json),
		 "{\"kind\":\"PodList\",\"items\":["
		 "{\"metadata\":{\"uid\":\"a\",\"name\":\"a\",\"namespace\":\"n\",\"labels\":%s,\"annotations\":%s}},"
		 "{\"metadata\":{\"uid\":\"b\",\"name\":\"b\",\"namespace\":\"n\",\"labels\":%s,\"annotations\":%s}},"
		 "{\"metadata\":{\"uid\":\"c\",\"name\":\"c\",\"namespace\":\"n\",\"labels\":{\"x\":\"1\"}}}]}",
		 la, aa, lb, ab);
	assert_int_equal(kube_pods_parse(json, strlen(json), pods, err, sizeof(err)), 0);
	assert_int_equal(pods->n, 3);
}

/* kubectl label / annotate between two fetches: those pods, and only
 * those, are judged again. */
static void test_meta_changes(void **state)
{
	struct kube_pods old = { 0 }, same = { 0 }, fresh = { 0 }, none = { 0 };

	(void)state;
	three_pods(&old, "{\"app\":\"web\",\"tier\":\"1\"}", "{}", "{}", "{\"guardian.dev/protected\":\"true\"}");
	/* The same metadata in another order is no change. */
	three_pods(&same, "{\"tier\":\"1\",\"app\":\"web\"}", "{}", "{}", "{\"guardian.dev/protected\":\"true\"}");
	assert_int_equal(kube_pods_mark_changes(&old, &same), 0);
	/* a: a label's value; b: an annotation removed; c: as it was. */
	three_pods(&fresh, "{\"app\":\"web\",\"tier\":\"2\"}", "{}", "{}", "{}");
	assert_int_equal(kube_pods_mark_changes(&old, &fresh), 2);
	assert_true(kube_pods_find(&fresh, "a")->meta_changed);
	assert_true(kube_pods_find(&fresh, "b")->meta_changed);
	assert_false(kube_pods_find(&fresh, "c")->meta_changed);
	/* A label added is a change too; a pod the old table lacked is new, not changed. */
	kube_pods_clear(&same);
	three_pods(&same, "{\"app\":\"web\",\"tier\":\"2\",\"extra\":\"\"}", "{}", "{}", "{}");
	assert_int_equal(kube_pods_mark_changes(&fresh, &same), 1);
	assert_true(kube_pods_find(&same, "a")->meta_changed);
	assert_int_equal(kube_pods_mark_changes(&none, &same), 0);
	kube_pods_clear(&old);
	kube_pods_clear(&same);
	kube_pods_clear(&fresh);
}

static void test_quantity(void **state)
{
	static const struct {
		const char *s;
		uint64_t v;
	} good[] = {
		{ "128Mi", 128ull << 20 }, { "1Gi", 1ull << 30 }, { "1.5Gi", 3ull << 29 }, { "32M", 32000000 },
		{ "1e3", 1000 },           { "100m", 1 },         { "0", 0 },           { "2k", 2000 },
		{ "1Ki", 1024 },           { "123", 123 },
	};
	static const char *const bad[] = { "", "Mi", "-1", "1Zi", "12kk", "1 Mi", "nan", "inf", "99999Ei" };
	uint64_t v;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		assert_int_equal(kube_parse_quantity(good[i].s, &v), 0);
		assert_int_equal(v, good[i].v);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_true(kube_parse_quantity(bad[i], &v) < 0);
}

static void test_url(void **state)
{
	static const char *const cases[][2] = {
		{ "10.0.0.5", "https://10.0.0.5:10250" },
		{ "10.0.0.5:10255", "https://10.0.0.5:10255" },
		{ "node-1", "https://node-1:10250" },
		{ "fd00::5", "https://[fd00::5]:10250" },
		{ "[fd00::5]:10250", "https://[fd00::5]:10250" },
		{ "https://node-1:10250/", "https://node-1:10250" },
		{ "http://127.0.0.1:8080", "http://127.0.0.1:8080" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *u = kubelet_normalize_url(cases[i][0]);

		assert_non_null(u);
		assert_string_equal(u, cases[i][1]);
		free(u);
	}
}

/* ---- the client against a stand-in kubelet ---- */

struct standin {
	char dir[256], cert[300], key[300], token[300], wrong[300], pods[300], port_file[300];
	pid_t pid;
	int port;
};

static void make_cert(struct standin *s)
{
	char cmd[1400];

	snprintf(cmd, sizeof(cmd),
		 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
		 "-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -keyout %s -out %s 2>/dev/null",
		 s->key, s->cert);
	assert_int_equal(system(cmd), 0);
}

static void standin_start(struct standin *s)
{
	const char *script = getenv("KUBELET_STANDIN");
	size_t len;
	char *json = fixture("pods.json", &len);
	usec_t deadline;

	assert_non_null(script);
	tmptree_new(s->dir, sizeof(s->dir), "kubelet");
	snprintf(s->cert, sizeof(s->cert), "%s/cert.pem", s->dir);
	snprintf(s->key, sizeof(s->key), "%s/key.pem", s->dir);
	snprintf(s->token, sizeof(s->token), "%s/token", s->dir);
	snprintf(s->wrong, sizeof(s->wrong), "%s/wrong", s->dir);
	snprintf(s->pods, sizeof(s->pods), "%s/pods.json", s->dir);
	snprintf(s->port_file, sizeof(s->port_file), "%s/port", s->dir);
	make_cert(s);
	tmptree_write(s->token, "s3cret-token\n");
	tmptree_write(s->wrong, "not-the-token\n");
	tmptree_write(s->pods, json);
	free(json);

	s->pid = fork();
	assert_true(s->pid >= 0);
	if (s->pid == 0) {
		execlp("python3", "python3", script, "--cert", s->cert, "--key", s->key, "--token", s->token, "--pods",
		       s->pods, "--port-file", s->port_file, (char *)NULL);
		_exit(127);
	}
	/* python3 takes a moment to start: wait for the port it writes. */
	deadline = now_monotonic() + 30 * USEC_PER_SEC;
	for (;;) {
		FILE *f = fopen(s->port_file, "re");

		if (f) {
			assert_int_equal(fscanf(f, "%d", &s->port), 1);
			fclose(f);
			break;
		}
		assert_true(now_monotonic() < deadline);
		assert_int_equal(waitpid(s->pid, NULL, WNOHANG), 0);
		usleep(20000);
	}
}

static void standin_stop(struct standin *s)
{
	if (s->pid > 0) {
		kill(s->pid, SIGTERM);
		waitpid(s->pid, NULL, 0);
		s->pid = 0;
	}
}

struct run {
	struct loop *loop;
	unsigned updates;
	unsigned quit_after;
	unsigned ticks;     /* loop turns seen while a fetch ran: it never blocked */
};

static void on_update(void *data)
{
	struct run *r = data;

	if (++r->updates >= r->quit_after)
		loop_quit(r->loop, 0);
}

static int on_tick(struct loop_source *s, int fd, uint32_t revents, void *data)
{
	struct run *r = data;

	(void)s, (void)fd, (void)revents;
	r->ticks++;
	return 0;
}

static int on_give_up(struct loop_source *s, int fd, uint32_t revents, void *data)
{
	(void)s, (void)fd, (void)revents;
	loop_quit(((struct run *)data)->loop, 1);
	return 0;
}

/* Run the loop until the kubelet client has reported `updates` fetches. */
static void run_until(struct run *r, unsigned updates)
{
	struct loop_source *give_up = NULL;

	r->quit_after = r->updates + updates;
	assert_int_equal(loop_add_timer(r->loop, 30 * USEC_PER_SEC, on_give_up, r, &give_up), 0);
	assert_int_equal(loop_run(r->loop), 0);
	loop_source_free(give_up);
}

static void test_client(void **state)
{
	struct standin s = { 0 };
	struct run r = { 0 };
	struct loop_source *tick = NULL;
	struct kubelet *k = NULL, *bad = NULL;
	char url[64];
	const char *err;

	(void)state;
	standin_start(&s);
	assert_int_equal(loop_new(&r.loop), 0);
	assert_int_equal(loop_add_interval(r.loop, 2 * USEC_PER_MSEC, on_tick, &r, &tick), 0);
	snprintf(url, sizeof(url), "127.0.0.1:%d", s.port); /* a host: https is added */

	/* The right token and the CA that signed the serving cert. */
	assert_int_equal(kubelet_new(r.loop, &(struct kubelet_config){ .url = url, .token_file = s.token, .ca_file = s.cert },
				     on_update, &r, &k),
			 0);
	assert_false(kubelet_ok(k, &err));
	assert_true(kubelet_worth_waiting(k)); /* not asked yet: worth waiting for */
	run_until(&r, 1);
	assert_true(kubelet_ok(k, &err));
	assert_int_equal(kubelet_pods(k)->n, 3);
	assert_non_null(kube_pods_find(kubelet_pods(k), "c9d8e7f6-a5b4-4c3d-8e2f-1a0b9c8d7e6f"));
	/* The loop went on turning while the TLS handshake and the fetch ran. */
	assert_true(r.ticks > 0);

	/* A pod appears: asked for, the list is fetched again. */
	tmptree_write(s.pods, "{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":{},\"items\":[{\"metadata\":"
			      "{\"name\":\"new\",\"namespace\":\"ns\",\"uid\":\"u-1\"},\"status\":{\"qosClass\":"
			      "\"BestEffort\"}}]}");
	kubelet_refresh(k);
	run_until(&r, 1);
	assert_true(kubelet_ok(k, NULL));
	assert_int_equal(kubelet_pods(k)->n, 1);
	assert_string_equal(kubelet_pods(k)->pods[0].name, "new");

	/* A wrong token: 401, said so, and no pods kept. */
	assert_int_equal(kubelet_new(r.loop,
				     &(struct kubelet_config){ .url = url, .token_file = s.wrong, .ca_file = s.cert },
				     on_update, &r, &bad),
			 0);
	run_until(&r, 1);
	assert_false(kubelet_ok(bad, &err));
	assert_non_null(strstr(err, "HTTP 401"));
	assert_int_equal(kubelet_pods(bad)->n, 0);
	assert_false(kubelet_worth_waiting(bad));
	kubelet_free(bad);

	/* A self-signed serving cert, checked against the system's CAs, is
	 * refused ... */
	assert_int_equal(kubelet_new(r.loop, &(struct kubelet_config){ .url = url, .token_file = s.token },
				     on_update, &r, &bad),
			 0);
	run_until(&r, 1);
	assert_false(kubelet_ok(bad, &err));
	kubelet_free(bad);
	/* ... unless told not to check it. */
	assert_int_equal(kubelet_new(r.loop, &(struct kubelet_config){ .url = url, .token_file = s.token, .insecure_tls = true },
				     on_update, &r, &bad),
			 0);
	run_until(&r, 1);
	assert_true(kubelet_ok(bad, &err));
	kubelet_free(bad);

	/* The kubelet goes away: the next fetch fails and the table empties. */
	standin_stop(&s);
	kubelet_refresh(k);
	run_until(&r, 1);
	assert_false(kubelet_ok(k, &err));
	assert_int_equal(kubelet_pods(k)->n, 0);
	assert_true(strlen(err) > 0);

	kubelet_free(k);
	loop_source_free(tick);
	loop_free(r.loop);
	tmptree_remove(s.dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_fixture),
		cmocka_unit_test(test_parse_refuses),
		cmocka_unit_test(test_meta_changes),
		cmocka_unit_test(test_quantity),
		cmocka_unit_test(test_url),
		cmocka_unit_test(test_client),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
