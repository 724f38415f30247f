#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# tollgate vs nginx vs HAProxy, every scenario in one command and one run:
# the same backend, the same load, the same pinning, rotating rounds; the
# results as Markdown in proxy/benches/RESULTS.md (overwritten), also
# printed at the end.
#
#   proxy/benches/suite.sh                          # all scenarios, 3 rounds x 8 s
#   TOLLGATE_BIN=/tmp/tg proxy/benches/suite.sh     # this binary (default: cargo build --release)
#   SCENARIOS=http,tls,4 ROUNDS=5 proxy/benches/suite.sh
#   ROUNDS=1 DURATION=2 STREAM_MIB=64 WS_CONNS=100 IDLE_CONNS=500 \
#     RESULTS=/tmp/quick.md proxy/benches/suite.sh  # a quick check of the harness
#   PERF_RECORD=/tmp/prof SCENARIOS=h2 proxy/benches/suite.sh  # and a profile
#
# Scenarios (SCENARIOS: names or numbers, comma-separated; default all):
#   1 http       catch-all route (PathPrefix:/), HTTP/1.1 keep-alive: wrk -t1
#                -c50, GET of a 13-byte body
#   2 prefix     the same through a PathPrefix:/app/ route (nginx: location
#                /app/, HAProxy: path_beg acl; anything else is a 404)
#   3 tls        scenario 1 over TLS (ECDSA P-256 certificate), keep-alive
#   4 handshake  a full TLS handshake per request, ECDSA P-256 and RSA 2048
#                separately (see run_handshake for how)
#   5 h2         HTTP/2 over TLS: h2load -c50 -m10 (500 streams in flight)
#   6 websocket  WS_CONNS (1,000) WebSockets echoing 16-byte messages
#                (suite_clients.py: an asyncio client and echo backend)
#   7 stream     one STREAM_MIB (1 GiB) response, curl -o /dev/null
#   8 auth       scenario 1 behind basic auth, the same MD5-crypt ($1$) hash
#                in all three (see auth_hash below for why not $apr1$)
#   9 idle       IDLE_CONNS (10,000) keep-alive connections, one request
#                each, then idle: RSS per connection
#  10 tlsidle    scenario 9 over TLS (ECDSA P-256)
#  11 h2idle     scenario 9 over HTTP/2 (TLS, ALPN h2), as browsers keep
#                their connections to a dashboard
#  12 latency    scenario 1 at a fixed RATE (10,000 req/s) that every proxy
#                carries, open loop (tools/rate_client.rs, compiled here with
#                rustc): the latency a lightly loaded proxy adds, and its tail
#
# Method (as compare.sh): each proxy runs one worker (nginx
# worker_processes 1, HAProxy nbthread 1, tollgate TOLLGATE_WORKER_THREADS=1)
# pinned with taskset to the last CPU; the backend and every load generator
# share the other CPUs. The figure of merit is the proxy's CPU time (user +
# sys from /proc, all its threads; nginx: its worker) divided by the work
# done (requests, handshakes, messages, GiB): it does not depend on how busy
# the load generator is. Throughput and latency are reported too, but they
# are the load generator's as much as the proxy's. Each round runs every
# proxy once, in an order that rotates every round; the tables give the
# median over the rounds, and tollgate's cost divided by the other's in the
# same round (paired: the host's noise drifts over minutes), median of
# those. RSS is the proxy's (nginx: its worker's) VmRSS after the run.
# All three stay up for a scenario, sharing its backend; the websocket and
# idle scenarios restart the measured proxy before each run, so that its
# RSS grows from a fresh process.
#
# Requires (Debian packages): wrk, nghttp2-client (h2load), nginx-light,
# haproxy, openssl, curl, python3, util-linux (taskset); 2 CPUs or more.
set -euo pipefail
# Resolve a relative TOLLGATE_BIN before leaving the caller's directory.
[ -z "${TOLLGATE_BIN:-}" ] || TOLLGATE_BIN=$(realpath "$TOLLGATE_BIN")
[ -z "${RESULTS:-}" ] || RESULTS=$(realpath -m "$RESULTS")
cd "$(dirname "$0")/../.."
benches=$PWD/proxy/benches

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-8}
WARMUP=${WARMUP:-2}            # seconds of load per proxy before a scenario's rounds
SCENARIOS=${SCENARIOS:-all}
CONNECTIONS=${CONNECTIONS:-50} # wrk and h2load connections
H2_STREAMS=${H2_STREAMS:-10}   # h2load streams per connection
HS_BATCH=${HS_BATCH:-25}       # handshake: connections per h2load process...
HS_PARALLEL=${HS_PARALLEL:-2}  # ... and h2load processes at a time
WS_CONNS=${WS_CONNS:-1000}
STREAM_MIB=${STREAM_MIB:-1024}
IDLE_CONNS=${IDLE_CONNS:-10000}
RATE=${RATE:-10000}            # latency: requests per second, over CONNECTIONS connections
RESULTS=${RESULTS:-$benches/RESULTS.md}
# Ports 18060-18064: apart from compare.sh's, wasm-throughput.sh's and
# instructions.sh's, so those can run at other times without a clash.
BACKEND_PORT=18060 WS_PORT=18061 NGINX_PORT=18062 HAPROXY_PORT=18063 TOLLGATE_PORT=18064

all_scenarios=(http prefix tls handshake h2 websocket stream auth idle tlsidle h2idle latency)
selected=()
if [ "$SCENARIOS" = all ]; then
  selected=("${all_scenarios[@]}")
else
  IFS=, read -ra asked <<<"$SCENARIOS"
  for s in "${asked[@]}"; do
    [[ $s =~ ^[1-9][0-9]?$ ]] && s=${all_scenarios[$((s - 1))]:-$s}
    [[ " ${all_scenarios[*]} " == *" $s "* ]] || { echo "unknown scenario '$s' (known: ${all_scenarios[*]}, or 1-${#all_scenarios[@]})" >&2; exit 1; }
    selected+=("$s")
  done
fi
wants() { [[ " ${selected[*]} " == *" $1 "* ]]; }

