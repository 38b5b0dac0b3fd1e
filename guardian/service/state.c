/* state.c: what the supervisor keeps across its own restarts, in
 * <state-dir>/state.json, valid for the boot it was written in. */
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <malloc.h>
#include <stdio.h>

#include "log.h"
#include "state.h"
#include "supervisor.h"

/* A state file is a few hundred bytes per service: anything near this is
 * not one guardian wrote. */
#define STATE_MAX (4 << 20)

static int read_boot_id(const char *proc_root, char *buf, size_t len)
{
	char path[256];
	_cleanup_fclose_ FILE *f = NULL;

	snprintf(path, sizeof(path), "%s/sys/kernel/random/boot_id", proc_root);
	f = fopen(path, "re");
	if (!f || !fgets(buf, (int)len, f))
		return -errno ?: -EIO;
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

/* ---- the document, pure ---- */

static struct json_object *saved_service_to_json(const struct saved_service *e)
{
	struct json_object *o = json_object_new_object(), *times = json_object_new_array();

	json_object_object_add(o, "want_running", json_object_new_boolean(e->want_running));
	json_object_object_add(o, "gave_up", json_object_new_boolean(e->gave_up));
	json_object_object_add(o, "restarts", json_object_new_uint64(e->restarts));
	json_object_object_add(o, "failures_in_row", json_object_new_uint64(e->failures_in_row));
	json_object_object_add(o, "started_mono", json_object_new_uint64(e->started_mono));
	json_object_object_add(o, "started_real", json_object_new_uint64(e->started_real));
	for (size_t i = 0; i < e->n_restart_times; i++)
		json_object_array_add(times, json_object_new_uint64(e->restart_times[i]));
	json_object_object_add(o, "restart_times", times);
	if (!e->has_last_exit)
		return o;
	json_object_object_add(o, "last_exit_cause", json_object_new_int(e->last_exit.cause));
	json_object_object_add(o, "last_exit_code", json_object_new_int(e->last_exit.code));
	json_object_object_add(o, "last_exit_at", json_object_new_uint64(e->last_exit.at));
	if (e->last_exit.has_sender) {
		const struct signal_sender *s = &e->last_exit.sender;
		struct json_object *snd = json_object_new_object();

		json_object_object_add(snd, "sig", json_object_new_int(s->sig));
		json_object_object_add(snd, "target", json_object_new_int(s->target));
		json_object_object_add(snd, "pid", json_object_new_int(s->pid));
		json_object_object_add(snd, "uid", json_object_new_uint64(s->uid));
		json_object_object_add(snd, "comm", json_object_new_string(s->comm));
		json_object_object_add(o, "last_exit_sender", snd);
	}
	return o;
}

struct json_object *saved_state_to_json(const struct saved_state *st)
{
	struct json_object *root = json_object_new_object(), *svcs = json_object_new_object();

	json_object_object_add(root, "boot_id", json_object_new_string(st->boot_id ? st->boot_id : ""));
	for (size_t i = 0; i < st->n_services; i++)
		json_object_object_add(svcs, st->services[i].name, saved_service_to_json(&st->services[i]));
	json_object_object_add(root, "services", svcs);
	return root;
}

/* key's value into *ret: an integer in [min, max]. A missing key leaves
 * *ret alone; anything else there (null, a string, a fraction, a number
 * out of range) is -EBADMSG. json-c clamps a number past int64 or uint64
 * to their limits, which every range here stops short of. */
static int get_integer(struct json_object *o, const char *key, int64_t min, int64_t max, int64_t *ret)
{
	struct json_object *v;
	int64_t i;

	if (!json_object_object_get_ex(o, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_int))
		return -EBADMSG;
	i = json_object_get_int64(v);
	/* A uint64 past INT64_MAX reads as INT64_MAX through get_int64. */
	if (i < min || (i >= 0 && json_object_get_uint64(v) > (uint64_t)max))
		return -EBADMSG;
	*ret = i;
	return 0;
}

static int get_bool(struct json_object *o, const char *key, bool *ret)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_boolean))
		return -EBADMSG;
	*ret = json_object_get_boolean(v);
	return 0;
}

