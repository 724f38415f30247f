# shellcheck shell=bash
# Shared by the benchmark scripts in this folder (source it; not run alone):
# tool checks, a release build of tollgate, a work dir whose processes are
# stopped on exit, readiness and CPU-time helpers.

# The same build cache as .ci/run, for the build below and the binary path.
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/tollgate-target}
TARGET=$CARGO_TARGET_DIR

# require_tools TOOL... : exit with an install hint when one is missing.
require_tools() {
  local pkg
  for tool in "$@"; do
    command -v "$tool" >/dev/null && continue
    case $tool in
      nginx) pkg=nginx-light ;;
      h2load) pkg=nghttp2-client ;;
      taskset) pkg=util-linux ;;
      ss) pkg=iproute2 ;;
      valgrind | callgrind_control) pkg=valgrind ;;
      perf) pkg=linux-perf ;;
      *) pkg=$tool ;;
    esac
    echo "missing $tool: apt-get install $pkg" >&2
    exit 1
  done
}

# Build tollgate in release and set TOLLGATE to the binary; a TOLLGATE or
# TOLLGATE_BIN already set (a binary to measure, e.g. an older build) skips
# the build.
build_tollgate() {
  TOLLGATE=${TOLLGATE:-${TOLLGATE_BIN:-}}
  if [ -n "$TOLLGATE" ]; then
    [ -x "$TOLLGATE" ] || { echo "not an executable: $TOLLGATE" >&2; exit 1; }
    return
  fi
  cargo build --release -q -p tollgate
  TOLLGATE="$TARGET/release/tollgate"
}

# A temporary work dir ($work); processes added to `pids` die with the script.
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

# wait_port PORT [TRIES] : until 127.0.0.1:PORT accepts connections
# (TRIES of 50 ms, 100 by default: 5 s).
wait_port() { for _ in $(seq "${2:-100}"); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 never opened" >&2; exit 1; }

# ticks PID... : CPU time (user+sys, clock ticks) of these processes.
ticks() { local t=0; for p in "$@"; do t=$((t + $(awk '{print $14+$15}' "/proc/$p/stat"))); done; echo $t; }
# user_ticks PID... : the user-space part of that (the rest is the kernel's).
user_ticks() { local t=0; for p in "$@"; do t=$((t + $(awk '{print $14}' "/proc/$p/stat"))); done; echo $t; }
hz=$(getconf CLK_TCK)

# median : the median of whitespace-separated numbers on stdin.
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END { print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2) }'; }

# --- configs shared by the scripts (written into $work) ---

# write_backend PORT : backend.conf, an nginx worker answering
# "Hello, World!" (13 bytes) from memory on PORT, and /big with the file
# $work/big when a script writes one (abuse.sh's slow reader).
write_backend() {
  cat >"$work/backend.conf" <<CONF
daemon off; worker_processes 1; pid $work/backend.pid; error_log /dev/null crit;
worker_rlimit_nofile 65536;
events { worker_connections 8192; }
http { access_log off; keepalive_requests 1000000;
  server { listen 127.0.0.1:$1;
    location = /big { root $work; }
    location / { return 200 "Hello, World!"; } } }
CONF
}

# write_peers NGINX_PORT HAPROXY_PORT BACKEND_PORT [MASTER] : nginx.conf and
# haproxy.cfg, each one worker proxying to the backend over keep-alive
# connections. MASTER=off runs nginx without its master process (the worker
# is the process started, as callgrind needs). With NGINX_H2 and HAPROXY_H2
# set (abuse.sh), each also listens there for h2c with prior knowledge.
write_peers() {
  local nginx_h2="" haproxy_h2=""
  [ -z "${NGINX_H2:-}" ] || nginx_h2="listen 127.0.0.1:$NGINX_H2 http2;"
  [ -z "${HAPROXY_H2:-}" ] || haproxy_h2="bind 127.0.0.1:$HAPROXY_H2 proto h2"
  cat >"$work/nginx.conf" <<CONF
daemon off; master_process ${4:-on}; worker_processes 1; pid $work/nginx.pid; error_log /dev/null crit;
worker_rlimit_nofile 65536;
events { worker_connections 8192; }
http { access_log off; keepalive_requests 1000000;
  upstream backend { server 127.0.0.1:$3; keepalive 64; }
  server { listen 127.0.0.1:$1; $nginx_h2
    location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection ""; } } }
