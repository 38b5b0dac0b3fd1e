#!/usr/bin/env bash
# Hooks: a leaking service restarted by the engine first runs its `before`
# hook, the restart waiting for it at most half the time left to
# memory.max, then its policy's `after` hook as the user it names, with the record's fields in GUARDIAN_*
# variables; a hook that hangs is killed at its timeout and its record says
# so; a daemon-wide hook from --hooks runs for every service; every run
# lands in the action log as action "hook" with its exit and duration.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/guardian-lib.sh"
need_helper MEMHOG memhog

H=$T/hooks
mkdir -p "$H" "$T/policies"
chmod 0777 "$H" # the env hook runs as nobody

# hook_has REASON_RE: whether a hook's record with that result is in the log.
hook_has() { grep -Eq "\"source\":\"hook\",\"action\":\"hook\",\"reason\":\"($1)\"" "$LOG" 2>/dev/null; }

once() { echo "if [ -e $T/$1.ran ]; then exec sleep 100000; fi; touch $T/$1.ran; exec $2"; }
cat >"$T/policies/leak.yaml" <<YAML
service: leak
command: "$(once leak "$MEMHOG --rate 20 --max 400")"
limits: {memory_max: 256M, memory_swap_max: 0}
hooks:
  after:
    - command: [/bin/sh, -c, 'env | grep ^GUARDIAN_ | sort >$H/after.tmp; id -u >>$H/after.tmp; mv $H/after.tmp $H/after.env']
      user: nobody
      on: [restart, kill]
    - command: [/bin/sh, -c, 'echo \$\$ >$H/hang.pid; exec sleep 100000']
      on: [restart, kill]
      timeout: 3s
  before:
    - command: [/bin/sh, -c, 'env | grep ^GUARDIAN_ | sort >$H/before.tmp; kill -0 \$GUARDIAN_PIDS && echo alive >>$H/before.tmp; mv $H/before.tmp $H/before.env']
      timeout: 5s
YAML
cat >"$T/policies/quiet.yaml" <<YAML
service: quiet
command: [sleep, "100000"]
YAML
cat >"$T/hooks.yaml" <<YAML
after:
  - command: [/bin/sh, -c, 'echo "\$GUARDIAN_ACTION \$GUARDIAN_SOURCE" >$H/daemon.\$GUARDIAN_SERVICE']
    on: [restart]
    max_per_minute: 2
YAML

guardian_start "$T/policies" --hooks "$T/hooks.yaml"
for s in leak quiet; do
	check "$s reaches running" wait_for 15000 svc_state_is "$s" running
done
leak_pid=$(svc_field leak pid)
check "leak: the engine restarts it before memory.max" wait_for 60000 log_has leak engine 'restart|kill'
check "leak: the after hook wrote its environment" wait_for 20000 test -s "$H/after.env"
sed 's/^/# env: /' "$H/after.env"
env_is() { grep -qx "$1" "$H/after.env"; }
check "env: GUARDIAN_SERVICE=leak" env_is GUARDIAN_SERVICE=leak
check "env: GUARDIAN_ACTION is the engine's restart or kill" env_is 'GUARDIAN_ACTION=\(restart\|kill\)'
check "env: GUARDIAN_SOURCE=engine" env_is GUARDIAN_SOURCE=engine
check "env: GUARDIAN_MEMORY_MAX=268435456" env_is GUARDIAN_MEMORY_MAX=268435456
ws=$(sed -n 's/^GUARDIAN_WORKING_SET=//p' "$H/after.env")
check "env: GUARDIAN_WORKING_SET near memory.max ($ws)" [ "${ws:-0}" -gt $((200 << 20)) ]
check "env: GUARDIAN_PIDS names the leaking run's pid ($leak_pid)" env_is "GUARDIAN_PIDS=$leak_pid"
check "env: GUARDIAN_REASON says why" grep -q '^GUARDIAN_REASON=.*memory.max' "$H/after.env"
check "env: the hook ran as nobody (uid 65534)" env_is 65534
check "the env hook's run is recorded: exited with 0" wait_for 10000 hook_has 'exited with 0'

