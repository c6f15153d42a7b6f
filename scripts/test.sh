#!/usr/bin/env bash
# Runs every frametap test on a fresh machine: installs what the tests need, then format, lint and tests.
# Usage: ./scripts/test.sh            (CI runs exactly this through .ci/run)
set -euo pipefail
cd "$(dirname "$0")/.."

# What the build and the tests need beyond Rust, as Debian packages (command:package): Chromium drives the web
# UI tests (Debian's package; no browser download); gcc and make build jemalloc, frametap's allocator; certutil
# (libnss3-tools) runs the Chrome trust-store commands `frametap certs init` prints (tests/certs_trust.rs).
source scripts/install-missing.sh
install_missing chromium:chromium gcc:gcc make:make certutil:libnss3-tools

echo "==> cargo fmt --check"
cargo fmt --all --check
echo "==> cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets --quiet -- -D warnings
# clippy --all-targets also compiles the benchmarks; they run only when asked (docs/performance.md).
echo "==> cargo test"
# The terminal log fits its lines to COLUMNS when set (README, "The terminal log"); the tests that read the log
# set the width they want, so an exported COLUMNS from the caller's shell must not reach the others. The tests
# start the binary through tests/common/binary.rs's frametap_command, which clears it (so a plain `cargo test` is
# safe too); this also keeps it from the test processes themselves.
unset COLUMNS
cargo test