# shellcheck source=common.sh
. "$benches/common.sh"
require_tools wrk h2load nginx haproxy openssl curl python3 taskset awk
! wants latency || require_tools rustc
cpus=$(nproc)
[ "$cpus" -ge 2 ] || { echo "needs 2 CPUs or more (one for the proxy, one for the load); this machine has $cpus" >&2; exit 1; }
PROXY_CPU=$((cpus - 1)) LOAD_CPUS=0
[ "$cpus" -eq 2 ] || LOAD_CPUS=0-$((cpus - 2))
load=(taskset -c "$LOAD_CPUS")

# Open files: the idle scenario's client and proxy each hold IDLE_CONNS
# sockets, the websocket scenario's proxy twice WS_CONNS (client + backend).
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
need=1024
! wants idle && ! wants tlsidle && ! wants h2idle || need=$((IDLE_CONNS + 1024))
! wants websocket || [ $((2 * WS_CONNS + 1024)) -le $need ] || need=$((2 * WS_CONNS + 1024))
[ "$(ulimit -n)" -ge $need ] || {
  echo "open-file limit $(ulimit -n) (hard $(ulimit -Hn)) is below the $need these scenarios need: raise it (e.g. ulimit -Hn 65536 as root, or LimitNOFILE) or lower IDLE_CONNS/WS_CONNS" >&2
  exit 1
}
max_conns=$((IDLE_CONNS > 2 * WS_CONNS ? IDLE_CONNS : 2 * WS_CONNS))
max_conns=$((max_conns + 1024))

build_tollgate
contenders=(tollgate nginx haproxy)
declare -A port=([nginx]=$NGINX_PORT [haproxy]=$HAPROXY_PORT [tollgate]=$TOLLGATE_PORT) proc=()

# --- certificates, credentials, backends ---

# nginx's workers run as nobody: they read the htpasswd file and the
# streamed file from the work dir.
chmod 755 "$work"

# Self-signed, for 127.0.0.1/localhost; clients do not verify them.
for kind in ec rsa; do
  case $kind in
    ec) newkey=(-newkey ec -pkeyopt ec_paramgen_curve:P-256) ;;
    rsa) newkey=(-newkey rsa:2048) ;;
  esac
  openssl req -x509 "${newkey[@]}" -nodes -days 7 -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
    -keyout "$work/$kind.key" -out "$work/$kind.crt" 2>/dev/null
  cat "$work/$kind.crt" "$work/$kind.key" >"$work/$kind.pem" # HAProxy's crt: both in one
done

# Basic auth: user test, password "password". HAProxy's userlist checks
# with crypt(3) (libxcrypt), which has no Apache $apr1$ (a 401 with the
# right password); MD5-crypt $1$ is the same algorithm (1,000 MD5 rounds)
# under its original prefix, and all three accept it: tollgate's plugin,
# nginx (crypt(3)) and HAProxy.
auth_hash=$(openssl passwd -1 -salt tollgate password)
printf 'test:%s\n' "$auth_hash" >"$work/htpasswd"
auth_header="Authorization: Basic $(printf test:password | base64)"

write_backend $BACKEND_PORT # nginx: "Hello, World!" for any path, and /big
"${load[@]}" nginx -c "$work/backend.conf" -p "$work" & pids+=($!)
wait_port $BACKEND_PORT
if wants websocket; then
  "${load[@]}" python3 "$benches/suite_clients.py" ws-echo $WS_PORT & pids+=($!)
  wait_port $WS_PORT
fi

# --- the proxies ---

# write_configs LISTEN ROUTE UPSTREAM_PORT : nginx.conf, haproxy.cfg and
# tollgate.toml for a scenario. LISTEN: http, ec (TLS with the ECDSA P-256
# certificate, HTTP/2 by ALPN) or rsa (the same with RSA 2048). ROUTE: all
# (PathPrefix:/), app (PathPrefix:/app/, anything else 404), auth (all,
# behind basic auth) or ws (all, WebSocket upgrades passed on).
# Each keeps its backend connections alive and reuses them; tollgate's
# settings are its defaults, the others' are set where their defaults
# would make them do something else than the other two:
#  - nginx: TLS 1.3 (1.22's default stops at 1.2), keep-alive with clients
#    and backend for 10^6 requests (default 1,000, then reconnects), 512
#    idle backend connections (tollgate's default; h2's 500 streams need
#    that many), no response buffering to a temporary file (the streamed
#    GiB would go to disk; its memory buffers stay).
#  - HAProxy: maxconn above the idle scenario's connections; timeouts long
#    enough for idle connections and WebSockets.
write_configs() {
  local listen=$1 route=$2 up=$3 ng_listen ng_tls="" hp_tls="" tg_tls="" prefix=/ hp_rule="" tg_auth="" ng_loc proxy
  ng_listen="listen 127.0.0.1:$NGINX_PORT;"
  if [ "$listen" != http ]; then
    ng_listen="listen 127.0.0.1:$NGINX_PORT ssl http2;"
    ng_tls="ssl_certificate $work/$listen.crt; ssl_certificate_key $work/$listen.key; ssl_protocols TLSv1.2 TLSv1.3;"
    hp_tls="ssl crt $work/$listen.pem alpn h2,http/1.1"
    tg_tls="  [entryPoints.bench.tls]
    [[entryPoints.bench.tls.certificates]]
    certFile = \"$work/$listen.crt\"
    keyFile = \"$work/$listen.key\""
  fi
  proxy='proxy_pass http://backend; proxy_http_version 1.1; proxy_max_temp_file_size 0;'
  case $route in
    all) ng_loc="location / { $proxy proxy_set_header Connection \"\"; }" ;;
    app)
      ng_loc="location /app/ { $proxy proxy_set_header Connection \"\"; } location / { return 404; }"
      hp_rule="http-request deny deny_status 404 unless { path_beg /app/ }"
      prefix=/app/
      ;;
    auth)
      ng_loc="location / { auth_basic bench; auth_basic_user_file $work/htpasswd; $proxy proxy_set_header Connection \"\"; }"
      hp_rule="http-request auth realm bench unless { http_auth(users) }"
      tg_auth="basicAuth = [\"test:$auth_hash\"]"
      ;;
    ws) ng_loc="location / { $proxy proxy_set_header Upgrade \$http_upgrade; proxy_set_header Connection \$connection_upgrade; proxy_read_timeout 1h; }" ;;
  esac
  cat >"$work/nginx.conf" <<CONF
