/* loop.c: epoll dispatch with deferred freeing, so a callback may free any
 * source (its own or another one pending in the same batch), and every
 * timer of the daemon in one min-heap behind one timerfd: a timer costs no
 * kernel object, and timers due together run in one wake-up. */
#include "loop.h"

#include <sys/timerfd.h>

#include "log.h"

struct loop_source {
	struct loop *loop;
	int fd;              /* -1 for timers */
	bool own_fd;
	bool is_timer;
	bool dead;
	loop_cb cb;
	void *data;
	struct loop_source *next_dead;
	/* timers */
	usec_t deadline;     /* monotonic */
	usec_t every;        /* 0: one-shot */
	bool auto_free;      /* a one-shot nobody holds: freed once it ran */
	size_t heap_idx;     /* SIZE_MAX: not queued */
};

struct loop {
	int epfd;
	bool quit;
	int exit_code;
	struct loop_source *dead;
	int tfd;                   /* the one timerfd, armed for the heap's top */
	struct loop_source *tsrc;  /* its source in the epoll set */
	struct loop_source **heap; /* timers by deadline */
	size_t n_heap, cap_heap;
};

static int on_timerfd(struct loop_source *s, int fd, uint32_t revents, void *data);

int loop_new(struct loop **ret)
{
	struct loop *l = calloc(1, sizeof(*l));

	if (!l)
		return -ENOMEM;
	l->tfd = -1;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		int r = -errno;
		free(l);
		return r;
	}
	l->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (l->tfd < 0 || loop_add_fd(l, l->tfd, EPOLLIN, true, on_timerfd, l, &l->tsrc) < 0) {
		int r = l->tfd < 0 ? -errno : -ENOMEM;

		if (l->tfd >= 0)
			close(l->tfd);
		close(l->epfd);
		free(l);
		return r;
	}
	*ret = l;
	return 0;
}

static void loop_reap(struct loop *l)
{
	while (l->dead) {
		struct loop_source *s = l->dead;

		l->dead = s->next_dead;
		free(s);
	}
}

void loop_free(struct loop *l)
{
	if (!l)
		return;
	loop_source_free(l->tsrc);
	/* Timers still queued are the loop's: nobody else may hold them now. */
	while (l->n_heap)
		loop_source_free(l->heap[0]);
	loop_reap(l);
	free(l->heap);
	close(l->epfd);
	free(l);
}

int loop_add_fd(struct loop *l, int fd, uint32_t events, bool own_fd, loop_cb cb, void *data,
		struct loop_source **ret)
{
	struct loop_source *s = calloc(1, sizeof(*s));
	struct epoll_event ev = { .events = events };

	if (!s)
		return -ENOMEM;
	*s = (struct loop_source){ .loop = l, .fd = fd, .own_fd = own_fd, .cb = cb, .data = data };
	ev.data.ptr = s;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int r = -errno;
		free(s);
		return r;
	}
	if (ret)
		*ret = s;
	return 0;
}

int loop_fd_set_events(struct loop_source *s, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = s };

	return epoll_ctl(s->loop->epfd, EPOLL_CTL_MOD, s->fd, &ev) < 0 ? -errno : 0;
}

/* --- timers: a min-heap on deadline --------------------------------------- */

static bool earlier(const struct loop_source *a, const struct loop_source *b)
{
	return a->deadline < b->deadline;
}

static void heap_place(struct loop *l, size_t i, struct loop_source *s)
{
	l->heap[i] = s;
	s->heap_idx = i;
}

static void sift_up(struct loop *l, size_t i)
{
	struct loop_source *s = l->heap[i];

	while (i > 0 && earlier(s, l->heap[(i - 1) / 2])) {
		heap_place(l, i, l->heap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	heap_place(l, i, s);
}

static void sift_down(struct loop *l, size_t i)
{
	struct loop_source *s = l->heap[i];

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= l->n_heap)
			break;
		if (c + 1 < l->n_heap && earlier(l->heap[c + 1], l->heap[c]))
			c++;
		if (!earlier(l->heap[c], s))
			break;
		heap_place(l, i, l->heap[c]);
		i = c;
	}
	heap_place(l, i, s);
}

static void heap_remove(struct loop *l, struct loop_source *s)
{
	size_t i = s->heap_idx;
	struct loop_source *last;

	if (i == SIZE_MAX)
		return;
	s->heap_idx = SIZE_MAX;
	last = l->heap[--l->n_heap];
	if (i == l->n_heap)
		return;
	heap_place(l, i, last);
	sift_down(l, i);
	sift_up(l, last->heap_idx);
}

