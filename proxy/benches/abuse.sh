#!/usr/bin/env bash
# Slow clients and HTTP/2 floods against tollgate, nginx and HAProxy, in one
# run, each with its default limits:
#
#   proxy/benches/abuse.sh                  # every attack, every proxy
#   ATTACKS="slowloris h2_ping" PROXIES=tollgate proxy/benches/abuse.sh
#   SLOW=70 FLOOD=30 proxy/benches/abuse.sh # longer attacks
#
# Attacks (all from 127.0.0.1):
#   slowloris    slowhttptest -H: 1,000 connections, a header line every 10 s
#   slow_post    slowhttptest -B: 1,000 connections, a few body bytes every 10 s
#   slow_read    slowhttptest -X: 500 connections reading a 1 MiB answer 4 bytes at a time
#   h2_window_update, h2_ping, h2_settings, h2_rapid_reset
#                h2flood.py: 4 h2c connections sending that frame as fast as
#                they can (rapid reset: HEADERS then RST_STREAM)
#   h2load      h2load: 50 h2c connections, 100 streams each, requests as
#                fast as the proxy answers (a flood of real requests)
# While an attack runs, a normal client (wrk, 1 thread, 10 keep-alive
# connections, HTTP/1.1) measures its latency. Reported per attack and proxy:
# the normal client's p50/p99 and requests/s, the connections the proxy
# still holds open (established) near the end of the attack, its RSS then,
# and the CPU it used during the attack.
# Requires: wrk, nginx, haproxy, slowhttptest, python3, ss (Debian packages).
set -euo pipefail
cd "$(dirname "$0")/../.."

SLOW=${SLOW:-45}
FLOOD=${FLOOD:-20}
ATTACKS=${ATTACKS:-"none slowloris slow_post slow_read h2_window_update h2_ping h2_settings h2_rapid_reset h2load"}
PROXIES=${PROXIES:-"tollgate nginx haproxy"}
BACKEND_PORT=18100 NGINX_PORT=18101 HAPROXY_PORT=18102 TOLLGATE_PORT=18103
NGINX_H2=18111 HAPROXY_H2=18112

. "$(dirname "$0")/common.sh"
require_tools wrk nginx haproxy slowhttptest python3 ss h2load
build_tollgate
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

head -c 1048576 /dev/zero >"$work/big"
start_three $BACKEND_PORT $NGINX_PORT $HAPROXY_PORT $TOLLGATE_PORT

declare -n http_port=proxy_port
declare -A h2_port=([tollgate]=$TOLLGATE_PORT [nginx]=$NGINX_H2 [haproxy]=$HAPROXY_H2)

rss_kb() { local t=0; for p in "$@"; do t=$((t + $(awk '/VmRSS/ {print $2}' "/proc/$p/status"))); done; echo $t; }
held() { ss -Htn state established "( sport = :$1 or sport = :$2 )" | wc -l; }

# attack NAME PROXY DURATION: start it in the background; its pid in $attacker.
attack() {
  local name=$1 proxy=$2 d=$3 url="http://127.0.0.1:${http_port[$2]}"
  case $name in
    none) sleep "$d" & ;;
    slowloris) slowhttptest -H -c 1000 -r 250 -i 10 -l "$d" -u "$url/" >"$work/attack.log" 2>&1 & ;;
    slow_post) slowhttptest -B -c 1000 -r 250 -i 10 -s 8192 -l "$d" -u "$url/" >"$work/attack.log" 2>&1 & ;;
    slow_read) slowhttptest -X -c 500 -r 250 -w 1 -y 4 -n 5 -z 4 -l "$d" -u "$url/big" >"$work/attack.log" 2>&1 & ;;
    h2load) h2load -c 50 -m 100 -D "$d" "http://127.0.0.1:${h2_port[$proxy]}/" >"$work/attack.log" 2>&1 & ;;
    h2_*) python3 "$(dirname "$0")/h2flood.py" "${name#h2_}" 127.0.0.1 "${h2_port[$proxy]}" 4 "$d" >"$work/attack.log" 2>&1 & ;;
  esac
  attacker=$!
}

printf '%-17s %-9s %9s %9s %9s %7s %8s %8s\n' attack proxy "p50 ms" "p99 ms" "req/s" held "RSS MB" "CPU s"
for name in $ATTACKS; do
  case $name in slow*) d=$SLOW ;; *) d=$FLOOD ;; esac
  for proxy in $PROXIES; do
    mapfile -t ps < <(proxy_pids "$proxy")
    before=$(ticks "${ps[@]}")
    attack "$name" "$proxy" "$d"
    # The normal client starts once the attack has ramped up and stops
    # before it ends.
    sleep 5
    out=$(wrk -t1 -c10 -d"$((d - 8))s" --timeout 10s --latency "http://127.0.0.1:${http_port[$proxy]}/" 2>&1 || true)
    conns=$(held "${http_port[$proxy]}" "${h2_port[$proxy]}")
    rss=$(rss_kb "${ps[@]}")
    wait "$attacker" 2>/dev/null || true
    after=$(ticks "${ps[@]}")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    rps=$(awk '/Requests\/sec/ {printf "%.0f", $2}' <<<"$out")
    errs=$(awk '/Non-2xx|Socket errors/' <<<"$out")
    printf '%-17s %-9s %9s %9s %9s %7s %8.1f %8.1f %s\n' "$name" "$proxy" "${p50:--}" "${p99:--}" "${rps:--}" "$conns" \
      "$(awk -v k="$rss" 'BEGIN { print k / 1024 }')" "$(awk -v t=$((after - before)) -v hz="$hz" 'BEGIN { print t / hz }')" "$errs"
    [[ $name == h2_* ]] && sed 's/^/    /' "$work/attack.log"
    [[ $name == h2load ]] && grep -E '^(finished|requests:)' "$work/attack.log" | sed 's/^/    /'
    # Let what the attack left close before the next one.
    for _ in $(seq 100); do [ "$(held "${http_port[$proxy]}" "${h2_port[$proxy]}")" -le 2 ] && break; sleep 0.2; done
  done
done
