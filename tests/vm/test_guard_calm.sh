#!/usr/bin/env bash
# The default guard leaves healthy services alone (memory_max 256M, no
# swap, no rules), each watched for a minute:
# - a warm-up: grows fast (100 MB/s) to 39% of memory.max, then stays flat;
# - a garbage-collected heap: grows to 190 MB (74%) at 70 MB/s, is freed
#   back to 60 MB at the same rate, and again, for ever.
# Neither may be restarted, stopped, killed, throttled, reclaimed or
# frozen; warnings (notify) are allowed. test_guard.sh has the leaks.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/guardian-lib.sh"
need_helper MEMHOG memhog

TRIPWIRE=$((240 << 20)) # 256M - 256M/16
WINDOW_MS=60000
BAD='restart|stop|kill|throttle|reclaim|freeze'

cycles() { grep -c '^memhog: cycle' "$T/state/logs/gc.log" 2>/dev/null; }

P=$T/policies
mkdir -p "$P"
cat >"$P/warm.yaml" <<YAML
service: warm
command: ["$MEMHOG", "--rate", "100", "--max", "100", "--hold"]
limits: {memory_max: 256M, memory_swap_max: 0}
YAML
cat >"$P/gc.yaml" <<YAML
service: gc
command: ["$MEMHOG", "--rate", "70", "--max", "190", "--cycle", "60"]
limits: {memory_max: 256M, memory_swap_max: 0}
YAML
guardian_start "$P"
for s in warm gc; do
	check "$s reaches running" wait_for 20000 state_is "$s" running
	check "$s: memory.high is the guard's tripwire, 240 MiB" \
		[ "$(cg_read "$SLICE/$s.service" memory.high)" = "$TRIPWIRE" ]
done
start_ms=$(now_ms)
check "warm: grows to its 100 MB and holds" wait_for 30000 file_has "$T/state/logs/warm.log" holding
diag "warm: holding $(($(now_ms) - start_ms)) ms after it started"
check "gc: two collections done (memhog: cycle 2)" wait_for 60000 file_has "$T/state/logs/gc.log" 'cycle 2'
diag "gc: cycle 2 $(($(now_ms) - start_ms)) ms after it started"

# shellcheck disable=SC2034 # the _rst ones are read through ${!name} below
{
	read -r _ warm_pid warm_rst < <(status_row warm)
	read -r _ gc_pid gc_rst < <(status_row gc)
}
gc_cycles0=$(cycles)
diag "watching for $((WINDOW_MS / 1000)) s: warm pid $warm_pid, gc pid $gc_pid at cycle $gc_cycles0"

# The minute is the property: either is left alone for that long. The
# watch ends early only when something acts on one of them.
disturbed() {
	log_has warm '[a-z]+' "$BAD" || log_has gc '[a-z]+' "$BAD" ||
		[ ! -d "/proc/$warm_pid" ] || [ ! -d "/proc/$gc_pid" ]
}
watch_ms=$(now_ms)
deadline=$((watch_ms + WINDOW_MS))
while [ "$(now_ms)" -lt "$deadline" ] && ! disturbed; do
	sleep 0.25
done
watched=$(($(now_ms) - watch_ms))
gc_cycles1=$(cycles)
diag "watched $watched ms; gc did $((gc_cycles1 - gc_cycles0)) cycles in it (cycle $gc_cycles1)"
check "left alone for the whole minute ($watched ms)" [ "$watched" -ge "$WINDOW_MS" ]
check "gc: kept cycling through the minute ($((gc_cycles1 - gc_cycles0)) cycles)" \
	[ "$((gc_cycles1 - gc_cycles0))" -ge 3 ]

for s in warm gc; do
	read -r state pid rst < <(status_row "$s")
	pid0=${s}_pid rst0=${s}_rst
	pid0=${!pid0} rst0=${!rst0}
	check "$s: no engine restart/stop/kill/throttle/reclaim/freeze record" eval "! log_has $s engine '$BAD'"
	check "$s: no such record from anyone else either (supervisor, system guard)" \
		eval "! log_has $s '[a-z]+' 'restart|stop|kill|freeze'"
	check "$s: still running, same pid ($pid0 -> $state $pid)" \
		eval "[ '$state' = running ] && [ '$pid' = '$pid0' ]"
	check "$s: restarts 0 ($rst0 -> $rst)" eval "[ '$rst' = 0 ] && [ '$rst0' = 0 ]"
	check "$s: the kernel OOM killer never fired (oom_kill $(oom_kills "$s"))" [ "$(oom_kills "$s")" = 0 ]
	check "$s: memory.high still the tripwire" [ "$(cg_read "$SLICE/$s.service" memory.high)" = "$TRIPWIRE" ]
	diag "$s: $(log_count "$s" engine notify) notify record(s);" \
		"memory.events: $(tr '\n' ' ' <"$SLICE/$s.service/memory.events")"
	"$GUARDCTL" explain "$s" | sed 's/^/# /'
done

for s in warm gc; do "$GUARDCTL" stop "$s" >/dev/null; done
"$GUARDCTL" log | sed 's/^/# /'
if [ "$_tap_failed" -ne 0 ]; then
	diag "guardian.log (last 60 lines):"
	tail -60 "$T/guardian.log" | sed 's/^/#   /'
fi
guardian_kill
done_testing