/* Arm the timerfd for the earliest deadline (absolute: no drift). */
static void arm_timerfd(struct loop *l)
{
	struct itimerspec its = { 0 };
	usec_t at;

	if (l->n_heap) {
		at = l->heap[0]->deadline ?: 1; /* 0 would disarm it */
		its.it_value = (struct timespec){ .tv_sec = (time_t)(at / USEC_PER_SEC),
						  .tv_nsec = (long)(at % USEC_PER_SEC) * 1000 };
	}
	if (timerfd_settime(l->tfd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
		log_debug("timerfd_settime: %m");
}

static int timer_queue(struct loop_source *s, usec_t after)
{
	struct loop *l = s->loop;

	heap_remove(l, s);
	if (l->n_heap == l->cap_heap) {
		size_t cap = l->cap_heap ? l->cap_heap * 2 : 64;
		struct loop_source **v = realloc(l->heap, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->heap = v;
		l->cap_heap = cap;
	}
	s->deadline = now_monotonic() + after;
	l->heap[l->n_heap++] = s;
	sift_up(l, l->n_heap - 1);
	if (s->heap_idx == 0)
		arm_timerfd(l);
	return 0;
}

/* Run every timer that is due; one read of the timerfd for all of them. */
static int on_timerfd(struct loop_source *src, int fd, uint32_t revents, void *data)
{
	struct loop *l = data;
	uint64_t expirations;
	usec_t now = now_monotonic();

	(void)!read(fd, &expirations, sizeof(expirations));
	while (l->n_heap && l->heap[0]->deadline <= now) {
		struct loop_source *s = l->heap[0];
		int r;

		heap_remove(l, s);
		if (s->every)
			(void)timer_queue(s, s->every);
		r = s->cb(s, -1, EPOLLIN, s->data);
		if (r < 0)
			log_warning_errno(r, "event handler failed");
		if (s->auto_free && s->heap_idx == SIZE_MAX)
			loop_source_free(s);
	}
	arm_timerfd(l);
	return 0;
}

static int add_timer(struct loop *l, usec_t after, usec_t every, loop_cb cb, void *data,
		     struct loop_source **ret)
{
	struct loop_source *s = calloc(1, sizeof(*s));
	int r;

	if (!s)
		return -ENOMEM;
	*s = (struct loop_source){ .loop = l, .fd = -1, .is_timer = true, .cb = cb, .data = data,
				   .every = every, .heap_idx = SIZE_MAX, .auto_free = !ret && !every };
	r = timer_queue(s, after);
	if (r < 0) {
		free(s);
		return r;
	}
	if (ret)
		*ret = s;
	return 0;
}

int loop_add_timer(struct loop *l, usec_t after, loop_cb cb, void *data, struct loop_source **ret)
{
	return add_timer(l, after, 0, cb, data, ret);
}

int loop_add_interval(struct loop *l, usec_t every, loop_cb cb, void *data, struct loop_source **ret)
{
	return add_timer(l, every, every, cb, data, ret);
}

int loop_timer_rearm(struct loop_source *s, usec_t after)
{
	if (s->dead)
		return -ESTALE;
	return timer_queue(s, after);
}

void loop_source_free(struct loop_source *s)
{
	if (!s || s->dead)
		return;
	if (s->is_timer)
		heap_remove(s->loop, s);
	else
		epoll_ctl(s->loop->epfd, EPOLL_CTL_DEL, s->fd, NULL);
	if (s->own_fd)
		close(s->fd);
	s->fd = -1;
	s->dead = true;
	s->next_dead = s->loop->dead;
	s->loop->dead = s;
}

struct loop *loop_source_loop(struct loop_source *s) { return s->loop; }

static void dispatch(struct loop_source *s, uint32_t revents)
{
	int r;

	if (s->dead)
		return;
	r = s->cb(s, s->fd, revents, s->data);
	if (r < 0)
		log_warning_errno(r, "event handler failed");
}

int loop_run(struct loop *l)
{
	struct epoll_event evs[32];

	l->quit = false;
	while (!l->quit) {
		int n = epoll_wait(l->epfd, evs, ARRAY_SIZE(evs), -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return log_error_errno(errno, "epoll_wait");
		}
		for (int i = 0; i < n; i++)
			dispatch(evs[i].data.ptr, evs[i].events);
		loop_reap(l);
	}
	return l->exit_code;
}

void loop_quit(struct loop *l, int code)
{
	l->quit = true;
	l->exit_code = code;
}
