#!/usr/bin/env bash
# Benchmark (issue 7): keyway's gateway next to nginx configured as an mTLS-terminating
# reverse proxy, with the same server certificate (keyway's keystore `gateway`, exported),
# the same client CA (keyway's), the same client certificate and the same trivial
# upstream (a separate nginx answering "ok" over TLS), in one run:
#   keep-alive requests/s (forwarded, and without the upstream: GET /whoami answered by
#   each server itself), new mTLS handshakes/s (no resumption), p50/p99 latency at a
#   fixed rate, and resident memory per idle client connection (1 000 connections).
# Same CPU budget: the server under test alone on core 0 (taskset), one worker each
# (nginx worker_processes 1; keyway TOKIO_WORKER_THREADS=1). The upstream and the load
# generator (crates/keyway-server/examples/mtls_load.rs) run on core 1: in production the
# partner is another machine (issue 26). Both record every request: keyway its audit
# log, nginx a buffered access log line. The keep-alive figure is also measured in the
# earlier layout, the upstream sharing core 0 with the server under test, and both are
# printed ("fair" and "shared").
# Installs nginx (Debian package) when missing.
#   bash bench/gateway-vs-nginx.sh [SECONDS] [RATE]
#   ONLY=idle bash bench/gateway-vs-nginx.sh    # just the memory figure
#   ONLY=keepalive bash bench/gateway-vs-nginx.sh 5   # just keep-alive (no idle phase first)
#   ONLY=inbound bash bench/gateway-vs-nginx.sh 5     # keep-alive without the upstream: each
#     server answers GET /whoami itself (keyway its JSON, nginx a fixed 200); the floor
#     terminating mTLS and HTTP costs each, before any forwarding
#   CALLGRIND=1 bash bench/gateway-vs-nginx.sh   # keyway's instructions per keep-alive request
#     (user space, under valgrind: steady on a noisy machine where requests/s are not;
#     the profile is left in bench-callgrind.out for callgrind_annotate)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
rate=${2:-1000}

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ -n "${CALLGRIND:-}" ]; then
  command -v valgrind >/dev/null || { echo "CALLGRIND needs valgrind (apt-get install valgrind)"; exit 2; }
  ONLY=keepalive
  secs=$(( secs < 20 ? 20 : secs ))
  WRAP="valgrind --tool=callgrind --callgrind-out-file=$PWD/bench-callgrind.out.%p"
  rm -f bench-callgrind.out.*
fi

source bench/gateway-lib.sh
up=$(free_port); kw=$(free_port); kwadmin=$(free_port); ngx=$(free_port)

bench_store "$up"
$K user add bench --grant invoke:bench >/dev/null
$K user cert issue bench --out "$work/client.pem" --no-passphrase >/dev/null
# The upstream both proxies call, on core 1 (moved to core 0 for the "shared" keep-alive
# figure).
start_upstream "$up" 1
mkdir -p "$work/proxy"

# keyway on core 0, one worker thread.
# WRAP: a profiler to run keyway under (e.g. WRAP="heaptrack -o /tmp/kw"); the memory
# figure is then the profiler's.
TOKIO_WORKER_THREADS=1 taskset -c 0 ${WRAP:-} "$K" serve --listen "127.0.0.1:$kw" --admin "127.0.0.1:$kwadmin" \
  --host localhost --host 127.0.0.1 --max-connections 4096 >"$work/keyway.log" 2>&1 &
kwpid=$!
pids+=($kwpid)
kwserver=$(pgrep -x -P "$kwpid" keyway || echo "$kwpid") # keyway itself under a WRAP
wait_ready "127.0.0.1:$kwadmin" "$work/keyway.log"

# nginx as the mTLS proxy, with keyway's own server certificate and client CA, core 0.
$K identity export gateway --out "$work/gateway.pem" --no-passphrase >/dev/null
cat > "$work/proxy/nginx.conf" <<EOF
worker_processes 1;
pid $work/proxy/nginx.pid;
error_log $work/proxy/error.log warn;
events { worker_connections 16384; }
http {
  # Every request recorded, as keyway audits each: buffered, as a busy proxy would.
  access_log $work/proxy/access.log combined buffer=64k flush=1s;
  upstream up { server 127.0.0.1:$up; keepalive 64; }
  server {
    listen 127.0.0.1:$ngx ssl;
    ssl_certificate $work/gateway.pem;
    ssl_certificate_key $work/gateway.pem;
    ssl_client_certificate $work/data/ca.pem;
    ssl_verify_client on;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_tickets off;
    keepalive_requests 1000000;
    location = /whoami { default_type application/json; return 200 '{"user":"bench"}'; }
    location /integrations/bench/ {
      proxy_pass https://up/;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For \$remote_addr;
    }
  }
}
EOF
taskset -c 0 "$NGINX" -p "$work/proxy" -c "$work/proxy/nginx.conf" -g 'daemon off;' &
ngxmaster=$!
pids+=($ngxmaster)
for _ in $(seq 50); do [ -s "$work/proxy/nginx.pid" ] && break; sleep 0.1; done
sleep 0.5
ngxworker=$(pgrep -P "$ngxmaster" | head -1)

