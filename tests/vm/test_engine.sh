#!/usr/bin/env bash
# The pressure engine against the real kernel: leaks and spikes toward
# memory.max are stopped before the kernel OOM killer acts, on the kernel's
# evidence at the memory.high tripwire; a slow leak of anonymous memory is
# never throttled (nothing to give back); freed-but-unreturned memory is
# left alone; dry run changes nothing; `guardctl explain` shows the armed
# rules.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/guardian-lib.sh"
need_helper MEMHOG memhog


# engine_records SERVICE [ACTION...]: the engine's records for SERVICE (any
# action when none is given), one JSON object per line.
engine_records() {
	[ -f "$LOG" ] || return 0
	python3 - "$LOG" "$@" <<'PY'
import json, sys
svc, actions = sys.argv[2], sys.argv[3:]
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["service"] == svc and r["source"] == "engine" and (not actions or r["action"] in actions):
        print(line, end="")
PY
}
has_engine_record() { [ -n "$(engine_records "$@")" ]; }

# A command that runs its workload on the first start only and sleeps on
# any later one, so a restart by guardian leaves a quiet service behind.
once() { echo "if [ -e $T/$1.ran ]; then exec sleep 100000; fi; touch $T/$1.ran; exec $2"; }

phase() {
	P=$T/policies-$1
	mkdir -p "$P"
}

# --- phase 1: a leak at 20 MB/s; MADV_FREE'd memory; explain ---------------
phase 1
cat >"$P/leak.yaml" <<YAML
service: leak
command: "$(once leak "$MEMHOG --rate 20 --max 400")"
limits: {memory_max: 256M, memory_swap_max: 0}
YAML
cat >"$P/gofree.yaml" <<YAML
service: gofree
command: ["$MEMHOG", "--rate", "50", "--max", "200", "--madv-free", "--hold"]
limits: {memory_max: 256M, memory_swap_max: 0}
YAML
cat >"$P/ruled.yaml" <<YAML
service: ruled
command: ["sleep", "100000"]
limits: {memory_max: 64M}
rules:
  - name: tiny
    when: {metric: memory_current, above: 1K, for: 1h}
    action: notify
  - name: huge
    when: {metric: working_set, above: 60M}
    action: restart
YAML
guardian_start "$P"
for s in leak gofree ruled; do
	check "$s reaches running" wait_for 15000 svc_state_is "$s" running
done
leak_pid=$(svc_field leak pid)
start_ms=$(now_ms)
check "leak: guardian restarts or kills it before memory.max" \
	wait_for 60000 has_engine_record leak restart kill
diag "leak: acted after $(($(now_ms) - start_ms)) ms"
check "leak: the kernel OOM killer never fired (memory.events oom_kill $(oom_kills leak))" \
	[ "$(oom_kills leak)" = 0 ]
rec=$(engine_records leak restart kill | head -1)
diag "leak: $rec"
check "leak: the record says why, with the figures" python3 -c '
import json, sys
r = json.loads(sys.argv[1])
assert r["rule"] == "default guard" and r["step"] in ("restart", "kill"), r
assert r["memory_max"] == 256 << 20 and r["working_set"] > 200 << 20, r
assert r["verdict"] == "act" and r["dry_run"] is False, r
assert r["metric"] == "working_set" and "memory.max" in r["reason"], r
# the evidence is the kernel holding it at the tripwire, and the gentle
# steps that could not work are named
assert "held at memory.high" in r["reason"] or r["step"] == "kill", r
assert "nothing to give back" in r["reason"] or r["step"] == "kill", r' "$rec"
check "leak: its memory.high is the guard's tripwire, 240 MiB" \
	[ "$(cg_read $SLICE/leak.service memory.high)" = $((240 << 20)) ]
check "leak: never throttled by guardian (no throttle or reclaim record)" \
	eval '! has_engine_record leak throttle reclaim'
check "leak: one restart record for the restart (the engine's)" python3 -c '
import json, sys
rs = [json.loads(l) for l in open(sys.argv[1])]
rs = [r for r in rs if r["service"] == "leak" and r["action"] in ("restart", "kill", "stop")]
assert len(rs) == 1 and rs[0]["source"] == "engine", rs' "$LOG"
check "leak: the gentle steps came first (notify)" has_engine_record leak notify
leak_restarted() { [ "$(svc_field leak restarts)" -ge 1 ] && svc_state_is leak running; }
check "leak: restarted (restarts counted, running again)" wait_for 10000 leak_restarted
diag "leak: pid $leak_pid before, $(svc_field leak pid) after; last exit $(svc_field leak last_exit)"
check "leak: a follow-up says what the restart freed" wait_for 10000 has_engine_record leak follow-up
check "leak: ... and that the kernel did not kill" python3 -c '
import json, sys
rs = [json.loads(l) for l in sys.argv[1].splitlines()]
r = [r for r in rs if r["followed"] in ("restart", "kill")][0]
assert r["kernel_oom_kill"] == 0 and r["freed_bytes"] > 64 << 20, r' "$(engine_records leak follow-up)"

check "gofree: memory.current holds its 200 MB" wait_for 20000 eval \
	'[ "$(cg_read $SLICE/gofree.service memory.current)" -gt $((150 << 20)) ]'
