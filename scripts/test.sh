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

# The test build takes about 3 GB under target/ (Cargo.toml's [profile.dev] keeps debug info to line tables);
# incremental caches would add gigabytes that a run from a clean clone never reuses.
export CARGO_INCREMENTAL=0
target_dir="${CARGO_TARGET_DIR:-target}"
mkdir -p "$target_dir"
free_kib=$(df -Pk "$target_dir" | awk 'NR == 2 { print $4 }')
if [ "$free_kib" -lt $((4 * 1024 * 1024)) ]; then
  echo "==> warning: $((free_kib / 1024)) MiB free under $target_dir; building the tests needs about 3 GB." \
    "Free some space (cargo clean in other projects) or set CARGO_TARGET_DIR to a roomier disk." >&2
fi

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
