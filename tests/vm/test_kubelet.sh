#!/usr/bin/env bash
# Kubernetes node mode with the kubelet's /pods: a stand-in kubelet
# (tests/tools/kubelet-standin.py) serves a PodList in the kubelet's format
# over HTTPS, with a certificate made here, to the bearer token only. The
# test plays the runtime: it makes the containers' cgroups (cgroupfs
# driver). Shown: a policy's label selector takes the labelled pods and
# leaves the others; a pod's guardian.dev/ignore annotation keeps it out
# and its guardian.dev/ annotations override the policy; a pod the kubelet
# lists only after its cgroup appeared is guarded within a second, with
# the kubelet's names; a leaking container is restarted (cgroup.kill)
# before the kernel OOM killer, and the record names namespace, pod,
# container and container id; with the kubelet gone, a new pod is named
# from the log directories and status says so.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/guardian-lib.sh"
need_helper MEMHOG memhog
STANDIN=$GUARDIAN_SOURCE_DIR/tests/tools/kubelet-standin.py
[ -f "$STANDIN" ] || bail "no $STANDIN"
PY=/usr/bin/python3

uid() { printf '%08x-0000-4000-8000-%012x' "$1" "$1"; }
cid() { printf '%012x%052x' "$1" "$1"; }
WEB_UID=$(uid 1) LEAK_UID=$(uid 2) CACHE_UID=$(uid 3) SKIP_UID=$(uid 4) NEW_UID=$(uid 5) LATE_UID=$(uid 6)
SELF_UID=$(uid 7) OOM_UID=$(uid 8)
WEB_CID=$(cid 11) LEAK_CID=$(cid 12) CACHE_CID=$(cid 13) SKIP_CID=$(cid 14) NEW_CID=$(cid 15) LATE_CID=$(cid 16)
SELF_CID=$(cid 17) OOM_CID=$(cid 18)
cg() { echo "$CG_ROOT/kubepods/$1/pod$2/$3"; } # QOS-DIR UID CID
WEB_CG=$(cg burstable "$WEB_UID" "$WEB_CID")
LEAK_CG=$(cg besteffort "$LEAK_UID" "$LEAK_CID")
CACHE_CG=$(cg besteffort "$CACHE_UID" "$CACHE_CID")
SKIP_CG=$(cg besteffort "$SKIP_UID" "$SKIP_CID")
NEW_CG=$(cg besteffort "$NEW_UID" "$NEW_CID")
LATE_CG=$(cg besteffort "$LATE_UID" "$LATE_CID")
SELF_CG=$(cg besteffort "$SELF_UID" "$SELF_CID") # guardian's own container, as in its DaemonSet
OOM_CG=$(cg besteffort "$OOM_UID" "$OOM_CID")
WEB=shop/web-0/${WEB_CID:0:12}
LEAK=batch/leaky-0/${LEAK_CID:0:12}
NEW=shop/new-0/${NEW_CID:0:12}
LATE=late/late-0/${LATE_CID:0:12}
OOM=batch/oom-0/${OOM_CID:0:12}

standin_pid=
trap '_st=$?; [ -n "$standin_pid" ] && kill "$standin_pid" 2>/dev/null; guardian_cleanup; kube_cleanup; (exit $_st); _lib_cleanup' EXIT

