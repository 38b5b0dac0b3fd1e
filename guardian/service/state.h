/* state.h: state.json's document apart from the supervisor: what a
 * guardian run keeps of each service for the next, parsed and checked
 * whole before any of it reaches a service, and written back. */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "lifecycle.h"
#include "util.h"

/* What the file keeps of one service. */
struct saved_service {
	char *name;
	bool want_running;
	bool gave_up;
	unsigned restarts, failures_in_row;
	usec_t started_mono, started_real;
	usec_t *restart_times;    /* the restart ring as saved (monotonic) */
	size_t n_restart_times;
	/* false: no exit saved, or one of a cause this guardian does not
	 * know (a newer one wrote it); last_exit is then all zero. */
	bool has_last_exit;
	struct service_exit last_exit;
};

struct saved_state {
	char *boot_id;            /* the boot it was written in */
	struct saved_service *services;
	size_t n_services;
};

/* The file's text (len bytes, no terminator needed): one JSON object and
 * nothing after it, of the shape guardian writes: a boot id, and per
 * service an object with want_running. Every other key guardian writes
 * may be missing (0, false), but where present has its type and its
 * field's range: a null, a string for a number, a fraction or a number
 * out of range is an error, as is any entry of the wrong shape, even for
 * a service no policy names. Unknown keys are skipped.
 * 0; -EBADMSG (*ret is then empty); -ENOMEM. */
int saved_state_parse(const char *text, size_t len, struct saved_state *ret);
void saved_state_free(struct saved_state *st);
/* The entry for a service, or NULL. */
const struct saved_service *saved_state_find(const struct saved_state *st, const char *name);
/* The document as guardian writes it; NULL when out of memory. */
struct json_object *saved_state_to_json(const struct saved_state *st);
