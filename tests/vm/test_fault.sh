#!/usr/bin/env bash
# guardian SIGKILLed again and again at random moments while its services
# start, stop, crash and are restarted by the engine. After each kill a new
# guardian starts as the systemd unit starts it (Restart=always, in the
# unit's delegated cgroup) and must re-adopt everything: every service that
# should run runs exactly once, none is started twice or lost, a stop that
# was asked for stays asked for, no process of an old guardian is left, and
# state.json and the action log stay whole.
#
#   test_fault.sh [KILLS]     (default 100)
#
# Some kills come at a random time; the others wait for a moment that
# matters (a stop under way, the engine restarting the leaker, the crash
# loop's restart, a new guardian still starting up) and strike then.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/guardian-lib.sh"
need_helper MEMHOG memhog

KILLS=${1:-100}
P=$T/policies
UNIT=$(mkcg guardian.service) || bail "mkcg guardian.service"
SCOPE=$UNIT/guardian.scope
SERVICES="steady crasher leaker toggler"
mkdir -p "$P" "$T/snap"
# The toggler's clock: bash's read -t on a FIFO nobody writes, so the
# service is one process (no sleep child) that takes 3 s to stop: longer
# than a new guardian usually takes to start here, so many a kill leaves a
# stop under way for the next guardian to find.
mkfifo "$T/idle"

cat >"$P/steady.yaml" <<YAML
service: steady
command: ["sleep", "1000000"]
restart: {mode: always}
YAML
cat >"$P/crasher.yaml" <<YAML
service: crasher
command: "exit 3"
restart: {mode: always, delay: 50ms, max_delay: 100ms}
YAML
# Leaks 40 MB/s toward memory_max: the default guard restarts it at its
# memory.high tripwire, every few seconds.
cat >"$P/leaker.yaml" <<YAML
service: leaker
command: ["$MEMHOG", "--rate", "40", "--max", "400"]
limits: {memory_max: 48M, memory_swap_max: 0}
restart: {mode: always, delay: 100ms, max_delay: 200ms}
YAML
cat >"$P/toggler.yaml" <<YAML
service: toggler
command: ["bash", "-c", "exec 3<>$T/idle; trap 'read -t 3 -u 3; exit 0' TERM; while :; do read -t 100 -u 3; done"]
YAML

# guardian_up CGROUP: starts guardian inside CGROUP, as systemd starts the
# unit's main process: the first time in the unit's cgroup (guardian moves
# itself into guardian.scope), after that in guardian.scope itself (the
# unit's cgroup now has controllers on for the services, so no process may
# join it; systemd's DelegateSubgroup= does the same).
# GUARDIAN_PID is guardian's pid, GUARDIAN_WAITER a waiter outside the
# cgroup whose status is guardian's (137 when killed), for wait_exit; it
# keeps bash's "Killed" job notices off stderr.
GUARDIAN_WAITER=
guardian_up() {
	local pidfile=$T/guardian.pid
	rm -f "$pidfile"
	{
		(
			(
				echo "$BASHPID" >"$1/cgroup.procs" || exit 126
				echo "$BASHPID" >"$pidfile"
				exec "$GUARDIAN" --policies "$P" --state-dir "$T/state" --runtime-dir "$T/run" \
					>>"$T/guardian.log" 2>&1
			) &
			wait $!
		) 2>/dev/null &
	}
	GUARDIAN_WAITER=$!
	up_ms=$(now_ms)
	wait_for 10000 test -s "$pidfile" || bail "guardian could not be started in $1"
	read -r GUARDIAN_PID <"$pidfile"
}

# wait_answer MS: 0 once guardian answers on its socket, 2 if it exited
# first, 1 at the deadline.
wait_answer() {
	local deadline=$(($(now_ms) + $1))
	while :; do
		if "$GUARDCTL" status >/dev/null 2>&1; then
			answer_ms+=($(($(now_ms) - up_ms)))
			return 0
		fi
		proc_exited "$GUARDIAN_WAITER" && return 2
		[ "$(now_ms)" -lt "$deadline" ] || return 1
		sleep 0.05
	done
}