daemon off; worker_processes 1; pid $work/nginx.pid; error_log $work/nginx.log error;
events { worker_connections $max_conns; }
http { access_log off; keepalive_requests 1000000;
  upstream backend { server 127.0.0.1:$up; keepalive 512; keepalive_requests 1000000; }
  map \$http_upgrade \$connection_upgrade { default upgrade; "" ""; }
  server { $ng_listen $ng_tls
    $ng_loc } }
CONF
  # no strict-limits: HAProxy wants 2 files per maxconn (client and server
  # side) and refuses to start when it cannot raise its limit that far;
  # idle keep-alive clients need only one each.
  cat >"$work/haproxy.cfg" <<CONF
global
  nbthread 1
  maxconn $max_conns
  no strict-limits
defaults
  mode http
  option http-keep-alive
  timeout connect 5s
  timeout client 120s
  timeout server 120s
  timeout tunnel 1h
userlist users
  user test password $auth_hash
frontend fe
  bind 127.0.0.1:$HAPROXY_PORT $hp_tls
  $hp_rule
  default_backend be
backend be
  http-reuse always
  server s1 127.0.0.1:$up
CONF
  # graceTimeOut: a stopped tollgate need not wait 10 s for the last
  # connections (no figure depends on it).
  cat >"$work/tollgate.toml" <<CONF
logLevel = "ERROR"
[lifeCycle]
graceTimeOut = "1s"
[entryPoints.bench]
address = "127.0.0.1:$TOLLGATE_PORT"
$tg_tls
[frontends.bench]
backend = "bench"
$tg_auth
  [frontends.bench.routes.r]
  rule = "PathPrefix:$prefix"
[backends.bench.servers.s1]
url = "http://127.0.0.1:$up"
CONF
}

# start_proxy NAME : start it on the proxy CPU (its pid in proc[NAME]) and
# wait until it accepts connections; on failure, show its log and stop.
start_proxy() {
  local name=$1
  case $name in
    nginx) taskset -c "$PROXY_CPU" nginx -c "$work/nginx.conf" -p "$work" 2>>"$work/nginx.log" & ;;
    haproxy) taskset -c "$PROXY_CPU" haproxy -f "$work/haproxy.cfg" -db >>"$work/haproxy.log" 2>&1 & ;;
    tollgate) TOLLGATE_WORKER_THREADS=1 taskset -c "$PROXY_CPU" "$TOLLGATE" run --config "$work/tollgate.toml" 2>>"$work/tollgate.log" & ;;
  esac
  proc[$name]=$!
  for _ in $(seq 200); do
    if ! kill -0 "${proc[$name]}" 2>/dev/null; then break; fi
    if (exec 3<>"/dev/tcp/127.0.0.1/${port[$name]}") 2>/dev/null && [ -n "$(worker "$name")" ]; then return 0; fi
    sleep 0.05
  done
  echo "$name did not start on port ${port[$name]}; its log:" >&2
  tail -20 "$work/$name.log" >&2
  exit 1
}

# stop_proxy NAME : stop it and wait until it is gone (its port is free).
stop_proxy() {
  [ -n "${proc[$1]:-}" ] || return 0
  kill "${proc[$1]}" 2>/dev/null || true
  wait "${proc[$1]}" 2>/dev/null || true
  unset "proc[$1]"
}
stop_proxies() { for p in "${contenders[@]}"; do stop_proxy "$p"; done; }
trap 'stop_proxies; cleanup' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# start_proxies LISTEN ROUTE UPSTREAM_PORT : all three, with these configs.
start_proxies() {
  write_configs "$@"
  for p in "${contenders[@]}"; do start_proxy "$p"; done
}

# worker NAME : the process that does the proxy's work (nginx: the worker,
# not the master, which is idle).
worker() { if [ "$1" = nginx ]; then pgrep -P "${proc[nginx]}" || true; else echo "${proc[$1]}"; fi; }
rss_mb() { awk '/^VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$1/status"; }

# expect NAME URL CODE [CURL ARG...] : the proxy answers URL with CODE, or
# the suite stops (a misconfigured proxy must not be measured).
expect() {
  local name=$1 url=$2 code=$3 got
  shift 3
  got=$(curl -sk -o /dev/null -w '%{http_code}' --max-time 5 "$@" "$url" || true)
  [ "$got" = "$code" ] || { echo "$name: $url answered ${got:-nothing}, not $code" >&2; tail -5 "$work/$name.log" >&2; exit 1; }
}

# note TEXT : a remark for the current scenario's section of the results.
note() { echo "- $*" >>"$work/notes"; echo "  note: $*"; }

# ms DURATION... : wrk's and h2load's durations (850.00us, 1.23ms, 2.01s) in ms.
ms() { awk '{ for (i = 1; i <= NF; i++) { v = $i; printf "%s%.3f", (i > 1 ? " " : ""),
  (v ~ /us$/ ? v / 1000 : v ~ /ms$/ ? v + 0 : v ~ /s$/ ? v * 1000 : v ~ /m$/ ? v * 60000 : v) } print "" }' <<<"$*"; }
# now_us : microseconds since the epoch (EPOCHREALTIME without its
# separator, a comma in some locales).
now_us() { echo "${EPOCHREALTIME//[!0-9]/}"; }
# per UNITS TICKS : microseconds of CPU per unit of work.
per() { awk -v n="$1" -v t="$2" -v hz="$hz" 'BEGIN { printf "%s", (n > 0 ? sprintf("%.2f", t / hz * 1e6 / n) : "-") }'; }

# --- the load of each scenario: run_KEY PROXY sets `result`, the figures
# in the order of the scenario's table (- when there is none) ---