# pod NS NAME UID QOS LABELS ANNOTATIONS CONTAINER CID [REQUEST PRIORITY
# CLASS]: one item of a PodList, in the kubelet's shape (LABELS and
# ANNOTATIONS as JSON objects).
pod() {
	local res='{}'
	[ -n "${9:-}" ] && res="{\"requests\":{\"memory\":\"$9\"}}"
	cat <<JSON
{"metadata":{"name":"$2","namespace":"$1","uid":"$3","labels":$5,"annotations":$6},
 "spec":{"containers":[{"name":"$7","image":"docker.io/library/debian:12","resources":$res}],"priority":${10:-0},"priorityClassName":"${11:-}"},
 "status":{"phase":"Running","qosClass":"$4","containerStatuses":[{"name":"$7","ready":true,"restartCount":0,"containerID":"containerd://$8"}]}}
JSON
}
podlist() { # ITEMS...: the node's pods, written as the stand-in serves them
	local IFS=,
	echo "{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":{},\"items\":[$*]}" >"$T/pods.json.tmp" &&
		mv "$T/pods.json.tmp" "$T/pods.json"
}
G='{"tier":"guarded","app":"x"}'
P_WEB=$(pod shop web-0 "$WEB_UID" Burstable "$G" '{"guardian.dev/protected":"true","guardian.dev/priority":"7"}' nginx \
	"$WEB_CID" 64Mi 1000 shop-high)
P_LEAK=$(pod batch leaky-0 "$LEAK_UID" BestEffort "$G" '{}' leak "$LEAK_CID")
P_CACHE=$(pod shop cache-0 "$CACHE_UID" BestEffort '{"tier":"other"}' '{}' redis "$CACHE_CID")
P_SKIP=$(pod shop skip-0 "$SKIP_UID" BestEffort "$G" '{"guardian.dev/ignore":"true"}' app "$SKIP_CID")
P_NEW=$(pod shop new-0 "$NEW_UID" BestEffort "$G" '{}' worker "$NEW_CID")
P_SELF=$(pod guardian-system guardian-x7k2p "$SELF_UID" BestEffort "$G" '{}' guardian "$SELF_CID")
P_OOM=$(pod batch oom-0 "$OOM_UID" BestEffort "$G" '{"guardian.dev/dry-run":"true"}' victim "$OOM_CID")
podlist "$P_WEB" "$P_LEAK" "$P_CACHE" "$P_SKIP" "$P_SELF" "$P_OOM"

# --- the stand-in kubelet
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=127.0.0.1 \
	-addext subjectAltName=IP:127.0.0.1 -keyout "$T/key.pem" -out "$T/cert.pem" 2>/dev/null || bail "openssl"
echo "tok-$RANDOM$RANDOM" >"$T/token"
"$PY" "$STANDIN" --cert "$T/cert.pem" --key "$T/key.pem" --token "$T/token" --pods "$T/pods.json" \
	--port-file "$T/port" --requests "$T/requests" 2>"$T/standin.err" &
standin_pid=$!
wait_for 60000 test -s "$T/port" || { cat "$T/standin.err"; bail "the stand-in kubelet did not start"; }
PORT=$(cat "$T/port")
check "the stand-in refuses a request without the token (401)" \
	eval "[ \"\$(curl -sk -o /dev/null -w '%{http_code}' https://127.0.0.1:$PORT/pods)\" = 401 ]"

PODLOGS=$T/log/pods
mkdir -p "$PODLOGS" "$T/log/containers"
mkdir -p "$T/policies"
cat >"$T/policies/guarded.yaml" <<YAML
# the pods labelled tier: guarded, whatever their namespace
service: guarded
watch:
  kubernetes: {labels: {tier: guarded}, pod_logs: $PODLOGS}
YAML
cat >"$T/policies/late.yaml" <<YAML
# namespace late, by name: also without the kubelet
service: late
watch:
  kubernetes: {namespaces: [late], pod_logs: $PODLOGS}
YAML
# guardian runs in a labelled pod's container of its own, its services
# elsewhere (--cgroup-parent), as in its DaemonSet: it must not guard itself.
mkpath "$SELF_CG" || bail "mkpath"
GUARDIAN_CGROUP=$SELF_CG guardian_start "$T/policies" --cgroup-parent /guardian.slice \
	--kubelet "127.0.0.1:$PORT" --kubelet-token "$T/token" --kubelet-ca "$T/cert.pem"

