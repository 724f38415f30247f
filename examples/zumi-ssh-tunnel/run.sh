#!/usr/bin/env bash
# The Zumi scenario, on one machine over loopback: a robot's notebook
# server (device.py, a Jupyter stand-in with a WebSocket) reaches a server
# through a real `ssh -R` to a throwaway sshd, and tollgate publishes it at
# https://zumi.example:18643/zumi01/ with basic auth (zumi / zumi-demo);
# plain HTTP on 18680 redirects there.
#
#   device 127.0.0.1:18887 --ssh -R--> server 127.0.0.1:18888 <-- tollgate <-- you
#
#   examples/zumi-ssh-tunnel/run.sh [--check]
. "$(dirname "$0")/../lib.sh"
need ssh ssh-keygen openssl curl python3
sshd=$(command -v sshd || echo /usr/sbin/sshd)
[ -x "$sshd" ] || fail "sshd is missing (apt-get install openssh-server)"
here="$root/examples/zumi-ssh-tunnel"
user=$(id -un)

say "the device: a notebook server on its own 127.0.0.1:18887"
python3 "$here/device.py" 18887 & pids+=($!)
wait_port 18887

say "the server's sshd (throwaway, 127.0.0.1:18622, key login for $user only)"
mkdir -m 0700 "$work/ssh"
ssh-keygen -q -t ed25519 -N '' -f "$work/ssh/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$work/ssh/device_key"
cp "$work/ssh/device_key.pub" "$work/ssh/authorized_keys"
cat >"$work/ssh/sshd_config" <<CONF
ListenAddress 127.0.0.1:18622
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
GatewayPorts no
CONF
# As root, sshd wants its privilege-separation directory.
[ "$(id -u)" = 0 ] && mkdir -p /run/sshd
"$sshd" -D -e -f "$work/ssh/sshd_config" 2>"$work/sshd.log" & pids+=($!)
wait_port 18622

tunnel() {
  ssh -N -o BatchMode=yes -o ExitOnForwardFailure=yes -o StrictHostKeyChecking=no \
    -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o ServerAliveInterval=5 \
    -i "$work/ssh/device_key" -p 18622 -R 18888:127.0.0.1:18887 "$user@127.0.0.1" &
  tunnel_pid=$!
  pids+=($tunnel_pid)
  wait_port 18888
}
say "the device dials out: ssh -R 18888:127.0.0.1:18887 $user@server"
tunnel

say "tollgate: HTTPS with basic auth in front of the tunnel's port"
self_signed zumi.example "$work"
hash=$(openssl passwd -apr1 zumi-demo)
cat >"$work/tollgate.toml" <<CONF
defaultEntryPoints = ["http", "https"]
[entryPoints.http]
address = "127.0.0.1:18680"
  [entryPoints.http.redirect]
  entryPoint = "https"
[entryPoints.https]
address = "127.0.0.1:18643"
  [entryPoints.https.tls]
    [[entryPoints.https.tls.certificates]]
    certFile = "$work/cert.pem"
    keyFile = "$work/key.pem"

[frontends.zumi01]
backend = "zumi01"
basicAuth = ["zumi:$hash"]
  [frontends.zumi01.routes.r]
  rule = "PathPrefix:/zumi01"

[backends.zumi01.servers.tunnel]
url = "http://127.0.0.1:18888"
CONF
start_tollgate "$work/tollgate.toml"
wait_port 18643
tls=(--cacert "$work/cert.pem" --resolve zumi.example:18643:127.0.0.1 --resolve zumi.example:18680:127.0.0.1)
cat <<TXT
  open https://zumi.example:18643/zumi01/ (add "127.0.0.1 zumi.example" to /etc/hosts,
  accept the self-signed certificate $work/cert.pem), user zumi, password zumi-demo
  curl --cacert $work/cert.pem --resolve zumi.example:18643:127.0.0.1 -u zumi:zumi-demo https://zumi.example:18643/zumi01/
TXT

if [ "$check" = 1 ]; then
  expect 302 "${tls[@]}" http://zumi.example:18680/zumi01/
  location=$(curl -s -o /dev/null -w '%{redirect_url}' "${tls[@]}" http://zumi.example:18680/zumi01/)
  [ "$location" = "https://zumi.example:18643/zumi01/" ] || fail "HTTP redirects to $location"
  echo "http:// redirects to $location"
  expect 401 "${tls[@]}" https://zumi.example:18643/zumi01/
  expect 401 "${tls[@]}" -u zumi:wrong https://zumi.example:18643/zumi01/
  echo "no or wrong password: 401"
  expect 200 "${tls[@]}" -u zumi:zumi-demo https://zumi.example:18643/zumi01/tree
  grep -q "Zumi 01" "$work/body" || fail "the notebook page did not come through"
  expect 200 "${tls[@]}" -u zumi:zumi-demo https://zumi.example:18643/zumi01/api
  echo "the notebook through the tunnel: 200 $(cat "$work/body")"
  reply=$(python3 "$here/ws_client.py" zumi.example 18643 "$work/cert.pem" zumi:zumi-demo \
    /zumi01/api/kernels/k1/channels "print(42)") || fail "WebSocket through the tunnel"
  [ "$reply" = "echo: print(42)" ] || fail "WebSocket reply: $reply"
  echo "WebSocket (kernel channel) through tollgate and the tunnel: $reply"

  # The robot drops off (the tunnel dies), then dials in again.
  kill "$tunnel_pid"
  wait "$tunnel_pid" 2>/dev/null || true
  expect 502 "${tls[@]}" -u zumi:zumi-demo https://zumi.example:18643/zumi01/api
  echo "tunnel down: 502"
  tunnel
  expect 200 "${tls[@]}" -u zumi:zumi-demo https://zumi.example:18643/zumi01/api
  echo "tunnel back: 200, no reload needed"
fi
hold