# wrk_load PROXY URL [WRK ARG...] : wrk, 1 thread, CONNECTIONS keep-alive
# connections for DURATION. result: req/s, p50 ms, p99 ms, CPU us/request, RSS MB.
wrk_load() {
  local name=$1 url=$2 pid before after out reqs
  shift 2
  pid=$(worker "$name")
  before=$(ticks "$pid")
  out=$("${load[@]}" wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency "$@" "$url")
  after=$(ticks "$pid")
  reqs=$(awk '/requests in/ {print $1}' <<<"$out")
  if grep -qE 'Non-2xx|Socket errors' <<<"$out"; then note "$name: $(grep -E 'Non-2xx|Socket errors' <<<"$out" | paste -sd';')"; fi
  result="$(awk '/Requests\/sec/ {printf "%.0f", $2}' <<<"$out") $(ms "$(awk '$1 == "50%" || $1 == "99%" {print $2}' <<<"$out" | paste -sd' ')") $(per "$reqs" $((after - before))) $(rss_mb "$pid")"
}

run_http() { wrk_load "$1" "http://127.0.0.1:${port[$1]}/"; }
run_prefix() { wrk_load "$1" "http://127.0.0.1:${port[$1]}/app/hello"; }
run_tls() { wrk_load "$1" "https://127.0.0.1:${port[$1]}/"; }
run_auth() { wrk_load "$1" "http://127.0.0.1:${port[$1]}/" -H "$auth_header"; }

# A full handshake per request, with no session resumption. wrk with
# "Connection: close" and h2load reconnecting after a close both resume the
# session of the connection before (nginx's $ssl_session_reused says so):
# not a full handshake. An h2load client that makes a single request on a
# single connection has no session to offer, so each batch is `h2load --h1
# -n HS_BATCH -c HS_BATCH` (HS_BATCH new connections at once, one request
# each), run in a loop for DURATION, HS_PARALLEL loops at a time so that
# the proxy has work while an h2load process starts. h2load reports no
# percentiles per connection, only each batch's mean and max time from
# connecting to the first byte of the answer (TCP + TLS + request): the
# table gives the medians over the batches of those two.
# The CPU per handshake is the proxy's for the whole connection: TCP
# accept, the handshake, one proxied request, the close.
# result: handshakes/s, mean ms, max ms, CPU us/handshake, RSS MB.
run_handshake() {
  local name=$1 url="https://127.0.0.1:${port[$1]}/" pid before after t0 t1 j loops=() ok failed
  pid=$(worker "$name")
  rm -f "$work"/hs.*
  before=$(ticks "$pid") t0=$(now_us)
  local end=$((t0 + DURATION * 1000000))
  for j in $(seq "$HS_PARALLEL"); do
    (while [ "$(now_us)" -lt $end ]; do
      "${load[@]}" h2load --h1 -t1 -n "$HS_BATCH" -c "$HS_BATCH" "$url" >>"$work/hs.$j" 2>&1 || true
    done) &
    loops+=($!)
  done
  wait "${loops[@]}"
  after=$(ticks "$pid") t1=$(now_us)
  # requests: N total, N started, N done, N succeeded, N failed (errored and
  # timed out included), N errored, N timeout
  read -r ok failed <<<"$(cat "$work"/hs.* | awk '/^requests:/ {d += $8; f += $10} END {print d + 0, f + 0}')"
  [ "$failed" = 0 ] || note "$name: $failed of $((ok + failed)) handshake requests failed: $(grep -hE 'error|fail' "$work"/hs.* | grep -v '^requests:' | sort | uniq -c | sort -rn | head -2 | paste -sd';')"
  local mean max
  # time to 1st byte: MIN MAX MEAN SD +/-SD
  mean=$(ms "$(cat "$work"/hs.* | awk '/^time to 1st byte:/ {printf "%s ", $7}')" | med)
  max=$(ms "$(cat "$work"/hs.* | awk '/^time to 1st byte:/ {printf "%s ", $6}')" | med)
  result="$(awk -v n="$ok" -v us=$((t1 - t0)) 'BEGIN { printf "%.0f", n / us * 1e6 }') $mean $max $(per "$ok" $((after - before))) $(rss_mb "$pid")"
}

# h2load: CONNECTIONS connections over TLS (ALPN h2), H2_STREAMS streams
# in flight on each, for DURATION; latency percentiles from its per-request
# log. result: req/s, p50 ms, p99 ms, CPU us/request, RSS MB.
run_h2() {
  local name=$1 url="https://127.0.0.1:${port[$1]}/" pid before after out ok bad n
  pid=$(worker "$name")
  before=$(ticks "$pid")
  out=$("${load[@]}" h2load -t1 -c"$CONNECTIONS" -m"$H2_STREAMS" -D "$DURATION" --log-file="$work/h2.log" "$url" 2>&1)
  after=$(ticks "$pid")
  grep -q '^Application protocol: h2$' <<<"$out" || note "$name: h2load did not negotiate h2: $(grep '^Application protocol' <<<"$out")"
  read -r ok bad <<<"$(awk '/^requests:/ {print $8, $10}' <<<"$out")"
  [ "${bad:-0}" = 0 ] || note "$name: h2load: $(grep '^requests:' <<<"$out")"
  cut -f3 "$work/h2.log" | sort -n >"$work/h2.sorted"
  n=$(wc -l <"$work/h2.sorted")
  local p50 p99
  p50=$(sed -n "$((n / 2 + 1))p" "$work/h2.sorted") p99=$(sed -n "$((n * 99 / 100 + 1))p" "$work/h2.sorted")
  result="$(awk '/^finished in/ {printf "%.0f", $4}' <<<"$out") $(awk -v a="${p50:-0}" -v b="${p99:-0}" 'BEGIN { printf "%.3f %.3f", a / 1000, b / 1000 }') $(per "${ok:-0}" $((after - before))) $(rss_mb "$pid")"
}

# kv OUTPUT KEY : the value of KEY=value in a line of suite_clients.py's.
kv() { tr ' ' '\n' <<<"$1" | awk -F= -v k="$2" '$1 == k {print $2}'; }

