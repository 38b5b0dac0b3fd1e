/* kubelet.c: the kubelet's /pods, fetched with libcurl's multi interface
 * on guardian's loop (its sockets are loop fds, its timeout a loop timer),
 * parsed with json-c into a table of pods. See kubelet.h. */
#include <curl/curl.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <math.h>

#include "kubelet.h"
#include "log.h"

/* A node runs at most a few hundred pods; their list is a few MiB. */
#define BODY_MAX ((size_t)64 << 20)
#define TOKEN_MAX 16384
#define FETCH_TIMEOUT_MS 10000
#define CONNECT_TIMEOUT_MS 3000
#define BACKOFF_MAX (60 * USEC_PER_SEC)

/* ---- the PodList, pure ---- */

static char *dup_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return strdup(json_object_get_string(v));
}

static struct json_object *get_obj(struct json_object *o, const char *key, enum json_type t)
{
	struct json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, t))
		return NULL;
	return v;
}

/* A map of strings (labels, annotations) as key, value, ..., NULL;
 * values that are not strings are left out. */
static char **string_map(struct json_object *o)
{
	size_t n = 0;
	char **kv;

	if (!o)
		return NULL;
	kv = calloc(2 * json_object_object_length(o) + 1, sizeof(*kv));
	if (!kv)
		return NULL;
	json_object_object_foreach(o, key, val)
	{
		if (!json_object_is_type(val, json_type_string))
			continue;
		kv[n] = strdup(key);
		kv[n + 1] = strdup(json_object_get_string(val));
		if (!kv[n] || !kv[n + 1]) {
			free(kv[n]);
			free(kv[n + 1]);
			kv[n] = kv[n + 1] = NULL;
			break;
		}
		n += 2;
	}
	return kv;
}

const char *kube_meta_get(char *const *kv, const char *key)
{
	for (; kv && kv[0] && kv[1]; kv += 2)
		if (strcmp(kv[0], key) == 0)
			return kv[1];
	return NULL;
}

int kube_parse_quantity(const char *s, uint64_t *ret)
{
	static const struct {
		const char *suffix;
		double mult;
	} suffixes[] = {
		{ "Ki", 0x1p10 }, { "Mi", 0x1p20 }, { "Gi", 0x1p30 }, { "Ti", 0x1p40 }, { "Pi", 0x1p50 }, { "Ei", 0x1p60 },
		{ "k", 1e3 },     { "M", 1e6 },     { "G", 1e9 },     { "T", 1e12 },    { "P", 1e15 },    { "E", 1e18 },
		{ "m", 1e-3 },    { "", 1 },
	};
	char *end;
	double v;

	if (!s || !((*s >= '0' && *s <= '9') || *s == '.' || *s == '+'))
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || !isfinite(v) || v < 0)
		return -EINVAL;
	for (size_t i = 0; i < ARRAY_SIZE(suffixes); i++) {
		if (strcmp(end, suffixes[i].suffix) != 0)
			continue;
		v = ceil(v * suffixes[i].mult);
		if (v >= 0x1p64)
			return -ERANGE;
		*ret = (uint64_t)v;
		return 0;
	}
	return -EINVAL;
}

static uint64_t memory_of(struct json_object *resources, const char *which)
{
	struct json_object *m = get_obj(get_obj(resources, which, json_type_object), "memory", json_type_string);
	uint64_t v;

	return m && kube_parse_quantity(json_object_get_string(m), &v) == 0 ? v : 0;
}

/* The runtime's id of a container status: "containerd://ID" -> ID. */
static const char *strip_scheme(const char *id)
{
	const char *s = strstr(id, "://");

	return s ? s + 3 : id;
}

static void container_free(struct kube_container *c)
{
	free(c->name);
	free(c->id);
}

