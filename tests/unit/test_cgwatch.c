/* test_cgwatch.c: the daemon's one inotify instance, driven by the real
 * event loop. A temp directory stands in for a cgroup (inotify works the
 * same on ordinary files): a write to a watched file calls its entries,
 * entries sharing a file share one watch that stays until the last goes,
 * entries may be removed from inside any callback of the same dispatch, a
 * deleted file silences its entries, and a thousand files take one fd. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include "cgwatch.h"
#include "tmptree.h"
#include "loop.h"

/* How long a test lets the loop run to see events arrive (or not). */
#define SETTLE (150 * USEC_PER_MSEC)

struct fixture {
	char dir[256];
	int cgfd;
	struct loop *loop;
	struct cgwatch *w;
};

static void create_file(int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	assert_true(fd >= 0);
	close(fd);
}

/* What the kernel does to cgroup.events: one write, one IN_MODIFY. */
static void touch_file(int dirfd, const char *name)
{
	static const char text[] = "populated 1\nfrozen 0\n";
	int fd = openat(dirfd, name, O_WRONLY | O_TRUNC | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)sizeof(text) - 1);
	close(fd);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	tmptree_new(f->dir, sizeof(f->dir), "cgwatch");
	f->cgfd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (f->cgfd < 0)
		return -1;
	create_file(f->cgfd, "cgroup.events");
	create_file(f->cgfd, "memory.events");
	if (loop_new(&f->loop) < 0 || cgwatch_new(f->loop, &f->w) < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	cgwatch_free(f->w);
	loop_free(f->loop);
	close(f->cgfd);
	tmptree_remove(f->dir);
	free(f);
	return 0;
}

/* --- driving the loop ----------------------------------------------- */

static int on_deadline(struct loop_source *s, int fd, uint32_t revents, void *data)
{
	loop_quit(data, 0);
	return 0;
}

/* Run the real loop for `usec`, then return. */
static void run_for(struct fixture *f, usec_t usec)
{
	struct loop_source *deadline = NULL;

	assert_int_equal(loop_add_timer(f->loop, usec, on_deadline, f->loop, &deadline), 0);
	assert_int_equal(loop_run(f->loop), 0);
	loop_source_free(deadline);
}

struct write_later {
	struct fixture *f;
	const char *name;
	struct loop_source *deadline;
};

static int on_write_timer(struct loop_source *s, int fd, uint32_t revents, void *data)
{
	struct write_later *wl = data;

	touch_file(wl->f->cgfd, wl->name);
	/* The deadline starts after the write, so however late this timer
	 * fires, the event is ready before the deadline is. */
	return loop_add_timer(wl->f->loop, SETTLE, on_deadline, wl->f->loop, &wl->deadline);
}

/* Write `name` from a timer while the loop runs, then let it settle. */
static void write_during_loop(struct fixture *f, const char *name)
{
	struct write_later wl = { f, name, NULL };
	struct loop_source *t = NULL, *safety = NULL;

	assert_int_equal(loop_add_timer(f->loop, 10 * USEC_PER_MSEC, on_write_timer, &wl, &t), 0);
	assert_int_equal(loop_add_timer(f->loop, 10 * USEC_PER_SEC, on_deadline, f->loop, &safety), 0);
	assert_int_equal(loop_run(f->loop), 0);
	assert_non_null(wl.deadline); /* the write happened */
	loop_source_free(wl.deadline);
	loop_source_free(safety);
	loop_source_free(t);
}

/* --- what the callbacks do ------------------------------------------ */

struct probe {
	struct fixture *f;
	unsigned calls;
	struct cgwatch_entry *e;        /* this probe's own entry */
	struct cgwatch_entry **remove;  /* removed (and cleared) when called */
	bool remove_self;
	size_t count_seen;              /* cgwatch_count() right after its removals */
	unsigned add_n;                 /* entries to add from the callback */
	struct probe *added;            /* ... each calling this probe */
	struct cgwatch_entry **added_entries;
};

static void on_change(void *data)
{
	struct probe *p = data;

	p->calls++;
	if (p->remove)
		cgwatch_removep(p->remove);
	if (p->remove_self)
		cgwatch_removep(&p->e);
	for (unsigned i = 0; i < p->add_n; i++)
		assert_int_equal(cgwatch_add(p->f->w, p->f->cgfd, "cgroup.events", on_change, p->added,
					     &p->added_entries[i]), 0);
	p->add_n = 0;
	p->count_seen = cgwatch_count(p->f->w);
}