# WebSockets, on a fresh proxy: WS_CONNS connections opened through it to
# the echo backend, then each sends a 16-byte message and waits for its
# echo, again and again, for DURATION. CPU per message is the proxy's over
# the echo phase only, for one round trip (client -> backend -> client).
# The Python client and backend are slower than the proxies: messages/s
# and latency are theirs as much as the proxy's.
# result: messages/s, p50 ms, p99 ms, CPU us/message, RSS MB (open), KiB/WebSocket.
run_websocket() {
  local name=$1 pid out opened
  stop_proxy "$name"
  start_proxy "$name"
  pid=$(worker "$name")
  # Warm-up: the first connections' one-off allocations are not theirs.
  "${load[@]}" python3 "$benches/suite_clients.py" ws-load "${port[$name]}" 10 1 "$pid" >/dev/null
  out=$("${load[@]}" python3 "$benches/suite_clients.py" ws-load "${port[$name]}" "$WS_CONNS" "$DURATION" "$pid")
  opened=$(kv "$out" opened)
  if [ "$opened" != "$WS_CONNS" ] || [ "$(kv "$out" failed)" != 0 ]; then note "$name: $out"; fi
  result="$(awk -v m="$(kv "$out" messages)" -v s="$(kv "$out" seconds)" 'BEGIN { printf "%.0f", m / s }') \
$(kv "$out" p50_ms) $(kv "$out" p99_ms) \
$(awk -v c="$(kv "$out" cpu_s)" -v m="$(kv "$out" messages)" 'BEGIN { printf "%s", (m > 0 ? sprintf("%.2f", c * 1e6 / m) : "-") }') \
$(awk -v k="$(kv "$out" rss_open_kb)" 'BEGIN { printf "%.1f", k / 1024 }') \
$(awk -v a="$(kv "$out" rss_before_kb)" -v b="$(kv "$out" rss_open_kb)" -v n="$opened" 'BEGIN { printf "%s", (n > 0 ? sprintf("%.1f", (b - a) / n) : "-") }')"
}

# One STREAM_MIB response (a sparse file the backend nginx serves from the
# page cache), read by curl as fast as it can. result: MB/s (10^6 bytes),
# CPU s/GiB, RSS MB.
run_stream() {
  local name=$1 pid before after out
  pid=$(worker "$name")
  before=$(ticks "$pid")
  out=$("${load[@]}" curl -s -o /dev/null --max-time 900 -w '%{http_code} %{size_download} %{time_total}' "http://127.0.0.1:${port[$name]}/big" || true)
  after=$(ticks "$pid")
  read -r code size secs <<<"$out"
  if [ "$code" != 200 ] || [ "$size" != $((STREAM_MIB * 1048576)) ]; then note "$name: status ${code:-none}, $size of $((STREAM_MIB * 1048576)) bytes"; fi
  result="$(awk -v b="$size" -v s="$secs" 'BEGIN { printf "%.0f", b / s / 1e6 }') \
$(awk -v t=$((after - before)) -v hz="$hz" -v b="$size" 'BEGIN { printf "%s", (b > 0 ? sprintf("%.3f", t / hz / (b / 1073741824)) : "-") }') $(rss_mb "$pid")"
}

# IDLE_CONNS keep-alive connections to a fresh proxy, each one request,
# then all idle together; RSS with them open minus RSS before, per
# connection. result: RSS MB (open), KiB/connection, seconds to open them.
run_idle() {
  local name=$1 client=${2:-idle} pid out opened
  stop_proxy "$name"
  start_proxy "$name"
  pid=$(worker "$name")
  # Warm-up, as for the websockets.
  "${load[@]}" python3 "$benches/suite_clients.py" "$client" "${port[$name]}" 20 "$pid" >/dev/null
  out=$("${load[@]}" python3 "$benches/suite_clients.py" "$client" "${port[$name]}" "$IDLE_CONNS" "$pid")
  opened=$(kv "$out" opened)
  if [ "$opened" != "$IDLE_CONNS" ] || [ "$(kv "$out" still_open)" != "$opened" ]; then note "$name: $out"; fi
  result="$(awk -v k="$(kv "$out" rss_open_kb)" 'BEGIN { printf "%.1f", k / 1024 }') \
$(awk -v a="$(kv "$out" rss_before_kb)" -v b="$(kv "$out" rss_open_kb)" -v n="$opened" 'BEGIN { printf "%s", (n > 0 ? sprintf("%.2f", (b - a) / n) : "-") }') \
$(kv "$out" open_s)"
}

# CONNECTIONS keep-alive connections sending GET / at RATE requests/s in
# all, on a fixed schedule whatever the answers' pace (rate_client.rs says
# how latency is counted). result: req/s (achieved), p50, p99 and p99.9 in
# µs, CPU us/request, RSS MB.
run_latency() {
  local name=$1 pid before after out ok
  pid=$(worker "$name")
  before=$(ticks "$pid")
  out=$("${load[@]}" "$work/rate_client" "127.0.0.1:${port[$name]}" / "$RATE" "$CONNECTIONS" "$DURATION" 2>"$work/rate.err" || true)
  after=$(ticks "$pid")
  ok=$(kv "$out" ok)
  [ "$(kv "$out" errors)" = 0 ] || note "$name: $out; $(head -1 "$work/rate.err")"
  # Below the asked rate: the load CPU or the proxy fell behind, and the
  # latencies include that wait.
  awk -v r="$(kv "$out" rate)" -v w="$RATE" 'BEGIN { exit !(r < 0.97 * w) }' && note "$name: $(kv "$out" rate) req/s of the $RATE asked"
  result="$(kv "$out" rate) $(kv "$out" p50_us) $(kv "$out" p99_us) $(kv "$out" p999_us) $(per "${ok:-0}" $((after - before))) $(rss_mb "$pid")"
}

# The same over TLS (scenario 10).
run_tlsidle() { run_idle "$1" idle-tls; }
run_h2idle() { run_idle "$1" idle-h2; }

# --- rounds and tables ---

# med : the median of the numbers on stdin (one or more a line), - if none.
med() { tr ' ' '\n' | grep -E '^-?[0-9.]+(e[-+]?[0-9]+)?$' | sort -g | awk '{a[NR] = $1} END {
  if (NR == 0) print "-"; else print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2) }'; }
