#!/usr/bin/env bash
# guardctl check against this machine: a nofile limit past fs.nr_open
# fails the check (exit 1), named FILE:LINE:COL: KEY with the limit.
set -u
guardctl=$1
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
fail=0
ok() { if "$@"; then echo "ok: $desc"; else echo "FAIL: $desc"; fail=1; fi; }

nr_open=$(cat /proc/sys/fs/nr_open)
printf 'service: n\ncommand: [sleep, "1"]\nrlimits: {nofile: %s}\n' $((nr_open + 1)) >"$t/n.yaml"
"$guardctl" check "$t/n.yaml" >"$t/out" 2>"$t/err"
rc=$?
desc="nofile past fs.nr_open ($nr_open) fails the check ($rc)"; ok [ "$rc" = 1 ]
desc="... naming the limit"
ok grep -qF "$t/n.yaml:3:19: rlimits.nofile: $((nr_open + 1)) is above fs.nr_open ($nr_open in /proc/sys/fs/nr_open)" "$t/err"
cat "$t/err" | sed 's/^/# /'
exit $fail
