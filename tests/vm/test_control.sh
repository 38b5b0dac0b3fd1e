#!/usr/bin/env bash
# The control socket cannot be used to stall guardian: 50 connections held
# open by `nobody`, each trickling one byte every 0.8 s and never finishing
# its request, while a service leaks toward its memory.max; the engine
# still restarts it before the kernel OOM killer, root's `guardctl status`
# still answers at once, the trickling clients are dropped after their
# request deadline, and a uid that opens more than 1024 connections is
# refused past that, without root being refused.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/guardian-lib.sh"
need_helper MEMHOG memhog

P=$T/policies
mkdir -p "$P"
cat >"$P/leak.yaml" <<YAML
service: leak
command: "while [ ! -e $T/go ]; do sleep 0.1; done; exec $MEMHOG --rate 100 --max 400"
limits: {memory_max: 256M, memory_swap_max: 0}
YAML
guardian_start "$P"
check "leak reaches running" wait_for 20000 state_is leak running

# N slow clients as nobody: each sends a byte every 0.8 s, forever; the
# script prints how many the daemon dropped (EOF or reset) when it ends.
slow_clients() {
	setpriv --reuid=65534 --regid=65534 --clear-groups /usr/bin/python3 - "$GUARDIAN_SOCKET" "$1" "$2" "$3" <<'PY'
import socket, sys, time
path, n, seconds, ready = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
socks = []
for _ in range(n):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    socks.append(s)
open(ready, "w").close()
dropped = set()
end = time.monotonic() + seconds
while time.monotonic() < end:
    for i, s in enumerate(socks):
        if i in dropped:
            continue
        try:
            s.send(b"{")
        except OSError:
            dropped.add(i)
    time.sleep(0.8)
print(len(dropped))
PY
}
mkdir -m 777 "$T/nobody" # for the ready mark, written as nobody
slow_clients 50 30 "$T/nobody/slow.ready" >"$T/slow.out" 2>&1 &
slow=$!
check "50 slow clients are connected" wait_for 30000 test -e "$T/nobody/slow.ready"

# --- the loop goes on: status answers, and the leak is caught in time
touch "$T/go" # the leak starts while they trickle (30 s; the leak needs ~3 s)
t0=$(now_ms)
"$GUARDCTL" status >/dev/null
status_ms=$(($(now_ms) - t0))
check "root's guardctl status answers beside them (${status_ms} ms)" [ "$status_ms" -le 2000 ]
check "the engine restarts the leak (an engine record)" wait_for 60000 log_has leak engine 'restart'
check "before the kernel OOM killer (oom_kill $(oom_kills leak))" [ "$(oom_kills leak)" = 0 ]
wait_exit "$slow" 60000 || bail "the slow clients did not finish"
check "every slow client was dropped after its request deadline ($(cat "$T/slow.out") of 50)" \
	[ "$(cat "$T/slow.out")" = 50 ]

# --- a cap per uid: nobody gets 1024 connections, not more; root still gets in
setpriv --reuid=65534 --regid=65534 --clear-groups /usr/bin/python3 - "$GUARDIAN_SOCKET" >"$T/cap.out" 2>&1 <<'PY' &
import resource, socket, sys, time
resource.setrlimit(resource.RLIMIT_NOFILE, (4096, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
socks, refused = [], 0
for _ in range(1100):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sys.argv[1])
    socks.append(s)
time.sleep(0.5)
for s in socks:
    s.setblocking(False)
    try:
        if b"too many connections" in s.recv(200):
            refused += 1
    except BlockingIOError:
        pass
print(refused, flush=True)
time.sleep(3)
PY
cap=$!
check "nobody's connections past 1024 are refused" wait_for 30000 file_has "$T/cap.out" '^[0-9]+$'
check "... all 76 of them ($(head -n 1 "$T/cap.out"))" [ "$(head -n 1 "$T/cap.out")" = 76 ]
check "root's guardctl status still answers meanwhile" "$GUARDCTL" status leak
wait_exit "$cap" 20000
done_testing
