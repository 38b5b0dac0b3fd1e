#!/usr/bin/env bash
# soak.sh (runs in the VM through vmrun): does guardian grow over a long
# crash loop? A monitor must not leak (god grew to gigabytes). One service
# whose command exits at once is restarted GUARDIAN_BENCH_RESTARTS times
# (default 10000): restart: always with delay and max_delay 10ms, the
# smallest the policy allows, and no give_up (the default: never give up).
# It has memory_max, so each run also gets the default guard, its sampler
# and PSI trigger, set up and torn down with the run.
#
# After every GUARDIAN_BENCH_EVERY (1000) restarts (restarts as `guardctl
# status` counts them, polled every 200 ms, so a row may be a few past
# its mark): guardian's VmRSS and VmHWM, its open fds, its CPU time, how
# long the thousand took and the action log's size. Prints a table; not
# pass/fail (exits non-zero only when the harness itself breaks).
. "$(dirname "$0")/../vm/lib.sh"
. "$(dirname "$0")/../vm/guardian-lib.sh"

RESTARTS=${GUARDIAN_BENCH_RESTARTS:-10000}
EVERY=${GUARDIAN_BENCH_EVERY:-1000}
STEP_S=${GUARDIAN_BENCH_STEP_DEADLINE:-600} # for one EVERY restarts
P=$T/policies
mkdir -p "$P"
cat >"$P/crash.yaml" <<YAML
service: crash
command: ["/bin/false"]
limits: {memory_max: 64M}
restart: {mode: always, delay: 10ms, max_delay: 10ms}
YAML

# A sleep that forks nothing: read with a timeout on a FIFO nobody writes
# (opened read-write, so it never sees EOF); /bin/sleep per poll would
# compete with guardian for the guest's two CPUs.
mkfifo "$T/nap"
exec {NAPFD}<>"$T/nap"
nap() { read -r -t "$1" -u "$NAPFD" _ || :; }

# restarts: the crash service's restart count (RST) from `guardctl status`.
restarts() {
	local out name state pid up rst rest
	out=$(timeout 60 "$GUARDCTL" status crash 2>/dev/null) || return 1
	while read -r name state pid up rst rest; do
		[ "$name" = crash ] || continue
		echo "$rst"
		return 0
	done <<<"$out"
	return 1
}

# proc_kb PID KEY: a value of /proc/PID/status (VmRSS, VmHWM), or "?".
proc_kb() { awk -v k="$2:" '$1 == k { v = $2 } END { print v == "" ? "?" : v }' "/proc/$1/status"; }
fd_n() { local a=(/proc/"$1"/fd/*); echo "${#a[@]}"; }
cpu_s() {
	local st f
	read -r st <"/proc/$1/stat"
	read -r -a f <<<"${st##*) }"
	# utime and stime are fields 14 and 15 of stat, 12 and 13 after the comm.
	awk -v t="$((f[11] + f[12]))" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.1f", t / hz }'
}
log_mib() { awk -v b="$(stat -c %s "$LOG" 2>/dev/null || echo 0)" 'BEGIN { printf "%.1f", b / 1048576 }'; }

# row RESTARTS SECONDS: one line of the table; its VmRSS and fds are kept
# in RSS_ROWS and FD_ROWS.
RSS_ROWS=() FD_ROWS=() N_ROWS=()
row() {
	local rss fds
	rss=$(proc_kb "$GUARDIAN_PID" VmRSS) fds=$(fd_n "$GUARDIAN_PID")
	printf '%9s %9s %9s %5s %7s %7s %8s\n' "$1" "$rss" "$(proc_kb "$GUARDIAN_PID" VmHWM)" "$fds" \
		"$(cpu_s "$GUARDIAN_PID")" "$2" "$(log_mib)"
	RSS_ROWS+=("$rss") FD_ROWS+=("$fds") N_ROWS+=("$1")
}
range() { printf '%s\n' "$@" | sort -n | sed -n '1p;$p' | paste -sd' ' | awk '{ print $1 ".." $2 }'; }

guardian_start "$P"
echo "# soak: $RESTARTS restarts of a service that exits at once (restart: always, delay 10ms, no give_up)"
printf '%9s %9s %9s %5s %7s %7s %8s\n' restarts "VmRSS KiB" "VmHWM KiB" fds "CPU s" "took s" "log MiB"
row 0 -
next=$EVERY
while [ "$next" -le "$RESTARTS" ]; do
	t0=$(now_ms)
	deadline=$((t0 + STEP_S * 1000))
	while :; do
		n=$(restarts) || bail "guardian did not answer (exited? $(tail -n 3 "$T/guardian.log" | tr '\n' ' '))"
		[ "$n" -ge "$next" ] && break
		[ "$(now_ms)" -lt "$deadline" ] || bail "only $n restarts after $STEP_S s more (want $next)"
		nap 0.2
	done
	row "$n" "$(awk -v ms="$(($(now_ms) - t0))" 'BEGIN { printf "%.1f", ms / 1000 }')"
	next=$((next + EVERY))
done
# The rows after the first EVERY restarts: the start-up's own allocations
# are behind them. A restart in flight holds a pidfd and the exec report's
# pipe, so the fd count moves by a few from row to row.
n_rows=${#RSS_ROWS[@]}
if [ "$n_rows" -ge 3 ]; then
	echo "# from ${N_ROWS[1]} to ${N_ROWS[n_rows - 1]} restarts: VmRSS ${RSS_ROWS[1]} -> ${RSS_ROWS[n_rows - 1]} KiB" \
		"($((RSS_ROWS[n_rows - 1] - RSS_ROWS[1])) KiB), range $(range "${RSS_ROWS[@]:1}") KiB;" \
		"fds ${FD_ROWS[1]} -> ${FD_ROWS[n_rows - 1]}, range $(range "${FD_ROWS[@]:1}")"
fi
echo "# restart records in the action log: $(log_count crash guardian restart)"
"$GUARDCTL" status | sed 's/^/# /'
exit 0