static void watch(struct fixture *f, const char *attr, struct probe *p)
{
	p->f = f;
	assert_int_equal(cgwatch_add(f->w, f->cgfd, attr, on_change, p, &p->e), 0);
}

/* --- inspecting the inotify instance through /proc --------------------- */

static bool is_inotify_fd(int fd)
{
	char path[64], target[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return false;
	target[n] = '\0';
	return strcmp(target, "anon_inode:inotify") == 0;
}

/* Open fds, and how many of them are inotify instances. */
static unsigned count_fds(unsigned *ret_inotify)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	unsigned n = 0, ino = 0;

	assert_non_null(d);
	while ((de = readdir(d))) {
		int fd;

		if (de->d_name[0] == '.')
			continue;
		fd = atoi(de->d_name);
		if (fd == dirfd(d))
			continue;
		n++;
		ino += is_inotify_fd(fd);
	}
	closedir(d);
	if (ret_inotify)
		*ret_inotify = ino;
	return n;
}

/* Kernel watches held by every inotify instance of this process (the
 * "inotify wd:" lines of their fdinfo). The tests open no other instance. */
static unsigned kernel_watches(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	unsigned n = 0;

	assert_non_null(d);
	while ((de = readdir(d))) {
		char path[64], line[512];
		FILE *fi;
		int fd;

		if (de->d_name[0] == '.')
			continue;
		fd = atoi(de->d_name);
		if (fd == dirfd(d) || !is_inotify_fd(fd))
			continue;
		snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
		fi = fopen(path, "re");
		assert_non_null(fi);
		while (fgets(line, sizeof(line), fi))
			n += strncmp(line, "inotify wd:", 11) == 0;
		fclose(fi);
	}
	closedir(d);
	return n;
}

/* --- the tests ------------------------------------------------------- */

static void test_write_to_watched_file_calls_its_callback_once(void **state)
{
	struct fixture *f = *state;
	struct probe p = { 0 };

	watch(f, "cgroup.events", &p);
	run_for(f, 20 * USEC_PER_MSEC);
	assert_int_equal(p.calls, 0); /* nothing happened yet */
	write_during_loop(f, "cgroup.events");
	assert_int_equal(p.calls, 1);
	write_during_loop(f, "cgroup.events");
	assert_int_equal(p.calls, 2);
	cgwatch_removep(&p.e);
}

static void test_write_before_the_loop_runs_is_delivered_when_it_runs(void **state)
{
	struct fixture *f = *state;
	struct probe p = { 0 };

	watch(f, "memory.events", &p);
	touch_file(f->cgfd, "memory.events");
	assert_int_equal(p.calls, 0); /* only from the loop */
	run_for(f, SETTLE);
	assert_int_equal(p.calls, 1);
	cgwatch_removep(&p.e);
}

static void test_write_calls_only_the_entries_of_that_file(void **state)
{
	struct fixture *f = *state;
	struct probe events = { 0 }, memory = { 0 };

	watch(f, "cgroup.events", &events);
	watch(f, "memory.events", &memory);
	write_during_loop(f, "memory.events");
	assert_int_equal(events.calls, 0);
	assert_int_equal(memory.calls, 1);
	write_during_loop(f, "cgroup.events");
	assert_int_equal(events.calls, 1);
	assert_int_equal(memory.calls, 1);
	cgwatch_removep(&events.e);
	cgwatch_removep(&memory.e);
}

static void test_two_entries_on_one_file_share_one_watch_and_are_both_called(void **state)
{
	struct fixture *f = *state;
	struct probe a = { 0 }, b = { 0 };

	watch(f, "cgroup.events", &a);
	watch(f, "cgroup.events", &b);
	assert_int_equal(kernel_watches(), 1); /* one inotify wd for both */
	assert_int_equal(cgwatch_count(f->w), 2);
	write_during_loop(f, "cgroup.events");
	assert_int_equal(a.calls, 1);
	assert_int_equal(b.calls, 1);
	cgwatch_removep(&a.e);
	cgwatch_removep(&b.e);
}

