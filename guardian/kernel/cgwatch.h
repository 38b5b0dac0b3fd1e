/* cgwatch.h: one inotify instance for the whole daemon and a watch per
 * cgroup file (cgroup.events, memory.events), dispatched from the loop. */
#pragma once

#include "loop.h"

struct cgwatch;
struct cgwatch_entry;

/* The watched file changed (IN_MODIFY). Called from the loop; it may add
 * and remove entries, its own included. */
typedef void (*cgwatch_cb)(void *data);

int cgwatch_new(struct loop *loop, struct cgwatch **ret);
/* Every entry must be removed first. */
void cgwatch_free(struct cgwatch *w);

/* Watch attr of the cgroup open as dirfd. Several entries may watch the
 * same file: inotify gives them one watch descriptor, which stays until
 * the last of them is removed. */
int cgwatch_add(struct cgwatch *w, int dirfd, const char *attr, cgwatch_cb cb, void *data,
		struct cgwatch_entry **ret);
void cgwatch_remove(struct cgwatch_entry *e);
static inline void cgwatch_removep(struct cgwatch_entry **e)
{
	if (*e)
		cgwatch_remove(*e);
	*e = NULL;
}

/* A subdirectory of a watched directory appeared (created: mkdir, or
 * moved in) or went away (rmdir, moved out); name NULL means events were
 * lost (the queue overflowed) and the directory must be read again. */
typedef void (*cgwatch_dir_cb)(void *data, const char *name, bool created);

/* Watch the directory open as dirfd (a cgroup) for its child cgroups.
 * The kernel reports mkdir and rmdir in cgroupfs like any filesystem. */
int cgwatch_add_dir(struct cgwatch *w, int dirfd, cgwatch_dir_cb cb, void *data, struct cgwatch_entry **ret);

/* How many files are watched (for status and tests). */
size_t cgwatch_count(const struct cgwatch *w);

/* inotify takes a path, not a dirfd: add a watch on attr of the cgroup
 * open as dirfd to the instance ifd, naming it through /proc/self/fd. The
 * kernel reports a change of cgroup.events and memory.events as IN_MODIFY.
 * Returns the watch descriptor or a negative errno. */
int cgwatch_inotify_add(int ifd, int dirfd, const char *attr);
