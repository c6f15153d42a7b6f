#!/usr/bin/env bash
# Runs every frametap test on a fresh machine: installs what the tests need, then format, lint and tests.
# Usage: ./scripts/test.sh            (CI runs exactly this through .ci/run)
set -euo pipefail
cd "$(dirname "$0")/.."

# Headless Chromium drives the web UI tests (Debian's package; no browser download).
if ! command -v chromium >/dev/null 2>&1; then
  echo "==> installing chromium for the browser tests"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

echo "==> cargo fmt --check"
cargo fmt --all --check
echo "==> cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets --quiet -- -D warnings
# clippy --all-targets also compiles the benchmarks; they run only when asked (docs/performance.md).
echo "==> cargo test"
cargo test
