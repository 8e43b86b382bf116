#!/usr/bin/env bash
# Figures for two gateway nodes sharing one PostgreSQL database (issue 26):
# 1. the load split over both nodes (each its own client, a fixed rate, keep-alive and new
#    connections mixed); node B killed with SIGKILL a third of the way in: node A's
#    failures (target 0) and node B's (its open connections) counted apart; node B
#    restarted: seconds until it is ready and serving again;
# 2. revocation on node A, then how long until node B refuses that certificate's new
#    connections, over REVOCATIONS users: p50 and p99 (target <= 1 s);
# 3. the database stopped for 10 s under load on node A: requests still answered from
#    what the node knows (failures, target 0), /readyz's answer meanwhile, the audit
#    records waiting in memory; after PostgreSQL is back, seconds until ready again and
#    until every waiting record is written (target <= 5 s), and records dropped (0).
#   bash bench/gateway-two-nodes.sh [SECONDS] [RATE_PER_NODE] [REVOCATIONS]  (default 30 200 10)
# A throwaway PostgreSQL (Debian's, initdb in a temporary directory, 127.0.0.1 and a free
# port) and nginx as the upstream; both installed when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-30}
rate=${2:-200}
revocations=${3:-10}

source bench/gateway-lib.sh
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || install_packages postgresql
PGBIN=$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb | sort -V | tail -1)")
chmod 755 "$work"
pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$PGBIN/$1" "${@:2}"; else "$PGBIN/$1" "${@:2}"; fi; }
cleanup_extra() { pg pg_ctl -D "$work/pg" -m immediate stop >/dev/null 2>&1 || true; }

pgport=$(free_port)
mkdir "$work/pg"
[ "$(id -u)" = 0 ] && chown postgres:postgres "$work/pg"
pg initdb -D "$work/pg" -A trust -U postgres --no-sync -E UTF8 >/dev/null
pg pg_ctl -D "$work/pg" -o "-p $pgport -k $work/pg -c listen_addresses=127.0.0.1 -c max_connections=200" \
  -l "$work/pg/log" -w start >/dev/null
export KEYWAY_DATABASE_URL="postgres://postgres@127.0.0.1:$pgport/postgres"
up=$(free_port)
bench_store "$up"
for user in alice bob $(seq -f "r%g" "$revocations"); do
  $K user add "$user" --grant invoke:bench >/dev/null
  $K user cert issue "$user" --out "$work/$user.pem" --no-passphrase >/dev/null
done
start_upstream "$up"

declare -A listen admin pid
for node in a b; do listen[$node]=$(free_port); admin[$node]=$(free_port); done
start_node() { # start_node NODE: starts it and waits until it is ready; prints the seconds
  local node=$1 t0
  t0=$(now_ms)
  TOKIO_WORKER_THREADS=1 "$K" serve --node "node-$node" --listen "127.0.0.1:${listen[$node]}" \
    --admin "127.0.0.1:${admin[$node]}" --no-api --max-connections 4096 >>"$work/node-$node.log" 2>&1 &
  pid[$node]=$!
  pids+=(${pid[$node]})
  wait_ready "127.0.0.1:${admin[$node]}" "$work/node-$node.log"
  awk -v a="$t0" -v b="$(now_ms)" 'BEGIN { printf "%.2f", (b - a) / 1000 }'
}
start_node a >/dev/null
start_node b >/dev/null

load() { # load NODE USER MODE ARGS...
  local node=$1 user=$2; shift 2
  "$LOAD" "127.0.0.1:${listen[$node]}" "$work/data/ca.pem" "$work/$user.pem" "$work/$user.pem" /integrations/bench/ "$@"
}

