/* guardctl-log.c: `guardctl log`: the action log, rotated files first,
 * readable or as JSON lines, optionally following new records. */
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <sys/inotify.h>

#include "guardctl.h"
#include "util.h"

#define DEFAULT_ACTION_LOG "/var/lib/guardian/actions.jsonl"
/* actionlog.c keeps at most this many rotated files by default; reading a
 * few more costs nothing when they do not exist. */
#define MAX_ROTATED 9

struct log_opts {
	const char *service;
	bool json;
	bool follow;
};

/* A field for the terminal: a process name or a reason may hold control
 * characters (an escape sequence in a comm would drive the terminal). */
static const char *safe(const char *s, char *buf, size_t size)
{
	size_t n = 0;

	for (; *s && n + 5 < size; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c == 0x7f)
			n += (size_t)snprintf(buf + n, size - n, "\\x%02x", c);
		else
			buf[n++] = (char)c;
	}
	buf[n] = '\0';
	return buf;
}

static void print_record(const char *line, const struct log_opts *o)
{
	struct json_object *rec = json_tokener_parse(line), *v;
	const char *svc;
	char extra[256] = "", b1[128], b2[128], b3[64], b4[64], b5[1024];

	if (!rec || !json_object_is_type(rec, json_type_object)) {
		fprintf(stderr, "guardctl log: skipping a malformed line: %s\n", safe(line, b5, 64));
		json_object_put(rec);
		return;
	}
	svc = get_str(rec, "service", "-");
	if (o->service && strcmp(svc, o->service) != 0)
		goto out;
	if (o->json) {
		printf("%s\n", line);
		goto out;
	}
	if (json_object_object_get_ex(rec, "signal", &v) && v)
		snprintf(extra, sizeof(extra), " [SIG%s", safe(json_object_get_string(v), b5, 16));
	if (json_object_object_get_ex(rec, "pids", &v) && json_object_is_type(v, json_type_array) &&
	    json_object_array_length(v) > 0) {
		size_t len = strlen(extra);

		snprintf(extra + len, sizeof(extra) - len, "%spids", len ? ", " : " [");
		for (size_t i = 0; i < json_object_array_length(v) && i < 8; i++) {
			len = strlen(extra);
			snprintf(extra + len, sizeof(extra) - len, "%s%d", i ? "," : " ",
				 json_object_get_int(json_object_array_get_idx(v, i)));
		}
	}
	if (extra[0])
		strncat(extra, "]", sizeof(extra) - strlen(extra) - 1);
	/* A pod container: who it is, as kubectl names it. */
	if (json_object_object_get_ex(rec, "kubernetes", &v) && json_object_is_type(v, json_type_object)) {
		char ns[80], pod[260], c[80], id[80];
		size_t len = strlen(extra);

		snprintf(extra + len, sizeof(extra) - len, " [pod %s/%s container %s id %.12s]",
			 safe(get_str(v, "namespace", "?"), ns, sizeof(ns)), safe(get_str(v, "pod", "?"), pod, sizeof(pod)),
			 safe(get_str(v, "container", "?"), c, sizeof(c)), safe(get_str(v, "container_id", "?"), id, sizeof(id)));
	}
	printf("%s  %-12s %-8s %-10s %s%s\n", safe(get_str(rec, "time", "?"), b3, sizeof(b3)), safe(svc, b1, sizeof(b1)),
	       safe(get_str(rec, "source", "?"), b4, sizeof(b4)), safe(get_str(rec, "action", "?"), b2, sizeof(b2)),
	       safe(get_str(rec, "reason", ""), b5, sizeof(b5)), extra);
out:
	json_object_put(rec);
}

/* Print the complete lines in buf[0..len), keep a partial last line. */
static size_t print_lines(char *buf, size_t len, const struct log_opts *o)
{
	size_t start = 0;

	for (size_t i = 0; i < len; i++) {
		if (buf[i] != '\n')
			continue;
		buf[i] = '\0';
		if (i > start)
			print_record(buf + start, o);
		start = i + 1;
	}
	memmove(buf, buf + start, len - start);
	return len - start;
}

struct tail {
	int fd;
	char buf[65536];
	size_t len;
};

static int drain(struct tail *t, const struct log_opts *o)
{
	for (;;) {
		size_t room = sizeof(t->buf) - t->len - 1;
		ssize_t n = read_up_to(t->fd, t->buf + t->len, room);

		if (n < 0)
			return (int)n;
		t->len = print_lines(t->buf, t->len + (size_t)n, o);
		if (t->len == sizeof(t->buf) - 1)
			t->len = 0; /* a line longer than the buffer: not a record */
		if ((size_t)n < room)
			break; /* the end of the file, for now */
	}
	fflush(stdout);
	return 0;
}

