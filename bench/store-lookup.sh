#!/usr/bin/env bash
# Benchmark: the gateway's per-handshake lookup of a client certificate's user by SHA-256
# fingerprint, on SQLite and on PostgreSQL with 100 000 stored certificates, side by side
# with a full mutual-TLS 1.3 handshake (ECDSA P-256, in memory) and the ratio; and
# certificates issued by keyway's CA and stored per second. Prints the durability
# setting of each database (issue 6). PostgreSQL: a throwaway server keyway-testkit
# starts (needs Debian's postgresql, as the tests do), or KEYWAY_TEST_POSTGRES_URL.
#   bash bench/store-lookup.sh [STORED] [LOOKUPS] [ISSUES]
set -euo pipefail
cd "$(dirname "$0")/.."
stored=${1:-100000}
lookups=${2:-20000}
issues=${3:-300}

cargo build --release -q -p keyway-store --example cert_lookup
target/release/examples/cert_lookup "$stored" "$lookups" "$issues"
