/* notify.h: the few lines of the systemd notify protocol guardian needs
 * (READY=1, STOPPING=1, WATCHDOG=1), without libsystemd. */
#pragma once

#include "util.h"

/* Send a datagram to $NOTIFY_SOCKET; 0 when unset (not under systemd). */
int notify_send(const char *state);
static inline void notify_ready(void) { (void)notify_send("READY=1"); }
static inline void notify_stopping(void) { (void)notify_send("STOPPING=1"); }
/* The watchdog interval asked for by systemd ($WATCHDOG_USEC), or 0. */
usec_t notify_watchdog_usec(void);
