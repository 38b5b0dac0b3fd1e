#!/usr/bin/env bash
# A rule's `action: kill` on a service of 300 processes: guardian kills the
# whole group itself (not the kernel OOM killer), leaves nothing behind,
# and its follow-up record accounts for every process: process_mrelease
# released it or it had already exited. More than 256 processes, so a
# fixed cap of 256 pidfds would show as processes left unaccounted.
#
# python3 takes ~4 s to start in the emulated guest, so the waits poll with
# bash and grep, and the records are parsed once, after the follow-up.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/guardian-lib.sh"
need_helper FORKHOG forkhog

CHILDREN=300      # forkhog's children; the group is these plus forkhog itself
MORE=10           # forked on SIGUSR1: what crosses the rule's threshold
KIB=1024          # anonymous memory each child touches
MIN_PROCS=$((CHILDREN + 1))
OLD_CAP=256       # the fixed number of pidfds group_kill used to open

SVC=herd
CG=/sys/fs/cgroup/guardian.slice/$SVC.service
SVC_LOG=$T/state/logs/$SVC.log
P=$T/policies
mkdir -p "$P"
t0=$(now_ms)
elapsed() { echo "$(($(now_ms) - ${1:-$t0})) ms"; }

# has_engine_record ACTION: the action log has an engine record of ACTION
# for SVC (json-c writes the keys in actionlog_record's order).
has_engine_record() {
	grep -qE "\"service\":\"$SVC\",\"cgroup\":\"[^\"]*\",\"source\":\"engine\",\"action\":\"$1\"" "$LOG" 2>/dev/null
}
# procs_at_least N: SVC's cgroup.procs lists at least N processes.
procs_at_least() {
	local procs=()
	mapfile -t procs 2>/dev/null <"$CG/cgroup.procs"
	[ "${#procs[@]}" -ge "$1" ]
}

# The threshold sits between the group before the signal (CHILDREN + 1)
# and after it (CHILDREN + MORE + 1): the rule cannot fire until the test
# has counted the processes and sent SIGUSR1.
cat >"$P/$SVC.yaml" <<YAML
service: $SVC
command: ["$FORKHOG", "--children", "$CHILDREN", "--kib", "$KIB", "--more", "$MORE"]
limits: {memory_max: 768M, memory_swap_max: 0, pids_max: 1024}
restart: {mode: never}
sample_interval: 500ms
rules:
  - name: herd-too-big
    when: {metric: pids, above: $((CHILDREN + MORE / 2))}
    action: kill
YAML
diag "guest: $(nproc) cpus, $(awk '/MemTotal/ {print int($2 / 1024) " MiB"}' /proc/meminfo)," \
	"nofile $(ulimit -n), kernel $(uname -r)"

guardian_start "$P"
t_start=$(now_ms)
check "all $MIN_PROCS processes are in $SVC's cgroup.procs" wait_for 240000 procs_at_least "$MIN_PROCS"
diag "$(wc -l <"$CG/cgroup.procs") in cgroup.procs $(elapsed "$t_start") after guardian answered"
check "every child has touched its $KIB KiB" \
	wait_for 120000 file_has "$SVC_LOG" "^forkhog: $CHILDREN children ready"
diag "ready $(elapsed "$t_start") after guardian answered: pids.current $(cg_read "$CG" pids.current)," \
	"memory.current $(($(cg_read "$CG" memory.current) >> 20)) MiB"
check "no engine decision before the threshold is crossed" \
	eval '! grep -q "\"source\":\"engine\"" "$LOG" 2>/dev/null'
main_pid=$(sed -n 's/^forkhog: pid \([0-9]*\) start.*/\1/p' "$SVC_LOG")
check "forkhog (pid $main_pid) is in the service's cgroup" grep -qx "$main_pid" "$CG/cgroup.procs"

kill -USR1 "$main_pid"
t_sig=$(now_ms)
check "the pids rule fires: an engine kill record" wait_for 60000 has_engine_record kill
diag "kill recorded $(elapsed "$t_sig") after SIGUSR1"
check "$SVC's cgroup is unpopulated (cgroup.events populated 0)" \
	wait_for 60000 cg_key_is "$CG" cgroup.events populated 0
diag "empty $(elapsed "$t_sig") after SIGUSR1; memory.current now $(cg_read "$CG" memory.current)"
check "the kernel OOM killer did not do it (memory.events oom_kill $(cg_key "$CG" memory.events oom_kill))" \
	[ "$(cg_key "$CG" memory.events oom_kill)" = 0 ]
