/* actionlog.c: JSONL append with one write(2) per record and fsync, and
 * size-based rotation (actions.jsonl.1 ... .N). */
#include "actionlog.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include "log.h"

struct actionlog {
	char *path;
	int fd;
	uint64_t max_size;
	unsigned keep;
	bool rotate_failed; /* said so once; said again when it works */
	bool cut;           /* a partial line may end the file: start on a new one */
	uint64_t lost;      /* records that could not be written */
	actionlog_observer_fn observer;
	void *observer_data;
};

static int open_log(struct actionlog *a)
{
	a->fd = open(a->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	return a->fd < 0 ? -errno : 0;
}

int actionlog_open(const char *dir, uint64_t max_size, unsigned keep, struct actionlog **ret)
{
	struct actionlog *a = calloc(1, sizeof(*a));
	int r;

	if (!a)
		return -ENOMEM;
	if (asprintf(&a->path, "%s/actions.jsonl", dir) < 0) {
		free(a);
		return -ENOMEM;
	}
	a->max_size = max_size;
	a->keep = keep;
	r = open_log(a);
	if (r < 0) {
		actionlog_close(a);
		return r;
	}
	*ret = a;
	return 0;
}

void actionlog_close(struct actionlog *a)
{
	if (!a)
		return;
	if (a->fd >= 0)
		close(a->fd);
	free(a->path);
	free(a);
}

const char *actionlog_path(const struct actionlog *a) { return a->path; }

static int rotate(struct actionlog *a)
{
	char from[4096], to[4096];

	for (unsigned i = a->keep; i > 0; i--) {
		if (i == 1)
			snprintf(from, sizeof(from), "%s", a->path);
		else
			snprintf(from, sizeof(from), "%s.%u", a->path, i - 1);
		snprintf(to, sizeof(to), "%s.%u", a->path, i);
		if (rename(from, to) < 0 && errno != ENOENT)
			return -errno;
	}
	if (a->keep == 0 && unlink(a->path) < 0 && errno != ENOENT)
		return -errno;
	close(a->fd);
	a->fd = -1;
	return open_log(a);
}

struct json_object *actionlog_record(const char *service, const char *cgroup, const char *source,
				     const char *action, const char *reason)
{
	struct json_object *rec = json_object_new_object();
	char ts[40];

	if (!rec)
		return NULL;
	format_rfc3339(now_realtime(), ts, sizeof(ts));
	json_object_object_add(rec, "time", json_object_new_string(ts));
	json_object_object_add(rec, "service", service ? json_object_new_string(service) : NULL);
	json_object_object_add(rec, "cgroup", cgroup ? json_object_new_string(cgroup) : NULL);
	json_object_object_add(rec, "source", json_object_new_string(source));
	json_object_object_add(rec, "action", json_object_new_string(action));
	json_object_object_add(rec, "reason", json_object_new_string(reason ? reason : ""));
	return rec;
}

void actionlog_add_pids(struct json_object *rec, const pid_t *pids, size_t n)
{
	struct json_object *arr = json_object_new_array();

	for (size_t i = 0; i < n; i++)
		json_object_array_add(arr, json_object_new_int(pids[i]));
	json_object_object_add(rec, "pids", arr);
}

int actionlog_write_with(struct actionlog *a, struct json_object *rec, struct json_object *extra)
{
	if (!a || !rec) {
		json_object_put(rec);
		json_object_put(extra);
		return a ? -ENOMEM : 0;
	}
	if (extra) {
		json_object_object_foreach(extra, k, v)
			json_object_object_add(rec, k, json_object_get(v));
		json_object_put(extra);
	}
	return actionlog_write(a, rec);
}

int actionlog_write(struct actionlog *a, struct json_object *rec)
{
	const char *line;
	_cleanup_free_ char *buf = NULL;
	struct stat st;
	off_t end;
	int r;

	if (!rec) {
		if (a)
			a->lost++;
		return -ENOMEM;
	}
	if (a->observer)
		a->observer(a->observer_data, rec);
	line = json_object_to_json_string_ext(rec, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	/* One write of the whole line: O_APPEND keeps concurrent readers from
	 * ever seeing half a record followed by another. */
	if (asprintf(&buf, "%s\n", line) < 0) {
		json_object_put(rec);
		return -ENOMEM;
	}
	json_object_put(rec);
	/* A rotation or reopen that failed (a full disk, out of fds) is tried
	 * again at the next record; meanwhile records go on to the file as it
	 * is, past its max_size, rather than being lost. */
	if (a->fd < 0 && (r = open_log(a)) < 0) {
		a->lost++;
		return r;
	}
	if (a->max_size > 0 && fstat(a->fd, &st) == 0 && (uint64_t)st.st_size >= a->max_size) {
		r = rotate(a);
		if (r < 0 && !a->rotate_failed)
			log_warning_errno(r, "%s: cannot rotate; records go on to it past its max_size", a->path);
		else if (r == 0 && a->rotate_failed)
			log_info("%s: rotated again", a->path);
		a->rotate_failed = r < 0;
		if (a->fd < 0) {
			a->lost++;
			return r;
		}
	}
	/* A full disk can take part of a line: cut the file back to where the
	 * record began, so no half record is glued to the next one; where
	 * that fails too, the next record starts on a line of its own. */
	end = lseek(a->fd, 0, SEEK_END);
	r = a->cut ? write_all(a->fd, "\n", 1) : 0;
	if (r == 0)
		r = write_all(a->fd, buf, strlen(buf));
	if (r < 0) {
		a->lost++;
		/* Back to where this began: the partial line ending the file
		 * before (if any) is still there, and still needs its cut. */
		if (end < 0 || ftruncate(a->fd, end) < 0)
			a->cut = true;
		return r;
	}
	a->cut = false;
	return fsync(a->fd) < 0 ? -errno : 0;
}

uint64_t actionlog_lost(const struct actionlog *a)
{
	return a ? a->lost : 0;
}

void actionlog_set_observer(struct actionlog *a, actionlog_observer_fn fn, void *data)
{
	a->observer = fn;
	a->observer_data = data;
}
