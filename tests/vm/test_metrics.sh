#!/usr/bin/env bash
# guardian's /metrics (--metrics-listen) scraped by a real Prometheus
# server (Debian's): the target is up, a service's working set and its
# restart counter after a kill -9 come back through Prometheus' query API,
# promtool accepts the exposition, and a client that never finishes its
# request is cut off while scrapes beside it go on.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/guardian-lib.sh"
need_helper MEMHOG memhog
PROMETHEUS=/usr/bin/prometheus
PROMTOOL=/usr/bin/promtool
[ -x "$PROMETHEUS" ] && [ -x "$PROMTOOL" ] || bail "prometheus not installed (tools/install-deps)"
command -v curl >/dev/null || bail "curl not installed (tools/install-deps)"

PORT=9464
METRICS=http://127.0.0.1:$PORT/metrics
PROM=http://127.0.0.1:9090

P=$T/policies
mkdir -p "$P"
cat >"$P/web.yaml" <<YAML
service: web
command: ["$MEMHOG", "--rate", "0", "--max", "48", "--hold"]
limits: {memory_max: 256M, memory_swap_max: 0}
restart: {mode: always, delay: 200ms}
YAML
# A leak the pressure engine restarts before the kernel OOM killer: a
# decision for the latency histogram and an engine action.
cat >"$P/leak.yaml" <<YAML
service: leak
command: "while [ ! -e $T/go ]; do sleep 0.1; done; exec $MEMHOG --rate 100 --max 400"
limits: {memory_max: 256M, memory_swap_max: 0}
YAML

guardian_start "$P" --metrics-listen "127.0.0.1:$PORT"
check "web reaches running" wait_for 20000 state_is web running
check "web holds its 48 MB" wait_for 20000 file_has "$T/state/logs/web.log" "holding 48"

# --- the exposition itself
scrape() { curl -sf --max-time 5 "$METRICS"; }
metric() { # NAME_AND_LABELS: its value in a fresh scrape ("" if absent)
	scrape | awk -v k="$1" '$1 == k { print $2 }'
}
check "guardian logged where /metrics is" file_has "$T/guardian.log" "metrics: http://127.0.0.1:$PORT/metrics"
check "GET /metrics answers 200 with the text format" \
	sh -c "curl -sf -D - -o /dev/null '$METRICS' | grep -qi '^content-type: text/plain; version=0.0.4'"
check "guardian_up is 1" [ "$(metric guardian_up)" = 1 ]
# the engine samples the working set; a full sample follows a move of 1 MiB
ws_sampled() { [ "$(metric 'guardian_memory_working_set_bytes{service="web"}')" -ge $((40 << 20)) ] 2>/dev/null; }
check "the working set of web is in /metrics ($(metric 'guardian_memory_working_set_bytes{service="web"}') bytes)" \
	wait_for 30000 ws_sampled
check "memory.max of web is 256 MiB" [ "$(metric 'guardian_memory_max_bytes{service="web"}')" = $((256 << 20)) ]
scrape >"$T/exposition.txt"
if "$PROMTOOL" check metrics <"$T/exposition.txt" >"$T/promtool.out" 2>&1; then
	pass "promtool check metrics accepts the exposition"
else
	fail "promtool check metrics accepts the exposition" "$(cat "$T/promtool.out")"
fi

# --- the engine's decisions: counted, and timed from the event
touch "$T/go"
check "the engine restarts the leak" wait_for 60000 log_has leak engine restart
rm -f "$T/go" # its next run waits
check "the engine's restart is in guardian_actions_total" \
	[ "$(scrape | grep -c '^guardian_actions_total{service="leak",source="engine",action="restart",rule="default guard"} [1-9]')" = 1 ]
decisions=$(metric guardian_decision_latency_seconds_count)
check "the decision latency histogram counted the engine's decisions ($decisions)" [ "${decisions:-0}" -ge 1 ]
diag "decision latency: $(metric guardian_decision_latency_seconds_sum) s in all"
inf=$(metric 'guardian_decision_latency_seconds_bucket{le="+Inf"}')
in_time=$(metric 'guardian_decision_latency_seconds_bucket{le="2.5"}')
check "each was carried out within 2.5 s of its event ($in_time of $inf)" [ "${in_time:-x}" = "$inf" ]

