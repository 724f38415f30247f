#!/usr/bin/env bash
# What the built-in basic-auth plugin costs a route, end to end: the same
# tollgate process serves `/plain/` (no middleware) and `/auth/` (basicAuth,
# a bcrypt user), and wrk loads one route at a time with the same requests
# (credentials on every one, so every auth request but the first of an
# instance is a cache hit, and the plain route parses and forwards the same
# header).
#
# tollgate runs with one worker thread (TOLLGATE_WORKER_THREADS=1) and, with
# 2+ CPUs and taskset, on a CPU of its own (PIN=0: not pinned; nginx and
# wrk get the other CPUs), so it is the bottleneck. The primary figure is
# its CPU time per request, from /proc (user + sys of the whole process,
# epoch thread included); requests/s is reported too. The routes are
# interleaved round by round (plain, auth, plain, auth, ...) so that load
# from elsewhere hits both alike. Reported: the median over the rounds of
# each figure, the cost of the plugin `(auth - plain) / plain` of those
# medians, and the median of the per-round costs (each auth run against
# the plain run just before it), with their range. The target: throughput
# within 10% of the plain route's.
#
# On a shared 2-core machine single rounds vary by +-15% or more: take the
# medians of many rounds, not one.
#
#   proxy/benches/wasm-throughput.sh
#   ROUNDS=30 DURATION=4 proxy/benches/wasm-throughput.sh
#   TOLLGATE=/path/to/tollgate proxy/benches/wasm-throughput.sh   # a given build
#
# Requires: wrk, nginx (backend), a release build of tollgate.
set -euo pipefail
cd "$(dirname "$0")/../.."

ROUNDS=${ROUNDS:-15}
DURATION=${DURATION:-5}
CONNECTIONS=${CONNECTIONS:-50}
BACKEND_PORT=18010 TOLLGATE_PORT=18011

. "$(dirname "$0")/common.sh"
require_tools wrk nginx
build_tollgate

write_backend $BACKEND_PORT
write_auth_routes $TOLLGATE_PORT $BACKEND_PORT

# tollgate on the last CPU, nginx and wrk on the others (PIN=0: no pinning).
cpus=$(nproc)
if [ "${PIN:-1}" = 1 ] && [ "$cpus" -ge 2 ] && command -v taskset >/dev/null; then
  tg_cpu="taskset -c $((cpus - 1))" load_cpu="taskset -c 0-$((cpus - 2))"
else
  tg_cpu="" load_cpu=""
fi
$load_cpu nginx -c "$work/backend.conf" -p "$work" & pids+=($!)
TOLLGATE_WORKER_THREADS=1 $tg_cpu "$TOLLGATE" run --config "$work/tollgate.toml" 2>"$work/tollgate.log" & tg=$!
pids+=($tg)
for p in $BACKEND_PORT $TOLLGATE_PORT; do wait_port "$p"; done

url() { echo "http://127.0.0.1:$TOLLGATE_PORT/$1/"; }
load() { # route seconds -> "requests cpu_ticks"; both send the credentials
  local before after out
  before=$(ticks "$tg")
  out=$($load_cpu wrk -t1 -c"$CONNECTIONS" -d"$2s" -s "$work/auth.lua" "$(url "$1")")
  after=$(ticks "$tg")
  if grep -qE 'Non-2xx|Socket errors' <<<"$out"; then echo "$1: $(grep -E 'Non-2xx|Socket errors' <<<"$out")" >&2; fi
  echo "$(awk '/requests in/ {print $1}' <<<"$out") $((after - before))"
}

# Warm-up: connections, code, and the one bcrypt verification per instance.
load plain 2 >/dev/null
load auth 2 >/dev/null

declare -A rps cpu last
rel_cpu="" rel_rps=""
for round in $(seq "$ROUNDS"); do
  for route in plain auth; do
    read -r reqs t <<<"$(load "$route" "$DURATION")"
    r=$(awk -v r="$reqs" -v d="$DURATION" 'BEGIN { printf "%.0f", r / d }')
    us=$(awk -v t="$t" -v hz="$hz" -v r="$reqs" 'BEGIN { printf "%.2f", t / hz * 1e6 / r }')
    rps[$route]+="$r "
    cpu[$route]+="$us "
    last[$route]="$r $us"
  done
  read -r p_r p_us <<<"${last[plain]}"
  read -r a_r a_us <<<"${last[auth]}"
  c=$(awk -v p="$p_us" -v a="$a_us" 'BEGIN { printf "%.1f", (a - p) / p * 100 }')
  x=$(awk -v p="$p_r" -v a="$a_r" 'BEGIN { printf "%.1f", (a - p) / p * 100 }')
  rel_cpu+="$c " rel_rps+="$x "
  printf 'round %2d: plain %6s req/s %6s us CPU/req | auth %6s req/s %6s us CPU/req | CPU %+6s%%  req/s %+6s%%\n' \
    "$round" "$p_r" "$p_us" "$a_r" "$a_us" "$c" "$x"
done

range() { tr ' ' '\n' | grep -v '^$' | sort -g | sed -n '1p;$p' | paste -sd' '; }
pr=$(median <<<"${rps[plain]}"); ar=$(median <<<"${rps[auth]}")
pc=$(median <<<"${cpu[plain]}"); ac=$(median <<<"${cpu[auth]}")
echo
echo "medians of $ROUNDS rounds x ${DURATION}s, $CONNECTIONS connections, 1 tollgate worker thread${tg_cpu:+ ($tg_cpu)}:"
printf 'plain: %6.0f requests/s  %6.2f us CPU/request\n' "$pr" "$pc"
printf 'auth:  %6.0f requests/s  %6.2f us CPU/request\n' "$ar" "$ac"
printf 'basic-auth, (auth - plain) / plain of the medians: CPU/request %+.1f%%, requests/s %+.1f%%\n' \
  "$(awk -v p="$pc" -v a="$ac" 'BEGIN { print (a - p) / p * 100 }')" \
  "$(awk -v p="$pr" -v a="$ar" 'BEGIN { print (a - p) / p * 100 }')"
read -r cmin cmax <<<"$(range <<<"$rel_cpu")"
read -r rmin rmax <<<"$(range <<<"$rel_rps")"
printf 'median of the per-round costs:                     CPU/request %+.1f%% (%+.1f..%+.1f), requests/s %+.1f%% (%+.1f..%+.1f)\n' \
  "$(median <<<"$rel_cpu")" "$cmin" "$cmax" "$(median <<<"$rel_rps")" "$rmin" "$rmax"
echo "target: requests/s >= -10%"
