#!/usr/bin/env bash
# The supervisor against the real kernel: double forks, stubborn services,
# crash loops, health checks, guardian's own restart, command order and
# who may change what.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/guardian-lib.sh"

P=$T/policies
mkdir -p "$P" "$T/www"
echo "still alive" >"$T/www/watchdog_page.html"

cat >"$P/sleeper.yaml" <<YAML
service: sleeper
command: ["sleep", "100000"]
oom_score_adj: 250
YAML
cat >"$P/doublefork.yaml" <<YAML
service: doublefork
# The classic daemon: fork, setsid, fork again, and the parent exits 0.
command: "setsid sh -c 'sleep 100000 & sleep 100000 & exit 0' & exit 0"
stop: {signal: TERM, timeout: 5s}
YAML
cat >"$P/stubborn.yaml" <<YAML
service: stubborn
command: "trap '' TERM; while :; do sleep 1; done"
stop: {signal: TERM, timeout: 1s}
YAML
cat >"$P/crasher.yaml" <<YAML
service: crasher
command: "exit 3"
restart: {mode: on-failure, delay: 300ms, max_delay: 5s, give_up: {restarts: 3, within: 1m}}
YAML
cat >"$P/web.yaml" <<YAML
service: web
command: ["busybox", "httpd", "-f", "-p", "127.0.0.1:8080", "-h", "$T/www"]
health:
  - http: {url: "http://127.0.0.1:8080/watchdog_page.html", status: 200, contains: "still alive"}
    every: 500ms
    timeout: 400ms
    failures: 2
    action: restart
YAML

# A user's service in a directory only root may enter must not start
# there (the chdir happens as the user, as systemd does it).
mkdir -m 700 "$T/rootonly"
cat >"$P/cornered.yaml" <<YAML
service: cornered
command: ["sleep", "100000"]
user: nobody
working_directory: $T/rootonly
restart: {mode: never}
YAML
# A service whose log directory it can write points its log at a file of
# root's: guardian, opening the log as root, must not follow the link.
mkdir -p "$T/nobodylogs" && chown nobody "$T/nobodylogs"
echo "root's own" >"$T/victim"
ln -s "$T/victim" "$T/nobodylogs/linker.log"
cat >"$P/linker.yaml" <<YAML
service: linker
command: "echo appended by nobody"
user: nobody
output: {file: $T/nobodylogs/linker.log}
restart: {mode: never}
YAML
# user and group are resolved when the policies load: grouped runs as root
# with group adm (and says so as a warning), asnobody as nobody with adm.
cat >"$P/grouped.yaml" <<YAML
service: grouped
command: ["sleep", "100000"]
group: adm
YAML
cat >"$P/asnobody.yaml" <<YAML
service: asnobody
command: ["sleep", "100000"]
user: nobody
group: adm
YAML
# guardian as the shipped unit runs it (OOMScoreAdjust=-900), and with an
# fd its parent leaked to it.
echo -900 >/proc/self/oom_score_adj
exec 7</dev/null
guardian_start "$P" --admin-group adm
exec 7<&-
echo 0 >/proc/self/oom_score_adj
for s in sleeper doublefork stubborn web grouped asnobody; do
	check "$s reaches running" wait_for 15000 svc_state_is "$s" running
done
stubborn_main=$(svc_field stubborn pid)
check "a service without oom_score_adj gets 0, not guardian's -900 ($(cat /proc/$stubborn_main/oom_score_adj))" \
	[ "$(cat "/proc/$stubborn_main/oom_score_adj")" = 0 ]
check "a service with oom_score_adj 250 gets 250" [ "$(cat "/proc/$(svc_field sleeper pid)/oom_score_adj")" = 250 ]
check "no fd of guardian's reaches a service (fds: $(ls "/proc/$stubborn_main/fd" | tr '\n' ' '))" \
	[ "$(ls "/proc/$stubborn_main/fd" | tr '\n' ' ')" = "0 1 2 " ]
check "services run with no_new_privs" grep -q '^NoNewPrivs:[[:space:]]*1' "/proc/$stubborn_main/status"
check "linker's log, a link to root's file, is not opened" \
	wait_for 15000 grep -q "linker: cannot open its output $T/nobodylogs/linker.log" "$T/guardian.log"
check "... and root's file is as it was" [ "$(cat "$T/victim")" = "root's own" ]
check "cornered does not run in a directory nobody cannot enter" \
	wait_for 15000 grep -q "cornered: cannot start sleep: changing to working_directory: Permission denied" "$T/guardian.log"