# read_status: ST[service] and PID[service] from one `guardctl status`.
# The checks use shell builtins where they can: every fork costs tens of
# milliseconds in the emulated guest, and a round runs many of them.
declare -A ST PID
read_status() {
	local out name state pid rest n=0
	out=$("$GUARDCTL" status 2>/dev/null) || return 1
	ST=() PID=()
	while read -r name state pid rest; do
		n=$((n + 1))
		[ $n -gt 2 ] && ST[$name]=$state PID[$name]=$pid
	done <<<"$out"
	return 0
}

# settled: every service in a state it may rest in after a restart of
# guardian: steady running, the toggler running or stopped, the crasher
# and the leaker somewhere in their restart loops (never stopped, never
# given up).
settled() {
	read_status || return 1
	[ "${ST[steady]:-}" = running ] || return 1
	case ${ST[toggler]:-} in running | stopped) ;; *) return 1 ;; esac
	case ${ST[crasher]:-} in running | starting | backoff) ;; *) return 1 ;; esac
	case ${ST[leaker]:-} in running | starting | stopping | backoff) ;; *) return 1 ;; esac
}

# procs CG: PROCS, the pids in the group.
procs() { PROCS=(); mapfile -t PROCS 2>/dev/null <"$1/cgroup.procs"; }

# roots CG: ROOTS, the group's main processes: those whose parent is
# outside it (guardian, or whoever took guardian's children when it died).
# A service's own children have their parent inside.
roots() {
	local -A in=()
	local p st f
	procs "$1"
	ROOTS=()
	for p in "${PROCS[@]}"; do in[$p]=1; done
	for p in "${PROCS[@]}"; do
		read -r st 2>/dev/null <"/proc/$p/stat" || continue
		read -r -a f <<<"${st##*) }"
		[ -n "${in[${f[1]}]:-}" ] || ROOTS+=("$p")
	done
}

# toggle_loop FIRST: guardctl stop and start of the toggler, one after the
# other (each waits for its answer), until one fails: guardian is gone.
toggle_loop() {
	local cmd=$1 out
	while :; do
		if out=$("$GUARDCTL" "$cmd" toggler 2>&1); then
			echo "$cmd ok"
		else
			echo "$cmd failed: ${out//$'\n'/ }"
			return
		fi
		[ "$cmd" = stop ] && cmd=start || cmd=stop
	done >>"$T/toggle.log"
}

# next_record SERVICE SOURCE ACTION COUNT MS: waits until SERVICE has more
# than COUNT such records.
next_record() { wait_for "$5" eval "[ \"\$(log_count $1 $2 $3)\" -gt $4 ]"; }

# rand_sleep_ms MAX: the fault's own timing, a random moment in 0..MAX ms
# (nothing is waited for here).
rand_sleep_ms() {
	local ms=$((RANDOM % $1))
	sleep "$((ms / 1000)).$(printf %03d $((ms % 1000)))"
}

answer_ms=() death_ms=() # how long each new guardian took to answer, each killed one to be gone
kills=0 startup_kills=0 rounds=0 recoveries=0 duplicates=0 lost=0 refused=0 strays=0 cut=0
missed=0 resumed_stops=0
problems=()
problem() {
	problems+=("round $rounds ($moment): $*")
	diag "round $rounds ($moment): $*"
}

kill_guardian() {
	local t=$(now_ms)
	kill -KILL "$GUARDIAN_PID"
	wait_exit "$GUARDIAN_WAITER" 30000 || bail "guardian $GUARDIAN_PID did not die of SIGKILL"
	death_ms+=($(($(now_ms) - t)))
	GUARDIAN_PID=
	kills=$((kills + 1))
	if [ "$EXIT_STATUS" != 137 ]; then
		refused=$((refused + 1))
		problem "guardian had exited $EXIT_STATUS before the kill: $(tail -n 2 "$T/guardian.log" | tr '\n' ' ')"
	fi
	# A record cut short by the kill would have the next one glued to it.
	if [ -s "$LOG" ] && [ -n "$(tail -c1 "$LOG")" ]; then # $(...) drops a last newline
		cut=$((cut + 1))
		problem "the action log ends in a partial record after the kill"
	fi
}

