#!/usr/bin/env bash
# reaction.sh (runs in the VM through vmrun): how fast guardian's default
# guard reacts to memory growth toward memory.max, from slow leaks to fast
# spikes. Prints figures; not pass/fail.
#
# The limit crossing is defined as the moment the hog's own progress line
# (printed every 4 MB, stamped on arrival) first reaches 80% of memory.max;
# the reaction is guardian's first restart or kill record after it
# (negative: guardian acted before the crossing). "OOM first" counts runs
# where the kernel OOM killer fired (memory.events oom_kill) before or
# instead of guardian. CPU and peak RSS are guardian's own, per run, from
# /proc/PID/stat (utime+stime) and /proc/PID/status (VmHWM).
. "$(dirname "$0")/../vm/lib.sh"
. "$(dirname "$0")/../vm/guardian-lib.sh"
need_helper MEMHOG memhog

RATES=${GUARDIAN_BENCH_RATES:-"5 20 100 400"}
RUNS=${GUARDIAN_BENCH_RUNS:-3}
MAX_MB=128
CROSS_MB=$((MAX_MB * 8 / 10))
LOG=$T/state/actions.jsonl
chmod 755 "$T"
tick=$(getconf CLK_TCK)

# run RATE N: one run; prints "reaction_ms oom cpu_ms hwm_kb"
run() {
	local rate=$1 n=$2 P=$T/p-$1-$2 svc=hog$1x$2 out
	mkdir -p "$P"
	out=$T/$svc.out
	# bash, for EPOCHREALTIME: each progress line stamped as it arrives.
	# A restart by guardian leaves a quiet service behind.
	cat >"$T/$svc.sh" <<SH
if [ -e $T/$svc.ran ]; then exec sleep 100000; fi
touch $T/$svc.ran
$MEMHOG --rate $rate --max 400 --report 4 | while read -r l; do echo "\$EPOCHREALTIME \$l"; done >$out
SH
	cat >"$P/$svc.yaml" <<YAML
service: $svc
command: ["bash", "$T/$svc.sh"]
limits: {memory_max: ${MAX_MB}M, memory_swap_max: 0}
restart: {mode: never}
YAML
	guardian_start "$P"
	acted() { grep -q "\"service\":\"$svc\".*\"source\":\"engine\",\"action\":\"\(restart\|kill\)\"" "$LOG" 2>/dev/null; }
	oomed() { [ "$(cg_key /sys/fs/cgroup/guardian.slice/$svc.service memory.events oom_kill)" != 0 ]; }
	wait_for $((400000 / rate + 30000)) eval 'acted || oomed'
	sleep 0.5 # let the hog's last progress line land
	python3 - "$LOG" "$svc" "$out" "$CROSS_MB" "$(oomed && echo 1 || echo 0)" \
		"$(awk -v t="$tick" '{print int(($14 + $15) * 1000 / t)}' /proc/$GUARDIAN_PID/stat)" \
		"$(awk '/VmHWM/ {print $2}' /proc/$GUARDIAN_PID/status)" <<'PY'
import json, sys, datetime
log, svc, out, cross_mb, oom, cpu, hwm = sys.argv[1:]
cross = None
for line in open(out):
    parts = line.split()
    if len(parts) >= 4 and parts[2].isdigit() and int(parts[2]) >= int(cross_mb):
        cross = float(parts[0]); break
act = None
for line in open(log):
    r = json.loads(line)
    if r["service"] == svc and r["source"] == "engine" and r["action"] in ("restart", "kill"):
        act = datetime.datetime.fromisoformat(r["time"].replace("Z", "+00:00")).timestamp(); break
react = "-" if act is None or cross is None else "%d" % ((act - cross) * 1000)
if act is not None and cross is None:
    react = "before-80%"
print(react, oom, cpu, hwm)
PY
	"$GUARDCTL" stop "$svc" >/dev/null 2>&1
	guardian_kill
}

printf '%-8s %-28s %-8s %-8s %-8s %-10s %-10s\n' "MB/s" "reaction ms (runs)" "median" "worst" "OOM1st" "cpu ms" "VmHWM kB"
for rate in $RATES; do
	res=()
	oom=0 cpu=0 hwm=0
	for n in $(seq "$RUNS"); do
		read -r r o c h < <(run "$rate" "$n")
		res+=("$r")
		oom=$((oom + o))
		[ "$c" -gt "$cpu" ] && cpu=$c
		[ "$h" -gt "$hwm" ] && hwm=$h
	done
	stats=$(printf '%s\n' "${res[@]}" | python3 -c '
import sys, statistics
v = [int(x) for x in sys.stdin.read().split() if x.lstrip("-").isdigit()]
print("%d %d" % (statistics.median(v), max(v)) if v else "- -")')
	printf '%-8s %-28s %-8s %-8s %-8s %-10s %-10s\n' "$rate" "${res[*]}" ${stats} "$oom/$RUNS" "$cpu" "$hwm"
done
diag "reaction: guardian's restart/kill record time minus the hog's first progress line at >= ${CROSS_MB} MB (80% of ${MAX_MB}M); negative = before"
diag "cpu ms / VmHWM: guardian's own, worst run of each rate (one guardian per run)"
