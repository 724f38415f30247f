#!/usr/bin/env bash
# Three webcams' MJPEG streams behind tollgate, one route each, watched at
# once: three stand-in cameras (camera.py) on 127.0.0.1:18701-18703, a
# page showing all three at http://127.0.0.1:18700/, the streams at
# /cam1/, /cam2/ and /cam3/ (PathPrefixStrip: each camera sees `/`).
#   examples/webcams/run.sh [--check]
. "$(dirname "$0")/../lib.sh"
need curl python3
here="$root/examples/webcams"

for i in 1 2 3; do
  python3 "$here/camera.py" "1870$i" "cam$i" 10 & pids+=($!)
done
mkdir "$work/page" && cp "$here/index.html" "$work/page/"
(cd "$work/page" && exec python3 -m http.server 18704 --bind 127.0.0.1 >/dev/null 2>&1) & pids+=($!)

cat >"$work/tollgate.toml" <<'CONF'
[entryPoints.http]
address = "127.0.0.1:18700"

[frontends.wall]
backend = "page"
  [frontends.wall.routes.r]
  rule = "Path:/"
[backends.page.servers.s]
url = "http://127.0.0.1:18704"
CONF
for i in 1 2 3; do
  cat >>"$work/tollgate.toml" <<CONF

[frontends.cam$i]
backend = "cam$i"
  [frontends.cam$i.routes.r]
  rule = "PathPrefixStrip:/cam$i"
[backends.cam$i.servers.s]
url = "http://127.0.0.1:1870$i"
CONF
done
start_tollgate "$work/tollgate.toml"
for port in 18701 18702 18703 18704 18700; do wait_port $port; done
say "the wall: http://127.0.0.1:18700/   streams: http://127.0.0.1:18700/cam1/ /cam2/ /cam3/"

if [ "$check" = 1 ]; then
  expect 200 http://127.0.0.1:18700/
  grep -c '<img src="/cam' "$work/body" | grep -qx 3 || fail "the page does not show three streams"
  # Watch all three at once for 3 s (curl ends them: exit 28, time out).
  for i in 1 2 3; do
    curl -s --max-time 3 -D "$work/head$i" -o "$work/stream$i" http://127.0.0.1:18700/cam$i/ & watchers+=($!)
  done
  for w in "${watchers[@]}"; do wait "$w" || true; done
  for i in 1 2 3; do
    grep -qi '^content-type: multipart/x-mixed-replace; boundary=frame' "$work/head$i" ||
      fail "cam$i: not an MJPEG stream: $(cat "$work/head$i")"
    frames=$(grep -ac -- '^--frame' "$work/stream$i" || true)
    [ "$frames" -ge 15 ] || fail "cam$i: $frames frames in 3 s at 10 fps"
    grep -aq "camera cam$i frame" "$work/stream$i" || fail "/cam$i/ shows another camera"
    others=$(grep -aoE 'camera cam[0-9]' "$work/stream$i" | sort -u | wc -l)
    [ "$others" = 1 ] || fail "/cam$i/ mixes cameras"
    echo "cam$i: $frames frames in 3 s, watched together with the other two"
  done
fi
hold
