#!/usr/bin/env bash
# scale.sh (runs in the VM through vmrun): what guardian costs as the number
# of services grows, and how fast a rule still answers with 500 services to
# watch. Prints a table; not pass/fail (exits non-zero only when the harness
# itself breaks).
#
# 1. For each N (GUARDIAN_BENCH_SCALE, default "5 50 200 500 1000"): N
#    policies running `sleep 100000` with memory_max 64M and no rules (so
#    each gets the default guard), a fresh guardian with its BPF observers
#    (no --no-bpf), and:
#    - "all running after": from just before guardian is exec'd until
#      `guardctl status --json` first shows all N `running`; the status is
#      queried at most every 500 ms, so the figure is the first answer that
#      showed it (at most ~0.5 s plus one status query late);
#    - "idle CPU %": guardian's utime+stime (/proc/PID/stat, clock ticks)
#      over the next 30 s of idle, in per cent of one core; nothing queries
#      guardian during that window;
#    - VmRSS and VmHWM (/proc/PID/status) at the end of the window.
#    Then every service is stopped (a reload with an empty policy dir),
#    guardian is ended, and the next round starts only once guardian.slice
#    is empty and its service groups are gone.
# 2. With 500 idle services running, a service `fire` (memory_high: max,
#    memory_max: 256M, memhog holding 40 MB) with the rule
#    {metric: memory_events_high_rate, above: 0, action: notify}. Each
#    trial: t0, memory.high 32M (below its usage), a short process moves
#    into the group and charges 256 KiB there (t_in: just before the
#    charge, the kernel's `high` event), wait for the rule's notify record.
#    Two latencies: the record's "time" minus t_in (the kernel event to
#    guardian's action), and minus t0 (also the shell's write, fork and
#    cgroup move, tens of ms in this VM).
. "$(dirname "$0")/../vm/lib.sh"
. "$(dirname "$0")/../vm/guardian-lib.sh"
need_helper MEMHOG memhog

NS=${GUARDIAN_BENCH_SCALE-"5 50 200 500 1000"} # empty: the latency part only
IDLE_S=${GUARDIAN_BENCH_IDLE_SECONDS:-30}
DEADLINE_S=${GUARDIAN_BENCH_DEADLINE:-300}  # for all N to be running
LAT_IDLE=${GUARDIAN_BENCH_LAT_IDLE:-500}
TRIALS=${GUARDIAN_BENCH_TRIALS:-50}
chmod 755 "$T"
tick=$(getconf CLK_TCK)
SLICE=$CG_ROOT/guardian.slice
# guardian's log and action log of each round outlive the VM here ($T does not).
KEEP=${GUARDIAN_BENCH_KEEP:-$GUARDIAN_BUILD_DIR/meson-logs/scale}
mkdir -p "$KEEP" && rm -f "$KEEP"/guardian-*.log "$KEEP"/actions-*.jsonl "$KEEP"/latency.txt || KEEP=''
# keep_logs NAME GUARDIAN_LOG STATE_DIR
keep_logs() {
	[ -n "$KEEP" ] || return 0
	cp "$2" "$KEEP/guardian-$1.log" 2>/dev/null
	cp "$3/actions.jsonl" "$KEEP/actions-$1.jsonl" 2>/dev/null
}
# python3 from /usr/bin: a pyenv shim on PATH costs several execs per call under TCG.
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

# A sleep that forks nothing: read with a timeout on a FIFO nobody writes
# (opened read-write, so it never sees EOF). The waits below poll every
# 20 ms; /bin/sleep per poll would compete with guardian for the 2 CPUs.
mkfifo "$T/nap"
exec {NAPFD}<>"$T/nap"
nap() { read -r -t "$1" -u "$NAPFD" _ || :; }

usec() { echo "${EPOCHREALTIME/[.,]/}"; }

# gctl ARGS...: guardctl, bounded. A daemon out of fds can leave a client
# connected in its listen backlog, unanswered for ever; the harness must
# go on and say so (exit 124), not hang until vmrun's timeout.
gctl() { timeout 60 "$GUARDCTL" "$@"; }

