#!/usr/bin/env bash
# Benchmark: requests per second through a keyway connector (pooled, keep-alive) against
# hyper's pooled client and a bare hyper connection with the same rustls settings, one
# run, ratios printed; then the first call of a fresh connector against later ones
# (issue 5). Everything is in-process on 127.0.0.1 (see examples/call_rate.rs).
#   bash bench/connect-rate.sh [REQUESTS_PER_ROUND] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-4000}
rounds=${2:-9}

cargo build --release -q -p keyway-connect --example call_rate
out=$(target/release/examples/call_rate "$n" "$rounds")

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; }
printf '\n%-16s %10s %12s %10s %16s %12s\n' "requests/s" "keyway" "hyper pooled" "hyper conn" "keyway/pooled" "keyway/conn"
while read -r tag c kw pooled bare; do
  [ "$tag" = rps ] || continue
  printf '%-16s %10s %12s %10s %16s %12s\n' "concurrency $c" "$kw" "$pooled" "$bare" \
    "$(ratio "$kw" "$pooled")" "$(ratio "$kw" "$bare")"
done <<<"$out"
printf '\n%-16s %10s %12s %10s %16s %12s\n' "client CPU/req" "keyway" "hyper pooled" "hyper conn" "keyway/pooled" "keyway/conn"
while read -r tag c kw pooled bare; do
  [ "$tag" = cpu ] || continue
  printf '%-16s %8sns %10sns %8sns %16s %12s\n' "concurrency $c" "$kw" "$pooled" "$bare" \
    "$(ratio "$kw" "$pooled")" "$(ratio "$kw" "$bare")"
done <<<"$out"
read -r _ first later bare_first <<<"$(grep '^first' <<<"$out")"
printf '\nfirst call of a fresh connector: %s us (profile load, TCP, full handshake, request)\n' "$first"
printf 'later calls on its pool:         %s us each (%s of the first)\n' "$later" "$(ratio "$later" "$first")"
printf 'bare hyper first request:        %s us (TCP, full handshake, request)\n' "$bare_first"
printf '(medians of %s rounds of %s requests; target: keyway >= 0.95x the requests/s of a plain hyper client.\n' "$rounds" "$n"
printf ' Client CPU is this process'"'"'s client thread (kernel time included) per request: lower is better.)\n'
