#!/usr/bin/env bash
# guardctl against a daemon that does not answer (a stand-in that accepts
# and reads, then says nothing): it gives up at --timeout with a message
# saying so, at the default 30 s for status and 3 s for log's question
# where the file is; an answer that comes
# before the deadline is taken; a bad --timeout is refused by name.
# Usage: guardctl-timeout.sh GUARDCTL
set -u
guardctl=$1
t=$(mktemp -d)
standin=
trap '[ -n "$standin" ] && kill "$standin" 2>/dev/null; rm -rf "$t"' EXIT
fail=0
ok() { if "$@"; then echo "ok: $desc"; else echo "FAIL: $desc"; fail=1; fi; }
now_ms() { date +%s%3N; }
# in_range LO HI VALUE (ms): a check of its own, so that ok sees both ends.
in_range() { [ "$3" -ge "$1" ] && [ "$3" -lt "$2" ]; }

# The stand-in answers each request after DELAY seconds (-1: never).
python3 - "$t/sock" "$t/ready" <<'PY' &
import json, os, socket, sys, threading, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1])
s.listen(16)
open(sys.argv[2], "w").close()
def serve(c):
    line = c.makefile().readline()
    delay = float(open(sys.argv[1] + ".delay").read())
    if delay < 0:
        time.sleep(3600)
    time.sleep(delay)
    c.sendall(json.dumps({"ok": True, "services": [], "version": "standin"}).encode() + b"\n")
    c.close()
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PY
standin=$!
for _ in $(seq 100); do [ -e "$t/ready" ] && break; sleep 0.1; done

echo -1 >"$t/sock.delay"
start=$(now_ms)
"$guardctl" --socket "$t/sock" --timeout 1 status >"$t/out" 2>"$t/err"
rc=$? took=$(($(now_ms) - start))
desc="status --timeout 1 to a daemon that does not answer exits 1 ($rc)"; ok [ "$rc" = 1 ]
desc="... after about a second ($took ms)"; ok in_range 1000 10000 "$took"
desc="... saying no answer came and how to wait longer"
ok grep -qF "guardctl status: no answer from guardian at $t/sock within 1s: it may be stuck" "$t/err"
sed 's/^/# /' "$t/err"

start=$(now_ms)
"$guardctl" --socket "$t/sock" --timeout 500ms stop web >"$t/out" 2>"$t/err"
rc=$? took=$(($(now_ms) - start))
desc="stop --timeout 500ms exits 1 ($rc)"; ok [ "$rc" = 1 ]
desc="... after about half a second ($took ms)"; ok in_range 500 10000 "$took"
desc="... and says the stop was sent"; ok grep -qF "guardctl stop: the command was sent" "$t/err"

start=$(now_ms)
timeout 120 "$guardctl" --socket "$t/sock" status >"$t/out" 2>"$t/err"
rc=$? took=$(($(now_ms) - start))
desc="status without --timeout gives up ($rc)"; ok [ "$rc" = 1 ]
desc="... at the default 30 s ($took ms)"; ok in_range 30000 60000 "$took"

# stop waits as long as its service takes to settle: no default limit.
timeout 35 "$guardctl" --socket "$t/sock" stop web >"$t/out" 2>"$t/err"
rc=$?
desc="stop without --timeout still waits after 35 s (timeout's 124: $rc)"; ok [ "$rc" = 124 ]

# log only asks the daemon where its file is: it waits 3 s, not 30.
start=$(now_ms)
"$guardctl" --socket "$t/sock" log --json >"$t/out" 2>"$t/err"
took=$(($(now_ms) - start))
desc="log to a daemon that does not answer falls back to the default file"
ok grep -qF "guardctl log: reading /var/lib/guardian/actions.jsonl" "$t/err"
desc="... after 3 s ($took ms)"; ok in_range 3000 10000 "$took"

echo 2 >"$t/sock.delay"
"$guardctl" --socket "$t/sock" --timeout 10 status --json >"$t/out" 2>"$t/err"
rc=$?
desc="an answer 2 s late within --timeout 10 is taken ($rc)"; ok [ "$rc" = 0 ]
desc="... and printed"; ok grep -q '"version": *"standin"' "$t/out"

"$guardctl" --socket "$t/sock" --timeout soon status >"$t/out" 2>"$t/err"
rc=$?
desc="--timeout soon is refused (exit 2: $rc)"; ok [ "$rc" = 2 ]
desc="... naming the option and the value"; ok grep -qF "guardctl: --timeout: 'soon' is not a duration" "$t/err"
exit $fail