target=/integrations/bench/
[ "${ONLY:-}" = inbound ] && target=/whoami
load() { # load ADDR MODE ARGS...
  local addr=$1; shift
  taskset -c 1 "$LOAD" "$addr" "$work/data/ca.pem" "$work/client.pem" "$work/client.pem" "$target" "$@"
}
field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }

# Memory first, while both servers are fresh (no allocator state left by the runs below).
if [ "${ONLY:-}" != keepalive ] && [ "${ONLY:-}" != inbound ]; then
  echo "== resident memory per idle client connection, 1000 connections"
  k_idle=$(load "127.0.0.1:$kw" idle 1000 "$kwpid"); echo "keyway $k_idle"
  n_idle=$(load "127.0.0.1:$ngx" idle 1000 "$ngxworker"); echo "nginx  $n_idle"
fi
if [ "${ONLY:-}" = idle ]; then
  python3 -c "import json,sys; k,n=(json.loads(a)['kib_per_connection'] for a in sys.argv[1:]); print(f'KiB per idle connection: keyway {k:.2f}, nginx {n:.2f}, {k/n:.2f}x (target <= 0.5x)')" "$k_idle" "$n_idle"
  exit 0
fi
# CPU time (user + system, all threads) a process has used, in microseconds: what a
# request costs each server, which a busy machine disturbs less than requests/s.
cpu_us() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%d", ($14 + $15) * 1000000 / hz }' "/proc/$1/stat"; }
upworker=$(pgrep -P "$(cat "$work/up/nginx.pid")" | head -1)
served() { curl -s "http://127.0.0.1:$kwadmin/metrics" | awk '/^keyway_requests_total/ { n += $2 } END { print n + 0 }'; }
keepalive() { # keepalive ADDR SERVER_PID: the load's JSON plus both servers' CPU per request
  local s0 u0 out s1 u1
  s0=$(cpu_us "$2"); u0=$(cpu_us "$upworker")
  if [ -n "${CALLGRIND:-}" ] && [ "$2" = "$kwserver" ]; then
    # Counted from 6 s in (connections made, pools warm) for 10 s, by keyway's own metrics.
    ( sleep 6; callgrind_control -z "$kwserver" >/dev/null; served > "$work/r0"
      sleep 10; served > "$work/r1"; callgrind_control -d "$kwserver" >/dev/null ) &
  fi
  out=$(load "$1" keepalive "$secs" 32)
  s1=$(cpu_us "$2"); u1=$(cpu_us "$upworker")
  python3 -c "import json,sys; r=json.loads(sys.argv[1]); n=max(r['requests'],1); r['server_cpu_us']=round((int(sys.argv[2]))/n,1); r['upstream_cpu_us']=round(int(sys.argv[3])/n,1); print(json.dumps(r))" \
    "$out" "$((s1 - s0))" "$((u1 - u0))"
}
echo "== keep-alive, 32 connections, ${secs}s each (fair: the upstream on the load generator's core)"
k_keep=$(keepalive "127.0.0.1:$kw" "$kwserver"); echo "keyway $k_keep"
[ -z "${CALLGRIND:-}" ] && { n_keep=$(keepalive "127.0.0.1:$ngx" "$ngxworker"); echo "nginx  $n_keep"; }
if [ -z "${CALLGRIND:-}" ]; then
  echo "== keep-alive, 32 connections, ${secs}s each (shared: the upstream on the server's core 0)"
  taskset -p -c 0 "$upworker" >/dev/null
  k_keep_shared=$(keepalive "127.0.0.1:$kw" "$kwserver"); echo "keyway $k_keep_shared"
  n_keep_shared=$(keepalive "127.0.0.1:$ngx" "$ngxworker"); echo "nginx  $n_keep_shared"
  taskset -p -c 1 "$upworker" >/dev/null
