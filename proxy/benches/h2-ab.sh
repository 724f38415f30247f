#!/usr/bin/env bash
# Two tollgate builds against each other on HTTP/2 over TLS (h2load, ALPN
# h2, HTTP/1.1 backend), in the same run:
#
#   proxy/benches/h2-ab.sh OLD_BIN NEW_BIN            # CPU µs/request, paired
#   ROUNDS=12 DURATION=4 proxy/benches/h2-ab.sh OLD NEW
#   CALLGRIND=1 proxy/benches/h2-ab.sh OLD NEW        # instructions/request
#   CALLGRIND=1 KEEP=/tmp/cg proxy/benches/h2-ab.sh OLD NEW  # and keep the
#     profiles (KEEP/old.out, KEEP/new.out) for callgrind_annotate
#
# CPU mode: each round runs both builds one after the other (order
# alternating), one worker thread pinned to CPU 1, the backend (nginx) and
# h2load on CPU 0; a build's figure is its process's CPU time (user + sys,
# /proc) per completed request; NEW/OLD is paired round by round, since
# this VM's speed drifts by more than the difference being measured.
# CALLGRIND mode counts each build's user-space instructions per request
# under valgrind (20,000 requests after 2,000 of warm-up): repeatable to
# 0.1%, blind to the kernel's share (system calls).
# Requires: h2load (nghttp2-client), nginx, openssl, taskset; valgrind for
# CALLGRIND.
set -euo pipefail
OLD=$(realpath "$1") NEW=$(realpath "$2")
cd "$(dirname "$0")/../.."
ROUNDS=${ROUNDS:-8} DURATION=${DURATION:-5} CALLGRIND=${CALLGRIND:-} KEEP=${KEEP:-}
H2ARGS=${H2ARGS:--c50 -m10}
BACKEND_PORT=18090 TOLLGATE_PORT=18091

. proxy/benches/common.sh
require_tools h2load nginx openssl taskset
[ -z "$CALLGRIND" ] || require_tools valgrind callgrind_control
w=$work
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$w/k.pem" \
  -out "$w/c.pem" -days 2 -subj /CN=localhost >/dev/null 2>&1
write_backend $BACKEND_PORT
taskset -c 0 nginx -c "$w/backend.conf" -p "$w" & pids+=($!)
cat >"$w/tollgate.toml" <<C
logLevel = "ERROR"
[lifeCycle]
graceTimeOut = "1s"
[entryPoints.bench]
address = "127.0.0.1:$TOLLGATE_PORT"
  [entryPoints.bench.tls]
    [[entryPoints.bench.tls.certificates]]
    certFile = "$w/c.pem"
    keyFile = "$w/k.pem"
[frontends.bench]
backend = "bench"
  [frontends.bench.routes.r]
  rule = "PathPrefix:/"
[backends.bench.servers.s1]
url = "http://127.0.0.1:$BACKEND_PORT"
C
url=https://127.0.0.1:$TOLLGATE_PORT/
served() { awk '/^requests:/ {print $8}'; }

# cpu BIN : CPU µs per request over DURATION s of load.
cpu() {
  TOLLGATE_WORKER_THREADS=1 taskset -c 1 "$1" run --config "$w/tollgate.toml" 2>>"$w/tollgate.log" &
  local p=$! c0 c1 n
  wait_port $TOLLGATE_PORT
  taskset -c 0 h2load -t1 $H2ARGS -D 1 "$url" >/dev/null 2>&1 # warm-up
  c0=$(ticks "$p")
  n=$(taskset -c 0 h2load -t1 $H2ARGS -D "$DURATION" "$url" 2>&1 | served)
  c1=$(ticks "$p")
  kill "$p"; wait "$p" 2>/dev/null || true
  awk -v c=$((c1 - c0)) -v n="$n" -v hz="$hz" 'BEGIN { printf "%.2f", c * 1e6 / hz / n }'
}

# instructions BIN NAME : user-space instructions per request (callgrind).
instructions() {
  TOLLGATE_WORKER_THREADS=1 valgrind --tool=callgrind --callgrind-out-file="$w/cg.out" \
    "$1" run --config "$w/tollgate.toml" 2>>"$w/tollgate.log" &
  local p=$! n
  wait_port $TOLLGATE_PORT 600 # valgrind starts slowly
  h2load -t1 -c10 -m10 -n 2000 "$url" >/dev/null
  callgrind_control -z "$p" >/dev/null 2>&1
  n=$(h2load -t1 -c10 -m10 -n 20000 "$url" | served)
  callgrind_control -d "$p" >/dev/null 2>&1
  kill "$p"; wait "$p" 2>/dev/null || true
  callgrind_annotate "$w/cg.out.1" 2>/dev/null | awk -v n="$n" '/PROGRAM TOTALS/ { gsub(",", "", $1); printf "%.0f", $1 / n }'
  [ -z "$KEEP" ] || { mkdir -p "$KEEP" && cp "$w/cg.out.1" "$KEEP/$2.out"; }
  rm -f "$w"/cg.out*
}

if [ -n "$CALLGRIND" ]; then
  a=$(instructions "$OLD" old) b=$(instructions "$NEW" new)
  echo "instructions/request: old $a  new $b  new/old $(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.3f", b / a }')"
  exit 0
fi
ratios=()
for r in $(seq "$ROUNDS"); do
  if ((r % 2)); then a=$(cpu "$OLD") b=$(cpu "$NEW"); else b=$(cpu "$NEW") a=$(cpu "$OLD"); fi
  ratios+=("$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.3f", b / a }')")
  echo "round $r: old $a  new $b µs/req  new/old ${ratios[-1]}"
done
printf '%s\n' "${ratios[@]}" | sort -g | awk '{v[NR] = $1} END {
  m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
  lower = 0; for (i = 1; i <= NR; i++) if (v[i] < 1) lower++
  printf "new/old median %.3f, new lower in %d of %d rounds\n", m, lower, NR }'
