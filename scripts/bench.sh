#!/usr/bin/env bash
# Builds the benchmarks (bench/, -Dbenchmarks=true) with buildtype=release in build-bench/ and runs
# every one registered there, printing their figures as JSON lines
# {"name": ..., "value": ..., "unit": ...}.
# Usage: scripts/bench.sh [name...]   (no name: all of them; a name is a benchmark in bench/meson.build)
# BUILD_DIR overrides build-bench/. Run it on an otherwise idle machine: the figures are wall time.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh bench
b=${BUILD_DIR:-build-bench}
opts=(-Dbenchmarks=true -Dtests=false -Dexamples=false -Dbuildtype=release -Db_ndebug=true)
if [ -f "$b/build.ninja" ]; then
    meson configure "$b" "${opts[@]}" >/dev/null
else
    meson setup "$b" "${opts[@]}" >"$b.setup.log" 2>&1 || { cat "$b.setup.log"; exit 1; }
fi
ninja -C "$b" >"$b/build.log" 2>&1 || { tail -50 "$b/build.log"; echo "benchmark build failed"; exit 1; }

# The programs are the benchmark() entries meson knows about, one command per line.
mapfile -t cmds < <(meson introspect "$b" --benchmarks | python3 -c '
import json, shlex, sys
want = set(sys.argv[1:])
for t in json.load(sys.stdin):
    if not want or t["name"] in want:
        print(shlex.join(t["cmd"]))
' "$@")
[ "${#cmds[@]}" -gt 0 ] || { echo "no benchmark to run${*:+ named $*}"; exit 1; }
rc=0
for c in "${cmds[@]}"; do
    eval "$c" || { echo "benchmark failed: $c" >&2; rc=1; }
done
exit $rc
