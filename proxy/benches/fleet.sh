#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# A fleet behind one templated route, tollgate vs nginx vs HAProxy: 100
# devices (one nginx answering on 127.0.1.1-100:PORT), their names in a
# real DNS server (knotd, zone cams.internal), and requests cycling over
# /cam/d001/ ... /cam/d100/, each sent to http://dNNN.cams.internal:PORT/
# with the /cam/dNNN prefix stripped.
#
#   proxy/benches/fleet.sh                      # 3 rounds x 8 s
#   ROUNDS=5 DURATION=10 TOLLGATE_BIN=/tmp/tg proxy/benches/fleet.sh
#
# The same method as suite.sh: each proxy one worker pinned to the last
# CPU, backend, DNS and wrk on the others; the figure of merit is the
# proxy's CPU time per request, paired per round.
#   - tollgate: PathPrefixStrip:/cam/{device:[a-z0-9-]+} and
#     url = "http://{device}.cams.internal:PORT", allowedNetworks, resolvers.
#   - nginx: a regex location and proxy_pass with variables, `resolver`.
#     With variables nginx has no upstream block, so no keep-alive to the
#     device: a new backend connection per request (what such a config does).
#   - HAProxy: do-resolve of the name into the destination address
#     (set-dst) and a server 0.0.0.0:0, the documented way to a per-request
#     target; its connections are reused (http-reuse always).
# Requires: wrk, nginx, haproxy, knot (knotd), taskset, curl.
set -euo pipefail
[ -z "${TOLLGATE_BIN:-}" ] || TOLLGATE_BIN=$(realpath "$TOLLGATE_BIN")
cd "$(dirname "$0")/../.."
benches=$PWD/proxy/benches
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-8}
CONNECTIONS=${CONNECTIONS:-50}
DEVICES=100
# Ports: apart from suite.sh's 18060-18064.
DEVICE_PORT=18070 DNS_PORT=18071 NGINX_PORT=18072 HAPROXY_PORT=18073 TOLLGATE_PORT=18074

# shellcheck source=common.sh
. "$benches/common.sh"
require_tools wrk nginx haproxy knotd taskset curl awk
cpus=$(nproc)
[ "$cpus" -ge 2 ] || { echo "needs 2 CPUs or more" >&2; exit 1; }
PROXY_CPU=$((cpus - 1)) LOAD_CPUS=0
[ "$cpus" -eq 2 ] || LOAD_CPUS=0-$((cpus - 2))
load=(taskset -c "$LOAD_CPUS")
build_tollgate
chmod 755 "$work"

# --- the devices: one nginx on 100 loopback addresses, each answering its address
listens=""
for i in $(seq $DEVICES); do listens+="listen 127.0.1.$i:$DEVICE_PORT; "; done
cat >"$work/devices.conf" <<CONF
daemon off; worker_processes 1; pid $work/devices.pid; error_log /dev/null crit;
events { worker_connections 8192; }
http { access_log off; keepalive_requests 1000000;
  server { $listens
    location / { return 200 "device \$server_addr\n"; } } }
CONF
"${load[@]}" nginx -c "$work/devices.conf" -p "$work" & pids+=($!)

# --- DNS: knotd serving cams.internal
mkdir -p "$work/knot"
{
  printf '$ORIGIN cams.internal.\n$TTL 300\n@ SOA ns admin 1 3600 600 86400 300\n@ NS ns\nns A 127.0.0.1\n'
  for i in $(seq $DEVICES); do printf 'd%03d A 127.0.1.%d\n' "$i" "$i"; done
} >"$work/knot/cams.internal.zone"
cat >"$work/knot/knot.conf" <<CONF
server:
    rundir: "$work/knot"
    listen: 127.0.0.1@$DNS_PORT
database:
    storage: "$work/knot"
log:
  - target: stderr
    any: error
zone:
  - domain: cams.internal
    storage: "$work/knot"
    file: "cams.internal.zone"
CONF
"${load[@]}" knotd -c "$work/knot/knot.conf" 2>>"$work/knot.log" & pids+=($!)
for _ in $(seq 100); do
  [ "$(kdig @127.0.0.1 -p $DNS_PORT +short d042.cams.internal A 2>/dev/null)" = 127.0.1.42 ] && break
  sleep 0.05
done

# --- the proxies
cat >"$work/tollgate.toml" <<CONF
logLevel = "ERROR"
[lifeCycle]
graceTimeOut = "1s"
[entryPoints.bench]
address = "127.0.0.1:$TOLLGATE_PORT"
[frontends.cams]
backend = "cams"
  [frontends.cams.routes.r]
  rule = "PathPrefixStrip:/cam/{device:[a-z0-9-]+}"
[backends.cams]
allowedNetworks = ["127.0.1.0/24"]
resolvers = ["127.0.0.1:$DNS_PORT"]
  [backends.cams.servers.s]
  url = "http://{device}.cams.internal:$DEVICE_PORT"
CONF
cat >"$work/nginx.conf" <<CONF
daemon off; worker_processes 1; pid $work/nginx.pid; error_log $work/nginx.log error;
events { worker_connections 8192; }
http { access_log off; keepalive_requests 1000000;
  resolver 127.0.0.1:$DNS_PORT valid=300s;
  server { listen 127.0.0.1:$NGINX_PORT;
    location ~ ^/cam/(?<device>[a-z0-9-]+)(?<rest>/.*)?\$ {
      proxy_pass http://\$device.cams.internal:$DEVICE_PORT\$rest;
      proxy_http_version 1.1; proxy_set_header Connection ""; } } }
