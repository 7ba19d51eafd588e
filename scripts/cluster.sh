#!/usr/bin/env bash
# Starts, stops or shows a local three-node gregor cluster (docs/replication.md), the way a
# docker-compose file would: node 1 also runs the controller on its own listener.
#
#   scripts/cluster.sh start [BASE_PORT]   nodes on 127.0.0.1:BASE+1..BASE+3 (default 19090)
#   scripts/cluster.sh stop                SIGTERM each node (controlled shutdown), wait
#   scripts/cluster.sh status              which nodes run, and their bootstrap list
#
# Data and logs go to ${GREGOR_CLUSTER_DIR:-/tmp/gregor-cluster}; extra broker settings can be
# passed in GREGOR_CLUSTER_OPTS (e.g. "-X min.insync.replicas=2").
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
broker="${GREGOR_BROKER:-$here/build/examples/gregor-broker}"
dir="${GREGOR_CLUSTER_DIR:-/tmp/gregor-cluster}"
cmd="${1:-status}"
base="${2:-19090}"

case "$cmd" in
start)
  [ -x "$broker" ] || { echo "cluster.sh: $broker not built (ninja -C build examples/gregor-broker)" >&2; exit 1; }
  mkdir -p "$dir"
  voters="1@127.0.0.1:$((base + 1))"
  for i in 1 2 3; do
    port=$((base + i))
    # shellcheck disable=SC2086
    "$broker" --node-id "$i" --listen "127.0.0.1:$port" --data-dir "$dir/n$i" \
      -X controller.quorum.voters="$voters" -X default.replication.factor=3 -X min.insync.replicas=2 \
      ${GREGOR_CLUSTER_OPTS:-} >"$dir/n$i.out" 2>"$dir/n$i.log" &
    echo $! >"$dir/n$i.pid"
    for _ in $(seq 1 100); do grep -q "listening on" "$dir/n$i.out" 2>/dev/null && break; sleep 0.1; done
    grep -q "listening on" "$dir/n$i.out" || { echo "cluster.sh: node $i did not start, see $dir/n$i.log" >&2; exit 1; }
  done
  echo "bootstrap.servers=127.0.0.1:$((base + 1)),127.0.0.1:$((base + 2)),127.0.0.1:$((base + 3))"
  ;;
stop)
  for i in 1 2 3; do
    [ -f "$dir/n$i.pid" ] && kill -TERM "$(cat "$dir/n$i.pid")" 2>/dev/null || true
  done
  for i in 1 2 3; do
    if [ -f "$dir/n$i.pid" ]; then
      pid="$(cat "$dir/n$i.pid")"
      for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      rm -f "$dir/n$i.pid"
    fi
  done
  ;;
status)
  for i in 1 2 3; do
    if [ -f "$dir/n$i.pid" ] && kill -0 "$(cat "$dir/n$i.pid")" 2>/dev/null; then
      echo "node $i: running, $(cat "$dir/n$i.out")"
    else
      echo "node $i: stopped"
    fi
  done
  ;;
*) echo "usage: cluster.sh start [BASE_PORT] | stop | status" >&2; exit 2 ;;
esac
