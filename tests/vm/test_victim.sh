#!/usr/bin/env bash
# Victim choice under system-wide memory pressure: four services without
# memory.max over-commit the VM; the lowest priority loses (restart, then
# cgroup.kill because it ignores SIGTERM), the protected one and the higher
# priorities keep running, and the kernel OOM killer never fires.
#
# No zram: without swap MemAvailable falls in a straight line as the hogs
# touch pages, so when the guard's threshold is crossed is decided by the
# sizes below, not by how well zram compresses or when the kernel swaps.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/guardian-lib.sh"
need_helper MEMHOG memhog

P=$T/policies
mkdir -p "$P"
mkfifo "$T/go"

meminfo_mb() { awk -v k="$1:" '$1 == k { print int($2 / 1024) }' /proc/meminfo; }
total=$(meminfo_mb MemTotal)
avail=$(meminfo_mb MemAvailable)
threshold=$((total / 10)) # guardian's default --system-min-available on a 1 GiB machine: 10 %
# The three that grow first and hold leave 160 MB above the threshold; the
# victim then eats through that at 15 MB/s, so the guard acts ~10 s in and
# the victim's 2 s of ignoring SIGTERM cost it another 30 MB at most, far
# from the kernel's own limit (MemAvailable near 0).
keep=64
each=$(((avail - threshold - 160 - keep) / 2))
diag "MemTotal ${total} MB, MemAvailable ${avail} MB, threshold ${threshold} MB; hi/mid ${each} MB, keep ${keep} MB, low up to 400 MB"
[ "$each" -ge 64 ] || bail "too little memory in the VM for this test (MemAvailable ${avail} MB)"

hog() { echo "[\"$MEMHOG\", \"--rate\", \"$1\", \"--max\", \"$2\", \"--hold\"]"; }
cat >"$P/hi.yaml" <<YAML
service: hi
command: $(hog 100 "$each")
priority: 10
YAML
cat >"$P/mid.yaml" <<YAML
service: mid
command: $(hog 100 "$each")
priority: 5
YAML
# Protected, with the lowest priority of all: protection wins over priority.
cat >"$P/keep.yaml" <<YAML
service: keep
command: $(hog 100 "$keep")
priority: -100
protected: true
YAML
# The victim: its first run waits for the others to hold, then grows and
# ignores SIGTERM (SIG_IGN survives exec), so the graceful restart cannot
# work and the guard has to escalate; its second run stays small.
cat >"$P/low.yaml" <<YAML
service: low
command: "if [ -e $T/low.ran ]; then exec sleep 100000; fi; touch $T/low.ran; read go <$T/go; trap '' TERM; exec $MEMHOG --rate 15 --max 400 --hold"
priority: 0
stop: {signal: TERM, timeout: 60s}
YAML

guardian_start "$P"
for s in hi mid keep low; do
	check "$s reaches running" wait_for 15000 svc_state_is "$s" running
done
for s in hi mid keep; do
	check "$s holds its memory" wait_for 30000 file_has "$T/state/logs/$s.log" "holding"
done
declare -A pid_before
for s in hi mid keep low; do pid_before[$s]=$(svc_field "$s" pid); done
diag "MemAvailable with three holding: $(meminfo_mb MemAvailable) MB"
echo go >"$T/go" # the victim starts growing

# system_records ACTION: the system guard's records with that action.
system_records() {
	python3 - "$LOG" "$1" <<'PY'
import json, sys
try:
    lines = open(sys.argv[1]).read().splitlines()
except FileNotFoundError:
    lines = []
for line in lines:
    r = json.loads(line)
    if r.get("guard") == "system" and r["action"] == sys.argv[2]:
        print(line)
PY
}
has_system_record() { [ -n "$(system_records "$1")" ]; }

