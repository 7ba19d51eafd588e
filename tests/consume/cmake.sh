#!/usr/bin/env bash
# Consumption (c): gregor installed into a prefix, then a CMake project that does
# find_package(gregor CONFIG REQUIRED) and links gregor::gregor, which must carry C++20 itself.
. "$(dirname "$0")/lib.sh"
command -v cmake >/dev/null || fail "cmake is not installed (scripts/deps.sh test installs it)"
prefix=$tmp/prefix
install_gregor "$prefix"
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
compiler=${cxx[${#cxx[@]}-1]}
launcher=()
[ "${#cxx[@]}" -gt 1 ] && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER="${cxx[0]}")
step "configure the CMake project" cmake -S "$here/cmake" -B "$tmp/build" "${generator[@]}" \
    -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_CXX_COMPILER="$compiler" "${launcher[@]}" \
    -DGREGOR_CONSUMER_SOURCE="$here/app.cpp"
grep -q "gregor_DIR=$prefix/share/cmake/gregor" <<<"$step_output" ||
    fail "find_package(gregor) did not find the installed package in $prefix:
$step_output"
step "build the CMake project" cmake --build "$tmp/build"
run_app "$tmp/build/app"
