/* control-request.h: what the control socket reads from a client, apart
 * from the socket: the request line as its bytes arrive, and the command
 * and service it names. No I/O and no supervisor: tests and fuzzers call it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* A request line larger than this is refused: commands are short. */
#define CONTROL_REQUEST_MAX 65536

enum control_command_id {
	CONTROL_STATUS,
	CONTROL_EXPLAIN,
	CONTROL_START,
	CONTROL_STOP,
	CONTROL_RESTART,
	CONTROL_RELOAD,
	_CONTROL_COMMAND_MAX,
};

struct control_command {
	enum control_command_id id;
	const char *name;
	bool mutating;      /* needs an admin caller; runs in the queue */
	bool needs_service;
};

/* The command called name, or NULL (also for a NULL name). */
const struct control_command *control_command_find(const char *name);

/* The request line as the client's bytes arrive. Zero-initialised is
 * empty. The request is the line, whatever else the client sent after
 * its newline and however its bytes were split into reads. */
struct control_line {
	char *buf;     /* the line so far without its newline, NUL-terminated; NULL before any byte */
	size_t len;
};
/* Adds n bytes the client sent: 1 once the newline is among them (what
 * follows it is not kept, and nothing more is to be added), 0 while more
 * may come, -E2BIG once the line is longer than CONTROL_REQUEST_MAX,
 * -ENOMEM. */
int control_line_add(struct control_line *l, const char *data, size_t n);
void control_line_free(struct control_line *l);

/* What a request line asks for. */
struct control_request {
	const struct control_command *cmd;
	char *service;  /* the service it names, malloc'd; NULL: none */
};
/* The request in line (a JSON object: "command", optionally "service").
 * 0; -EBADMSG with the error to answer in err (a malformed request, an
 * unknown command); -ENOMEM. */
int control_request_parse(const char *line, struct control_request *ret, char *err, size_t errlen);
void control_request_free(struct control_request *r);