/* Containers from spec (names, requests) matched with status (ids). */
static int pod_containers(struct kube_pod *pod, struct json_object *spec, struct json_object *status)
{
	static const char *const lists[][2] = {
		{ "containers", "containerStatuses" },
		{ "initContainers", "initContainerStatuses" },
		{ "ephemeralContainers", "ephemeralContainerStatuses" },
	};

	for (size_t l = 0; l < ARRAY_SIZE(lists); l++) {
		struct json_object *sp = get_obj(spec, lists[l][0], json_type_array);
		struct json_object *st = get_obj(status, lists[l][1], json_type_array);
		size_t n = sp ? json_object_array_length(sp) : 0;
		struct kube_container *v;

		if (n == 0)
			continue;
		v = reallocarray(pod->containers, pod->n_containers + n, sizeof(*v));
		if (!v)
			return -ENOMEM;
		pod->containers = v;
		for (size_t i = 0; i < n; i++) {
			struct json_object *c = json_object_array_get_idx(sp, i);
			struct kube_container *kc = &pod->containers[pod->n_containers];
			struct json_object *res = get_obj(c, "resources", json_type_object);

			*kc = (struct kube_container){ .name = dup_str(c, "name") };
			if (!kc->name)
				continue;
			kc->memory_request = memory_of(res, "requests");
			kc->memory_limit = memory_of(res, "limits");
			/* A limit alone is also the request, as the API server defaults it. */
			if (!kc->memory_request)
				kc->memory_request = kc->memory_limit;
			for (size_t j = 0; st && j < json_object_array_length(st); j++) {
				struct json_object *s = json_object_array_get_idx(st, j);
				struct json_object *nm = get_obj(s, "name", json_type_string);
				struct json_object *id = get_obj(s, "containerID", json_type_string);

				if (nm && id && strcmp(json_object_get_string(nm), kc->name) == 0) {
					kc->id = strdup(strip_scheme(json_object_get_string(id)));
					break;
				}
			}
			pod->n_containers++;
		}
	}
	return 0;
}

static void pod_free(struct kube_pod *p)
{
	free(p->uid);
	free(p->namespace_);
	free(p->name);
	strv_free(p->labels);
	strv_free(p->annotations);
	free(p->priority_class);
	for (size_t i = 0; i < p->n_containers; i++)
		container_free(&p->containers[i]);
	free(p->containers);
}

void kube_pods_clear(struct kube_pods *p)
{
	for (size_t i = 0; i < p->n; i++)
		pod_free(&p->pods[i]);
	free(p->pods);
	*p = (struct kube_pods){ 0 };
}

static int pod_from_json(struct json_object *item, struct kube_pod *pod)
{
	struct json_object *meta = get_obj(item, "metadata", json_type_object);
	struct json_object *spec = get_obj(item, "spec", json_type_object);
	struct json_object *status = get_obj(item, "status", json_type_object);
	struct json_object *v;

	*pod = (struct kube_pod){ 0 };
	if (!meta)
		return -EINVAL;
	pod->uid = dup_str(meta, "uid");
	pod->name = dup_str(meta, "name");
	pod->namespace_ = dup_str(meta, "namespace");
	if (!pod->uid || !pod->name || !pod->namespace_)
		return -EINVAL;
	pod->labels = string_map(get_obj(meta, "labels", json_type_object));
	pod->annotations = string_map(get_obj(meta, "annotations", json_type_object));
	if ((v = get_obj(spec, "priority", json_type_int)))
		pod->priority = json_object_get_int64(v);
	pod->priority_class = spec ? dup_str(spec, "priorityClassName") : NULL;
	if ((v = get_obj(status, "qosClass", json_type_string)) &&
	    kube_qos_from_string(json_object_get_string(v), &pod->qos) < 0)
		pod->qos = KUBE_QOS_UNKNOWN;
	return pod_containers(pod, spec, status);
}

static int cmp_pod(const void *a, const void *b)
{
	return strcmp(((const struct kube_pod *)a)->uid, ((const struct kube_pod *)b)->uid);
}

