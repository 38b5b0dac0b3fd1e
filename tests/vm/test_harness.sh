#!/bin/bash
# test_harness.sh: proves the VM is what the guardian VM tests rely on:
# a cgroup2 root with the memory controller on, PSI triggers that wake
# poll(), and the kernel OOM killer counted in memory.events.
# Runs inside the guest: tests/vm/vmrun -- tests/vm/test_harness.sh

. "$(dirname "$0")/lib.sh"

need_helper MEMHOG memhog
need_helper PSI_WAIT psi-wait

fstype() { stat -f -c %T "$1"; }
mounted_as() { awk -v m="$1" -v t="$2" '$2 == m && $3 == t { f = 1 } END { exit !f }' /proc/mounts; }
has_word() { grep -qw -- "$2" "$1"; }

# --- the guest ------------------------------------------------------------------

check "cgroup2 is mounted at /sys/fs/cgroup" [ "$(fstype $CG_ROOT)" = cgroup2fs ]
check "cgroup2 mounted with nsdelegate,memory_recursiveprot" \
	grep -qE "^cgroup2 $CG_ROOT cgroup2 .*nsdelegate.*memory_recursiveprot" /proc/mounts
check "the memory controller is available" has_word $CG_ROOT/cgroup.controllers memory
for c in memory cpu io pids; do
	check "the $c controller is enabled for children of the root" \
		has_word $CG_ROOT/cgroup.subtree_control $c
done
check "bpffs, debugfs and tracefs are mounted" eval \
	'mounted_as /sys/fs/bpf bpf && mounted_as /sys/kernel/debug debugfs && mounted_as /sys/kernel/tracing tracefs'
check "the host root is read-only" eval '! touch /usr/.vmtest-$$ 2>/dev/null'
check "the build dir is writable" eval \
	'touch "$GUARDIAN_BUILD_DIR/.vmtest-$$" && rm "$GUARDIAN_BUILD_DIR/.vmtest-$$"'
diag "kernel $(uname -r), $(nproc) CPUs, $(awk '/MemTotal/ { print $2 / 1024 " MB" }' /proc/meminfo)," \
	"swap $(awk '/SwapTotal/ { print $2 / 1024 " MB" }' /proc/meminfo)"

# --- a PSI trigger on a child's memory.pressure wakes poll() ----------------------
# memory.high far below what the hog touches: the kernel throttles each
# charge with reclaim and penalty sleeps, which PSI counts as memory stall.

cg=$(mkcg psi) || bail "mkcg psi"
check "a child cgroup has the memory files" \
	eval '[ -f $cg/memory.max ] && [ -f $cg/memory.high ] && [ -f $cg/memory.pressure ] && [ -f $cg/memory.events ]'
cg_write "$cg" memory.high 8M
"$PSI_WAIT" "$cg/memory.pressure" "some 150000 1000000" 20000 >"$T/psi.log" 2>&1 &
psi_pid=$!
if wait_for 5000 file_has "$T/psi.log" '^psi-wait: armed'; then
	cg_spawn "$cg" "$MEMHOG" --rate 0 --max 64 --hold >"$T/psi-hog.log" 2>&1
	# psi-wait ends itself after 20 s; the extra 5 s only bound this wait.
	if wait_exit "$psi_pid" 25000; then
		check "a PSI trigger on memory.pressure woke poll() ($(tail -n1 "$T/psi.log"))" \
			[ "$EXIT_STATUS" -eq 0 ]
	else
		fail "psi-wait did not end within its own timeout"
	fi
	high=$(cg_key "$cg" memory.events high)
	check "memory.events high rose under memory.high (high $high)" [ "${high:-0}" -gt 0 ]
else
	fail "psi-wait armed its trigger" "$(cat "$T/psi.log")"
fi
check "cgroup.kill empties the PSI cgroup" cg_kill "$cg"

# --- the kernel OOM killer on memory.max, counted in memory.events --------------

cg=$(mkcg oom) || bail "mkcg oom"
cg_write "$cg" memory.max 32M
# With swap (vmrun --zram) the hog would be swapped out instead of killed.
[ -f "$cg/memory.swap.max" ] && cg_write "$cg" memory.swap.max 0
before=$(cg_key "$cg" memory.events oom_kill)
cg_spawn "$cg" "$MEMHOG" --rate 0 --max 128 >"$T/oom-hog.log" 2>&1
hog_pid=$CG_PID  # the waiter: its status is the hog's
if wait_for 30000 cg_key_is "$cg" cgroup.events populated 0; then
	pass "the cgroup emptied after its hog went over memory.max"
	wait_exit "$hog_pid" 5000
	check "the hog died of SIGKILL (status $EXIT_STATUS)" [ "$EXIT_STATUS" = 137 ]
else
	fail "the cgroup emptied after its hog went over memory.max" \
		"memory.current $(cg_read "$cg" memory.current)" "$(tail -n3 "$T/oom-hog.log")"
fi
after=$(cg_key "$cg" memory.events oom_kill)
check "memory.events oom_kill rose ($before -> $after)" [ "${after:-0}" -gt "${before:-0}" ]
for k in max oom; do
	v=$(cg_key "$cg" memory.events $k)
	check "memory.events $k rose ($v)" [ "${v:-0}" -gt 0 ]
done

done_testing