# --- user and group: resolved once when the policies load, never at a spawn
# ids KEY PID: the ids of one line of /proc/PID/status (Uid, Gid, Groups);
# only_pid SERVICE: the one process of its cgroup (no python3 start-up).
only_pid() { head -n1 "/sys/fs/cgroup/guardian.slice/$1.service/cgroup.procs"; }
ids() { awk -v k="$1:" '$1 == k { $1 = ""; sub(/^ +/, ""); print }' "/proc/$2/status"; }
adm=$(getent group adm | cut -d: -f3)
# What initgroups(nobody, adm) gives: adm and every group listing nobody.
nobody_groups() { { echo "$adm"; getent group | awk -F: '$4 ~ /(^|,)nobody(,|$)/ { print $3 }'; } | sort -un | xargs; }
want=$(nobody_groups)
check "the load warns that grouped runs as root" \
	grep -qF "$P/grouped.yaml:3:8: warning: group: without user the service runs as root" "$T/guardian.log"
pid=$(only_pid grouped)
check "grouped: runs as root with gid adm ($(ids Uid "$pid") / $(ids Gid "$pid"))" \
	eval "[ '$(ids Uid "$pid")' = '0 0 0 0' ] && [ '$(ids Gid "$pid")' = '$adm $adm $adm $adm' ]"
check "grouped: no supplementary groups ('$(ids Groups "$pid")')" [ -z "$(ids Groups "$pid")" ]
pid=$(only_pid asnobody)
check "asnobody: runs as nobody with gid adm ($(ids Uid "$pid") / $(ids Gid "$pid"))" \
	eval "[ '$(ids Uid "$pid")' = '65534 65534 65534 65534' ] && [ '$(ids Gid "$pid")' = '$adm $adm $adm $adm' ]"
check "asnobody: groups are nobody's list with adm ('$(ids Groups "$pid")' = '$want')" [ "$(ids Groups "$pid")" = "$want" ]
# The user database changes under guardian (the guest's mount only):
# nobody joins group 4711. A restart spawns from what the load resolved;
# a reload resolves again, and the next start has it.
cp /etc/group "$T/group" && echo "guardtest:x:4711:nobody" >>"$T/group" && mount --bind "$T/group" /etc/group
check "nobody is in 4711 now, as NSS tells it" eval "nobody_groups | grep -qw 4711"
old=$pid
"$GUARDCTL" restart asnobody >/dev/null
pid=$(only_pid asnobody)
check "asnobody: restarted (pid $old, now $pid) without asking NSS: still '$want' ('$(ids Groups "$pid")')" \
	eval "[ '$pid' != '$old' ] && [ '$(ids Groups "$pid")' = '$want' ]"
"$GUARDCTL" reload >"$T/reload-groups.out" 2>&1
check "the reload prints the warning about grouped too" \
	grep -qF "$P/grouped.yaml:3:8: warning: group: without user the service runs as root" "$T/reload-groups.out"
check "asnobody: not restarted by the reload (its user and group names did not change)" [ "$(only_pid asnobody)" = "$pid" ]
"$GUARDCTL" restart asnobody >/dev/null
old=$pid pid=$(only_pid asnobody)
check "asnobody: after the reload a restart (pid $old, now $pid) has 4711 too ('$(ids Groups "$pid")')" \
	eval "[ '$pid' != '$old' ] && [ '$(ids Groups "$pid")' = '$(nobody_groups)' ]"
umount /etc/group

# A second guardian on the same state directory is refused, naming the
# first, and the first keeps its socket.
timeout 30 "$GUARDIAN" --policies "$P" --state-dir "$T/state" --runtime-dir "$T/run" >"$T/second.log" 2>&1
second=$?
check "a second guardian on the same state directory exits 1 ($second)" [ "$second" = 1 ]
check "... saying which pid holds it: $(grep -m1 'another guardian' "$T/second.log")" \
	grep -q "another guardian (pid $GUARDIAN_PID) is running with the state directory $T/state" "$T/second.log"
check "... and the first still answers on its socket" "$GUARDCTL" status