# fmt NUMBER : to 3 or 4 significant digits, as it is when not a number.
fmt() { awk -v v="$1" 'BEGIN { if (v !~ /^-?[0-9.]/) { print v; exit } a = v < 0 ? -v : v
  printf (a >= 100 ? "%.0f" : a >= 10 ? "%.1f" : a >= 1 ? "%.2f" : "%.3f"), v }'; }

# rounds KEY TITLE HOW COST RATE HEADER... : ROUNDS rounds of run_KEY over
# the three proxies (after a warm-up of WARMUP s each when DURATION applies),

# PERF_RECORD=PREFIX: tollgate's first round of each scenario is recorded
# with `perf record $PERF_OPTS` (default -g) into PREFIX.SCENARIO (not
# websocket and idle, which start a fresh proxy inside the run);
# PERF_PROXIES="tollgate haproxy" records those (others into
# PREFIX.SCENARIO.PROXY), to compare where each spends; release
# builds have no frame pointers, so PERF_OPTS="--call-graph dwarf" shows
# callers. Recording costs CPU: read it for where tollgate spends, not for
# how much.
profile_start() {
  perfpid=
  [ -n "${PERF_RECORD:-}" ] && [[ " ${PERF_PROXIES:-tollgate} " == *" $2 "* ]] && [ "$3" = 1 ] || return 0
  case $1 in websocket | idle | tlsidle | h2idle) return 0 ;; esac
  local out=$PERF_RECORD.$1
  [ "$2" = tollgate ] || out=$out.$2
  # shellcheck disable=SC2086 # PERF_OPTS is a list of options
  perf record -q ${PERF_OPTS:--g} -o "$out" -p "$(worker "$2")" >/dev/null 2>&1 &
  perfpid=$!
}
profile_stop() { [ -z "$perfpid" ] || { kill -INT "$perfpid"; wait "$perfpid" || true; }; }
# the order rotating every round; appends the scenario's table to the
# results and a line to the summary. HEADER names the figures run_KEY sets;
# COST is the column (from 1) of the figure that is lower when better, the
# one paired with tollgate's; RATE that of the throughput (0: none).
rounds() {
  local key=$1 title=$2 how=$3 cost=$4 rate=$5 round k name i r
  shift 5
  local -a head=("$@") f
  local -A col=() per_round=()
  : >"$work/notes"
  echo
  echo "== $title"
  # No warm-up where a run starts a fresh proxy (websocket and the idle ones)
  # or is one long transfer (stream).
  if [[ ! " websocket idle tlsidle h2idle stream " == *" $key "* ]] && [ "$WARMUP" -gt 0 ]; then
    for name in "${contenders[@]}"; do DURATION=$WARMUP "run_$key" "$name"; done
    : >"$work/notes" # what the warm-up saw is not part of the results
  fi
  for round in $(seq "$ROUNDS"); do
    for k in 0 1 2; do
      name=${contenders[$(((round + k) % 3))]}
      profile_start "$key" "$name" "$round"
      "run_$key" "$name"
      profile_stop
      read -ra f <<<"$result"
      printf '  round %d %-9s' "$round" "$name"
      for i in "${!head[@]}"; do
        col[$name,$i]+="${f[$i]:--} "
        printf '  %s %s' "${f[$i]:--}" "${head[$i]}"
      done
      echo
      per_round[$name,$round]=${f[$((cost - 1))]:--}
    done
  done

  # The paired ratios: tollgate's cost over the other's, round by round.
  local -A ratio=() lower=()
  for name in nginx haproxy; do
    local rs="" l=0 n=0
    for round in $(seq "$ROUNDS"); do
      r=$(awk -v a="${per_round[tollgate,$round]}" -v b="${per_round[$name,$round]}" \
        'BEGIN { if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b > 0) printf "%.3f", a / b; else print "-" }')
      [ "$r" = - ] && continue
      rs+="$r " n=$((n + 1))
      l=$((l + $(awk -v r="$r" 'BEGIN { print (r < 1) }')))
    done
    ratio[$name]=$(med <<<"$rs") lower[$name]="$l of $n"
  done

  {
    echo "## $title"
    echo
    echo "$how"
    echo
    printf '| proxy |'; printf ' %s |' "${head[@]}"; printf ' tollgate / proxy, %s (paired) |\n' "${head[$((cost - 1))]}"
    printf '|---|'; printf -- '---:|%.0s' "${head[@]}"; echo '---:|'
    for name in "${contenders[@]}"; do
      printf '| %s |' "$name"
      for i in "${!head[@]}"; do printf ' %s |' "$(fmt "$(med <<<"${col[$name,$i]}")")"; done
      if [ "$name" = tollgate ]; then echo ' |'; else printf ' %s (lower in %s) |\n' "$(fmt "${ratio[$name]}")" "${lower[$name]}"; fi
    done
    echo
    [ ! -s "$work/notes" ] || { echo "Notes:"; echo; cat "$work/notes"; echo; }
  } >>"$work/results.md"

  local c_t c_n c_h rate_cell="-"
  c_t=$(fmt "$(med <<<"${col[tollgate,$((cost - 1))]}")") c_n=$(fmt "$(med <<<"${col[nginx,$((cost - 1))]}")")
  c_h=$(fmt "$(med <<<"${col[haproxy,$((cost - 1))]}")")
  if [ "$rate" -gt 0 ]; then
    rate_cell="$(fmt "$(med <<<"${col[tollgate,$((rate - 1))]}")") / $(fmt "$(med <<<"${col[nginx,$((rate - 1))]}")") / $(fmt "$(med <<<"${col[haproxy,$((rate - 1))]}")") ${head[$((rate - 1))]}"
  fi
  printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$title" "${head[$((cost - 1))]}" "$c_t" "$c_n" "$c_h" \
    "$(fmt "${ratio[nginx]}")" "$(fmt "${ratio[haproxy]}")" "$rate_cell" >>"$work/summary.md"
}

