#!/usr/bin/env bash
# Write, test and load your own auth plugin, as ../WRITING-AN-AUTH-PLUGIN.md
# tells: `tollgate plugin new` writes the crate (outside this repository,
# the SDK vendored), test it natively, build the .wasm, put it in front of a
# service and try it with and without a key.
#   examples/own-auth-plugin/run.sh [--check]
. "$(dirname "$0")/../lib.sh"
need cargo rustup curl python3

say "1. A new plugin crate: tollgate plugin new my-auth"
tollgate=$(find_tollgate)
"$tollgate" plugin new my-auth --dir "$work"
cd "$work/my-auth"
export CARGO_TARGET_DIR="$work/my-auth/target"

say "2. Test it natively (cargo test)"
cargo test --quiet 2>&1 | tail -3

say "3. Build the module (wasm32-wasip1)"
rustup target add wasm32-wasip1 >/dev/null
cargo build --quiet --release --target wasm32-wasip1
wasm="$work/my-auth/target/wasm32-wasip1/release/my-auth.wasm"
[ -f "$wasm" ] || fail "no $wasm"
ls -l "$wasm"
unset CARGO_TARGET_DIR
"$tollgate" check --config tollgate.toml >/dev/null || fail "the crate's own tollgate.toml does not load"
echo "its tollgate.toml loads the module (tollgate check)"

say "4. Load it in tollgate in front of a service"
mkdir -p "$work/www/api" && echo '{"temperature": 21.5}' >"$work/www/api/index.html"
(cd "$work/www" && exec python3 -m http.server 18601 --bind 127.0.0.1 >/dev/null 2>&1) & pids+=($!)
cat >"$work/tollgate.toml" <<CONF
[entryPoints.http]
address = "127.0.0.1:18600"

[plugins.apikey]
path = "$wasm"
  [plugins.apikey.config]
  header = "X-Api-Key"
  clientHeader = "X-Client"
  [plugins.apikey.config.keys]
  printer-farm = "9f2c1c0d5b7e4a4f"

[frontends.api]
backend = "sensors"
middlewares = ["apikey"]
  [frontends.api.routes.r]
  rule = "PathPrefix:/api"

[backends.sensors.servers.s]
url = "http://127.0.0.1:18601"
CONF
start_tollgate "$work/tollgate.toml"
wait_port 18601
wait_port 18600

say "5. Try it"
expect 401 http://127.0.0.1:18600/api/
echo "without a key: 401"
expect 401 -H "X-Api-Key: wrong-key-000000" http://127.0.0.1:18600/api/
echo "with a wrong key: 401"
expect 200 -H "X-Api-Key: 9f2c1c0d5b7e4a4f" http://127.0.0.1:18600/api/
grep -q temperature "$work/body" || fail "the service's answer did not come through"
echo "with the printer-farm key: 200 $(cat "$work/body")"
# Compiled now, or read back from what `tollgate check` compiled in step 3.
grep -Eq 'plugin (compiled|loaded, compiled code from the cache) plugin=apikey' "$work/tollgate.log" ||
  fail "tollgate did not log loading the plugin"

cat <<TXT

  curl -H 'X-Api-Key: 9f2c1c0d5b7e4a4f' http://127.0.0.1:18600/api/
  plugin source: $work/my-auth/src/lib.rs (made for this run, removed on Ctrl-C:
  edit it, rebuild, then kill -HUP the tollgate process)
TXT
hold
