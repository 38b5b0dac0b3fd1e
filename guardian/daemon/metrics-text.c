/* metrics-text.c: the Prometheus text exposition (format 0.0.4) of a
 * metrics snapshot: a pure function of its input, so it is tested with
 * plain structs (tests/unit/test_metrics.c). */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>

#include "metrics.h"

enum family {
	F_BUILD_INFO,
	F_UP,
	F_DECISION_LATENCY,
	F_ACTION_LOG_LOST,
	F_BPF_LOADED,
	F_SYSTEM_OOM_KILLS,
	F_SERVICE_STATE,
	F_WORKING_SET,
	F_MEMORY_MAX,
	F_MEMORY_HIGH,
	F_GROWTH,
	F_TIME_TO_MAX,
	F_PRESSURE_WAITING,
	F_PRESSURE_STALLED,
	F_RESTARTS,
	F_ACTIONS,
	F_KERNEL_OOM_KILLS,
	F_SIGNALS,
	_F_MAX,
};

const struct metrics_family metrics_families[_F_MAX] = {
	[F_BUILD_INFO] = { "guardian_build_info", "gauge", "guardian's version (label version); always 1" },
	[F_UP] = { "guardian_up", "gauge", "1 while guardian runs and answers" },
	[F_DECISION_LATENCY] = { "guardian_decision_latency_seconds", "histogram",
				 "From the kernel event or sample behind a pressure-engine decision to the decision "
				 "carried out and recorded" },
	[F_ACTION_LOG_LOST] = { "guardian_action_log_lost_records_total", "counter",
				"Action-log records that could not be written" },
	[F_BPF_LOADED] = { "guardian_bpf_program_loaded", "gauge",
			   "1 when the BPF observer (label program) is loaded and attached, 0 when off" },
	[F_SYSTEM_OOM_KILLS] = { "guardian_system_kernel_oom_kills_total", "counter",
				 "Kernel OOM kills guardian saw anywhere on the machine" },
	[F_SERVICE_STATE] = { "guardian_service_state", "gauge", "1 for the state the service is in, 0 for the others" },
	[F_WORKING_SET] = { "guardian_memory_working_set_bytes", "gauge",
			    "memory.current minus inactive file pages, as the pressure engine last sampled it" },
	[F_MEMORY_MAX] = { "guardian_memory_max_bytes", "gauge", "The cgroup's memory.max (absent when max)" },
	[F_MEMORY_HIGH] = { "guardian_memory_high_bytes", "gauge", "The cgroup's memory.high (absent when max)" },
	[F_GROWTH] = { "guardian_memory_growth_bytes_per_second", "gauge",
		       "The working set's growth rate as the pressure engine fits it" },
	[F_TIME_TO_MAX] = { "guardian_memory_time_to_max_seconds", "gauge",
			    "When the working set meets memory.max at its growth rate (absent when not growing)" },
	[F_PRESSURE_WAITING] = { "guardian_pressure_memory_waiting_seconds_total", "counter",
				 "Time some of the cgroup's tasks stalled on memory (memory.pressure some total)" },
	[F_PRESSURE_STALLED] = { "guardian_pressure_memory_stalled_seconds_total", "counter",
				 "Time all of the cgroup's tasks stalled on memory (memory.pressure full total)" },
	[F_RESTARTS] = { "guardian_restarts_total", "counter",
			 "Restarts since guardian started or the last guardctl start (as guardctl status)" },
	[F_ACTIONS] = { "guardian_actions_total", "counter",
			"Actions taken and kills seen, by action-log source, action and rule" },
	[F_KERNEL_OOM_KILLS] = { "guardian_kernel_oom_kills_total", "counter",
				 "Kernel OOM kills in the service's cgroup" },
	[F_SIGNALS] = { "guardian_signals_received_total", "counter",
			"Fatal signals others sent to the service's processes, by signal and sender" },
};
const size_t metrics_n_families = _F_MAX;

static const char *const service_states[] = { "stopped", "starting", "running", "stopping", "backoff", "gave-up" };

