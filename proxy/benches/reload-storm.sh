#!/usr/bin/env bash
# Request errors and latency during a reload storm, compared with no reloads
# (issue 4). Not a timed test: it prints numbers for a human to compare.
#
#   proxy/benches/reload-storm.sh                 # 2 phases of 20 s
#   DURATION=30 CONNECTIONS=64 INTERVAL=0.05 proxy/benches/reload-storm.sh
#
# Load: wrk, 1 thread, CONNECTIONS keep-alive connections, GET of a 2-byte
# body through tollgate (release build, `[file] watch = true`) to one of two
# nginx backends.
#   phase "steady": DURATION seconds, the config untouched;
#   phase "storm":  DURATION seconds, the config rewritten every INTERVAL
#                   seconds (temp file + rename, as editors do), each time
#                   moving the route to the other backend.
# Reported per phase: requests, requests/s, non-2xx answers, socket errors,
# latency p50/p90/p99/max, and the reloads tollgate logged (applied/refused).
# Requires: wrk, nginx (Debian packages), a release build of tollgate.
set -euo pipefail
cd "$(dirname "$0")/../.."

DURATION=${DURATION:-20}
CONNECTIONS=${CONNECTIONS:-16}
INTERVAL=${INTERVAL:-0.1}
A_PORT=${A_PORT:-18110} B_PORT=${B_PORT:-18111} TOLLGATE_PORT=${TOLLGATE_PORT:-18112}

. "$(dirname "$0")/common.sh"
require_tools wrk nginx
build_tollgate


cat >"$work/backends.conf" <<CONF
daemon off; worker_processes 1; pid $work/backends.pid; error_log /dev/null crit;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000;
  server { listen 127.0.0.1:$A_PORT; location / { return 200 "a"; } }
  server { listen 127.0.0.1:$B_PORT; location / { return 200 "b"; } } }
CONF

# config TARGET N: the route on backend TARGET (change number N).
config() {
  cat <<CONF
# change $2
logLevel = "INFO"
[entryPoints.http]
address = "127.0.0.1:$TOLLGATE_PORT"
[file]
watch = true
[frontends.app]
backend = "$1"
  [frontends.app.routes.r]
  rule = "PathPrefix:/"
[backends.a.servers.s1]
url = "http://127.0.0.1:$A_PORT"
[backends.b.servers.s1]
url = "http://127.0.0.1:$B_PORT"
CONF
}
config a 0 >"$work/tollgate.toml"


nginx -c "$work/backends.conf" -p "$work" & pids+=($!)
"$TOLLGATE" run --config "$work/tollgate.toml" 2>"$work/tollgate.log" & pids+=($!)
for p in $A_PORT $B_PORT $TOLLGATE_PORT; do wait_port "$p"; done

url="http://127.0.0.1:$TOLLGATE_PORT/"
count() { grep -c "$1" "$work/tollgate.log" || true; }

# run_phase NAME [storm]: wrk for DURATION s (rewriting the config meanwhile
# when asked); leaves wrk's output in $work/NAME.wrk and the reload counts
# in $work/NAME.reloads.
run_phase() {
  local name=$1 storm=${2:-} applied0 refused0 writer=""
  applied0=$(count "configuration reloaded")
  refused0=$(count "configuration refused")
  if [ -n "$storm" ]; then
    (
      n=0
      while :; do
        n=$((n + 1))
        if [ $((n % 2)) = 1 ]; then t=b; else t=a; fi
        config $t "$n" >"$work/.tollgate.toml.tmp"
        mv "$work/.tollgate.toml.tmp" "$work/tollgate.toml"
        echo "$n" >"$work/$name.writes"
        sleep "$INTERVAL"
      done
    ) &
    writer=$!
  fi
  wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency "$url" >"$work/$name.wrk"
  if [ -n "$writer" ]; then kill "$writer"; wait "$writer" 2>/dev/null || true; fi
  # Let the last change land before counting.
  sleep 0.5
  echo "$(( $(count "configuration reloaded") - applied0 )) $(( $(count "configuration refused") - refused0 )) $(cat "$work/$name.writes" 2>/dev/null || echo 0)" >"$work/$name.reloads"
}

wrk -t1 -c"$CONNECTIONS" -d2s "$url" >/dev/null # warm-up
run_phase steady
run_phase storm storm

# field PHASE WHAT: one number out of wrk's report.
field() {
  local f="$work/$1.wrk"
  case $2 in
    requests) awk '/requests in/ {print $1}' "$f" ;;
    rps) awk '/Requests\/sec/ {print $2}' "$f" ;;
    non2xx) awk -F: '/Non-2xx/ {gsub(/ /, "", $2); print $2}' "$f" | grep . || echo 0 ;;
    socket) awk '/Socket errors/ {sub(/.*Socket errors: /, ""); print}' "$f" | grep . || echo "none" ;;
    p50|p75|p90|p99) awk -v p="${2#p}%" '$1 == p {print $2}' "$f" ;;
    max) awk '/Latency/ && !/Distribution/ {print $4; exit}' "$f" ;;
  esac
}

echo
echo "reload storm: wrk -t1 -c$CONNECTIONS, ${DURATION}s per phase; storm = config rewritten every ${INTERVAL}s"
printf '%-22s %-14s %-14s\n' "" steady storm
for what in requests rps non2xx p50 p90 p99 max; do
  printf '%-22s %-14s %-14s\n' "$what" "$(field steady $what)" "$(field storm $what)"
done
printf '%-22s %-14s %-14s\n' "socket errors" "$(field steady socket)" "$(field storm socket)"
read -r sa sr sw <"$work/steady.reloads"
read -r ta tr tw <"$work/storm.reloads"
printf '%-22s %-14s %-14s\n' "config writes" "$sw" "$tw"
printf '%-22s %-14s %-14s\n' "reloads applied" "$sa" "$ta"
printf '%-22s %-14s %-14s\n' "reloads refused" "$sr" "$tr"
