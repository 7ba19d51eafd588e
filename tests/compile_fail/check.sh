#!/bin/sh
# check.sh <expected text> <compiler command...>: passes only if the command fails to compile AND
# its diagnostics contain the expected text (a fixed string), so a snippet that breaks for some
# other reason (a typo, a missing include) does not count as a pass. Exit 77 (skip) if the
# compiler is not installed.
expected=$1
shift
command -v "$1" >/dev/null || { echo "$1 not found: skipped"; exit 77; }
export LC_ALL=C  # ASCII quotes in GCC's diagnostics
if out=$("$@" 2>&1); then
    echo "FAILED: this compiled, but it must not:"
    echo "\$ $*"
    exit 1
fi
if ! printf '%s\n' "$out" | grep -F -q -e "$expected"; then
    echo "FAILED: compilation failed, but the diagnostics do not contain: $expected"
    echo "\$ $*"
    printf '%s\n' "$out" | head -60
    exit 1
fi
echo "rejected as expected, with: $expected"
