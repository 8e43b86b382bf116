"""Half of bench/audit-vs-sslyze.sh: scans the farm with sslyze (the same servers at
once, 5 s timeout, no retries), checks every field of keyway's audit against what each
endpoint is, and prints both rates and their ratio."""

import json
import sys
import time

from sslyze import (Scanner, ScanCommand, ServerNetworkConfiguration,
                    ServerNetworkLocation, ServerScanRequest)

farm, concurrency, keyway_json, keyway_ms, keyway_exit = sys.argv[1:6]
concurrency = int(concurrency)
keyway_seconds = int(keyway_ms) / 1000
expected = json.load(open(f"{farm}/expected.json"))

# What keyway must say about each kind of endpoint, under --require-min-tls 1.3.
WANT = {
    "modern": dict(standing="passing", code=None, negotiated="TLS 1.3",
                   versions=["TLS 1.2", "TLS 1.3"], what_if=True, client_request=False,
                   expired=False, probe=True),
    "tls13": dict(standing="passing", code=None, negotiated="TLS 1.3",
                  versions=["TLS 1.3"], what_if=True, client_request=False,
                  expired=False, probe=True),
    "tls12": dict(standing="would_break", code=None, negotiated="TLS 1.2",
                  versions=["TLS 1.2"], what_if=False, client_request=False,
                  expired=False, probe=True),
    "expired": dict(standing="failing", code="certificate_expired", negotiated=None,
                    versions=["TLS 1.2", "TLS 1.3"], what_if=False, client_request=False,
                    expired=True, probe=True),
    "clientcert": dict(standing="failing", code="client_cert_required", negotiated=None,
                       versions=["TLS 1.2", "TLS 1.3"], what_if=False, client_request=True,
                       expired=False, probe=True),
    "silent": dict(standing="failing", code="handshake_timeout", negotiated=None,
                   versions=None, what_if=None, client_request=False, expired=None,
                   probe=False),
}

report = json.load(open(keyway_json))
rows = {r["connector"]: r for r in report["connectors"]}
checked = wrong = 0
problems = []


def check(name, field, got, want):
    global checked, wrong
    checked += 1
    if got != want:
        wrong += 1
        if len(problems) < 20:
            problems.append(f"{name}: {field} is {got!r}, want {want!r}")


for e in expected:
    name, want = e["connector"], WANT[e["kind"]]
    row = rows.get(name)
    if row is None:
        check(name, "present", False, True)
        continue
    check(name, "standing", row["standing"], want["standing"])
    if want["code"]:
        check(name, "code", row["code"], want["code"])
    check(name, "negotiated_version", row["negotiated_version"], want["negotiated"])
    check(name, "partner_versions", row["partner_versions"], want["versions"])
    check(name, "probe", row["probe"] is not None, want["probe"])
    connects = None if row["what_if"] is None else row["what_if"]["connects"]
    check(name, "what_if.connects", connects, want["what_if"])
    if want["what_if"] is False:
        # Under TLS 1.3 only: the 1.2-only partner for its versions; the others for the
        # same reason they fail today.
        why = want["code"] or "version_mismatch"
        check(name, "what_if.code", row["what_if"]["code"], why)
    check(name, "client_certificate_request",
          row["client_certificate_request"] is not None, want["client_request"])
    if want["client_request"]:
        cas = row["client_certificate_request"]["acceptable_cas"]
        check(name, "acceptable_cas", any("partner-clients" in ca for ca in cas), True)
    server = [c for c in row["certificates"] if c["role"] == "server"]
    if want["expired"] is None:
        check(name, "certificates", row["certificates"], [])
    else:
        check(name, "server certificate seen", len(server), 1)
        if server:
            check(name, "server certificate ended", server[0]["days_left"] < 0, want["expired"])
            check(name, "server certificate subject",
                  e['kind'] in server[0]["subject"], True)
check("(all)", "rows", len(rows), len(expected))
counts = report["counts"]
check("(all)", "exit code", keyway_exit, "1")

# sslyze: the same endpoints, the same servers at once, its version and certificate scans.
commands = {ScanCommand.CERTIFICATE_INFO, ScanCommand.SSL_3_0_CIPHER_SUITES,
            ScanCommand.TLS_1_0_CIPHER_SUITES, ScanCommand.TLS_1_1_CIPHER_SUITES,
            ScanCommand.TLS_1_2_CIPHER_SUITES, ScanCommand.TLS_1_3_CIPHER_SUITES}
requests = [
    ServerScanRequest(
        server_location=ServerNetworkLocation("127.0.0.1", e["port"], "127.0.0.1"),
        network_configuration=ServerNetworkConfiguration(
            tls_server_name_indication=f"{e['kind']}.test", network_timeout=5,
            network_max_retries=0),
        scan_commands=commands)
    for e in expected
]
scanner = Scanner(per_server_concurrent_connections_limit=5,
                  concurrent_server_scans_limit=concurrency)
start = time.monotonic()
scanner.queue_scans(requests)
scanned = sum(1 for _ in scanner.get_results())
sslyze_seconds = time.monotonic() - start

n = len(expected)
keyway_rate, sslyze_rate = n / keyway_seconds, n / sslyze_seconds
print(f"endpoints: {n}, {concurrency} at once, 5 s timeout")
print(f"keyway audit: {keyway_seconds:6.1f} s  {keyway_rate:7.1f} endpoints/s  "
      f"(probe, chain, what-if under TLS 1.3; {counts})")
print(f"sslyze:       {sslyze_seconds:6.1f} s  {sslyze_rate:7.1f} endpoints/s  "
      f"(certinfo + SSL 3.0 .. TLS 1.3 scans; {scanned} results)")
print(f"ratio: keyway {keyway_rate / sslyze_rate:.1f}x sslyze's rate (target >= 10x)")
print(f"fields checked: {checked}, wrong: {wrong}")
for p in problems:
    print("  " + p)
sys.exit(1 if wrong else 0)
