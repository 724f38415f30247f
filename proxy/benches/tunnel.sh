#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# A device's service reached through tollgate's own tunnel vs through
# `ssh -R` to a local sshd, in the same run, through the same tollgate:
#
#   wrk -> tollgate /tun/ -> tunnel://dev  -> tollgate agent -> backend
#   wrk -> tollgate /ssh/ -> 127.0.0.1:P   -> sshd -> ssh -R  -> backend
#
#   proxy/benches/tunnel.sh                    # 3 rounds x 8 s, 256 MiB bulk
#   ROUNDS=5 BULK_MIB=1024 proxy/benches/tunnel.sh
#
# Two loads: small requests (wrk -t1 -c50, a 13-byte body: requests/s,
# p50, p99) and one bulk download (BULK_MIB through curl: MB/s). Rounds
# alternate the order. Every process shares the machine's CPUs (no pinning:
# the tunnel's cost is tollgate's and the agent's, ssh's is sshd's and
# ssh's); the figures are the client's.
# Requires: wrk, nginx, openssh-server, openssh-client, openssl, curl.
set -euo pipefail
[ -z "${TOLLGATE_BIN:-}" ] || TOLLGATE_BIN=$(realpath "$TOLLGATE_BIN")
cd "$(dirname "$0")/../.."
benches=$PWD/proxy/benches
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-8}
CONNECTIONS=${CONNECTIONS:-50}
BULK_MIB=${BULK_MIB:-256}
BACKEND_PORT=18080 SSH_PORT=18081 SSH_FORWARD=18082 HTTP_PORT=18083 TUNNEL_PORT=18084

# shellcheck source=common.sh
. "$benches/common.sh"
require_tools wrk nginx ssh ssh-keygen openssl curl awk
sshd=$(command -v sshd || echo /usr/sbin/sshd)
[ -x "$sshd" ] || { echo "missing sshd: apt-get install openssh-server" >&2; exit 1; }
build_tollgate
chmod 755 "$work"

# The device's service: "Hello, World!" and /big.
write_backend $BACKEND_PORT
head -c $((BULK_MIB << 20)) /dev/zero >"$work/big"
nginx -c "$work/backend.conf" -p "$work" & pids+=($!)
wait_port $BACKEND_PORT

# sshd and ssh -R, as in examples/zumi-ssh-tunnel.
user=$(id -un)
mkdir -m 0700 "$work/ssh"
ssh-keygen -q -t ed25519 -N '' -f "$work/ssh/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$work/ssh/device_key"
cp "$work/ssh/device_key.pub" "$work/ssh/authorized_keys"
cat >"$work/ssh/sshd_config" <<CONF
ListenAddress 127.0.0.1:$SSH_PORT
HostKey $work/ssh/host_key
AuthorizedKeysFile $work/ssh/authorized_keys
PidFile $work/ssh/sshd.pid
AllowUsers $user
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PermitTTY no
AllowTcpForwarding remote
CONF
[ "$(id -u)" = 0 ] && mkdir -p /run/sshd
"$sshd" -D -e -f "$work/ssh/sshd_config" 2>"$work/sshd.log" & pids+=($!)
wait_port $SSH_PORT
ssh -N -o BatchMode=yes -o ExitOnForwardFailure=yes -o StrictHostKeyChecking=no \
  -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -i "$work/ssh/device_key" \
  -p $SSH_PORT -R $SSH_FORWARD:127.0.0.1:$BACKEND_PORT "$user@127.0.0.1" & pids+=($!)
wait_port $SSH_FORWARD

# tollgate with both routes, and its agent.
printf '[req]\ndistinguished_name = dn\n[dn]\n' >"$work/openssl.cnf"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
  -config "$work/openssl.cnf" -addext basicConstraints=critical,CA:FALSE \
  -addext subjectAltName=IP:127.0.0.1 -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
