#!/usr/bin/env bash
# guardian on a host without a usable cgroup v2 memory controller (here a
# directory that is no cgroup2 mount, as on a hybrid host): it refuses to
# start with exit 78, says why and what to change, and the unit it ships
# does not restart it for that exit (nor for a failed check before it).
# Usage: host-refusal.sh GUARDIAN UNIT-FILE
set -u
guardian=$1 unit=$2
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
fail=0
ok() { if "$@"; then echo "ok: $desc"; else echo "FAIL: $desc"; fail=1; fi; }

mkdir -p "$t/cg" "$t/policies" "$t/state" "$t/run"
for args in "--check-host" "--policies $t/policies --state-dir $t/state --runtime-dir $t/run"; do
	# shellcheck disable=SC2086
	"$guardian" --cgroup-root "$t/cg" $args >"$t/out" 2>"$t/err"
	rc=$?
	desc="guardian $args on a directory that is no cgroup2 mount exits 78 ($rc)"; ok [ "$rc" = 78 ]
	desc="... saying it refuses and where"
	ok grep -qF "refusing to start: no usable cgroup v2 memory controller at $t/cg." "$t/err"
	desc="... and what to change"; ok grep -qF "systemd.unified_cgroup_hierarchy=1" "$t/err"
	sed 's/^/# /' "$t/err"
done
desc="nothing was written in the state or runtime directory"
ok [ -z "$(ls -A "$t/state" "$t/run" | grep -v ':$' | grep .)" ]
desc="the unit does not restart guardian for exit 78"
ok grep -qxE 'RestartPreventExitStatus=(.* )?78( .*)?' "$unit"
# RestartPreventExitStatus= sees only the main process: a check before it
# that failed would be restarted in a loop.
desc="the unit has no ExecStartPre= whose failure it would restart"
ok bash -c "[ -f '$unit' ] && ! grep -q '^ExecStartPre=' '$unit'"
exit $fail
