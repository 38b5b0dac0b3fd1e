/* test_control.c: what the control socket makes of a client's bytes,
 * without a socket or a supervisor: the request line as it arrives
 * (control_line_add) and the command and service it names
 * (control_request_parse), for guardctl's own requests and for the ones
 * a confused or hostile client sends. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "control-request.h"
#include "util.h"

/* The request a line makes, or its error. */
struct outcome {
	int r;
	const char *cmd;
	char service[256]; /* "" for none */
	char err[512];
	bool has_service;
};

static struct outcome parse(const char *line)
{
	struct outcome o = { 0 };
	struct control_request req;

	o.r = control_request_parse(line, &req, o.err, sizeof(o.err));
	if (o.r == 0) {
		o.cmd = req.cmd->name;
		o.has_service = req.service != NULL;
		if (req.service)
			snprintf(o.service, sizeof(o.service), "%s", req.service);
	}
	control_request_free(&req);
	return o;
}

/* Bytes fed in chunks of `step` until the line completes: the return of the last add. */
static int feed(struct control_line *l, const char *data, size_t len, size_t step)
{
	int r = 0;

	for (size_t off = 0; off < len && r == 0; off += step)
		r = control_line_add(l, data + off, len - off < step ? len - off : step);
	return r;
}

static void requests_as_guardctl_sends_them_name_the_command_and_service(void **state)
{
	static const struct {
		const char *line, *cmd, *service;
		bool mutating, needs_service;
	} cases[] = {
		{ "{\"command\":\"status\"}\n", "status", NULL, false, false },
		{ "{\"command\":\"status\",\"service\":\"web\"}\n", "status", "web", false, false },
		{ "{\"command\":\"explain\",\"service\":\"web\"}\n", "explain", "web", false, true },
		{ "{\"command\":\"start\",\"service\":\"web\"}\n", "start", "web", true, true },
		{ "{\"command\":\"stop\",\"service\":\"system.slice/x.service\"}\n", "stop", "system.slice/x.service", true, true },
		{ "{\"command\":\"restart\",\"service\":\"db\"}\n", "restart", "db", true, true },
		{ "{\"command\":\"reload\"}\n", "reload", NULL, true, false },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct control_request req;
		char err[64] = "";

		assert_int_equal(control_request_parse(cases[i].line, &req, err, sizeof(err)), 0);
		assert_string_equal(req.cmd->name, cases[i].cmd);
		assert_int_equal(req.cmd->mutating, cases[i].mutating);
		assert_int_equal(req.cmd->needs_service, cases[i].needs_service);
		if (cases[i].service)
			assert_string_equal(req.service, cases[i].service);
		else
			assert_null(req.service);
		assert_string_equal(err, ""); /* untouched */
		control_request_free(&req);
	}
}

static void anything_but_a_json_object_is_a_malformed_request(void **state)
{
	static const char *const bad[] = {
		"", "\n", "status\n", "[\"status\"]\n", "\"status\"\n", "42\n", "null\n",
		"{\"command\":\"status\"\n",      /* cut short */
		"{\"command\" \"status\"}\n",
		"\x7f" "ELF\x02\x01\x01",
	};

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct outcome o = parse(bad[i]);

		print_message("  bad[%zu]\n", i);
		assert_int_equal(o.r, -EBADMSG);
		assert_string_equal(o.err, "malformed request");
	}
}

static void an_unknown_or_missing_command_is_named_in_the_error(void **state)
{
	struct outcome o;

	o = parse("{\"command\":\"kill\",\"service\":\"web\"}\n");
	assert_int_equal(o.r, -EBADMSG);
	assert_string_equal(o.err, "unknown command 'kill'");
	o = parse("{\"service\":\"web\"}\n");
	assert_int_equal(o.r, -EBADMSG);
	assert_string_equal(o.err, "unknown command ''");
	o = parse("{\"command\":null}\n");
	assert_string_equal(o.err, "unknown command ''");
	o = parse("{\"command\":\"STATUS\"}\n"); /* names are exact */
	assert_string_equal(o.err, "unknown command 'STATUS'");
}

/* json-c gives any value's JSON text as a string: 5 is not "5". */
static void a_command_or_service_that_is_not_a_string_is_refused(void **state)
{
	struct outcome o;

	o = parse("{\"command\":5}\n");
	assert_int_equal(o.r, -EBADMSG);
	assert_string_equal(o.err, "unknown command ''");
	o = parse("{\"command\":[\"status\"]}\n");
	assert_string_equal(o.err, "unknown command ''");
	o = parse("{\"command\":\"stop\",\"service\":5}\n");
	assert_int_equal(o.r, -EBADMSG);
	assert_string_equal(o.err, "'service' must be a string");
	o = parse("{\"command\":\"stop\",\"service\":{\"name\":\"web\"}}\n");
	assert_string_equal(o.err, "'service' must be a string");
	o = parse("{\"command\":\"status\",\"service\":null}\n"); /* as absent */
	assert_int_equal(o.r, 0);
	assert_false(o.has_service);
}

static void an_error_longer_than_the_buffer_is_cut_and_terminated(void **state)
{
	char line[2048], err[32];
	struct control_request req;

	memset(line, 0, sizeof(line));
	strcpy(line, "{\"command\":\"");
	memset(line + strlen(line), 'x', 1000);
	strcat(line, "\"}\n");
	assert_int_equal(control_request_parse(line, &req, err, sizeof(err)), -EBADMSG);
	assert_int_equal(strlen(err), sizeof(err) - 1);
	assert_memory_equal(err, "unknown command 'xxxx", 21);
}

