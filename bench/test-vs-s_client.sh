#!/usr/bin/env bash
# Benchmark: `keyway test` against `openssl s_client` (and curl) on local openssl servers,
# in one run: a successful connection, and a version-mismatch failure, which keyway
# diagnoses with a version probe. Prints mean wall times and ratios.
# Targets (issue 3): success no slower than s_client; a full diagnosis < 2x one s_client run.
#   bash bench/test-vs-s_client.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}
cargo build --release -q -p keyway
kw=target/release/keyway
work=$(mktemp -d)
# Every server and the `sleep` that holds its stdin open are children of this shell.
cleanup() { pkill -P $$ 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

# A CA and a server certificate for bench.test.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=Bench Root" \
  -keyout "$work/ca.key" -out "$work/ca.pem" 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=bench.test" \
  -keyout "$work/srv.key" -out "$work/srv.csr" 2>/dev/null
printf 'subjectAltName=DNS:bench.test\nbasicConstraints=CA:FALSE\n' > "$work/ext"
openssl x509 -req -in "$work/srv.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" -CAcreateserial -days 2 \
  -extfile "$work/ext" -out "$work/srv.pem" 2>/dev/null

start_server() { # start_server NAME ARGS… ; sets PORT
  local out="$work/$1.out"; shift
  sleep 3600 2>/dev/null | openssl s_server -accept 127.0.0.1:0 -cert "$work/srv.pem" -key "$work/srv.key" "$@" >"$out" 2>&1 &
  for _ in $(seq 100); do grep -q '^ACCEPT' "$out" 2>/dev/null && break; sleep 0.05; done
  PORT=$(sed -n 's/^ACCEPT .*:\([0-9]*\)$/\1/p' "$out")
}
start_server modern -www;                                  modern=$PORT
start_server legacy -tls1_1 -cipher 'DEFAULT@SECLEVEL=0';  legacy=$PORT

mean_ms() {
  local start end
  "$@" >/dev/null 2>&1 || true
  start=$(date +%s%N)
  for _ in $(seq "$runs"); do "$@" >/dev/null 2>&1 || true; done
  end=$(date +%s%N)
  awk -v ns=$((end - start)) -v n="$runs" 'BEGIN { printf "%.1f", ns / n / 1e6 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

# Sanity: each tool must see what we claim before it is timed.
$kw test "127.0.0.1:$modern" --truststore "$work/ca.pem" --servername bench.test >/dev/null
# (keyway exits 1 for a diagnosed failure, so capture first: pipefail would see that 1.)
diagnosis=$($kw test "127.0.0.1:$legacy" --truststore "$work/ca.pem" --servername bench.test --json || true)
if ! grep -q '"code": "version_mismatch"' <<<"$diagnosis"; then
  echo "keyway did not diagnose version_mismatch: $diagnosis" >&2; exit 1; fi

s_client_ok() { openssl s_client -connect "127.0.0.1:$modern" -servername bench.test -CAfile "$work/ca.pem" -verify_return_error </dev/null; }
s_client_fail() { openssl s_client -connect "127.0.0.1:$legacy" -servername bench.test -CAfile "$work/ca.pem" -tls1_2 </dev/null; }
curl_ok() { curl -s -o /dev/null --cacert "$work/ca.pem" --resolve "bench.test:$modern:127.0.0.1" "https://bench.test:$modern/"; }

k_ok=$(mean_ms $kw test "127.0.0.1:$modern" --truststore "$work/ca.pem" --servername bench.test)
k_https=$(mean_ms $kw test "https://127.0.0.1:$modern/" --truststore "$work/ca.pem" --servername bench.test)
o_ok=$(mean_ms s_client_ok)
c_ok=$(mean_ms curl_ok)
k_fail=$(mean_ms $kw test "127.0.0.1:$legacy" --truststore "$work/ca.pem" --servername bench.test)
o_fail=$(mean_ms s_client_fail)

printf '%-44s %9s\n' case "mean ms"
printf '%-44s %9s\n' "keyway test HOST:PORT (success)" "$k_ok"
printf '%-44s %9s\n' "keyway test https://… (success, HTTP GET)" "$k_https"
printf '%-44s %9s\n' "openssl s_client (success)" "$o_ok"
printf '%-44s %9s\n' "curl https://… (success)" "$c_ok"
printf '%-44s %9s\n' "keyway test (version_mismatch, with probe)" "$k_fail"
printf '%-44s %9s\n' "openssl s_client -tls1_2 (fails, no cause)" "$o_fail"
echo
echo "success: keyway / s_client = $(ratio "$k_ok" "$o_ok")  (target <= 1.00); keyway https / curl = $(ratio "$k_https" "$c_ok")"
echo "failure: keyway diagnosis / one s_client run = $(ratio "$k_fail" "$o_fail")  (target < 2.00)"
