#!/usr/bin/env bash
# Runs frametap's own tests as Windows programs under Wine, from Linux: cross-builds the test binaries for
# x86_64-pc-windows-gnu (mingw-w64), then runs each under wine64 in a fresh Wine prefix; the tests that start
# frametap start the Windows frametap.exe (CARGO_BIN_EXE_frametap), which Wine runs as their child. Prints pass or
# fail per test binary and exits 1 when one failed. Not part of test.sh (it installs mingw-w64 and wine64).
# Usage: ./scripts/windows-tests.sh [TEST...]   (TEST: `lib` for the unit tests, or a file of tests/; when none is
# named, every one below: those that need no Chromium and are not Unix-only). Extra arguments for every test binary
# go after `--`, e.g. `-- --nocapture`. The few tests Wine itself fails (WINE_FAILS) are skipped, and said so. Each
# binary runs its tests one at a time: in parallel under Wine, a test that waits out a token's one-second lifetime
# (diagnosis_e2e's jwt_expiring_mid_session_end_to_end) can be slowed past it.
set -euo pipefail
cd "$(dirname "$0")/.."

tests=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do
  tests+=("$1")
  shift
done
[ "${1:-}" = -- ] && shift
[ ${#tests[@]} -gt 0 ] || tests=(lib capture_checks cli_refused compact convert_spill diagnosis diagnosis_announced
  diagnosis_e2e diagnosis_e2e_upgrade diagnosis_edges diagnosis_fragments diagnosis_handshake diagnosis_idle
  diagnosis_jwt diagnosis_rate_limit diagnosis_rtt diagnosis_sim diagnosis_sim_auth diagnosis_too_big
  diagnosis_upgrade forward fuzz_corpus golden har har_convert har_devtools har_failed_upgrade har_import
  har_import_attached har_import_close har_import_firefox har_import_playwright inspect redact redact_command
  redact_fragments redact_tokens relay relay_handshake relay_limits replay replay_cli replay_ends replay_order
  replay_redact replay_stderr replay_tls sim timeouts tls_ca tls_listener tls_upstream tokens upstream_proxy)

# Tests that fail under Wine 8 for Wine's sake, not frametap's (README, "Platforms"), by test binary. A peer's TCP
# reset reads as an end of stream under Wine (a tokio read gets 0 bytes, not WSAECONNRESET): the tests of a reset
# see a FIN. Two hundred connections, their clients, proxy and echo server all in one test process, miss the tests'
# 2 s handshake timeout under Wine (the same load through frametap.exe, from Linux clients, passes).
declare -A WINE_FAILS=(
  [relay]="a_tcp_reset_is_mirrored_as_a_reset two_hundred_connections_run_independently"
  [relay_handshake]="an_upstream_that_resets_instead_of_answering_gets_a_502_naming_the_reset"
  [replay_ends]="recorded_tcp_drops_and_resets_are_replayed_as_such"
)

source scripts/install-missing.sh
install_missing --no-install-recommends x86_64-w64-mingw32-gcc:gcc-mingw-w64-x86-64 /usr/lib/wine/wine64:wine64
rustup target add x86_64-pc-windows-gnu >/dev/null

selection=()
for test in "${tests[@]}"; do
  if [ "$test" = lib ]; then selection+=(--lib); else selection+=(--test "$test"); fi
done
echo "==> cargo test --release --target x86_64-pc-windows-gnu --no-run ${selection[*]}"
cargo build --release --quiet --target x86_64-pc-windows-gnu
executables="$(cargo test --release --quiet --target x86_64-pc-windows-gnu --no-run --message-format=json \
  "${selection[@]}" | python3 -c '
import json, sys
for line in sys.stdin:
    message = json.loads(line)
    if message.get("reason") == "compiler-artifact" and message.get("executable") and message["profile"]["test"]:
        kind = message["target"]["kind"][0]
        print("lib" if kind == "lib" else message["target"]["name"], message["executable"])')"
target="$(cd "${CARGO_TARGET_DIR:-target}" && pwd)"

source scripts/wine-prefix.sh
wine_prefix "$target/windows-tests"
echo "==> under $("$WINE" --version)"
failed=()
while read -r name exe; do
  skips=()
  for skip in ${WINE_FAILS[$name]:-}; do
    skips+=(--skip "$skip")
  done
  echo "==> $name${WINE_FAILS[$name]:+ (skipping what Wine fails: ${WINE_FAILS[$name]})}"
  if "$WINE" "$exe" --test-threads=1 ${skips[@]+"${skips[@]}"} "$@"; then echo "--> $name: pass"; else failed+=("$name"); echo "--> $name: FAIL"; fi
done <<<"$executables"
if [ ${#failed[@]} -gt 0 ]; then
  echo "failed under Wine: ${failed[*]}" >&2
  exit 1
fi
echo "==> every test binary passed under Wine"
