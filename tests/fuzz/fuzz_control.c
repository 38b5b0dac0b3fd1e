/* fuzz_control.c: libFuzzer target for what the control socket makes of
 * a client's bytes: split into reads (sizes drawn from a hash of the
 * input, 1 to 4096 as recv gives them), gathered into the request line,
 * parsed into a command. Every eighth input is stretched past the 64 KiB
 * limit. Asserted, besides no crash, leak or undefined behaviour:
 *   - the line is the bytes before the first newline whatever the reads
 *     (or -E2BIG exactly when that is over the limit), NUL-terminated;
 *   - a parsed request names a command of the table, and the request
 *     guardctl would send for it parses back to the same command and
 *     service;
 *   - a refused one says why, in the buffer, terminated. */
#include <errno.h>
#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "control-request.h"


static uint64_t rng;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static uint64_t hash(const uint8_t *data, size_t size)
{
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < size; i++)
		h = (h ^ data[i]) * 1099511628211ULL;
	return h | 1;
}

/* The stream in reads of random sizes until the line completes or the
 * client's end: control_line_add's last return. */
static int feed(struct control_line *l, const char *s, size_t len)
{
	int r = 0;

	for (size_t off = 0; off < len && r == 0;) {
		uint64_t x = next();
		size_t n = 1 + (size_t)(x >> 8) % ((x & 1) ? 16 : 4096);

		if (n > len - off)
			n = len - off;
		r = control_line_add(l, s + off, n);
		off += n;
	}
	return r;
}

/* The request as guardctl's request() builds it. */
static char *guardctl_line(const struct control_request *req)
{
	struct json_object *o = json_object_new_object();
	char *line;

	json_object_object_add(o, "command", json_object_new_string(req->cmd->name));
	if (req->service)
		json_object_object_add(o, "service", json_object_new_string(req->service));
	if (asprintf(&line, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN)) < 0)
		line = NULL;
	json_object_put(o);
	return line;
}

static void check_round_trip(const struct control_request *req)
{
	struct control_line l = { 0 };
	struct control_request again;
	char err[512];
	char *line = guardctl_line(req);
	int r;

	if (!line)
		return;
	r = control_line_add(&l, line, strlen(line));
	/* A name of control characters grows sixfold as JSON escapes. */
	if (r == 1) {
		check(control_request_parse(l.buf, &again, err, sizeof(err)) == 0);
		check(again.cmd == req->cmd);
		check((again.service == NULL) == (req->service == NULL));
		check(!req->service || strcmp(again.service, req->service) == 0);
		control_request_free(&again);
	} else
		check(r == -E2BIG && strlen(line) > CONTROL_REQUEST_MAX);
	control_line_free(&l);
	free(line);
}

static void check_request(const char *line)
{
	struct control_request req;
	char err[512];
	int r;

	memset(err, 0x55, sizeof(err));
	r = control_request_parse(line, &req, err, sizeof(err));
	if (r == 0) {
		check(req.cmd && control_command_find(req.cmd->name) == req.cmd);
		check_round_trip(&req);
	} else if (r == -EBADMSG) {
		check(!req.cmd && !req.service);
		check(memchr(err, '\0', sizeof(err)));
		check(strcmp(err, "malformed request") == 0 || strcmp(err, "'service' must be a string") == 0 ||
		      strncmp(err, "unknown command '", 17) == 0);
	} else
		check(r == -ENOMEM);
	control_request_free(&req);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct control_line l = { 0 };
	const char *nl;
	size_t len = size, line_len;
	char *s;
	int r, want;

	rng = hash(data, size);
	if (size > 0 && next() % 8 == 0) {
		/* A long line: the input with its newlines blanked, repeated to
		 * within 64 bytes of the limit either side, then the input as
		 * it is, which may end the line there. */
		size_t fill = CONTROL_REQUEST_MAX - 64 + next() % 128;

		len = fill + size;
		s = malloc(len);
		if (!s)
			return 0;
		for (size_t i = 0; i < fill; i++)
			s[i] = data[i % size] == '\n' ? ' ' : (char)data[i % size];
		memcpy(s + fill, data, size);
	} else {
		s = malloc(size ?: 1);
		if (!s)
			return 0;
		memcpy(s, data, size);
	}

	nl = memchr(s, '\n', len);
	line_len = nl ? (size_t)(nl - s) : len;
	want = line_len > CONTROL_REQUEST_MAX ? -E2BIG : nl ? 1 : 0;
	r = feed(&l, s, len);
	if (r != -ENOMEM) {
		check(r == want);
		if (r >= 0) {
			check(l.len == line_len);
			check(line_len == 0 || memcmp(l.buf, s, line_len) == 0);
			check(!l.buf || l.buf[l.len] == '\0');
		}
		/* The daemon parses at the newline, or at the client's end of
		 * the stream if anything came. */
		if (r == 1 || (r == 0 && l.len > 0))
			check_request(l.buf);
	}
	control_line_free(&l);
	free(s);
	return 0;
}
