#!/usr/bin/env bash
# CPU spent per proxied keep-alive request: tollgate vs nginx vs HAProxy,
# measured in the same run, against the same backend, under the same load.
#
#   proxy/benches/compare.sh            # 3 rounds of 10 s each per proxy
#   ROUNDS=5 DURATION=20 proxy/benches/compare.sh
#   BASELINE=/tmp/tollgate-old proxy/benches/compare.sh   # also an older build
#
# Load: wrk, 1 thread, 50 keep-alive connections, GET of a 13-byte body.
# Backend: an nginx worker answering "Hello, World!" from memory.
# Every proxy runs on one core (nginx/HAProxy one worker, tollgate one tokio
# worker thread) and keeps upstream connections alive. The figure of merit is
# the proxy process's CPU time (user+sys, from /proc) divided by the requests
# wrk completed: it does not depend on how busy the other processes are.
# The host's noise drifts over minutes (+-15% between rounds), so the order
# rotates every round and each round's figure is also paired with
# tollgate's of the same round: the median of those ratios is the steadier
# comparison (many short rounds beat a few long ones).
# Requires: wrk, nginx, haproxy (Debian packages), a release build of tollgate.
set -euo pipefail
cd "$(dirname "$0")/../.."

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-50}
BACKEND_PORT=18000 NGINX_PORT=18001 HAPROXY_PORT=18002 TOLLGATE_PORT=18003 BASELINE_PORT=18004
# BASELINE: another tollgate binary (a build to compare with), measured in
# the same rounds as "baseline".
BASELINE=${BASELINE:-}

. "$(dirname "$0")/common.sh"
require_tools wrk nginx haproxy
build_tollgate

start_three $BACKEND_PORT $NGINX_PORT $HAPROXY_PORT $TOLLGATE_PORT
contenders=(nginx haproxy tollgate)
if [ -n "$BASELINE" ]; then
  sed "s/:$TOLLGATE_PORT\"/:$BASELINE_PORT\"/" "$work/tollgate.toml" >"$work/baseline.toml"
  TOLLGATE_WORKER_THREADS=1 "$BASELINE" run --config "$work/baseline.toml" 2>"$work/baseline.log" & pids+=($!)
  wait_port $BASELINE_PORT
  contenders+=(baseline)
  proxy_port[baseline]=$BASELINE_PORT
fi

pids_of() {
  case $1 in
    baseline) pgrep -f "$BASELINE run --config $work/baseline.toml" ;;
    *) proxy_pids "$1" ;;
  esac
}

declare -A results rps user
for proxy in "${contenders[@]}"; do
  # warm-up: open upstream connections, fault in code
  wrk -t1 -c"$CONNECTIONS" -d2s "http://127.0.0.1:${proxy_port[$proxy]}/" >/dev/null
done
# Per-round figures, to pair each proxy's round with tollgate's (host noise
# drifts over minutes; a pair measured seconds apart shares most of it).
declare -A per_round
n=${#contenders[@]}
for round in $(seq "$ROUNDS"); do
  # The order rotates every round: no proxy always runs first or last.
  for k in $(seq 0 $((n - 1))); do
    proxy=${contenders[$(((round + k) % n))]}
    mapfile -t ps < <(pids_of $proxy)
    before=$(ticks "${ps[@]}") ubefore=$(user_ticks "${ps[@]}")
    out=$(wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" "http://127.0.0.1:${proxy_port[$proxy]}/")
    after=$(ticks "${ps[@]}") uafter=$(user_ticks "${ps[@]}")
    reqs=$(awk '/requests in/ {print $1}' <<<"$out")
    errors=$(awk '/Non-2xx|Socket errors/ {print}' <<<"$out")
    [ -z "$errors" ] || echo "$proxy round $round: $errors" >&2
    us=$(awk -v t=$((after - before)) -v hz="$hz" -v r="$reqs" 'BEGIN { printf "%.2f", t / hz * 1e6 / r }')
    uus=$(awk -v t=$((uafter - ubefore)) -v hz="$hz" -v r="$reqs" 'BEGIN { printf "%.2f", t / hz * 1e6 / r }')
    results[$proxy]+="$us "
    per_round[$proxy,$round]=$us
    user[$proxy]+="$uus "
    rps[$proxy]+="$(awk -v r="$reqs" -v d="$DURATION" 'BEGIN { printf "%.0f", r / d }') "
    printf '%-9s round %d: %6s us CPU/request (%s us user), %s requests/s\n' "$proxy" "$round" "$us" "$uus" "$(awk -v r="$reqs" -v d="$DURATION" 'BEGIN { printf "%.0f", r / d }')"
  done
done

echo
echo "median CPU per request (lower is better), ${ROUNDS} rounds x ${DURATION}s, ${CONNECTIONS} connections:"
t=$(median <<<"${results[tollgate]}")
for proxy in "${contenders[@]}"; do
  m=$(median <<<"${results[$proxy]}")
  r=$(median <<<"${rps[$proxy]}")
  u=$(median <<<"${user[$proxy]}")
  printf '  %-9s %6.2f us/request (user %5.2f)  (%s requests/s)  tollgate/%s = %.2f\n' "$proxy" "$m" "$u" "$r" "$proxy" "$(awk -v a="$t" -v b="$m" 'BEGIN { print a / b }')"
done

echo
echo "paired by round (tollgate's CPU per request / the other's, same round):"
for proxy in "${contenders[@]}"; do
  [ "$proxy" = tollgate ] && continue
  ratios="" lower=0
  for round in $(seq "$ROUNDS"); do
    r=$(awk -v a="${per_round[tollgate,$round]}" -v b="${per_round[$proxy,$round]}" 'BEGIN { printf "%.3f", a / b }')
    ratios+="$r "
    lower=$((lower + $(awk -v r="$r" 'BEGIN { print (r < 1) }')))
  done
  printf '  tollgate/%-9s median %.2f, lower in %d of %d rounds\n' "$proxy" "$(median <<<"$ratios")" "$lower" "$ROUNDS"
done
