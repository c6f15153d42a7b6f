#!/usr/bin/env bash
# Sourced by the Windows scripts: `wine_prefix DIR` makes a fresh Wine prefix in DIR (a fresh Windows user profile)
# and exports WINEPREFIX and WINEDEBUG for it; `WINE` is the wine64 to run a .exe with. Needs wine64 and mingw-w64.
WINE=/usr/lib/wine/wine64

wine_prefix() {
  local dir="$1"
  export WINEPREFIX="$dir/wineprefix" WINEDEBUG=-all
  rm -rf "$dir"
  mkdir -p "$dir"
  "$WINE" wineboot -i >/dev/null 2>&1 || true
  # Rust's std (1.78 on) takes random bytes from bcryptprimitives.dll's ProcessPrng, which every Windows 10 and later
  # has but Debian 12's Wine 8.0 does not: there, a stand-in built on RtlGenRandom. Nothing of it ships with frametap.
  local system32="$WINEPREFIX/drive_c/windows/system32"
  if [ ! -e "$system32/bcryptprimitives.dll" ]; then
    local stub="$dir/prng"
    mkdir -p "$stub"
    cat >"$stub/prng.c" <<'EOF'
#include <windows.h>
BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);
BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
    while (len > 0) {
        ULONG chunk = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!SystemFunction036(data, chunk)) return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
EOF
    printf 'LIBRARY bcryptprimitives\nEXPORTS\nProcessPrng\n' >"$stub/prng.def"
    x86_64-w64-mingw32-gcc -shared -O2 -o "$system32/bcryptprimitives.dll" "$stub/prng.c" "$stub/prng.def" -ladvapi32
  fi
}
