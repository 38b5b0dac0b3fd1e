/* log.c: leveled logging to stderr, or to the journal through its native
 * protocol. On stderr the daemon uses "<N>" priority prefixes when run
 * under systemd so the journal keeps levels. A line for the journal is one
 * datagram sent without waiting: while journald is not reading (its queue
 * full, as under memory pressure) lines are dropped and counted, never
 * a wait in the event loop. */
#include "log.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static const char *log_ident = "guardian";
static enum log_level log_max = LOG_LVL_INFO;
static int log_prefix;
static bool log_journal;
static int journal_fd = -1;
static char journal_path[sizeof(((struct sockaddr_un *)0)->sun_path)] = LOG_JOURNAL_SOCKET;
static unsigned long long journal_dropped, journal_dropped_said;

bool log_stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	char end;

	/* systemd sets it to "DEVICE:INODE" of the stream it connected
	 * stdout/stderr to; a child that inherited the variable but whose
	 * stderr was redirected must not take it for the journal. */
	if (!e || sscanf(e, "%llu:%llu%c", &dev, &ino, &end) != 2)
		return false;
	if (fstat(STDERR_FILENO, &st) < 0)
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

bool log_journal_available(void)
{
	return access(LOG_JOURNAL_SOCKET, W_OK) == 0;
}

void log_set_journal(bool on)
{
	log_journal = on;
}

void log_set_journal_socket(const char *path)
{
	snprintf(journal_path, sizeof(journal_path), "%s", path ? path : LOG_JOURNAL_SOCKET);
}

unsigned long long log_journal_dropped(void)
{
	return journal_dropped;
}

/* One field of the native protocol at buf: KEY=VALUE and a newline, or,
 * for a value with a newline in it, KEY, a newline, the value's length
 * as 64-bit little endian, the value and a newline. The length written,
 * or 0 when it does not fit. */
static size_t journal_field(char *buf, size_t size, const char *key, const char *value)
{
	size_t k = strlen(key), v = strlen(value), need;
	uint64_t len = v;

	if (!strchr(value, '\n')) {
		need = k + 1 + v + 1;
		if (need > size)
			return 0;
		memcpy(buf, key, k);
		buf[k] = '=';
		memcpy(buf + k + 1, value, v);
		buf[need - 1] = '\n';
		return need;
	}
	need = k + 1 + 8 + v + 1;
	if (need > size)
		return 0;
	memcpy(buf, key, k);
	buf[k] = '\n';
	for (int i = 0; i < 8; i++)
		buf[k + 1 + i] = (char)(len >> (8 * i));
	memcpy(buf + k + 9, value, v);
	buf[need - 1] = '\n';
	return need;
}

/* One entry as one datagram, never waiting: 0, -EAGAIN while journald is
 * not reading, or another negative errno (no journald). */
static int journal_send(enum log_level lvl, const char *msg, int err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char entry[2400], prio[4], errno_text[16];
	size_t n = 0, f;

	if (journal_fd < 0) {
		journal_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (journal_fd < 0)
			return -errno;
	}
	snprintf(prio, sizeof(prio), "%d", lvl);
	memcpy(sa.sun_path, journal_path, sizeof(sa.sun_path));
	f = journal_field(entry, sizeof(entry), "MESSAGE", msg);
	n += f;
	n += f ? (f = journal_field(entry + n, sizeof(entry) - n, "PRIORITY", prio)) : 0;
	n += f ? (f = journal_field(entry + n, sizeof(entry) - n, "SYSLOG_IDENTIFIER", log_ident)) : 0;
	if (f && err) {
		snprintf(errno_text, sizeof(errno_text), "%d", abs(err));
		n += (f = journal_field(entry + n, sizeof(entry) - n, "ERRNO", errno_text));
	}
	if (!f)
		return -EMSGSIZE;
	if (sendto(journal_fd, entry, n, MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	return 0;
}

/* A line for the journal; 0 when it went there or was dropped (counted)
 * because journald is behind, else a negative errno. */
static int log_to_journal(enum log_level lvl, const char *msg, int err)
{
	int r;

	if (journal_dropped > journal_dropped_said) {
		char said[128];

		snprintf(said, sizeof(said), "journald was not reading: %llu log line(s) dropped",
			 journal_dropped - journal_dropped_said);
		r = journal_send(LOG_LVL_WARN, said, 0);
		if (r == -EAGAIN) {
			journal_dropped++;
			return 0;
		}
		if (r == 0)
			journal_dropped_said = journal_dropped;
	}
	r = journal_send(lvl, msg, err);
	if (r == -EAGAIN) {
		journal_dropped++;
		return 0;
	}
	return r;
}

void log_setup(const char *ident, enum log_level max, int journal_prefix)
{
	log_ident = ident;
	log_max = max;
	log_prefix = journal_prefix;
}

static void log_v(enum log_level lvl, int err, const char *fmt, va_list ap)
{
	char msg[2048];
	int len;

	if (lvl > log_max)
		return;
	len = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (err && len >= 0 && (size_t)len < sizeof(msg))
		snprintf(msg + len, sizeof(msg) - (size_t)len, ": %s", strerror(abs(err)));
	/* Where journald cannot take it, the line still goes to stderr. */
	if (log_journal && log_to_journal(lvl, msg, err) == 0)
		return;
	if (log_prefix)
		fprintf(stderr, "<%d>%s\n", lvl, msg);
	else
		fprintf(stderr, "%s: %s\n", log_ident, msg);
}

void log_emit(enum log_level lvl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_v(lvl, 0, fmt, ap);
	va_end(ap);
}

int log_errno_emit(enum log_level lvl, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_v(lvl, err, fmt, ap);
	va_end(ap);
	return -abs(err);
}
