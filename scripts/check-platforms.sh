#!/usr/bin/env bash
# Checks that frametap compiles, and is clippy-clean, for Windows and macOS, from Linux: the library, the binary, the
# tests and the benchmarks (`cargo clippy --all-targets -D warnings`, which type-checks everything cargo check does).
# Installs what it needs: the two Rust targets, Debian's mingw-w64 (ring's C code for Windows) and clang/llvm (ring's
# C code for macOS). Usage: ./scripts/check-platforms.sh [windows|macos]...   (both when none is named)
#
# Windows (x86_64-pc-windows-gnu) is checked for real: ring is compiled with mingw-w64, and the same setup links
# `cargo build --release --target x86_64-pc-windows-gnu` into a frametap.exe (README, "Platforms").
#
# macOS (x86_64-apple-darwin) is type-checked only. Without Apple's SDK nothing links for macOS here, and two build
# scripts need C: ring's is compiled freestanding against the few header stand-ins written below (its objects are
# never linked: `cargo check` only needs them to exist), and jemalloc's `configure`, which needs a working macOS
# linker, is skipped by pointing JEMALLOC_OVERRIDE at an empty archive. frametap's own code, every `cfg` path
# for macOS included, is fully checked; to build a binary for macOS, run `cargo build --release` on a Mac.
set -euo pipefail
cd "$(dirname "$0")/.."

platforms=("$@")
[ ${#platforms[@]} -gt 0 ] || platforms=(windows macos)
for platform in "${platforms[@]}"; do
  case "$platform" in
    windows | macos) ;;
    *) echo "unknown platform '$platform': give windows, macos or nothing (both)" >&2; exit 2 ;;
  esac
done

# The Debian packages each platform needs (command:package).
needs=()
for platform in "${platforms[@]}"; do
  case "$platform" in
    windows) needs+=(x86_64-w64-mingw32-gcc:gcc-mingw-w64-x86-64) ;;
    macos) needs+=(clang:clang llvm-ar:llvm) ;;
  esac
done
source scripts/install-missing.sh
install_missing --no-install-recommends "${needs[@]}"

check_windows() {
  rustup target add x86_64-pc-windows-gnu >/dev/null
  echo "==> cargo clippy --all-targets --target x86_64-pc-windows-gnu -- -D warnings"
  cargo clippy --all-targets --quiet --target x86_64-pc-windows-gnu -- -D warnings
}

check_macos() {
  rustup target add x86_64-apple-darwin >/dev/null
  # Stand-ins for the SDK headers ring includes (it uses memcpy and memset, and assert only in debug checks).
  local stubs="${CARGO_TARGET_DIR:-target}/macos-check-stubs"
  mkdir -p "$stubs"
  stubs="$(cd "$stubs" && pwd)"
  printf '#define TARGET_OS_MAC 1\n#define TARGET_OS_OSX 1\n#define TARGET_OS_IPHONE 0\n' >"$stubs/TargetConditionals.h"
  printf '#include <stddef.h>\nvoid *memcpy(void *, const void *, size_t);\nvoid *memset(void *, int, size_t);\n' \
    >"$stubs/string.h"
  printf '#include <stddef.h>\n' >"$stubs/stdlib.h"
  printf '#define assert(x) ((void)0)\n' >"$stubs/assert.h"
  rm -f "$stubs/libjemalloc.a" && llvm-ar rc "$stubs/libjemalloc.a"
  echo "==> cargo clippy --all-targets --target x86_64-apple-darwin -- -D warnings (type check: no SDK, nothing linked)"
  CC_x86_64_apple_darwin=clang AR_x86_64_apple_darwin=llvm-ar \
    CFLAGS_x86_64_apple_darwin="-ffreestanding -nostdlibinc -isystem $stubs" \
    X86_64_APPLE_DARWIN_JEMALLOC_OVERRIDE="$stubs/libjemalloc.a" \
    cargo clippy --all-targets --quiet --target x86_64-apple-darwin -- -D warnings
}

for platform in "${platforms[@]}"; do
  "check_$platform"
done
echo "==> frametap checks clean for: ${platforms[*]}"
