#!/usr/bin/env bash
# The journal: with --log-target journal every action-log record is also a
# structured journal entry (MESSAGE_ID per kind, PRIORITY, GUARDIAN_*
# fields with the figures) and guardian's own lines are entries with their
# priority. A systemd-journald runs in the guest (no systemd as PID 1; it
# binds /run/systemd/journal/socket itself and keeps a volatile journal in
# /run/log/journal), and journalctl reads the entries back.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/guardian-lib.sh"
need_helper MEMHOG memhog

# docs/JOURNAL.md
MID_RESTART=2c2899360cd942e287a7fbaf5f657083
MID_KILL=d14e7359f5b447f787429fecea867c7a

JOURNALD=/lib/systemd/systemd-journald
[ -x "$JOURNALD" ] && command -v journalctl >/dev/null || bail "systemd-journald/journalctl not installed"
JDIR=/run/log/journal
# The host's /var/log/journal is visible read-only through 9p: read only
# the guest's volatile journal.
jctl() { journalctl -q --no-pager -D "$JDIR" "$@" 2>/dev/null; }
jcount() { jctl "$@" -o cat | grep -c .; }
jhas() { [ "$(jcount "$@")" -gt 0 ]; }

mkdir -p /run/systemd/journal "$JDIR"
# The datagram queue journald's socket gets: above the kernel's default of
# 10, which a start-up burst of lines could fill while journald is busy,
# and below systemd's 512 (sysctl.d/50-default.conf) so that the stall
# below fills it in a few seconds.
echo 64 >/proc/sys/net/unix/max_dgram_qlen
"$JOURNALD" >"$T/journald.log" 2>&1 &
JOURNALD_PID=$!
# CONT first: a guardian waiting on a stopped journald could not end.
trap '_st=$?; kill -CONT "$JOURNALD_PID" 2>/dev/null; guardian_cleanup; kill "$JOURNALD_PID" 2>/dev/null; (exit $_st); _lib_cleanup' EXIT
check "systemd-journald listens on the native socket" \
	wait_for 30000 test -S /run/systemd/journal/socket
# journald has written its own start-up entry once its journal file is open.
check "journald's journal is readable" wait_for 30000 jhas _PID="$JOURNALD_PID"

once() { echo "if [ -e $T/$1.ran ]; then exec sleep 100000; fi; touch $T/$1.ran; exec $2"; }
P=$T/policies
mkdir -p "$P"
cat >"$P/leak.yaml" <<YAML
service: leak
command: "$(once leak "$MEMHOG --rate 20 --max 400")"
limits: {memory_max: 256M, memory_swap_max: 0}
YAML

guardian_start "$P" --log-target journal
check "leak reaches running" wait_for 15000 svc_state_is leak running

# guardian's own start-up line is an entry with its priority, not a line
# on stderr.
check "guardian's start-up line is a journal entry" \
	wait_for 15000 jhas SYSLOG_IDENTIFIER=guardian _PID="$GUARDIAN_PID" PRIORITY=6
start_line=$(jctl SYSLOG_IDENTIFIER=guardian _PID="$GUARDIAN_PID" PRIORITY=6 -o cat | grep -m1 'service(s)')
diag "start-up entry: $start_line"
check "the start-up entry says what guardian started" grep -q "1 service(s), control socket" <<<"$start_line"
check "and it is not on stderr as well" bash -c "! grep -q 'service(s)' '$T/guardian.log'"

check "leak: the engine restarts (or kills) it before memory.max" \
	wait_for 60000 log_has leak engine 'restart|kill'
check "leak: the engine's record is a journal entry under its MESSAGE_ID" \
	wait_for 15000 jhas MESSAGE_ID="$MID_RESTART" MESSAGE_ID="$MID_KILL" GUARDIAN_SERVICE=leak GUARDIAN_SOURCE=engine
jctl MESSAGE_ID="$MID_RESTART" MESSAGE_ID="$MID_KILL" GUARDIAN_SERVICE=leak GUARDIAN_SOURCE=engine \
	-o json >"$T/entries.json"
diag "entry: $(head -1 "$T/entries.json")"
grep -h '"source":"engine"' "$LOG" | grep -E '"action":"(restart|kill)"' >"$T/records.jsonl"
check "the entry carries the record's kind, priority and figures" python3 - "$T/entries.json" "$T/records.jsonl" \
	"$GUARDIAN_PID" "$MID_RESTART" "$MID_KILL" <<'PY'
import json, sys
entries = [json.loads(l) for l in open(sys.argv[1])]
records = [json.loads(l) for l in open(sys.argv[2])]
pid, mid = sys.argv[3], {"restart": sys.argv[4], "kill": sys.argv[5]}
assert entries and len(entries) == len(records), (len(entries), len(records))
e, r = entries[0], records[0]
assert e["_PID"] == pid and e["SYSLOG_IDENTIFIER"] == "guardian", e
assert e["GUARDIAN_ACTION"] == r["action"] and e["MESSAGE_ID"] == mid[r["action"]], e
assert e["PRIORITY"] == "4", e
assert e["GUARDIAN_SERVICE"] == "leak" and e["GUARDIAN_CGROUP"] == r["cgroup"], e
assert e["GUARDIAN_RULE"] == "default guard" == r["rule"], e
assert e["GUARDIAN_VERDICT"] == "act", e
assert int(e["GUARDIAN_MEMORY_MAX"]) == 256 << 20, e
assert int(e["GUARDIAN_WORKING_SET"]) == r["working_set"] > 200 << 20, e
assert e["GUARDIAN_REASON"] == r["reason"] and r["reason"] in e["MESSAGE"], e
assert e["GUARDIAN_STEP"] == r["step"] and e["GUARDIAN_METRIC"] == r["metric"], e
assert "CODE_FILE" not in e, e  # the sending thread's source line tells a reader nothing
assert "GUARDIAN_TIME" not in e, e
PY

