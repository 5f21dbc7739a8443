"""What one block and wake-up costs a thread's CPU, on one core and across the two.

    .venv/bin/python tools/trace/wake_cpu.py [--rounds 5] [--trips 5000]

Two kinds of runs, each in interleaved rounds, every process pinned with sched_setaffinity:

- ping-pong: two processes pass one byte back and forth over two pipes, so each blocks in read()
  once per round trip and is woken by the other's write(). Printed: each side's CPU per round trip
  (CLOCK_THREAD_CPUTIME_ID: user and system, the wake-up it is given and the one it sends) and
  the round trip's wall time. Both on core 0 (the woken thread runs when the waker blocks, on the
  same core: a plain context switch), on cores 0 and 1 (every wake-up crosses to the other core,
  which has halted meanwhile), and on cores 0 and 1 beside a busy loop on each core at nice 19
  (the woken thread's core never halts);
- one-way: a spinning process on core 0 writes one byte every PERIOD us (it never blocks) to a
  process blocked in read() on core 1, idle between the writes, or busy with a nice-19 loop. The
  waker's wall time inside write() (it does not block there, so about its CPU: the wake-up it
  sends) and the woken process's CPU per wake-up.

No server and no ab; an idle machine (docs/notes/measurements.md section 52).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager


def _pin(core: int) -> None:
    os.sched_setaffinity(0, {core})


@contextmanager
def _busy(cores: tuple[int, ...]) -> Iterator[None]:
    """A nice-19 busy loop on each of ``cores`` while the block runs."""
    pids = []
    for core in cores:
        pid = os.fork()
        if pid == 0:
            _pin(core)
            os.nice(19)
            while True:
                pass
        pids.append(pid)
    try:
        time.sleep(0.05)
        yield
    finally:
        for pid in pids:
            os.kill(pid, 9)
            os.waitpid(pid, 0)


def ping_pong(core_a: int, core_b: int, trips: int) -> tuple[float, float, float]:
    """Each side's CPU per round trip and the round trip's wall time (s)."""
    a_to_b, b_to_a, result = os.pipe(), os.pipe(), os.pipe()
    pid = os.fork()
    if pid == 0:
        _pin(core_b)
        start = time.thread_time()
        for _ in range(trips):
            os.read(a_to_b[0], 1)
            os.write(b_to_a[1], b"x")
        os.write(result[1], repr(time.thread_time() - start).encode())
        os._exit(0)
    _pin(core_a)
    time.sleep(0.02)
    cpu0, wall0 = time.thread_time(), time.perf_counter()
    for _ in range(trips):
        os.write(a_to_b[1], b"x")
        os.read(b_to_a[0], 1)
    wall, cpu_a = time.perf_counter() - wall0, time.thread_time() - cpu0
    os.waitpid(pid, 0)
    cpu_b = float(os.read(result[0], 64))
    for fd in (*a_to_b, *b_to_a, *result):
        os.close(fd)
    return cpu_a / trips, cpu_b / trips, wall / trips


def one_way(period_s: float, wakes: int) -> tuple[float, float]:
    """The waker's time inside write() and the woken side's CPU, per wake-up (s)."""
    pipe, result = os.pipe(), os.pipe()
    pid = os.fork()
    if pid == 0:
        _pin(1)
        start = time.thread_time()
        for _ in range(wakes):
            os.read(pipe[0], 1)
        os.write(result[1], repr(time.thread_time() - start).encode())
        os._exit(0)
    _pin(0)
    time.sleep(0.02)
    inside = 0.0
    clock = time.perf_counter
    due = clock()
    for _ in range(wakes):
        due += period_s
        while clock() < due:
            pass
        t = clock()
        os.write(pipe[1], b"x")
        inside += clock() - t
    os.waitpid(pid, 0)
    cpu_b = float(os.read(result[0], 64))
    for fd in (*pipe, *result):
        os.close(fd)
    return inside / wakes, cpu_b / wakes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--trips", type=int, default=5000)
    args = parser.parse_args()
    if os.cpu_count() != 2 or len(os.sched_getaffinity(0)) < 2:
        raise SystemExit("wake_cpu.py: this tool needs cores 0 and 1 (a two-core machine)")
    rows: dict[str, list[tuple[float, ...]]] = defaultdict(list)
    for _ in range(args.rounds):
        rows["ping-pong, both on core 0"].append(ping_pong(0, 0, args.trips))
        rows["ping-pong, cores 0 and 1"].append(ping_pong(0, 1, args.trips))
        with _busy((0, 1)):
            rows["ping-pong, cores 0 and 1, both busy"].append(
                ping_pong(0, 1, args.trips // 5))
        for period_us in (200, 1000):
            rows[f"one-way every {period_us} us, core 1 idle"].append(
                one_way(period_us * 1e-6, args.trips // 2))
        with _busy((1,)):
            rows["one-way every 200 us, core 1 busy"].append(one_way(200e-6, args.trips // 2))
        os.sched_setaffinity(0, {0, 1})  # the runs pinned this process: free it for the next
    print(f"medians of {args.rounds} interleaved rounds (us; min-max in brackets)")
    for name, values in rows.items():
        columns = ("side A CPU", "side B CPU", "round trip") if name.startswith("ping") else (
            "waker in write()", "woken CPU")
        cells = []
        for label, column in zip(columns, zip(*values, strict=True), strict=True):
            us = [v * 1e6 for v in column]
            cells.append(f"{label} {statistics.median(us):6.1f} ({min(us):.1f}-{max(us):.1f})")
        print(f"{name:40s} " + ", ".join(cells))


if __name__ == "__main__":
    main()
