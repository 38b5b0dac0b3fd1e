/* cgwatch.c: the daemon's one inotify instance. A per-service instance
 * would stop at fs.inotify.max_user_instances (128 by default) guarded
 * cgroups; watches are bounded by max_user_watches, which is far larger. */
#include "cgwatch.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/inotify.h>
#include <unistd.h>

struct cgwatch_entry {
	struct cgwatch *w;
	int wd;          /* -1 once the kernel dropped the watch (file removed) */
	cgwatch_cb cb;         /* a file's IN_MODIFY, or: */
	cgwatch_dir_cb dir_cb; /* a directory's children */
	void *data;
	bool dead;       /* removed while dispatching: freed after it */
};

struct cgwatch {
	int ifd;
	struct loop_source *src;
	struct cgwatch_entry **v;
	size_t n, cap;
	unsigned dispatching;
};

#define DIR_EVENTS (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO)

static int inotify_add(int ifd, int dirfd, const char *attr, uint32_t mask)
{
	char path[128];
	int wd;

	if (dirfd < 0)
		return -EBADF;
	snprintf(path, sizeof(path), "/proc/self/fd/%d/%s", dirfd, attr);
	wd = inotify_add_watch(ifd, path, mask);
	return wd < 0 ? -errno : wd;
}

int cgwatch_inotify_add(int ifd, int dirfd, const char *attr)
{
	return inotify_add(ifd, dirfd, attr, IN_MODIFY);
}

static bool wd_in_use(const struct cgwatch *w, int wd, const struct cgwatch_entry *except)
{
	for (size_t i = 0; i < w->n; i++)
		if (w->v[i] != except && !w->v[i]->dead && w->v[i]->wd == wd)
			return true;
	return false;
}

/* Drop entries removed during a dispatch, keeping the order of the rest. */
static void sweep(struct cgwatch *w)
{
	size_t j = 0;

	for (size_t i = 0; i < w->n; i++) {
		if (w->v[i]->dead)
			free(w->v[i]);
		else
			w->v[j++] = w->v[i];
	}
	w->n = j;
}

static void call(struct cgwatch_entry *e, uint32_t mask, const char *name)
{
	if (!e->dir_cb)
		e->cb(e->data);
	else if (mask & IN_Q_OVERFLOW)
		e->dir_cb(e->data, NULL, false);
	else if ((mask & IN_ISDIR) && (mask & DIR_EVENTS))
		e->dir_cb(e->data, name, mask & (IN_CREATE | IN_MOVED_TO));
}

static void dispatch(struct cgwatch *w, int wd, uint32_t mask, const char *name)
{
	/* Entries added by a callback land at the end and are not called for
	 * an event that came before them. */
	size_t n = w->n;

	for (size_t i = 0; i < n; i++) {
		struct cgwatch_entry *e = w->v[i];

		if (e->dead || e->wd < 0)
			continue;
		/* The kernel's queue overflowed: events were dropped, and any
		 * file may have changed. Everyone re-reads. */
		if (mask & IN_Q_OVERFLOW) {
			call(e, mask, NULL);
			continue;
		}
		if (e->wd != wd)
			continue;
		if (mask & IN_IGNORED)
			e->wd = -1; /* the file is gone; the number may be handed out again */
		else
			call(e, mask, name);
	}
}

static int on_inotify(struct loop_source *src, int fd, uint32_t revents, void *data)
{
	struct cgwatch *w = data;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;

	w->dispatching++;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		const struct inotify_event *prev = NULL;

		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const void *)p;

			/* One change often queues several IN_MODIFY in a row: one
			 * call for them. Anything else is dispatched as it comes. */
			if (!prev || ev->wd != prev->wd || ev->mask != IN_MODIFY || prev->mask != IN_MODIFY)
				dispatch(w, ev->wd, ev->mask, ev->len ? ev->name : NULL);
			prev = ev;
			p += sizeof(*ev) + ev->len;
		}
	}
	if (--w->dispatching == 0)
		sweep(w);
	if (n < 0 && errno != EAGAIN && errno != EINTR)
		return -errno;
	return 0;
}

int cgwatch_new(struct loop *loop, struct cgwatch **ret)
{
	struct cgwatch *w = calloc(1, sizeof(*w));
	int r;

	if (!w)
		return -ENOMEM;
	w->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->ifd < 0) {
		r = -errno;
		free(w);
		return r;
	}
	r = loop_add_fd(loop, w->ifd, EPOLLIN, true, on_inotify, w, &w->src);
	if (r < 0) {
		close(w->ifd);
		free(w);
		return r;
	}
	*ret = w;
	return 0;
}

void cgwatch_free(struct cgwatch *w)
{
	if (!w)
		return;
	for (size_t i = 0; i < w->n; i++)
		free(w->v[i]);
	free(w->v);
	loop_source_free(w->src); /* closes the instance */
	free(w);
}

static int add_entry(struct cgwatch *w, int dirfd, const char *attr, uint32_t mask, cgwatch_cb cb,
		     cgwatch_dir_cb dir_cb, void *data, struct cgwatch_entry **ret)
{
	struct cgwatch_entry *e;
	int wd;

	if (w->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 16;
		struct cgwatch_entry **v = realloc(w->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		w->v = v;
		w->cap = cap;
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	wd = inotify_add(w->ifd, dirfd, attr, mask);
	if (wd < 0) {
		free(e);
		return wd;
	}
	*e = (struct cgwatch_entry){ .w = w, .wd = wd, .cb = cb, .dir_cb = dir_cb, .data = data };
	w->v[w->n++] = e;
	*ret = e;
	return 0;
}

int cgwatch_add(struct cgwatch *w, int dirfd, const char *attr, cgwatch_cb cb, void *data,
		struct cgwatch_entry **ret)
{
	return add_entry(w, dirfd, attr, IN_MODIFY, cb, NULL, data, ret);
}

int cgwatch_add_dir(struct cgwatch *w, int dirfd, cgwatch_dir_cb cb, void *data, struct cgwatch_entry **ret)
{
	return add_entry(w, dirfd, ".", DIR_EVENTS | IN_ONLYDIR, NULL, cb, data, ret);
}

void cgwatch_remove(struct cgwatch_entry *e)
{
	struct cgwatch *w;

	if (!e || e->dead)
		return;
	w = e->w;
	if (e->wd >= 0 && !wd_in_use(w, e->wd, e))
		(void)inotify_rm_watch(w->ifd, e->wd);
	e->dead = true;
	if (!w->dispatching)
		sweep(w);
}

size_t cgwatch_count(const struct cgwatch *w)
{
	size_t n = 0;

	for (size_t i = 0; w && i < w->n; i++)
		n += !w->v[i]->dead;
	return n;
}
