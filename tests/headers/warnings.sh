#!/usr/bin/env bash
# Compiles every public header with one compiler at -Wall -Wextra -Wpedantic -Werror
# (-fsyntax-only), so a header that warns on g++ or on clang++ fails here. The list is read at test
# time (scripts/list-headers.sh), so new headers are checked without touching this test.
# All headers go through one translation unit (one parse of the standard library instead of one
# per header); only when that fails is each header compiled alone, to name the ones that warn.
# (That each header compiles on its own is the header_check test's job.)
# Usage: warnings.sh <source root> <compiler> [extra flags...]; exit 77 (skip) if the compiler is
# missing (scripts/deps.sh test installs g++ and clang).
set -u
src=$1 compiler=$2
shift 2
command -v "$compiler" >/dev/null || { echo "$compiler not found: skipped"; exit 77; }
tmp=$(mktemp -d /tmp/gregor-warnings.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
flags=(-std=c++20 -Wall -Wextra -Wpedantic -Werror -fsyntax-only -I"$src/include" "$@")
"$src/scripts/list-headers.sh" >"$tmp/headers" || { echo "scripts/list-headers.sh failed"; exit 1; }
[ -s "$tmp/headers" ] || { echo "no public header found"; exit 1; }

n=$(wc -l <"$tmp/headers")
sed 's|^include/\(.*\)|#include <\1>|' "$tmp/headers" >"$tmp/all.cpp"
if "$compiler" "${flags[@]}" -x c++ "$tmp/all.cpp" >"$tmp/all.log" 2>&1; then
    echo "$compiler: all $n public headers compile warning-free (${flags[*]})"
    exit 0
fi

# Something warns: one compile per header, two at a time, each leaving its diagnostics in a .log.
export compiler tmp
sed 's|^include/||' "$tmp/headers" | xargs -P "${GREGOR_TEST_JOBS:-2}" -I{} sh -c '
    h=$1; shift
    log="$tmp/$(echo "$h" | tr / _).log"
    printf "#include <%s>\n" "$h" | "$compiler" "$@" -x c++ - >"$log" 2>&1 || echo "$h" >>"$tmp/failed"
    ' sh {} "${flags[@]}"

if [ -s "$tmp/failed" ]; then
    echo "$compiler: $(wc -l <"$tmp/failed") of $n public headers do not compile warning-free:"
    sort "$tmp/failed" | while read -r h; do
        echo "--- $h"
        head -40 "$tmp/$(echo "$h" | tr / _).log"
    done
    exit 1
fi
echo "$compiler: every header compiles warning-free alone, but not all of them together:"
head -60 "$tmp/all.log"
exit 1