/* Times are microseconds that guardian read from a clock: a value past
 * INT64_MAX (year 294,000) is no time it wrote. */
#define TIME_MAX INT64_MAX

static int sender_from_json(struct json_object *o, struct signal_sender *ret)
{
	int64_t sig = 0, target = 0, pid = 0, uid = 0;
	struct json_object *comm;

	if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, "comm", &comm) ||
	    !json_object_is_type(comm, json_type_string) || get_integer(o, "sig", INT_MIN, INT_MAX, &sig) < 0 ||
	    get_integer(o, "target", INT_MIN, INT_MAX, &target) < 0 ||
	    get_integer(o, "pid", INT_MIN, INT_MAX, &pid) < 0 || get_integer(o, "uid", 0, UINT32_MAX, &uid) < 0)
		return -EBADMSG;
	*ret = (struct signal_sender){ .sig = (int)sig, .target = (pid_t)target, .pid = (pid_t)pid, .uid = (uid_t)uid };
	snprintf(ret->comm, sizeof(ret->comm), "%s", json_object_get_string(comm));
	return 0;
}

static int restart_times_from_json(struct json_object *o, struct saved_service *e)
{
	struct json_object *times;
	size_t n;

	if (!json_object_object_get_ex(o, "restart_times", &times))
		return 0;
	if (!json_object_is_type(times, json_type_array))
		return -EBADMSG;
	n = json_object_array_length(times);
	e->restart_times = calloc(n ?: 1, sizeof(usec_t));
	if (!e->restart_times)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct json_object *v = json_object_array_get_idx(times, i);

		if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0 ||
		    json_object_get_uint64(v) > TIME_MAX)
			return -EBADMSG;
		e->restart_times[i] = json_object_get_uint64(v);
	}
	e->n_restart_times = n;
	return 0;
}

/* The exit: known when its cause is one this guardian has (a newer one
 * may write others); its code, time and sender are checked either way. */
static int last_exit_from_json(struct json_object *o, struct saved_service *e)
{
	int64_t cause = -1, code = 0, at = 0;
	struct signal_sender sender;
	struct json_object *v;
	bool has_sender = false;

	if (get_integer(o, "last_exit_cause", 0, INT_MAX, &cause) < 0 ||
	    get_integer(o, "last_exit_code", INT_MIN, INT_MAX, &code) < 0 ||
	    get_integer(o, "last_exit_at", 0, TIME_MAX, &at) < 0)
		return -EBADMSG;
	if (json_object_object_get_ex(o, "last_exit_sender", &v)) {
		if (sender_from_json(v, &sender) < 0)
			return -EBADMSG;
		has_sender = true;
	}
	if (cause < 0 || cause >= _EXIT_CAUSE_MAX)
		return 0;
	e->has_last_exit = true;
	e->last_exit = (struct service_exit){ .cause = (enum exit_cause)cause, .code = (int)code, .at = (usec_t)at,
					      .has_sender = has_sender };
	if (has_sender)
		e->last_exit.sender = sender;
	return 0;
}

/* An entry guardian wrote is an object with want_running; anything else
 * is not this service's state (-EBADMSG). */
static int service_from_json(const char *name, struct json_object *o, struct saved_service *e)
{
	int64_t restarts = 0, failures = 0, mono = 0, real = 0;
	struct json_object *want;
	int r;

	if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, "want_running", &want) ||
	    !json_object_is_type(want, json_type_boolean))
		return -EBADMSG;
	e->want_running = json_object_get_boolean(want);
	if (get_bool(o, "gave_up", &e->gave_up) < 0 || get_integer(o, "restarts", 0, UINT_MAX, &restarts) < 0 ||
	    get_integer(o, "failures_in_row", 0, UINT_MAX, &failures) < 0 ||
	    get_integer(o, "started_mono", 0, TIME_MAX, &mono) < 0 ||
	    get_integer(o, "started_real", 0, TIME_MAX, &real) < 0)
		return -EBADMSG;
	e->restarts = (unsigned)restarts;
	e->failures_in_row = (unsigned)failures;
	e->started_mono = (usec_t)mono;
	e->started_real = (usec_t)real;
	r = restart_times_from_json(o, e);
	if (r < 0)
		return r;
	r = last_exit_from_json(o, e);
	if (r < 0)
		return r;
	e->name = strdup(name);
	return e->name ? 0 : -ENOMEM;
}

