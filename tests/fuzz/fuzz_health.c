/* fuzz_health.c: libFuzzer target for the HTTP health check's verdict on
 * a response (status line, headers, body), for a few checks: status only,
 * status and a body string, another status, and a body string taken from
 * the input's own end, with reasons in buffers down to none at all.
 * Asserted, besides no crash, over-read or undefined behaviour:
 *   - a pass has the check's status in an HTTP status line and, with a
 *     body string, that string in the response;
 *   - a check with a body string passes only where the same check
 *     without it passes;
 *   - bytes after a passing response do not make it fail;
 *   - a failure has a reason, terminated within its buffer. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "health.h"


static bool verdict(const struct health_check *c, const char *resp, size_t len)
{
	static const size_t sizes[] = { 512, 40, 1, 0 };
	bool first = false;

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		char buf[512];
		const char *reason = "unset";
		bool ok;

		memset(buf, 0x55, sizeof(buf));
		ok = health_http_response_ok(c, resp, len, sizes[i] ? buf : NULL, sizes[i], &reason);
		if (i == 0)
			first = ok;
		check(ok == first); /* the buffer changes only the words */
		if (ok) {
			check(reason == NULL);
			continue;
		}
		/* In the caller's buffer, cut to fit; without one, a fixed text. */
		check(reason == buf || (reason && *reason));
		if (reason == buf)
			check(memchr(buf, '\0', sizes[i]) && (sizes[i] < 2 || *reason));
	}
	if (first) {
		check(len >= 12 && memcmp(resp, "HTTP/", 5) == 0);
		check((resp[9] - '0') * 100 + (resp[10] - '0') * 10 + (resp[11] - '0') == c->status);
		check(!c->contains || memmem(resp, len, c->contains, strlen(c->contains)));
	}
	return first;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char long_url[400];
	char tail[9] = "";
	struct health_check plain = { .kind = HEALTH_HTTP, .port = 8080, .path = "/health", .status = 200 };
	struct health_check alive = { .kind = HEALTH_HTTP, .url = "http://127.0.0.1:8080/watchdog_page.html",
				      .host = "127.0.0.1", .port = 8080, .path = "/watchdog_page.html",
				      .status = 200, .contains = "still alive" };
	struct health_check other = { .kind = HEALTH_HTTP, .host = "::1", .port = 9000, .status = 503,
				      .contains = "" };
	struct health_check own = { .kind = HEALTH_HTTP, .url = long_url, .status = 200, .contains = tail };
	char *resp = malloc(size ?: 1), *more;
	bool ok;

	if (!resp)
		return 0;
	if (!long_url[0]) {
		memcpy(long_url, "http://127.0.0.1:8080/", 22);
		memset(long_url + 22, 'p', sizeof(long_url) - 23);
	}
	memcpy(resp, data, size); /* exactly size bytes: ASan sees any read past them */
	for (size_t i = size > 8 ? size - 8 : 0, n = 0; i < size; i++)
		if (data[i])
			tail[n++] = (char)data[i];
	if (!tail[0])
		own.contains = NULL;

	ok = verdict(&plain, resp, size);
	check(!verdict(&alive, resp, size) || ok);
	check(!verdict(&own, resp, size) || ok);
	(void)verdict(&other, resp, size);
	if (ok && (more = malloc(size + 16))) {
		memcpy(more, resp, size);
		memcpy(more + size, "\r\n\r\ntrailing bytes", 16);
		check(verdict(&plain, more, size + 16));
		free(more);
	}
	free(resp);
	return 0;
}
