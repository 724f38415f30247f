#!/usr/bin/env bash
# What the built-in basic-auth plugin costs a route, end to end: the same
# tollgate process serves `/plain/` (no middleware) and `/auth/` (basicAuth,
# a bcrypt user, credentials sent on every request), and wrk loads each in
# turn. Reported: requests/s and tollgate CPU per request of each, and the
# cost of the plugin relative to the plain route (the target is <= 10%).
#
#   proxy/benches/wasm-throughput.sh
#   ROUNDS=5 DURATION=20 proxy/benches/wasm-throughput.sh
#
# Requires: wrk, nginx (backend), a release build of tollgate.
set -euo pipefail
cd "$(dirname "$0")/../.."

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-50}
BACKEND_PORT=18010 TOLLGATE_PORT=18011

. "$(dirname "$0")/common.sh"
require_tools wrk nginx
build_tollgate


cat >"$work/backend.conf" <<CONF
daemon off; worker_processes 1; pid $work/backend.pid; error_log /dev/null crit;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000;
  server { listen 127.0.0.1:$BACKEND_PORT; location / { return 200 "Hello, World!"; } } }
CONF
# test:password, bcrypt cost 10 (htpasswd -B's default).
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
TOLLGATE_WORKER_THREADS=1 "$TOLLGATE" run --config "$work/tollgate.toml" 2>"$work/tollgate.log" & tg=$!
pids+=($tg)
for p in $BACKEND_PORT $TOLLGATE_PORT; do wait_port "$p"; done

url() { echo "http://127.0.0.1:$TOLLGATE_PORT/$1/"; }
load() { # route seconds -> "requests cpu_ticks"
  local before after out
  before=$(ticks "$tg")
  if [ "$1" = auth ]; then out=$(wrk -t1 -c"$CONNECTIONS" -d"$2s" -s "$work/auth.lua" "$(url auth)")
  else out=$(wrk -t1 -c"$CONNECTIONS" -d"$2s" "$(url plain)"); fi
  after=$(ticks "$tg")
  if grep -qE 'Non-2xx|Socket errors' <<<"$out"; then echo "$1: $(grep -E 'Non-2xx|Socket errors' <<<"$out")" >&2; fi
  echo "$(awk '/requests in/ {print $1}' <<<"$out") $((after - before))"
}

# Warm-up: connections, code, and the one bcrypt verification per instance.
load plain 2 >/dev/null
load auth 2 >/dev/null

declare -A rps cpu
for round in $(seq "$ROUNDS"); do
  for route in plain auth; do
    read -r reqs t <<<"$(load "$route" "$DURATION")"
    r=$(awk -v r="$reqs" -v d="$DURATION" 'BEGIN { printf "%.0f", r / d }')
    us=$(awk -v t="$t" -v hz="$hz" -v r="$reqs" 'BEGIN { printf "%.2f", t / hz * 1e6 / r }')
    rps[$route]+="$r "
    cpu[$route]+="$us "
    printf '%-6s round %d: %8s requests/s  %6s us CPU/request\n' "$route" "$round" "$r" "$us"
  done
done

pr=$(median <<<"${rps[plain]}"); ar=$(median <<<"${rps[auth]}")
pc=$(median <<<"${cpu[plain]}"); ac=$(median <<<"${cpu[auth]}")
echo
printf 'plain: %s requests/s, %s us CPU/request\n' "$pr" "$pc"
printf 'auth:  %s requests/s, %s us CPU/request\n' "$ar" "$ac"
printf 'basic-auth costs %.1f%% of the throughput (%.1f%% more CPU per request); target <= 10%%\n' \
  "$(awk -v p="$pr" -v a="$ar" 'BEGIN { print (1 - a / p) * 100 }')" \
  "$(awk -v p="$pc" -v a="$ac" 'BEGIN { print (a / p - 1) * 100 }')"
