/* sysguard-run.h: the system-wide guard at work: sample /proc/meminfo and
 * /proc/pressure/memory on a timer and on a PSI trigger, decide with the
 * pure sysguard.h, act through the supervisor, record. */
#pragma once

#include "actionlog.h"
#include "loop.h"
#include "supervisor.h"
#include "sysguard.h"

/* The per-service monitor's growth rate of a service's working set. */
typedef int (*sysguard_growth_fn)(void *data, struct service *svc, double *ret_bps);
/* Is the per-service engine acting on svc, or did it restart or kill it
 * lately? Then the system guard leaves it to the engine: one actor per
 * service. *ret_stalled: its stall is its own limit's or guardian's doing
 * (held at its memory.high, throttled or frozen by guardian). */
typedef bool (*sysguard_engaged_fn)(void *data, struct service *svc, bool *ret_stalled);

struct sysguard_run_config {
	struct sysguard_config guard;
	struct actionlog *log;     /* may be NULL */
	/* NULL (or an error from it): guardian's own samples of the working
	 * set, ~1 s apart. */
	sysguard_growth_fn growth;
	sysguard_engaged_fn engaged;
	void *growth_data;      /* for both */
};

struct sysguard;
int sysguard_start(struct loop *loop, struct supervisor *sup, const struct sysguard_run_config *cfg,
		   struct sysguard **ret);
void sysguard_stop(struct sysguard *g);
