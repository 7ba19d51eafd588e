#!/usr/bin/env bash
# Builds and runs every test: a normal build in build/ and, unless GREGOR_SANITIZE=0, the same
# suite under AddressSanitizer + UndefinedBehaviorSanitizer in build-asan/ (the compile-only
# checks - headers at -Werror, compile-fail, consumption - run in the normal build only), then
# the multi-threaded suites (broker, net, producer, consumer, client, storage, cluster) and the
# codec suite under ThreadSanitizer in build-tsan/ (unless GREGOR_TSAN=0): offset monitors, the
# flusher and deadline threads, cross-thread responders, the maintenance thread, the producer's
# sender thread and its spin lock, a group member's thread. The interop suite stays out of it: it
# runs librdkafka, which is not instrumented.
# The last line printed is "N passed, N failed, N skipped" over both runs; the exit status is 0
# only if nothing failed and at least one test ran. A setup or build failure, or a build with no
# test at all, counts as a failure.
# The ThreadSanitizer build has every optional compression library disabled, so it is also the
# check that gregor works without them.
# The two instrumented builds are compiled with clang++ (GREGOR_SANITIZER_CXX to choose another),
# the normal one with the default compiler (g++), so every test also builds with both.
# Environment: GREGOR_SANITIZE=0 (skip the sanitizer build), GREGOR_BUILD_JOBS (ninja -j, default
# the number of CPUs), GREGOR_TEST_JOBS (parallel tests, default 2), GREGOR_TEST_ARGS (extra
# `meson test` arguments, e.g. "--suite core").
set -uo pipefail
cd "$(dirname "$0")/.."
passed=0; failed=0; skipped=0; rc=0
failures=$(mktemp)  # every failing build's summary, printed again just before the last line
finish() {
    [ $((passed + failed)) -eq 0 ] && { failed=$((failed + 1)); rc=1; }
    # CI keeps only the tail of the output: what failed must be in it, not buried above.
    if [ -s "$failures" ]; then echo "=== failures ==="; cat "$failures"; fi
    rm -f "$failures"
    echo "$passed passed, $failed failed, $skipped skipped"
    exit $rc
}
scripts/deps.sh test || { echo "scripts/deps.sh could not install the test dependencies"; failed=1; rc=1; finish; }

run_suite() { # dir, meson setup args... (GREGOR_SUITES: only these meson suites, built alone)
    local b=$1; shift
    local t0=$SECONDS
    # An existing dir is reconfigured with the same options: it may come from quickstart.sh
    # (tests off), and headers added since it was set up must join the header checks.
    local setup=(meson setup "$b" -Dtests=true "$@")
    [ -f "$b/build.ninja" ] && setup=(meson setup --reconfigure "$b" -Dtests=true "$@")
    if ! "${setup[@]}" >"$b.setup.log" 2>&1; then
        tail -50 "$b.setup.log"; echo "meson setup of $b failed"; failed=$((failed + 1)); rc=1; return
    fi
    local targets=() suite_args=()
    for s in ${GREGOR_SUITES:-}; do
        suite_args+=(--suite "$s")
        # every test program of that layer (test_producer, test_producer_tcp, ...)
        mapfile -t -O "${#targets[@]}" targets < <(ninja -C "$b" -t targets all 2>/dev/null |
            sed -n "s|^\(tests/$s/test_[a-z_]*\): .*|\1|p")
    done
    if ! ninja -C "$b" -j "${GREGOR_BUILD_JOBS:-$(nproc)}" "${targets[@]}" >"$b.build.log" 2>&1; then
        grep -E -A12 'FAILED:|error:' "$b.build.log" | head -80; echo "build in $b failed (log: $b.build.log)"
        failed=$((failed + 1)); rc=1; return
    fi
    local t1=$SECONDS
    local json="$b/meson-logs/testlog.json"
    rm -f "$json"  # never count a previous run's results
    # shellcheck disable=SC2086 # GREGOR_TEST_ARGS is meant to split
    meson test -C "$b" --no-rebuild --print-errorlogs --num-processes "${GREGOR_TEST_JOBS:-2}" \
        "${suite_args[@]}" ${GREGOR_TEST_ARGS:-} >"$b/test.log" 2>&1
    local r=$?
    grep -E '^ *[0-9]+/[0-9]+ ' "$b/test.log"
    echo "$b: configured and built in $((t1 - t0)) s, tests ran in $((SECONDS - t1)) s"
    if [ $r -ne 0 ]; then
        sed -n '/Summary of Failures/,$p' "$b/test.log" | head -40; rc=1
        # each failing test's name and the last lines it printed (Catch2 names the assertion)
        echo "in $b:" >>"$failures"
        [ -s "$json" ] && python3 - "$json" >>"$failures" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    t = json.loads(line)
    if t["result"] in ("OK", "EXPECTEDFAIL", "SKIP"):
        continue
    print(f"--- {t['name']}: {t['result']} (exit {t.get('returncode')}, {t['duration']:.1f} s)")
    out = (t.get("stdout") or "") + (t.get("stderr") or "")
    print("\n".join(out.splitlines()[-30:]))
PY
    fi
    if [ ! -s "$json" ]; then
        tail -20 "$b/test.log"; echo "no tests ran in $b"; failed=$((failed + 1)); rc=1; return
    fi
    local ok fl sk
    ok=$(grep -c '"result": "\(OK\|EXPECTEDFAIL\)"' "$json")
    sk=$(grep -c '"result": "SKIP"' "$json")
    fl=$(grep -c '"result": "\(FAIL\|UNEXPECTEDPASS\|TIMEOUT\|ERROR\|INTERRUPT\)"' "$json")
    passed=$((passed + ok)); failed=$((failed + fl)); skipped=$((skipped + sk))
    # meson failed without a failing test in the log (e.g. it could not start one): still a failure
    [ $r -ne 0 ] && [ "$fl" -eq 0 ] && failed=$((failed + 1))
    return 0
}