static void the_line_completes_at_a_newline_however_the_bytes_arrive(void **state)
{
	static const char req[] = "{\"command\":\"stop\",\"service\":\"web\"}\n";

	for (size_t step = 1; step <= sizeof(req); step++) {
		struct control_line l = { 0 };

		assert_int_equal(feed(&l, req, sizeof(req) - 1, step), 1);
		assert_string_equal(l.buf, "{\"command\":\"stop\",\"service\":\"web\"}");
		assert_string_equal(parse(l.buf).cmd, "stop");
		control_line_free(&l);
	}
}

static void a_line_without_its_newline_is_not_complete(void **state)
{
	struct control_line l = { 0 };

	assert_int_equal(control_line_add(&l, "{\"command\":", 11), 0);
	assert_int_equal(control_line_add(&l, "\"status\"}", 9), 0);
	assert_int_equal(l.len, 20);
	/* The client's end of the stream makes it the request. */
	assert_string_equal(parse(l.buf).cmd, "status");
	control_line_free(&l);
	assert_null(l.buf);
	assert_int_equal(l.len, 0);
}

/* The request is the line: what the client sent after its newline is
 * not part of it, whether it came in the same read or a later one (a
 * newline inside the JSON made one read a "stop" and two reads a
 * malformed request). */
static void the_request_ends_at_the_first_newline_however_the_bytes_arrive(void **state)
{
	static const char req[] = "{\"command\":\n\"stop\",\"service\":\"web\"}\n";
	static const char two[] = "{\"command\":\"status\"}\n{\"command\":\"stop\",\"service\":\"web\"}\n";

	for (size_t step = 1; step <= sizeof(req); step++) {
		struct control_line l = { 0 };
		struct outcome o;

		assert_int_equal(feed(&l, req, sizeof(req) - 1, step), 1);
		assert_string_equal(l.buf, "{\"command\":");
		o = parse(l.buf);
		assert_int_equal(o.r, -EBADMSG);
		assert_string_equal(o.err, "malformed request");
		control_line_free(&l);
	}
	for (size_t step = 1; step <= sizeof(two); step++) {
		struct control_line l = { 0 };

		assert_int_equal(feed(&l, two, sizeof(two) - 1, step), 1);
		assert_string_equal(l.buf, "{\"command\":\"status\"}");
		assert_string_equal(parse(l.buf).cmd, "status");
		control_line_free(&l);
	}
}

/* The limit is on the line: a request just under it is taken whatever
 * follows its newline in the same read (it was refused when the read
 * that brought the newline also brought enough after it). */
static void the_limit_counts_the_line_not_what_follows_it(void **state)
{
	static const char cmd[] = "{\"command\":\"status\"}";
	size_t pad = CONTROL_REQUEST_MAX - (sizeof(cmd) - 1);
	char *big = malloc(CONTROL_REQUEST_MAX + 4096);
	struct control_line l = { 0 };

	assert_non_null(big);
	memset(big, ' ', pad);
	memcpy(big + pad, cmd, sizeof(cmd) - 1);
	big[CONTROL_REQUEST_MAX] = '\n';
	memset(big + CONTROL_REQUEST_MAX + 1, 'x', 4095);
	assert_int_equal(control_line_add(&l, big, CONTROL_REQUEST_MAX - 100), 0);
	assert_int_equal(control_line_add(&l, big + CONTROL_REQUEST_MAX - 100, 4096 + 100), 1);
	assert_int_equal(l.len, CONTROL_REQUEST_MAX);
	assert_string_equal(parse(l.buf).cmd, "status");
	control_line_free(&l);

	/* One byte more before the newline, and it is refused. */
	assert_int_equal(control_line_add(&l, big, CONTROL_REQUEST_MAX), 0);
	assert_int_equal(control_line_add(&l, "x\n", 2), -E2BIG);
	control_line_free(&l);
	free(big);
}

static void a_request_longer_than_the_limit_is_refused(void **state)
{
	struct control_line l = { 0 };
	char *big = malloc(CONTROL_REQUEST_MAX + 1);

	assert_non_null(big);
	memset(big, ' ', CONTROL_REQUEST_MAX + 1);
	assert_int_equal(feed(&l, big, CONTROL_REQUEST_MAX, 4096), 0);
	assert_int_equal(l.len, CONTROL_REQUEST_MAX);
	assert_int_equal(control_line_add(&l, big, 1), -E2BIG);
	assert_int_equal(l.len, CONTROL_REQUEST_MAX);
	control_line_free(&l);
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(requests_as_guardctl_sends_them_name_the_command_and_service),
		cmocka_unit_test(anything_but_a_json_object_is_a_malformed_request),
		cmocka_unit_test(an_unknown_or_missing_command_is_named_in_the_error),
		cmocka_unit_test(a_command_or_service_that_is_not_a_string_is_refused),
		cmocka_unit_test(an_error_longer_than_the_buffer_is_cut_and_terminated),
		cmocka_unit_test(the_line_completes_at_a_newline_however_the_bytes_arrive),
		cmocka_unit_test(a_line_without_its_newline_is_not_complete),
		cmocka_unit_test(the_request_ends_at_the_first_newline_however_the_bytes_arrive),
		cmocka_unit_test(the_limit_counts_the_line_not_what_follows_it),
		cmocka_unit_test(a_request_longer_than_the_limit_is_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