"$TOLLGATE" tunnel-token dev >"$work/token.out"
sed -n 2p "$work/token.out" >"$work/dev.token"
hash=$(sed -n 's/^tokenHash = "\(.*\)"$/\1/p' "$work/token.out")
cat >"$work/tollgate.toml" <<CONF
logLevel = "ERROR"
defaultEntryPoints = ["http"]
[entryPoints.http]
address = "127.0.0.1:$HTTP_PORT"
[entryPoints.tunnels]
address = "127.0.0.1:$TUNNEL_PORT"
  [entryPoints.tunnels.tls]
    [[entryPoints.tunnels.tls.certificates]]
    certFile = "$work/cert.pem"
    keyFile = "$work/key.pem"
[tunnels]
entryPoint = "tunnels"
  [tunnels.devices.dev]
  tokenHash = "$hash"
[frontends.tun]
backend = "tun"
  [frontends.tun.routes.r]
  rule = "PathPrefixStrip:/tun"
[frontends.ssh]
backend = "ssh"
  [frontends.ssh.routes.r]
  rule = "PathPrefixStrip:/ssh"
[backends.tun.servers.s]
url = "tunnel://dev"
[backends.ssh.servers.s]
url = "http://127.0.0.1:$SSH_FORWARD"
CONF
"$TOLLGATE" run --config "$work/tollgate.toml" 2>>"$work/tollgate.log" & pids+=($!)
wait_port $HTTP_PORT
RUST_LOG=error "$TOLLGATE" agent --server 127.0.0.1:$TUNNEL_PORT --name dev --token-file "$work/dev.token" \
  --forward 127.0.0.1:$BACKEND_PORT --ca "$work/cert.pem" 2>>"$work/agent.log" & pids+=($!)
for path in tun ssh; do
  for _ in $(seq 100); do
    [ "$(curl -s --max-time 2 "http://127.0.0.1:$HTTP_PORT/$path/")" = "Hello, World!" ] && break
    sleep 0.1
  done
  [ "$(curl -s --max-time 2 "http://127.0.0.1:$HTTP_PORT/$path/")" = "Hello, World!" ] ||
    { echo "/$path/ does not answer" >&2; tail -5 "$work/tollgate.log" "$work/agent.log" >&2; exit 1; }
done

declare -A rps=() p50=() p99=() mbs=()
for round in $(seq "$ROUNDS"); do
  order=(tun ssh)
  [ $((round % 2)) = 0 ] && order=(ssh tun)
  for path in "${order[@]}"; do
    out=$(wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency "http://127.0.0.1:$HTTP_PORT/$path/")
    ! grep -qE 'Non-2xx|Socket errors' <<<"$out" || echo "  $path: $(grep -E 'Non-2xx|Socket errors' <<<"$out" | paste -sd';')"
    r=$(awk '/Requests\/sec/ {printf "%.0f", $2}' <<<"$out")
    l50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    l99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    bytes_per_s=$(curl -s -o /dev/null -w '%{speed_download}' "http://127.0.0.1:$HTTP_PORT/$path/big")
    mb=$(awk -v b="$bytes_per_s" 'BEGIN { printf "%.0f", b / 1e6 }')
    rps[$path]+="$r " p50[$path]+="$l50 " p99[$path]+="$l99 " mbs[$path]+="$mb "
    echo "round $round $path: $r req/s, p50 $l50, p99 $l99, bulk $mb MB/s"
  done
done

# wrk prints 850.00us / 1.23ms: medians in ms.
to_ms() { tr ' ' '\n' | awk 'NF { v = $1; printf "%.3f ", (v ~ /us$/ ? v / 1000 : v ~ /ms$/ ? v + 0 : v * 1000) }'; }
echo
echo "| path | req/s (median) | p50 ms (median) | p99 ms (median) | bulk MB/s (median) |"
echo "|---|---|---|---|---|"
for path in tun ssh; do
  name=$([ $path = tun ] && echo "tollgate tunnel" || echo "ssh -R")
  echo "| $name | $(median <<<"${rps[$path]}") | $(to_ms <<<"${p50[$path]}" | median) | $(to_ms <<<"${p99[$path]}" | median) | $(median <<<"${mbs[$path]}") |"
done
