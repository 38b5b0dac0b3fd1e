#!/usr/bin/env bash
# The default guard against leaks of anonymous memory (memory_max 256M, no
# swap, no rules): at 20 and 100 MB/s and in a 400 MB/s spike the engine
# acts before the kernel OOM killer, on the kernel's evidence at the
# memory.high tripwire (240 MiB), without throttling or reclaiming memory
# that cannot be given back, and with one record per action: the engine's,
# none from the supervisor or the system guard. The 100 MB/s leak runs
# with the system guard's threshold inside the leak's path, so the system
# guard sees the pressure and must leave the service to its engine.
# test_guard_calm.sh has the other half: services that must be left alone.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/guardian-lib.sh"
need_helper MEMHOG memhog

TRIPWIRE=$((240 << 20)) # 256M - 256M/16

restarted() { local st rst; read -r st _ rst <<<"$(status_row "$1")"; [ "$st" = running ] && [ "${rst:-0}" -ge 1 ]; }

# A command that waits for $T/NAME.go on its first start, then runs the
# workload; any later start sleeps, so a restart by guardian leaves a quiet
# service behind. The gate lets the test read the cgroup before the leak.
once_gated() {
	echo "if [ -e $T/$1.ran ]; then exec sleep 100000; fi; touch $T/$1.ran;" \
		"while [ ! -e $T/$1.go ]; do sleep 0.1; done; exec $2"
}

mem_available_mib() { awk '$1 == "MemAvailable:" { print int($2 / 1024) }' /proc/meminfo; }

# leak NAME RATE DEADLINE_MS [GUARDIAN_ARGS...]: one leaker at RATE MB/s
# toward 400 MB under memory_max 256M, its own guardian.
leak() {
	local name=$1 rate=$2 deadline=$3 cg=$SLICE/$1.service high go_ms act_ms
	shift 3
	P=$T/policies-$name
	mkdir -p "$P"
	cat >"$P/$name.yaml" <<YAML
service: $name
command: "$(once_gated "$name" "$MEMHOG --rate $rate --max 400")"
limits: {memory_max: 256M, memory_swap_max: 0}
YAML
	guardian_start "$P" "$@"
	check "$name: reaches running" wait_for 20000 state_is "$name" running
	wait_for 10000 test -e "$T/$name.ran" || bail "$name: its command did not start"
	high=$(cg_read "$cg" memory.high)
	check "$name: memory.high is the guard's tripwire before any action ($high = 240 MiB)" \
		eval "[ '$high' = $TRIPWIRE ] && ! log_has '$name' '[a-z]+' 'restart|stop|kill|throttle|reclaim'"
	echo "$name $EPOCHREALTIME" >>"$T/go-times"
	go_ms=$(now_ms)
	touch "$T/$name.go"
	check "$name: the engine acts (restart or kill record)" \
		wait_for "$deadline" log_has "$name" engine 'restart|kill'
	act_ms=$(now_ms)
	diag "$name: the engine acted $((act_ms - go_ms)) ms after the leak began at $rate MB/s" \
		"(memory.events: $(tr '\n' ' ' <"$cg/memory.events"))"
	check "$name: the kernel OOM killer never fired (memory.events oom_kill $(oom_kills "$name"))" \
		[ "$(oom_kills "$name")" = 0 ]
	check "$name: restarted by its engine, running again (quiet)" wait_for 15000 restarted "$name"
	# The follow-up comes 3 s after the action: time enough for a second
	# record from the supervisor or the system guard, if either wrote one.
	check "$name: a follow-up says what the action freed" \
		wait_for 15000 log_has "$name" engine follow-up
	check "$name: still no OOM kill (oom_kill $(oom_kills "$name"), no oom-kill record)" \
		eval "[ '$(oom_kills "$name")' = 0 ] && ! log_has '$name' '[a-z]+' 'oom-kill'"
	cp "$LOG" "$T/snap-$name.jsonl"
	"$GUARDCTL" stop "$name" >/dev/null
	guardian_kill
}

leak leak20 20 60000

# The system guard acts when MemAvailable falls below its threshold; put
# the threshold 200 MiB under what is available now, so it fires while the
# 100 MB/s leak is between 200 MiB and the tripwire, when the engine (which
# warns from 128 MiB) is on it.
avail=$(mem_available_mib)
SYS_MIN=$((avail - 200))
diag "leak100: MemAvailable $avail MiB, system guard at $SYS_MIN MiB"
leak leak100 100 30000 --system-min-available "${SYS_MIN}M"

leak leak400 400 30000

