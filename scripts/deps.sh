#!/usr/bin/env bash
# Installs the Debian packages gregor's build and tests need, only those missing.
# Usage: scripts/deps.sh [build|test]
set -euo pipefail
want=(meson ninja-build g++ pkgconf catch2 liburing-dev)
if [ "${1:-build}" = test ]; then
  want+=(clang librdkafka-dev kcat cmake libbenchmark-dev)
fi
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing: ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