# bench_start POLICY_DIR STATE_DIR LOG: guardian_start's launch, without
# its 10 s wait for the socket (with 1000 policies the wait is what we
# measure). Guardian gets oom_score_adj 0 even though this script has a
# lower one (below), so it and its services are scored as usual.
bench_start() {
	(
		echo 0 >/proc/self/oom_score_adj
		exec "$GUARDIAN" --policies "$1" --state-dir "$2" --runtime-dir "$T/run" >>"$3" 2>&1
	) &
	GUARDIAN_PID=$!
}
# This script (and the guardctl/grep it runs) is the harness: a global OOM
# under 1000 services should take a service, not the harness.
echo -500 >/proc/self/oom_score_adj 2>/dev/null

guardian_alive() { [ -n "$GUARDIAN_PID" ] && ! proc_exited "$GUARDIAN_PID"; }

# bench_kill: TERM, then KILL after 30 s; says so when it had to.
bench_kill() {
	guardian_alive || { [ -n "$GUARDIAN_PID" ] && wait "$GUARDIAN_PID" 2>/dev/null; GUARDIAN_PID=; return 0; }
	kill -TERM "$GUARDIAN_PID" 2>/dev/null
	if ! wait_exit "$GUARDIAN_PID" 30000; then
		diag "guardian did not exit within 30 s of SIGTERM: SIGKILL"
		kill -KILL "$GUARDIAN_PID" 2>/dev/null
		wait_exit "$GUARDIAN_PID" 10000 || bail "guardian survived SIGKILL"
	fi
	GUARDIAN_PID=
}

# slice_clear: guardian.slice holds no process and no service group; the
# next round must not adopt anything. guardian has already stopped its
# services; cgroup.kill is the fallback, and says so.
slice_clear() {
	local d left
	[ -d "$SLICE" ] || return 0
	if ! wait_for 60000 guardian_slice_empty; then
		diag "guardian.slice still populated 60 s after the stop: cgroup.kill"
		cg_kill "$SLICE" || bail "guardian.slice still populated after cgroup.kill"
	fi
	left=$(find "$SLICE" -mindepth 1 -maxdepth 1 -type d -name '*.service' | wc -l)
	[ "$left" -eq 0 ] || diag "$left service groups left in guardian.slice after the stop: removing them"
	find "$SLICE" -mindepth 1 -depth -type d | while read -r d; do
		rmdir "$d" 2>/dev/null || echo "# cannot rmdir $d"
	done
}

# count_state STATE: services in STATE per `guardctl status --json`
# (pretty printed: one "state" key per service, nothing else has one).
# status_json: STATUS is `guardctl status --json`; fails when guardian did not answer.
STATUS=''
status_json() { STATUS=$(gctl status --json 2>/dev/null); }
count_state() { status_json || { echo 0; return 1; }; grep -c "\"state\": \"$1\"" <<<"$STATUS"; }

# state_summary: "812 running, 188 backoff" from one status.
state_summary() {
	gctl status --json 2>/dev/null | sed -n 's/.*"state": "\([a-z-]*\)".*/\1/p' | sort | uniq -c |
		awk '{ printf "%s%d %s", NR > 1 ? ", " : "", $1, $2 } END { if (!NR) printf "no answer" }'
}

