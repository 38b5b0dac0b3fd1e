/* metrics.h: Prometheus /metrics: the figures of one scrape gathered from
 * the daemon's parts, the text exposition built from them (a pure
 * function), and the HTTP server (libmicrohttpd) run on guardian's loop. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "actionlog.h"
#include "bpf.h"
#include "loop.h"
#include "monitor.h"
#include "supervisor.h"

/* --- the exposition: a pure function of a snapshot ------------------------ */

/* Every metric family the exposition can hold, with its type and help. */
struct metrics_family {
	const char *name;
	const char *type; /* "gauge", "counter", "histogram" */
	const char *help;
};
extern const struct metrics_family metrics_families[];
extern const size_t metrics_n_families;

struct metrics_action_count {
	const char *source, *action, *rule; /* rule "" when the record has none */
	uint64_t n;
};

struct metrics_signal_count {
	const char *signal, *sender_comm;
	uint64_t n;
};

struct metrics_service {
	const char *name;
	/* A pod container's (NULL or "" when not a pod, or not known yet). */
	const char *namespace_, *pod, *container;
	const char *state;          /* service_state_to_string() */
	bool has_memory;            /* the monitor has sampled this run */
	uint64_t working_set;
	uint64_t memory_max, memory_high; /* UINT64_MAX: "max" (left out) */
	bool has_growth;
	double growth_bps;
	bool has_time_to_max;
	double time_to_max_sec;
	bool has_pressure, has_pressure_full;
	uint64_t pressure_some_usec, pressure_full_usec; /* memory.pressure totals */
	uint64_t restarts;
	uint64_t kernel_oom_kills;
	const struct metrics_action_count *actions;
	size_t n_actions;
	const struct metrics_signal_count *signals;
	size_t n_signals;
};

struct metrics_bpf_program {
	const char *name;
	bool loaded;
};

/* counts[i]: observations <= bounds[i] and above bounds[i-1] (not
 * cumulative); counts[n_bounds] those above the last bound. */
struct metrics_histogram {
	const double *bounds; /* seconds, ascending */
	size_t n_bounds;
	const uint64_t *counts;
	double sum;
};

struct metrics_snapshot {
	const char *version;
	uint64_t action_log_lost;
	uint64_t system_kernel_oom_kills; /* every kernel OOM kill seen on the machine */
	const struct metrics_bpf_program *bpf;
	size_t n_bpf;
	struct metrics_histogram decision_latency;
	const struct metrics_service *services;
	size_t n_services;
};

/* The text exposition format (version 0.0.4) of s, malloc'd. 0 or -ENOMEM. */
int metrics_text(const struct metrics_snapshot *s, char **ret, size_t *ret_len);

/* --- the server --------------------------------------------------------------- */

/* --metrics-listen: "127.0.0.1:9464", "[::1]:9464", "0.0.0.0:9464",
 * "[::]:9464"; numeric addresses only. -EINVAL when it is not one. */
int metrics_parse_listen(const char *arg, struct sockaddr_storage *ret, socklen_t *ret_len);

/* A request must arrive and its answer be taken within this of
 * connecting (or of the previous answer on a kept-alive connection):
 * Prometheus' own scrape_timeout defaults to 10 s. */
#define METRICS_REQUEST_DEADLINE (10 * USEC_PER_SEC)

struct metrics_config {
	struct sockaddr_storage addr;
	socklen_t addr_len;
	struct supervisor *sup;
	struct monitors *monitors;
	struct bpf_observers *bpf;   /* may be NULL */
	struct actionlog *actions;   /* its records are counted; may be NULL */
	usec_t request_deadline;     /* 0: METRICS_REQUEST_DEADLINE (tests give less) */
};

struct metrics;

/* Listen (the caller logs a failure with the address) and serve /metrics
 * from the loop; counts the action log's records from here on. */
int metrics_new(struct loop *loop, const struct metrics_config *cfg, struct metrics **ret);
/* Before the supervisor and the action log are freed. */
void metrics_free(struct metrics *m);
/* The address it listens on, e.g. "127.0.0.1:9464" (the real port when 0
 * was asked for). */
const char *metrics_address(const struct metrics *m);
