#!/usr/bin/env bash
# Benchmark: `keyway keystore list` against `keytool -list` on the same 1000-entry JKS and
# PKCS#12 files, in one run; prints the mean wall time of each and the ratio.
# Target (issue 2): keyway at least 20x faster.
#   bash bench/keystore-list.sh [ENTRIES] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
entries=${1:-1000}
runs=${2:-10}
command -v keytool >/dev/null || { echo "keytool is needed (Debian: default-jdk-headless)" >&2; exit 2; }

cargo build --release -q -p keyway
cargo build --release -q -p keyway-keystore --example make_bench_stores
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
target/release/examples/make_bench_stores "$work" "$entries"

mean_ms() { # mean wall time in ms (one decimal) of RUNS runs of the command
  local start end
  "$@" >/dev/null 2>&1 # warm-up (page cache, JIT class data)
  start=$(date +%s%N)
  for _ in $(seq "$runs"); do "$@" >/dev/null 2>&1; done
  end=$(date +%s%N)
  awk -v ns=$((end - start)) -v n="$runs" 'BEGIN { printf "%.1f", ns / n / 1e6 }'
}

printf '%-10s %10s %12s %8s\n' store "keyway ms" "keytool ms" ratio
for store in bench.jks bench.p12; do
  # Both must list every entry, or the timing compares nothing.
  kw=$(target/release/keyway keystore list "$work/$store" --storepass changeit --json | grep -c '"alias"')
  kt=$(keytool -list -keystore "$work/$store" -storepass changeit 2>/dev/null | grep -cE 'PrivateKeyEntry|trustedCertEntry')
  [ "$kw" = "$entries" ] && [ "$kt" = "$entries" ] || { echo "$store: keyway listed $kw, keytool $kt, expected $entries" >&2; exit 1; }
  k=$(mean_ms target/release/keyway keystore list "$work/$store" --storepass changeit)
  j=$(mean_ms keytool -list -keystore "$work/$store" -storepass changeit)
  printf '%-10s %10s %12s %7sx\n' "$store" "$k" "$j" "$(awk -v a="$j" -v b="$k" 'BEGIN { printf "%.1f", a / b }')"
done
