#!/usr/bin/env bash
# Build tollgate's container image with podman (no daemon needed):
#   examples/container/build.sh        -> localhost/tollgate:VERSION and :latest
# 1. a static binary for x86_64-unknown-linux-musl (plugins built in);
# 2. a build context with it, the default config, CA roots, empty plugin
#    and state folders; 3. podman build (docker format: it keeps
#    HEALTHCHECK). Prints the image's compressed size.
# Needs: rustup, musl-tools, podman, ca-certificates.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
target=x86_64-unknown-linux-musl
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tollgate-target}"

for tool in podman musl-gcc cargo rustup; do
  command -v "$tool" >/dev/null || { echo "build.sh: $tool is missing (apt-get install podman musl-tools; rustup)" >&2; exit 1; }
done
[ -f /etc/ssl/certs/ca-certificates.crt ] || { echo "build.sh: apt-get install ca-certificates" >&2; exit 1; }

rustup target add "$target" >/dev/null
(cd "$root" && cargo build --release --locked --target "$target" -p tollgate)
bin="$CARGO_TARGET_DIR/$target/release/tollgate"
# A binary that needs a loader cannot run FROM scratch.
if readelf -l "$bin" | grep -q 'Requesting program interpreter'; then
  echo "build.sh: $bin is not static" >&2
  exit 1
fi

# The release link orders start-up's code first (proxy/link/ordered-link.sh):
# an idle tollgate with seed 001's config takes 13 MB instead of 19. Its second link is the one made by
# lld (GNU ld makes the first), so an image without it says so here.
if ! readelf -p .comment "$bin" | grep -q 'Linker: LLD'; then
  echo "build.sh: $bin was linked without its start-up code ordered (proxy/link/ordered-link.sh found no lld?)" >&2
  exit 1
fi

version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/proxy/Cargo.toml" | head -1)
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
cp "$bin" "$ctx/tollgate"
cp "$here/Containerfile" "$here/tollgate.toml" "$ctx/"
cp /etc/ssl/certs/ca-certificates.crt "$ctx/"
mkdir "$ctx/plugins" "$ctx/state" "$ctx/cache"
# The built-in plugins' compiled code, made by this very binary (`tollgate
# plugin precompile`): the image's first start loads it instead of spending
# ~150 ms compiling. On a CPU other than this one's the key differs and the
# first start compiles, as it would without it.
TOLLGATE_PLUGIN_CACHE="$ctx/cache" "$bin" plugin precompile >/dev/null
podman build --quiet --format docker --build-arg VERSION="$version" \
  -t "localhost/tollgate:$version" -t localhost/tollgate:latest \
  -f "$ctx/Containerfile" "$ctx" >/dev/null
size=$(podman save --format docker-archive localhost/tollgate:latest | gzip -c | wc -c)
printf 'built localhost/tollgate:%s (and :latest): %s bytes compressed, binary %s bytes\n' \
  "$version" "$size" "$(stat -c %s "$bin")"