static void test_removing_one_of_two_entries_keeps_the_watch_for_the_other(void **state)
{
	struct fixture *f = *state;
	struct probe a = { 0 }, b = { 0 };

	/* Either order: the first removed must not take the shared wd along. */
	for (int order = 0; order < 2; order++) {
		struct probe *gone = order ? &b : &a, *kept = order ? &a : &b;

		a = (struct probe){ 0 };
		b = (struct probe){ 0 };
		watch(f, "cgroup.events", &a);
		watch(f, "cgroup.events", &b);
		cgwatch_removep(&gone->e);
		assert_int_equal(kernel_watches(), 1);
		write_during_loop(f, "cgroup.events");
		assert_int_equal(gone->calls, 0);
		assert_int_equal(kept->calls, 1);
		/* The last one goes: now the kernel watch goes too. */
		cgwatch_removep(&kept->e);
		assert_int_equal(kernel_watches(), 0);
		assert_int_equal(cgwatch_count(f->w), 0);
		write_during_loop(f, "cgroup.events");
		assert_int_equal(kept->calls, 1);
	}
}

static void test_entry_removed_from_its_own_callback_is_not_called_again(void **state)
{
	struct fixture *f = *state;
	struct probe a = { 0 }, b = { 0 }, m = { 0 };

	watch(f, "cgroup.events", &a);
	watch(f, "cgroup.events", &b);
	watch(f, "memory.events", &m);
	a.remove_self = true;
	/* Three events in one read (the middle one keeps the kernel from
	 * merging the other two): a is called for the first only. */
	touch_file(f->cgfd, "cgroup.events");
	touch_file(f->cgfd, "memory.events");
	touch_file(f->cgfd, "cgroup.events");
	run_for(f, SETTLE);
	assert_int_equal(a.calls, 1);
	assert_null(a.e);
	assert_int_equal(a.count_seen, 2); /* b and m: a is gone from the count at once */
	assert_int_equal(b.calls, 2);      /* the entry after it still ran, each time */
	assert_int_equal(m.calls, 1);
	assert_int_equal(kernel_watches(), 2);
	write_during_loop(f, "cgroup.events");
	assert_int_equal(a.calls, 1);
	assert_int_equal(b.calls, 3);
	cgwatch_removep(&b.e);
	cgwatch_removep(&m.e);
	assert_int_equal(kernel_watches(), 0);
}

static void test_entry_removed_by_an_earlier_callback_of_the_same_event_is_not_called(void **state)
{
	struct fixture *f = *state;
	struct probe a = { 0 }, b = { 0 }, c = { 0 };

	/* a, b, c share the file and are called in that order; a removes b. */
	watch(f, "cgroup.events", &a);
	watch(f, "cgroup.events", &b);
	watch(f, "cgroup.events", &c);
	a.remove = &b.e;
	write_during_loop(f, "cgroup.events");
	assert_int_equal(a.calls, 1);
	assert_int_equal(b.calls, 0);
	assert_null(b.e);
	assert_int_equal(c.calls, 1);
	assert_int_equal(a.count_seen, 2);
	/* c then removes a, which already ran in this dispatch, and itself. */
	a.remove = NULL;
	c.remove = &a.e;
	c.remove_self = true;
	write_during_loop(f, "cgroup.events");
	assert_int_equal(a.calls, 2);
	assert_int_equal(c.calls, 2);
	assert_int_equal(c.count_seen, 0);
	assert_int_equal(cgwatch_count(f->w), 0);
	assert_int_equal(kernel_watches(), 0);
	write_during_loop(f, "cgroup.events");
	assert_int_equal(a.calls + b.calls + c.calls, 4);
}

static void test_entry_of_another_file_removed_in_the_same_read_is_not_called(void **state)
{
	struct fixture *f = *state;
	struct probe events = { 0 }, memory = { 0 };

	/* Both events sit in the instance when the loop reads it: the
	 * cgroup.events callback removes the memory.events entry first. */
	watch(f, "cgroup.events", &events);
	watch(f, "memory.events", &memory);
	events.remove = &memory.e;
	touch_file(f->cgfd, "cgroup.events");
	touch_file(f->cgfd, "memory.events");
	run_for(f, SETTLE);
	assert_int_equal(events.calls, 1);
	assert_int_equal(memory.calls, 0);
	assert_null(memory.e);
	assert_int_equal(kernel_watches(), 1);
	cgwatch_removep(&events.e);
}