# Policies guardian refuses end its start with 78 (EX_CONFIG), which the
# unit does not restart; the error is at its file:line:key.
mkdir -p "$T/bad"
printf 'service: bad\ncommand: [sleep, "1"]\nlimits: {memory_max: lots}\n' >"$T/bad/bad.yaml"
timeout 30 "$GUARDIAN" --policies "$T/bad" --state-dir "$T/bad-state" --runtime-dir "$T/bad-run" \
	>"$T/bad.log" 2>&1
bad=$?
check "an invalid policy ends guardian's start with 78 ($bad)" [ "$bad" = 78 ]
check "... naming the file, line and key: $(grep -m1 'bad.yaml' "$T/bad.log")" \
	grep -q "$T/bad/bad.yaml:3:[0-9]*: limits.memory_max: " "$T/bad.log"

# records ACTION SERVICE: action log lines for that pair.
records() {
	python3 - "$LOG" "$1" "$2" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["action"] == sys.argv[2] and r["service"] == sys.argv[3]:
        print(line, end="")
PY
}
has_record() { [ -n "$(records "$1" "$2")" ]; }

# --- a double-forking service is tracked by its cgroup and fully stopped
dcg=/sys/fs/cgroup/guardian.slice/doublefork.service
check "doublefork: its grandchildren are in its cgroup" wait_for 5000 test "$(wc -l <$dcg/cgroup.procs)" -ge 2
check "doublefork: still running after its main process exited 0" svc_state_is doublefork running
"$GUARDCTL" stop doublefork >/dev/null
check "doublefork: stopped" svc_state_is doublefork stopped
check "doublefork: nothing left in its cgroup" cg_key_is "$dcg" cgroup.events populated 0

# --- a service that ignores SIGTERM is killed after its grace period
start_ms=$(now_ms)
"$GUARDCTL" stop stubborn >/dev/null
took=$(($(now_ms) - start_ms))
check "stubborn: stopped" svc_state_is stubborn stopped
check "stubborn: the stop waited its 1s grace period (took ${took}ms)" [ "$took" -ge 1000 ]
rec=$(records kill stubborn)
check "stubborn: the action log records the SIGKILL" [ -n "$rec" ]
check "stubborn: ... with signal, pids, wait and reason" python3 -c '
import json, sys
r = json.loads(sys.argv[1])
assert r["source"] == "guardian" and r["signal"] == "KILL", r
assert r["pids"] and r["waited_ms"] >= 1000, r
assert "stop.timeout" in r["reason"] and r["cgroup"].endswith("/stubborn.service"), r
for k in ("time", "service", "cgroup", "source", "action", "reason", "pids", "signal"):
    assert k in r, k' "$rec"

# --- a crashing service restarts with growing delays, then gives up
check "crasher: gives up after its budget" wait_for 20000 svc_state_is crasher gave-up
check "crasher: 3 restarts" [ "$(svc_field crasher restarts)" = 3 ]
check "crasher: the give-up is recorded" has_record give-up crasher
check "crasher: each restart is recorded with its cause and a growing delay" python3 -c '
import json, sys
recs = [json.loads(l) for l in sys.stdin.read().splitlines()]
assert len(recs) == 3, recs
assert all(r["exit"] == "exited" and r["exit_code"] == 3 for r in recs), recs
assert [r["attempt"] for r in recs] == [1, 2, 3], recs
d = [r["delay_ms"] for r in recs]
assert d[0] < d[1] < d[2], d
print("# delays (ms):", d)' < <(records restart crasher)
"$GUARDCTL" status crasher | sed 's/^/# /'

# --- an HTTP health check with a content match restarts the service
web_pid=$(svc_field web pid)
echo "out of order" >"$T/www/watchdog_page.html"
check "web: restarted after its page lost 'still alive'" wait_for 10000 has_record restart web
echo "still alive" >"$T/www/watchdog_page.html"
web_running_anew() { [ "$(svc_field web state)" = running ] && [ "$(svc_field web pid)" != "$web_pid" ]; }
check "web: running again under a new pid" wait_for 10000 web_running_anew
names_content_check() { records restart web | grep -q "body does not contain 'still alive'"; }
check "web: the record names the failed content check" names_content_check

# --- guardian SIGKILLed and started again adopts, never restarts
sleeper_pid=$(svc_field sleeper pid)
guardian_kill KILL
check "sleeper survives guardian's SIGKILL" kill -0 "$sleeper_pid"
guardian_start "$P" --admin-group adm
check "sleeper: adopted as running" wait_for 5000 svc_state_is sleeper running
check "sleeper: same pid $sleeper_pid after guardian's restart" [ "$(svc_field sleeper pid)" = "$sleeper_pid" ]
check "sleeper: one process in its cgroup, not two" \
	[ "$(wc -l </sys/fs/cgroup/guardian.slice/sleeper.service/cgroup.procs)" = 1 ]
