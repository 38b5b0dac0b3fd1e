/* loop.c: epoll dispatch with deferred freeing, so a callback may free any
 * source (its own or another one pending in the same batch). */
#include "loop.h"

#include <sys/timerfd.h>

#include "log.h"

struct loop_source {
	struct loop *loop;
	int fd;
	bool own_fd;
	bool is_timer;
	bool dead;
	loop_cb cb;
	void *data;
	struct loop_source *next_dead;
};

struct loop {
	int epfd;
	bool quit;
	int exit_code;
	struct loop_source *dead;
};

int loop_new(struct loop **ret)
{
	struct loop *l = calloc(1, sizeof(*l));

	if (!l)
		return -ENOMEM;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		int r = -errno;
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
	loop_reap(l);
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

static int timer_set(int fd, usec_t after, usec_t every)
{
	struct itimerspec its = {
		.it_value = { .tv_sec = after / USEC_PER_SEC, .tv_nsec = (after % USEC_PER_SEC) * 1000 },
		.it_interval = { .tv_sec = every / USEC_PER_SEC, .tv_nsec = (every % USEC_PER_SEC) * 1000 },
	};

	/* A zero it_value disarms the timer: fire "now" as 1 ns instead. */
	if (after == 0)
		its.it_value.tv_nsec = 1;
	return timerfd_settime(fd, 0, &its, NULL) < 0 ? -errno : 0;
}

static int add_timerfd(struct loop *l, usec_t after, usec_t every, loop_cb cb, void *data,
		       struct loop_source **ret)
{
	_cleanup_close_ int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	struct loop_source *s;
	int r;

	if (fd < 0)
		return -errno;
	r = timer_set(fd, after, every);
	if (r < 0)
		return r;
	r = loop_add_fd(l, fd, EPOLLIN, true, cb, data, &s);
	if (r < 0)
		return r;
	fd = -1;
	s->is_timer = true;
	if (ret)
		*ret = s;
	return 0;
}

int loop_add_timer(struct loop *l, usec_t after, loop_cb cb, void *data, struct loop_source **ret)
{
	return add_timerfd(l, after, 0, cb, data, ret);
}

int loop_add_interval(struct loop *l, usec_t every, loop_cb cb, void *data, struct loop_source **ret)
{
	return add_timerfd(l, every, every, cb, data, ret);
}

int loop_timer_rearm(struct loop_source *s, usec_t after)
{
	return timer_set(s->fd, after, 0);
}

void loop_source_free(struct loop_source *s)
{
	if (!s || s->dead)
		return;
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
	uint64_t expirations;
	int r;

	if (s->dead)
		return;
	/* Timers: consume the expiration count so the fd stops being ready. */
	if (s->is_timer && read(s->fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		log_debug("timer read: %m");
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
