#!/usr/bin/env bash
# Runs Kafka clients that carry their own protocol code against a fresh gregor-broker:
# @platformatic/kafka and kafkajs (npm, installed into the build dir on first use) and kafka-python
# (Debian python3-kafka). Each client script asserts on what came back (offsets, records,
# timestamps). The *-admin clients drive the admin APIs (create/delete topics, configs, partitions,
# records) against a broker without topic auto-creation, so only the admin requests create topics.
# The *-group clients consume through a consumer group (two members split a 3-partition topic, then
# a new member resumes from the committed offsets) against a broker with no initial rebalance delay.
# The *-txn clients drive transactions (commit/abort over two partitions, read_committed and
# read_uncommitted readers, offsets in transactions, zombie fencing), also without rebalance delay.
# A client whose runtime is missing is skipped (exit 77), never passed silently.
# Usage: clients.sh GREGOR_BROKER WORK_DIR CLIENT
#   CLIENT: platformatic | kafkajs | kafka-python | platformatic-admin | kafkajs-admin | kafka-python-admin
#           | platformatic-group | kafkajs-group | kafka-python-group | platformatic-txn | kafkajs-txn
set -euo pipefail
exe=$1 work=$2 client=$3
here=$(cd "$(dirname "$0")/clients" && pwd)
mkdir -p "$work"
broker_args=()
case $client in
*-admin) broker_args=(-X auto.create.topics.enable=false) ;;
*-group) broker_args=(-X group.initial.rebalance.delay.ms=0 -X num.partitions=3) ;;
*-txn) broker_args=(-X group.initial.rebalance.delay.ms=0) ;;
esac
case $client in
platformatic|kafkajs|platformatic-admin|kafkajs-admin|platformatic-group|kafkajs-group|platformatic-txn|kafkajs-txn)
  command -v node >/dev/null && command -v npm >/dev/null || { echo "node/npm missing: skipped"; exit 77; }
  if [ ! -d "$work/node_modules/kafkajs" ] || [ ! -d "$work/node_modules/@platformatic/kafka" ] ||
     ! cmp -s "$here/package.json" "$work/package.json"; then
    cp "$here/package.json" "$work/"
    (cd "$work" && timeout 300 npm install --no-audit --no-fund --loglevel=error >/dev/null) ||
      { echo "npm install failed"; exit 1; }
  fi
  cp "$here"/*.mjs "$work/"
  run=(node "$work/${client//-/_}.mjs") ;;
kafka-python|kafka-python-admin|kafka-python-group)
  py=/usr/bin/python3
  "$py" -c 'import kafka' 2>/dev/null || { echo "python3-kafka missing: skipped"; exit 77; }
  run=("$py" "$here/${client//-/_}.py") ;;
*) echo "unknown client $client"; exit 2 ;;
esac

data=$(mktemp -d)
log=$(mktemp)
"$exe" --listen 127.0.0.1:0 --data-dir "$data" ${broker_args[@]+"${broker_args[@]}"} >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data" "$log"' EXIT
for _ in $(seq 1 100); do
  grep -q "listening on" "$log" && break
  kill -0 $pid 2>/dev/null || { cat "$log"; echo "gregor-broker did not start"; exit 1; }
  sleep 0.1
done
addr=$(sed -n 's/^gregor-broker listening on //p' "$log")
[ -n "$addr" ] || { cat "$log"; echo "gregor-broker did not say where it listens"; exit 1; }
rc=0
timeout 120 "${run[@]}" "$addr" || rc=$?
if [ $rc -ne 0 ]; then
  [ $rc -eq 124 ] && echo "$client: timed out after 120 s"
  echo "--- gregor-broker output (last 20 lines):"; tail -n 20 "$log"
fi
exit $rc
