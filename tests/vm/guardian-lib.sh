# guardian-lib.sh: running the daemon inside the VM for a test (source it
# after lib.sh): start it on a policy dir, query it, stop it.

need_helper _dummy memhog # checks GUARDIAN_BUILD_DIR
GUARDIAN=$GUARDIAN_BUILD_DIR/guardian/guardian
GUARDCTL=$GUARDIAN_BUILD_DIR/tools/guardctl
[ -x "$GUARDIAN" ] && [ -x "$GUARDCTL" ] || bail "guardian/guardctl not built in $GUARDIAN_BUILD_DIR"
export GUARDIAN_SOCKET=$T/run/guardian.sock
GUARDIAN_PID=
LOG=$T/state/actions.jsonl
SLICE=/sys/fs/cgroup/guardian.slice
chmod 755 "$T" # the socket under $T/run is for unprivileged callers too

# log_count SERVICE SOURCE_RE ACTION_RE: how many records of SOURCE (engine,
# guardian, ...) with an action matching ACTION_RE the action log has for
# SERVICE; log_has: whether there is one. grep, not python3 (4 s to start
# in the guest), so they can be polled; the records are json-c's plain
# output, keys in this order.
log_count() {
	[ -f "$LOG" ] || { echo 0; return; }
	grep -Ec "\"service\":\"$1\",\"cgroup\":\"[^\"]*\",\"source\":\"$2\",\"action\":\"($3)\"" "$LOG" 2>/dev/null
}
log_has() { [ "$(log_count "$@")" -gt 0 ]; }

# oom_kills SERVICE: the kernel's oom_kill count in the service's cgroup.
oom_kills() { cg_key "$SLICE/$1.service" memory.events oom_kill; }

# status_row SERVICE: "STATE PID RESTARTS" from guardctl's table.
status_row() { "$GUARDCTL" status "$1" 2>/dev/null | awk -v s="$1" '$1 == s { print $2, $3, $5 }'; }
state_is() { local r; r=$(status_row "$1"); [ "${r%% *}" = "$2" ]; }

# guardian_start POLICY_DIR [ARGS...]: starts the daemon (log in $T/guardian.log)
# and waits until its control socket answers.
guardian_start() {
	local dir=$1
	shift
	# GUARDIAN_CGROUP: start it in that cgroup (as a DaemonSet's container)
	([ -z "${GUARDIAN_CGROUP:-}" ] || echo "$BASHPID" >"$GUARDIAN_CGROUP/cgroup.procs" &&
		exec "$GUARDIAN" --policies "$dir" --state-dir "$T/state" --runtime-dir "$T/run" "$@") \
		>>"$T/guardian.log" 2>&1 &
	GUARDIAN_PID=$!
	wait_for 10000 "$GUARDCTL" status >/dev/null 2>&1 || {
		cat "$T/guardian.log"
		bail "guardian did not answer on $GUARDIAN_SOCKET"
	}
}

# guardian_kill: ends the daemon (services keep running, by design).
guardian_kill() {
	[ -n "$GUARDIAN_PID" ] || return 0
	kill -"${1:-TERM}" "$GUARDIAN_PID" 2>/dev/null
	wait_exit "$GUARDIAN_PID" 10000 || bail "guardian did not exit"
	GUARDIAN_PID=
}

# svc_field SERVICE FIELD: one field of `guardctl status --json`.
svc_field() {
	"$GUARDCTL" status "$1" --json 2>/dev/null | python3 -c '
import json, sys
s = json.load(sys.stdin)["services"][0]
v = s.get(sys.argv[1])
print("" if v is None else v)' "$2"
}

svc_state_is() { [ "$(svc_field "$1" state)" = "$2" ]; }

# all_services_gone: the guardian.slice subtree holds no process.
guardian_slice_empty() { cg_key_is /sys/fs/cgroup/guardian.slice cgroup.events populated 0; }

guardian_cleanup() {
	guardian_kill KILL 2>/dev/null
	if [ -d /sys/fs/cgroup/guardian.slice ]; then
		cg_kill /sys/fs/cgroup/guardian.slice
		find /sys/fs/cgroup/guardian.slice -depth -type d -exec rmdir {} \; 2>/dev/null
	fi
}

# The daemon and its services go before lib.sh's cleanup, which must still
# see the script's own exit status.
trap '_st=$?; guardian_cleanup; (exit $_st); _lib_cleanup' EXIT

# --- Kubernetes node mode: the test plays the kubelet and its runtime

# mkpath DIR: each level made with the controllers on for its children,
# as the kubelet and systemd leave them.
mkpath() {
	local rel=${1#"$CG_ROOT"/} p=$CG_ROOT seg
	IFS=/ read -ra segs <<<"$rel"
	for seg in "${segs[@]}"; do
		echo "+memory +pids" >"$p/cgroup.subtree_control" 2>/dev/null
		p=$p/$seg
		mkdir -p "$p" || return 1
	done
}
kube_cleanup() {
	local d
	for d in "$CG_ROOT/kubepods" "$CG_ROOT/kubepods.slice"; do
		[ -d "$d" ] || continue
		cg_kill "$d"
		find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
	done
}
kube_field() { # SERVICE KEY: one field of the service's "kubernetes" status
	"$GUARDCTL" status "$1" --json 2>/dev/null | python3 -c '
import json, sys
k = json.load(sys.stdin)["services"][0].get("kubernetes") or {}
print(k.get(sys.argv[1]) or "")' "$2"
}