int kube_pods_parse(const char *json, size_t len, struct kube_pods *ret, char *err, size_t err_len)
{
	struct json_tokener *tok = json_tokener_new_ex(64);
	struct json_object *root, *items, *kind;
	struct kube_pods out = { 0 };
	size_t n;
	int r = 0;

	if (!tok)
		return -ENOMEM;
	root = json_tokener_parse_ex(tok, json, (int)(len > INT32_MAX ? INT32_MAX : len));
	if (!root || json_tokener_get_error(tok) != json_tokener_success) {
		snprintf(err, err_len, "not JSON: %s", json_tokener_error_desc(json_tokener_get_error(tok)));
		r = -EBADMSG;
		goto out;
	}
	kind = get_obj(root, "kind", json_type_string);
	items = get_obj(root, "items", json_type_array);
	if (!items || (kind && strcmp(json_object_get_string(kind), "PodList") != 0)) {
		snprintf(err, err_len, "not a PodList (no items array)");
		r = -EBADMSG;
		goto out;
	}
	n = json_object_array_length(items);
	out.pods = calloc(n ?: 1, sizeof(*out.pods));
	if (!out.pods) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct kube_pod *p = &out.pods[out.n];

		r = pod_from_json(json_object_array_get_idx(items, i), p);
		if (r == -ENOMEM) {
			pod_free(p);
			kube_pods_clear(&out);
			goto out;
		}
		if (r < 0 || kube_pods_find(&out, p->uid)) {
			pod_free(p); /* no uid or name, or a uid twice: not a pod to name */
			continue;
		}
		out.n++;
		qsort(out.pods, out.n, sizeof(*out.pods), cmp_pod);
	}
	r = 0;
	*ret = out;
out:
	json_object_put(root);
	json_tokener_free(tok);
	return r;
}

const struct kube_pod *kube_pods_find(const struct kube_pods *p, const char *uid)
{
	struct kube_pod key = { .uid = (char *)uid };

	return p->n ? bsearch(&key, p->pods, p->n, sizeof(*p->pods), cmp_pod) : NULL;
}

/* The same keys with the same values, in any order. */
static bool meta_same(char *const *a, char *const *b)
{
	size_t na = 0, nb = 0;

	for (; a && a[0] && a[1]; a += 2, na++) {
		const char *v = kube_meta_get(b, a[0]);

		if (!v || strcmp(v, a[1]) != 0)
			return false;
	}
	for (; b && b[0] && b[1]; b += 2)
		nb++;
	return na == nb;
}

size_t kube_pods_mark_changes(const struct kube_pods *old, struct kube_pods *fresh)
{
	size_t n = 0;

	for (size_t i = 0; i < fresh->n; i++) {
		struct kube_pod *pod = &fresh->pods[i];
		const struct kube_pod *was = kube_pods_find(old, pod->uid);

		pod->meta_changed = was && (!meta_same(was->labels, pod->labels) ||
					    !meta_same(was->annotations, pod->annotations));
		n += pod->meta_changed;
	}
	fresh->n_meta_changed = n;
	return n;
}

const struct kube_container *kube_pod_container(const struct kube_pod *pod, const char *id)
{
	for (size_t i = 0; pod && i < pod->n_containers; i++)
		if (pod->containers[i].id && strcmp(pod->containers[i].id, id) == 0)
			return &pod->containers[i];
	return NULL;
}

/* ---- the client, on the loop ---- */

struct kubelet {
	struct loop *loop;
	CURLM *multi;
	CURL *easy;              /* the fetch under way, or NULL */
	struct curl_slist *headers;
	struct loop_source *curl_timer;
	struct loop_source *next; /* the next fetch: refresh, asked for, or retry */
	char *url, *token_file, *ca_file;
	bool insecure_tls;
	char *body;
	size_t body_len, body_size;
	bool body_too_big;
	bool asked;              /* a fetch was asked for while one ran */
	usec_t last_start;
	unsigned failures, fetches;
	bool ok;
	char error[256];
	struct kube_pods pods;
	kubelet_update_fn on_update;
	void *data;
};

static void schedule(struct kubelet *k, usec_t after);

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *data)
{
	struct kubelet *k = data;
	size_t n = size * nmemb;

	if (k->body_len + n + 1 > BODY_MAX) {
		k->body_too_big = true;
		return 0; /* ends the transfer with CURLE_WRITE_ERROR */
	}
	if (k->body_len + n + 1 > k->body_size) {
		size_t want = k->body_size ? k->body_size : 65536;
		char *b;

		while (want < k->body_len + n + 1)
			want *= 2;
		b = realloc(k->body, want);
		if (!b)
			return 0;
		k->body = b;
		k->body_size = want;
	}
	memcpy(k->body + k->body_len, ptr, n);
	k->body_len += n;
	k->body[k->body_len] = '\0';
	return n;
}

