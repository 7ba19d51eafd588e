#!/usr/bin/env bash
# Compiles every public header on its own with one compiler at -Wall -Wextra -Wpedantic -Werror
# (-fsyntax-only), so a header that warns on g++ or on clang++ fails here. The list is read at test
# time (scripts/list-headers.sh), so new headers are checked without touching this test.
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

# One compile per header, two at a time; a failing header leaves its diagnostics in a .log file.
export compiler tmp
sed 's|^include/||' "$tmp/headers" | xargs -P "${GREGOR_TEST_JOBS:-2}" -I{} sh -c '
    h=$1; shift
    log="$tmp/$(echo "$h" | tr / _).log"
    printf "#include <%s>\n" "$h" | "$compiler" "$@" -x c++ - >"$log" 2>&1 || echo "$h" >>"$tmp/failed"
    ' sh {} "${flags[@]}"

n=$(wc -l <"$tmp/headers")
if [ -s "$tmp/failed" ]; then
    echo "$compiler: $(wc -l <"$tmp/failed") of $n public headers do not compile warning-free:"
    sort "$tmp/failed" | while read -r h; do
        echo "--- $h"
        head -40 "$tmp/$(echo "$h" | tr / _).log"
    done
    exit 1
fi
echo "$compiler: all $n public headers compile warning-free (${flags[*]})"
