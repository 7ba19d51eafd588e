// Intentionally empty: with Debian's prebuilt Catch2 runner (libCatch2WithMain.a) the catch_main
// target only carries that library to the test executables, and meson wants a source for it.
