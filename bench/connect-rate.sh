#!/usr/bin/env bash
# Benchmark: requests per second through a keyway connector (pooled, keep-alive) against
# hyper's pooled client, reqwest and a bare hyper connection with the same rustls
# settings, one run, ratios printed; then the first call of a fresh connector against
# later ones (issue 5). Everything is in-process on 127.0.0.1 (see examples/call_rate.rs).
#   bash bench/connect-rate.sh [REQUESTS_PER_ROUND] [ROUNDS]
#   CALLGRIND=1 bash bench/connect-rate.sh     # instructions per call instead (valgrind)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-4000}
rounds=${2:-9}

cargo build --release -q -p keyway-connect --example call_rate

# CALLGRIND=1: user-space instructions per call, keyway against hyper's pooled client and
# reqwest, under valgrind: the difference between runs of 1 000 and 5 000 sequential
# calls (setup and handshakes cancel out), median of 3. "client" is the client thread's
# own work (what a connector costs its caller); "with server" adds the in-process
# server's thread, the same for all. Steady where a busy machine makes requests/s jump.
if [ -n "${CALLGRIND:-}" ]; then
  command -v valgrind >/dev/null || { echo "CALLGRIND needs valgrind (apt-get install valgrind)"; exit 2; }
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
  run() { # run SIDE CALLS: one profile per thread, $out/SIDE-CALLS-01 the client's
    rm -f "$out/$1-$2"*
    valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$out/$1-$2" \
      target/release/examples/call_rate "$2" 1 "$1" 1 >/dev/null 2>&1
  }
  client() { awk '/^summary:/ { print $2 }' "$out/$1-$2-01"; }
  total() { cat "$out/$1-$2"-* | awk '/^summary:/ { s += $2 } END { print s }'; }
  median3() { printf '%s\n' "$@" | sort -n | sed -n 2p; }
  declare -A per_client per_total
  for side in keyway hyper-util reqwest; do
    c=(); t=()
    for _ in 1 2 3; do
      run "$side" 1000; c1=$(client "$side" 1000); t1=$(total "$side" 1000)
      run "$side" 5000; c5=$(client "$side" 5000); t5=$(total "$side" 5000)
      c+=($(( (c5 - c1) / 4000 ))); t+=($(( (t5 - t1) / 4000 )))
    done
    per_client[$side]=$(median3 "${c[@]}"); per_total[$side]=$(median3 "${t[@]}")
  done
  ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3fx", a / b }'; }
  printf '\n%-26s %8s %13s %8s %15s %16s\n' "instructions per call" keyway "hyper pooled" reqwest "pooled/keyway" "reqwest/keyway"
  for what in client total; do
    if [ "$what" = client ]; then label="client"; k=${per_client[keyway]}; h=${per_client[hyper-util]}; r=${per_client[reqwest]};
    else label="with server"; k=${per_total[keyway]}; h=${per_total[hyper-util]}; r=${per_total[reqwest]}; fi
    printf '%-26s %8s %13s %8s %15s %16s\n' "$label" "$k" "$h" "$r" "$(ratio "$h" "$k")" "$(ratio "$r" "$k")"
  done
  printf '(x/keyway >= 0.95x is the target: keyway costs at most 1/0.95 of the bare client per call)\n'
  exit 0
fi
out=$(target/release/examples/call_rate "$n" "$rounds")

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; }
printf '\n%-16s %9s %12s %10s %9s %14s %14s %12s\n' "requests/s" "keyway" "hyper pooled" "hyper conn" "reqwest" "keyway/pooled" "keyway/reqwest" "keyway/conn"
while read -r tag c kw pooled bare rq; do
  [ "$tag" = rps ] || continue
  printf '%-16s %9s %12s %10s %9s %14s %14s %12s\n' "concurrency $c" "$kw" "$pooled" "$bare" "$rq" \
    "$(ratio "$kw" "$pooled")" "$(ratio "$kw" "$rq")" "$(ratio "$kw" "$bare")"
done <<<"$out"
printf '\n%-16s %9s %12s %10s %9s %14s %14s %12s\n' "client CPU/req" "keyway" "hyper pooled" "hyper conn" "reqwest" "keyway/pooled" "keyway/reqwest" "keyway/conn"
while read -r tag c kw pooled bare rq; do
  [ "$tag" = cpu ] || continue
  printf '%-16s %7sns %10sns %8sns %7sns %14s %14s %12s\n' "concurrency $c" "$kw" "$pooled" "$bare" "$rq" \
    "$(ratio "$kw" "$pooled")" "$(ratio "$kw" "$rq")" "$(ratio "$kw" "$bare")"
done <<<"$out"
read -r _ first later bare_first <<<"$(grep '^first' <<<"$out")"
printf '\nfirst call of a fresh connector: %s us (profile load, TCP, full handshake, request)\n' "$first"
printf 'later calls on its pool:         %s us each (%s of the first)\n' "$later" "$(ratio "$later" "$first")"
printf 'bare hyper first request:        %s us (TCP, full handshake, request)\n' "$bare_first"
printf '(medians of %s rounds of %s requests; target: keyway >= 0.95x the requests/s of a plain client.\n' "$rounds" "$n"
printf ' Client CPU is this process'"'"'s client thread (kernel time included) per request: lower is better.)\n'