static int state_from_json(struct json_object *root, struct saved_state *st)
{
	struct json_object *v, *svcs;
	int r;

	if (!json_object_is_type(root, json_type_object) || !json_object_object_get_ex(root, "boot_id", &v) ||
	    !json_object_is_type(v, json_type_string) || !json_object_object_get_ex(root, "services", &svcs) ||
	    !json_object_is_type(svcs, json_type_object))
		return -EBADMSG;
	st->boot_id = strdup(json_object_get_string(v));
	st->services = calloc(json_object_object_length(svcs) ?: 1, sizeof(*st->services));
	if (!st->boot_id || !st->services)
		return -ENOMEM;
	json_object_object_foreach(svcs, name, entry) {
		r = service_from_json(name, entry, &st->services[st->n_services]);
		st->n_services++; /* counted even when half made: freed with the rest */
		if (r < 0)
			return r;
	}
	return 0;
}

int saved_state_parse(const char *text, size_t len, struct saved_state *ret)
{
	struct saved_state st = { 0 };
	struct json_tokener *tok;
	struct json_object *root;
	int r;

	*ret = (struct saved_state){ 0 };
	if (len > INT_MAX)
		return -EBADMSG;
	tok = json_tokener_new();
	if (!tok)
		return -ENOMEM;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	root = json_tokener_parse_ex(tok, text, (int)len);
	r = json_tokener_get_error(tok) == json_tokener_success && json_tokener_get_parse_end(tok) == len ? 0
														: -EBADMSG;
	json_tokener_free(tok);
	if (r == 0)
		r = state_from_json(root, &st);
	json_object_put(root);
	if (r < 0) {
		saved_state_free(&st);
		return r;
	}
	*ret = st;
	return 0;
}

void saved_state_free(struct saved_state *st)
{
	for (size_t i = 0; i < st->n_services; i++) {
		free(st->services[i].name);
		free(st->services[i].restart_times);
	}
	free(st->services);
	free(st->boot_id);
	*st = (struct saved_state){ 0 };
}

const struct saved_service *saved_state_find(const struct saved_state *st, const char *name)
{
	for (size_t i = 0; i < st->n_services; i++)
		if (strcmp(st->services[i].name, name) == 0)
			return &st->services[i];
	return NULL;
}

/* ---- the supervisor's file ---- */

/* What the file keeps of svc: its fields in place, nothing copied. */
static struct saved_service saved_from_service(const struct service *svc)
{
	return (struct saved_service){
		.name = svc->policy->service,
		.want_running = svc->want_running,
		.gave_up = svc->state == SVC_GAVE_UP,
		.restarts = svc->restarts,
		.failures_in_row = svc->failures_in_row,
		.started_mono = svc->started_mono,
		.started_real = svc->started_real,
		.restart_times = svc->restart_times,
		.n_restart_times = svc->restart_ring_len + 1,
		.has_last_exit = true,
		.last_exit = svc->last_exit,
	};
}

/* What svc gets back of e: the ring as far as both hold it (a reload may
 * have changed give_up.restarts since). */
static void service_restore(struct service *svc, const struct saved_service *e)
{
	svc->want_running = e->want_running;
	svc->restarts = e->restarts;
	svc->failures_in_row = e->failures_in_row;
	svc->started_mono = e->started_mono;
	svc->started_real = e->started_real;
	for (size_t i = 0; i <= svc->restart_ring_len && i < e->n_restart_times; i++)
		svc->restart_times[i] = e->restart_times[i];
	if (e->has_last_exit)
		svc->last_exit = e->last_exit;
	if (e->gave_up)
		svc->state = SVC_GAVE_UP;
	svc->state_loaded = true;
}

