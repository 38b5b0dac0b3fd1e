#!/usr/bin/env bash
# guardctl check against this machine: a group without a user loads with a
# warning (exit 0), a user the machine does not know and a nofile limit
# past fs.nr_open fail the check (exit 1), each named FILE:LINE:COL: KEY.
set -u
guardctl=$1
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
fail=0
ok() { if "$@"; then echo "ok: $desc"; else echo "FAIL: $desc"; fail=1; fi; }

printf 'service: g\ncommand: [sleep, "1"]\ngroup: root\n' >"$t/g.yaml"
"$guardctl" check "$t/g.yaml" >"$t/out" 2>"$t/err"
rc=$?
desc="a group without a user passes the check ($rc)"; ok [ "$rc" = 0 ]
desc="... and is ok"; ok grep -qF "$t/g.yaml: ok (service g)" "$t/out"
desc="... with a warning that it runs as root"
ok grep -qF "$t/g.yaml:3:8: warning: group: without user the service runs as root (guardian's own user) with only its group changed to 'root'; give user: too" "$t/err"

printf 'service: u\ncommand: [sleep, "1"]\nuser: guardian-test-no-such-user\n' >"$t/u.yaml"
"$guardctl" check "$t/u.yaml" >"$t/out" 2>"$t/err"
rc=$?
desc="a user this machine does not know fails the check ($rc)"; ok [ "$rc" = 1 ]
desc="... at its key"; ok grep -qxF "$t/u.yaml:3:7: user: no such user 'guardian-test-no-such-user'" "$t/err"

nr_open=$(cat /proc/sys/fs/nr_open)
printf 'service: n\ncommand: [sleep, "1"]\nrlimits: {nofile: %s}\n' $((nr_open + 1)) >"$t/n.yaml"
"$guardctl" check "$t/n.yaml" >"$t/out" 2>"$t/err"
rc=$?
desc="nofile past fs.nr_open ($nr_open) fails the check ($rc)"; ok [ "$rc" = 1 ]
desc="... naming the limit"
ok grep -qF "$t/n.yaml:3:19: rlimits.nofile: $((nr_open + 1)) is above fs.nr_open ($nr_open in /proc/sys/fs/nr_open)" "$t/err"
cat "$t/err" | sed 's/^/# /'
exit $fail
