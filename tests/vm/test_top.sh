#!/usr/bin/env bash
# guardctl top and explain's chart against the real daemon: without a
# terminal `top` prints the services soonest to memory.max first (a fast
# leak, a slow one, then a flat service); `explain` draws a leaking
# service's working set growing under its memory.max row; on a
# pseudo-terminal `top` shows the live table and `q` leaves the terminal
# as it found it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/guardian-lib.sh"
need_helper MEMHOG memhog

# Dry run: the engine decides and records, but leaves the leaks growing,
# so their order holds: at the same memory.max, fast (4 MB/s) is always
# nearer it than slow (2 MB/s) until it reaches its --max after 50 s.
# (The engine samples a default-guarded group each time memory.current
# moves 1% of memory.max, and fits growth over 5 s: a leak of 1% of
# memory.max per 5 s or less shows no growth, by design.)
P=$T/policies
mkdir -p "$P"
cat >"$P/fast.yaml" <<YAML
service: fast
command: ["$MEMHOG", "--rate", "4", "--max", "200", "--hold"]
limits: {memory_max: 256M, memory_swap_max: 0}
dry_run: true
YAML
cat >"$P/slow.yaml" <<YAML
service: slow
command: ["$MEMHOG", "--rate", "2", "--max", "200", "--hold"]
limits: {memory_max: 256M, memory_swap_max: 0}
dry_run: true
YAML
cat >"$P/calm.yaml" <<YAML
service: calm
command: ["sleep", "100000"]
limits: {memory_max: 64M}
YAML
guardian_start "$P"
for s in fast slow calm; do
	check "$s reaches running" wait_for 20000 state_is "$s" running
done

# top_sorted: the snapshot's services are fast, slow, calm in that order,
# the two leaks with a time to memory.max (column 6).
top_sorted() {
	"$GUARDCTL" top >"$T/top.out" 2>&1 || return 1
	awk 'NR == 1 { if ($1 != "SERVICE") exit 1; next }
	     { names = names $1 " "; ttm[$1] = $6 }
	     END { exit !(names == "fast slow calm " && ttm["fast"] != "-" && ttm["slow"] != "-") }' \
		"$T/top.out"
}
check "top without a terminal: fast, slow, calm, soonest to memory.max first" wait_for 40000 top_sorted
cat "$T/top.out" | sed 's/^/# /'
check "top without a terminal: exit 0 and no escape sequences" \
	eval '"$GUARDCTL" top >"$T/top2.out" && ! grep -q $'"'"'\033'"'"' "$T/top2.out"'

# chart_growing SERVICE: explain's chart has a memory.max row with every
# '#' below it, and the columns' bars (left: oldest) never fall and rise
# through at least three heights: the leak, under its limit.
chart_growing() {
	"$GUARDCTL" explain "$1" >"$T/explain.out" 2>&1 || return 1
	awk -F'|' '/^ *[0-9.]+[BKMGT]? \|/ || /^ *0 \|/ {
		plot = $2; sub(/ memory\.(max|high) .*/, "", plot)
		rows[n++] = plot
		if ($2 ~ /memory\.max/) maxrow = n - 1
	}
	END {
		if (n < 5 || maxrow == "") exit 1
		for (i = 0; i <= maxrow; i++) if (index(rows[i], "#")) exit 1
		w = length(rows[n - 1]); prev = -1
		for (c = 1; c <= w; c++) {
			h = 0
			for (i = n - 1; i >= 0 && substr(rows[i], c, 1) == "#"; i--) h++
			if (h < prev) exit 1
			if (h != prev) steps++
			prev = h
		}
		exit !(steps >= 3)
	}' "$T/explain.out"
}
check "explain: the chart shows slow's working set growing under memory.max" wait_for 90000 chart_growing slow
sed 's/^/# /' "$T/explain.out"
check "explain: the chart names memory.max" grep -q "memory.max 256.0M" "$T/explain.out"

# On a pseudo-terminal: the live table, then q. python3 starts in ~4 s
# here; its own waits are 60 s, for a loaded host.
check "top on a terminal: draws the table, q quits with exit 0, the terminal restored" \
	/usr/bin/python3 - "$GUARDCTL" <<'PY'
import os, pty, select, subprocess, sys, termios, time
master, slave = pty.openpty()
before = termios.tcgetattr(slave)
p = subprocess.Popen([sys.argv[1], "top", "--interval", "0.5"], stdin=slave, stdout=slave, stderr=slave,
                     start_new_session=True)
out, deadline = b"", time.monotonic() + 60
def read_until(pred):
    global out
    while not pred() and time.monotonic() < deadline:
        if select.select([master], [], [], 0.2)[0]:
            out += os.read(master, 65536)
read_until(lambda: out.count(b"\033[H") >= 2 and b"calm" in out.split(b"\033[H")[-1])
assert out.count(b"\033[H") >= 2 and b"fast" in out, out[-500:]
os.write(master, b"q")
rc = p.wait(timeout=60)
read_until(lambda: out.endswith(b"\033[?1049l"))
assert rc == 0, rc
assert out.endswith(b"\033[?25h\033[?1049l"), out[-40:]
assert termios.tcgetattr(slave) == before
PY
done_testing
