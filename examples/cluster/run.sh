#!/usr/bin/env bash
# Three tollgate instances as one, on a three-member etcd: the frontends
# and backends live in etcd (Traefik 1.7's key layout), written with
# etcdctl, and every instance serves them. All on this machine:
#   etcd members   client 127.0.0.1:18951-18953 (peers 18961-18963)
#   tollgate A,B,C http://127.0.0.1:18971/ 18972/ 18973/
#   two devices    127.0.0.1:18981 (zumi01) and 18982 (cam02), stand-ins
#   examples/cluster/run.sh [--check]
. "$(dirname "$0")/../lib.sh"
need curl python3 etcd etcdctl
tollgate=$(find_tollgate)

members=""
for i in 1 2 3; do members+="${members:+,}m$i=http://127.0.0.1:1896$i"; done
for i in 1 2 3; do
  etcd --name "m$i" --data-dir "$work/etcd-$i" \
    --listen-client-urls "http://127.0.0.1:1895$i" --advertise-client-urls "http://127.0.0.1:1895$i" \
    --listen-peer-urls "http://127.0.0.1:1896$i" --initial-advertise-peer-urls "http://127.0.0.1:1896$i" \
    --initial-cluster "$members" --initial-cluster-state new --initial-cluster-token tollgate-example \
    --log-level warn >"$work/etcd-$i.log" 2>&1 & etcd_pid[$i]=$!
  pids+=(${etcd_pid[$i]})
done
endpoints=127.0.0.1:18951,127.0.0.1:18952,127.0.0.1:18953
ctl() { ETCDCTL_API=3 etcdctl --endpoints="$endpoints" --command-timeout=5s "$@" >/dev/null; }
for _ in $(seq 100); do ctl endpoint health --cluster 2>/dev/null && break; sleep 0.1; done
ctl endpoint health --cluster 2>/dev/null || fail "etcd did not form a cluster: $(cat "$work"/etcd-*.log)"

# Two devices' web pages, as their tunnels would show them on this server.
for dev in zumi01:18981 cam02:18982; do
  mkdir -p "$work/${dev%%:*}" && echo "this is ${dev%%:*}" >"$work/${dev%%:*}/index.html"
  (cd "$work/${dev%%:*}" && exec python3 -m http.server "${dev##*:}" --bind 127.0.0.1 >/dev/null 2>&1) & pids+=($!)
done

# device NAME PORT: the frontend /NAME/ -> 127.0.0.1:PORT, written to etcd
# backend first, so that each key written leaves a config that loads.
device() {
  ctl put "/traefik/backends/$1/servers/s1/url" "http://127.0.0.1:$2"
  ctl put "/traefik/frontends/$1/backend" "$1"
  ctl put "/traefik/frontends/$1/routes/r1/rule" "PathPrefixStrip:/$1"
}
device zumi01 18981

# The same static file for each instance but its port.
for i in 1 2 3; do
  cat >"$work/tollgate-$i.toml" <<CONF
[entryPoints.http]
address = "127.0.0.1:1897$i"

[etcd]
endpoint = "$endpoints"
prefix = "/traefik"
CONF
  "$tollgate" run --config "$work/tollgate-$i.toml" >"$work/tollgate-$i.log" 2>&1 & pids+=($!)
done
for port in 18981 18982 18971 18972 18973; do wait_port $port; done
say "zumi01 through any instance: http://127.0.0.1:18971/zumi01/ :18972 :18973"
say "add a device: ETCDCTL_API=3 etcdctl --endpoints=$endpoints put /traefik/frontends/... (see README)"

# every PATH WANT [SECONDS]: all three instances answer PATH with WANT
# within SECONDS (1 by default); prints how long the slowest took.
every() {
  local start=$(date +%s%N) deadline=$(( $(date +%s%N) + ${3:-1} * 1000000000 ))
  for port in 18971 18972 18973; do
    until [ "$(curl -s -o "$work/body" -w '%{http_code}' "http://127.0.0.1:$port$1")" = "$2" ]; do
      [ "$(date +%s%N)" -lt "$deadline" ] || fail "127.0.0.1:$port$1 did not answer $2 in time"
      sleep 0.02
    done
  done
  echo "$1 answers $2 on all three after $(( ($(date +%s%N) - start) / 1000000 )) ms"
}

if [ "$check" = 1 ]; then
  every /zumi01/ 200
  grep -q "this is zumi01" "$work/body" || fail "/zumi01/ is not zumi01's page"
  device cam02 18982
  every /cam02/ 200 1
  grep -q "this is cam02" "$work/body" || fail "/cam02/ is not cam02's page"
  # One etcd member down: the others carry on, and so does every instance.
  kill "${etcd_pid[1]}"; wait "${etcd_pid[1]}" 2>/dev/null || true
  endpoints=127.0.0.1:18952,127.0.0.1:18953
  ctl del /traefik/frontends/cam02/ --prefix
  every /cam02/ 404 5
  every /zumi01/ 200
  for i in 1 2 3; do
    grep -q "configuration refused" "$work/tollgate-$i.log" && fail "instance $i refused a config: $(cat "$work/tollgate-$i.log")"
  done
  echo "one etcd member stopped: all three instances still follow the other two"
fi
hold
