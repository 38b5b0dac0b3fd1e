#!/usr/bin/env bash
# disk.sh (runs in the VM through vmrun --zram): how fast guardian acts
# while another writer keeps the disk under its action log busy with
# fsyncs. Prints figures; not pass/fail (exits non-zero only when the
# harness itself breaks).
#
# The disk: ext4 on a zram device, with its writes limited to
# GUARDIAN_BENCH_DISK_WBPS (bytes/s, default 2 MiB/s) by the io controller's
# io.max on a cgroup that holds both guardian and the hammer. That is a
# disk whose bandwidth they share and the hammer fills. (Throttling the
# hammer alone slows nobody else: ext4 journals without waiting for other
# files' data by default.) The hammer writes 8 MiB with dd conv=fsync, over
# and over.
#
# The action: guardian restarting a service someone SIGKILLed (restart:
# always, delay 10ms). The latency runs from just before the kill to the
# new run's first shell command, which writes $EPOCHREALTIME. On the way:
# the pidfd wakes the loop, the exit is classified, the restart is
# recorded in the action log, the 10 ms backoff, clone3, bash.
#
# Each guardian binary gets GUARDIAN_BENCH_ROUNDS (3) starts, each with a
# fresh state dir on that disk and GUARDIAN_BENCH_TRIALS (7) kills. This
# happens with the disk idle, then with the hammer running. The binaries
# take turns within each round, so they see the same disk.
# GUARDIAN_BENCH_BASELINE names another guardian binary (e.g. a build of
# an older commit, under the build dir so the guest sees it); it is
# measured side by side with this build's.
. "$(dirname "$0")/../vm/lib.sh"
. "$(dirname "$0")/../vm/guardian-lib.sh"

WBPS=${GUARDIAN_BENCH_DISK_WBPS:-2097152}
ROUNDS=${GUARDIAN_BENCH_ROUNDS:-3}
TRIALS=${GUARDIAN_BENCH_TRIALS:-7}
BASELINE=${GUARDIAN_BENCH_BASELINE:-}
chmod 755 "$T"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

# A sleep that forks nothing (see scale.sh): the trial's poll runs beside
# the guardian being measured, on the guest's 2 CPUs.
mkfifo "$T/nap"
exec {NAPFD}<>"$T/nap"
nap() { read -r -t "$1" -u "$NAPFD" _ || :; }

# --- the disk ------------------------------------------------------------------------

[ -e /sys/class/zram-control/hot_add ] || bail "no zram (run through vmrun --zram)"
dev=/dev/zram$(cat /sys/class/zram-control/hot_add)
echo 512M >"/sys/block/${dev#/dev/}/disksize" || bail "zram disksize"
mkfs.ext4 -q "$dev" || bail "mkfs.ext4 $dev"
DISK=$T/disk
mkdir -p "$DISK" && mount -t ext4 "$dev" "$DISK" || bail "mount $dev"
majmin=$(cat "/sys/block/${dev#/dev/}/dev")
DCG=$CG_ROOT/bench-disk
mkdir -p "$DCG" || bail "mkdir $DCG"
cg_write "$DCG" cgroup.subtree_control "+io +memory"
mkdir -p "$DCG/g" "$DCG/hammer" || bail "mkdir $DCG/{g,hammer}"
cg_write "$DCG" io.max "$majmin wbps=$WBPS"

HAMMER=
# The hammer runs in its cgroup under a waiter outside it, which keeps
# bash's "Killed" job notice off stderr when cgroup.kill ends it.
hammer_start() {
	{
		(
			(
				echo "$BASHPID" >"$DCG/hammer/cgroup.procs" || exit 126
				exec 2>&3 3>&-
				while :; do
					dd if=/dev/zero of="$DISK/hammer" bs=1M count=8 conv=fsync status=none
				done
			) &
			wait $!
		) 2>/dev/null &
	} 3>&2
	HAMMER=$!
	# Running when its cgroup has written something to the disk.
	wait_for 30000 eval '[ "$(sed -n "s/.*wbytes=\([0-9]*\).*/\1/p" "$DCG/hammer/io.stat")" -gt 0 ]' 2>/dev/null ||
		bail "the hammer wrote nothing in 30 s"
}
hammer_stop() {
	[ -n "$HAMMER" ] || return 0
	cg_kill "$DCG/hammer" || diag "the hammer's cgroup is still populated"
	wait "$HAMMER" 2>/dev/null
	HAMMER=
}
disk_cleanup() {
	hammer_stop
	guardian_cleanup
	umount "$DISK" 2>/dev/null
	for d in g hammer; do rmdir "$DCG/$d" 2>/dev/null; done
	rmdir "$DCG" 2>/dev/null
}
trap '_st=$?; disk_cleanup; (exit $_st); _lib_cleanup' EXIT

