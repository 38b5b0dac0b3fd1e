/* fuzz_state.c: libFuzzer target for state.json's loader without a
 * supervisor: any bytes give a document or -EBADMSG. Asserted, besides no
 * crash, leak or undefined behaviour:
 *   - a refused document leaves nothing behind;
 *   - every loaded field is in its range (a known exit cause, times at
 *     most INT64_MAX, names unique), and what status would say of the
 *     exit can be said;
 *   - the document guardian would write of what was loaded loads back to
 *     the same, field for field. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "state.h"


static void check_ranges(const struct saved_state *st)
{
	char buf[256];

	check(st->boot_id);
	for (size_t i = 0; i < st->n_services; i++) {
		const struct saved_service *e = &st->services[i];
		const struct service_exit *x = &e->last_exit;

		check(e->name && saved_state_find(st, e->name) == e);
		check(e->started_mono <= INT64_MAX && e->started_real <= INT64_MAX);
		check(e->n_restart_times == 0 || e->restart_times);
		for (size_t k = 0; k < e->n_restart_times; k++)
			check(e->restart_times[k] <= INT64_MAX);
		if (!e->has_last_exit) {
			check(x->cause == EXIT_NONE && x->code == 0 && x->at == 0 && !x->has_sender);
			continue;
		}
		check(x->cause >= EXIT_NONE && x->cause < _EXIT_CAUSE_MAX && x->at <= INT64_MAX);
		check(memchr(x->sender.comm, '\0', sizeof(x->sender.comm)));
		/* What guardctl status shows of it. */
		lifecycle_describe_exit(x, buf, sizeof(buf));
		check(strlen(exit_cause_to_string(x->cause)) > 0);
		format_rfc3339(x->at, buf, sizeof(buf));
	}
}

static bool same_exit(const struct service_exit *a, const struct service_exit *b)
{
	if (a->cause != b->cause || a->code != b->code || a->at != b->at || a->has_sender != b->has_sender)
		return false;
	return !a->has_sender ||
	       (a->sender.sig == b->sender.sig && a->sender.target == b->sender.target &&
		a->sender.pid == b->sender.pid && a->sender.uid == b->sender.uid &&
		strcmp(a->sender.comm, b->sender.comm) == 0);
}

static void check_same(const struct saved_state *a, const struct saved_state *b)
{
	check(strcmp(a->boot_id, b->boot_id) == 0);
	check(a->n_services == b->n_services);
	for (size_t i = 0; i < a->n_services; i++) {
		const struct saved_service *x = &a->services[i], *y = saved_state_find(b, x->name);

		check(y);
		check(x->want_running == y->want_running && x->gave_up == y->gave_up);
		check(x->restarts == y->restarts && x->failures_in_row == y->failures_in_row);
		check(x->started_mono == y->started_mono && x->started_real == y->started_real);
		check(x->n_restart_times == y->n_restart_times);
		check(x->n_restart_times == 0 ||
		      memcmp(x->restart_times, y->restart_times, x->n_restart_times * sizeof(usec_t)) == 0);
		check(x->has_last_exit == y->has_last_exit && same_exit(&x->last_exit, &y->last_exit));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct saved_state st, again;
	struct json_object *doc;
	const char *text;
	int r;

	r = saved_state_parse((const char *)data, size, &st);
	if (r < 0) {
		check(r == -EBADMSG || r == -ENOMEM);
		check(!st.boot_id && !st.services && st.n_services == 0);
		return 0;
	}
	check_ranges(&st);
	doc = saved_state_to_json(&st);
	text = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN);
	r = saved_state_parse(text, strlen(text), &again);
	check(r == 0 || r == -ENOMEM);
	if (r == 0) {
		check_same(&st, &again);
		saved_state_free(&again);
	}
	json_object_put(doc);
	saved_state_free(&st);
	return 0;
}
