#!/usr/bin/env bash
# The example policies in policies/, run by guardian against the real
# kernel: each service in its own cgroup with the limits its policy sets.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/guardian-lib.sh"
. "$(dirname "$0")/standins.sh"
SRC=${GUARDIAN_SOURCE_DIR:?}

standins_install "$GUARDIAN_BUILD_DIR" "$SRC" || bail "cannot install the stand-ins"
guardian_start "$SRC/policies"

for s in recorder web worker unicorn; do
	if wait_for 20000 svc_state_is "$s" running; then
		pass "$s is running"
	else
		fail "$s is running" "state: $(svc_field "$s" state)" "$(tail -5 "$T/guardian.log")"
	fi
done

# expect CG FILE VALUE: what the policy says, as the kernel reports it.
expect() {
	local got
	got=$(cat "/sys/fs/cgroup/guardian.slice/$1.service/$2" 2>&1)
	if [ "$got" = "$3" ]; then pass "$1: $2 = $3"; else fail "$1: $2 = $3" "got '$got'"; fi
}
# recorder.yaml: memory_high 1536M, memory_max 2G, swap 0, cpu 150%, pids 512
expect recorder memory.high 1610612736
expect recorder memory.max 2147483648
expect recorder memory.swap.max 0
expect recorder cpu.max "150000 100000"
expect recorder pids.max 512
# web.yaml: 768M / 1G, cpu_weight 200
expect web memory.high 805306368
expect web memory.max 1073741824
expect web cpu.weight 200
# worker.yaml: 1800M / 2G
expect worker memory.high 1887436800
expect worker memory.max 2147483648
# unicorn.yaml: 3G / 4G, pids 64
expect unicorn memory.high 3221225472
expect unicorn memory.max 4294967296
expect unicorn pids.max 64

# The main process: in its service's cgroup from the start, with the
# policy's oom_score_adj and user.
pid=$(svc_field recorder pid)
check "recorder's pid is known" [ -n "$pid" ] && [ "$pid" -gt 0 ]
check "recorder runs in recorder.service" \
	grep -qx '0::/guardian.slice/recorder.service' "/proc/$pid/cgroup"
check "recorder has oom_score_adj 300" [ "$(cat /proc/$pid/oom_score_adj)" = 300 ]
check "recorder runs as user recorder" [ "$(stat -c %U /proc/$pid)" = recorder ]
check "recorder sees GODEBUG" grep -qz '^GODEBUG=madvdontneed=1$' "/proc/$pid/environ"

# unicorn's workers are in the same group as their master.
check "unicorn's master and 2 workers share its cgroup" \
	wait_for 5000 test "$(wc -l </sys/fs/cgroup/guardian.slice/unicorn.service/cgroup.procs)" -ge 3

# web answers its watchdog page, running as www-data.
check "web serves the watchdog page" \
	wait_for 5000 sh -c 'busybox wget -q -O - http://127.0.0.1:8080/watchdog_page.html | grep -q "still alive"'

# guardian itself did not land in a service group, and guardctl's table works.
check "guardian is not inside a service cgroup" \
	bash -c "! grep -q '\.service' /proc/$GUARDIAN_PID/cgroup"
"$GUARDCTL" status | sed 's/^/# /'
done_testing
