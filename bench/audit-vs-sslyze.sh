#!/usr/bin/env bash
# Benchmark (issue 24): the fleet audit against sslyze on the same local endpoints, in one
# run. A farm of N TLS endpoints on 127.0.0.1 (crates/keyway-connect/examples/audit_farm.rs:
# TLS 1.2+1.3, 1.3 only, 1.2 only, expired, client certificate required, one in fifty
# silent), audited by `keyway audit --require-min-tls 1.3` and scanned by sslyze (PyPI, in a
# virtual environment under target/) with the same servers at once, the same 5 s timeout
# and no retries: wall time and endpoints per second of each, the ratio, and every field
# of keyway's report checked against what each endpoint is.
# Target: at least 10x sslyze's rate with every field right.
#   bash bench/audit-vs-sslyze.sh [N] [CONCURRENCY]
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-500}
concurrency=${2:-16}

venv=target/bench-venv
if [ ! -x "$venv/bin/sslyze" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q 'sslyze==6.*'
fi
cargo build --release -q -p keyway --bin keyway
cargo build --release -q -p keyway-connect --example audit_farm

work=$(mktemp -d)
trap 'exec 3>&- 2>/dev/null; rm -rf "$work"' EXIT
# The farm serves until its standard input (fd 3 here) closes.
exec 3> >(target/release/examples/audit_farm "$count" "$work/farm" > "$work/farm.out")
until grep -q ready "$work/farm.out" 2>/dev/null; do sleep 0.2; done

start=$(date +%s%N)
set +e
target/release/keyway audit --config "$work/farm/keyway.toml" --require-min-tls 1.3 \
  --concurrency "$concurrency" --per-host 2 --json > "$work/keyway.json"
keyway_exit=$?
set -e
end=$(date +%s%N)
keyway_ms=$(( (end - start) / 1000000 ))

"$venv/bin/python" bench/audit_sslyze.py "$work/farm" "$concurrency" "$work/keyway.json" \
  "$keyway_ms" "$keyway_exit"