# wait_running N DEADLINE_S T_START_US: polls status at most every 500 ms
# until N services are running. Sets RUN_US (microseconds since
# T_START_US, empty if not reached), RUN_N (the last count) and
# RUN_ANSWERED (empty when the last status query got no answer).
wait_running() {
	local n=$1 deadline=$(($(usec) + $2 * 1000000)) t_start=$3 tq left
	RUN_US='' RUN_N=0 RUN_ANSWERED=1
	while :; do
		tq=$(usec)
		if status_json; then
			RUN_ANSWERED=1
			RUN_N=$(grep -c '"state": "running"' <<<"$STATUS")
		else
			RUN_ANSWERED=''
		fi
		if [ "$RUN_N" -ge "$n" ]; then
			RUN_US=$(($(usec) - t_start))
			return 0
		fi
		guardian_alive || return 1
		[ "$(usec)" -lt "$deadline" ] || return 1
		left=$((tq + 500000 - $(usec)))
		if [ "$left" -gt 0 ]; then
			printf -v left '0.%06d' "$left"
			nap "$left"
		fi
	done
}

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
mem_avail_mb() { awk '$1 == "MemAvailable:" { print int($2 / 1024) }' /proc/meminfo; }
# The kernel starts a psimon thread per cgroup with a PSI trigger (6.1).
psimon_n() { grep -lx psimon /proc/[0-9]*/comm 2>/dev/null | wc -l; }
fd_n() { local a=(/proc/"$1"/fd/*); echo "${#a[@]}"; }
procs_n() { local a=(/proc/[0-9]*); echo "${#a[@]}"; }
oom_kills() { awk '$1 == "oom_kill" { print $2 }' /proc/vmstat; }

# log_digest LOG: what guardian said, lines with their numbers folded
# (pids, counts, times) and counted, most frequent first.
log_digest() {
	diag "  guardian's log: $(wc -l <"$1") lines; by kind (digits folded to N):"
	sed -E 's/[0-9]+/N/g' "$1" | sort | uniq -c | sort -rn | head -n 15 | sed 's/^/#     /'
	grep -E 'still running|cannot|failed|error|warning|overflow|[Tt]oo many' "$1" | head -n 5 | sed 's/^/#     e.g. /'
}

# stop_all POLICY_DIR: stops every service through guardian (the policy
# dir emptied and reloaded) and prints how long until none was left.
stop_all() {
	local ts deadline left
	guardian_alive || { echo "-"; return; }
	rm -f "$1"/*.yaml
	ts=$(usec)
	if ! gctl reload >"$T/reload.out" 2>&1; then
		echo "reload failed: $(head -c 200 "$T/reload.out")"
		return
	fi
	deadline=$(($(usec) + DEADLINE_S * 1000000))
	while :; do
		if status_json; then
			left=$(grep -c '"state": ' <<<"$STATUS")
		else
			left='?'
		fi
		if [ "$left" = 0 ]; then
			awk -v u="$(($(usec) - ts))" 'BEGIN { printf "%.1f s", u / 1e6 }'
			return
		fi
		[ "$(usec)" -lt "$deadline" ] || { echo "$left left (? = no answer) after $DEADLINE_S s"; return; }
		nap 0.5
	done
}

write_idle_policies() { # DIR N
	local i name
	mkdir -p "$1"
	for ((i = 1; i <= $2; i++)); do
		printf -v name 'idle%04d' "$i"
		printf 'service: %s\ncommand: ["sleep", "100000"]\nlimits: {memory_max: 64M}\n' "$name" >"$1/$name.yaml"
	done
}

diag "VM: $(nproc) CPUs, MemTotal $(awk '$1 == "MemTotal:" { print int($2 / 1024) }' /proc/meminfo) MiB," \
	"MemAvailable $(mem_avail_mb) MiB, pid_max $(cat /proc/sys/kernel/pid_max)," \
	"threads-max $(cat /proc/sys/kernel/threads-max), this shell's RLIMIT_NOFILE soft/hard $(ulimit -Sn)/$(ulimit -Hn)"

# --- 1. scale ---------------------------------------------------------------------

rows=()
stops=()
for n in $NS; do
	P=$T/p$n S=$T/state$n L=$T/guardian$n.log
	write_idle_policies "$P" "$n"
	: >"$L"
	slice_clear
	oom0=$(oom_kills)
	note=''
	diag "round $n: starting guardian with $n services (MemAvailable $(mem_avail_mb) MiB)"
	t_start=$(usec)
	bench_start "$P" "$S" "$L"
	if wait_running "$n" "$DEADLINE_S" "$t_start"; then
		running=$(awk -v u="$RUN_US" 'BEGIN { printf "%.1f s", u / 1e6 }')
	elif ! guardian_alive; then
		running="guardian died ($RUN_N/$n running)"
	elif [ -z "$RUN_ANSWERED" ]; then
		running="$RUN_N/$n, no answer"
		note="guardian stopped answering guardctl status (60 s timeout); its log ends: $(tail -n 3 "$L" | tr '\n' '|')"
	else
		running="$RUN_N/$n in ${DEADLINE_S} s"
		note="not all running by the deadline: $(state_summary)"
	fi
	diag "round $n: $running; bpf: $(gctl status --json 2>/dev/null | sed -n 's/^ *"bpf": "\(.*\)",\{0,1\}$/\1/p' | head -n 1)"
	cpu='-' rss='-' hwm='-' fds='-' fdlim='-' rss_parts=
	if guardian_alive; then
		c0=$(cpu_ticks "$GUARDIAN_PID")
		t0=$(usec)
		sleep "$IDLE_S" # the measurement window itself, not a wait for a result
		if guardian_alive; then
			c1=$(cpu_ticks "$GUARDIAN_PID")
			t1=$(usec)
			cpu=$(awk -v c="$((c1 - c0))" -v k="$tick" -v u="$((t1 - t0))" 'BEGIN { printf "%.2f", c / k / (u / 1e6) * 100 }')
			rss=$(awk -v k="$(status_kb "$GUARDIAN_PID" VmRSS)" 'BEGIN { printf "%.1f MiB", k / 1024 }')
			hwm=$(awk -v k="$(status_kb "$GUARDIAN_PID" VmHWM)" 'BEGIN { printf "%.1f MiB", k / 1024 }')
			rss_parts=$(awk '/^(RssAnon|RssFile|RssShmem):/ { printf "%s %.1f MiB ", $1, $2 / 1024 }' "/proc/$GUARDIAN_PID/status")
			fds=$(fd_n "$GUARDIAN_PID") fdlim=$(awk '/^Max open files/ { print $4 "/" $5 }' "/proc/$GUARDIAN_PID/limits")
			idle_run=$(count_state running)
			[ "$idle_run" -eq "$RUN_N" ] || note="${note:+$note; }running went from $RUN_N to $idle_run during the idle window"
		else
			note="${note:+$note; }guardian died during the idle window"
		fi
	fi
	avail=$(mem_avail_mb)
	ooms=$(($(oom_kills) - oom0))
	[ "$ooms" -gt 0 ] && note="${note:+$note; }$ooms kernel OOM kills"
	[ "$avail" -lt 64 ] && note="${note:+$note; }short of memory: MemAvailable $avail MiB"
	diag "round $n: idle CPU $cpu %, VmRSS $rss ($rss_parts), VmHWM $hwm; MemAvailable $avail MiB, $(find "$SLICE" -maxdepth 1 -name '*.service' -type d 2>/dev/null | wc -l) service groups, $(procs_n) processes in the VM ($(psimon_n) psimon kthreads); guardian holds $fds fds (RLIMIT_NOFILE $fdlim)"

	stop=$(stop_all "$P")
	stops+=("$n services: all stopped and removed $stop after the reload")
	bench_kill
	slice_clear
	log_digest "$L"
	keep_logs "$n" "$L" "$S"
	[ -n "$note" ] && diag "round $n: $note"
	rows+=("$(printf '%-9s %-24s %-11s %-10s %-10s %s' "$n" "$running" "$cpu" "$rss" "$hwm" "$note")")
done

# --- 2. latency ---------------------------------------------------------------------
#
# The event: memory.high set below the usage of a group holding 40 MB of
# anonymous memory (no swap: nothing to reclaim). The kernel counts `high`
# in memory.events when a charge in the group finds it over memory.high,
# not when memory.high is written, and memhog --hold sleeps in pause() and
# charges nothing. So each trial, right after the write, also starts a
# short process in the group: a subshell that moves itself into it and
# then fills a 256 KiB string (no exec, no file lookups), whose fresh
# pages are charged there and raise `high` at once. t0 is taken before
# the write, so the latency includes the write and that fork (a few ms).
# A probe before the trials shows whether the write alone raises `high`
# on this kernel.
#
# The rule fires at most once per RULE_REFIRE (30 s, guardian/decide/engine.c)
# while it stays past its threshold. Instead of 30 s per trial, each trial
# restarts `fire` (`guardctl restart`): a new run resets the engine and its
# rule state (monitor_start -> engine_reset), so every trial is the rule's
# first firing on a fresh run, through the same path a refire takes. The
# trial begins only once the new run's engine has the rule's rate (two
# samples, value 0, not armed) and memhog holds its 40 MB again: what is
# measured is memory.events changing -> guardian's sample (memory.events
# is watched, samples at most every 20 ms) -> rule -> the notify record.

P=$T/plat S=$T/statelat L=$T/guardian-lat.log
write_idle_policies "$P" "$LAT_IDLE"
FIRE_OUT=$T/fire.out
cat >"$P/fire.yaml" <<YAML
service: fire
command: ["$MEMHOG", "--rate", "0", "--max", "40", "--hold"]
limits: {memory_high: max, memory_max: 256M}
output: {file: "$FIRE_OUT"}
rules:
  - name: hit
    when: {metric: memory_events_high_rate, above: 0}
    action: notify
YAML
gctl check "$P" >/dev/null || bail "the latency policies do not check: $(gctl check "$P" 2>&1 | head -n 5)"
: >"$L"
slice_clear
diag "latency: starting guardian with $LAT_IDLE idle services and fire"
t_start=$(usec)
bench_start "$P" "$S" "$L"
lat_note=''
if ! wait_running "$((LAT_IDLE + 1))" "$DEADLINE_S" "$t_start"; then
	guardian_alive || bail "guardian died starting the latency round; $(tail -n 20 "$L")"
	lat_note="only $RUN_N of $((LAT_IDLE + 1)) running ($(state_summary))"
	gctl status fire --json 2>/dev/null | grep -q '"state": "running"' || bail "fire is not running: $(state_summary)"
fi
diag "latency: $RUN_N running after $(awk -v u="${RUN_US:-0}" 'BEGIN { printf "%.1f", u / 1e6 }') s"
FIRE_CG=$SLICE/fire.service
LOG=$S/actions.jsonl

holding() { [ "$(grep -c 'memhog: holding' "$FIRE_OUT" 2>/dev/null)" -ge "$1" ]; }
# The rule has its rate (two samples of this run), at 0 and not armed.
rule_ready() {
	gctl explain fire --json 2>/dev/null | "$PY" -c '
import json, sys
d = json.load(sys.stdin)
r = d["rules"][0]
sys.exit(0 if d.get("monitoring") and r.get("value") == 0 and not r.get("armed") else 1)'
}
ev_high() { cg_key "$FIRE_CG" memory.events high; }

[ "$(cat "$FIRE_CG/memory.high")" = max ] || diag "latency: fire's memory.high is $(cat "$FIRE_CG/memory.high"), not max"
wait_for 30000 holding 1 || bail "fire's memhog never held 40 MB: $(tail -n 5 "$FIRE_OUT")"
wait_for 30000 rule_ready || bail "fire's rule never got a value: $(gctl explain fire 2>&1 | head -n 20)"

# The probe: does writing memory.high alone raise `high`?
h0=$(ev_high)
cg_write "$FIRE_CG" memory.high 32M
sleep 2 # an observation window: nothing else would change memory.events here
h1=$(ev_high)
cg_write "$FIRE_CG" memory.high max
if [ "$h1" -gt "$h0" ]; then
	probe="writing memory.high 32M alone raised memory.events high by $((h1 - h0)) within 2 s"
else
	probe="writing memory.high 32M alone left memory.events high at $h1 for 2 s (memhog charges nothing while it holds); each trial also starts a process in the group (see the script)"
fi
diag "latency: probe: $probe"

# The action log, read as it grows (fd kept open: no process per poll).
: >>"$LOG"
exec {LOGFD}<"$LOG"
LOGBUF=''
# log_scan: reads what was appended; FOUND is the first notify of rule
# hit for fire since the last reset.
log_scan() {
	local line
	while :; do
		if IFS= read -r -u "$LOGFD" line; then
			line=$LOGBUF$line
			LOGBUF=''
			if [ -z "$FOUND" ] && [[ $line == *'"service":"fire"'* && $line == *'"source":"engine"'* &&
				$line == *'"action":"notify"'* && $line == *'"rule":"hit"'* ]]; then
				FOUND=$line
			fi
		else
			LOGBUF+=$line # a partial line: the rest comes later
			return 0
		fi
	done
}

results=$T/latency.txt
: >"$results"
misses=0 rose=0
for ((i = 1; i <= TRIALS; i++)); do
	gctl restart fire >/dev/null 2>&1 || { diag "trial $i: guardctl restart fire failed"; }
	wait_for 30000 holding $((i + 1)) || bail "trial $i: fire's memhog did not hold 40 MB after the restart"
	wait_for 30000 rule_ready || bail "trial $i: fire's rule has no rate after the restart"
	FOUND=''
	log_scan
	FOUND=''
	hb=$(ev_high)
	t0=$EPOCHREALTIME
	echo 32M >"$FIRE_CG/memory.high" || bail "write memory.high"
	# t_in: the poke is in the group and about to charge (the kernel's
	# event is the next thing), taken without forking; written afterwards.
	rm -f "$T/poke.t"
	# shellcheck disable=SC2034 # pad is the allocation itself
	(echo "$BASHPID" >"$FIRE_CG/cgroup.procs" && t_in=$EPOCHREALTIME && printf -v pad '%*s' 262144 '' &&
		echo "$t_in" >"$T/poke.t") 2>/dev/null &
	poke=$!
	# Poll every 20 ms, forking nothing (EPOCHREALTIME, read on an open fd).
	deadline=$((${t0/[.,]/} + 10000000))
	while log_scan; [ -z "$FOUND" ] && [ "${EPOCHREALTIME/[.,]/}" -lt "$deadline" ]; do
		nap 0.02
	done
	echo max >"$FIRE_CG/memory.high" || bail "write memory.high max"
	[ "$(ev_high)" -gt "$hb" ] && rose=$((rose + 1))
	wait_exit "$poke" 10000 || diag "trial $i: the poke process did not exit in 10 s"
	if [ -n "$FOUND" ]; then
		t_rec=${FOUND#*\"time\":\"}
		t_in=$(cat "$T/poke.t" 2>/dev/null)
		echo "$t0 ${t_in:--} ${t_rec%%\"*}" >>"$results"
	else
		misses=$((misses + 1))
		diag "trial $i: no notify record of rule hit within 10 s (memory.events high $hb -> $(ev_high))"
	fi
	sleep 1 # pacing between trials, not a wait for a result
done
lat=$("$PY" - "$results" "$TRIALS" <<'PY'
import sys, datetime
path, trials = sys.argv[1], int(sys.argv[2])
import math
v, k = [], []
for line in open(path):
    t0, t_in, rec = line.split()
    at = datetime.datetime.fromisoformat(rec.replace("Z", "+00:00")).timestamp()
    v.append((at - float(t0)) * 1000)
    if t_in != "-":
        k.append((at - float(t_in)) * 1000)
v.sort()
k.sort()
def pct(x, p):
    return x[max(0, math.ceil(p / 100 * len(x)) - 1)]  # nearest rank
def row(x):
    return "p50 %.0f ms  p90 %.0f ms  p99 %.0f ms  max %.0f ms" % (pct(x, 50), pct(x, 90), pct(x, 99), x[-1])
if v:
    print("%s  (n=%d%s); from the charge in the group: %s" % (
        row(v), len(v), "" if len(v) == trials else ", %d of %d trials got no record" % (trials - len(v), trials),
        row(k) if k else "-"))
    print("from the write, all: %s; from the charge, all: %s" % (
        " ".join("%.0f" % x for x in v), " ".join("%.0f" % x for x in k)))
elif trials:
    print("no record in any of %d trials" % trials)
    print("-")
else:
    print("not measured (GUARDIAN_BENCH_TRIALS=0)")
    print("-")
PY
)
log_digest "$L"
gctl log fire 2>/dev/null | tail -n 3 | sed 's/^/#   last fire records: /'
stops+=("$((LAT_IDLE + 1)) services (latency round): all stopped and removed $(stop_all "$P") after the reload")
bench_kill
slice_clear
keep_logs latency "$L" "$S"
[ -n "$KEEP" ] && cp "$results" "$KEEP/latency.txt"

# --- the table ---------------------------------------------------------------------

echo
printf '%-9s %-24s %-11s %-10s %-10s %s\n' services "all running after" "idle CPU %" VmRSS VmHWM note
printf '%s\n' "${rows[@]}"
echo "latency to the action record with $LAT_IDLE idle, from the memory.high write: ${lat%%$'\n'*}"
echo
diag "latency detail: ${lat#*$'\n'}"
[ -n "$lat_note" ] && diag "latency round: $lat_note"
diag "latency: memory.events high rose in $rose of $TRIALS trials; $misses trials without a record"
diag "latency: t0 is bash's \$EPOCHREALTIME (us) just before the memory.high write; the record's \"time\" has ms resolution (truncated), so each figure may read up to 1 ms short"
diag "latency: a rule re-fires only after RULE_REFIRE (30 s) while past its threshold, so each trial restarts fire first (a fresh engine: the rule's first firing)"
diag "latency: $probe"
for s in "${stops[@]}"; do diag "stop: $s"; done
diag "all running after: from guardian's exec to the first status (polled at most every 500 ms) showing all running"
diag "idle CPU %: guardian's utime+stime over ${IDLE_S} s of idle, per cent of one core (CLK_TCK $tick); VmRSS/VmHWM at the end of that window"
diag "figures under qemu TCG: compare with each other, not with hardware"
[ -n "$KEEP" ] && diag "guardian's logs and action logs of each round: $KEEP"
exit 0
