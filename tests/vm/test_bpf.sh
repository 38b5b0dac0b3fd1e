#!/usr/bin/env bash
# The BPF observers on the real kernel: a kernel OOM kill of a service is
# recorded as such; a kill -9 from a shell names the shell as the sender,
# also in the restart; guardian's own SIGKILL is not an external signal;
# memcg reclaim is counted; and with --no-bpf guardian still supervises,
# says why BPF is off, and sees OOM kills through memory.events.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/guardian-lib.sh"
need_helper MEMHOG memhog


# policies DIR HOG TARGET: an OOM-bound hog (dry run: the default guard only
# records, so the kernel's OOM killer is the one that acts), a sleeper to
# kill, and a service that ignores SIGTERM.
policies() {
	mkdir -p "$1"
	cat >"$1/$2.yaml" <<YAML
service: $2
command: ["$MEMHOG", "--rate", "0", "--max", "256", "--report", "8"]
limits: {memory_max: 64M, memory_swap_max: 0}
restart: {mode: never}
dry_run: true
YAML
	cat >"$1/$3.yaml" <<YAML
service: $3
command: ["sleep", "100000"]
restart: {mode: on-failure, delay: 200ms}
YAML
}

# last_exit SERVICE KEY: a key of the service's last_exit in status --json.
last_exit() {
	"$GUARDCTL" status "$1" --json 2>/dev/null | python3 -c '
import json, sys
v = json.load(sys.stdin)["services"][0]["last_exit"].get(sys.argv[1])
print("" if v is None else v)' "$2"
}

# status_key KEY: a top-level key of status --json (dicts as JSON).
status_key() {
	"$GUARDCTL" status --json 2>/dev/null | python3 -c '
import json, sys
v = json.load(sys.stdin).get(sys.argv[1])
print(json.dumps(v) if isinstance(v, dict) else ("" if v is None else v))' "$1"
}

# records SOURCE ACTION SERVICE: matching action-log lines ("null" for none).
records() {
	python3 - "$LOG" "$@" <<'PY'
import json, sys
log, source, action, svc = sys.argv[1:]
for line in open(log):
    r = json.loads(line)
    if r["source"] == source and r["action"] == action and str(r["service"]) == ("None" if svc == "null" else svc):
        print(line, end="")
PY
}
has_records() { [ -n "$(records "$@")" ]; }

# hog_pid LOGFILE: the memhog pid from its "memhog: pid P start" line.
hog_pid() { sed -n 's/^memhog: pid \([0-9]*\) start.*/\1/p' "$1" | head -n 1; }

# ==== with BPF ====================================================================
P=$T/p1
policies "$P" hog target
cat >"$P/stubborn.yaml" <<YAML
service: stubborn
command: "trap '' TERM; while :; do sleep 1; done"
stop: {signal: TERM, timeout: 1s}
YAML
guardian_start "$P"
bpf=$(status_key bpf)
diag "bpf: $bpf"
for prog in oomkill signal reclaim; do
	check "$prog is on" grep -q "$prog: on" <<<"$bpf"
done

# --- a kernel OOM kill of a guarded service
check "hog: stopped after the kernel OOM kill" wait_for 30000 svc_state_is hog stopped
check "hog: last_exit is oom-kill" [ "$(last_exit hog cause)" = oom-kill ]
check "hog: memory.events oom_kill is 1" cg_key_is /sys/fs/cgroup/guardian.slice/hog.service memory.events oom_kill 1
hpid=$(hog_pid "$T/state/logs/hog.log")
rec=$(records kernel oom-kill hog)
check "hog: one kernel oom-kill record for the service" [ "$(grep -c . <<<"$rec")" = 1 ]
check "hog: ... with the victim pid $hpid, its comm, cgroup and via bpf" python3 -c '
import json, sys
r = json.loads(sys.argv[1])
assert r["source"] == "kernel" and r["action"] == "oom-kill" and r["service"] == "hog", r
assert r["pids"] == [int(sys.argv[2])], r
assert r["comm"] == "memhog" and r["signal"] == "KILL" and r["via"] == "bpf", r
assert r["cgroup"].endswith("/hog.service") and r["anon_rss_kb"] > 30000, r' "$rec" "$hpid"
check "hog: kernel_oom_kills 1 in its status" [ "$(svc_field hog kernel_oom_kills)" = 1 ]
check "daemon-wide kernel_oom_kills >= 1" [ "$(status_key kernel_oom_kills)" -ge 1 ]
# memcg reclaim ran in the hog's cgroup before the OOM kill (memory.max)
reclaims=$(svc_field hog reclaim_events)
check "hog: reclaim_events counted ($reclaims)" [ "${reclaims:-0}" -ge 1 ]
check "hog: reclaim_last set" [ -n "$(svc_field hog reclaim_last)" ]
check "target: no reclaim in an idle service" [ "$(svc_field target reclaim_events)" = 0 ]