CONF
  cat >"$work/haproxy.cfg" <<CONF
global
  nbthread 1
  maxconn 8192
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  option http-keep-alive
frontend fe
  bind 127.0.0.1:$2
  $haproxy_h2
  default_backend be
backend be
  http-reuse always
  server s1 127.0.0.1:$3
CONF
}

# write_auth_routes TOLLGATE_PORT BACKEND_PORT : tollgate.toml with two
# routes to the backend, /plain/ (no middleware) and /auth/ (basicAuth,
# test:password as a bcrypt hash of cost 10, htpasswd -B's default), and
# auth.lua, which makes wrk send those credentials on every request.
write_auth_routes() {
  cat >"$work/tollgate.toml" <<'CONF'
logLevel = "ERROR"
[entryPoints.http]
address = "127.0.0.1:TOLLGATE_PORT"
[frontends.plain]
backend = "b"
  [frontends.plain.routes.r]
  rule = "PathPrefix:/plain/"
[frontends.auth]
backend = "b"
basicAuth = ["test:$2y$10$IgmoIgmoIgmoIgmoIgmoIe8sFypzg5Rusky2yX8M/N658cZW927cW"]
  [frontends.auth.routes.r]
  rule = "PathPrefix:/auth/"
[backends.b.servers.s1]
url = "http://127.0.0.1:BACKEND_PORT"
CONF
  sed -i "s/TOLLGATE_PORT/$1/; s/BACKEND_PORT/$2/" "$work/tollgate.toml"
  cat >"$work/auth.lua" <<'LUA'
wrk.headers["Authorization"] = "Basic dGVzdDpwYXNzd29yZA=="
LUA
}

# start_three BACKEND_PORT NGINX_PORT HAPROXY_PORT TOLLGATE_PORT : the
# backend, nginx and HAProxy proxying to it (write_peers), and tollgate
# (one worker thread) with one route, `PathPrefix:/`, to the same backend;
# returns once all four accept connections. tollgate's config is
# $work/tollgate.toml; proxy_port[NAME] is where each proxy listens.
start_three() {
  declare -gA proxy_port=([nginx]=$2 [haproxy]=$3 [tollgate]=$4)
  write_backend "$1"
  write_peers "$2" "$3" "$1"
  cat >"$work/tollgate.toml" <<CONF
logLevel = "ERROR"
[entryPoints.http]
address = "127.0.0.1:$4"
[frontends.bench]
backend = "bench"
  [frontends.bench.routes.r]
  rule = "PathPrefix:/"
[backends.bench.servers.s1]
url = "http://127.0.0.1:$1"
CONF
  nginx -c "$work/backend.conf" -p "$work" & pids+=($!)
  nginx -c "$work/nginx.conf" -p "$work" & pids+=($!)
  haproxy -f "$work/haproxy.cfg" -db & pids+=($!)
  TOLLGATE_WORKER_THREADS=1 "$TOLLGATE" run --config "$work/tollgate.toml" 2>"$work/tollgate.log" & pids+=($!)
  for p in "$@" ${NGINX_H2:-} ${HAPROXY_H2:-}; do wait_port "$p"; done
}

# proxy_pids NAME : the processes that do the work of nginx, haproxy or
# tollgate as start_three started them (nginx: its worker, not its master).
proxy_pids() {
  case $1 in
    nginx) pgrep -P "$(cat "$work/nginx.pid")" ;;
    haproxy) pgrep -f "haproxy -f $work/haproxy.cfg" ;;
    tollgate) pgrep -f "$TOLLGATE run --config $work/tollgate.toml" ;;
  esac
}
