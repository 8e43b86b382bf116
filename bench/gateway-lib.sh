# What the gateway benchmarks share (sourced by gateway-*.sh, not run): packages, the
# release build, a work directory cleaned up on exit with every process started, a store
# whose integration `bench` forwards to an upstream nginx answering "ok" over TLS.
# A script may define cleanup_extra (run first on exit).

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
install_packages() { # install_packages DEBIAN-PACKAGE...
  echo "== installing $*"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || install_packages nginx
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

cargo build --release -q -p keyway
cargo build --release -q -p keyway-server --example mtls_load
K=$PWD/target/release/keyway
LOAD=$PWD/target/release/examples/mtls_load

work=$(mktemp -d)
pids=()
cleanup() {
  if [ "$(type -t cleanup_extra)" = function ]; then cleanup_extra; fi
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now_ms() { date +%s%3N; }

# A fresh store (KEYWAY_DATA_DIR=$work/data unless set, a new master key) with connector
# and integration `bench` calling https://127.0.0.1:UPSTREAM_PORT/, and the upstream's
# certificate from keyway's CA in $work/upstream.pem.
bench_store() { # bench_store UPSTREAM_PORT
  export KEYWAY_DATA_DIR=${KEYWAY_DATA_DIR:-$work/data}
  KEYWAY_MASTER_KEY=$(openssl rand -hex 32); export KEYWAY_MASTER_KEY
  "$K" init >/dev/null
  "$K" ca issue --profile server --subject CN=upstream --san dns:localhost --san ip:127.0.0.1 \
    --out "$work/upstream.pem" --no-passphrase >/dev/null
  cat > "$work/keyway.toml" <<EOF
[truststores.keyway-ca]
path = "$KEYWAY_DATA_DIR/ca.pem"

[profiles.upstream]
truststores = ["keyway-ca"]
server_name = "localhost"

[connectors.bench]
kind = "rest"
url = "https://127.0.0.1:$1/"
profile = "upstream"

[integrations.bench]
connector = "bench"
EOF
  "$K" config import "$work/keyway.toml" >/dev/null
}

# nginx answering "ok" over TLS on UPSTREAM_PORT, one worker, on CORE (any core when
# empty); its pid file is $work/up/nginx.pid.
start_upstream() { # start_upstream UPSTREAM_PORT [CORE]
  mkdir -p "$work/up"
  cat > "$work/up/nginx.conf" <<EOF
worker_processes 1;
pid $work/up/nginx.pid;
error_log $work/up/error.log warn;
events { worker_connections 16384; }
http {
  access_log off;
  server {
    listen 127.0.0.1:$1 ssl;
    ssl_certificate $work/upstream.pem;
    ssl_certificate_key $work/upstream.pem;
    keepalive_requests 1000000;
    location / { return 200 "ok"; }
  }
}
EOF
  local pin=()
  [ -n "${2:-}" ] && pin=(taskset -c "$2")
  "${pin[@]}" "$NGINX" -p "$work/up" -c "$work/up/nginx.conf" -g 'daemon off;' &
  pids+=($!)
}

# Waits until the admin address ADDR answers /readyz, or prints LOG and fails.
wait_ready() { # wait_ready ADDR LOG
  for _ in $(seq 300); do curl -sf "http://$1/readyz" >/dev/null && return 0; sleep 0.05; done
  cat "$2" >&2
  return 1
}