# bring_up: a guardian in guardian.scope that answers; one refused (it
# exited before answering) is started again, as Restart=always would.
bring_up() {
	local tries=0 r
	while :; do
		guardian_up "$SCOPE"
		wait_answer 60000
		r=$?
		[ $r = 0 ] && return 0
		[ $r = 1 ] && bail "round $rounds: guardian did not answer within 60 s"
		wait_exit "$GUARDIAN_WAITER" 10000
		refused=$((refused + 1))
		problem "a new guardian exited $EXIT_STATUS before answering: $(tail -n 2 "$T/guardian.log" | tr '\n' ' ')"
		tries=$((tries + 1))
		[ $tries -lt 5 ] || bail "round $rounds: no guardian would start"
	done
}

# check_round EXPECT: the checks after a recovery; EXPECT is the toggler's
# state by the want_running the dead guardian left in state.json.
check_round() {
	local expect=$1 dup=0 gone=0 d dirs=() s
	procs "$UNIT/steady.service"
	if [ "${PROCS[*]}" != "$steady_pid" ] || [ "${PID[steady]}" != "$steady_pid" ]; then
		if kill -0 "$steady_pid" 2>/dev/null; then dup=1; else gone=1; fi
		problem "steady: pid $steady_pid, now status ${PID[steady]}, its cgroup ${PROCS[*]}"
	fi
	for s in crasher leaker toggler; do
		roots "$UNIT/$s.service"
		if [ ${#ROOTS[@]} -gt 1 ]; then
			dup=1
			problem "$s: ${#ROOTS[@]} main processes in its cgroup: ${ROOTS[*]}"
		fi
	done
	# ROOTS is the toggler's now.
	if [ "${ST[toggler]}" != "$expect" ]; then
		gone=1
		problem "toggler: $expect by state.json, but ${ST[toggler]} after the restart"
	elif [ "$expect" = running ] && [ "${ROOTS[*]}" != "${PID[toggler]}" ]; then
		gone=1
		problem "toggler: guardian follows pid ${PID[toggler]}, its cgroup's main process is ${ROOTS[*]:-none}"
	elif [ "$expect" = stopped ] && [ ${#PROCS[@]} -gt 0 ]; then
		dup=1
		problem "toggler: stopped, but its cgroup holds ${PROCS[*]}"
	fi
	for d in "$UNIT"/*/; do
		d=${d%/}
		dirs+=("${d##*/}")
	done
	if [ "${dirs[*]}" != "$want_dirs" ]; then
		dup=1
		problem "the unit's cgroup holds ${dirs[*]} (want $want_dirs)"
	fi
	procs "$SCOPE"
	if [ "${PROCS[*]}" != "$GUARDIAN_PID" ]; then
		strays=$((strays + 1))
		problem "guardian.scope holds ${PROCS[*]} besides guardian $GUARDIAN_PID"
	fi
	duplicates=$((duplicates + dup))
	lost=$((lost + gone))
}

want_dirs=$(printf '%s\n' guardian.scope $(for s in $SERVICES; do echo "$s.service"; done) | sort | tr '\n' ' ')
want_dirs=${want_dirs% }

# --- the first start, in the unit's cgroup
guardian_up "$UNIT"
wait_answer 60000 || { cat "$T/guardian.log"; bail "guardian did not answer on $GUARDIAN_SOCKET"; }
procs "$SCOPE"
check "guardian moved itself into the unit's guardian.scope" [ "${PROCS[*]}" = "$GUARDIAN_PID" ]
moment=start
check "every service settles" wait_for 60000 settled
steady_pid=${PID[steady]}
check "steady runs as pid $steady_pid" kill -0 "$steady_pid"

# --- killed while its BPF loader (a fork of guardian) runs: the loader
# must die with it, and above all let go of the state directory's lock.
moment=bpf-loader
kill_guardian
n_engine=$(log_count leaker engine restart)
guardian_up "$SCOPE"
loader_runs() { procs "$SCOPE"; [ ${#PROCS[@]} -gt 1 ]; }
if wait_for 30000 loader_runs; then
	kill_guardian
	startup_kills=$((startup_kills + 1))
	guardian_up "$SCOPE" # at once, as Restart= does
	wait_answer 60000
	r=$?
	check "a guardian started just after one was killed in its BPF load starts (0: answered, 2: exited: $(tail -n 1 "$T/guardian.log"))" \
		[ $r = 0 ]
	if [ $r != 0 ]; then
		refused=$((refused + 1))
		bring_up
	fi
	procs "$SCOPE"
	check "... and the killed one's BPF loader is gone (guardian.scope: ${PROCS[*]}; guardian $GUARDIAN_PID)" \
		[ "${PROCS[*]}" = "$GUARDIAN_PID" ]
else
	fail "no BPF loader was seen in guardian.scope"
	wait_answer 60000 || bail "guardian did not answer"
fi
check "every service settles after that" wait_for 60000 settled

start_ms=$(now_ms)
while [ "$kills" -lt "$KILLS" ]; do
	rounds=$((rounds + 1))
	case $((rounds % 5)) in
	0) moment=random ;;
	1) moment=mid-stop ;;
	2) moment=engine-restart ;;
	3) moment=crash-loop ;;
	4) moment=start-up ;;
	esac
	n_stop=$(log_count toggler guardian stop)
	n_crash=$(log_count crasher guardian restart)
	[ "${ST[toggler]}" = running ] && first=stop || first=start
	toggle_loop "$first" &
	toggler_pid=$!
	t0=$(now_ms)

	case $moment in
	random | start-up) rand_sleep_ms 1500 ;;
	mid-stop)
		next_record toggler guardian stop "$n_stop" 30000 || { missed=$((missed + 1)); problem "no stop of the toggler came"; } ;;
	engine-restart)
		# The engine's first restart of the leaker since this guardian
		# started (later ones wait out its 10 s rate limit), and a random
		# moment of the stop and start that follow.
		next_record leaker engine restart "$n_engine" 30000 || { missed=$((missed + 1)); problem "the engine did not restart the leaker"; }
		rand_sleep_ms 300 ;;
	crash-loop)
		next_record crasher guardian restart "$n_crash" 30000 || { missed=$((missed + 1)); problem "the crasher did not restart"; }
		rand_sleep_ms 200 ;;
	esac
	if proc_exited "$toggler_pid"; then
		problem "a guardctl of the toggler failed while guardian ran: $(tail -n 1 "$T/toggle.log")"
	fi
	t1=$(now_ms)
	kill_guardian
	wait_exit "$toggler_pid" 30000 || bail "the toggler's guardctl hangs after guardian's death"

	if [ "$moment" = start-up ] && [ "$kills" -lt "$KILLS" ]; then
		# A new guardian killed while it loads its policies, its BPF
		# programs or adopts the services.
		guardian_up "$SCOPE"
		rand_sleep_ms 1500
		kill_guardian
		startup_kills=$((startup_kills + 1))
	fi

	cp "$T/state/state.json" "$T/snap/$rounds.json" 2>/dev/null
	if grep -q '"toggler":{"want_running":false' "$T/state/state.json"; then
		expect=stopped
	else
		expect=running
	fi
	t2=$(now_ms)
	n_engine=$(log_count leaker engine restart)
	bring_up
	t3=$(now_ms)
	if wait_for 60000 settled; then
		recoveries=$((recoveries + 1))
		t4=$(now_ms)
		check_round "$expect"
		diag "round $rounds $moment: moment $((t1 - t0)) ms, kill $((t2 - t1)), up $((t3 - t2)), settled $((t4 - t3)), checks $(($(now_ms) - t4)); toggler $expect"
	else
		lost=$((lost + 1))
		problem "not settled 60 s after the restart: $("$GUARDCTL" status 2>&1 | sed 1,2d | awk '{printf "%s %s; ", $1, $2}')"
	fi