# tls_params : appends to the results what each proxy negotiates with
# OpenSSL's defaults (as wrk's; h2load prefers AES-128-GCM).
tls_params() {
  local name out
  {
    echo "Negotiated with \`openssl s_client\` (OpenSSL's defaults, as wrk; h2load puts AES-128-GCM first):"
    echo
    for name in "${contenders[@]}"; do
      out=$(openssl s_client -connect "127.0.0.1:${port[$name]}" -servername localhost </dev/null 2>/dev/null || true)
      echo "- $name: $(awk '/^New,/ {sub(/,$/, "", $2); v = $2; c = $NF} /^Server Temp Key/ {sub(/,$/, "", $4); k = $4}
        /^Peer signature type/ {s = $4} END {printf "%s %s, key exchange %s, signature %s", v, c, k, s}' <<<"$out")"
    done
    echo
  } >>"$work/results.md"
}

# --- the scenarios ---

wrk_figures=("req/s" "p50 ms" "p99 ms" "CPU µs/req" "RSS MB")
wrk_how="wrk -t1 -c$CONNECTIONS, ${DURATION} s a round, GET of a 13-byte body, HTTP/1.1 keep-alive"

scenario_http() {
  start_proxies http all $BACKEND_PORT
  for p in "${contenders[@]}"; do expect "$p" "http://127.0.0.1:${port[$p]}/" 200; done
  rounds http "1. catch-all route, HTTP/1.1 keep-alive" "$wrk_how; tollgate \`PathPrefix:/\`, nginx \`location /\`, HAProxy default_backend." 4 1 "${wrk_figures[@]}"
  stop_proxies
}

scenario_prefix() {
  start_proxies http app $BACKEND_PORT
  for p in "${contenders[@]}"; do
    expect "$p" "http://127.0.0.1:${port[$p]}/app/hello" 200
    expect "$p" "http://127.0.0.1:${port[$p]}/other" 404
  done
  rounds prefix "2. PathPrefix route" "$wrk_how, of /app/hello; tollgate \`PathPrefix:/app/\`, nginx \`location /app/\`, HAProxy \`path_beg /app/\` (any other path: 404)." 4 1 "${wrk_figures[@]}"
  stop_proxies
}

scenario_tls() {
  start_proxies ec all $BACKEND_PORT
  for p in "${contenders[@]}"; do expect "$p" "https://127.0.0.1:${port[$p]}/" 200; done
  rounds tls "3. TLS keep-alive (ECDSA P-256)" "$wrk_how, over TLS (wrk offers no ALPN: HTTP/1.1)." 4 1 "${wrk_figures[@]}"
  tls_params
  stop_proxies
}

scenario_handshake() {
  local kind title
  for kind in ec rsa; do
    case $kind in ec) title="4a. TLS full handshakes, ECDSA P-256" ;; rsa) title="4b. TLS full handshakes, RSA 2048" ;; esac
    start_proxies "$kind" all $BACKEND_PORT
    for p in "${contenders[@]}"; do expect "$p" "https://127.0.0.1:${port[$p]}/" 200; done
    rounds handshake "$title" "A new connection and full TLS 1.3 handshake (no resumption) per request: \`h2load --h1 -n $HS_BATCH -c $HS_BATCH\` (one request per connection, so no session to resume) in a loop, $HS_PARALLEL loops at once, ${DURATION} s a round. CPU per handshake: the proxy's for the whole connection (accept, handshake, one proxied request, close). Latency: from connect to first byte, the median over the h2load batches of each batch's mean and max. The client's side of a handshake costs more CPU than the server's: on 2 CPUs the rate is the client's limit, not the proxy's." 4 1 \
      "handshakes/s" "mean ms" "max ms" "CPU µs/handshake" "RSS MB"
    tls_params
    stop_proxies
  done
}

scenario_h2() {
  start_proxies ec all $BACKEND_PORT
  for p in "${contenders[@]}"; do expect "$p" "https://127.0.0.1:${port[$p]}/" 200 --http2; done
  rounds h2 "5. HTTP/2 over TLS" "h2load -t1 -c$CONNECTIONS -m$H2_STREAMS ($((CONNECTIONS * H2_STREAMS)) streams in flight), ${DURATION} s a round, ECDSA P-256 certificate, ALPN h2; the backend is HTTP/1.1. Latency percentiles from h2load's per-request log." 4 1 "${wrk_figures[@]}"
  stop_proxies
}

scenario_websocket() {
  start_proxies http ws $WS_PORT
  rounds websocket "6. WebSocket echo, $WS_CONNS connections" "$WS_CONNS WebSockets through the proxy to an echo backend (Python asyncio, suite_clients.py), each sending a 16-byte masked text frame and waiting for its echo, over and over, for ${DURATION} s. A message is one round trip; the proxy's CPU is counted over the echo phase only. KiB/WS: the proxy's RSS with all open minus before they opened (after a warm-up), per WebSocket; each run starts a fresh proxy. The Python client and backend (on the load CPU) are slower than the proxies: messages/s and latency are theirs as much as the proxy's." 4 1 \
    "msg/s" "p50 ms" "p99 ms" "CPU µs/msg" "RSS MB" "KiB/WS"
  stop_proxies
}

scenario_stream() {
  truncate -s "${STREAM_MIB}M" "$work/big"
  start_proxies http all $BACKEND_PORT
  for p in "${contenders[@]}"; do expect "$p" "http://127.0.0.1:${port[$p]}/" 200; done
  # The backend reads the file once into the page cache before any is timed.
  curl -s -o /dev/null "http://127.0.0.1:$BACKEND_PORT/big"
  rounds stream "7. one $STREAM_MIB MiB streamed response" "curl -o /dev/null of one $STREAM_MIB MiB response (the backend nginx serves a file from the page cache), one a round." 2 1 \
    "MB/s" "CPU s/GiB" "RSS MB"
  stop_proxies
  rm -f "$work/big"
}

scenario_auth() {
  start_proxies http auth $BACKEND_PORT
  for p in "${contenders[@]}"; do
    expect "$p" "http://127.0.0.1:${port[$p]}/" 401
    expect "$p" "http://127.0.0.1:${port[$p]}/" 200 -u test:password
  done
  rounds auth "8. basic auth" "$wrk_how, with the right credentials on every request. The same htpasswd line for all three, MD5-crypt \`\$1\$\` (openssl passwd -1): HAProxy's userlist uses crypt(3), which rejects Apache's \`\$apr1\$\` (the same algorithm under another prefix). tollgate's basic-auth plugin caches verified credentials (one MD5-crypt per process); nginx and HAProxy hash on every request." 4 1 "${wrk_figures[@]}"
  stop_proxies
}

