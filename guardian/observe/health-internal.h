/* health-internal.h: what health.c (the runs) and health-resolve.c (their
 * addresses) share. */
#pragma once

#include "health.h"

/* Room for a URL, a quoted `contains` and an errno text; longer is cut. */
#define REASON_MAX 512

/* Ends a child without waiting: SIGKILL through its pidfd (and to its
 * process group `pid` when `group`: spawn made it a session leader),
 * reaped now if it is gone, else from the loop once it is. Takes pidfd.
 * The pid cannot have been reused: the child is not reaped yet. */
void health_end_child(struct loop *l, pid_t pid, int pidfd, bool group);
