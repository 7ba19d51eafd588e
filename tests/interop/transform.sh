#!/usr/bin/env bash
# Exactly once through a crash: examples/gregor-transform (read_committed consumer in a group,
# transactional producer, offsets committed in the transaction) is killed with SIGKILL in the
# middle of its work and started again with the same transactional id. A read_committed reader of
# the output (kcat, i.e. librdkafka) must then see each input record's result exactly once, and
# nothing else. kcat writes the input and reads both topics, so the check does not rest on gregor's
# own client code.
# Usage: transform.sh GREGOR_BROKER GREGOR_TRANSFORM
set -euo pipefail
broker=$1 transform=$2
command -v kcat >/dev/null || { echo "kcat missing: skipped"; exit 77; }
n=3000
work=$(mktemp -d)
"$broker" --listen 127.0.0.1:0 --data-dir "$work/data" -X group.initial.rebalance.delay.ms=0 \
  -X num.partitions=3 >"$work/broker.log" 2>&1 &
bpid=$!
tpid=
cleanup() {
  [ -n "$tpid" ] && kill -9 "$tpid" 2>/dev/null
  kill "$bpid" 2>/dev/null; wait "$bpid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "FAILED: $*"
  for f in "$work"/run*.err; do [ -f "$f" ] && { echo "--- $f (last 20 lines)"; tail -n 20 "$f"; }; done
  echo "--- gregor-broker (last 20 lines)"; tail -n 20 "$work/broker.log"
  exit 1
}
for _ in $(seq 1 100); do
  grep -q "listening on" "$work/broker.log" && break
  kill -0 $bpid 2>/dev/null || fail "gregor-broker did not start"
  sleep 0.1
done
addr=$(sed -n 's/^gregor-broker listening on //p' "$work/broker.log")
[ -n "$addr" ] || fail "gregor-broker did not say where it listens"

# The input: n keyed records over 3 partitions.
seq 1 $n | sed 's/.*/k&:record-&/' | timeout 60 kcat -P -b "$addr" -t in -K: || fail "kcat could not produce the input"
timeout 60 kcat -C -b "$addr" -t in -e -q -f '%p/%o %s\n' >"$work/input" || fail "kcat could not read the input"
[ "$(wc -l <"$work/input")" -eq $n ] || fail "the input has $(wc -l <"$work/input") records, not $n"
# What each input record must become: "<partition>/<offset> <VALUE IN UPPER CASE>".
awk '{ print $1 " " toupper($2) }' "$work/input" | sort >"$work/expected"

args=(--bootstrap "$addr" --input in --output out --group transformers --transactional-id transform-1
      --max-per-txn 40)
# First run: slowed down (1 ms a record) so that it is killed with transactions behind it and one
# open; SIGKILL once at least 400 records are committed.
"$transform" "${args[@]}" --record-delay-us 1000 >"$work/run1.out" 2>"$work/run1.err" &
tpid=$!
committed=0
for _ in $(seq 1 600); do
  committed=$(tail -n 1 "$work/run1.out" | sed -n 's/^committed //p')
  [ "${committed:-0}" -ge 400 ] && break
  kill -0 $tpid 2>/dev/null || fail "the first gregor-transform exited early"
  sleep 0.1
done
[ "${committed:-0}" -ge 400 ] || fail "the first gregor-transform committed only ${committed:-0} records in 60 s"
kill -9 $tpid
wait $tpid 2>/dev/null || true
tpid=
echo "first run killed (SIGKILL) after committing $committed records"

# Second run: the same transactional id; it fences the first, whose open transaction the
# coordinator aborts, and goes on from the offsets committed with the last transaction.
rc=0
timeout 120 "$transform" "${args[@]}" --exit-when-idle-ms 3000 >"$work/run2.out" 2>"$work/run2.err" || rc=$?
[ $rc -eq 0 ] || fail "the second gregor-transform exited with $rc"
echo "second run committed $(tail -n 1 "$work/run2.out" | sed -n 's/^committed //p') records"

timeout 60 kcat -C -b "$addr" -t out -e -q -X isolation.level=read_committed -f '%s\n' | sort >"$work/committed" ||
  fail "kcat could not read the output"
timeout 60 kcat -C -b "$addr" -t out -e -q -X isolation.level=read_uncommitted -f '%s\n' | sort >"$work/all" ||
  fail "kcat could not read the output"
dups=$(uniq -d "$work/committed" | wc -l)
[ "$dups" -eq 0 ] || { uniq -d "$work/committed" | head -5; fail "$dups results appear more than once"; }
if ! cmp -s "$work/committed" "$work/expected"; then
  diff "$work/expected" "$work/committed" | head -10
  fail "read_committed output: $(wc -l <"$work/committed") records, $(comm -23 "$work/expected" "$work/committed" | wc -l) missing, $(comm -13 "$work/expected" "$work/committed" | wc -l) unexpected"
fi
echo "read_committed: each of the $n results exactly once; read_uncommitted: $(wc -l <"$work/all") records" \
  "($(($(wc -l <"$work/all") - n)) from the aborted transaction)"
