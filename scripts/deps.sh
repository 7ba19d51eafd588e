#!/usr/bin/env bash
# Installs the Debian packages gregor needs, only those missing. Works as root (no sudo needed)
# or as a user with sudo.
# Usage: scripts/deps.sh [build|test|bench]
#   build: compile gregor (with its four compression codecs) and its examples;  test: everything
#   scripts/test.sh runs (both compilers, the CMake consumption test, the librdkafka/kcat interop
#   tests);  bench: build + Google Benchmark.
set -euo pipefail
want=(meson ninja-build g++ pkgconf catch2 liburing-dev zlib1g-dev libsnappy-dev liblz4-dev libzstd-dev)
case "${1:-build}" in
build) ;;
test) want+=(clang libclang-rt-dev cmake librdkafka-dev kcat libbenchmark-dev python3-kafka) ;;
bench) want+=(libbenchmark-dev) ;;
*) echo "usage: $0 [build|test|bench]" >&2; exit 2 ;;
esac
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ "${#missing[@]}" -eq 0 ] && exit 0
echo "installing: ${missing[*]}"
as_root=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "deps.sh: not root and no sudo; install as root: ${missing[*]}" >&2; exit 1; }
  as_root=(sudo)
fi
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