done
took=$((($(now_ms) - start_ms) / 1000))
spread() { printf '%s\n' "$@" | awk 'NR == 1 || $1 < min { min = $1 } $1 > max { max = $1 } { sum += $1 }
	END { printf "%d..%d ms (mean %d)", min, max, sum / NR }'; }
diag "a new guardian answered after $(spread "${answer_ms[@]}"); a killed one was gone after $(spread "${death_ms[@]}")"

resumed_stops=$(grep -c 'finishing the stop' "$T/guardian.log")
diag "$rounds rounds in ${took}s; toggler: $(grep -c ' ok$' "$T/toggle.log") commands answered," \
	"$(log_count toggler guardian stop) stops begun, $resumed_stops finished by a new guardian;" \
	"crasher: $(log_count crasher guardian restart) restarts; leaker: $(log_count leaker engine restart) engine restarts"

# One python3 for every state file left by a dead guardian and every record.
records=$(python3 - "$LOG" "$T"/snap/*.json <<'PY'
import json, sys
bad = []
n = 0
with open(sys.argv[1], "rb") as f:
    for i, line in enumerate(f, 1):
        n += 1
        try:
            r = json.loads(line)
            assert isinstance(r, dict) and "action" in r and "time" in r
        except Exception as e:
            bad.append("%s:%d: %r (%s)" % (sys.argv[1], i, line[:120], e))
for path in sys.argv[2:]:
    try:
        s = json.load(open(path))
        assert isinstance(s["services"], dict) and s["boot_id"]
        for name in ("steady", "crasher", "leaker", "toggler"):
            assert isinstance(s["services"][name]["want_running"], bool), name
    except Exception as e:
        bad.append("%s: %r" % (path, e))
for b in bad[:20]:
    print("# " + b, file=sys.stderr)
print(n, len(sys.argv) - 2, len(bad))
PY
)
read -r n_records n_states n_bad <<<"$records"
check "every action log record and every state.json parse ($n_records records, $n_states state files, $n_bad bad)" \
	[ "${n_bad:-1}" = 0 ]
check "no state.json was set aside as not guardian's" [ ! -e "$T/state/state.json.bad" ]
check "$kills kills: every new guardian answered ($refused refused to start)" [ "$refused" = 0 ]
check "$recoveries of $rounds rounds recovered" [ "$recoveries" = "$rounds" ]
check "no service ran twice ($duplicates rounds with a duplicate)" [ "$duplicates" = 0 ]
check "no service was lost ($lost rounds lost one)" [ "$lost" = 0 ]
check "no process of a dead guardian was left in guardian.scope ($strays rounds)" [ "$strays" = 0 ]
check "no record was cut short by a kill ($cut)" [ "$cut" = 0 ]
check "every awaited moment came ($missed missed)" [ "$missed" = 0 ]
check "steady kept its one pid $steady_pid through every kill" \
	[ "$(cat "$UNIT/steady.service/cgroup.procs")" = "$steady_pid" ]
check "the crasher kept crashing and restarting" [ "$(log_count crasher guardian restart)" -ge "$rounds" ]
check "the engine restarted the leaker" [ "$(log_count leaker engine restart)" -gt 0 ]
# A kill during a start-up is followed at once by the next start: its
# recovery is checked with the round's.
echo "# $kills kills ($startup_kills during a start-up), $refused new guardians refused:" \
	"$recoveries recoveries in $rounds rounds, $duplicates duplicates, $lost lost," \
	"$n_records records all parse, $n_states state files parse"
"$GUARDCTL" status | sed 's/^/# /'
done_testing