static void test_entries_added_by_a_callback_work_from_the_next_event(void **state)
{
	struct fixture *f = *state;
	struct probe adder = { 0 }, after = { 0 }, added = { 0 };
	struct cgwatch_entry *entries[100] = { 0 };

	/* 100 additions outgrow the table several times during the dispatch;
	 * the entry after the adder is still reached (through the new table). */
	watch(f, "cgroup.events", &adder);
	watch(f, "cgroup.events", &after);
	added.f = f;
	adder.add_n = ARRAY_SIZE(entries);
	adder.added = &added;
	adder.added_entries = entries;
	write_during_loop(f, "cgroup.events");
	assert_int_equal(adder.calls, 1);
	assert_int_equal(after.calls, 1);
	assert_int_equal(added.calls, 0); /* the event came before them */
	assert_int_equal(cgwatch_count(f->w), 2 + ARRAY_SIZE(entries));
	write_during_loop(f, "cgroup.events");
	assert_int_equal(adder.calls, 2);
	assert_int_equal(after.calls, 2);
	assert_int_equal(added.calls, ARRAY_SIZE(entries));
	for (size_t i = 0; i < ARRAY_SIZE(entries); i++)
		cgwatch_removep(&entries[i]);
	assert_int_equal(kernel_watches(), 1);
	cgwatch_removep(&adder.e);
	cgwatch_removep(&after.e);
	assert_int_equal(kernel_watches(), 0);
}

static void test_count_is_the_number_of_entries_not_removed(void **state)
{
	struct fixture *f = *state;
	struct probe a = { 0 }, b = { 0 }, c = { 0 };

	assert_int_equal(cgwatch_count(f->w), 0);
	assert_int_equal(cgwatch_count(NULL), 0);
	watch(f, "cgroup.events", &a);
	watch(f, "cgroup.events", &b);
	watch(f, "memory.events", &c);
	assert_int_equal(cgwatch_count(f->w), 3);
	cgwatch_removep(&b.e);
	assert_int_equal(cgwatch_count(f->w), 2);
	cgwatch_remove(NULL); /* a no-op */
	assert_int_equal(cgwatch_count(f->w), 2);
	cgwatch_removep(&a.e);
	cgwatch_removep(&c.e);
	assert_int_equal(cgwatch_count(f->w), 0);
}

static void test_add_on_a_missing_file_fails_and_adds_nothing(void **state)
{
	struct fixture *f = *state;
	struct cgwatch_entry *e = NULL;

	assert_int_equal(cgwatch_add(f->w, f->cgfd, "memory.nope", on_change, NULL, &e), -ENOENT);
	assert_null(e);
	assert_int_equal(cgwatch_add(f->w, -1, "cgroup.events", on_change, NULL, &e), -EBADF);
	assert_int_equal(cgwatch_count(f->w), 0);
	assert_int_equal(kernel_watches(), 0);
}

static void test_deleted_file_silences_its_entries_and_a_new_watch_works(void **state)
{
	struct fixture *f = *state;
	struct probe a = { 0 }, b = { 0 }, fresh = { 0 }, memory = { 0 };

	watch(f, "cgroup.events", &a);
	watch(f, "cgroup.events", &b);
	watch(f, "memory.events", &memory);
	/* The cgroup goes away: the kernel drops the watch (IN_IGNORED). */
	assert_int_equal(unlinkat(f->cgfd, "cgroup.events", 0), 0);
	run_for(f, SETTLE);
	assert_int_equal(a.calls, 0);
	assert_int_equal(b.calls, 0);
	assert_int_equal(kernel_watches(), 1); /* memory.events' only */
	assert_int_equal(cgwatch_count(f->w), 3); /* entries stay until removed */

	/* A file of the same name again (the service restarted): the old
	 * entries are not called for it; a new entry is. */
	create_file(f->cgfd, "cgroup.events");
	watch(f, "cgroup.events", &fresh);
	write_during_loop(f, "cgroup.events");
	assert_int_equal(a.calls, 0);
	assert_int_equal(b.calls, 0);
	assert_int_equal(fresh.calls, 1);

	/* Removing the stale entries leaves the new watch alone. */
	cgwatch_removep(&a.e);
	cgwatch_removep(&b.e);
	assert_int_equal(kernel_watches(), 2);
	write_during_loop(f, "cgroup.events");
	assert_int_equal(fresh.calls, 2);
	write_during_loop(f, "memory.events");
	assert_int_equal(memory.calls, 1);
	cgwatch_removep(&fresh.e);
	cgwatch_removep(&memory.e);
	assert_int_equal(kernel_watches(), 0);
}