wait_for 5000 file_has "$T/state/logs/gofree.log" holding
ws=$(svc_field gofree working_set)
diag "gofree: memory.current $(cg_read $SLICE/gofree.service memory.current), working set $ws"
check "gofree: its working set excludes the MADV_FREE'd pages" [ "$ws" -lt $((64 << 20)) ]
"$GUARDCTL" explain gofree | sed 's/^/# /'
check "gofree: no engine decision at all" eval '! has_engine_record gofree'
check "gofree: still its first run" [ "$(svc_field gofree restarts)" = 0 ]

out=$("$GUARDCTL" explain ruled)
echo "$out" | sed 's/^/# /'
check "explain: names both rules" grep -q "huge" <<<"$out"
check "explain: the rule past its threshold is ARMED" grep -Eq "tiny .*ARMED" <<<"$out"
check "explain: the other is not armed" grep -Eq "huge .*not armed" <<<"$out"
check "explain --json: armed, held and threshold" python3 -c '
import json, sys
r = json.loads(sys.argv[1])
t, h = r["rules"]
assert t["name"] == "tiny" and t["armed"] and t["held_ms"] >= 0 and t["for_ms"] == 3600000, t
assert h["name"] == "huge" and not h["armed"] and h["threshold"] == 60 << 20, h
assert r["ladder"]["active"] is False and r["working_set"] is not None, r' "$("$GUARDCTL" explain ruled --json)"
for s in leak gofree ruled; do "$GUARDCTL" stop "$s" >/dev/null; done
guardian_kill

# --- phase 2: a spike at 120 MB/s --------------------------------------------
phase 2
cat >"$P/spike.yaml" <<YAML
service: spike
command: "$(once spike "$MEMHOG --rate 120 --max 400")"
limits: {memory_max: 256M, memory_swap_max: 0}
YAML
guardian_start "$P"
check "spike: guardian acts" wait_for 30000 has_engine_record spike restart kill
check "spike: before the kernel OOM killer (oom_kill $(oom_kills spike))" [ "$(oom_kills spike)" = 0 ]
diag "spike: $(engine_records spike restart kill | head -1)"
grep memhog "$T/state/logs/spike.log" | tail -2 | sed 's/^/# /'
"$GUARDCTL" stop spike >/dev/null
guardian_kill

# --- phase 3: a slow leak with nothing to give back; dry run -------------------
phase 3
cat >"$P/slow.yaml" <<YAML
service: slow
command: ["$MEMHOG", "--rate", "4", "--max", "90", "--hold"]
limits: {memory_max: 128M, memory_swap_max: 0}
YAML
cat >"$P/dry.yaml" <<YAML
service: dry
command: ["$MEMHOG", "--rate", "20", "--max", "240", "--hold"]
limits: {memory_max: 256M, memory_swap_max: 0}
dry_run: true
YAML
guardian_start "$P"
for s in slow dry; do
	check "$s reaches running" wait_for 15000 svc_state_is "$s" running
done
slow_pid=$(svc_field slow pid) dry_pid=$(svc_field dry pid)
SCG=$SLICE/slow.service
TRIPWIRE=$((120 << 20)) # 128M - 128M/16
check "slow: the guard warns as it grows toward memory.max" wait_for 40000 has_engine_record slow notify
"$GUARDCTL" explain slow | sed 's/^/# /'
check "dry: a restart or kill is recorded as dry run" wait_for 40000 has_engine_record dry restart kill
check "dry: every record of it says dry_run" python3 -c '
import json, sys
rs = [json.loads(l) for l in sys.argv[1].splitlines() if json.loads(l)["action"] != "follow-up"]
assert rs and all(r["dry_run"] is True and r["verdict"] in ("dry-run", "rate-limited") for r in rs), rs
assert any(r["verdict"] == "dry-run" and r["action"] in ("restart", "kill") for r in rs), rs
print("# dry:", [r["action"] for r in rs])' "$(engine_records dry)"
check "dry: memory.high untouched" [ "$(cg_read $SLICE/dry.service memory.high)" = max ]
check "dry: not restarted (same pid $dry_pid)" [ "$(svc_field dry pid)" = "$dry_pid" ]
"$GUARDCTL" stop dry >/dev/null

check "slow: the leak stops by itself" wait_for 40000 file_has "$T/state/logs/slow.log" holding
calm() { "$GUARDCTL" explain slow --json | python3 -c 'import json,sys; sys.exit(json.load(sys.stdin)["ladder"]["step"] != "idle")'; }
check "slow: the guard goes back to idle once it stopped growing" wait_for 30000 calm
check "slow: anonymous memory, no swap: never throttled or reclaimed" \
	eval '! has_engine_record slow throttle reclaim'
check "slow: memory.high stayed at the tripwire, never lowered" [ "$(cg_read "$SCG" memory.high)" = "$TRIPWIRE" ]
check "slow: never restarted (same pid $slow_pid)" [ "$(svc_field slow pid)" = "$slow_pid" ]
check "slow: never hit memory.max (oom_kill $(oom_kills slow), max $(cg_key $SCG memory.events max))" \
	[ "$(oom_kills slow)" = 0 ]
"$GUARDCTL" stop slow >/dev/null

"$GUARDCTL" log | tail -40 | sed 's/^/# /'
done_testing