fi
if [ -n "${CALLGRIND:-}" ]; then
  wait_for() { for _ in $(seq 100); do [ -s "$1" ] && return; sleep 0.2; done; }
  wait_for "$work/r1"
  dump=$(ls bench-callgrind.out.*.1 | head -1)
  wait_for "$dump"
  total=$(callgrind_annotate "$dump" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }')
  n=$(( $(cat "$work/r1") - $(cat "$work/r0") ))
  echo "keyway user-space instructions per keep-alive request: $(( total / n )) ($total over $n requests; profile: $dump)"
  exit 0
fi
if [ "${ONLY:-}" = keepalive ] || [ "${ONLY:-}" = inbound ]; then
  python3 -c "import json,sys; k,n,ks,ns=(json.loads(a) for a in sys.argv[1:]); print(f\"keep-alive requests/s (fair): keyway {k['per_second']:.0f}, nginx {n['per_second']:.0f}, {k['per_second']/n['per_second']:.2f}x (target >= 1.0x)\"); print(f\"keep-alive requests/s (shared): keyway {ks['per_second']:.0f}, nginx {ns['per_second']:.0f}, {ks['per_second']/ns['per_second']:.2f}x\"); print(f\"CPU per request: keyway {k['server_cpu_us']} us, nginx {n['server_cpu_us']} us ({k['server_cpu_us']/n['server_cpu_us']:.2f}x); the upstream {k['upstream_cpu_us']} / {n['upstream_cpu_us']} us\")" "$k_keep" "$n_keep" "$k_keep_shared" "$n_keep_shared"
  exit 0
fi
echo "== keep-alive without the upstream (GET /whoami answered by the server itself), ${secs}s each"
target=/whoami
k_in=$(keepalive "127.0.0.1:$kw" "$kwserver"); echo "keyway $k_in"
n_in=$(keepalive "127.0.0.1:$ngx" "$ngxworker"); echo "nginx  $n_in"
target=/integrations/bench/
echo "== new mTLS handshakes (no resumption), 16 at a time, ${secs}s each"
k_hs=$(load "127.0.0.1:$kw" handshakes "$secs" 16); echo "keyway $k_hs"
n_hs=$(load "127.0.0.1:$ngx" handshakes "$secs" 16); echo "nginx  $n_hs"
echo "== latency at $rate requests/s over 32 connections, ${secs}s each"
k_rate=$(load "127.0.0.1:$kw" rate "$secs" "$rate" 32); echo "keyway $k_rate"
n_rate=$(load "127.0.0.1:$ngx" rate "$secs" "$rate" 32); echo "nginx  $n_rate"

python3 - "$k_keep" "$n_keep" "$k_hs" "$n_hs" "$k_rate" "$n_rate" "$k_idle" "$n_idle" "$k_in" "$n_in" "$k_keep_shared" "$n_keep_shared" <<'EOF'
import json, sys
kk, nk, kh, nh, kr, nr, ki, ni, kin, nin, kks, nks = (json.loads(a) for a in sys.argv[1:])
rows = [
    ("keep-alive requests/s", kk["per_second"], nk["per_second"], ">= 1.0x"),
    ("  upstream on core 0 (shared)", kks["per_second"], nks["per_second"], "(the earlier layout)"),
    ("  server CPU us/request", kk["server_cpu_us"], nk["server_cpu_us"], "(lower is better)"),
    ("  without upstream, req/s", kin["per_second"], nin["per_second"], "(inbound side alone)"),
    ("  without upstream, CPU us", kin["server_cpu_us"], nin["server_cpu_us"], "(lower is better)"),
    ("new mTLS handshakes/s", kh["per_second"], nh["per_second"], ">= 2.0x"),
    (f"p50 ms at {kr['per_second']}/s", kr["p50_ms"], nr["p50_ms"], "(lower is better)"),
    (f"p99 ms at {kr['per_second']}/s", kr["p99_ms"], nr["p99_ms"], "(lower is better)"),
    ("KiB per idle connection", ki["kib_per_connection"], ni["kib_per_connection"], "<= 0.5x"),
]
print()
print(f"{'':28}{'keyway':>12}{'nginx':>12}{'keyway/nginx':>15}  target")
for name, k, n, target in rows:
    ratio = k / n if n else float("nan")
    print(f"{name:28}{k:>12.2f}{n:>12.2f}{ratio:>14.2f}x  {target}")
failed = sum(r["failed"] for r in (kk, nk, kh, nh, kr, nr, kin, nin, kks, nks))
if failed:
    print(f"\n{failed} request(s) failed: the figures above are not comparable")
EOF
