/* control.h: the unix control socket: one JSON request per connection,
 * checked with SO_PEERCRED, answered in order of arrival. */
#pragma once

#include <json-c/json.h>
#include <sys/types.h>

#include "bpf.h"
#include "loop.h"
#include "monitor.h"
#include "supervisor.h"

struct control_config {
	const char *socket_path;
	gid_t admin_gid;   /* members may change state; (gid_t)-1: root only */
	bool allow_read;   /* everyone may read status */
	const char *bpf_status; /* what the BPF observers are doing, for status */
	struct bpf_observers *bpf;  /* may be NULL */
	struct monitors *monitors;  /* for explain */
	const char *actions_path;
	const struct actionlog *actions; /* for its count of lost records */
	/* Reload the policies: validate first, apply only what changed; the
	 * reply says what changed or lists the errors. */
	struct json_object *(*reload)(void *data);
	void *reload_data;
};

struct control;

int control_new(struct loop *loop, struct supervisor *sup, const struct control_config *cfg,
		struct control **ret);
void control_free(struct control *c);

/* Build the status object (also used by tests). */
struct json_object *control_status(struct supervisor *sup, const char *only_service,
				   const struct control_config *cfg);
