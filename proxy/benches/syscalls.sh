#!/usr/bin/env bash
# System calls per proxied keep-alive request, by kind: tollgate vs nginx vs
# HAProxy, under the load of compare.sh. Most of a proxy's CPU here is the
# kernel's, spent in these calls: a proxy that makes more of them (an extra
# read that finds nothing, an epoll_wait per event) pays for it whatever its
# user-space code costs.
#
#   proxy/benches/syscalls.sh
#
# Counted with perf's syscall tracepoints, attached to each proxy's process
# for the load's duration; calls under 1% of the request count are not shown.
# Requires: perf (run as root, or kernel.perf_event_paranoid <= 1), wrk,
# nginx, haproxy, a release build of tollgate.
set -euo pipefail
cd "$(dirname "$0")/../.."

DURATION=${DURATION:-4}
CONNECTIONS=${CONNECTIONS:-50}
BACKEND_PORT=18030 NGINX_PORT=18031 HAPROXY_PORT=18032 TOLLGATE_PORT=18033

. "$(dirname "$0")/common.sh"
require_tools wrk nginx haproxy perf
build_tollgate

start_three $BACKEND_PORT $NGINX_PORT $HAPROXY_PORT $TOLLGATE_PORT

for proxy in nginx haproxy tollgate; do
  pid=$(proxy_pids $proxy) port=${proxy_port[$proxy]}
  # Warm-up: upstream connections open, code faulted in.
  wrk -t1 -c"$CONNECTIONS" -d2s "http://127.0.0.1:$port/" >/dev/null
  # perf counts from its start to its end; the load runs inside that span,
  # so every call counted belongs to a request wrk counted (idle calls
  # outside it are below the 1% cut).
  perf stat -e 'syscalls:sys_enter_*' -p "$pid" -o "$work/perf.$proxy" -- sleep $((DURATION + 1)) &
  counting=$!
  sleep 0.3
  reqs=$(wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" "http://127.0.0.1:$port/" | awk '/requests in/ {print $1}')
  wait $counting
  echo "$proxy ($reqs requests): system calls per request"
  awk -v r="$reqs" '$1 ~ /^[0-9,]+$/ { n = $1; gsub(",", "", n); if (n + 0 > r / 100) printf "  %-14s %6.3f\n", substr($2, 20), n / r }' "$work/perf.$proxy"
done