# --- the runtime makes the containers' cgroups; the kubelet lists them
for c in "$CACHE_CG" "$SKIP_CG" "$OOM_CG"; do mkpath "$c" || bail "mkpath $c"; done
# What the kubelet writes before the container runs: memory.max, and with
# MemoryQoS memory.high; memory.oom.group for the whole container.
mkpath "$WEB_CG" && echo 256M >"$WEB_CG/memory.max" && echo 230M >"$WEB_CG/memory.high" || bail "web"
mkpath "$LEAK_CG" && echo 1 >"$LEAK_CG/memory.oom.group" || bail "leak"
check "a labelled pod is guarded with the kubelet's names: $WEB" wait_for 20000 state_is "$WEB" running
check "... and another: $LEAK" wait_for 20000 state_is "$LEAK" running
check "a pod that says guardian.dev/ignore is left out, and the log says why" \
	wait_for 10000 file_has "$T/guardian.log" "skip-0 says guardian.dev/ignore"
"$GUARDCTL" status --json >"$T/status.json"
"$GUARDCTL" status | sed 's/^/# /'
grep -i kubelet "$T/guardian.log" | sed 's/^/# /'
check "pods without the label are not guarded (cache-0, skip-0)" \
	eval "! grep -qE 'cache-0|skip-0' '$T/status.json'"
check "guardian's own container is not guarded, though its pod has the label" \
	eval "! grep -q 'guardian-x7k2p' '$T/status.json'"
"$PY" - "$T/status.json" "$WEB" "$LEAK" >"$T/fields" <<'PY'
import json, sys
st = json.load(open(sys.argv[1]))
svc = {s["name"]: s for s in st["services"]}
k = st.get("kubelet") or {}
print("kubelet", k.get("ok"), k.get("pods"), k.get("names_from"))
for name in sys.argv[2:]:
    kk = svc.get(name, {}).get("kubernetes") or {}
    print(name, kk.get("namespace"), kk.get("pod"), kk.get("container"), kk.get("qos"), kk.get("names_from"),
          kk.get("memory_request"), kk.get("priority"), kk.get("priority_class"), kk.get("annotations_applied"))
PY
sed 's/^/# /' "$T/fields"
check "status: the kubelet answers, 6 pods, names from the kubelet" grep -qx "kubelet True 6 kubelet" "$T/fields"
check "$WEB: container nginx, Burstable, its 64Mi request, priority 1000 (shop-high), overrides applied" \
	grep -qx "$WEB shop web-0 nginx Burstable kubelet 67108864 1000 shop-high protected=true priority=7" "$T/fields"
check "$LEAK: container leak, BestEffort, from the kubelet" \
	grep -qx "$LEAK batch leaky-0 leak BestEffort kubelet None 0 None None" "$T/fields"

check "guardctl explain names the pod and container" \
	eval "'$GUARDCTL' explain '$WEB' | grep -q '^pod: *shop/web-0, container nginx (id ${WEB_CID:0:12}), Burstable; names from kubelet; protected=true priority=7'"
check "the kubelet's memory.high (MemoryQoS) is kept, no tripwire over it" [ "$(cat "$WEB_CG/memory.high")" = 241172480 ]

# --- a new pod: its cgroup appears before guardian's list has it
podlist "$P_WEB" "$P_LEAK" "$P_CACHE" "$P_SKIP" "$P_SELF" "$P_OOM" "$P_NEW"
mkpath "$NEW_CG" && t_new=$(now_ms) || bail "mkpath"
check "the new pod is guarded as $NEW (asked the kubelet again)" wait_for 20000 state_is "$NEW" running
"$GUARDCTL" status "$NEW" --json >"$T/new.json" && t_q=$(now_ms)
d_new=$("$PY" -c 'import json,sys; print(int(sys.argv[2]) - int(sys.argv[3]) - json.load(open(sys.argv[1]))["services"][0]["uptime_ms"])' \
	"$T/new.json" "$t_q" "$t_new")
check "... within 1 s of its cgroup (${d_new} ms)" [ "${d_new:-9999}" -le 1000 ]
check "... named by the kubelet: container worker" grep -Eq '"container": ?"worker"' "$T/new.json"

