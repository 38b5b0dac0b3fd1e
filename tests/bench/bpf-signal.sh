#!/usr/bin/env bash
# bpf-signal.sh (runs in the VM through vmrun): what guardian's signal
# observer costs everyone else. sigflood sends N SIGTERMs, one at a time,
# to an unguarded process that takes them with sigwaitinfo, and times the
# kill(2) calls: without guardian, then with guardian's BPF programs
# loaded (one guarded service, so the map is not empty), alternating runs.
# With kernel.bpf_stats_enabled, one more run reads the program's own run
# time from bpftool. Prints figures; not pass/fail. Times are under qemu
# TCG: compare the two columns, not the absolute figures with hardware.
. "$(dirname "$0")/../vm/lib.sh"
. "$(dirname "$0")/../vm/guardian-lib.sh"

SIGFLOOD=$GUARDIAN_BUILD_DIR/tests/bench/sigflood
[ -x "$SIGFLOOD" ] || bail "no $SIGFLOOD: build it first"
N=${GUARDIAN_BENCH_SIGNALS:-200000}
RUNS=${GUARDIAN_BENCH_RUNS:-2}
P=$T/policies
mkdir -p "$P"
chmod 755 "$T"
cat >"$P/guarded.yaml" <<YAML
service: guarded
command: ["sleep", "100000"]
YAML

flood() { "$SIGFLOOD" "$N" | sed -n 's/.*, \([0-9]*\) ns\/signal.*/\1/p'; }

without=() with=()
for ((i = 0; i < RUNS; i++)); do
	without+=("$(flood)")
	guardian_start "$P"
	wait_for 10000 svc_state_is guarded running || bail "guarded did not start"
	grep -q "signal: on" <<<"$("$GUARDCTL" status)" || bail "the signal observer is not on: $("$GUARDCTL" status | head -n 1)"
	with+=("$(flood)")
	guardian_kill
done

# The program's own cost, from the kernel's BPF statistics.
guardian_start "$P"
sysctl -qw kernel.bpf_stats_enabled=1
flood >/dev/null
stats=$(bpftool prog show -j | python3 -c '
import json, sys
for p in json.load(sys.stdin):
    if p.get("name", "").startswith("handle_signal") and p.get("run_cnt"):
        print("%d ns/run over %d runs (%s)" % (p["run_time_ns"] / p["run_cnt"], p["run_cnt"], p["name"]))')
sysctl -qw kernel.bpf_stats_enabled=0
guardian_kill

median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
mw=$(median "${without[@]}")
mg=$(median "${with[@]}")
echo "bpf-signal-overhead: $N SIGTERMs per run to an unguarded process (kill(2) time only)"
printf '  %-36s %6s ns/signal  (runs: %s)\n' "without guardian's programs:" "$mw" "${without[*]}"
printf '  %-36s %6s ns/signal  (runs: %s)\n' "with guardian's programs loaded:" "$mg" "${with[*]}"
printf '  %-36s %6s ns/signal\n' "difference (medians):" "$((mg - mw))"
echo "  the program itself (bpf_stats): ${stats:-not available}"
exit 0