static usec_t backoff(const struct kubelet *k)
{
	usec_t b = USEC_PER_SEC << (k->failures > 7 ? 6 : k->failures - 1);

	return b < BACKOFF_MAX ? b : BACKOFF_MAX;
}

static void failed(struct kubelet *k, const char *why)
{
	if (k->ok || k->failures == 0)
		log_warning("kubelet %s/pods: %s; naming pods from their log directories until it answers", k->url,
			    why);
	snprintf(k->error, sizeof(k->error), "%s", why);
	k->ok = false;
	k->failures++;
	kube_pods_clear(&k->pods); /* a stale list would name a pod by a deleted one's uid */
}

static void fetch_done(struct kubelet *k, CURLcode code)
{
	long status = 0;
	struct kube_pods fresh = { 0 };
	char why[200] = "";

	curl_easy_getinfo(k->easy, CURLINFO_RESPONSE_CODE, &status);
	if (k->body_too_big)
		snprintf(why, sizeof(why), "its answer is over %zu MiB", BODY_MAX >> 20);
	else if (code != CURLE_OK)
		snprintf(why, sizeof(why), "%s", curl_easy_strerror(code));
	else if (status != 200)
		snprintf(why, sizeof(why), "HTTP %ld%s", status,
			 status == 401   ? " (the token was refused)"
			 : status == 403 ? " (the service account may not read nodes/pods or nodes/proxy)"
					 : "");
	else if (kube_pods_parse(k->body ?: "", k->body_len, &fresh, why, sizeof(why)) < 0 && !why[0])
		snprintf(why, sizeof(why), "out of memory");

	curl_multi_remove_handle(k->multi, k->easy);
	curl_easy_cleanup(k->easy);
	k->easy = NULL;
	k->fetches++;
	if (why[0]) {
		failed(k, why);
	} else {
		if (!k->ok)
			log_info("kubelet %s/pods: %zu pods", k->url, fresh.n);
		(void)kube_pods_mark_changes(&k->pods, &fresh);
		kube_pods_clear(&k->pods);
		k->pods = fresh;
		k->ok = true;
		k->failures = 0;
		k->error[0] = '\0';
	}
	if (k->asked) {
		k->asked = false;
		schedule(k, KUBELET_MIN_GAP);
	} else if (k->failures) {
		schedule(k, backoff(k));
	} else {
		schedule(k, KUBELET_REFRESH);
	}
	if (k->on_update)
		k->on_update(k->data);
}

static void check_done(struct kubelet *k)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(k->multi, &left)))
		if (m->msg == CURLMSG_DONE && m->easy_handle == k->easy)
			fetch_done(k, m->data.result);
}

static int on_socket_io(struct loop_source *src, int fd, uint32_t revents, void *data)
{
	struct kubelet *k = data;
	int flags = 0, running;

	(void)src;
	if (revents & EPOLLIN)
		flags |= CURL_CSELECT_IN;
	if (revents & EPOLLOUT)
		flags |= CURL_CSELECT_OUT;
	if (revents & (EPOLLERR | EPOLLHUP))
		flags |= CURL_CSELECT_ERR;
	curl_multi_socket_action(k->multi, fd, flags, &running);
	check_done(k);
	return 0;
}

static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *data, void *socketp)
{
	struct kubelet *k = data;
	struct loop_source *src = socketp;
	uint32_t events = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		loop_source_freep(&src);
		curl_multi_assign(k->multi, fd, NULL);
		return 0;
	}
	if (src)
		return loop_fd_set_events(src, events) < 0 ? -1 : 0;
	if (loop_add_fd(k->loop, fd, events, false, on_socket_io, k, &src) < 0)
		return -1;
	curl_multi_assign(k->multi, fd, src);
	return 0;
}