static void test_deleted_file_while_its_write_is_queued_calls_nothing_after(void **state)
{
	struct fixture *f = *state;
	struct probe a = { 0 };

	/* MODIFY then IGNORED in the same read: at most the one call for the
	 * write, none after; removing the entry afterwards is safe. */
	watch(f, "memory.events", &a);
	touch_file(f->cgfd, "memory.events");
	assert_int_equal(unlinkat(f->cgfd, "memory.events", 0), 0);
	run_for(f, SETTLE);
	assert_int_equal(a.calls, 1);
	create_file(f->cgfd, "memory.events");
	write_during_loop(f, "memory.events");
	assert_int_equal(a.calls, 1);
	cgwatch_removep(&a.e);
	assert_int_equal(cgwatch_count(f->w), 0);
}

static void test_a_thousand_watched_files_use_one_inotify_fd(void **state)
{
	struct fixture *f = *state;
	enum { N = 1000 };
	struct cgwatch *w2 = NULL;
	struct probe *probes = calloc(N, sizeof(*probes));
	unsigned before, after, ino_before, ino_after;
	char name[32];

	assert_non_null(probes);
	/* The fixture's instance is already open: measure a second one. */
	before = count_fds(&ino_before);
	assert_int_equal(cgwatch_new(f->loop, &w2), 0);
	for (unsigned i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "s%04u.events", i);
		create_file(f->cgfd, name);
		probes[i].f = f;
		assert_int_equal(cgwatch_add(w2, f->cgfd, name, on_change, &probes[i], &probes[i].e), 0);
	}
	after = count_fds(&ino_after);
	assert_int_equal(after, before + 1);
	assert_int_equal(ino_after, ino_before + 1);
	assert_int_equal(cgwatch_count(w2), N);
	assert_int_equal(kernel_watches(), N);

	/* Each file still reaches its own entry and no other. */
	write_during_loop(f, "s0777.events");
	write_during_loop(f, "s0000.events");
	write_during_loop(f, "s0999.events");
	for (unsigned i = 0; i < N; i++)
		assert_int_equal(probes[i].calls, i == 0 || i == 777 || i == 999);

	for (unsigned i = 0; i < N; i++)
		cgwatch_removep(&probes[i].e);
	assert_int_equal(cgwatch_count(w2), 0);
	assert_int_equal(kernel_watches(), 0);
	cgwatch_free(w2);
	assert_int_equal(count_fds(NULL), before);
	free(probes);
}

/* --- queue overflow ------------------------------------------------------- */

/* Queue more events than the instance holds (fs.inotify.max_queued_events)
 * without the loop reading: the kernel drops the rest and queues one
 * IN_Q_OVERFLOW (wd -1). Alternating files keeps it from merging them. */
static void overflow_queue(struct fixture *f, const char *a, const char *b)
{
	unsigned max_queued = 16384;
	FILE *mq = fopen("/proc/sys/fs/inotify/max_queued_events", "re");

	if (mq) {
		assert_int_equal(fscanf(mq, "%u", &max_queued), 1);
		fclose(mq);
	}
	for (unsigned i = 0; i <= max_queued; i++)
		touch_file(f->cgfd, i % 2 ? b : a);
}

/* Events the kernel dropped for an overflow are lost for good unless the
 * entries are told: a service's "populated 0" or a memory.events oom_kill
 * would go unseen. With the default max_queued_events (16384, a multiple
 * of the 256 events a 4096-byte read holds) the overflow event is first
 * in its read. */
static void test_events_lost_to_queue_overflow_still_reach_their_entries(void **state)
{
	struct fixture *f = *state;
	struct probe events = { 0 }, memory = { 0 }, late = { 0 };

	create_file(f->cgfd, "late.events");
	watch(f, "cgroup.events", &events);
	watch(f, "memory.events", &memory);
	watch(f, "late.events", &late);
	overflow_queue(f, "cgroup.events", "memory.events");
	touch_file(f->cgfd, "late.events"); /* dropped by the kernel */
	run_for(f, SETTLE);
	assert_true(events.calls >= 1);
	assert_true(memory.calls >= 1);
	assert_true(late.calls >= 1);
	cgwatch_removep(&events.e);
	cgwatch_removep(&memory.e);
	cgwatch_removep(&late.e);
}

