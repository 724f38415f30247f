#!/usr/bin/env bash
# A Traefik 3 configuration, in YAML, served by tollgate as it is: the
# files traefik.yml (static) and dynamic.yml (routers, services,
# middlewares) of this folder, two stand-in devices (python3 http.server
# on 127.0.0.1:18901 and 18902), tollgate on 127.0.0.1:18900.
#   examples/traefik3-yaml/run.sh [--check]
. "$(dirname "$0")/../lib.sh"
need curl python3
here="$root/examples/traefik3-yaml"

for device in notebook:18901 camera:18902; do
  name=${device%%:*} port=${device##*:}
  mkdir -p "$work/$name" && echo "this is the $name" >"$work/$name/index.html"
  (cd "$work/$name" && exec python3 -m http.server "$port" --bind 127.0.0.1 >/dev/null 2>&1) & pids+=($!)
done
# A copy, so that the edit below leaves this folder as it is.
cp "$here/traefik.yml" "$here/dynamic.yml" "$work/"
"$(find_tollgate)" check --config "$work/traefik.yml" >"$work/check.txt" || fail "tollgate check: $(cat "$work/check.txt")"
start_tollgate "$work/traefik.yml"
for port in 18901 18902 18900; do wait_port $port; done
say "notebook: curl -u test:test -H 'Host: robots.localhost' http://127.0.0.1:18900/zumi01/"
say "camera:   curl http://127.0.0.1:18900/cam/"

if [ "$check" = 1 ]; then
  grep -q "traefik.yml: Traefik 2/3" "$work/check.txt" || fail "check does not name the dialect: $(cat "$work/check.txt")"
  expect 401 -H 'Host: robots.localhost' http://127.0.0.1:18900/zumi01/
  expect 200 -u test:test -H 'Host: robots.localhost' http://127.0.0.1:18900/zumi01/
  grep -q "this is the notebook" "$work/body" || fail "the notebook was not reached: $(cat "$work/body")"
  expect 200 http://127.0.0.1:18900/cam/
  grep -q "this is the camera" "$work/body" || fail "the camera was not reached"
  expect 200 -H 'X-Camera: 1' http://127.0.0.1:18900/
  grep -q "this is the camera" "$work/body" || fail "Header(\`X-Camera\`, \`1\`) did not reach the camera"
  expect 404 http://127.0.0.1:18900/elsewhere

  # Edit the dynamic file: the camera moves to /webcam, served at once.
  sed 's|PathPrefix(`/cam`)|PathPrefix(`/webcam`)|; s|prefixes: \[/cam\]|prefixes: [/webcam]|' \
    "$work/dynamic.yml" >"$work/dynamic.new" && mv "$work/dynamic.new" "$work/dynamic.yml"
  for _ in $(seq 100); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:18900/webcam/)" = 200 ] && break
    sleep 0.1
  done
  expect 200 http://127.0.0.1:18900/webcam/
  expect 404 http://127.0.0.1:18900/cam/
  grep -q "configuration reloaded" "$work/tollgate.log" || fail "no reload in the log"
  echo "routers, middlewares and services of a Traefik 3 YAML file served; an edit applied without a restart"
fi
hold
