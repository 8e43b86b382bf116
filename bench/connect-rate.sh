#!/usr/bin/env bash
# Benchmark: requests per second through a keyway connector (pooled, keep-alive) against
# hyper's pooled client and a bare hyper connection with the same rustls settings, one
# run, ratios printed; then the first call of a fresh connector against later ones
# (issue 5). Everything is in-process on 127.0.0.1 (see examples/call_rate.rs).
#   bash bench/connect-rate.sh [REQUESTS_PER_ROUND] [ROUNDS]
#   CALLGRIND=1 bash bench/connect-rate.sh     # instructions per call instead (valgrind)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-4000}
rounds=${2:-9}

cargo build --release -q -p keyway-connect --example call_rate

# CALLGRIND=1: user-space instructions per call (client and in-process server), keyway
# against hyper's pooled client, under valgrind: the difference between runs of 1 000
# and 3 000 sequential calls, so setup and handshakes cancel out. Steady where a busy
# machine makes requests/s jump.
if [ -n "${CALLGRIND:-}" ]; then
  command -v valgrind >/dev/null || { echo "CALLGRIND needs valgrind (apt-get install valgrind)"; exit 2; }
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
  instructions() { # instructions SIDE CALLS
    valgrind --tool=callgrind --callgrind-out-file="$out/$1-$2" target/release/examples/call_rate "$2" 1 "$1" 1 >/dev/null 2>&1
    callgrind_annotate "$out/$1-$2" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }'
  }
  per_call() { echo $(( ($(instructions "$1" 3000) - $(instructions "$1" 1000)) / 2000 )); }
  kw=$(per_call keyway); hy=$(per_call hyper-util)
  printf 'instructions per call: keyway %s, hyper pooled %s; hyper/keyway %s (target >= 0.95x)\n' \
    "$kw" "$hy" "$(awk -v a="$hy" -v b="$kw" 'BEGIN { printf "%.3fx", a / b }')"
  exit 0
fi
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