check "the guard chose a victim within 60 s" wait_for 60000 has_system_record restart
rec=$(system_records restart | head -n1)
diag "decision: $rec"
check "the victim is low, the lowest priority not protected" python3 -c '
import json, sys
r = json.loads(sys.argv[1])
assert r["source"] == "guardian" and r["service"] == "low" and r["decision"] == "act", r
assert r["cgroup"].endswith("/low.service"), r' "$rec"
check "the record carries the figures: MemAvailable below the threshold, PSI" python3 -c '
import json, sys
r = json.loads(sys.argv[1])
assert r["trigger"] == "mem_available", r
assert 0 < r["mem_available"] < r["min_available"] < r["mem_total"], r
assert r["min_available"] == r["mem_total"] // 10, r
for k in ("psi_some_avg10", "psi_full_avg10"):
    assert isinstance(r[k], (int, float)), (k, r)
assert r["dry_run"] is False, r
assert "MemAvailable" in r["reason"], r' "$rec"
check "the ranking used: low, mid, hi; keep only as protected" python3 -c '
import json, sys
r = json.loads(sys.argv[1])
rk = r["ranking"]
assert [e["service"] for e in rk] == ["low", "mid", "hi"], rk
assert [e["priority"] for e in rk] == [0, 5, 10], rk
assert r["protected"] == ["keep"], r
for e in rk:
    assert set(e) >= {"service", "priority", "usage", "memory_low", "growth_bps", "reason"}, e
    assert e["usage"] > 0 and e["memory_low"] == 0, e
assert rk[0]["reason"].startswith("before mid: priority 0 < 5"), rk[0]
assert rk[0]["growth_bps"] > 0, rk[0]' "$rec"

check "low ignored SIGTERM: the guard escalated to cgroup.kill" wait_for 10000 has_system_record kill
krec=$(system_records kill | head -n1)
diag "escalation: $krec"
check "... with the pids, SIGKILL and process_mrelease" python3 -c '
import json, sys
r = json.loads(sys.argv[1])
assert r["service"] == "low" and r["signal"] == "KILL" and r["decision"] == "escalate", r
# Each process either had its memory reaped by process_mrelease or had
# already freed it by exiting (ESRCH); the call itself never failed.
assert r["pids"] and r["mrelease_failed"] == 0, r
assert r["mreleased"] + r["mrelease_exited"] >= 1, r
assert "cgroup.kill" in r["reason"], r' "$krec"

low_restarted() { svc_state_is low running && [ "$(svc_field low pid)" != "${pid_before[low]}" ]; }
check "low was restarted (running under a new pid)" wait_for 15000 low_restarted
low_restarted_once() { [ "$(svc_field low restarts)" = 1 ]; }
check "low's restart is counted" wait_for 5000 low_restarted_once
check "memory came back above the threshold" test "$(meminfo_mb MemAvailable)" -gt "$threshold"
for s in hi mid keep; do
	check "$s still running with its pid ${pid_before[$s]}" \
		test "$(svc_field "$s" state)" = running -a "$(svc_field "$s" pid)" = "${pid_before[$s]}"
done
check "one victim only: no other service restarted or killed by the guard" python3 -c '
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["action"] in ("restart", "kill", "stop") and r["service"] not in (None, "low"):
        raise SystemExit("unexpected: " + line)' "$LOG"

for s in hi mid keep low; do
	check "$s: no kernel OOM kill (memory.events oom_kill 0)" \
		cg_key_is "/sys/fs/cgroup/guardian.slice/$s.service" memory.events oom_kill 0
done
check "no kernel OOM kill in the action log" python3 -c '
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    assert r["source"] != "kernel" and r["action"] != "oom-kill", line' "$LOG"
no_oom_in_kmsg() { ! dmesg 2>/dev/null | grep -q "Out of memory"; }
check "no 'Out of memory' in the kernel log" no_oom_in_kmsg

"$GUARDCTL" status | sed 's/^/# /'
grep -h 'system guard' "$T/guardian.log" | sed 's/^/# /'
done_testing
