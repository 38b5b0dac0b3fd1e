# shellcheck shell=bash
# lib.sh: shared helpers for the VM test scripts (source it from bash).
# TAP-style results, waits bounded by a deadline, per-test cgroups under
# /sys/fs/cgroup/vmtest-PID that are killed and removed on exit.
#
#   . "$(dirname "$0")/lib.sh"
#   need_helper MEMHOG memhog
#   cg=$(mkcg hog) || bail "mkcg hog"
#   cg_write "$cg" memory.max 32M
#   cg_spawn "$cg" "$MEMHOG" --rate 0 --max 128 >"$T/hog.log" 2>&1
#   wait_for 30000 cg_key_is "$cg" cgroup.events populated 0 || fail "..."
#   check "oom_kill rose" [ "$(cg_key "$cg" memory.events oom_kill)" -ge 1 ]
#   done_testing

# These scripts write the cgroup tree: never on the host (docs/TESTING.md),
# only in the guest vmrun boots, which marks itself on the kernel command line.
if [ "${GUARDIAN_IN_VM:-}" != 1 ] || ! grep -qw 'vmrun=1' /proc/cmdline 2>/dev/null; then
	echo "Bail out! $0 writes /sys/fs/cgroup: run it through tests/vm/vmrun" >&2
	exit 99
fi

set -u
export LC_ALL=C

CG_ROOT=/sys/fs/cgroup
TEST_CG=$CG_ROOT/vmtest-$$
T=$(mktemp -d /tmp/vmtest.XXXXXX)   # guest tmpfs: scratch files and logs

# --- TAP ----------------------------------------------------------------------

_tap_n=0
_tap_failed=0

diag() { echo "# $*"; }

pass() {
	_tap_n=$((_tap_n + 1))
	echo "ok $_tap_n - $*"
}

# fail DESC [DETAIL...]: each DETAIL is printed as a diagnostic line.
fail() {
	_tap_n=$((_tap_n + 1))
	_tap_failed=$((_tap_failed + 1))
	echo "not ok $_tap_n - $1"
	shift
	local line
	for line in "$@"; do diag "  $line"; done
}

# check DESC CMD...: one result from CMD's status.
check() {
	local desc=$1
	shift
	if "$@"; then pass "$desc"; else fail "$desc" "failed: $*"; fi
}

# Ends the script: the plan, then exit 1 if anything failed.
done_testing() {
	echo "1..$_tap_n"
	if [ "$_tap_failed" -ne 0 ]; then
		diag "$_tap_failed of $_tap_n failed"
		exit 1
	fi
	exit 0
}

bail() {
	echo "Bail out! $*"
	exit 1
}

# --- bounded waits ------------------------------------------------------------

now_ms() {
	local t=${EPOCHREALTIME/[.,]/}
	echo $((t / 1000))
}

# wait_for TIMEOUT_MS CMD...: runs CMD every 50 ms until it succeeds (0) or
# the deadline passes (1). For state only readable by polling (cgroup files
# read back, /proc); anything with an event (PSI, pidfd) waits on the event.
wait_for() {
	local timeout_ms=$1 deadline
	shift
	deadline=$(($(now_ms) + timeout_ms))
	while :; do
		"$@" && return 0
		[ "$(now_ms)" -lt "$deadline" ] || return 1
		sleep 0.05
	done
}

# proc_exited PID: PID is gone or a zombie waiting to be reaped.
proc_exited() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
	stat=${stat##*) }
	[ "${stat%% *}" = Z ]
}

# wait_exit PID TIMEOUT_MS: waits (bounded) for a child of this shell and
# reaps it; its status goes to EXIT_STATUS. Returns 1 on timeout.
EXIT_STATUS=
wait_exit() {
	EXIT_STATUS=
	wait_for "$2" proc_exited "$1" || return 1
	wait "$1"
	EXIT_STATUS=$?
	return 0
}

# file_has FILE PATTERN: grep -E for a line, e.g. a helper's progress.
file_has() { grep -qE -- "$2" "$1" 2>/dev/null; }

# --- helpers built by meson -------------------------------------------------------

# need_helper VAR NAME: sets VAR to tests/vm/NAME in the build dir, or
# bails out if it is not built.
need_helper() {
	local p=${GUARDIAN_BUILD_DIR:-}/tests/vm/$2
	[ -n "${GUARDIAN_BUILD_DIR:-}" ] || bail "GUARDIAN_BUILD_DIR is not set"
	[ -x "$p" ] || bail "no helper $p (build it: meson compile -C \$GUARDIAN_BUILD_DIR)"
	printf -v "$1" '%s' "$p"
}

# --- cgroups --------------------------------------------------------------------

# mkcg NAME: creates TEST_CG/NAME (and TEST_CG, with the controllers on for
# its children) and prints its path. Use: cg=$(mkcg NAME) || bail "mkcg".
mkcg() {
	if [ ! -d "$TEST_CG" ]; then
		mkdir "$TEST_CG" || return 1
		echo "+memory +cpu +io +pids" >"$TEST_CG/cgroup.subtree_control" || return 1
	fi
	mkdir -p "$TEST_CG/$1" || return 1
	echo "$TEST_CG/$1"
}

# cg_read CG FILE
cg_read() { cat "$1/$2"; }

# cg_write CG FILE VALUE: fails loudly, cgroup writes that fail mean the
# test measures nothing.
cg_write() {
	echo "$3" >"$1/$2" || bail "write '$3' to $1/$2"
}

# cg_key CG FILE KEY: the value of KEY in a flat keyed file (memory.events,
# cgroup.events, memory.stat); empty if absent.
cg_key() { awk -v k="$3" '$1 == k { print $2; exit }' "$1/$2"; }

# cg_key_is CG FILE KEY VALUE
cg_key_is() { [ "$(cg_key "$1" "$2" "$3")" = "$4" ]; }

# cg_spawn CG CMD...: starts CMD in the background inside CG from its first
# instruction (a subshell moves itself, then execs). CG_CMD_PID is CMD's pid;
# CG_PID is a waiter outside CG whose status is CMD's (137 when killed), for
# wait_exit. The waiter keeps bash's "Killed" job notices off stderr.
CG_PID='' CG_CMD_PID=''
cg_spawn() {
	local cg=$1 pidfile
	shift
	pidfile=$(mktemp "$T/spawn.XXXXXX")
	{
		(
			(
				echo "$BASHPID" >"$cg/cgroup.procs" 2>&3 || exit 126
				echo "$BASHPID" >"$pidfile"
				exec 2>&3 3>&-
				exec "$@"
			) &
			wait $!
		) 2>/dev/null &
	} 3>&2
	CG_PID=$!
	wait_for 5000 test -s "$pidfile" || bail "cg_spawn: $* did not start in $cg"
	CG_CMD_PID=$(cat "$pidfile")
}

# cg_kill CG: cgroup.kill, then waits (bounded) for populated 0.
cg_kill() {
	[ -d "$1" ] || return 0
	echo 1 >"$1/cgroup.kill" 2>/dev/null
	wait_for 10000 cg_key_is "$1" cgroup.events populated 0
}

_lib_cleanup() {
	local status=$? d
	if [ -d "$TEST_CG" ]; then
		cg_kill "$TEST_CG" || echo "# cleanup: $TEST_CG still populated" >&2
		find "$TEST_CG" -depth -type d | while read -r d; do
			rmdir "$d" 2>/dev/null || echo "# cleanup: cannot rmdir $d" >&2
		done
	fi
	rm -rf "$T"
	exit "$status"
}
trap _lib_cleanup EXIT
trap 'exit 130' INT TERM
