#!/usr/bin/env bash
# Kubernetes node mode: a `watch: {kubernetes: ...}` policy guards the pod
# containers of the kubelet's cgroup layouts (here the test plays the
# kubelet and its runtime: it makes the cgroups of both drivers and the
# pods' log directories, and moves processes in). Each container is
# guarded within a second, named NAMESPACE/POD/ID from the kubelet's log
# directories (or pod-UID/ID without one), with its QoS class; under
# node-wide memory pressure the system guard takes the BestEffort
# container, not the Guaranteed one beside it, before the kernel OOM
# killer; the record names the pod; a deleted pod is forgotten.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/guardian-lib.sh"
need_helper MEMHOG memhog

BE_UID=0a1b2c3d-4e5f-6789-abcd-ef0123456789 # BestEffort, cgroupfs driver
G_UID=11111111-2222-3333-4444-555555555555  # Guaranteed, cgroupfs driver
BU_UID=99999999-8888-7777-6666-555555555555 # Burstable, systemd driver, no log directory
BE_CID=3f1e9a0c2b7d4e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f
G_CID=aaaaaaaaaaaa4e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f
BU_CID=bbbbbbbbbbbb4e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f
BE_CG=$CG_ROOT/kubepods/besteffort/pod$BE_UID/$BE_CID
G_CG=$CG_ROOT/kubepods/pod$G_UID/$G_CID
BU_CG=$CG_ROOT/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${BU_UID//-/_}.slice/cri-containerd-$BU_CID.scope
BE=batch/leaky-0/${BE_CID:0:12}
G=prod/db-0/${G_CID:0:12}
BU=pod-$BU_UID/${BU_CID:0:12}

trap '_st=$?; guardian_cleanup; kube_cleanup; (exit $_st); _lib_cleanup' EXIT

meminfo_mb() { awk -v k="$1:" '$1 == k { print int($2 / 1024) }' /proc/meminfo; }
PODS=$T/pods
mkdir -p "$PODS/batch_leaky-0_$BE_UID/app" "$PODS/prod_db-0_$G_UID/db"
P=$T/policies
mkdir -p "$P"
cat >"$P/pods.yaml" <<YAML
service: pods
watch:
  kubernetes: {pod_logs: $PODS}
YAML
guardian_start "$P"

# --- the kubelet makes the containers' cgroups
mkpath "$BE_CG" && t_be=$(now_ms) && mkpath "$G_CG" && t_g=$(now_ms) && mkpath "$BU_CG" && t_bu=$(now_ms) ||
	bail "mkpath"
check "the BestEffort container (cgroupfs) is guarded as $BE" wait_for 10000 state_is "$BE" running
check "the Guaranteed container (cgroupfs) is guarded as $G" wait_for 10000 state_is "$G" running
check "the Burstable container (systemd driver) is guarded as $BU" wait_for 10000 state_is "$BU" running
# How long after its mkdir each was guarded: guardian's uptime of it
# against the test's clock, read once (python3 is slow to start here, so
# not inside the waits). The status call's own time counts against it.
"$GUARDCTL" status --json >"$T/status.json" && t_q=$(now_ms)
delays=$(python3 - "$T/status.json" "$t_q" "$BE=$t_be" "$G=$t_g" "$BU=$t_bu" <<'PY'
import json, sys
up = {s["name"]: s["uptime_ms"] for s in json.load(open(sys.argv[1]))["services"]}
t_q = int(sys.argv[2])
print(" ".join(str(t_q - int(t) - up[n]) for n, t in (a.rsplit("=", 1) for a in sys.argv[3:])))
PY
)
read -r d_be d_g d_bu <<<"$delays"
check "... each within 1 s of its mkdir (BestEffort ${d_be} ms, Guaranteed ${d_g} ms, Burstable ${d_bu} ms)" \
	eval "[ ${d_be:-9999} -le 1000 ] && [ ${d_g:-9999} -le 1000 ] && [ ${d_bu:-9999} -le 1000 ]"
"$GUARDCTL" status | sed 's/^/# /'
check "$BE: QoS BestEffort, namespace and pod from the log directory" \
	eval "[ \"\$(kube_field '$BE' qos)\" = BestEffort ] && [ \"\$(kube_field '$BE' namespace)\" = batch ] && [ \"\$(kube_field '$BE' names_from)\" = pod-logs ]"
check "$G: QoS Guaranteed, container id $G_CID" \
	eval "[ \"\$(kube_field '$G' qos)\" = Guaranteed ] && [ \"\$(kube_field '$G' container_id)\" = $G_CID ]"
check "$BU: QoS Burstable; no log directory, so named by its uid" \
	eval "[ \"\$(kube_field '$BU' qos)\" = Burstable ] && [ \"\$(kube_field '$BU' names_from)\" = cgroup ]"
check "no cgroup of the pods themselves is guarded (only containers)" \
	eval "! '$GUARDCTL' status | grep -q 'pod$BE_UID '"

# --- node-wide pressure: the Guaranteed container holds, the BestEffort
# one grows without a limit until the machine is short
echo 256M >"$G_CG/memory.max"
(echo "$BASHPID" >"$G_CG/cgroup.procs" && exec "$MEMHOG" --rate 100 --max 100 --hold) >"$T/db.out" 2>&1 &
db=$!
check "the Guaranteed container holds its 100 MB" wait_for 30000 file_has "$T/db.out" holding
total=$(meminfo_mb MemTotal)
diag "MemTotal $total MB, MemAvailable $(meminfo_mb MemAvailable) MB before the leak"
(echo "$BASHPID" >"$BE_CG/cgroup.procs" && exec "$MEMHOG" --rate 25 --max 2000 --hold) >"$T/leaky.out" 2>&1 &
leaky=$!
check "the system guard acts on the BestEffort container: a record for $BE" \
	wait_for 120000 log_has "$BE" guardian 'restart|kill'
check "its process is gone" wait_exit "$leaky" 30000
check "the kernel OOM killer never fired (oom_kill in the pod: $(cg_key "$BE_CG" memory.events oom_kill))" \
	[ "$(cg_key "$BE_CG" memory.events oom_kill)" = 0 ]
check "the Guaranteed container is untouched (pid $db alive, no record)" \
	eval "kill -0 $db && ! log_has '$G' '[a-z]+' 'restart|kill|stop'"
check "the record names the pod: namespace batch, pod leaky-0, its container id and QoS" \
	grep -q "\"service\":\"$BE\".*\"kubernetes\":{\"namespace\":\"batch\",\"pod\":\"leaky-0\",\"pod_uid\":\"$BE_UID\",\"container_id\":\"$BE_CID\",\"qos\":\"BestEffort\"" "$LOG"
grep "\"service\":\"$BE\"" "$LOG" | sed 's/^/# /' | cut -c1-600
kill "$db" 2>/dev/null

# --- the pod is deleted: its cgroups go
wait_exit "$db" 10000
rmdir "$G_CG" "${G_CG%/*}" || bail "rmdir"
check "a deleted pod's container is forgotten" wait_for 10000 eval "! '$GUARDCTL' status '$G' >/dev/null 2>&1"
done_testing
