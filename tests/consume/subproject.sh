#!/usr/bin/env bash
# Consumption (a): gregor as a meson subproject. A parent project with subprojects/gregor linking
# to this source tree gets it through dependency('gregor', fallback: ['gregor']), which must
# resolve to the subproject's override (not an installed copy) and not build gregor's tests.
. "$(dirname "$0")/lib.sh"
mkdir -p "$tmp/parent/subprojects"
cp "$here/parent/meson.build" "$here/app.cpp" "$tmp/parent/"
ln -s "$src" "$tmp/parent/subprojects/gregor"
step "configure the parent project" env CXX="${cxx[*]}" \
    meson setup "$tmp/parent/build" "$tmp/parent" --force-fallback-for=gregor
grep -q "Dependency gregor found: YES .*(overridden)" <<<"$step_output" ||
    fail "dependency('gregor') did not resolve to the subproject's override:
$step_output"
step "build the parent project" ninja -C "$tmp/parent/build"
grep -q "subprojects/gregor/tests/" "$tmp/parent/build/build.ninja" && fail "the parent built gregor's tests"
run_app "$tmp/parent/build/app"
