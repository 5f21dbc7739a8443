#!/bin/bash
# How many select() rounds aiohttp's loop makes per request: epoll_wait calls counted by perf's
# syscall tracepoint (no strace slowdown) around three `ab -n N -c C` runs.
#
#     bash tools/trace/epoll_rounds.sh SLEEP C N
#
# Needs perf and the tracefs (mounted here if missing; root). Run it on an otherwise idle
# machine; compare with the model's `SimRun.loop_iterations / N` (docs/notes/measurements.md 33).
set -euo pipefail
cd "$(dirname "$0")/../.."
S=$1; C=$2; N=$3; P=18401
[ -d /sys/kernel/tracing/events ] || mount -t tracefs nodev /sys/kernel/tracing
.venv/bin/asim serve aiohttp --sleep "$S" --port $P > /dev/null 2>&1 &
serve=$!
trap 'kill -INT $serve 2>/dev/null; wait $serve 2>/dev/null || true' EXIT
sleep 2
pid=$(ss -ltnpH "sport = :$P" | grep -o "pid=[0-9]*" | head -1 | cut -d= -f2)
out=$(mktemp)
ab -n 500 -c "$C" "http://127.0.0.1:$P/" > /dev/null 2>&1  # warm up
for _ in 1 2 3; do
  perf stat -e syscalls:sys_enter_epoll_wait -p "$pid" -o "$out" &
  counting=$!
  sleep 0.3
  rps=$(ab -n "$N" -c "$C" "http://127.0.0.1:$P/" 2>/dev/null | awk '/Requests per second/{print $4}')
  kill -INT $counting; wait $counting 2>/dev/null || true
  calls=$(awk '/epoll_wait/{gsub(",", "", $1); print $1}' "$out")
  echo "sleep $S C $C: $rps requests/s, $calls epoll_wait calls, $(awk "BEGIN{printf \"%.2f\", $calls / $N}") per request"
done
rm -f "$out"
