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

cat >"$work/backend.conf" <<CONF
daemon off; worker_processes 1; pid $work/backend.pid; error_log /dev/null crit;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000;
  server { listen 127.0.0.1:$BACKEND_PORT; location / { return 200 "Hello, World!"; } } }
CONF
# test:password, bcrypt cost 10.
cat >"$work/tollgate.toml" <<'CONF'
logLevel = "ERROR"
[entryPoints.http]
address = "127.0.0.1:TOLLGATE_PORT"
[frontends.plain]
backend = "b"
  [frontends.plain.routes.r]
  rule = "PathPrefix:/plain/"
[frontends.auth]
backend = "b"
basicAuth = ["test:$2y$10$IgmoIgmoIgmoIgmoIgmoIe8sFypzg5Rusky2yX8M/N658cZW927cW"]
  [frontends.auth.routes.r]
  rule = "PathPrefix:/auth/"
[backends.b.servers.s1]
url = "http://127.0.0.1:BACKEND_PORT"
CONF
sed -i "s/TOLLGATE_PORT/$TOLLGATE_PORT/; s/BACKEND_PORT/$BACKEND_PORT/" "$work/tollgate.toml"
cat >"$work/auth.lua" <<'LUA'
wrk.headers["Authorization"] = "Basic dGVzdDpwYXNzd29yZA=="
LUA

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
  cat >"$work/nginx.conf" <<CONF
daemon off; master_process off; worker_processes 1; pid $work/nginx.pid; error_log /dev/null crit;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000;
  upstream backend { server 127.0.0.1:$BACKEND_PORT; keepalive 64; }
  server { listen 127.0.0.1:$PEER_PORT;
    location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection ""; } } }
CONF
  cat >"$work/haproxy.cfg" <<CONF
global
  nbthread 1
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  option http-keep-alive
frontend fe
  bind 127.0.0.1:$PEER_PORT
  default_backend be
backend be
  http-reuse always
  server s1 127.0.0.1:$BACKEND_PORT
CONF
  printf '  nginx                       %6d\n' "$(count nginx $PEER_PORT /plain/ nginx -c "$work/nginx.conf" -p "$work")"
  printf '  HAProxy                     %6d\n' "$(count haproxy $PEER_PORT /plain/ haproxy -f "$work/haproxy.cfg" -db)"
fi
