# Shared by the consumption smoke tests (sourced, not run). Each test works in a fresh temp dir
# that is removed on exit, runs its steps quietly and, when a step fails, prints the step, the
# command and everything it printed, then exits 1.
# The test scripts are called as: <test>.sh <gregor source root> <c++ compiler command...>
set -u
src=$1
shift
cxx=("$@")
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tmp=$(mktemp -d /tmp/gregor-consume.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
# meson runs tests in the build dir; tools that write to their working directory (meson's cmake
# module runs `cmake --system-information` there) must not collide with a test running beside us.
cd "$tmp" || exit 1
# Keep the user's environment out of the way: only what the test sets is looked at.
unset PKG_CONFIG_PATH CMAKE_PREFIX_PATH MESONINTROSPECT

fail() {
    echo "FAILED: $*"
    exit 1
}

step() { # <what> <command...>: runs the command, prints its output only if it fails
    local what=$1
    shift
    local out
    if ! out=$("$@" 2>&1); then
        echo "FAILED: $what"
        echo "\$ $*"
        echo "$out"
        exit 1
    fi
    step_output=$out
}

# Configures gregor alone (no tests, no examples) with --prefix=<dir>, installs it and checks the
# layout consumers rely on: every public header at include/gregor/... with its path kept, the
# pkg-config file under share/pkgconfig and the CMake package under share/cmake/gregor.
install_gregor() { # <prefix>
    local prefix=$1
    step "configure gregor for installation" \
        meson setup "$tmp/gregor-build" "$src" --prefix="$prefix" \
        -Dtests=false -Dexamples=false -Dbenchmarks=false
    step "meson install" meson install -C "$tmp/gregor-build"
    local h n=0
    while read -r h; do
        [ -f "$prefix/$h" ] || fail "install: $h is missing under $prefix (header paths not preserved?)"
        n=$((n + 1))
    done < <("$src/scripts/list-headers.sh")
    [ "$n" -gt 0 ] || fail "install: scripts/list-headers.sh listed no header"
    local stray
    stray=$(find "$prefix/include" -maxdepth 1 -name '*.hpp')
    [ -z "$stray" ] || fail "install: headers flattened into include/: $stray"
    for f in share/pkgconfig/gregor.pc share/cmake/gregor/gregorConfig.cmake \
             share/cmake/gregor/gregorConfigVersion.cmake; do
        [ -f "$prefix/$f" ] || fail "install: $f is missing under $prefix"
    done
}

# Runs the built program and checks it said ok.
run_app() { # <program>
    step "run the consumer program" "$1"
    case $step_output in
    ok:*) echo "$step_output" ;;
    *) fail "the consumer program printed: $step_output" ;;
    esac
}