CONF
cat >"$work/haproxy.cfg" <<CONF
global
  nbthread 1
  maxconn 4000
resolvers fleet
  nameserver knot 127.0.0.1:$DNS_PORT
  hold valid 300s
defaults
  mode http
  option http-keep-alive
  timeout connect 5s
  timeout client 60s
  timeout server 60s
frontend fe
  bind 127.0.0.1:$HAPROXY_PORT
  http-request set-var(txn.device) path,field(3,/)
  http-request do-resolve(txn.addr,fleet,ipv4) var(txn.device),concat(.cams.internal)
  http-request deny deny_status 502 unless { var(txn.addr) -m found }
  http-request set-path %[path,regsub(^/cam/[a-z0-9-]+,)]
  default_backend be
backend be
  http-reuse always
  http-request set-dst var(txn.addr)
  http-request set-dst-port int($DEVICE_PORT)
  server any 0.0.0.0:0
CONF

declare -A port=([nginx]=$NGINX_PORT [haproxy]=$HAPROXY_PORT [tollgate]=$TOLLGATE_PORT) proc=()
contenders=(tollgate nginx haproxy)
start_proxy() {
  case $1 in
    nginx) taskset -c "$PROXY_CPU" nginx -c "$work/nginx.conf" -p "$work" 2>>"$work/nginx.log" & ;;
    haproxy) taskset -c "$PROXY_CPU" haproxy -f "$work/haproxy.cfg" -db >>"$work/haproxy.log" 2>&1 & ;;
    tollgate) TOLLGATE_WORKER_THREADS=1 taskset -c "$PROXY_CPU" "$TOLLGATE" run --config "$work/tollgate.toml" 2>>"$work/tollgate.log" & ;;
  esac
  proc[$1]=$!
  wait_port "${port[$1]}"
}
worker() { if [ "$1" = nginx ]; then pgrep -P "${proc[nginx]}"; else echo "${proc[$1]}"; fi; }
# Before any proxy starts: cleanup's `wait` must not wait on a proxy left running.
trap 'for p in "${!proc[@]}"; do kill "${proc[$p]}" 2>/dev/null || true; done; cleanup' EXIT
for p in "${contenders[@]}"; do start_proxy "$p"; done

# Every proxy reaches every device, each its own, with the prefix stripped.
for p in "${contenders[@]}"; do
  for i in 1 42 100; do
    got=$(curl -s --max-time 5 "http://127.0.0.1:${port[$p]}/cam/$(printf d%03d "$i")/x")
    [ "$got" = "device 127.0.1.$i" ] || { echo "$p: /cam/d$i answered '$got'" >&2; tail -5 "$work/$p.log" >&2; exit 1; }
  done
done

cat >"$work/cycle.lua" <<'LUA'
local i = 0
request = function()
  i = i % 100 + 1
  return wrk.format("GET", string.format("/cam/d%03d/status", i))
end
LUA

declare -A cpu=() rps=() p99=()
for round in $(seq "$ROUNDS"); do
  # Rotate the order every round.
  order=("${contenders[@]:$((round % 3))}" "${contenders[@]:0:$((round % 3))}")
  for p in "${order[@]}"; do
    pid=$(worker "$p")
    before=$(ticks "$pid")
    out=$("${load[@]}" wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$work/cycle.lua" "http://127.0.0.1:${port[$p]}")
    after=$(ticks "$pid")
    reqs=$(awk '/requests in/ {print $1}' <<<"$out")
    ! grep -qE 'Non-2xx|Socket errors' <<<"$out" || echo "  $p: $(grep -E 'Non-2xx|Socket errors' <<<"$out" | paste -sd';')"
    us=$(awk -v n="$reqs" -v t=$((after - before)) -v hz="$hz" 'BEGIN { printf "%.2f", t / hz * 1e6 / n }')
    cpu[$p]+="$us "
    rps[$p]+="$(awk '/Requests\/sec/ {printf "%.0f", $2}' <<<"$out") "
    p99[$p]+="$(awk '$1 == "99%" {print $2}' <<<"$out") "
    echo "round $round $p: ${us} us CPU/request, $(awk '/Requests\/sec/ {print $2}' <<<"$out") req/s"
  done
done

echo
echo "| proxy | CPU us/request (median) | req/s (median) | p99 per round | tollgate / it (CPU, paired median) |"
echo "|---|---|---|---|---|"
for p in "${contenders[@]}"; do
  ratio=-
  if [ "$p" != tollgate ]; then
    read -ra a <<<"${cpu[tollgate]}"
    read -ra b <<<"${cpu[$p]}"
    ratio=$(for k in "${!a[@]}"; do awk -v x="${a[$k]}" -v y="${b[$k]}" 'BEGIN { printf "%.2f ", x / y }'; done | median)
  fi
  echo "| $p | $(median <<<"${cpu[$p]}") | $(median <<<"${rps[$p]}") | ${p99[$p]} | $ratio |"
done