# probe: fdatasync of a 100-byte append on the disk, from inside the shared
# cgroup, as guardian's would be: "median max" in ms over 10 tries.
probe() {
	(
		echo "$BASHPID" >"$DCG/g/cgroup.procs" || exit 126
		exec "$PY" - "$DISK/probe" <<'PY'
import os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
v = []
for i in range(10):
    os.write(fd, b"x" * 99 + b"\n")
    t = time.monotonic()
    os.fdatasync(fd)
    v.append((time.monotonic() - t) * 1000)
    time.sleep(0.2)
v.sort()
print("%.0f %.0f" % (v[len(v) // 2], v[-1]))
PY
	)
}

# --- guardian and its service ------------------------------------------------------

P=$T/policies
mkdir -p "$P" "$T/run"
STARTS=$T/starts
cat >"$P/beat.yaml" <<YAML
service: beat
command: ["bash", "-c", 'echo "\$EPOCHREALTIME \$\$" >>$STARTS; exec sleep 1000000']
restart: {mode: always, delay: 10ms, max_delay: 10ms}
output: {file: null}
YAML
"$GUARDCTL" check "$P" >/dev/null || bail "the policy does not check: $("$GUARDCTL" check "$P" 2>&1 | head -n 5)"

starts() { [ -f "$STARTS" ] && wc -l <"$STARTS" || echo 0; }

# g_start BIN STATE_DIR LOG: guardian in the disk's cgroup, services in
# guardian.slice (not throttled: only guardian's own writes share the disk).
g_start() {
	(
		echo "$BASHPID" >"$DCG/g/cgroup.procs" || exit 126
		echo 0 >/proc/self/oom_score_adj
		exec "$1" --policies "$P" --state-dir "$2" --runtime-dir "$T/run" \
			--cgroup-parent /guardian.slice --no-bpf --no-system-guard
	) >>"$3" 2>&1 &
	GUARDIAN_PID=$!
	wait_for 30000 "$GUARDCTL" status >/dev/null 2>&1 || bail "guardian ($1) did not answer; $(tail -n 5 "$3")"
}

g_stop() {
	timeout 60 "$GUARDCTL" stop beat >/dev/null 2>&1 || diag "guardctl stop beat failed"
	kill -TERM "$GUARDIAN_PID" 2>/dev/null
	wait_exit "$GUARDIAN_PID" 60000 || bail "guardian did not exit within 60 s of SIGTERM"
	GUARDIAN_PID=
	cg_kill "$SLICE/beat.service" || bail "beat.service still populated"
	rmdir "$SLICE/beat.service" 2>/dev/null
}

# run BIN LABEL PHASE ROUND: one guardian start, TRIALS kills; each
# latency (ms) goes to $T/lat-LABEL-PHASE.
run() {
	local bin=$1 out=$T/lat-$2-$3 state=$DISK/state-$2-$3-$4 n line t0 ts pid
	rm -f "$STARTS"
	g_start "$bin" "$state" "$T/guardian-$2.log"
	wait_for 30000 eval '[ "$(starts)" -ge 1 ]' || bail "beat never started under $bin"
	for ((i = 1; i <= TRIALS; i++)); do
		nap 1 # pacing between trials, not a wait for a result
		n=$(starts)
		line=$(tail -n 1 "$STARTS")
		pid=${line#* }
		t0=$EPOCHREALTIME
		kill -KILL "$pid" || bail "kill $pid"
		# Poll every 10 ms, forking nothing but the line count.
		local deadline=$((${t0/[.,]/} + 60000000))
		while [ "$(starts)" -le "$n" ] && [ "${EPOCHREALTIME/[.,]/}" -lt "$deadline" ]; do
			nap 0.01
		done
		if [ "$(starts)" -le "$n" ]; then
			diag "$2 ($3, round $4, trial $i): no restart within 60 s"
			continue
		fi
		ts=$(sed -n "$((n + 1))p" "$STARTS")
		ts=${ts%% *}
		awk -v a="$t0" -v b="$ts" 'BEGIN { printf "%.0f\n", (b - a) * 1000 }' >>"$out"
	done
	g_stop
}

# stats FILE: "median p90 max n" (nearest rank), or "- - - 0".
stats() {
	[ -s "$1" ] || { echo "- - - 0"; return; }
	sort -n "$1" | awk '{ v[NR] = $1 } END {
		m = int((NR + 1) / 2); p = int(NR * 0.9 + 0.999); if (p < 1) p = 1
		print v[m], v[p], v[NR], NR }'
}

labels=(this) bins=("$GUARDIAN")
if [ -n "$BASELINE" ]; then
	[ -x "$BASELINE" ] || bail "GUARDIAN_BENCH_BASELINE=$BASELINE is not an executable the guest can see"
	labels=(baseline this) bins=("$BASELINE" "$GUARDIAN")
fi

declare -A probes
for phase in idle hammered; do
	[ "$phase" = hammered ] && hammer_start
	probes[$phase]=$(probe) || bail "the fdatasync probe failed"
	diag "$phase: fdatasync of a 100-byte append: median/max ${probes[$phase]/ /\/} ms"
	for ((r = 1; r <= ROUNDS; r++)); do
		for k in "${!labels[@]}"; do
			run "${bins[$k]}" "${labels[$k]}" "$phase" "$r"
		done
	done
	[ "$phase" = hammered ] && hammer_stop
done

# --- the table ---------------------------------------------------------------------

echo
echo "restart latency after SIGKILL, ms (kill -> the new run's first command); disk shared at $((WBPS / 1024)) KiB/s"
printf '%-10s %-36s %-36s\n' guardian "disk idle: median p90 max (n)" "disk hammered: median p90 max (n)"
for k in "${!labels[@]}"; do
	read -r im ip ix in < <(stats "$T/lat-${labels[$k]}-idle")
	read -r hm hp hx hn < <(stats "$T/lat-${labels[$k]}-hammered")
	printf '%-10s %-36s %-36s\n' "${labels[$k]}" "$im $ip $ix ($in)" "$hm $hp $hx ($hn)"
done
for k in "${!labels[@]}"; do
	echo "${labels[$k]}: ${bins[$k]}"
	for phase in idle hammered; do
		echo "  $phase, all: $(tr '\n' ' ' <"$T/lat-${labels[$k]}-$phase" 2>/dev/null)"
	done
done
echo "fdatasync of a 100-byte append there (median max ms): idle ${probes[idle]}, hammered ${probes[hammered]}"
