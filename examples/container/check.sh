#!/usr/bin/env bash
# Proves the container image without running a container (`podman run`
# needs cgroup delegation, which CI machines lack): unpacks the image's
# layers into a root folder and runs its entrypoint there, chrooted, as the
# image's user, with a config and a plugin put where volumes would be, and
# makes real requests: HTTP through a WebAssembly plugin (JWT) and basic
# auth, HTTPS, and /ping through the image's own HEALTHCHECK command.
#   examples/container/check.sh [IMAGE]     (default localhost/tollgate:latest)
# Needs: root (chroot), podman, curl, openssl, python3, a built image.
image=${1:-localhost/tollgate:latest}
# work, pids, cleanup, fail, expect, need: shared with the examples.
. "$(dirname "$0")/../lib.sh"
need podman curl openssl python3 chroot
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tollgate-target}"
plugin="$CARGO_TARGET_DIR/wasm-plugins/wasm32-wasip1/wasm-plugin/jwt-auth.wasm"
[ -f "$plugin" ] || fail "$plugin missing (build tollgate first)"

echo "unpacking $image"
podman save --format docker-archive -o "$work/image.tar" "$image"
mkdir "$work/archive" "$work/root"
tar -xf "$work/image.tar" -C "$work/archive"
python3 - "$work/archive" >"$work/layers" <<'PY'
import json, sys
manifest = json.load(open(sys.argv[1] + "/manifest.json"))[0]
print("\n".join(manifest["Layers"]))
PY
while read -r layer; do tar -xf "$work/archive/$layer" -C "$work/root"; done <"$work/layers"

# What the image declares, as a runtime reads it from the archive.
healthcheck=$(python3 - "$work/archive" <<'PY'
import json, sys
manifest = json.load(open(sys.argv[1] + "/manifest.json"))[0]
c = json.load(open(sys.argv[1] + "/" + manifest["Config"]))["config"]
assert c["User"] == "65532:65532", c["User"]
assert set(c["ExposedPorts"]) == {"80/tcp", "443/tcp"}, c["ExposedPorts"]
assert c["Entrypoint"] == ["/tollgate"], c["Entrypoint"]
assert c["Labels"]["org.opencontainers.image.title"] == "tollgate", c["Labels"]
test = c["Healthcheck"]["Test"]
assert test[0] == "CMD", test
print(" ".join(test[1:]))
PY
) || fail "the image's config (above) lacks what it must declare"
# The image's environment, applied to the chrooted runs below as a runtime
# would (the compiled-plugin cache is named there).
image_env=$(python3 - "$work/archive" <<'PY'
import json, sys
manifest = json.load(open(sys.argv[1] + "/manifest.json"))[0]
env = json.load(open(sys.argv[1] + "/" + manifest["Config"]))["config"]["Env"]
assert "TOLLGATE_PLUGIN_CACHE=/var/cache/tollgate" in env, env
print(" ".join(env))
PY
) || fail "the image's environment (above) lacks the plugin cache"
echo "image config: user 65532, ports 80 443, HEALTHCHECK $healthcheck"
ls "$work/root/tollgate" "$work/root/etc/tollgate/tollgate.toml" "$work/root/etc/ssl/certs/ca-certificates.crt" >/dev/null
[ -d "$work/root/etc/tollgate/plugins" ] && [ "$(stat -c %u "$work/root/var/lib/tollgate")" = 65532 ] ||
  fail "plugin folder or state folder (owned by 65532) missing"
[ "$(stat -c %u "$work/root/var/cache/tollgate")" = 65532 ] ||
  fail "the compiled-plugin cache folder (owned by 65532) is missing"

# shellcheck disable=SC2086 # image_env is a list of NAME=VALUE words
as_image_user() { env -i $image_env chroot --userspec=65532:65532 "$work/root" "$@"; }
as_image_user /tollgate check --config /etc/tollgate/tollgate.toml >/dev/null ||
  fail "the image's own config does not validate"

