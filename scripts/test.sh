#!/usr/bin/env bash
# Builds and runs every test: a normal build in build/ and, unless GREGOR_SANITIZE=0, the same
# suite under AddressSanitizer + UndefinedBehaviorSanitizer in build-asan/. The last line printed
# is "N passed, N failed" over both runs.
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh test || { echo "0 passed, 1 failed"; exit 1; }

passed=0; failed=0; skipped=0; rc=0
run_suite() { # dir, meson setup args...
  local b=$1; shift
  if [ ! -f "$b/build.ninja" ]; then
    meson setup "$b" "$@" >"$b.setup.log" 2>&1 || { cat "$b.setup.log"; failed=$((failed + 1)); rc=1; return; }
  fi
  if ! ninja -C "$b" >"$b.build.log" 2>&1; then
    tail -50 "$b.build.log"; echo "build in $b failed"; failed=$((failed + 1)); rc=1; return
  fi
  meson test -C "$b" --print-errorlogs --num-processes "${GREGOR_TEST_JOBS:-2}" ${GREGOR_TEST_ARGS:-} >"$b/test.log" 2>&1
  local r=$?
  grep -E '^ *[0-9]+/[0-9]+ ' "$b/test.log"
  if [ $r -ne 0 ]; then sed -n '/Summary of Failures/,$p' "$b/test.log" | head -40; rc=1; fi
  local json="$b/meson-logs/testlog.json"
  if [ ! -s "$json" ]; then echo "no tests ran in $b"; failed=$((failed + 1)); rc=1; return; fi
  local ok fl sk
  ok=$(grep -c '"result": "OK"\|"result": "EXPECTEDFAIL"' "$json")
  sk=$(grep -c '"result": "SKIP"' "$json")
  fl=$(grep -c '"result": "\(FAIL\|UNEXPECTEDPASS\|TIMEOUT\|ERROR\|INTERRUPT\)"' "$json")
  passed=$((passed + ok)); failed=$((failed + fl)); skipped=$((skipped + sk))
  [ $r -ne 0 ] && [ "$fl" -eq 0 ] && failed=$((failed + 1))
}

run_suite build
if [ "${GREGOR_SANITIZE:-1}" != 0 ]; then
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    run_suite build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debugoptimized -Dexamples=true
fi
[ $((passed + failed)) -eq 0 ] && { failed=1; rc=1; }
echo "$passed passed, $failed failed, $skipped skipped"
exit $rc
