/* loop.h: the daemon's single epoll loop: fds, one-shot timers (timerfd)
 * and signals (signalfd). Everything guardian waits on goes through it. */
#pragma once

#include <stdint.h>
#include <sys/epoll.h>

#include "util.h"

struct loop;
struct loop_source;

/* A callback's negative return is logged by the loop and otherwise ignored:
 * one misbehaving service must not stop the daemon. */
typedef int (*loop_cb)(struct loop_source *s, int fd, uint32_t revents, void *data);

int loop_new(struct loop **ret);
void loop_free(struct loop *l);

/* Watch fd (not owned unless the flag says so) for events. */
int loop_add_fd(struct loop *l, int fd, uint32_t events, bool own_fd, loop_cb cb, void *data,
		struct loop_source **ret);
/* Change what an fd source waits for (EPOLLIN, EPOLLOUT, ...). */
int loop_fd_set_events(struct loop_source *s, uint32_t events);
/* Fire once, after `after` usec (CLOCK_MONOTONIC). The source stays until
 * freed; loop_timer_rearm sets it again. With ret NULL nobody can free it:
 * it is freed once it ran. loop_free frees timers still queued. */
int loop_add_timer(struct loop *l, usec_t after, loop_cb cb, void *data, struct loop_source **ret);
int loop_timer_rearm(struct loop_source *s, usec_t after);
/* Periodic timer. */
int loop_add_interval(struct loop *l, usec_t every, loop_cb cb, void *data, struct loop_source **ret);

/* Free a source; safe from inside any callback (freed after dispatch). */
void loop_source_free(struct loop_source *s);
static inline void loop_source_freep(struct loop_source **s)
{
	if (*s)
		loop_source_free(*s);
	*s = NULL;
}

/* Run until loop_quit; returns the exit code given to it. */
int loop_run(struct loop *l);
void loop_quit(struct loop *l, int code);
struct loop *loop_source_loop(struct loop_source *s);