/* A label value: backslash, double quote and newline escaped. */
static void put_value(FILE *f, const char *v)
{
	for (; v && *v; v++) {
		if (*v == '\\' || *v == '"')
			fputc('\\', f);
		if (*v == '\n') {
			fputs("\\n", f);
			continue;
		}
		fputc(*v, f);
	}
}

static void put_label(FILE *f, bool *first, const char *name, const char *value)
{
	fprintf(f, "%s%s=\"", *first ? "{" : ",", name);
	put_value(f, value);
	fputc('"', f);
	*first = false;
}

static void put_service_labels(FILE *f, bool *first, const struct metrics_service *s)
{
	put_label(f, first, "service", s->name);
	if (s->namespace_ && *s->namespace_)
		put_label(f, first, "namespace", s->namespace_);
	if (s->pod && *s->pod)
		put_label(f, first, "pod", s->pod);
	if (s->container && *s->container)
		put_label(f, first, "container", s->container);
}

static void end_labels(FILE *f, bool first)
{
	if (!first)
		fputc('}', f);
	fputc(' ', f);
}

static void put_double(FILE *f, double v)
{
	if (isnan(v))
		fputs("NaN", f);
	else if (isinf(v))
		fputs(v > 0 ? "+Inf" : "-Inf", f);
	else
		fprintf(f, "%.9g", v);
}

/* Microseconds as seconds, exactly. */
static void put_usec(FILE *f, uint64_t usec)
{
	fprintf(f, "%" PRIu64 ".%06" PRIu64, usec / 1000000, usec % 1000000);
}

static void header(FILE *f, enum family i)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", metrics_families[i].name, metrics_families[i].help,
		metrics_families[i].name, metrics_families[i].type);
}

/* One sample of a per-service family with the service's labels only. */
static void service_u64(FILE *f, enum family i, const struct metrics_service *s, uint64_t v)
{
	bool first = true;

	fputs(metrics_families[i].name, f);
	put_service_labels(f, &first, s);
	end_labels(f, first);
	fprintf(f, "%" PRIu64 "\n", v);
}

static void service_double(FILE *f, enum family i, const struct metrics_service *s, double v)
{
	bool first = true;

	fputs(metrics_families[i].name, f);
	put_service_labels(f, &first, s);
	end_labels(f, first);
	put_double(f, v);
	fputc('\n', f);
}

static void service_usec(FILE *f, enum family i, const struct metrics_service *s, uint64_t usec)
{
	bool first = true;

	fputs(metrics_families[i].name, f);
	put_service_labels(f, &first, s);
	end_labels(f, first);
	put_usec(f, usec);
	fputc('\n', f);
}

static void daemon_part(FILE *f, const struct metrics_snapshot *s)
{
	const struct metrics_histogram *h = &s->decision_latency;
	uint64_t cum = 0;

	header(f, F_BUILD_INFO);
	fputs("guardian_build_info{version=\"", f);
	put_value(f, s->version);
	fputs("\"} 1\n", f);
	header(f, F_UP);
	fputs("guardian_up 1\n", f);

	header(f, F_DECISION_LATENCY);
	for (size_t i = 0; i < h->n_bounds; i++) {
		cum += h->counts ? h->counts[i] : 0;
		fprintf(f, "guardian_decision_latency_seconds_bucket{le=\"%g\"} %" PRIu64 "\n", h->bounds[i], cum);
	}
	cum += h->counts ? h->counts[h->n_bounds] : 0;
	fprintf(f, "guardian_decision_latency_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n", cum);
	fputs("guardian_decision_latency_seconds_sum ", f);
	put_double(f, h->sum);
	fprintf(f, "\nguardian_decision_latency_seconds_count %" PRIu64 "\n", cum);

	header(f, F_ACTION_LOG_LOST);
	fprintf(f, "guardian_action_log_lost_records_total %" PRIu64 "\n", s->action_log_lost);
	header(f, F_BPF_LOADED);
	for (size_t i = 0; i < s->n_bpf; i++) {
		fputs("guardian_bpf_program_loaded{program=\"", f);
		put_value(f, s->bpf[i].name);
		fprintf(f, "\"} %d\n", s->bpf[i].loaded ? 1 : 0);
	}
	header(f, F_SYSTEM_OOM_KILLS);
	fprintf(f, "guardian_system_kernel_oom_kills_total %" PRIu64 "\n", s->system_kernel_oom_kills);
}

