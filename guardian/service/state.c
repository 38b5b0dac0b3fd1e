/* state.c: what the supervisor keeps across its own restarts, in
 * <state-dir>/state.json, valid for the boot it was written in. */
#include <fcntl.h>
#include <json-c/json.h>
#include <malloc.h>
#include <stdio.h>

#include "log.h"
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

static struct json_object *service_to_json(const struct service *svc)
{
	struct json_object *o = json_object_new_object(), *times = json_object_new_array();

	json_object_object_add(o, "want_running", json_object_new_boolean(svc->want_running));
	json_object_object_add(o, "gave_up", json_object_new_boolean(svc->state == SVC_GAVE_UP));
	json_object_object_add(o, "restarts", json_object_new_uint64(svc->restarts));
	json_object_object_add(o, "failures_in_row", json_object_new_uint64(svc->failures_in_row));
	json_object_object_add(o, "started_mono", json_object_new_uint64(svc->started_mono));
	json_object_object_add(o, "started_real", json_object_new_uint64(svc->started_real));
	for (unsigned i = 0; i <= svc->restart_ring_len; i++)
		json_object_array_add(times, json_object_new_uint64(svc->restart_times[i]));
	json_object_object_add(o, "restart_times", times);
	json_object_object_add(o, "last_exit_cause", json_object_new_int(svc->last_exit.cause));
	json_object_object_add(o, "last_exit_code", json_object_new_int(svc->last_exit.code));
	json_object_object_add(o, "last_exit_at", json_object_new_uint64(svc->last_exit.at));
	if (svc->last_exit.has_sender) {
		const struct signal_sender *s = &svc->last_exit.sender;
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

int supervisor_save_state(struct supervisor *s)
{
	_cleanup_free_ char *path = NULL, *tmp = NULL;
	struct json_object *root = json_object_new_object(), *svcs = json_object_new_object();
	_cleanup_close_ int fd = -1;
	const char *text;
	int r;

	if (!s->boot_id[0] && read_boot_id(s->cfg.proc_root, s->boot_id, sizeof(s->boot_id)) < 0)
		s->boot_id[0] = '\0';
	json_object_object_add(root, "boot_id", json_object_new_string(s->boot_id));
	for (size_t i = 0; i < s->n_services; i++)
		if (!s->services[i]->watched) /* a watched cgroup's life is its owner's */
			json_object_object_add(svcs, s->services[i]->policy->service,
					       service_to_json(s->services[i]));
	json_object_object_add(root, "services", svcs);
	if (asprintf(&path, "%s/state.json", s->cfg.state_dir) < 0 ||
	    asprintf(&tmp, "%s/.state.json.tmp", s->cfg.state_dir) < 0) {
		json_object_put(root);
		return -ENOMEM;
	}
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

static uint64_t get_u64(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_uint64(v) : 0;
}

static void sender_from_json(struct service_exit *e, struct json_object *o)
{
	struct json_object *comm;

	if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, "comm", &comm) ||
	    !json_object_is_type(comm, json_type_string))
		return;
	e->has_sender = true;
	e->sender = (struct signal_sender){ .sig = (int)get_u64(o, "sig"), .target = (pid_t)get_u64(o, "target"),
					    .pid = (pid_t)get_u64(o, "pid"), .uid = (uid_t)get_u64(o, "uid") };
	snprintf(e->sender.comm, sizeof(e->sender.comm), "%s", json_object_get_string(comm));
}

/* An entry guardian wrote is an object with want_running; anything else
 * is not this service's state, and is left alone (-EBADMSG). */
static int service_from_json(struct service *svc, struct json_object *o)
{
	struct json_object *times, *want, *sender;
	int cause;

	if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, "want_running", &want) ||
	    !json_object_is_type(want, json_type_boolean))
		return -EBADMSG;
	cause = (int)get_u64(o, "last_exit_cause");

	svc->want_running = json_object_get_boolean(want);
	svc->restarts = (unsigned)get_u64(o, "restarts");
	svc->failures_in_row = (unsigned)get_u64(o, "failures_in_row");
	svc->started_mono = get_u64(o, "started_mono");
	svc->started_real = get_u64(o, "started_real");
	if (cause >= EXIT_NONE && cause < _EXIT_CAUSE_MAX)
		svc->last_exit = (struct service_exit){ .cause = cause, .code = (int)get_u64(o, "last_exit_code"),
							.at = get_u64(o, "last_exit_at") };
	if (json_object_object_get_ex(o, "last_exit_sender", &sender))
		sender_from_json(&svc->last_exit, sender);
	if (json_object_object_get_ex(o, "restart_times", &times) &&
	    json_object_is_type(times, json_type_array))
		for (unsigned i = 0; i <= svc->restart_ring_len && i < json_object_array_length(times); i++)
			svc->restart_times[i] = json_object_get_uint64(json_object_array_get_idx(times, i));
	if (get_u64(o, "gave_up"))
		svc->state = SVC_GAVE_UP;
	svc->state_loaded = true;
	return 0;
}

/* The whole file as one JSON object, nothing after it. */
static int read_state(const char *path, struct json_object **ret)
{
	_cleanup_free_ char *text = NULL;
	_cleanup_close_ int fd = -1;
	struct json_tokener *tok;
	struct json_object *root;
	size_t len;
	int r;

	*ret = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	r = read_full(fd, STATE_MAX, &text, &len);
	if (r < 0)
		return r;
	tok = json_tokener_new();
	if (!tok)
		return -ENOMEM;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	root = json_tokener_parse_ex(tok, text, (int)len);
	r = json_tokener_get_error(tok) == json_tokener_success && json_tokener_get_parse_end(tok) == len ? 0
														: -EBADMSG;
	json_tokener_free(tok);
	if (r == 0 && !json_object_is_type(root, json_type_object))
		r = -EBADMSG;
	if (r < 0) {
		json_object_put(root);
		return r;
	}
	*ret = root;
	return 0;
}

static int load_state(struct supervisor *s, const char *path)
{
	struct json_object *root, *v, *svcs;
	char boot[64] = "";
	int r, bad = 0;

	r = read_state(path, &root);
	if (r < 0 || !root)
		return r;
	if (!json_object_object_get_ex(root, "boot_id", &v) || !json_object_is_type(v, json_type_string) ||
	    !json_object_object_get_ex(root, "services", &svcs) || !json_object_is_type(svcs, json_type_object)) {
		json_object_put(root);
		return -EBADMSG;
	}
	/* Counters and monotonic times mean nothing after a reboot, and
	 * without a boot id there is no telling which boot wrote it. */
	if (read_boot_id(s->cfg.proc_root, boot, sizeof(boot)) < 0 || !boot[0] ||
	    strcmp(json_object_get_string(v), boot) != 0) {
		json_object_put(root);
		return 0;
	}
	for (size_t i = 0; i < s->n_services; i++)
		if (json_object_object_get_ex(svcs, s->services[i]->policy->service, &v) &&
		    service_from_json(s->services[i], v) < 0)
			bad++;
	json_object_put(root);
	return bad ? -EBADMSG : 0;
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
