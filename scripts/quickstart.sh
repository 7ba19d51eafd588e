#!/usr/bin/env bash
# Builds gregor into build/ and runs the main demo (examples/quickstart).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh build
[ -f build/build.ninja ] || meson setup build -Dtests=false >/dev/null
ninja -C build examples/quickstart >/dev/null
exec build/examples/quickstart "$@"