check "the hanging hook started" wait_for 10000 test -s "$H/hang.pid"
hang_pid=$(cat "$H/hang.pid")
check "the hanging hook is killed at its 3s timeout" wait_for 30000 hook_has 'killed at its timeout'
check "the hanging hook's process is gone" wait_for 5000 proc_exited "$hang_pid"
rec=$(grep '"reason":"killed at its timeout"' "$LOG" | head -1)
diag "hang: $rec"
check "the record: timed out, SIGKILL, for the restart, about 3 s" python3 -c '
import json, sys
r = json.loads(sys.argv[1])
assert r["service"] == "leak" and r["timed_out"] is True and r["signal"] == "KILL", r
assert r["for"] in ("restart", "kill") and r["scope"] == "policy", r
assert 3000 <= r["duration_ms"] < 15000, r
assert r["pids"] == [int(sys.argv[2])], r' "$rec" "$hang_pid"
check "the env hook's record: exit 0, its duration, for the engine's action" python3 -c '
import json, sys
rs = [json.loads(l) for l in open(sys.argv[1])]
r = [r for r in rs if r["action"] == "hook" and r["reason"] == "exited with 0" and r["service"] == "leak"][0]
assert r["exit_code"] == 0 and r["timed_out"] is False and 0 <= r["duration_ms"] < 3000, r' "$LOG"
check "leak: the kernel OOM killer never fired" [ "$(oom_kills leak)" = 0 ]

check "before: the before hook wrote its environment" wait_for 20000 test -s "$H/before.env"
sed 's/^/# before env: /' "$H/before.env"
benv_is() { grep -qx "$1" "$H/before.env"; }
check "before: GUARDIAN_HOOK=before" benv_is GUARDIAN_HOOK=before
check "before: GUARDIAN_ACTION is the engine's restart or kill" benv_is 'GUARDIAN_ACTION=\(restart\|kill\)'
check "before: GUARDIAN_PIDS is the run about to end ($leak_pid)" benv_is "GUARDIAN_PIDS=$leak_pid"
check "before: GUARDIAN_MEMORY_MAX=268435456" benv_is GUARDIAN_MEMORY_MAX=268435456
check "before: the hook's run is recorded, phase before" wait_for 10000 grep -q '"phase":"before"' "$LOG"
check "before: the restart waited for it, at most its budget, never past half the time to memory.max" python3 -c '
import json, sys
rs = [json.loads(l) for l in open(sys.argv[1])]
d = [r for r in rs if r["service"] == "leak" and r["source"] == "engine" and r["action"] in ("restart", "kill")][0]
h = [r for r in rs if r.get("phase") == "before"][0]
print("# decision:", {k: d.get(k) for k in ("time_to_max_ms", "before_hooks", "before_budget_ms", "before_waited_ms", "before_cut_short")})
print("# before hook:", h["reason"], h["duration_ms"], "ms, waited for:", h["waited_for"])
assert d["before_hooks"] == 1, d
ttm = d["time_to_max_ms"]
assert d["before_budget_ms"] <= (ttm // 2 if ttm is not None else 5000), d
assert d["before_waited_ms"] <= d["before_budget_ms"] + 1000, d
if d["before_cut_short"]:
    assert h["waited_for"] is False, (d, h)
else:
    # it exited first, while the service still ran, and its record precedes the restart
    assert h["waited_for"] is True and rs.index(h) < rs.index(d), (d, h)
    assert open(sys.argv[2]).read().split()[-1] == "alive", "the service was gone before the hook ran"
' "$LOG" "$H/before.env"

check "daemon-wide: the --hooks hook ran for leak's restart too" wait_for 10000 grep -qx 'restart engine' "$H/daemon.leak"
check "daemon-wide: no hook for quiet before anything happened to it" [ ! -e "$H/daemon.quiet" ]
"$GUARDCTL" restart quiet >/dev/null
check "daemon-wide: the --hooks hook runs for quiet's restart" wait_for 15000 test -s "$H/daemon.quiet"
check "daemon-wide: with its action and source" grep -qx 'restart guardian' "$H/daemon.quiet"
check "daemon-wide: quiet is running again" wait_for 15000 svc_state_is quiet running
"$GUARDCTL" restart quiet >/dev/null
check "rate limit: a third restart within the minute skips the max_per_minute: 2 hook, and says so" \
	wait_for 15000 hook_has 'skipped: over max_per_minute'
check "rate limit: it ran twice (leak, then quiet) in the minute" \
	[ "$(grep -c '"source":"hook".*"reason":"exited with 0".*"scope":"daemon"' "$LOG")" = 2 ]
grep '"source":"hook"' "$LOG" | sed 's/^/# hook record: /'
grep 'hook ' "$T/guardian.log" | sed 's/^/# guardian: /'
for line in 6 9; do
	check "leak: the hook at line $line ran once for the one restart" \
		[ "$(grep -c '"service":"leak".*"source":"hook".*"line":'$line, "$LOG")" = 1 ]
done

"$GUARDCTL" log | tail -20 | sed 's/^/# /'
done_testing
