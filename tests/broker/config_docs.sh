#!/usr/bin/env bash
# docs/configuration.md is what `gregor-broker --config-markdown` prints: the property tables
# and their documentation cannot drift apart. Regenerate with
#   build/examples/gregor-broker --config-markdown > docs/configuration.md
set -euo pipefail
exe=$1 doc=$2
if ! diff -u "$doc" <("$exe" --config-markdown); then
  echo "docs/configuration.md is stale: regenerate it with '$exe --config-markdown > $doc'" >&2
  exit 1
fi
