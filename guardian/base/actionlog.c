/* actionlog.c: JSONL records formatted on the loop and queued; one writer
 * thread appends each with one write(2), fdatasyncs each batch and rotates
 * by size (actions.jsonl.1 ... .N). */
#include "actionlog.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/uio.h>
/* CODE_FILE/CODE_LINE would name this file, not the code that logged. */
#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

#include "log.h"

/* What may wait for a stalled disk: a record is a few hundred bytes, a
 * busy node writes a few a second, so 1024 records are minutes of them;
 * 4 MiB bounds what a burst of large ones (long pid lists) can make
 * guardian hold while memory is short. Past either, records are lost and
 * counted rather than the loop made to wait. */
#define QUEUE_MAX 1024
#define QUEUE_BYTES_MAX (4u << 20)
/* The writer calls only system calls and its own short functions; glibc's
 * default 8 MiB would be address space for nothing. */
#define WRITER_STACK (256u << 10)

struct pending {
	char *line; /* with its newline; malloc'd and freed by the loop */
	size_t len;
	/* The journal entry, formatted on the loop too (NULL: none). */
	struct actionlog_journal_entry *journal;
};

struct actionlog_journal_entry {
	size_t n;
	struct iovec *iov;
	char **fields;
};

/* What one batch found, handed back to the loop under the lock. */
struct batch {
	actionlog_sync_fn sync;
	void *sync_data;
	uint64_t lost;
	int write_err, sync_err;
	int journal_err; /* the last entry journald refused */
	int rotated; /* 0: not tried; 1: rotated; else the last failure's -errno */
};

/* Threads: the loop formats and queues records, frees written ones and
 * logs; the writer thread does the file's I/O and nothing else. The writer
 * never allocates, frees or logs: services are started with a raw clone3,
 * whose child does not get glibc's fork-time reset of malloc's and stdio's
 * locks, so the writer must never hold one. */
struct actionlog {
	/* Set at open, read by both. */
	char *path;
	char **names; /* names[0] = path, names[i] = path.i: rotation formats nothing */
	uint64_t max_size;
	unsigned keep;

	/* The writer's (the loop's before the thread starts and after it ends). */
	int fd;
	bool cut;   /* a partial line may end the file: start on a new one */
	bool dirty; /* written since the last sync */

	pthread_t writer;
	bool started;
	pthread_mutex_t lock;
	pthread_cond_t work; /* the loop to the writer: queued, or stop */
	pthread_cond_t idle; /* the writer to a flush: a batch is done */
	/* Under lock. q[i % QUEUE_MAX] for i in [head, tail) are the writer's
	 * to read; the loop fills q[tail] before it publishes tail. */
	struct pending q[QUEUE_MAX];
	uint64_t head, tail;
	bool stop;
	actionlog_sync_fn sync;
	void *sync_data;
	int rotate_err;           /* the writer's last rotation: 0, or why it failed */
	int write_err, sync_err;  /* the first since the loop last looked */
	int flush_err;            /* the first since the last flush */
	int journal_err;          /* the last the journal refused, since the loop looked */

	_Atomic uint64_t lost; /* records that could not be written */
	_Atomic uint64_t journal_lost; /* entries journald did not take */

	/* The loop's own. */
	struct {
		actionlog_observer_fn fn;
		void *data;
	} observers[ACTIONLOG_OBSERVERS];
	uint64_t freed;      /* q[freed, head) are written: their lines still to free */
	size_t held;         /* bytes of lines not yet freed */
	bool said_rotate;    /* "cannot rotate" said; said again when it works */
	bool said_full;      /* "queue full" said for this stall */
	bool journal;        /* records are journal entries too */
	bool said_journal;   /* "the journal does not take records" said (once) */
};

const char *actionlog_path(const struct actionlog *a) { return a->path; }

uint64_t actionlog_lost(const struct actionlog *a)
{
	return a ? atomic_load_explicit(&a->lost, memory_order_relaxed) : 0;
}

static void count_lost(struct actionlog *a, uint64_t n)
{
	atomic_fetch_add_explicit(&a->lost, n, memory_order_relaxed);
}

/* ---- the writer thread ---- */

