/* util.h: small helpers every piece shares: cleanup attributes, strict
 * number parsing, time. Nothing here logs or exits. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define _unused_ __attribute__((unused))

typedef uint64_t usec_t;
#define USEC_PER_MSEC ((usec_t)1000)
#define USEC_PER_SEC ((usec_t)1000000)
#define USEC_INFINITY UINT64_MAX

static inline void freep(void *p) { free(*(void **)p); }
static inline void closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}
static inline void fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

#define _cleanup_free_ __attribute__((cleanup(freep)))
#define _cleanup_close_ __attribute__((cleanup(closep)))
#define _cleanup_fclose_ __attribute__((cleanup(fclosep)))

/* Hand ownership out of a _cleanup_ variable. */
#define TAKE_PTR(p)                      \
	({                               \
		__typeof__(p) _tp = (p); \
		(p) = NULL;              \
		_tp;                     \
	})
#define TAKE_FD(fd)              \
	({                       \
		int _tf = (fd);  \
		(fd) = -1;       \
		_tf;             \
	})

/* Strict unsigned parse: the whole string (trailing newline allowed) must be
 * a base-10 number. Returns 0 or -EINVAL/-ERANGE. */
int parse_u64(const char *s, uint64_t *ret);
int parse_i64(const char *s, int64_t *ret);

/* Monotonic and wall clocks in microseconds. */
usec_t now_monotonic(void);
usec_t now_realtime(void);

/* Format wall-clock time as RFC 3339 UTC with milliseconds. buf >= 32. */
void format_rfc3339(usec_t realtime, char *buf, size_t len);

/* strv: NULL-terminated string arrays. */
void strv_free(char **v);
size_t strv_length(char *const *v);
char **strv_copy(char *const *v);
static inline void strv_freep(char ***v) { strv_free(*v); }
#define _cleanup_strv_free_ __attribute__((cleanup(strv_freep)))

/* Split text in place: the next line (without its newline) or NULL at
 * the end; *cursor moves past it. */
char *next_line(char **cursor);

/* Read fd to its end into a NUL-terminated malloc'd buffer, growing as
 * needed; -EFBIG when there is more than max bytes. */
int read_full(int fd, size_t max, char **ret, size_t *ret_len);
/* Reads until EOF or size bytes (EINTR retried): how many, or -errno. */
ssize_t read_up_to(int fd, char *buf, size_t size);

/* Write a whole buffer, retrying on EINTR and short writes. */
int write_all(int fd, const void *buf, size_t len);