static int on_curl_timeout(struct loop_source *src, int fd, uint32_t revents, void *data)
{
	struct kubelet *k = data;
	int running;

	(void)src, (void)fd, (void)revents;
	curl_multi_socket_action(k->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(k);
	return 0;
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *data)
{
	struct kubelet *k = data;
	usec_t after = timeout_ms <= 0 ? 1 : (usec_t)timeout_ms * USEC_PER_MSEC;

	(void)multi;
	if (timeout_ms < 0) {
		loop_source_freep(&k->curl_timer);
		return 0;
	}
	if (k->curl_timer)
		return loop_timer_rearm(k->curl_timer, after) < 0 ? -1 : 0;
	return loop_add_timer(k->loop, after, on_curl_timeout, k, &k->curl_timer) < 0 ? -1 : 0;
}

/* The token, read afresh: a projected service-account token is rotated
 * by the kubelet every hour. */
static int auth_header(struct kubelet *k)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *tok = NULL, *h = NULL;
	size_t len;
	int r;

	curl_slist_free_all(k->headers);
	k->headers = curl_slist_append(NULL, "Accept: application/json");
	if (!k->headers)
		return -ENOMEM;
	if (!k->token_file)
		return 0;
	fd = open(k->token_file, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	r = read_full(fd, TOKEN_MAX, &tok, &len);
	if (r < 0)
		return r;
	while (len > 0 && (tok[len - 1] == '\n' || tok[len - 1] == '\r' || tok[len - 1] == ' '))
		tok[--len] = '\0';
	if (len == 0 || strpbrk(tok, "\r\n"))
		return -EBADMSG;
	if (asprintf(&h, "Authorization: Bearer %s", tok) < 0)
		return -ENOMEM;
	struct curl_slist *l = curl_slist_append(k->headers, h);
	if (!l)
		return -ENOMEM;
	k->headers = l;
	return 0;
}

static int start_fetch(struct kubelet *k)
{
	_cleanup_free_ char *url = NULL;
	int r;

	if (k->easy)
		return 0;
	r = auth_header(k);
	if (r < 0) {
		snprintf(k->error, sizeof(k->error), "token %s: %s", k->token_file,
			 r == -EBADMSG ? "empty or not one line" : strerror(-r));
		return r;
	}
	if (asprintf(&url, "%s/pods", k->url) < 0)
		return -ENOMEM;
	k->easy = curl_easy_init();
	if (!k->easy)
		return -ENOMEM;
	k->body_len = 0;
	k->body_too_big = false;
	curl_easy_setopt(k->easy, CURLOPT_URL, url);
	curl_easy_setopt(k->easy, CURLOPT_HTTPHEADER, k->headers);
	curl_easy_setopt(k->easy, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(k->easy, CURLOPT_WRITEDATA, k);
	curl_easy_setopt(k->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(k->easy, CURLOPT_TIMEOUT_MS, (long)FETCH_TIMEOUT_MS);
	curl_easy_setopt(k->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)CONNECT_TIMEOUT_MS);
	curl_easy_setopt(k->easy, CURLOPT_PROTOCOLS_STR, "https,http");
	curl_easy_setopt(k->easy, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(k->easy, CURLOPT_ACCEPT_ENCODING, "");
	if (k->ca_file)
		curl_easy_setopt(k->easy, CURLOPT_CAINFO, k->ca_file);
	if (k->insecure_tls) {
		curl_easy_setopt(k->easy, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(k->easy, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (curl_multi_add_handle(k->multi, k->easy) != CURLM_OK) {
		curl_easy_cleanup(k->easy);
		k->easy = NULL;
		return -ENOMEM;
	}
	k->last_start = now_monotonic();
	return 0;
}

static int on_next(struct loop_source *src, int fd, uint32_t revents, void *data)
{
	struct kubelet *k = data;
	int r;

	(void)src, (void)fd, (void)revents;
	r = start_fetch(k);
	if (r < 0) {
		/* Not even sent: the same as a failed fetch, so callers waiting
		 * on it go on with the log directories. */
		char why[sizeof(k->error)];

		snprintf(why, sizeof(why), "%s", r == -ENOMEM ? "out of memory" : k->error);
		k->fetches++;
		failed(k, why);
		schedule(k, backoff(k));
		if (k->on_update)
			k->on_update(k->data);
	}
	return 0;
}

static void schedule(struct kubelet *k, usec_t after)
{
	if (k->next ? loop_timer_rearm(k->next, after) : loop_add_timer(k->loop, after, on_next, k, &k->next) < 0)
		log_warning("kubelet: cannot schedule the next fetch: out of memory");
}

void kubelet_refresh(struct kubelet *k)
{
	usec_t now = now_monotonic(), due;

	if (!k)
		return;
	if (k->easy) {
		k->asked = true;
		return;
	}
	due = k->last_start + KUBELET_MIN_GAP;
	schedule(k, due > now ? due - now : 1);
}

char *kubelet_normalize_url(const char *s)
{
	char *u = NULL;
	size_t len = strlen(s);
	int r;

	while (len > 0 && s[len - 1] == '/')
		len--;
	const char *colon = memchr(s, ':', len);
	bool v6 = colon && memchr(colon + 1, ':', len - (size_t)(colon + 1 - s)) && s[0] != '[';

	if (strstr(s, "://"))
		return strndup(s, len);
	/* A bare host: the kubelet's authenticated port; a bare IPv6 address
	 * (the downward API's status.hostIP on a v6 node) in brackets. */
	if (v6)
		r = asprintf(&u, "https://[%.*s]:10250", (int)len, s);
	else
		r = asprintf(&u, "https://%.*s%s", (int)len, s, colon ? "" : ":10250");
	return r < 0 ? NULL : u;
}

int kubelet_new(struct loop *loop, const struct kubelet_config *cfg, kubelet_update_fn on_update, void *data,
		struct kubelet **ret)
{
	struct kubelet *k;
	static bool global;

	if (!global) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			return -ENOMEM;
		global = true;
	}
	k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	k->loop = loop;
	k->on_update = on_update;
	k->data = data;
	k->insecure_tls = cfg->insecure_tls;
	k->url = kubelet_normalize_url(cfg->url);
	k->token_file = cfg->token_file ? strdup(cfg->token_file) : NULL;
	k->ca_file = cfg->ca_file ? strdup(cfg->ca_file) : NULL;
	k->multi = curl_multi_init();
	if (!k->url || (cfg->token_file && !k->token_file) || (cfg->ca_file && !k->ca_file) || !k->multi) {
		kubelet_free(k);
		return -ENOMEM;
	}
	snprintf(k->error, sizeof(k->error), "not asked yet");
	curl_multi_setopt(k->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
	curl_multi_setopt(k->multi, CURLMOPT_SOCKETDATA, k);
	curl_multi_setopt(k->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
	curl_multi_setopt(k->multi, CURLMOPT_TIMERDATA, k);
	schedule(k, 1);
	*ret = k;
	return 0;
}

void kubelet_free(struct kubelet *k)
{
	if (!k)
		return;
	if (k->easy) {
		curl_multi_remove_handle(k->multi, k->easy);
		curl_easy_cleanup(k->easy);
	}
	if (k->multi)
		curl_multi_cleanup(k->multi);
	curl_slist_free_all(k->headers);
	loop_source_freep(&k->curl_timer);
	loop_source_freep(&k->next);
	kube_pods_clear(&k->pods);
	free(k->body);
	free(k->url);
	free(k->token_file);
	free(k->ca_file);
	free(k);
}

const struct kube_pods *kubelet_pods(const struct kubelet *k)
{
	return &k->pods;
}

bool kubelet_ok(const struct kubelet *k, const char **error)
{
	if (error)
		*error = k->ok ? NULL : k->error;
	return k->ok;
}

unsigned kubelet_fetches(const struct kubelet *k)
{
	return k->fetches;
}

bool kubelet_worth_waiting(const struct kubelet *k)
{
	return k->ok || k->fetches == 0;
}

const char *kubelet_url(const struct kubelet *k)
{
	return k->url;
}
