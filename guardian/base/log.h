/* log.h: the daemon's and guardctl's logging: to stderr, with a level,
 * and (for the daemon) a prefix systemd's journal understands. */
#pragma once

#include <stdarg.h>
#include <stdbool.h>

enum log_level { LOG_LVL_ERR = 3, LOG_LVL_WARN = 4, LOG_LVL_NOTICE = 5, LOG_LVL_INFO = 6, LOG_LVL_DEBUG = 7 };

void log_setup(const char *ident, enum log_level max, int journal_prefix);
/* Whether stderr is the journal stream systemd connected (JOURNAL_STREAM
 * names stderr's st_dev:st_ino). */
bool log_stderr_is_journal(void);
/* Whether journald's native socket is there: sd_journal_sendv reports
 * success when it is not, so this is asked once, at start. */
#define LOG_JOURNAL_SOCKET "/run/systemd/journal/socket"
bool log_journal_available(void);
/* Lines go to the journal as native entries with PRIORITY (falling back
 * to stderr when there is no journald). A send never waits: a line
 * journald has no room for is dropped and counted, and the next line that
 * gets through is preceded by a warning with the count. */
void log_set_journal(bool on);
/* For tests: the socket to send to instead of LOG_JOURNAL_SOCKET (NULL
 * restores it). */
void log_set_journal_socket(const char *path);
/* Lines dropped since the start because journald was not reading. */
unsigned long long log_journal_dropped(void);
void log_emit(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Logs and returns -abs(err) so callers can `return log_errno(r, ...)`. */
int log_errno_emit(enum log_level lvl, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define log_error(...) log_emit(LOG_LVL_ERR, __VA_ARGS__)
#define log_warning(...) log_emit(LOG_LVL_WARN, __VA_ARGS__)
#define log_notice(...) log_emit(LOG_LVL_NOTICE, __VA_ARGS__)
#define log_info(...) log_emit(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_emit(LOG_LVL_DEBUG, __VA_ARGS__)
#define log_error_errno(err, ...) log_errno_emit(LOG_LVL_ERR, (err), __VA_ARGS__)
#define log_warning_errno(err, ...) log_errno_emit(LOG_LVL_WARN, (err), __VA_ARGS__)
