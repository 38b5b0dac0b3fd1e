/* bpf.h: the BPF observers: load, attach, and feed their ring buffer into
 * the event loop. An extra sense: guardian runs without them. */
#pragma once

#include "actionlog.h"
#include "loop.h"

struct bpf_observers;

/* Returns a status line for `guardctl status`: "on: oomkill" or
 * "off: <why>". Never fails the daemon. */
const char *bpf_observers_start(struct loop *loop, struct actionlog *log, bool disabled,
				struct bpf_observers **ret);
void bpf_observers_stop(struct bpf_observers *o);
