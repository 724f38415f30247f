# Shared by the examples' run.sh scripts (sourced, not run).
#
# Every example starts its parts on 127.0.0.1 only, prints where to look,
# and waits for Ctrl-C; with --check it asserts what a user would see
# instead and exits (0 when all is as described; the tests run that).

set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
check=0
[ "${1:-}" = "--check" ] && check=1

work=$(mktemp -d "${TMPDIR:-/tmp}/tollgate-example.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '\n== %s\n' "$*"; }
fail() {
  echo "FAIL: $*" >&2
  if [ -f "$work/tollgate.log" ]; then sed 's/^/  tollgate: /' "$work/tollgate.log" >&2; fi
  exit 1
}
need() {
  for tool in "$@"; do
    command -v "$tool" >/dev/null || fail "$tool is missing (see this example's README for apt-get install ...)"
  done
}

# The tollgate binary: $TOLLGATE, else `tollgate` on PATH, else built here.
find_tollgate() {
  if [ -n "${TOLLGATE:-}" ]; then
    echo "$TOLLGATE"
  elif command -v tollgate >/dev/null; then
    command -v tollgate
  else
    (cd "$root" && cargo build --release -p tollgate >&2)
    echo "${CARGO_TARGET_DIR:-$root/target}/release/tollgate"
  fi
}

# wait_port PORT : until something accepts on 127.0.0.1:PORT (10 s).
wait_port() {
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  fail "nothing listens on 127.0.0.1:$1"
}

# self_signed NAME DIR : DIR/cert.pem and DIR/key.pem, an ECDSA P-256
# certificate for NAME, valid 30 days.
self_signed() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
    -subj "/CN=$1" -addext "subjectAltName=DNS:$1" \
    -keyout "$2/key.pem" -out "$2/cert.pem" 2>/dev/null
}

# start_tollgate CONFIG : runs tollgate on CONFIG, logging to $work/tollgate.log.
start_tollgate() {
  "$(find_tollgate)" run --config "$1" >"$work/tollgate.log" 2>&1 &
  pids+=($!)
}

# expect STATUS CURL-ARGS... : the request gets STATUS (body in $work/body).
expect() {
  local want=$1 got
  shift
  got=$(curl -s -o "$work/body" -w '%{http_code}' "$@") || true
  [ "$got" = "$want" ] || fail "curl $* answered $got, expected $want"
}

# Keep running for a person; return for --check.
hold() {
  if [ "$check" = 0 ]; then
    echo
    echo "Running. Ctrl-C stops everything."
    wait
  fi
}
