#!/usr/bin/env bash
# Benchmark (issue 22): the admin API on a large store. 100 000 users and 100 000 client
# certificates, on SQLite and on PostgreSQL (a throwaway server on 127.0.0.1, started by
# keyway-testkit; PostgreSQL's Debian package is installed by scripts/test.sh), then a
# fixed rate of requests to GET /api/v1/users?limit=100 and to
# GET /api/v1/users/{name}/certificates over a real socket: requests/s, p50, p99, max.
# Target: p99 under 20 ms at 200 requests/s. See crates/keyway-admin/examples/api_load.rs.
#   bash bench/admin-api.sh [USERS] [RATE] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
users=${1:-100000}
rate=${2:-200}
seconds=${3:-10}

cargo build --release -q -p keyway-admin --example api_load
for backend in sqlite postgres; do
  target/release/examples/api_load "$backend" "$users" "$rate" "$seconds"
done
echo "target: p99 under 20 ms at $rate requests/s"
