#!/usr/bin/env bash
# Consumption (b): gregor installed into a prefix, then a program compiled by hand with the flags
# of the installed pkg-config file: c++ -std=c++20 $(pkg-config --cflags --libs gregor).
. "$(dirname "$0")/lib.sh"
prefix=$tmp/prefix
install_gregor "$prefix"
export PKG_CONFIG_PATH=$prefix/share/pkgconfig
step "pkg-config finds the installed gregor" pkg-config --print-errors --cflags --libs gregor
flags=$step_output
grep -q -- "-I$prefix/include" <<<"$flags" || fail "pkg-config --cflags does not point into $prefix: $flags"
# shellcheck disable=SC2086 # the flags are meant to split
step "compile with the pkg-config flags" "${cxx[@]}" -std=c++20 "$here/app.cpp" -o "$tmp/app" $flags
run_app "$tmp/app"
