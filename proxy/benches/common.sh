# Shared by the benchmark scripts in this folder (source it; not run alone):
# tool checks, a release build of tollgate, a work dir whose processes are
# stopped on exit, readiness and CPU-time helpers.

# The same build cache as .ci/run, for the build below and the binary path.
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/tollgate-target}
TARGET=$CARGO_TARGET_DIR

# require_tools TOOL... : exit with an install hint when one is missing.
require_tools() {
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install wrk nginx-light haproxy valgrind" >&2; exit 1; }
  done
}

# Build tollgate in release and set TOLLGATE to the binary; a TOLLGATE
# already set (a binary to measure, e.g. an older build) skips the build.
build_tollgate() {
  if [ -n "${TOLLGATE:-}" ]; then return; fi
  cargo build --release -q -p tollgate
  TOLLGATE="$TARGET/release/tollgate"
}

# A temporary work dir ($work); processes added to `pids` die with the script.
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

# wait_port PORT : until 127.0.0.1:PORT accepts connections (5 s at most).
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 never opened" >&2; exit 1; }

# ticks PID... : CPU time (user+sys, clock ticks) of these processes.
ticks() { local t=0; for p in "$@"; do t=$((t + $(awk '{print $14+$15}' "/proc/$p/stat"))); done; echo $t; }
# user_ticks PID... : the user-space part of that (the rest is the kernel's).
user_ticks() { local t=0; for p in "$@"; do t=$((t + $(awk '{print $14}' "/proc/$p/stat"))); done; echo $t; }
hz=$(getconf CLK_TCK)

# median : the median of whitespace-separated numbers on stdin.
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END { print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2) }'; }
