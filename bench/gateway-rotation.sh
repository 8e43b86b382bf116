#!/usr/bin/env bash
# Figures for rotation under load (issue 26): while keyway's gateway serves a fixed rate
# (keep-alive and new connections mixed), replace its server certificate, add and remove
# a partner CA in its client truststore, issue certificates to N new users and revoke one
# user's certificate. Prints the counts: requests, failures (expected 0), and how long
# after the revocation the revoked user's new handshakes were refused.
#   bash bench/gateway-rotation.sh [SECONDS] [RATE] [NEW_USERS]     (default 60 500 50)
# The gateway runs on core 0 (one worker thread), the load, the upstream (nginx answering
# "ok" over TLS) and the rotation commands on core 1. Installs nginx when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
rate=${2:-500}
users=${3:-50}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
  echo "== installing nginx"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends nginx >/dev/null
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
cargo build --release -q -p keyway
cargo build --release -q -p keyway-server --example mtls_load
K=$PWD/target/release/keyway
LOAD=$PWD/target/release/examples/mtls_load

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
up=$(free_port); kw=$(free_port); kwadmin=$(free_port)
now_ms() { date +%s%3N; }

export KEYWAY_DATA_DIR=$work/data
KEYWAY_MASTER_KEY=$(openssl rand -hex 32); export KEYWAY_MASTER_KEY
k() { taskset -c 1 "$K" "$@"; }
k init >/dev/null
k ca issue --profile server --subject CN=upstream --san dns:localhost --san ip:127.0.0.1 \
  --out "$work/upstream.pem" --no-passphrase >/dev/null
k ca issue --profile server --subject CN=localhost --san dns:localhost \
  --out "$work/gateway-1.pem" --no-passphrase >/dev/null
k ca issue --profile server --subject CN=localhost --san dns:localhost \
  --out "$work/gateway-2.pem" --no-passphrase >/dev/null
k identity add gw "$work/gateway-1.pem" >/dev/null
# A partner's CA in the gateway's client truststore, and a second one added and removed.
for ca in partner-a partner-b; do
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
    -subj "/CN=$ca CA" -keyout "$work/$ca.key" -out "$work/$ca.pem" 2>/dev/null
done
cat "$work/partner-a.pem" "$work/partner-b.pem" > "$work/partners-ab.pem"
k truststore add partners "$work/partner-a.pem" >/dev/null
for user in bench leaver; do
  k user add "$user" --grant invoke:bench >/dev/null
  k user cert issue "$user" --out "$work/$user.pem" --no-passphrase >/dev/null
done
cat > "$work/keyway.toml" <<EOF
[truststores.keyway-ca]
path = "data/ca.pem"

[profiles.upstream]
truststores = ["keyway-ca"]
server_name = "localhost"

[connectors.bench]
kind = "rest"
url = "https://127.0.0.1:$up/"
profile = "upstream"

[integrations.bench]
connector = "bench"
EOF
k config import "$work/keyway.toml" >/dev/null

mkdir -p "$work/up"
cat > "$work/up/nginx.conf" <<EOF
worker_processes 1;
pid $work/up/nginx.pid;
error_log $work/up/error.log warn;
events { worker_connections 16384; }
http {
  access_log off;
  server {
    listen 127.0.0.1:$up ssl;
    ssl_certificate $work/upstream.pem;
    ssl_certificate_key $work/upstream.pem;
    keepalive_requests 1000000;
    location / { return 200 "ok"; }
  }
}
EOF
taskset -c 1 "$NGINX" -p "$work/up" -c "$work/up/nginx.conf" -g 'daemon off;' &
pids+=($!)

TOKIO_WORKER_THREADS=1 taskset -c 0 "$K" serve --listen "127.0.0.1:$kw" --admin "127.0.0.1:$kwadmin" \
  --server-keystore gw --client-truststore partners --max-connections 4096 >"$work/keyway.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$kwadmin/readyz" >/dev/null && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$kwadmin/readyz" >/dev/null || { cat "$work/keyway.log"; exit 1; }

load() { # load CLIENT MODE ARGS...
  local who=$1; shift
  taskset -c 1 "$LOAD" "127.0.0.1:$kw" "$work/data/ca.pem" "$work/$who.pem" "$work/$who.pem" /integrations/bench/ "$@"
}
echo "== ${secs}s at $rate requests/s over 32 connections, each replaced after 20 requests"
load bench mixed "$secs" "$rate" 32 20 > "$work/main.json" &
main=$!
load leaver probe "$secs" 20 > "$work/leaver.json" &
leaver=$!

step() { awk -v t="$(now_ms)" -v s="$start" -v what="$*" 'BEGIN { printf "%6.1fs  %s\n", (t - s) / 1000, what }'; }
start=$(now_ms)
third=$(( secs / 6 ))
sleep "$third"
step "replace the gateway's server certificate (identity gw)"
k identity add gw "$work/gateway-2.pem" --replace >/dev/null
sleep "$third"
step "add partner-b's CA to the client truststore"
k truststore add partners "$work/partners-ab.pem" --replace --force >/dev/null
sleep "$third"
step "issue certificates to $users new users"
for i in $(seq "$users"); do
  k user add "u$i" --grant invoke:bench >/dev/null
  k user cert issue "u$i" --out "$work/u$i.pem" --no-passphrase >/dev/null
done
step "remove partner-b's CA again"
k truststore add partners "$work/partner-a.pem" --replace --force >/dev/null
sleep "$third"
leaver_fp=$(k user cert list leaver --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["certificates"][0]["sha256"])')
step "revoke leaver's certificate"
k user cert revoke leaver "$leaver_fp" >/dev/null
revoked_ms=$(now_ms)
step "revoked"
wait "$main" "$leaver"

python3 - "$work/main.json" "$work/leaver.json" "$revoked_ms" "$users" <<'EOF'
import json, sys
main = json.load(open(sys.argv[1]))
leaver = json.load(open(sys.argv[2]))
revoked, users = int(sys.argv[3]), sys.argv[4]
print()
print(f"requests answered: {main['requests']} ({main['new_connections']} new connections), failed: {main['failed']} (target 0)")
for e in main["errors"]:
    print(f"  {e}")
refused = leaver["first_refused_ms"]
if refused is None:
    print("the revoked user was never refused: FAIL")
else:
    lag = (refused - revoked) / 1000
    print(f"revoked user: {leaver['ok']} answered, {leaver['refused']} refused; refused from {lag:.2f} s after `user cert revoke` returned on, never answered again (target <= 1 s)")
EOF
