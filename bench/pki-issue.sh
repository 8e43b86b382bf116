#!/usr/bin/env bash
# Benchmark: certificates issued per second by keyway's CA in-process against a loop of
# the `openssl` CLI doing the same, in one run; prints both and the ratio, and
# `openssl speed ecdsap256` as the machine's signing limit (issue 4).
#   bash bench/pki-issue.sh [N_KEYWAY] [N_OPENSSL]
# keyway records every certificate and fsyncs the record before handing it out, so it is
# run twice: in target/ (the real disk) and in /dev/shm (tmpfs: fsync costs nothing),
# which separates the disk's share from keyway's own.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-2000}
m=${2:-200}
command -v openssl >/dev/null || { echo "openssl is needed (Debian: openssl)" >&2; exit 2; }

cargo build --release -q -p keyway-pki --example issue_rate
mkdir -p target
disk=$(mktemp -d -p target bench-pki.XXXXXX)
shm=$(mktemp -d -p /dev/shm 2>/dev/null || mktemp -d)
trap 'rm -rf "$disk" "$shm"' EXIT

# keyway: N issuances of each kind, through the public API.
read_rates() { target/release/examples/issue_rate "$1" "$n" | awk '{ printf "%s ", $2 }'; }
read -r kw_issue_disk kw_csr_disk <<<"$(read_rates "$disk/ca")"
read -r kw_issue_shm kw_csr_shm <<<"$(read_rates "$shm/ca")"

# openssl: the same work, one process per certificate, P-256 throughout.
o="$shm/openssl"
mkdir -p "$o"
openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=bench CA" \
  -days 3650 -keyout "$o/ca.key" -out "$o/ca.pem" 2>/dev/null
for i in $(seq "$m"); do
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=csr-$i/O=bench" \
    -keyout "$o/csr-$i.key" -out "$o/csr-$i.csr" 2>/dev/null
done
ext="$o/client.ext"
printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n' >"$ext"
rate() { awk -v n="$1" -v ns="$2" 'BEGIN { printf "%.1f", n / (ns / 1e9) }'; }

start=$(date +%s%N)
for i in $(seq "$m"); do # key generation + signing in one `openssl req -x509 -CA` (OpenSSL 3)
  openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=client-$i/O=bench" \
    -CA "$o/ca.pem" -CAkey "$o/ca.key" -days 365 -extensions v3 -config <(printf '[req]\ndistinguished_name=dn\n[dn]\n[v3]\n'; cat "$ext") \
    -keyout "$o/client-$i.key" -out "$o/client-$i.pem" 2>/dev/null
done
os_issue=$(rate "$m" $(($(date +%s%N) - start)))

start=$(date +%s%N)
for i in $(seq "$m"); do
  openssl x509 -req -in "$o/csr-$i.csr" -CA "$o/ca.pem" -CAkey "$o/ca.key" -days 365 \
    -extfile "$ext" -out "$o/signed-$i.pem" 2>/dev/null
done
os_csr=$(rate "$m" $(($(date +%s%N) - start)))
# Both must have made real certificates, or the timing compares nothing.
openssl verify -CAfile "$o/ca.pem" "$o/client-$m.pem" "$o/signed-$m.pem" >/dev/null

limit=$(openssl speed -seconds 3 ecdsap256 2>/dev/null | awk '/nistp256/ { print $(NF-1) }')

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1fx", a / b }'; }
printf '\n%-24s %14s %14s %14s %10s %10s\n' "certificates/s" "keyway disk" "keyway tmpfs" "openssl CLI" "disk/CLI" "tmpfs/CLI"
printf '%-24s %14s %14s %14s %10s %10s\n' "P-256 keygen + sign" "$kw_issue_disk" "$kw_issue_shm" "$os_issue" \
  "$(ratio "$kw_issue_disk" "$os_issue")" "$(ratio "$kw_issue_shm" "$os_issue")"
printf '%-24s %14s %14s %14s %10s %10s\n' "sign an existing CSR" "$kw_csr_disk" "$kw_csr_shm" "$os_csr" \
  "$(ratio "$kw_csr_disk" "$os_csr")" "$(ratio "$kw_csr_shm" "$os_csr")"
printf '\nopenssl speed ecdsap256: %s signatures/s (one core; the limit for signing alone)\n' "$limit"
printf 'keyway tmpfs CSR signing reaches %s of it; keygen + sign is two private-key operations.\n' \
  "$(awk -v a="$kw_csr_shm" -v b="$limit" 'BEGIN { printf "%.0f%%", 100 * a / b }')"