check "a follow-up record follows the kill" wait_for 30000 has_engine_record follow-up
diag "follow-up $(elapsed "$t_sig") after SIGUSR1"
check "a kill sends no stop signal (SIGTERM) ahead of cgroup.kill" eval "! grep -q '$SVC: sent SIG' '$T/guardian.log'"

# Both records, once: K_* from the kill, F_* from its follow-up ("" where
# a field is missing, so the checks below fail on it).
fields=$(python3 - "$LOG" "$SVC" <<'PY'
import json, shlex, sys
kill = fu = None
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["service"] != sys.argv[2] or r["source"] != "engine":
        continue
    if r["action"] == "kill" and kill is None:
        kill = r
    if r["action"] == "follow-up" and fu is None:
        fu = r
def out(prefix, r, keys):
    for k in keys:
        v = (r or {}).get(k)
        v = "" if v is None else str(v).lower() if isinstance(v, bool) else str(int(v)) if isinstance(v, float) else str(v)
        print("%s_%s=%s" % (prefix, k, shlex.quote(v)))
out("K", kill, ["rule", "metric", "value", "threshold", "verdict", "dry_run"])
out("F", fu, ["followed", "processes", "released", "exited", "release_failed", "freed_bytes", "kernel_oom_kill"])
print("KILL_JSON=%s" % shlex.quote(json.dumps(kill)))
print("FU_JSON=%s" % shlex.quote(json.dumps(fu)))
PY
) || bail "cannot parse $LOG"
K_rule='' K_metric='' K_value='' K_threshold='' K_verdict='' K_dry_run='' KILL_JSON=''
F_followed='' F_processes='' F_released='' F_exited='' F_release_failed='' F_freed_bytes=''
F_kernel_oom_kill='' FU_JSON=''
eval "$fields"
diag "kill: $KILL_JSON"
diag "follow-up: $FU_JSON"

check "kill record: rule herd-too-big on metric pids ($K_rule, $K_metric)" \
	eval '[ "$K_rule" = herd-too-big ] && [ "$K_metric" = pids ]'
check "kill record: acted, not a dry run ($K_verdict, dry_run $K_dry_run)" \
	eval '[ "$K_verdict" = act ] && [ "$K_dry_run" = false ]'
check "kill record: pids $K_value above $K_threshold" \
	eval '[ "$K_value" -gt "$K_threshold" ] && [ "$K_threshold" -ge "$MIN_PROCS" ]'
check "follow-up: it followed the kill ($F_followed)" [ "$F_followed" = kill ]
check "follow-up: processes $F_processes >= $MIN_PROCS" [ "${F_processes:-0}" -ge "$MIN_PROCS" ]
check "follow-up: released $F_released + exited $F_exited == processes $F_processes" \
	eval '[ -n "$F_released" ] && [ -n "$F_exited" ] && [ $((F_released + F_exited)) -eq "${F_processes:--1}" ]'
check "follow-up: release_failed $F_release_failed == 0" [ "$F_release_failed" = 0 ]
past_cap() {
	[ "${F_released:-0}" -gt "$OLD_CAP" ] ||
		{ [ "${F_processes:-0}" -gt "$OLD_CAP" ] && [ $((F_released + F_exited)) -eq "$F_processes" ] &&
			cg_key_is "$CG" cgroup.events populated 0; }
}
check "follow-up: past the old cap of $OLD_CAP: released $F_released > $OLD_CAP, or all $F_processes accounted for and none left" \
	past_cap
check "follow-up: the kernel OOM killer did not fire (kernel_oom_kill $F_kernel_oom_kill)" [ "$F_kernel_oom_kill" = 0 ]
# 90% of what the children touched: the group's memory.current at the
# decision less what was left 3 s after the kill.
check "follow-up: freed $((${F_freed_bytes:-0} >> 20)) MiB, at least 90% of the children's $((CHILDREN * KIB >> 10)) MiB" \
	[ "${F_freed_bytes:-0}" -ge $((CHILDREN * KIB * 1024 * 9 / 10)) ]

status=$("$GUARDCTL" status "$SVC" --json | python3 -c '
import json, sys
s = json.load(sys.stdin)["services"][0]
print(s.get("state"), s.get("restarts"))')
check "$SVC stays down (restart never): state and restarts '$status'" [ "$status" = "stopped 0" ]
check "nothing came back in the group since" cg_key_is "$CG" cgroup.events populated 0
"$GUARDCTL" log | tail -12 | sed 's/^/# /'
guardian_kill
diag "test body took $(elapsed)"
done_testing
