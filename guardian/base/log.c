/* log.c: leveled logging to stderr, or to the journal through its native
 * protocol. On stderr the daemon uses "<N>" priority prefixes when run
 * under systemd so the journal keeps levels. */
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
/* CODE_FILE/CODE_LINE would name this file, not the code that logged. */
#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

static const char *log_ident = "guardian";
static enum log_level log_max = LOG_LVL_INFO;
static int log_prefix;
static bool log_journal;

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

/* One native-protocol entry; 0 or a negative errno (no journald). */
static int log_to_journal(enum log_level lvl, const char *msg, int err)
{
	char message[2200], prio[16], ident[80], errno_field[32];
	struct iovec iov[4];
	size_t n = 0;

	if (err)
		snprintf(message, sizeof(message), "MESSAGE=%s: %s", msg, strerror(abs(err)));
	else
		snprintf(message, sizeof(message), "MESSAGE=%s", msg);
	snprintf(prio, sizeof(prio), "PRIORITY=%d", lvl);
	snprintf(ident, sizeof(ident), "SYSLOG_IDENTIFIER=%s", log_ident);
	iov[n++] = (struct iovec){ message, strlen(message) };
	iov[n++] = (struct iovec){ prio, strlen(prio) };
	iov[n++] = (struct iovec){ ident, strlen(ident) };
	if (err) {
		snprintf(errno_field, sizeof(errno_field), "ERRNO=%d", abs(err));
		iov[n++] = (struct iovec){ errno_field, strlen(errno_field) };
	}
	return sd_journal_sendv(iov, (int)n);
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

	if (lvl > log_max)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	/* Where journald cannot take it, the line still goes to stderr. */
	if (log_journal && log_to_journal(lvl, msg, err) == 0)
		return;
	if (log_prefix)
		fprintf(stderr, "<%d>", lvl);
	else
		fprintf(stderr, "%s: ", log_ident);
	if (err)
		fprintf(stderr, "%s: %s\n", msg, strerror(abs(err)));
	else
		fprintf(stderr, "%s\n", msg);
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
