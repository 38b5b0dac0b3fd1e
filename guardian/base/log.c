/* log.c: leveled logging to stderr. The daemon uses "<N>" priority
 * prefixes when run under systemd so the journal keeps levels. */
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *log_ident = "guardian";
static enum log_level log_max = LOG_LVL_INFO;
static int log_prefix;

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
