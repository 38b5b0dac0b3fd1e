/* util.c: strict number parsing, clocks, string arrays and full writes,
 * shared by the daemon, guardctl and the tests. */
#include "util.h"

#include <ctype.h>
#include <time.h>

/* What strtoull/strtoll left behind: a number that fits, then nothing
 * but one optional newline (the way kernel files end). */
static int parse_end(const char *s, const char *end)
{
	if (errno == ERANGE)
		return -ERANGE;
	if (errno || end == s)
		return -EINVAL;
	if (*end == '\n')
		end++;
	return *end == '\0' ? 0 : -EINVAL;
}

int parse_u64(const char *s, uint64_t *ret)
{
	char *end = NULL;
	unsigned long long v;
	int r;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	r = parse_end(s, end);
	if (r == 0)
		*ret = v;
	return r;
}

int parse_i64(const char *s, int64_t *ret)
{
	char *end = NULL;
	long long v;
	int r;

	if (!s || !(*s == '-' || *s == '+' || isdigit((unsigned char)*s)))
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	r = parse_end(s, end);
	if (r == 0)
		*ret = v;
	return r;
}

static usec_t now_clock(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (usec_t)ts.tv_sec * USEC_PER_SEC + (usec_t)ts.tv_nsec / 1000;
}

usec_t now_monotonic(void) { return now_clock(CLOCK_MONOTONIC); }
usec_t now_realtime(void) { return now_clock(CLOCK_REALTIME); }

void format_rfc3339(usec_t realtime, char *buf, size_t len)
{
	time_t secs = (time_t)(realtime / USEC_PER_SEC);
	unsigned ms = (unsigned)((realtime % USEC_PER_SEC) / USEC_PER_MSEC);
	struct tm tm;
	char base[24];

	gmtime_r(&secs, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%03uZ", base, ms);
}

void strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

size_t strv_length(char *const *v)
{
	size_t n = 0;

	while (v && v[n])
		n++;
	return n;
}

char **strv_copy(char *const *v)
{
	size_t n = strv_length(v);
	char **c = calloc(n + 1, sizeof(char *));

	if (!c)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		c[i] = strdup(v[i]);
		if (!c[i]) {
			strv_free(c);
			return NULL;
		}
	}
	return c;
}

/* Next line of text, split in place, or NULL at the end. The final newline
 * ends the last line rather than starting an empty one. */
char *next_line(char **cursor)
{
	char *line = *cursor, *nl;

	if (!line || !*line)
		return NULL;
	nl = strchr(line, '\n');
	if (nl) {
		*nl = '\0';
		*cursor = nl + 1;
	} else {
		*cursor = NULL;
	}
	return line;
}

ssize_t read_up_to(int fd, char *buf, size_t size)
{
	size_t len = 0;

	while (len < size) {
		ssize_t n = read(fd, buf + len, size - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	return (ssize_t)len;
}

int read_full(int fd, size_t max, char **ret, size_t *ret_len)
{
	/* Most cgroup files and policies fit the first chunk; memory.stat
	 * and large policies grow it. */
	size_t size = 4096, len = 0;
	_cleanup_free_ char *buf = malloc(size);

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n = read_up_to(fd, buf + len, size - len - 1);

		if (n < 0)
			return (int)n;
		len += (size_t)n;
		if (len > max)
			return -EFBIG;
		if (len + 1 < size) /* it stopped short of the room: EOF */
			break;
		char *bigger = realloc(buf, size * 2);

		if (!bigger)
			return -ENOMEM;
		buf = bigger;
		size *= 2;
	}
	buf[len] = '\0';
	*ret = TAKE_PTR(buf);
	if (ret_len)
		*ret_len = len;
	return 0;
}

int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}