# journalctl MESSAGE_ID=<restart> lists the restarts: the follow-up 3 s
# later is an entry too, under the id of records that are no kind.
check "the follow-up is an entry, not under the restart's id" \
	wait_for 20000 jhas GUARDIAN_SERVICE=leak GUARDIAN_ACTION=follow-up MESSAGE_ID=4b78a274503b49b183d472d255a32d94 PRIORITY=6
check "journalctl MESSAGE_ID= lists only the acted records" \
	[ "$(jcount MESSAGE_ID="$MID_RESTART" MESSAGE_ID="$MID_KILL" GUARDIAN_SERVICE=leak GUARDIAN_SOURCE=engine)" = "$(wc -l <"$T/records.jsonl")" ]

# A journald that stops reading (SIGSTOP: its socket's queue is full after
# net.unix.max_dgram_qlen datagrams, 64) must not stall guardian: a
# crash loop goes on being restarted, and guardian answers, while its log
# lines are dropped and counted; once journald reads again the count
# comes first, and the records held back meanwhile reach actions.jsonl.
cat >"$P/crasher.yaml" <<YAML
service: crasher
command: "exit 3"
restart: {mode: always, delay: 50ms, max_delay: 100ms}
YAML
check "guardctl reload adds the crash loop" "$GUARDCTL" reload
restarted_past() { [ "$(svc_field crasher restarts)" -ge "$1" ] 2>/dev/null; }
check "crasher is restarted" wait_for 30000 restarted_past 3
status_key() { "$GUARDCTL" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
# Counted from here: lines dropped before (none, unless a start-up burst
# overflowed) are not the stall's.
d0=$(status_key log_journal_dropped)
kill -STOP "$JOURNALD_PID"
r0=$(svc_field crasher restarts)
some_dropped() { [ "$(status_key log_journal_dropped)" -gt "$d0" ] 2>/dev/null; }
check "with journald stopped, the log lines it has no room for are dropped and counted" \
	wait_for 120000 some_dropped
r1=$(svc_field crasher restarts)
check "and crasher goes on being restarted: 30 more times" wait_for 120000 restarted_past $((r1 + 30))
dropped=$(($(status_key log_journal_dropped) - d0))
diag "restarts $r0 -> $r1 (first line dropped) -> $(svc_field crasher restarts) with journald stopped; log lines dropped: $dropped"
# crasher is stopped before journald reads again: the records that come
# after that are only the held-back ones, its exits' and restarts'.
check "guardctl stop crasher, with journald stopped" "$GUARDCTL" stop crasher
r_end=$(svc_field crasher restarts)
records_stalled=$(grep -c '"service":"crasher"' "$LOG")
crasher_restart_records() { grep '"service":"crasher"' "$LOG" | grep -c '"action":"restart"'; }
diag "crasher: $r_end restarts; $(crasher_restart_records) restart records in actions.jsonl before SIGCONT"
check "the writer held records back meanwhile (fewer restart records than restarts)" \
	[ "$(crasher_restart_records)" -lt "$r_end" ]
kill -CONT "$JOURNALD_PID"
all_restarts_recorded() { [ "$(crasher_restart_records)" -ge "$r_end" ]; }
check "the records held back reach actions.jsonl: one restart record per restart ($r_end)" \
	wait_for 30000 all_restarts_recorded
diag "crasher: $(crasher_restart_records) restart records after SIGCONT ($records_stalled crasher records before)"
journal_has_restarts() { [ "$(jcount GUARDIAN_SERVICE=crasher GUARDIAN_ACTION=restart)" -ge "$r_end" ]; }
check "... and the journal, as entries" wait_for 60000 journal_has_restarts
# Once journald has caught up (the writer's held-back entries are in),
# a line to send: the count goes out before it.
check "guardctl reload, with journald reading again" "$GUARDCTL" reload
# A warning counts at least the lines the stall dropped before SIGCONT
# (lines went on being dropped until journald read again).
said_dropped() {
	jctl SYSLOG_IDENTIFIER=guardian _PID="$GUARDIAN_PID" PRIORITY=4 -o cat |
		sed -n 's/^journald was not reading: \([0-9]*\) log line(s) dropped$/\1/p' |
		awk -v want="$dropped" '$1 >= want { found = 1 } END { exit !found }'
}
check "journald reading again gets the count of dropped lines first" wait_for 30000 said_dropped
lines_after_count() {
	jctl SYSLOG_IDENTIFIER=guardian _PID="$GUARDIAN_PID" -o cat |
		awk '/^journald was not reading/ { seen = 1; next } seen && /^reloading the policies in / { n++ } END { exit !(n > 0) }'
}
check "and then guardian's lines again" wait_for 30000 lines_after_count
check "none was lost" [ "$(status_key action_log_lost)" = 0 ]

guardian_kill
done_testing
