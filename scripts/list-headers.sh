#!/bin/sh
# Prints the public headers relative to the project root, one per line, sorted.
cd "$(dirname "$0")/.." && find include/gregor -name '*.hpp' | LC_ALL=C sort
