#!/usr/bin/env bash
# keyway's test command (the README's): installs what the tests need when it is missing,
# then checks formatting, lints, docs, and runs every test. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "need root to install packages: $*" >&2; return 1; fi
}

apt_updated=false
install() { # install DEBIAN-PACKAGE WHY
  echo "== installing $1 (for $2)"
  if [ "$apt_updated" = false ]; then as_root apt-get update -qq; apt_updated=true; fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "$1" >/dev/null
}
need() { # need COMMAND DEBIAN-PACKAGE
  command -v "$1" >/dev/null 2>&1 && return 0
  install "$2" "$1"
  command -v "$1" >/dev/null 2>&1 || { echo "$2 installed but $1 is still not on PATH" >&2; exit 1; }
}

# Interop tests check keyway against the real tools; without them those tests fail, not skip.
need keytool default-jdk-headless
need openssl openssl
need script bsdutils   # a real terminal for the password-prompt test
need curl curl         # `keyway serve` is checked with the curl command it prints
need python3 python3   # schemathesis (below) runs in a virtual environment
need tinyproxy tinyproxy   # a real outbound proxy for the end-to-end proxy test
need chromium chromium               # the web console's tests drive a real browser,
need chromedriver chromium-driver    # headless, through WebDriver
python3 -c 'import venv, ensurepip' 2>/dev/null || install python3-venv "schemathesis's virtual environment"
# A real PostgreSQL for the shared-database backend: keyway-testkit starts a throwaway
# server from it (initdb in a temporary directory, 127.0.0.1 and a free port), unless
# KEYWAY_TEST_POSTGRES_URL names one.
if [ -z "${KEYWAY_TEST_POSTGRES_URL:-}" ] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  install postgresql "the PostgreSQL backend's tests"
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { echo "postgresql installed but initdb is missing" >&2; exit 1; }
fi

# A local SMTP receiver for the watch's mail alerts (aiosmtpd from PyPI), in a virtual
# environment the tests find at target/test-venv.
if [ ! -x target/test-venv/bin/python ] || ! target/test-venv/bin/python -c 'import aiosmtpd' 2>/dev/null; then
  echo "== making target/test-venv (aiosmtpd, for the mail alert tests)"
  python3 -m venv target/test-venv
  target/test-venv/bin/pip install -q 'aiosmtpd==1.4.*'
fi

# The tests start their own servers and proxies on 127.0.0.1: a proxy from this machine's
# environment must not come between them (cargo still uses it to fetch crates).
export NO_PROXY="127.0.0.1,localhost,::1${NO_PROXY:+,$NO_PROXY}"
export no_proxy="127.0.0.1,localhost,::1${no_proxy:+,$no_proxy}"

# A full run gains nothing from incremental caches, which take gigabytes on disk.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings
echo "== cargo doc"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --quiet
echo "== cargo test"
cargo test --workspace
echo "== the admin API against its OpenAPI document (schemathesis)"
bash scripts/api-fuzz.sh