# --- a leak in a labelled container, toward the memory.max its kubelet set
echo 128M >"$LEAK_CG/memory.max"
(echo "$BASHPID" >"$LEAK_CG/cgroup.procs" && exec "$MEMHOG" --rate 50 --max 1000 --hold) >"$T/leak.out" 2>&1 &
leak=$!
check "the leaking container is restarted by its engine (cgroup.kill)" wait_for 60000 log_has "$LEAK" engine restart
check "its process is gone" wait_exit "$leak" 30000
check "memory.oom.group stays as the kubelet set it (1)" [ "$(cat "$LEAK_CG/memory.oom.group")" = 1 ]
check "the kernel OOM killer never fired (oom_kill $(cg_key "$LEAK_CG" memory.events oom_kill))" \
	[ "$(cg_key "$LEAK_CG" memory.events oom_kill)" = 0 ]
check "the record names namespace, pod, container and container id" \
	grep -q "\"service\":\"$LEAK\".*\"kubernetes\":{\"namespace\":\"batch\",\"pod\":\"leaky-0\",\"pod_uid\":\"$LEAK_UID\",\"container\":\"leak\",\"container_id\":\"$LEAK_CID\",\"qos\":\"BestEffort\"" "$LOG"
grep "\"service\":\"$LEAK\"" "$LOG" | head -n 2 | cut -c1-500 | sed 's/^/# /'

# --- a kernel OOM kill in a pod guardian only watches (guardian.dev/dry-run)
check "$OOM is guarded, in dry run by its annotation" state_is "$OOM" running
echo 64M >"$OOM_CG/memory.max"
(echo "$BASHPID" >"$OOM_CG/cgroup.procs" && exec "$MEMHOG" --rate 100 --max 300 --hold) >"$T/oom.out" 2>&1 &
oomer=$!
check "the kernel OOM killer fires in the pod and the record names it" \
	wait_for 60000 log_has "$OOM" kernel oom-kill
check "... namespace batch, pod oom-0, container victim" \
	grep -q "\"service\":\"$OOM\",\"cgroup\":\"[^\"]*\",\"source\":\"kernel\",\"action\":\"oom-kill\".*\"kubernetes\":{\"namespace\":\"batch\",\"pod\":\"oom-0\",\"pod_uid\":\"$OOM_UID\",\"container\":\"victim\"" "$LOG"
acted_for_real() { # a restart or kill of SERVICE that was not a dry run
	grep "\"service\":\"$1\"" "$LOG" | grep -E '"action":"(restart|kill)"' | grep -qv '"dry_run":true'
}
check "... and guardian changed nothing there: its decisions are all dry run" eval "! acted_for_real '$OOM'"
grep "\"service\":\"$OOM\"" "$LOG" | cut -c1-300 | sed 's/^/# /' 
wait_exit "$oomer" 30000

# --- a foreign SIGKILL inside a pod: the sender, the pod and the container
(echo "$BASHPID" >"$WEB_CG/cgroup.procs" && exec sleep 600) &
victim=$!
check "a process runs in the nginx container" wait_for 10000 grep -qx "$victim" "$WEB_CG/cgroup.procs"
kill -KILL "$victim"
signal_record() {
	grep "\"service\":\"$WEB\",\"cgroup\":\"[^\"]*\",\"source\":\"signal\",\"action\":\"signal\"" "$LOG" |
		grep "\"sender_pid\":$$," | grep -q '"container":"nginx"'
}
check "the SIGKILL is recorded for $WEB with its sender (pid $$) and the container" wait_for 20000 signal_record
grep "\"service\":\"$WEB\".*\"source\":\"signal\"" "$LOG" | head -n 1 | cut -c1-600 | sed 's/^/# /'