/* An overflow tells every entry whose file is still there, never one
 * whose file was deleted (its watch is gone). One event with a name (a
 * watch on a directory) shifts the overflow off the read boundary. */
static void test_queue_overflow_does_not_call_entries_of_deleted_files(void **state)
{
	struct fixture *f = *state;
	struct probe events = { 0 }, memory = { 0 }, deleted = { 0 }, dir = { 0 };
	_cleanup_close_ int sub = -1;

	assert_int_equal(mkdirat(f->cgfd, "sub", 0755), 0);
	sub = openat(f->cgfd, "sub", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(sub >= 0);
	create_file(sub, "x");
	create_file(f->cgfd, "gone.events");
	watch(f, "gone.events", &deleted);
	watch(f, "cgroup.events", &events);
	watch(f, "memory.events", &memory);
	watch(f, "sub", &dir);
	assert_int_equal(unlinkat(f->cgfd, "gone.events", 0), 0);
	run_for(f, SETTLE); /* IN_IGNORED for gone.events is consumed */
	assert_int_equal(deleted.calls, 0);

	touch_file(sub, "x"); /* one 32-byte event: sub's, naming "x" */
	overflow_queue(f, "cgroup.events", "memory.events");
	run_for(f, SETTLE);
	assert_true(dir.calls >= 1);
	assert_int_equal(deleted.calls, 0);
	cgwatch_removep(&deleted.e);
	cgwatch_removep(&events.e);
	cgwatch_removep(&memory.e);
	cgwatch_removep(&dir.e);
}

/* A directory watch reports child cgroups as they are made and removed,
 * by name, and nothing for plain files. */
struct dir_probe {
	unsigned created, removed, rescans;
	char last[64];
};

static void on_dir(void *data, const char *name, bool created)
{
	struct dir_probe *p = data;

	if (!name) {
		p->rescans++;
		return;
	}
	snprintf(p->last, sizeof(p->last), "%s", name);
	if (created)
		p->created++;
	else
		p->removed++;
}

static void test_dir_watch_reports_child_cgroups_by_name(void **state)
{
	struct fixture *f = *state;
	struct dir_probe p = { 0 };
	struct cgwatch_entry *e = NULL;

	assert_int_equal(cgwatch_add_dir(f->w, f->cgfd, on_dir, &p, &e), 0);
	assert_int_equal(mkdirat(f->cgfd, "pod-a", 0755), 0);
	run_for(f, SETTLE);
	assert_int_equal(p.created, 1);
	assert_string_equal(p.last, "pod-a");
	create_file(f->cgfd, "not-a-group");
	run_for(f, SETTLE);
	assert_int_equal(p.created, 1);
	assert_int_equal(unlinkat(f->cgfd, "pod-a", AT_REMOVEDIR), 0);
	run_for(f, SETTLE);
	assert_int_equal(p.removed, 1);
	assert_string_equal(p.last, "pod-a");
	assert_int_equal(p.rescans, 0);
	cgwatch_remove(e);
	/* Removed: no more calls. */
	assert_int_equal(mkdirat(f->cgfd, "pod-b", 0755), 0);
	run_for(f, SETTLE);
	assert_int_equal(p.created, 1);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_write_to_watched_file_calls_its_callback_once),
		T(test_write_before_the_loop_runs_is_delivered_when_it_runs),
		T(test_write_calls_only_the_entries_of_that_file),
		T(test_two_entries_on_one_file_share_one_watch_and_are_both_called),
		T(test_removing_one_of_two_entries_keeps_the_watch_for_the_other),
		T(test_entry_removed_from_its_own_callback_is_not_called_again),
		T(test_entry_removed_by_an_earlier_callback_of_the_same_event_is_not_called),
		T(test_entry_of_another_file_removed_in_the_same_read_is_not_called),
		T(test_entries_added_by_a_callback_work_from_the_next_event),
		T(test_count_is_the_number_of_entries_not_removed),
		T(test_add_on_a_missing_file_fails_and_adds_nothing),
		T(test_deleted_file_silences_its_entries_and_a_new_watch_works),
		T(test_deleted_file_while_its_write_is_queued_calls_nothing_after),
		T(test_a_thousand_watched_files_use_one_inotify_fd),
		T(test_events_lost_to_queue_overflow_still_reach_their_entries),
		T(test_queue_overflow_does_not_call_entries_of_deleted_files),
		T(test_dir_watch_reports_child_cgroups_by_name),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
