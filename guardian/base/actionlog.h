/* actionlog.h: the record of every action guardian takes and every kill it
 * sees: one JSON object per line, formatted on the loop and appended and
 * fdatasynced by the log's own writer thread, so the loop never waits on
 * the disk. */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "util.h"

struct actionlog;

/* Open (create) <dir>/actions.jsonl; rotate at max_size keeping `keep`.
 * Starts the writer thread (every signal blocked in it). */
int actionlog_open(const char *dir, uint64_t max_size, unsigned keep, struct actionlog **ret);
/* Writes and syncs every record handed over so far, then closes: records
 * are on disk when it returns, however long the disk takes. */
void actionlog_close(struct actionlog *a);

/* A record under construction: the common keys are set here, the caller
 * adds its figures with json_object_object_add(rec, ...). */
struct json_object *actionlog_record(const char *service, const char *cgroup, const char *source,
				     const char *action, const char *reason);
void actionlog_add_pids(struct json_object *rec, const pid_t *pids, size_t n);
/* Format rec (consumed) as one line and hand it to the writer, which
 * appends it with one write(2) and fdatasyncs it with the others that came
 * meanwhile. Returns once it is queued, never waiting on the disk:
 * -ENOMEM, or -ENOBUFS when the writer is so far behind (a stalled disk)
 * that the queue is full; either way the record counts as lost. The
 * writer's own failures are counted in actionlog_lost() and logged on the
 * loop at the next record, flush or close. */
int actionlog_write(struct actionlog *a, struct json_object *rec);
/* The same with extra's keys (consumed too, may be NULL) merged into rec
 * first. Without a log (a NULL) both are dropped and 0 is returned. */
int actionlog_write_with(struct actionlog *a, struct json_object *rec, struct json_object *extra);
/* Waits until every record handed over so far is written and synced:
 * 0, or the first write or sync error since the last flush. For shutdown
 * and tests; the daemon's loop never calls it. */
int actionlog_flush(struct actionlog *a);
/* Records that could not be written since it was opened (a full disk, a
 * full queue). */
uint64_t actionlog_lost(const struct actionlog *a);
const char *actionlog_path(const struct actionlog *a);

/* Called on the loop with every record as it is handed to actionlog_write
 * (queued or not), before it is consumed: the metrics count actions and
 * the hooks start from here. Up to ACTIONLOG_OBSERVERS of them, called in
 * the order added; -ENOSPC past that. They must not keep or change rec;
 * a record an observer writes is observed too. */
#define ACTIONLOG_OBSERVERS 4
typedef void (*actionlog_observer_fn)(void *data, struct json_object *rec);
int actionlog_add_observer(struct actionlog *a, actionlog_observer_fn fn, void *data);
void actionlog_remove_observer(struct actionlog *a, actionlog_observer_fn fn, void *data);

/* For tests: what the writer calls instead of fdatasync(fd); 0 or a
 * negative errno. NULL restores fdatasync. */
typedef int (*actionlog_sync_fn)(int fd, void *data);
void actionlog_set_sync(struct actionlog *a, actionlog_sync_fn sync, void *data);

/* Journal entries (docs/JOURNAL.md): with it on, the writer thread also
 * sends every record to the journal through the native protocol, after
 * writing it to the file. The entry is formatted on the loop when the
 * record is queued. */
void actionlog_set_journal(struct actionlog *a, bool on);
/* Entries the journal did not take (or that could not be formatted). */
uint64_t actionlog_journal_lost(const struct actionlog *a);

/* The MESSAGE_ID of each kind of record that was carried out; a record of
 * any other action, or one not carried out (a dry run, rate-limited,
 * protected, a follow-up), has ACTIONLOG_MID_OTHER. */
#define ACTIONLOG_MID_KILL "d14e7359f5b447f787429fecea867c7a"
#define ACTIONLOG_MID_RESTART "2c2899360cd942e287a7fbaf5f657083"
#define ACTIONLOG_MID_OOM_KILL "d2d5aa9ce2854b38b4df41e2595031b9"
#define ACTIONLOG_MID_SIGNAL "986c4fa698d74504a0d3eb736c044d8a"
#define ACTIONLOG_MID_GIVE_UP "e1d4ad024e6e40ad88a4d2cb504074d5"
#define ACTIONLOG_MID_THROTTLE "cc7f7c17885e4f24803283fa80918220"
#define ACTIONLOG_MID_OTHER "4b78a274503b49b183d472d255a32d94"

/* One record's journal entry: MESSAGE, MESSAGE_ID, PRIORITY,
 * SYSLOG_IDENTIFIER=guardian and GUARDIAN_<KEY> for each of its keys but
 * the time (a string as it is, anything else as JSON). NULL: no memory. */
struct actionlog_journal_entry;
struct actionlog_journal_entry *actionlog_journal_entry(struct json_object *rec);
size_t actionlog_journal_entry_fields(const struct actionlog_journal_entry *e, const struct iovec **iov);
void actionlog_journal_entry_free(struct actionlog_journal_entry *e);

/* A record's key as a journal field or hook environment name:
 * "working_set" -> "GUARDIAN_WORKING_SET" (upper-case letters, digits and
 * underscores, at most 64 bytes). */
void actionlog_field_name(const char *key, char *out, size_t size);
