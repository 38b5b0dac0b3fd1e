#!/usr/bin/env bash
# guardctl log on an action log that holds what guardian never writes: a
# record whose pids is not a list, lines that are not records, and
# control characters from a process name. Every good record is printed,
# the bad lines are skipped with a word on stderr, nothing aborts, and no
# control character reaches the terminal.
set -u
guardctl=$1
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
printf '%s\n' \
	'{"time":"2026-01-01T00:00:00.000Z","service":"web\u001b]0;pwned\u0007","source":"signal","action":"signal","reason":"SIGKILL from evil\u001b[2J","pids":7}' \
	'[1,2]' \
	'not json' \
	'{"time":"2026-01-01T00:00:01.000Z","service":"db","source":"engine","action":"restart","reason":"fine","pids":[1,"x"]}' \
	'{"time":"2026-01-01T00:00:02.000Z","service":"shop/web-0/2222aaaa3333","source":"kernel","action":"oom-kill","reason":"oom","kubernetes":{"namespace":"shop","pod":"web-0","pod_uid":"u","container":"nginx","container_id":"2222aaaa3333bbbb","qos":"Burstable"}}' \
	>"$t/actions.jsonl"
"$guardctl" log --file "$t/actions.jsonl" >"$t/out" 2>"$t/err"
rc=$?
fail=0
ok() { if "$@"; then echo "ok: $desc"; else echo "FAIL: $desc"; fail=1; fi; }
desc="exits 0 ($rc)"; ok [ "$rc" = 0 ]
desc="prints the three records"; ok [ "$(wc -l <"$t/out")" = 3 ]
desc="a pod container's record names its pod, container and id"; ok grep -qF '[pod shop/web-0 container nginx id 2222aaaa3333]' "$t/out"
desc="no control character in its output"; ok eval '! LC_ALL=C grep -q "[[:cntrl:]]" <(tr -d "\n" <"$t/out")'
desc="the escape shows as text"; ok grep -qF 'web\x1b]0;pwned\x07' "$t/out"
desc="says it skipped the two bad lines"; ok [ "$(grep -c 'skipping a malformed line' "$t/err")" = 2 ]
cat "$t/out" "$t/err" | sed 's/^/# /'
exit $fail
