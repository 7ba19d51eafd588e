#!/usr/bin/env bash
# Builds the libFuzzer targets in tests/fuzz/ with clang++ (-fsanitize=fuzzer,address,undefined)
# and runs each for N seconds (default 30). Not part of the meson build.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]      targets: fuzz_wire fuzz_record_batch (default: all)
#
# Corpora persist in build-fuzz/corpus-<target>/ (seeded with valid encodings on the first run);
# crash inputs land in build-fuzz/ as crash-*. Exit status is non-zero if any target found a
# crash. Override the compiler with CXX=..., the output dir with GREGOR_FUZZ_DIR=...
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${1:-30}
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(fuzz_wire fuzz_record_batch)
out=${GREGOR_FUZZ_DIR:-build-fuzz}
cxx=${CXX:-clang++}
mkdir -p "$out"

rc=0
for t in "${targets[@]}"; do
    src=tests/fuzz/$t.cpp
    [ -f "$src" ] || { echo "no such target: $t" >&2; exit 2; }
    echo "== building $t"
    "$cxx" -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
        -Iinclude "$src" -o "$out/$t"
    corpus=$out/corpus-$t
    if [ ! -d "$corpus" ]; then
        mkdir -p "$corpus"
        GREGOR_FUZZ_SEEDS=$corpus "$out/$t" -runs=0 "$corpus" >/dev/null 2>&1 || true
    fi
    echo "== running $t for ${secs}s"
    if ! UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 "$out/$t" -max_total_time="$secs" -print_final_stats=1 \
        -artifact_prefix="$out/" -max_len=4096 "$corpus" 2>"$out/$t.log"; then
        rc=1
        tail -60 "$out/$t.log"
        echo "== $t FOUND A CRASH (input saved under $out/)"
    fi
    grep -E "^(#[0-9]+ +DONE|stat::number_of_executed_units|stat::average_exec_per_sec|stat::new_units_added|stat::peak_rss_mb)" \
        "$out/$t.log" || true
done
exit $rc