# "Volumes": a config, a plugin, a certificate.
self_signed cam.example "$work/root/etc/tollgate"
chmod 0644 "$work/root/etc/tollgate/key.pem"
cp "$plugin" "$work/root/etc/tollgate/plugins/jwt-auth.wasm"
mkdir -p "$work/www/cam" && echo "frame 1" >"$work/www/cam/index.html"
(cd "$work/www" && exec python3 -m http.server 18491 --bind 127.0.0.1 >/dev/null 2>&1) & pids+=($!)
wait_port 18491
cat >"$work/root/etc/tollgate/tollgate.toml" <<'CONF'
defaultEntryPoints = ["http", "https"]
[entryPoints.http]
address = "127.0.0.1:18480"
[entryPoints.https]
address = "127.0.0.1:18443"
  [entryPoints.https.tls]
    [[entryPoints.https.tls.certificates]]
    certFile = "/etc/tollgate/cert.pem"
    keyFile = "/etc/tollgate/key.pem"
[entryPoints.traefik]
address = "127.0.0.1:8080"
[ping]
entryPoint = "traefik"
[plugins.jwt]
path = "/etc/tollgate/plugins/jwt-auth.wasm"
  [plugins.jwt.config]
  keys = [{alg = "HS256", secret = "a secret of sixteen bytes or more"}]
[frontends.cam]
backend = "cam"
middlewares = ["jwt"]
  [frontends.cam.routes.r]
  rule = "PathPrefix:/cam"
[frontends.private]
backend = "cam"
basicAuth = ["test:$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/"]
  [frontends.private.routes.r]
  rule = "Host:private.example"
[backends.cam.servers.s]
url = "http://127.0.0.1:18491"
CONF
start() {
  # shellcheck disable=SC2086
  (exec env -i $image_env chroot --userspec=65532:65532 "$work/root" /tollgate run --config /etc/tollgate/tollgate.toml >"$work/tollgate.log" 2>&1) & pids+=($!)
  for _ in $(seq 100); do
    as_image_user $healthcheck 2>/dev/null && break
    sleep 0.1
  done
  as_image_user $healthcheck || fail "the HEALTHCHECK command did not pass"
}
start
echo "HEALTHCHECK passes"
grep "compiled code from the cache" "$work/tollgate.log" | grep -q "builtin:basic-auth" ||
  fail "the first start compiled the built-in basic-auth plugin (the image ships its code); log:
$(cat "$work/tollgate.log")"
echo "first start: the built-in plugin's code came from the image"

token=$(python3 - <<'PY'
import base64, hashlib, hmac, json, time
b = lambda d: base64.urlsafe_b64encode(d).rstrip(b"=")
head = b(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
body = b(json.dumps({"sub": "viewer", "exp": int(time.time()) + 600}).encode())
sig = b(hmac.new(b"a secret of sixteen bytes or more", head + b"." + body, hashlib.sha256).digest())
print((head + b"." + body + b"." + sig).decode())
PY
)
expect 401 http://127.0.0.1:18480/cam/
expect 200 -H "Authorization: Bearer $token" http://127.0.0.1:18480/cam/
grep -q "frame 1" "$work/body" || fail "the backend's page did not come through"
expect 401 -H "Host: private.example" http://127.0.0.1:18480/cam/
expect 200 -u test:test -H "Host: private.example" http://127.0.0.1:18480/cam/
expect 200 --cacert "$work/root/etc/tollgate/cert.pem" --resolve cam.example:18443:127.0.0.1 \
  -H "Authorization: Bearer $token" https://cam.example:18443/cam/
grep -q "frame 1" "$work/body" || fail "HTTPS: the backend's page did not come through"
echo "served from the unpacked image: plugin 401/200, basic auth 401/200, HTTPS 200"

# A restart (a new container from the same volume state) reads the plugins'
# compiled code that the first start kept, instead of compiling them.
ls "$work/root/var/cache/tollgate/plugins/"*.cwasm >/dev/null 2>&1 ||
  fail "the first start kept no compiled plugin code in /var/cache/tollgate"
kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true
start
grep -q "compiled code from the cache" "$work/tollgate.log" && ! grep -q "plugin compiled" "$work/tollgate.log" ||
  fail "the restart compiled its plugins again; log:
$(cat "$work/tollgate.log")"
expect 200 -u test:test -H "Host: private.example" http://127.0.0.1:18480/cam/
echo "restarted: plugins read from the compiled-code cache, basic auth 200"