static int open_log(struct actionlog *a)
{
	a->fd = open(a->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	return a->fd < 0 ? -errno : 0;
}

static void first_err(int *slot, int r)
{
	if (r < 0 && *slot == 0)
		*slot = r;
}

static void sync_now(struct actionlog *a, struct batch *b)
{
	int r;

	if (!a->dirty)
		return;
	a->dirty = false;
	if (b->sync)
		r = b->sync(a->fd, b->sync_data);
	else
		r = fdatasync(a->fd) < 0 ? -errno : 0;
	first_err(&b->sync_err, r);
}

static int rotate(struct actionlog *a, struct batch *b)
{
	/* What went to this file is on disk before it is renamed and closed. */
	sync_now(a, b);
	for (unsigned i = a->keep; i > 0; i--)
		if (rename(a->names[i - 1], a->names[i]) < 0 && errno != ENOENT)
			return -errno;
	if (a->keep == 0 && unlink(a->path) < 0 && errno != ENOENT)
		return -errno;
	close(a->fd);
	a->fd = -1;
	return open_log(a);
}

static void lose(struct batch *b, int r)
{
	b->lost++;
	first_err(&b->write_err, r);
}

static void write_one(struct actionlog *a, const struct pending *p, struct batch *b)
{
	struct stat st;
	off_t end;
	int r;

	/* A rotation or reopen that failed (a full disk, out of fds) is tried
	 * again at the next record; meanwhile records go on to the file as it
	 * is, past its max_size, rather than being lost. */
	if (a->fd < 0 && (r = open_log(a)) < 0) {
		lose(b, r);
		return;
	}
	if (a->max_size > 0 && fstat(a->fd, &st) == 0 && (uint64_t)st.st_size >= a->max_size) {
		r = rotate(a, b);
		b->rotated = r < 0 ? r : 1;
		if (a->fd < 0) {
			lose(b, r);
			return;
		}
	}
	/* A full disk can take part of a line: cut the file back to where the
	 * record began, so no half record is glued to the next one; where
	 * that fails too, the next record starts on a line of its own. */
	end = lseek(a->fd, 0, SEEK_END);
	r = a->cut ? write_all(a->fd, "\n", 1) : 0;
	if (r == 0)
		r = write_all(a->fd, p->line, p->len);
	a->dirty = true; /* even a cut-back write may have moved the file */
	if (r < 0) {
		/* Back to where this began: the partial line ending the file
		 * before (if any) is still there, and still needs its cut. */
		if (end < 0 || ftruncate(a->fd, end) < 0)
			a->cut = true;
		lose(b, r);
		return;
	}
	a->cut = false;
}

/* Takes what is queued, writes it, syncs once for all of it, and hands the
 * results back; on stop it drains the queue first. */
static void *writer_main(void *arg)
{
	struct actionlog *a = arg;

	pthread_mutex_lock(&a->lock);
	for (;;) {
		uint64_t from = a->head, to = a->tail;
		struct batch b = { .sync = a->sync, .sync_data = a->sync_data };

		if (from == to) {
			if (a->stop)
				break;
			pthread_cond_wait(&a->work, &a->lock);
			continue;
		}
		pthread_mutex_unlock(&a->lock);
		for (uint64_t i = from; i < to; i++)
			write_one(a, &a->q[i % QUEUE_MAX], &b);
		sync_now(a, &b);
		/* After the whole batch is in the file and synced: the records
		 * are kept even when journald is stuck. A full journal socket
		 * makes this thread wait, never the loop; records that come
		 * meanwhile wait in the queue. */
		for (uint64_t i = from; i < to; i++) {
			const struct pending *p = &a->q[i % QUEUE_MAX];

			if (p->journal) {
				int r = sd_journal_sendv(p->journal->iov, (int)p->journal->n);

				if (r < 0) {
					b.journal_err = r;
					atomic_fetch_add_explicit(&a->journal_lost, 1, memory_order_relaxed);
				}
			}
		}
		pthread_mutex_lock(&a->lock);
		a->head = to;
		count_lost(a, b.lost);
		first_err(&a->write_err, b.write_err);
		first_err(&a->sync_err, b.sync_err);
		first_err(&a->flush_err, b.write_err ?: b.sync_err);
		if (b.journal_err)
			a->journal_err = b.journal_err;
		if (b.rotated)
			a->rotate_err = b.rotated < 0 ? b.rotated : 0;
		pthread_cond_broadcast(&a->idle);
	}
	pthread_mutex_unlock(&a->lock);
	return NULL;
}

/* ---- the loop's side ---- */

/* Frees the lines the writer is done with and logs what it ran into. */
static void collect(struct actionlog *a)
{
	int write_err, sync_err, rotate_err, journal_err;
	uint64_t head;

	pthread_mutex_lock(&a->lock);
	head = a->head;
	write_err = a->write_err;
	sync_err = a->sync_err;
	rotate_err = a->rotate_err;
	journal_err = a->journal_err;
	a->write_err = a->sync_err = a->journal_err = 0;
	pthread_mutex_unlock(&a->lock);
	for (; a->freed < head; a->freed++) {
		struct pending *p = &a->q[a->freed % QUEUE_MAX];

		a->held -= p->len;
		free(p->line);
		actionlog_journal_entry_free(p->journal);
		*p = (struct pending){ 0 };
	}
	if (journal_err && !a->said_journal)
		log_warning_errno(journal_err, "the journal does not take action-log records (%llu lost there); "
				  "%s still has them", (unsigned long long)atomic_load(&a->journal_lost), a->path);
	if (journal_err)
		a->said_journal = true;
	if (write_err)
		log_warning_errno(write_err, "%s: cannot write a record; %llu lost so far", a->path,
				  (unsigned long long)actionlog_lost(a));
	if (sync_err)
		log_warning_errno(sync_err, "%s: cannot sync", a->path);
	if (rotate_err && !a->said_rotate)
		log_warning_errno(rotate_err, "%s: cannot rotate; records go on to it past its max_size", a->path);
	else if (!rotate_err && a->said_rotate)
		log_info("%s: rotated again", a->path);
	a->said_rotate = rotate_err != 0;
}

static int start_writer(struct actionlog *a)
{
	pthread_attr_t attr;
	sigset_t all, old;
	int r;

	r = -pthread_attr_init(&attr);
	if (r < 0)
		return r;
	r = -pthread_attr_setstacksize(&attr, WRITER_STACK);
	/* Every signal blocked: the daemon takes its signals through a
	 * signalfd, which only works if no thread can receive them. A write
	 * past RLIMIT_FSIZE then fails with EFBIG instead of SIGXFSZ. */
	sigfillset(&all);
	if (r == 0)
		r = -pthread_sigmask(SIG_SETMASK, &all, &old);
	if (r == 0) {
		r = -pthread_create(&a->writer, &attr, writer_main, a);
		(void)pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	pthread_attr_destroy(&attr);
	if (r < 0)
		return r;
	a->started = true;
	(void)pthread_setname_np(a->writer, "guardian-log");
	return 0;
}

int actionlog_open(const char *dir, uint64_t max_size, unsigned keep, struct actionlog **ret)
{
	struct actionlog *a = calloc(1, sizeof(*a));
	int r;

	if (!a)
		return -ENOMEM;
	a->fd = -1;
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->work, NULL);
	pthread_cond_init(&a->idle, NULL);
	a->max_size = max_size;
	a->keep = keep;
	a->names = calloc(keep + 1, sizeof(*a->names));
	if (!a->names || asprintf(&a->path, "%s/actions.jsonl", dir) < 0) {
		a->path = NULL;
		actionlog_close(a);
		return -ENOMEM;
	}
	a->names[0] = a->path;
	for (unsigned i = 1; i <= keep; i++)
		if (asprintf(&a->names[i], "%s.%u", a->path, i) < 0) {
			a->names[i] = NULL;
			actionlog_close(a);
			return -ENOMEM;
		}
	r = open_log(a);
	if (r == 0)
		r = start_writer(a);
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
	if (a->started) {
		pthread_mutex_lock(&a->lock);
		a->stop = true;
		pthread_cond_signal(&a->work);
		pthread_mutex_unlock(&a->lock);
		/* The writer drains the queue before it ends. */
		pthread_join(a->writer, NULL);
		collect(a);
	}
	for (uint64_t i = a->freed; i < a->tail; i++) {
		free(a->q[i % QUEUE_MAX].line);
		actionlog_journal_entry_free(a->q[i % QUEUE_MAX].journal);
	}
	if (a->fd >= 0)
		close(a->fd);
	pthread_cond_destroy(&a->idle);
	pthread_cond_destroy(&a->work);
	pthread_mutex_destroy(&a->lock);
	if (a->names)
		for (unsigned i = 1; i <= a->keep; i++)
			free(a->names[i]);
	free(a->names);
	free(a->path);
	free(a);
}

void actionlog_set_sync(struct actionlog *a, actionlog_sync_fn sync, void *data)
{
	pthread_mutex_lock(&a->lock);
	a->sync = sync;
	a->sync_data = data;
	pthread_mutex_unlock(&a->lock);
}

int actionlog_flush(struct actionlog *a)
{
	uint64_t target = a->tail;
	int r;

	pthread_mutex_lock(&a->lock);
	while (a->head < target)
		pthread_cond_wait(&a->idle, &a->lock);
	r = a->flush_err;
	a->flush_err = 0;
	pthread_mutex_unlock(&a->lock);
	collect(a);
	return r;
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
		if (a)
			count_lost(a, 1);
		return a ? -ENOMEM : 0;
	}
	if (extra) {
		json_object_object_foreach(extra, k, v)
			json_object_object_add(rec, k, json_object_get(v));
		json_object_put(extra);
	}
	return actionlog_write(a, rec);
}