scenario_idle() {
  start_proxies http all $BACKEND_PORT
  rounds idle "9. $IDLE_CONNS idle keep-alive connections" "$IDLE_CONNS connections (Python asyncio, suite_clients.py, $((IDLE_CONNS < 200 ? IDLE_CONNS : 200)) opening at a time), each making one GET and then idle, all at once; RSS with all open (2 s after the last) minus before (after a warm-up), per connection; each run starts a fresh proxy." 2 0 \
    "RSS MB" "KiB/conn" "s to open"
  stop_proxies
}

scenario_tlsidle() {
  start_proxies ec all $BACKEND_PORT
  rounds tlsidle "10. $IDLE_CONNS idle TLS keep-alive connections" "As 9, over TLS 1.3 (ECDSA P-256, HTTP/1.1 by ALPN): what each proxy keeps for an idle TLS session." 2 0 \
    "RSS MB" "KiB/conn" "s to open"
  stop_proxies
}

scenario_h2idle() {
  start_proxies ec all $BACKEND_PORT
  rounds h2idle "11. $IDLE_CONNS idle HTTP/2 connections" "As 9, over HTTP/2 (TLS 1.3, ECDSA P-256, ALPN h2; suite_clients.py speaks the few frames it needs): one GET on stream 1, then the connection stays open, as a browser keeps its connection to a dashboard." 2 0 \
    "RSS MB" "KiB/conn" "s to open"
  stop_proxies
}

scenario_latency() {
  # Standard library only: a second's compile, no cargo.
  rustc --edition 2021 -O -D warnings -o "$work/rate_client" "$benches/tools/rate_client.rs"
  # The floor: the same load on the backend alone, no proxy between.
  local floor
  floor=$("${load[@]}" "$work/rate_client" "127.0.0.1:$BACKEND_PORT" / "$RATE" "$CONNECTIONS" "$DURATION" 2>&1 || true)
  floor="p50 $(kv "$floor" p50_us) µs, p99 $(kv "$floor" p99_us) µs, p99.9 $(kv "$floor" p999_us) µs"
  start_proxies http all $BACKEND_PORT
  for p in "${contenders[@]}"; do expect "$p" "http://127.0.0.1:${port[$p]}/" 200; done
  rounds latency "12. latency at $RATE req/s, HTTP/1.1 keep-alive" "The same load on the backend alone (no proxy, before the rounds): $floor. Scenario 1's route at a fixed rate every proxy carries: $CONNECTIONS keep-alive connections send GET / on a fixed schedule, $RATE requests/s in all, for ${DURATION} s a round, whatever the answers' pace (\`tools/rate_client.rs\`, open loop, one request in flight per connection). Latency from the request's write to the response's last byte, or from its scheduled time when the previous answer made it late (coordinated omission counted, as wrk2 does). wrk's latencies (scenarios 1-3) are a queue at saturation, the inverse of throughput; these are what a user of a lightly loaded proxy waits." 3 1 \
    "req/s" "p50 µs" "p99 µs" "p99.9 µs" "CPU µs/req" "RSS MB"
  stop_proxies
}

# --- the run ---

tollgate_rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -z "$(git status --porcelain --untracked-files=no 2>/dev/null)" ] || tollgate_rev+=" with uncommitted changes"
started=$(date -u '+%Y-%m-%d %H:%M UTC') t_start=$SECONDS
: >"$work/results.md"
: >"$work/summary.md"
for s in "${selected[@]}"; do "scenario_$s"; done

{
  echo "# tollgate vs nginx vs HAProxy"
  echo
  echo "Written by \`proxy/benches/suite.sh\` ($started, took $(((SECONDS - t_start) / 60)) min $(((SECONDS - t_start) % 60)) s). Rounds: $ROUNDS, of ${DURATION} s of load each (WARMUP=$WARMUP s first); scenarios: ${selected[*]}."
  echo
  echo "| | |"
  echo "|---|---|"
  echo "| kernel | $(uname -r) |"
  echo "| CPU | $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo), $cpus cores; proxy pinned to CPU $PROXY_CPU, backend and load to CPU $LOAD_CPUS |"
  echo "| tollgate | binary \`$TOLLGATE\` ($("$TOLLGATE" --version 2>/dev/null | head -1), built $(date -u -r "$TOLLGATE" '+%Y-%m-%d %H:%M UTC')); working tree at git $tollgate_rev; 1 worker thread |"
  echo "| nginx | $(nginx -v 2>&1 | sed 's/^nginx version: //'); 1 worker |"
  echo "| HAProxy | $(haproxy -v | awk 'NR == 1 {print $3}'); nbthread 1 |"
  echo "| wrk | $(wrk -v 2>&1 | awk 'NR == 1 {print $2}') |"
  echo "| h2load | $(h2load --version | awk '{print $2}') |"
  echo "| OpenSSL | $(openssl version | awk '{print $2}') |"
  echo "| Python | $(python3 -c 'import platform; print(platform.python_version())') |"
  echo
  echo "Method: one worker per proxy, pinned to its own CPU; the backend (nginx) and the load generators on the other. The cost figures are the proxy's own CPU time (user + sys, from /proc) per unit of work; throughput and latency are the load generator's view. Medians over the rounds; the order of the proxies rotates each round, and \"paired\" is the median of tollgate's figure divided by the other's in the same round (below 1: tollgate spends less). RSS: the proxy's (nginx: its worker's) VmRSS at the end of a run."
  echo
  echo "## Summary"
  echo
  echo "| scenario | cost (lower is better) | tollgate | nginx | HAProxy | tollgate / nginx (paired) | tollgate / HAProxy (paired) | throughput tollgate / nginx / HAProxy |"
  echo "|---|---|---:|---:|---:|---:|---:|---|"
  cat "$work/summary.md"
  echo
  cat "$work/results.md"
} >"$RESULTS"
echo
cat "$RESULTS"
echo
echo "results written to $RESULTS"
