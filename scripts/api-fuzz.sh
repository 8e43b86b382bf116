#!/usr/bin/env bash
# The admin API against its own OpenAPI document (part of the test command): schemathesis
# (PyPI, in a virtual environment under target/) sends generated requests, valid and not,
# to a throwaway `keyway serve` on 127.0.0.1 with an administrator's API token, and fails
# on any 5xx or any answer the document does not describe. Bounded by --max-examples.
# The endpoints that make keyway connect somewhere (test, probe, connector test) are left
# out: generated addresses would reach beyond this machine.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=$PWD/target/schemathesis-venv
if [ ! -x "$venv/bin/schemathesis" ]; then
  echo "== installing schemathesis into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "schemathesis==4.32.*"
fi
cargo build -q -p keyway
keyway=target/debug/keyway

data=$(mktemp -d)
export KEYWAY_DATA_DIR="$data"
coproc SERVE { exec "$keyway" serve --listen 127.0.0.1:0 --admin 127.0.0.1:0 --no-demo --json 2>"$data/serve.log"; }
serve_pid=$SERVE_PID
trap 'kill "$serve_pid" 2>/dev/null || true; wait "$serve_pid" 2>/dev/null || true; rm -rf "$data"' EXIT
# The first line says where it listens, once it does.
read -r started <&"${SERVE[0]}" || { cat "$data/serve.log" >&2; exit 1; }
admin=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["admin"])' "$started")
token=$("$keyway" token create fuzz --user admin --json |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["secret"])')

echo "== schemathesis against http://$admin/api/v1/openapi.json"
# Run in the throwaway directory: what schemathesis keeps goes with it.
cd "$data"
"$venv/bin/schemathesis" run "http://$admin/api/v1/openapi.json" \
  --url "http://$admin" \
  -H "Authorization: Bearer $token" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --exclude-path /api/v1/test \
  --exclude-path /api/v1/probe \
  --exclude-path '/api/v1/connectors/{name}/test' \
  --exclude-path /api/v1/logout \
  --max-examples "${KEYWAY_FUZZ_EXAMPLES:-25}" \
  --request-timeout 10 \
  --generation-deterministic \
  --no-color
