#!/usr/bin/env bash
# Watched cgroups: a policy with `watch:` guards cgroups someone else made
# (here the test plays systemd: it makes UNIT.service directories under a
# slice, sets their memory.max and moves processes in). A new one is
# guarded within a second of its mkdir; the default guard's tripwire goes
# on its memory.high; a leak toward its memory.max is stopped before the
# kernel OOM killer by cgroup.kill, and guardian leaves the cgroup itself
# to its owner; guardctl refuses to start or stop it; an rmdir forgets
# it; guardian's exit takes the tripwire off again.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/guardian-lib.sh"
need_helper MEMHOG memhog

W=$(mkcg "") || bail "mkcg"
W=${W%/}
REL=${W#"$CG_ROOT"/}
TRIPWIRE=$((240 << 20)) # 256M - 256M/16

P=$T/policies
mkdir -p "$P"
cat >"$P/units.yaml" <<YAML
service: units
# The last glob matches guardian's own slice, which it must never guard.
watch: {cgroups: ["$REL/*.service", "$REL/*.job", "*.slice"]}
YAML
# Cgroups that were there before guardian started, one for each of the
# first two globs (each glob reads the root directory afresh).
mkdir "$W/early.service" "$W/early.job" || bail "mkdir"
guardian_start "$P"
check "a cgroup that was there at the start is guarded" wait_for 10000 state_is "$REL/early.service" running
check "... also one the second glob matches" wait_for 10000 state_is "$REL/early.job" running
check "guardian's own slice is never guarded, though *.slice matches it" \
	eval "! '$GUARDCTL' status | grep -q '^guardian.slice '"
check "a cgroup that does not match the glob is not (early.scope)" \
	eval "mkdir '$W/early.scope' && ! '$GUARDCTL' status '$REL/early.scope' >/dev/null 2>&1"

# --- a new one, found by its mkdir
t0=$(now_ms)
mkdir "$W/leak.service" || bail "mkdir"
check "a new cgroup is guarded" wait_for 10000 state_is "$REL/leak.service" running
# When: guardian's uptime of it against the test's clock (the status
# call's own time counts against it).
"$GUARDCTL" status "$REL/leak.service" --json >"$T/leak.json" && t_q=$(now_ms)
up=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["services"][0]["uptime_ms"])' "$T/leak.json")
seen_ms=$((t_q - t0 - ${up:-0}))
check "... within 1 s of its mkdir (${seen_ms} ms)" [ "$seen_ms" -le 1000 ]
"$GUARDCTL" status | sed 's/^/# /'
check "status says it is watched, by which policy" \
	eval "[ \"\$(svc_field '$REL/leak.service' watched)\" = True ] && svc_field '$REL/leak.service' policy | grep -q units.yaml"
out=$("$GUARDCTL" stop "$REL/leak.service" 2>&1)
check "guardctl stop is refused for a watched cgroup ($out)" grep -q "is a watched cgroup" <<<"$out"

# The owner's limits come after its mkdir, as systemd writes them: the
# tripwire follows memory.max (memory.high is max: nobody set one).
check "no tripwire while memory.max is max" [ "$(cg_read "$W/leak.service" memory.high)" = max ]
echo 256M >"$W/leak.service/memory.max"
echo 0 >"$W/leak.service/memory.swap.max"
check "the tripwire is on its memory.high once memory.max is set (240 MiB)" \
	wait_for 10000 eval "[ \"\$(cg_read '$W/leak.service' memory.high)\" = $TRIPWIRE ]"
# A unit with a MemoryHigh= of its own keeps it.
mkdir "$W/own.service" && echo 100M >"$W/own.service/memory.high" && echo 256M >"$W/own.service/memory.max"
check "own.service is guarded" wait_for 10000 state_is "$REL/own.service" running
check "... and its own memory.high is left as it is (100 MiB)" \
	[ "$(cg_read "$W/own.service" memory.high)" = $((100 << 20)) ]
# An owner that writes memory.high once the tripwire is on (systemctl
# set-property MemoryHigh=): its value is the owner's from then on.
mkdir "$W/late.service" && echo 256M >"$W/late.service/memory.max" || bail "late"
check "late.service gets the tripwire" \
	wait_for 10000 eval "[ \"\$(cg_read '$W/late.service' memory.high)\" = $TRIPWIRE ]"
echo 200M >"$W/late.service/memory.high"
check "... and a memory.high its owner writes over it is taken as the owner's" \
	wait_for 10000 file_has "$T/guardian.log" "$REL/late.service: memory.high $((200 << 20)) is its owner's"
# Runtimes (runc, systemd) write memory.max and memory.high microseconds
# after their mkdir, while guardian is already guarding the cgroup: the
# tripwire must never land over the owner's memory.high.
for i in 1 2 3 4 5 6 7 8; do
	mkdir "$W/race$i.service" && echo 256M >"$W/race$i.service/memory.max" &&
		echo 230M >"$W/race$i.service/memory.high" || bail "race$i"
done
for i in 1 2 3 4 5 6 7 8; do
	wait_for 10000 file_has "$T/guardian.log" "$REL/race$i.service: memory.high $((230 << 20)) is its owner's" ||
		break
done
kept=0
for i in 1 2 3 4 5 6 7 8; do [ "$(cg_read "$W/race$i.service" memory.high)" = $((230 << 20)) ] && kept=$((kept + 1)); done
check "8 cgroups whose limits came right after their mkdir all keep the owner's memory.high ($kept of 8)" \
	[ "$kept" = 8 ]

# --- the owner starts a leaking process in it
(echo "$BASHPID" >"$W/leak.service/cgroup.procs" && exec "$MEMHOG" --rate 100 --max 400) >"$T/leak.out" 2>&1 &
hog=$!
check "the engine stops the leak: a record for $REL/leak.service" \
	wait_for 60000 log_has "$REL/leak.service" engine 'restart|kill'
check "its processes are gone" wait_exit "$hog" 20000
check "the kernel OOM killer never fired (oom_kill $(cg_key "$W/leak.service" memory.events oom_kill))" \
	[ "$(cg_key "$W/leak.service" memory.events oom_kill)" = 0 ]
check "its cgroup is still there: the owner's to keep or remove" [ -d "$W/leak.service" ]
check "the record says it was cgroup.kill of a watched cgroup" \
	grep -q "\"service\":\"$REL/leak.service\".*a watched cgroup: its owner restarts it" "$LOG"
check "still guarded after the kill" state_is "$REL/leak.service" running
grep "\"service\":\"$REL/leak.service\"" "$LOG" | sed 's/^/# /'

# --- a reload forgets them and finds them again; it removes none
"$GUARDCTL" reload | sed 's/^/# reload: /'
check "after a reload the watched cgroups are guarded again" \
	wait_for 10000 eval "state_is '$REL/leak.service' running && state_is '$REL/early.job' running"
# The forgotten services are reaped from the loop right after the reload
# answered, before guardian reads the next request.
"$GUARDCTL" status >/dev/null
check "an empty watched cgroup is not removed by the reload" [ -d "$W/early.job" ]

# --- an rmdir forgets it
rmdir "$W/early.service" || bail "rmdir"
check "an rmdir'd cgroup is forgotten" \
	wait_for 10000 eval "! '$GUARDCTL' status '$REL/early.service' >/dev/null 2>&1"

# --- guardian's exit takes its tripwire off
guardian_kill TERM
check "guardian's exit puts memory.high back to max" [ "$(cg_read "$W/leak.service" memory.high)" = max ]
done_testing