/* A full queue means the disk has taken nothing for a long while: the
 * record is dropped and counted, and the loop goes on. Said once per
 * stall. */
static bool queue_has_room(struct actionlog *a, size_t len)
{
	bool room = a->tail - a->freed < QUEUE_MAX &&
		    (a->tail == a->freed || a->held + len <= QUEUE_BYTES_MAX);

	if (!room && !a->said_full)
		log_warning("%s: %llu records wait for the disk%s; dropping new ones until they are taken",
			    a->path, (unsigned long long)(a->tail - a->freed),
			    a->journal ? " (or for journald, whose entries they are too)" : "");
	a->said_full = !room;
	return room;
}

int actionlog_write(struct actionlog *a, struct json_object *rec)
{
	struct actionlog_journal_entry *journal = NULL;
	struct pending *p;
	const char *line;
	char *buf = NULL;
	int n;

	if (!rec) {
		if (a)
			count_lost(a, 1);
		return -ENOMEM;
	}
	for (size_t i = 0; i < ACTIONLOG_OBSERVERS; i++)
		if (a->observers[i].fn)
			a->observers[i].fn(a->observers[i].data, rec);
	/* One write of the whole line: O_APPEND keeps concurrent readers from
	 * ever seeing half a record followed by another. */
	line = json_object_to_json_string_ext(rec, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	n = line ? asprintf(&buf, "%s\n", line) : -1;
	if (n < 0) {
		json_object_put(rec);
		count_lost(a, 1);
		return -ENOMEM;
	}
	collect(a);
	if (!queue_has_room(a, (size_t)n)) {
		free(buf);
		json_object_put(rec);
		count_lost(a, 1);
		return -ENOBUFS;
	}
	/* An entry that cannot be formatted (no memory) leaves the record
	 * to the file alone. */
	if (a->journal && !(journal = actionlog_journal_entry(rec)))
		atomic_fetch_add_explicit(&a->journal_lost, 1, memory_order_relaxed);
	json_object_put(rec);
	p = &a->q[a->tail % QUEUE_MAX];
	*p = (struct pending){ .line = buf, .len = (size_t)n, .journal = journal };
	a->held += (size_t)n;
	pthread_mutex_lock(&a->lock);
	a->tail++;
	pthread_cond_signal(&a->work);
	pthread_mutex_unlock(&a->lock);
	return 0;
}

int actionlog_add_observer(struct actionlog *a, actionlog_observer_fn fn, void *data)
{
	for (size_t i = 0; i < ACTIONLOG_OBSERVERS; i++)
		if (!a->observers[i].fn) {
			a->observers[i].fn = fn;
			a->observers[i].data = data;
			return 0;
		}
	return -ENOSPC;
}

void actionlog_remove_observer(struct actionlog *a, actionlog_observer_fn fn, void *data)
{
	for (size_t i = 0; i < ACTIONLOG_OBSERVERS; i++)
		if (a->observers[i].fn == fn && a->observers[i].data == data)
			a->observers[i].fn = NULL;
}

void actionlog_set_journal(struct actionlog *a, bool on)
{
	a->journal = on;
}

uint64_t actionlog_journal_lost(const struct actionlog *a)
{
	return a ? atomic_load_explicit(&a->journal_lost, memory_order_relaxed) : 0;
}

/* ---- journal entries ---- */

/* docs/JOURNAL.md lists these; never change one, journalctl queries and
 * catalogs depend on them. */
static const struct {
	const char *action, *id;
	int priority;
} journal_kinds[] = {
	{ "kill", ACTIONLOG_MID_KILL, LOG_LVL_WARN },
	{ "restart", ACTIONLOG_MID_RESTART, LOG_LVL_WARN },
	{ "oom-kill", ACTIONLOG_MID_OOM_KILL, LOG_LVL_WARN },
	{ "signal", ACTIONLOG_MID_SIGNAL, LOG_LVL_WARN },
	{ "give-up", ACTIONLOG_MID_GIVE_UP, LOG_LVL_ERR },
	{ "throttle", ACTIONLOG_MID_THROTTLE, LOG_LVL_NOTICE },
};

static const char *rec_string(struct json_object *rec, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(rec, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* A decision recorded but not carried out (dry run, rate-limited,
 * protected, a system-guard decision that waits) and a follow-up are
 * not the kind they name: `journalctl MESSAGE_ID=<kill>` lists kills. */
static bool rec_acted(struct json_object *rec)
{
	const char *verdict = rec_string(rec, "verdict"), *decision = rec_string(rec, "decision");

	if (verdict && strcmp(verdict, "act") != 0)
		return false;
	return !decision || strcmp(decision, "act") == 0 || strcmp(decision, "escalate") == 0;
}

void actionlog_field_name(const char *key, char *out, size_t size)
{
	size_t n = (size_t)snprintf(out, size, "GUARDIAN_");

	for (const char *k = key; *k && n + 1 < size && n < 64; k++) {
		char c = *k;

		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		else if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
			c = '_';
		out[n++] = c;
	}
	out[n] = '\0';
}

void actionlog_journal_entry_free(struct actionlog_journal_entry *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < e->n; i++)
		free(e->fields[i]);
	free(e->fields);
	free(e->iov);
	free(e);
}

static int entry_add(struct actionlog_journal_entry *e, size_t cap, char *field)
{
	if (!field)
		return -ENOMEM;
	if (e->n >= cap) {
		free(field);
		return -ENOMEM;
	}
	e->fields[e->n] = field;
	e->iov[e->n] = (struct iovec){ field, strlen(field) };
	e->n++;
	return 0;
}

static char *fmt_field(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *fmt_field(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	return r < 0 ? NULL : s;
}

struct actionlog_journal_entry *actionlog_journal_entry(struct json_object *rec)
{
	const char *action = rec_string(rec, "action") ?: "?";
	const char *service = rec_string(rec, "service"), *reason = rec_string(rec, "reason");
	const char *id = ACTIONLOG_MID_OTHER;
	int prio = LOG_LVL_NOTICE, r = 0;
	struct actionlog_journal_entry *e;
	size_t cap = (size_t)json_object_object_length(rec) + 4;

	if (!rec_acted(rec) || strcmp(action, "follow-up") == 0)
		prio = LOG_LVL_INFO;
	else
		for (size_t i = 0; i < ARRAY_SIZE(journal_kinds); i++)
			if (strcmp(action, journal_kinds[i].action) == 0) {
				id = journal_kinds[i].id;
				prio = journal_kinds[i].priority;
				break;
			}
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->fields = calloc(cap, sizeof(*e->fields));
	e->iov = calloc(cap, sizeof(*e->iov));
	if (!e->fields || !e->iov) {
		actionlog_journal_entry_free(e);
		return NULL;
	}
	r = entry_add(e, cap, fmt_field("MESSAGE=%s: %s%s%s", service ?: "(no service)", action,
					reason && *reason ? ": " : "", reason ?: ""));
	if (r == 0)
		r = entry_add(e, cap, fmt_field("MESSAGE_ID=%s", id));
	if (r == 0)
		r = entry_add(e, cap, fmt_field("PRIORITY=%d", prio));
	if (r == 0)
		r = entry_add(e, cap, strdup("SYSLOG_IDENTIFIER=guardian"));
	/* Every key but the time (the entry has its own) is a field; a
	 * string as it is, anything else (numbers, lists, objects) as its
	 * JSON text; null keys are left out. */
	json_object_object_foreach(rec, k, v) {
		char name[80];

		if (r < 0)
			break;
		if (!v || strcmp(k, "time") == 0)
			continue;
		actionlog_field_name(k, name, sizeof(name));
		if (json_object_is_type(v, json_type_string))
			r = entry_add(e, cap, fmt_field("%s=%s", name, json_object_get_string(v)));
		else
			r = entry_add(e, cap, fmt_field("%s=%s", name,
							json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN |
											  JSON_C_TO_STRING_NOSLASHESCAPE)));
	}
	if (r < 0) {
		actionlog_journal_entry_free(e);
		return NULL;
	}
	return e;
}

size_t actionlog_journal_entry_fields(const struct actionlog_journal_entry *e, const struct iovec **iov)
{
	*iov = e->iov;
	return e->n;
}
