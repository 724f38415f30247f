#!/usr/bin/env bash
# User-space instructions tollgate executes per proxied keep-alive request,
# counted by callgrind: the same figure for the same binary on every run,
# whatever else the machine is doing (CPU-time benchmarks on a shared VM
# vary by +-15% between rounds). Use it to compare two builds of tollgate;
# use compare.sh for the comparison with nginx and HAProxy (which includes
# the kernel's share, about three quarters of the CPU here).
#
#   proxy/benches/instructions.sh
#   TOLLGATE=/tmp/tollgate-old proxy/benches/instructions.sh   # a given build
#   PEERS=0 proxy/benches/instructions.sh   # tollgate only (no nginx/HAProxy)
#   EXTRA_TOML=$'[metrics.prometheus]\nentryPoint = "http"' PEERS=0 proxy/benches/instructions.sh
#                                           # with more config (what metrics cost)
#
# Routes: `/plain/` (no middleware) and `/auth/` (basicAuth, a bcrypt user,
# credentials on every request, so all but the first of an instance are
# cache hits). With PEERS=1 (the default), nginx and HAProxy proxying the
# same requests to the same backend are counted too (one worker each, as in
# compare.sh); they add no X-Forwarded-* headers, tollgate adds six. Load: wrk, 10 keep-alive connections; counting is switched
# on after a warm-up and off before the process ends, so start-up and
# shutdown are not counted.
# Requires: valgrind, wrk, nginx (backend), a release build of tollgate.
set -euo pipefail
cd "$(dirname "$0")/../.."

BACKEND_PORT=18020 TOLLGATE_PORT=18021 PEER_PORT=18022
PEERS=${PEERS:-1}
SECONDS_COUNTED=${SECONDS_COUNTED:-6}

. "$(dirname "$0")/common.sh"
require_tools wrk nginx valgrind callgrind_control
build_tollgate

write_backend $BACKEND_PORT
write_auth_routes $TOLLGATE_PORT $BACKEND_PORT
printf '%s\n' "${EXTRA_TOML:-}" >>"$work/tollgate.toml"

nginx -c "$work/backend.conf" -p "$work" & pids+=($!)
wait_port $BACKEND_PORT

# count NAME PORT PATH COMMAND... : instructions per request of COMMAND (a
# proxy listening on PORT) under load on PATH, one fresh process.
count() {
  local name=$1 port=$2 path=$3 out="$work/callgrind.$1" vg reqs ir
  shift 3
  TOLLGATE_WORKER_THREADS=1 valgrind --tool=callgrind --instr-atstart=no \
    --callgrind-out-file="$out" "$@" 2>"$work/valgrind.$name.log" &
  vg=$!
  pids+=($vg)
  for _ in $(seq 600); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
  # Warm-up: connections, code paths, the one bcrypt verification.
  wrk -t1 -c10 -d3s -s "$work/auth.lua" "http://127.0.0.1:$port$path" >/dev/null
  callgrind_control -i on "$vg" >/dev/null 2>&1
  reqs=$(wrk -t1 -c10 -d"${SECONDS_COUNTED}s" -s "$work/auth.lua" "http://127.0.0.1:$port$path" |
    awk '/requests in/ {print $1}')
  callgrind_control -i off "$vg" >/dev/null 2>&1
  callgrind_control -d "$vg" >/dev/null 2>&1
  sleep 1
  kill "$vg"
  wait "$vg" 2>/dev/null || true
  ir=$(cat "$out"* | awk '/^totals:/ {s += $2} END {print s}')
  awk -v i="$ir" -v r="$reqs" 'BEGIN { printf "%.0f", i / r }'
}

tollgate=("$TOLLGATE" run --config "$work/tollgate.toml")
plain=$(count plain $TOLLGATE_PORT /plain/ "${tollgate[@]}")
auth=$(count auth $TOLLGATE_PORT /auth/ "${tollgate[@]}")
printf 'instructions per request (user space, callgrind):\n'
printf '  tollgate, plain route       %6d\n' "$plain"
printf '  tollgate, basic-auth route  %6d  (%+.1f%%)\n' "$auth" "$(awk -v p="$plain" -v a="$auth" 'BEGIN { print (a - p) / p * 100 }')"

if [ "$PEERS" = 1 ]; then
  require_tools haproxy
  # The same port for both: they are counted one after the other.
  write_peers $PEER_PORT $PEER_PORT $BACKEND_PORT off
  printf '  nginx                       %6d\n' "$(count nginx $PEER_PORT /plain/ nginx -c "$work/nginx.conf" -p "$work")"
  printf '  HAProxy                     %6d\n' "$(count haproxy $PEER_PORT /plain/ haproxy -f "$work/haproxy.cfg" -db)"
fi