# --- the records, parsed once ---------------------------------------------------
declare -A F
while IFS=$'\t' read -r k v; do F[$k]=$v; done < <(python3 - "$LOG" "$T/go-times" "$T" <<'PY'
import datetime, json, sys

def load(path):
    return [json.loads(l) for l in open(path) if l.strip()]

def at(r):
    return datetime.datetime.strptime(r["time"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()

go = {l.split()[0]: float(l.split()[1]) for l in open(sys.argv[2])}
out = {}
for name in ("leak20", "leak100", "leak400"):
    rs = [r for r in load(f"{sys.argv[3]}/snap-{name}.jsonl") if r.get("service") == name]
    disrupt = [r for r in rs if r["action"] in ("restart", "stop", "kill")]
    out[name + ".disrupt"] = " ".join(f'{r["source"]}:{r["action"]}' for r in disrupt) or "none"
    act = [r for r in rs if r["source"] == "engine" and r["action"] in ("restart", "kill")]
    r = act[0] if act else {}
    reason = r.get("reason", "")
    out[name + ".step"] = r.get("step", "none")
    out[name + ".evidence"] = "yes" if "held at memory.high" in reason or r.get("step") == "kill" else "no"
    out[name + ".skipped"] = "yes" if "nothing to give back" in reason or r.get("step") == "kill" else "no"
    out[name + ".gentle"] = " ".join(sorted({x["action"] for x in rs if x["source"] == "engine"
                                             and x["action"] in ("throttle", "reclaim")})) or "none"
    out[name + ".reason"] = reason
    out[name + ".ws"] = "%.1f" % (r.get("working_set", 0) / 2**20)
    out[name + ".delay"] = "%.0f" % ((at(r) - go[name]) * 1000) if r else "-"
    out[name + ".notify"] = str(sum(1 for x in rs if x["source"] == "engine" and x["action"] == "notify"))
    fu = [x for x in rs if x["action"] == "follow-up"]
    out[name + ".followup"] = fu[0]["reason"] if fu else "none"
# The whole log: the system guard's records.
sysrs = [r for r in load(sys.argv[1]) if r.get("guard") == "system"]
out["sys.count"] = str(len(sysrs))
out["sys.acted_on_leak100"] = " ".join(f'{r["action"]}@{r["time"]}' for r in sysrs
                                       if r.get("service") == "leak100" and r["action"] in ("restart", "kill")) or "none"
out["sys.engaged_leak100"] = str(sum(1 for r in sysrs if "leak100" in (r.get("engaged") or [])))
out["sys.summary"] = " | ".join(f'{r["time"]} {r["action"]} {r.get("decision")} service={r.get("service")} '
                                f'engaged={r.get("engaged")} {r["reason"]}' for r in sysrs) or "none"
for k, v in out.items():
    print(f"{k}\t{v}".replace("\n", " "))
PY
)

for name in leak20 leak100 leak400; do
	diag "$name: ${F[$name.step]} ${F[$name.delay]} ms after the leak began, working set ${F[$name.ws]} MiB" \
		"in the record, ${F[$name.notify]} notify record(s) before"
	diag "$name: reason: ${F[$name.reason]}"
	check "$name: the reason is whole (ends with its closing parenthesis)" \
		eval '[[ "${F[$name.reason]}" == *")" ]]'
	diag "$name: ${F[$name.followup]}"
	check "$name: the reason names the kernel's evidence (held at memory.high), or it is a kill" \
		[ "${F[$name.evidence]}" = yes ]
	check "$name: exactly one restart/stop/kill record, the engine's (${F[$name.disrupt]})" \
		eval "[ '${F[$name.disrupt]}' = engine:restart ] || [ '${F[$name.disrupt]}' = engine:kill ]"
	check "$name: never throttled or reclaimed: nothing to give back (${F[$name.gentle]})" \
		[ "${F[$name.gentle]}" = none ]
	check "$name: the restart says reclaim and throttle were skipped: nothing to give back" \
		[ "${F[$name.skipped]}" = yes ]
done
diag "system guard: ${F[sys.count]} record(s): ${F[sys.summary]}"
check "leak100: the system guard saw the pressure and left it to its engine (engaged)" \
	[ "${F[sys.engaged_leak100]}" -ge 1 ]
check "leak100: no system guard restart or kill of it (${F[sys.acted_on_leak100]})" \
	[ "${F[sys.acted_on_leak100]}" = none ]

"$GUARDCTL" log --file "$LOG" | sed 's/^/# /'
if [ "$_tap_failed" -ne 0 ]; then
	diag "guardian.log (last 60 lines):"
	tail -60 "$T/guardian.log" | sed 's/^/#   /'
fi
done_testing
