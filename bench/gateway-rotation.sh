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

source bench/gateway-lib.sh
up=$(free_port); kw=$(free_port); kwadmin=$(free_port)

bench_store "$up"
k() { taskset -c 1 "$K" "$@"; }
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
start_upstream "$up" 1

TOKIO_WORKER_THREADS=1 taskset -c 0 "$K" serve --listen "127.0.0.1:$kw" --admin "127.0.0.1:$kwadmin" \
  --server-keystore gw --client-truststore partners --max-connections 4096 >"$work/keyway.log" 2>&1 &
pids+=($!)
wait_ready "127.0.0.1:$kwadmin" "$work/keyway.log"

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