# --- a deleted pod is forgotten
rmdir "$NEW_CG" "${NEW_CG%/*}" || bail "rmdir"
check "a deleted pod's container is forgotten" wait_for 10000 eval "! '$GUARDCTL' status '$NEW' >/dev/null 2>&1"

# --- kubectl label and kubectl annotate on running pods: judged again
# when the kubelet next answers. cache-0 gets the label, leaky-0
# guardian.dev/ignore, web-0 loses guardian.dev/protected.
TICK_UID=$(uid 9) TICK_CID=$(cid 19)
TICK_CG=$(cg besteffort "$TICK_UID" "$TICK_CID")
CACHE=shop/cache-0/${CACHE_CID:0:12}
P_WEB=$(pod shop web-0 "$WEB_UID" Burstable "$G" '{"guardian.dev/priority":"3"}' nginx "$WEB_CID" 64Mi 1000 shop-high)
P_LEAK=$(pod batch leaky-0 "$LEAK_UID" BestEffort "$G" '{"guardian.dev/ignore":"true"}' leak "$LEAK_CID")
P_CACHE=$(pod shop cache-0 "$CACHE_UID" BestEffort "$G" '{}' redis "$CACHE_CID")
P_TICK=$(pod shop tick-0 "$TICK_UID" BestEffort '{"tier":"other"}' '{}' tick "$TICK_CID")
podlist "$P_WEB" "$P_LEAK" "$P_CACHE" "$P_SKIP" "$P_SELF" "$P_OOM" "$P_TICK"
# A pod the table lacks makes guardian ask now rather than at the 60 s
# refresh (tick-0 itself has no label: not guarded).
mkpath "$TICK_CG" || bail "mkpath"
check "a pod labelled since it was first seen (cache-0) is guarded now" wait_for 20000 state_is "$CACHE" running
check "a pod annotated guardian.dev/ignore since (leaky-0) is forgotten" \
	wait_for 10000 eval "! '$GUARDCTL' status '$LEAK' >/dev/null 2>&1"
check "... and the log says why" \
	file_has "$T/guardian.log" "$LEAK: no longer guarded: its pod's labels or annotations changed"
"$GUARDCTL" status "$WEB" --json >"$T/web2.json"
check "web-0's overrides are its annotations as they are now (priority=3, protected gone)" \
	grep -Eq '"annotations_applied": ?"priority=3"' "$T/web2.json"
check "tick-0, unlabelled, is not guarded" eval "! '$GUARDCTL' status shop/tick-0/${TICK_CID:0:12} >/dev/null 2>&1"

# --- the kubelet goes away: names from the log directories
kill "$standin_pid" && wait "$standin_pid" 2>/dev/null
standin_pid=
mkdir -p "$PODLOGS/late_late-0_$LATE_UID/main"
: >"$T/log/containers/late-0_late_main-$LATE_CID.log"
mkpath "$LATE_CG" || bail "mkpath"
check "with the kubelet gone, a new pod is guarded as $LATE from its log directory" \
	wait_for 30000 state_is "$LATE" running
"$GUARDCTL" status --json >"$T/status2.json"
"$PY" - "$T/status2.json" "$LATE" >"$T/fields2" <<'PY'
import json, sys
st = json.load(open(sys.argv[1]))
k = st.get("kubelet") or {}
print("kubelet", k.get("ok"), k.get("names_from"), bool(k.get("error")))
for s in st["services"]:
    if s["name"] == sys.argv[2]:
        kk = s["kubernetes"]
        print(s["name"], kk.get("namespace"), kk.get("pod"), kk.get("container"), kk.get("names_from"))
PY
sed 's/^/# /' "$T/fields2"
check "status says the kubelet cannot be reached and names come from the pod logs" \
	grep -qx "kubelet False pod-logs True" "$T/fields2"
check "$LATE: namespace, pod and container (main) from /var/log/pods and /var/log/containers" \
	grep -qx "$LATE late late-0 main pod-logs" "$T/fields2"
check "the labelled pods are still guarded" state_is "$WEB" running
done_testing