# --- a real Prometheus server scrapes it every second
mkdir -p "$T/prom"
cat >"$T/prometheus.yml" <<YAML
global: {scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: guardian
    static_configs: [{targets: ["127.0.0.1:$PORT"]}]
YAML
"$PROMETHEUS" --config.file="$T/prometheus.yml" --storage.tsdb.path="$T/prom" \
	--web.listen-address=127.0.0.1:9090 --log.level=warn >"$T/prometheus.log" 2>&1 &
PROM_PID=$!
trap '_st=$?; kill "$PROM_PID" 2>/dev/null; guardian_cleanup; (exit $_st); _lib_cleanup' EXIT
# Prometheus in an emulated VM reads its 50 MB binary over 9p and replays
# nothing: it may still take tens of seconds to be ready.
prom_ready() { curl -sf --max-time 5 "$PROM/-/ready" >/dev/null; }
if ! wait_for 240000 prom_ready; then
	tail -20 "$T/prometheus.log"
	bail "prometheus did not become ready"
fi
pass "prometheus is ready"
target_up() { curl -sf --max-time 5 "$PROM/api/v1/targets" | grep -q '"health":"up"'; }
check "prometheus scraped guardian: the target is up" wait_for 120000 target_up

# query EXPR: the value of the first sample of an instant query ("" if none)
query() {
	curl -sf --max-time 5 -G "$PROM/api/v1/query" --data-urlencode "query=$1" |
		grep -o '"value":\[[^]]*\]' | head -1 | sed 's/.*,"\([^"]*\)"\]/\1/'
}
prom_ws() { local v; v=$(query 'guardian_memory_working_set_bytes{job="guardian",service="web"}'); [ "${v:-0}" -ge $((40 << 20)) ] 2>/dev/null; }
check "prometheus has the working set of web ($(query 'guardian_memory_working_set_bytes{service="web"}') bytes)" \
	wait_for 60000 prom_ws
check "prometheus has guardian_build_info with the version" \
	sh -c "curl -sf -G '$PROM/api/v1/query' --data-urlencode 'query=guardian_build_info' | grep -q '\"version\":\"'"
check "before the kill, guardian_restarts_total of web is 0" [ "$(query 'guardian_restarts_total{service="web"}')" = 0 ]

# --- kill -9: the restart shows in the counter Prometheus scrapes
old=$(status_row web | awk '{print $2}')
/bin/kill -KILL "$old" # its comm, "kill", is the sender
new_pid() { local r; r=$(status_row web); [ "${r%% *}" = running ] && [ "$(echo "$r" | awk '{print $2}')" != "$old" ]; }
check "guardian restarts web after kill -9 of pid $old" wait_for 30000 new_pid
prom_restarts() { [ "$(query 'guardian_restarts_total{service="web"}')" = 1 ]; }
check "prometheus sees guardian_restarts_total of web at 1" wait_for 60000 prom_restarts
check "the restart is in guardian_actions_total (source guardian, action restart)" \
	[ "$(metric 'guardian_actions_total{service="web",source="guardian",action="restart",rule=""}')" -ge 1 ]
if grep -q 'signal: on' <("$GUARDCTL" status 2>/dev/null); then
	check "the SIGKILL and its sender are counted (signal observer on)" \
		[ "$(metric 'guardian_signals_received_total{service="web",signal="KILL",sender_comm="kill"}')" -ge 1 ]
else
	diag "the BPF signal observer is off: no sender to count"
fi
bpf_exported() { scrape | grep -q '^guardian_bpf_program_loaded{program="oomkill"} [01]$'; }
check "the BPF observers' state is exported" bpf_exported

# --- a client that never finishes its request holds only its own connection
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
printf 'GET /metrics HTTP/1.1\r\nHost: x\r\n' >&3
t0=$(now_ms)
beside=$(metric guardian_up)
check "a scrape beside the unfinished request is answered" [ "$beside" = 1 ]
# The server shuts the socket down at its 10 s request deadline: EOF.
cut=no
while [ $(($(now_ms) - t0)) -lt 30000 ]; do
	IFS= read -r -t 1 _ <&3
	st=$?
	[ "$st" -gt 128 ] && continue # the read timed out: still open
	[ "$st" -ne 0 ] && { cut=yes; break; } # EOF (a line would be an answer)
done
cut_ms=$(($(now_ms) - t0))
exec 3<&-
cut_in_time() { [ "$cut" = yes ] && [ "$cut_ms" -ge 8000 ] && [ "$cut_ms" -le 20000 ]; }
check "the unfinished request is cut off at its 10 s deadline (after ${cut_ms} ms)" cut_in_time
check "prometheus still scrapes guardian" target_up

kill "$PROM_PID" 2>/dev/null
wait_exit "$PROM_PID" 30000 || diag "prometheus did not exit on SIGTERM"
done_testing