# --- kill -9 from a shell: the shell is the sender
check "target: running" wait_for 10000 svc_state_is target running
tpid=$(svc_field target pid)
bash -c "echo \$\$ >$T/killer.pid; kill -9 $tpid"
killer=$(cat "$T/killer.pid")
target_restarted() { [ "$(svc_field target state)" = running ] && [ "$(svc_field target pid)" != "$tpid" ]; }
check "target: restarted after kill -9" wait_for 10000 target_restarted
sig=$(records signal signal target)
check "target: one signal record" [ "$(grep -c . <<<"$sig")" = 1 ]
check "target: ... SIGKILL to $tpid from the shell $killer (bash, uid 0)" python3 -c '
import json, sys
r = json.loads(sys.argv[1])
assert r["signal"] == "KILL" and r["pids"] == [int(sys.argv[2])], r
assert r["sender_pid"] == int(sys.argv[3]) and r["sender_comm"] == "bash" and r["sender_uid"] == 0, r' \
	"$sig" "$tpid" "$killer"
check "target: last_exit cause signal" [ "$(last_exit target cause)" = signal ]
check "target: last_exit sender_pid $killer" [ "$(last_exit target sender_pid)" = "$killer" ]
check "target: last_exit sender_comm bash" [ "$(last_exit target sender_comm)" = bash ]
names_sender() { records guardian restart target | grep -q "SIGKILL from pid $killer (bash, uid 0)"; }
check "target: the restart record's reason names the sender" names_sender

# --- a signal to an unguarded process is not observed
sleep 100000 &
other=$!
kill -9 "$other"
wait "$other" 2>/dev/null
not_seen() {
	python3 -c '
import json, sys
for line in open(sys.argv[1]):
    assert int(sys.argv[2]) not in (json.loads(line).get("pids") or []), line' "$LOG" "$other"
}
check "an unguarded process's SIGKILL is not recorded" not_seen

# --- guardian's own SIGKILL (stop escalation) is not an external signal
check "stubborn: running" wait_for 10000 svc_state_is stubborn running
"$GUARDCTL" stop stubborn >/dev/null
check "stubborn: stopped" svc_state_is stubborn stopped
check "stubborn: guardian's kill is recorded" has_records guardian kill stubborn
no_signal_record() { ! has_records signal signal stubborn; }
check "stubborn: no external signal record" no_signal_record
check "stubborn: last_exit is guardian's" [ "$(last_exit stubborn cause)" = guardian ]
guardian_kill

# ==== with --no-bpf ================================================================
P2=$T/p2
policies "$P2" hog2 plain
guardian_start "$P2" --no-bpf
bpf=$(status_key bpf)
diag "bpf: $bpf"
check "status says why BPF is off" grep -q "off: disabled by --no-bpf" <<<"$bpf"
check "... and in guardctl status" grep -q "bpf: off: disabled by --no-bpf" < <("$GUARDCTL" status)
check "every program off" python3 -c '
import json, sys
p = json.loads(sys.argv[1])
assert sorted(p) == ["oomkill", "reclaim", "signal"] and all(v.startswith("off") for v in p.values()), p' \
	"$(status_key bpf_programs)"
check "plain: running" wait_for 10000 svc_state_is plain running
ppid=$(svc_field plain pid)
kill -9 "$ppid"
plain_restarted() { [ "$(svc_field plain state)" = running ] && [ "$(svc_field plain pid)" != "$ppid" ]; }
check "plain: restarted after kill -9 without BPF" wait_for 10000 plain_restarted
check "plain: last_exit cause signal, no sender known" \
	[ "$(last_exit plain cause)/$(last_exit plain sender_pid)" = signal/ ]
check "hog2: stopped after the kernel OOM kill" wait_for 30000 svc_state_is hog2 stopped
check "hog2: last_exit is oom-kill" [ "$(last_exit hog2 cause)" = oom-kill ]
oom_from_events() { has_records kernel oom-kill hog2; }
check "hog2: the OOM kill is recorded from memory.events" wait_for 5000 oom_from_events
check "hog2: ... as one kill, via memory.events" python3 -c '
import json, sys
r = json.loads(sys.argv[1])
assert r["service"] == "hog2" and r["via"] == "memory.events" and r["oom_kills"] == 1 and r["pids"] == [], r' \
	"$(records kernel oom-kill hog2)"
check "hog2: kernel_oom_kills 1" [ "$(svc_field hog2 kernel_oom_kills)" = 1 ]
check "hog2: reclaim_events null without BPF" [ -z "$(svc_field hog2 reclaim_events)" ]

"$GUARDCTL" status | sed 's/^/# /'
"$GUARDCTL" log | sed 's/^/# /'
done_testing