echo "== ${secs}s at $rate requests/s per node over 16 connections each (new connection every 20 requests); node B killed at $((secs / 3))s"
load a alice mixed "$secs" "$rate" 16 20 > "$work/a.json" &
la=$!
load b bob mixed "$secs" "$rate" 16 20 > "$work/b.json" &
lb=$!
sleep $((secs / 3))
kill -9 "${pid[b]}"
wait "${pid[b]}" 2>/dev/null || true
echo "   node B killed (SIGKILL)"
sleep 2
# Not in $( ): a subshell's pids+= would not reach cleanup, and node B would outlive us.
start_node b > "$work/restart"
restart=$(cat "$work/restart")
echo "   node B restarted: ready after $restart s"
wait "$la" "$lb"

echo "== revocation on node A, refusal on node B ($revocations users)"
lags=()
for i in $(seq "$revocations"); do
  load b "r$i" probe 4 10 > "$work/probe-$i.json" &
  probe=$!
  sleep 1
  fp=$($K user cert list "r$i" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["certificates"][0]["sha256"])')
  $K user cert revoke "r$i" "$fp" >/dev/null
  revoked=$(now_ms)
  wait "$probe"
  lags+=("$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print("none" if r["first_refused_ms"] is None else (r["first_refused_ms"] - int(sys.argv[2])) / 1000)' "$work/probe-$i.json" "$revoked")")
done

echo "== PostgreSQL stopped for 10 s while node A serves $rate requests/s"
metric() { curl -s "http://127.0.0.1:${admin[a]}/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
load a alice mixed 20 "$rate" 16 20 > "$work/outage.json" &
lo=$!
sleep 3
pg pg_ctl -D "$work/pg" -m fast -w stop >/dev/null
down=$(now_ms)
sleep 2
readyz_down=$(curl -s "http://127.0.0.1:${admin[a]}/readyz" || true)
sleep 7
queued_down=$(metric keyway_audit_records_queued)
pg pg_ctl -D "$work/pg" -o "-p $pgport -k $work/pg -c listen_addresses=127.0.0.1 -c max_connections=200" \
  -l "$work/pg/log" -w start >/dev/null
back=$(now_ms)
for _ in $(seq 400); do curl -sf "http://127.0.0.1:${admin[a]}/readyz" >/dev/null && break; sleep 0.05; done
ready_again=$(now_ms)
for _ in $(seq 400); do [ "$(metric keyway_audit_records_queued)" = 0 ] && break; sleep 0.05; done
drained=$(now_ms)
wait "$lo"
outage=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["requests"], "answered,", r["failed"], "failed")' "$work/outage.json")
echo "   requests over the 20 s: $outage (target 0 failed)"
echo "   /readyz with the database down: $(echo "$readyz_down" | head -c 160)"
echo "   audit records waiting in memory after $(( (back - down) / 1000 )) s down: $queued_down"
awk -v b="$back" -v r="$ready_again" -v d="$drained" 'BEGIN { printf "   PostgreSQL back: ready again after %.2f s, every waiting record written after %.2f s (target <= 5 s)\n", (r - b) / 1000, (d - b) / 1000 }'
echo "   audit records dropped: $(metric keyway_audit_records_dropped_total) (target 0)"

python3 - "$work/a.json" "$work/b.json" "$restart" "${lags[@]}" <<'EOF'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
restart = sys.argv[3]
lags = sys.argv[4:]
print()
print(f"node A: {a['requests']} answered, {a['failed']} failed (target 0)")
for e in a["errors"]:
    print(f"  {e}")
print(f"node B: {b['requests']} answered, {b['failed']} failed: its client's requests while it was down (killed, then {restart} s to be ready again)")
numbers = sorted(float(l) for l in lags if l != "none")
missing = len(lags) - len(numbers)
if numbers:
    pick = lambda q: numbers[min(int(len(numbers) * q), len(numbers) - 1)]
    print(f"revoked on node A, refused by node B after: p50 {pick(0.5):.2f} s, p99 {pick(0.99):.2f} s, max {numbers[-1]:.2f} s over {len(numbers)} (target <= 1 s)")
if missing:
    print(f"{missing} revocation(s) never refused by node B within the probe: FAIL")
EOF
