#!/usr/bin/env bash
# The Zumi scenario without sshd: the robot runs `tollgate agent`, which
# dials the server's tunnels entry point (TLS, 127.0.0.1:18645) with its
# name and token; tollgate publishes its notebook at
# https://zumi.example:18644/zumi01/ with basic auth (zumi / zumi-demo).
# No Unix user, key or port per device: a [tunnels.devices.zumi01] entry
# and `url = "tunnel://zumi01"`.
#
#   device 127.0.0.1:18646 <-- tollgate agent ==TLS==> tollgate :18645 <-- tollgate :18644 <-- you
#
#   examples/zumi-agent-tunnel/run.sh [--check]
. "$(dirname "$0")/../lib.sh"
need openssl curl python3
device="$root/examples/zumi-ssh-tunnel" # the same notebook stand-in
tollgate=$(find_tollgate)

say "the device: a notebook server on its own 127.0.0.1:18646"
python3 "$device/device.py" 18646 & pids+=($!)
wait_port 18646

say "a certificate for the server (HTTPS and the tunnels entry point)"
# Not a CA (the agent's TLS refuses a CA certificate as the server's own),
# hence a config of our own instead of openssl's default v3_ca extensions.
printf '[req]\ndistinguished_name = dn\n[dn]\n' >"$work/openssl.cnf"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
  -subj "/CN=zumi.example" -config "$work/openssl.cnf" \
  -addext "basicConstraints=critical,CA:FALSE" \
  -addext "subjectAltName=DNS:zumi.example,IP:127.0.0.1" \
  -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null

say "the device's token: tollgate tunnel-token zumi01"
"$tollgate" tunnel-token zumi01 >"$work/token.out"
sed -n 2p "$work/token.out" >"$work/zumi01.token"
token_hash=$(sed -n 's/^tokenHash = "\(.*\)"$/\1/p' "$work/token.out")

say "tollgate: HTTPS with basic auth, and the tunnels entry point"
hash=$(openssl passwd -apr1 zumi-demo)
cat >"$work/tollgate.toml" <<CONF
defaultEntryPoints = ["https"]
[entryPoints.https]
address = "127.0.0.1:18644"
  [entryPoints.https.tls]
    [[entryPoints.https.tls.certificates]]
    certFile = "$work/cert.pem"
    keyFile = "$work/key.pem"
[entryPoints.tunnels]
address = "127.0.0.1:18645"
  [entryPoints.tunnels.tls]
    [[entryPoints.tunnels.tls.certificates]]
    certFile = "$work/cert.pem"
    keyFile = "$work/key.pem"

[tunnels]
entryPoint = "tunnels"
  [tunnels.devices.zumi01]
  tokenHash = "$token_hash"

[frontends.zumi01]
backend = "zumi01"
basicAuth = ["zumi:$hash"]
  [frontends.zumi01.routes.r]
  rule = "PathPrefix:/zumi01"

[backends.zumi01.servers.robot]
url = "tunnel://zumi01"
CONF
start_tollgate "$work/tollgate.toml"
wait_port 18644

agent() {
  local before
  before=$(grep -c "tunnel up" "$work/tollgate.log" || true)
  "$tollgate" agent --server 127.0.0.1:18645 --name zumi01 --token-file "$work/zumi01.token" \
    --forward 127.0.0.1:18646 --ca "$work/cert.pem" >>"$work/agent.log" 2>&1 &
  agent_pid=$!
  pids+=($agent_pid)
  # Up once the server has registered it (its log says so).
  for _ in $(seq 100); do
    [ "$(grep -c "tunnel up" "$work/tollgate.log" || true)" -gt "$before" ] && return 0
    sleep 0.05
  done
  fail "the agent did not connect: $(tail -3 "$work/agent.log")"
}
say "the device dials out: tollgate agent --server 127.0.0.1:18645 --name zumi01"
agent
tls=(--cacert "$work/cert.pem" --resolve zumi.example:18644:127.0.0.1)
cat <<TXT
  open https://zumi.example:18644/zumi01/ (add "127.0.0.1 zumi.example" to /etc/hosts,
  accept the self-signed certificate $work/cert.pem), user zumi, password zumi-demo
  curl --cacert $work/cert.pem --resolve zumi.example:18644:127.0.0.1 -u zumi:zumi-demo https://zumi.example:18644/zumi01/
TXT

if [ "$check" = 1 ]; then
  expect 401 "${tls[@]}" https://zumi.example:18644/zumi01/
  echo "no password: 401"
  expect 200 "${tls[@]}" -u zumi:zumi-demo https://zumi.example:18644/zumi01/tree
  grep -q "Zumi 01" "$work/body" || fail "the notebook page did not come through"
  expect 200 "${tls[@]}" -u zumi:zumi-demo https://zumi.example:18644/zumi01/api
  echo "the notebook through the agent's tunnel: 200 $(cat "$work/body")"
  reply=$(python3 "$device/ws_client.py" zumi.example 18644 "$work/cert.pem" zumi:zumi-demo \
    /zumi01/api/kernels/k1/channels "print(42)") || fail "WebSocket through the tunnel"
  [ "$reply" = "echo: print(42)" ] || fail "WebSocket reply: $reply"
  echo "WebSocket (kernel channel) through tollgate and the tunnel: $reply"

  # The robot goes away, then comes back.
  kill "$agent_pid"
  wait "$agent_pid" 2>/dev/null || true
  for _ in $(seq 100); do grep -q "tunnel down" "$work/tollgate.log" && break; sleep 0.05; done
  expect 502 "${tls[@]}" -u zumi:zumi-demo https://zumi.example:18644/zumi01/api
  echo "agent gone: 502 ($(grep -o 'device zumi01 has no live tunnel' "$work/tollgate.log" | head -1))"
  agent
  expect 200 "${tls[@]}" -u zumi:zumi-demo https://zumi.example:18644/zumi01/api
  echo "agent back: 200, no reload needed"
fi
hold