check "crasher: still gave-up after guardian's restart" svc_state_is crasher gave-up
check "doublefork: still stopped after guardian's restart" svc_state_is doublefork stopped

# --- stop then start, back to back: the start waits for the stop
"$GUARDCTL" stop stubborn >/dev/null 2>&1 # already stopped: a no-op
"$GUARDCTL" start stubborn >/dev/null
check "stubborn: running again" svc_state_is stubborn running
"$GUARDCTL" stop stubborn >"$T/stop.out" 2>&1 &
stop_pid=$!
wait_for 3000 svc_state_is stubborn stopping
"$GUARDCTL" start stubborn >"$T/start.out" 2>&1
check "stop then start issued together end in running" svc_state_is stubborn running
wait_exit "$stop_pid" 5000
check "the stop answered 'stopped' before the start ran" grep -q stopped "$T/stop.out"

# --- a reload applies a new sampling interval, PSI trigger and rules to a
# running service at once, without restarting it
# explain_field SERVICE KEY: one top-level field of `guardctl explain --json`.
explain_field() {
	"$GUARDCTL" explain "$1" --json 2>/dev/null | python3 -c '
import json, sys
v = json.load(sys.stdin).get(sys.argv[1])
print("" if v is None else v)' "$2"
}
stubborn_pid=$(svc_field stubborn pid)
check "stubborn: watched with the default PSI trigger before the reload" \
	[ "$(explain_field stubborn psi_trigger)" = "some 150000 1000000" ]
cat >"$P/stubborn.yaml" <<YAML
service: stubborn
command: "trap '' TERM; while :; do sleep 1; done"
stop: {signal: TERM, timeout: 1s}
sample_interval: 2s
pressure: {full: 5%, window: 2s}
rules:
  - name: huge
    when: {metric: working_set, above: 900M}
    action: notify
YAML
"$GUARDCTL" reload >"$T/reload.out" 2>&1
sed 's/^/# reload: /' "$T/reload.out"
check "the reload says the trigger and the interval changed" \
	eval "grep -q 'stubborn: pressure trigger updated' '$T/reload.out' && grep -q 'stubborn: sample_interval updated' '$T/reload.out'"
check "stubborn: the new PSI trigger is armed (full 100 ms per 2 s)" \
	[ "$(explain_field stubborn psi_trigger)" = "full 100000 2000000" ]
check "stubborn: sampled every 2 s now" [ "$(explain_field stubborn interval_ms)" = 2000 ]
check "stubborn: the new rule is armed" eval "'$GUARDCTL' explain stubborn | grep -q huge"
check "stubborn: not restarted by the reload (pid $stubborn_pid)" \
	eval "svc_state_is stubborn running && [ \"\$(svc_field stubborn pid)\" = '$stubborn_pid' ]"

# --- who may change state
check "nobody may read the status" setpriv --reuid=65534 --regid=65534 --clear-groups "$GUARDCTL" status sleeper
out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$GUARDCTL" stop sleeper 2>&1)
check "nobody may not stop a service (exit 1)" [ $? -eq 1 ]
check "... and is told why: $out" grep -q "permission denied" <<<"$out"
check "sleeper still running with its pid" [ "$(svc_field sleeper pid)" = "$sleeper_pid" ]
# 169 groups of five digits, then 41234: /proc/PID/status's Groups line
# puts the '4' of 41234 at the 1023rd byte, where a 1024-byte read of it
# used to end and parse "4" (adm) as a group of the caller.
many=$(seq -s, 30000 30168),41234
out=$(setpriv --reuid=65534 --regid=65534 --groups="$many" "$GUARDCTL" stop sleeper 2>&1)
check "nobody with 170 groups, none of them adm, may not stop it ($out)" grep -q "permission denied" <<<"$out"
check "sleeper still running after that" svc_state_is sleeper running
check "a member of the admin group (adm) may stop it" \
	setpriv --reuid=65534 --regid=65534 --groups=4 "$GUARDCTL" stop sleeper
check "sleeper: stopped by the admin group member" svc_state_is sleeper stopped

"$GUARDCTL" status | sed 's/^/# /'
"$GUARDCTL" log | sed 's/^/# /'
done_testing