static void print_file(const char *path, const struct log_opts *o)
{
	struct tail t = { .fd = open(path, O_RDONLY | O_CLOEXEC) };

	if (t.fd < 0)
		return;
	(void)drain(&t, o);
	close(t.fd);
}

/* Follow the file across rotations: actionlog.c renames it away and
 * creates a new one, which shows up as a create in its directory. */
static int follow(const char *path, struct tail *t, const struct log_opts *o)
{
	_cleanup_free_ char *dir_copy = strdup(path), *base_copy = strdup(path);
	_cleanup_close_ int ifd = inotify_init1(IN_CLOEXEC);
	const char *base;
	int r = 0;

	if (!dir_copy || !base_copy || ifd < 0)
		return -ENOMEM;
	base = basename(base_copy);
	if (inotify_add_watch(ifd, dirname(dir_copy), IN_MODIFY | IN_CREATE | IN_MOVED_TO) < 0)
		return -errno;
	/* Anything appended before the watch existed. */
	if (t->fd >= 0)
		(void)drain(t, o);
	for (;;) {
		char ev[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
		ssize_t n = read(ifd, ev, sizeof(ev));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = -errno;
			break;
		}
		for (char *p = ev; p < ev + n;) {
			struct inotify_event *e = (struct inotify_event *)p;

			p += sizeof(*e) + e->len;
			if (!e->len || strcmp(e->name, base) != 0)
				continue;
			if (e->mask & (IN_CREATE | IN_MOVED_TO)) {
				if (t->fd >= 0) {
					(void)drain(t, o); /* the rest of the rotated file */
					close(t->fd);
				}
				t->len = 0;
				t->fd = open(path, O_RDONLY | O_CLOEXEC);
			}
			if (t->fd >= 0)
				(void)drain(t, o);
		}
	}
	return r;
}

static int log_path(const char *sock, const char *file, char **ret)
{
	struct json_object *reply = NULL;

	if (file) {
		*ret = strdup(file);
		return *ret ? 0 : -ENOMEM;
	}
	/* The daemon only names the file; the records are there without it,
	 * so a daemon that does not answer soon is not waited for. */
	request_limit_timeout(3 * USEC_PER_SEC);
	if (request(sock, "status", NULL, &reply) == 0) {
		*ret = strdup(get_str(reply, "action_log", DEFAULT_ACTION_LOG));
		json_object_put(reply);
	} else {
		fprintf(stderr, "guardctl log: reading %s\n", DEFAULT_ACTION_LOG);
		*ret = strdup(DEFAULT_ACTION_LOG);
	}
	return *ret ? 0 : -ENOMEM;
}

int cmd_log(const char *sock, int argc, char **argv)
{
	struct log_opts o = { 0 };
	const char *file = NULL;
	_cleanup_free_ char *path = NULL;
	int r;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			o.json = true;
		else if (strcmp(argv[i], "--follow") == 0 || strcmp(argv[i], "-f") == 0)
			o.follow = true;
		else if (strcmp(argv[i], "--file") == 0 && i + 1 < argc)
			file = argv[++i];
		else if (argv[i][0] == '-' || o.service) {
			fprintf(stderr, "guardctl log: unexpected argument '%s'\n", argv[i]);
			return 2;
		} else
			o.service = argv[i];
	}
	if (log_path(sock, file, &path) < 0)
		return 1;
	if (access(path, R_OK) < 0 && !o.follow) {
		fprintf(stderr, "guardctl log: cannot read %s: %s\n", path, strerror(errno));
		return 1;
	}
	for (int i = MAX_ROTATED; i >= 1; i--) {
		char rotated[PATH_MAX];

		snprintf(rotated, sizeof(rotated), "%s.%d", path, i);
		print_file(rotated, &o);
	}
	if (!o.follow) {
		print_file(path, &o);
		return 0;
	}
	/* Keep the current file open from its start through the follow, so
	 * nothing written in between is missed. */
	struct tail *t = calloc(1, sizeof(*t));
	if (!t)
		return 1;
	t->fd = open(path, O_RDONLY | O_CLOEXEC);
	r = follow(path, t, &o);
	if (t->fd >= 0)
		close(t->fd);
	free(t);
	if (r < 0)
		fprintf(stderr, "guardctl log: cannot follow %s: %s\n", path, strerror(-r));
	return 1;
}
