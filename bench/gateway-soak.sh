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

source bench/gateway-lib.sh
up=$(free_port); kw=$(free_port); kwadmin=$(free_port)

bench_store "$up"
$K user add bench --grant invoke:bench >/dev/null
$K user cert issue bench --out "$work/client.pem" --no-passphrase >/dev/null
start_upstream "$up" 1
TOKIO_WORKER_THREADS=1 taskset -c 0 "$K" serve --listen "127.0.0.1:$kw" --admin "127.0.0.1:$kwadmin" \
  --host localhost --max-connections 4096 >"$work/keyway.log" 2>&1 &
kwpid=$!
pids+=($kwpid)
wait_ready "127.0.0.1:$kwadmin" "$work/keyway.log"

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