# In CI (CI=true) the normal build drops -g and compiles at -O1: a third less compile time than
# -O2 on the heaviest test files (measured: 69 s instead of 106 s), a failing assertion is still
# reported by Catch2 with its file and line, and the benchmarks, which need -O2 or more, build
# apart (scripts/bench.sh).
# Every build here is a unity build (meson -Dunity=on, four test files to a translation unit, the
# header check excepted): the test files of a layer instantiate the same broker, producer and
# consumer templates, and compiling them together does that once per chunk. Measured on the g++
# -O1 build (.ninja_log): tests/broker 552 s of compile CPU -> 353 s, tests/cluster 205 -> 106,
# tests/interop 155 -> 89, tests/storage 86 -> 54; fresh-clone .ci/run 51 -> about 46 min. Test files therefore keep their file-local helper names
# distinct within a layer (shared helpers go in the layer's *_util.hpp).
unity_opts=(-Dunity=on -Dunity_size=4)
normal_opts=("${unity_opts[@]}")
[ "${CI:-}" = true ] && normal_opts+=(-Ddebug=false -Doptimization=1)
# The instrumented builds: -O0 (with ASan+UBSan, -O1 took four times as long to compile) and line
# tables only (-g1): sanitizer reports keep their file:line stacks, and the full debug information
# of -g nearly doubled the compile time of the template-heavy test files.
checked_opts=("${unity_opts[@]}" -Doptimization=0 -Ddebug=false -Dcpp_args=-g1)
# The instrumented builds use clang++ (GREGOR_SANITIZER_CXX): at -O0 with the sanitizers it compiles
# the template-heavy test files in less than half of g++'s CPU time (measured on
# tests/broker/async_test.cpp: 91 s instead of 213 s), and the whole suite then also builds and runs
# with a second compiler; the normal build stays g++. A build dir keeps the compiler it was set up
# with, so an existing one is set up again when it was made with another.
checked_cxx=${GREGOR_SANITIZER_CXX:-clang++}
command -v "$checked_cxx" >/dev/null || checked_cxx=${CXX:-c++}
checked_suite() { # dir, meson setup args...
    local b=$1
    # .gregor-cxx: the compiler the dir was set up with (meson keeps it across reconfigures)
    if [ -e "$b" ] && [ "$(cat "$b/.gregor-cxx" 2>/dev/null)" != "$checked_cxx" ]; then rm -rf "$b"; fi
    mkdir -p "$b" && echo "$checked_cxx" >"$b/.gregor-cxx"
    CXX=$checked_cxx run_suite "$@"
}
run_suite build "${normal_opts[@]}"
if [ "${GREGOR_SANITIZE:-1}" != 0 ]; then
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        checked_suite build-asan -Db_sanitize=address,undefined -Db_lundef=false "${checked_opts[@]}"
fi
if [ "${GREGOR_TSAN:-1}" != 0 ]; then
    # The ThreadSanitizer build is also the no-codec build: every compression library is left out
    # (docs/compression.md), so gregor must compile without them and the compression, broker and
    # consumer suites must pass with each codec answering "unsupported". One build instead of two
    # saves CI minutes; the codec calls themselves are single-threaded library calls on local
    # buffers, which ASan+UBSan cover in the build with codecs. second_deadlock_stack: a
    # lock-order report shows both stacks. Examples and benchmarks are not needed here.
    TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/scripts/tsan.supp" \
    GREGOR_SUITES="broker net producer consumer client storage cluster compression" \
        checked_suite build-tsan -Db_sanitize=thread -Db_lundef=false "${checked_opts[@]}" -Dexamples=false \
        -Dinterop=disabled -Dzlib=disabled -Dsnappy=disabled -Dlz4=disabled -Dzstd=disabled
fi
finish
