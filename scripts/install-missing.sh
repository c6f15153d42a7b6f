#!/usr/bin/env bash
# Sourced by the other scripts: `install_missing [--no-install-recommends] command:package...` installs, as Debian
# packages, those whose command is not found (a command may be a full path), with sudo unless run as root.
install_missing() {
  local options=()
  if [ "${1:-}" = --no-install-recommends ]; then
    options+=("$1")
    shift
  fi
  local need missing=()
  for need in "$@"; do
    command -v "${need%%:*}" >/dev/null 2>&1 || missing+=("${need#*:}")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "==> installing ${missing[*]}"
    local sudo=sudo
    if [ "$(id -u)" = 0 ]; then sudo=""; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq ${options[@]+"${options[@]}"} "${missing[@]}" >/dev/null
  fi
}
