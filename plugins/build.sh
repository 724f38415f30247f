#!/usr/bin/env bash
# Build every plugin in plugins/ for wasm32-wasip1 (profile `wasm-plugin`:
# opt-level "s", fat LTO, stripped) and copy the modules to plugins/dist/.
#
# tollgate does not need this: proxy/build.rs runs the same build and embeds
# the built-in plugins (basic-auth, headers, jwt-auth) in the binary. Use it
# to get the .wasm files themselves, e.g. to load one with `[plugins.X] path`
# or in another http-wasm host.
#
#   plugins/build.sh            # build, copy to plugins/dist/
#   plugins/build.sh --offline  # extra arguments go to cargo
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
target_dir="$CARGO_TARGET_DIR/wasm-plugins"   # the same place proxy/build.rs uses
rustup target add wasm32-wasip1 >/dev/null 2>&1 || true

packages=()
for manifest in plugins/*/Cargo.toml; do
  name=$(sed -n 's/^name = "\(.*\)"/\1/p' "$manifest" | head -n1)
  packages+=(-p "$name")
done

cargo build --target wasm32-wasip1 --profile wasm-plugin \
  --target-dir "$target_dir" "${packages[@]}" "$@"

mkdir -p plugins/dist
for manifest in plugins/*/Cargo.toml; do
  stem=$(basename "$(dirname "$manifest")")
  cp "$target_dir/wasm32-wasip1/wasm-plugin/$stem.wasm" plugins/dist/
done
ls -l plugins/dist/*.wasm