int supervisor_save_state(struct supervisor *s)
{
	_cleanup_free_ char *path = NULL, *tmp = NULL;
	_cleanup_free_ struct saved_service *saved = calloc(s->n_services ?: 1, sizeof(*saved));
	struct saved_state st = { .boot_id = s->boot_id, .services = saved };
	_cleanup_close_ int fd = -1;
	struct json_object *root;
	const char *text;
	int r;

	if (!saved || asprintf(&path, "%s/state.json", s->cfg.state_dir) < 0 ||
	    asprintf(&tmp, "%s/.state.json.tmp", s->cfg.state_dir) < 0)
		return -ENOMEM;
	if (!s->boot_id[0] && read_boot_id(s->cfg.proc_root, s->boot_id, sizeof(s->boot_id)) < 0)
		s->boot_id[0] = '\0';
	for (size_t i = 0; i < s->n_services; i++)
		if (!s->services[i]->watched) /* a watched cgroup's life is its owner's */
			saved[st.n_services++] = saved_from_service(s->services[i]);
	root = saved_state_to_json(&st);
	text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN);
	/* Write, rename: a crash of guardian leaves the old file or the new
	 * one. No fsync in the loop (it can take seconds under memory
	 * pressure, just when guardian must act): after a crash of the whole
	 * machine the file is for another boot and ignored anyway. */
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	r = fd < 0 ? -errno : write_all(fd, text, strlen(text));
	json_object_put(root);
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	return r;
}

/* The whole file is checked before any of it reaches a service: one
 * entry of the wrong shape and the file is not one guardian wrote. */
static int load_state(struct supervisor *s, const char *path)
{
	_cleanup_free_ char *text = NULL;
	_cleanup_close_ int fd = -1;
	struct saved_state st;
	char boot[64] = "";
	size_t len;
	int r;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	r = read_full(fd, STATE_MAX, &text, &len);
	if (r < 0)
		return r;
	r = saved_state_parse(text, len, &st);
	if (r < 0)
		return r;
	/* Counters and monotonic times mean nothing after a reboot, and
	 * without a boot id there is no telling which boot wrote it. */
	if (read_boot_id(s->cfg.proc_root, boot, sizeof(boot)) == 0 && boot[0] &&
	    strcmp(st.boot_id, boot) == 0)
		for (size_t i = 0; i < s->n_services; i++) {
			const struct saved_service *e = saved_state_find(&st, s->services[i]->policy->service);

			if (e)
				service_restore(s->services[i], e);
		}
	saved_state_free(&st);
	return 0;
}

int supervisor_load_state(struct supervisor *s)
{
	_cleanup_free_ char *path = NULL, *aside = NULL;
	int r;

	if (asprintf(&path, "%s/state.json", s->cfg.state_dir) < 0 ||
	    asprintf(&aside, "%s/state.json.bad", s->cfg.state_dir) < 0)
		return -ENOMEM;
	r = load_state(s, path);
	/* Unreadable or of the wrong shape: kept aside for a human to look
	 * at, and out of the way, so the next save starts a good one and
	 * the next start does not trip on it again. */
	if (r == -EBADMSG) {
		if (rename(path, aside) < 0)
			log_warning_errno(-errno, "cannot move %s aside", path);
		else
			log_warning("%s is not a state file guardian wrote; kept as %s and ignored", path, aside);
	}
	return r;
}

static int on_save(struct loop_source *src, int fd, uint32_t revents, void *data)
{
	struct supervisor *s = data;
	int r;

	loop_source_freep(&s->save);
	r = supervisor_flush_state(s);
	/* The JSON of every service was built and freed: give those pages
	 * back, or they stay in guardian's RSS for good. */
	(void)malloc_trim(0);
	return r;
}

int supervisor_flush_state(struct supervisor *s)
{
	int r;

	loop_source_freep(&s->save);
	r = supervisor_save_state(s);
	if (r < 0)
		log_warning_errno(r, "cannot save %s/state.json", s->cfg.state_dir);
	return r;
}

/* The file holds every service: written once per loop iteration that
 * changed any, not once per change (a thousand services starting would
 * write it a thousand times, each with a thousand entries and an fsync). */
void supervisor_service_changed(struct service *svc)
{
	struct supervisor *s = svc->sup;

	if (!s->save && loop_add_timer(s->loop, 0, on_save, s, &s->save) < 0)
		(void)supervisor_flush_state(s);
	supervisor_notify(svc, changed);
}
