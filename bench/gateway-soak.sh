#!/usr/bin/env bash
# Soak (issue 26; a script, not part of CI): keyway's gateway at half its keep-alive
# maximum, with new connections mixed in (each of 32 connections replaced after REUSE
# requests), for MINUTES, in windows of WINDOW seconds. After each window: resident
# memory, open file descriptors, p50/p99 and failures. Prints the drift after warm-up
# (the first two windows): targets RSS < 5 %, descriptors flat, p99 stable.
#   bash bench/gateway-soak.sh [MINUTES] [WINDOW_SECONDS] [REUSE]     (default 30 60 200)
# REUSE 200 at half the maximum is ~80 new connections/s; with 20 (~800/s) the full
# handshakes take a third of the core and the gateway runs near saturation, where any
# other load on the machine shows as seconds of p99.
# The gateway on core 0 (one worker thread), the upstream (nginx, "ok" over TLS) and the
# load on core 1. Installs nginx when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-30}
window=${2:-60}
reuse=${3:-200}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
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

export KEYWAY_DATA_DIR=$work/data
KEYWAY_MASTER_KEY=$(openssl rand -hex 32); export KEYWAY_MASTER_KEY
$K init >/dev/null
$K ca issue --profile server --subject CN=upstream --san dns:localhost --san ip:127.0.0.1 \
  --out "$work/upstream.pem" --no-passphrase >/dev/null
$K user add bench --grant invoke:bench >/dev/null
$K user cert issue bench --out "$work/client.pem" --no-passphrase >/dev/null
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
$K config import "$work/keyway.toml" >/dev/null
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
  --host localhost --max-connections 4096 >"$work/keyway.log" 2>&1 &
kwpid=$!
pids+=($kwpid)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$kwadmin/readyz" >/dev/null && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$kwadmin/readyz" >/dev/null || { cat "$work/keyway.log"; exit 1; }

load() { taskset -c 1 "$LOAD" "127.0.0.1:$kw" "$work/data/ca.pem" "$work/client.pem" "$work/client.pem" /integrations/bench/ "$@"; }
max=$(load keepalive 5 32 | python3 -c 'import json,sys; print(json.load(sys.stdin)["per_second"])')
rate=$(( max / 2 ))
echo "keep-alive maximum ${max}/s: soaking at ${rate}/s (a new connection every $reuse requests) for ${minutes} min in ${window}s windows"
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$kwpid/status"; }
fds() { ls "/proc/$kwpid/fd" | wc -l; }
windows=$(( minutes * 60 / window ))
: > "$work/rows"
printf '%7s %10s %8s %5s %9s %9s %7s\n' window requests failed fds "RSS KiB" "p50 ms" "p99 ms"
for w in $(seq "$windows"); do
  out=$(load mixed "$window" "$rate" 32 "$reuse")
  row=$(python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print(r["requests"], r["failed"], r["p50_ms"], r["p99_ms"])' "$out")
  read -r requests failed p50 p99 <<<"$row"
  echo "$w $requests $failed $(fds) $(rss) $p50 $p99" >> "$work/rows"
  printf '%7s %10s %8s %5s %9s %9s %7s\n' "$w" "$requests" "$failed" "$(fds)" "$(rss)" "$p50" "$p99"
done
python3 - "$work/rows" <<'EOF'
import sys
rows = [list(map(float, l.split())) for l in open(sys.argv[1])]
warm = rows[2:] if len(rows) > 3 else rows
base, last = warm[0], warm[-1]
top = max(r[4] for r in warm)
# Growth is what a leak shows: the highest resident memory after warm-up against its start.
drift = (top - base[4]) / base[4] * 100
fds = sorted({int(r[3]) for r in warm})
p99 = [r[6] for r in warm]
failed = sum(r[2] for r in rows)
print()
print(f"after warm-up ({len(rows) - len(warm)} windows): RSS {base[4]:.0f} KiB, at most {top:.0f}, at the end {last[4]:.0f}: growth {drift:+.1f} % (target < 5 %)")
print(f"open descriptors over the windows: {fds[0]}..{fds[-1]} (target flat)")
print(f"p99 per window: {min(p99):.2f}..{max(p99):.2f} ms; failed requests: {failed:.0f}")
EOF