static void states(FILE *f, const struct metrics_service *s)
{
	for (size_t i = 0; i < ARRAY_SIZE(service_states); i++) {
		bool first = true;

		fputs("guardian_service_state", f);
		put_service_labels(f, &first, s);
		put_label(f, &first, "state", service_states[i]);
		end_labels(f, first);
		fprintf(f, "%d\n", s->state && strcmp(s->state, service_states[i]) == 0);
	}
}

static void actions(FILE *f, const struct metrics_service *s)
{
	for (size_t i = 0; i < s->n_actions; i++) {
		const struct metrics_action_count *a = &s->actions[i];
		bool first = true;

		fputs("guardian_actions_total", f);
		put_service_labels(f, &first, s);
		put_label(f, &first, "source", a->source);
		put_label(f, &first, "action", a->action);
		put_label(f, &first, "rule", a->rule);
		end_labels(f, first);
		fprintf(f, "%" PRIu64 "\n", a->n);
	}
}

static void signals(FILE *f, const struct metrics_service *s)
{
	for (size_t i = 0; i < s->n_signals; i++) {
		const struct metrics_signal_count *c = &s->signals[i];
		bool first = true;

		fputs("guardian_signals_received_total", f);
		put_service_labels(f, &first, s);
		put_label(f, &first, "signal", c->signal);
		put_label(f, &first, "sender_comm", c->sender_comm);
		end_labels(f, first);
		fprintf(f, "%" PRIu64 "\n", c->n);
	}
}

/* The text format wants each family's samples together: one pass over
 * the services per family. */
static void service_family(FILE *f, const struct metrics_snapshot *snap, enum family i)
{
	header(f, i);
	for (size_t k = 0; k < snap->n_services; k++) {
		const struct metrics_service *s = &snap->services[k];

		switch (i) {
		case F_SERVICE_STATE: states(f, s); break;
		case F_WORKING_SET:
			if (s->has_memory)
				service_u64(f, i, s, s->working_set);
			break;
		case F_MEMORY_MAX:
			if (s->has_memory && s->memory_max != UINT64_MAX)
				service_u64(f, i, s, s->memory_max);
			break;
		case F_MEMORY_HIGH:
			if (s->has_memory && s->memory_high != UINT64_MAX)
				service_u64(f, i, s, s->memory_high);
			break;
		case F_GROWTH:
			if (s->has_growth)
				service_double(f, i, s, s->growth_bps);
			break;
		case F_TIME_TO_MAX:
			if (s->has_time_to_max)
				service_double(f, i, s, s->time_to_max_sec);
			break;
		case F_PRESSURE_WAITING:
			if (s->has_pressure)
				service_usec(f, i, s, s->pressure_some_usec);
			break;
		case F_PRESSURE_STALLED:
			if (s->has_pressure && s->has_pressure_full)
				service_usec(f, i, s, s->pressure_full_usec);
			break;
		case F_RESTARTS: service_u64(f, i, s, s->restarts); break;
		case F_ACTIONS: actions(f, s); break;
		case F_KERNEL_OOM_KILLS: service_u64(f, i, s, s->kernel_oom_kills); break;
		case F_SIGNALS: signals(f, s); break;
		default: break;
		}
	}
}

int metrics_text(const struct metrics_snapshot *s, char **ret, size_t *ret_len)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	bool bad;

	if (!f)
		return -ENOMEM;
	daemon_part(f, s);
	for (enum family i = F_SERVICE_STATE; i < _F_MAX; i++)
		service_family(f, s, i);
	bad = ferror(f);
	if (fclose(f) != 0 || bad) {
		free(buf);
		return -ENOMEM;
	}
	*ret = buf;
	*ret_len = len;
	return 0;
}
