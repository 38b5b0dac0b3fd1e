/* control-request.c: the control socket's requests without the socket:
 * a client's bytes into a request line, the line into a command. */
#include "control-request.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static const struct control_command commands[] = {
	{ CONTROL_STATUS, "status", false, false },
	{ CONTROL_EXPLAIN, "explain", false, true },
	{ CONTROL_START, "start", true, true },
	{ CONTROL_STOP, "stop", true, true },
	{ CONTROL_RESTART, "restart", true, true },
	{ CONTROL_RELOAD, "reload", true, false },
};

const struct control_command *control_command_find(const char *name)
{
	for (size_t i = 0; name && i < ARRAY_SIZE(commands); i++)
		if (strcmp(name, commands[i].name) == 0)
			return &commands[i];
	return NULL;
}

int control_line_add(struct control_line *l, const char *data, size_t n)
{
	const char *nl = memchr(data, '\n', n);
	size_t take = nl ? (size_t)(nl - data) : n;
	char *bigger;

	if (l->len + take > CONTROL_REQUEST_MAX)
		return -E2BIG;
	bigger = realloc(l->buf, l->len + take + 1);
	if (!bigger)
		return -ENOMEM;
	l->buf = bigger;
	memcpy(l->buf + l->len, data, take);
	l->len += take;
	l->buf[l->len] = '\0';
	return nl ? 1 : 0;
}

void control_line_free(struct control_line *l)
{
	free(l->buf);
	*l = (struct control_line){ 0 };
}

int control_request_parse(const char *line, struct control_request *ret, char *err, size_t errlen)
{
	struct json_object *req = json_tokener_parse(line), *v;
	const char *name = NULL, *cmd_name = NULL;
	int r = 0;

	*ret = (struct control_request){ 0 };
	if (!req || !json_object_is_type(req, json_type_object)) {
		snprintf(err, errlen, "malformed request");
		r = -EBADMSG;
		goto out;
	}
	/* Strings only: json-c would hand back 5 or {} as their JSON text. */
	if (json_object_object_get_ex(req, "command", &v) && json_object_is_type(v, json_type_string))
		cmd_name = json_object_get_string(v);
	if (json_object_object_get_ex(req, "service", &v) && !json_object_is_type(v, json_type_null)) {
		if (!json_object_is_type(v, json_type_string)) {
			snprintf(err, errlen, "'service' must be a string");
			r = -EBADMSG;
			goto out;
		}
		name = json_object_get_string(v);
	}
	ret->cmd = control_command_find(cmd_name);
	if (!ret->cmd) {
		snprintf(err, errlen, "unknown command '%s'", cmd_name ? cmd_name : "");
		r = -EBADMSG;
		goto out;
	}
	if (name && !(ret->service = strdup(name))) {
		ret->cmd = NULL;
		r = -ENOMEM;
	}
out:
	json_object_put(req);
	return r;
}

void control_request_free(struct control_request *r)
{
	free(r->service);
	*r = (struct control_request){ 0 };
}
