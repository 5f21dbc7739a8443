"""CPU per request of each server shape at sleep 0, split between main threads and the others.

    PYTHONPATH=. .venv/bin/python tools/trace/shape_cpu.py [--requests 2000] [--repeats 3]
        [--concurrency 1] [--sleep 0] [SHAPE ...]

SHAPE as in ``threads.py`` (``KIND[:name=value,...]``; default: all eight kinds). Each shape's
server starts, serves `asim.lab.measure.WARMUP_N` requests at `WARMUP_C` (as calibration does),
then ``ab -n N -c C`` runs ``--repeats`` times. For each run: RPS, the on-CPU time of the
server's group per request, three ways: all threads from /proc/<pid>/stat (utime + stime in
clock ticks; it includes threads that ended during the run), the live threads' on-CPU time from
/proc/<pid>/task/*/schedstat (what `asim.lab.measure.group_cpu_s` reads: it misses every thread
that ended before the second reading), and the processes' main threads alone (the event loop,
or gunicorn's worker loop) from /proc/<pid>/task/<pid>/schedstat; then ab's CPU per request.
Printed: the median and the range over the repeats.
"""

from __future__ import annotations

import argparse
import os
import statistics
from pathlib import Path

from threads import parse_shape

from asim.lab.abrun import run_ab
from asim.lab.measure import WARMUP_C, WARMUP_N, children_cpu_s, group_cpu_s
from asim.lab.procs import RunningServer, ServerSpec, running_server
from asim.sim.shapes import NAMES


def _ns(path: Path) -> int:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0  # a thread that ended between listing and reading


TICK_S = 1 / os.sysconf("SC_CLK_TCK")


def _ticks(pid: int) -> int:
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return 0
    fields = stat[stat.rindex(b")") + 2:].split()
    return int(fields[11]) + int(fields[12])  # utime, stime: every thread, the dead ones too


def cpu_s(server: RunningServer) -> tuple[float, float, float]:
    """(all threads, live threads, main threads) CPU seconds of the server's group so far."""
    pids = server.pids()
    every = sum(_ticks(pid) for pid in pids) * TICK_S
    main = sum(_ns(Path(f"/proc/{pid}/task/{pid}/schedstat")) for pid in pids) / 1e9
    return every, group_cpu_s(server), main


def measure(spec: ServerSpec, requests: int, concurrency: int, repeats: int) -> None:
    runs = []
    with running_server(spec) as srv:
        run_ab(srv.url, requests=WARMUP_N, concurrency=WARMUP_C).checked()
        for _ in range(repeats):
            before, a0 = cpu_s(srv), children_cpu_s()
            report = run_ab(srv.url, requests=requests, concurrency=concurrency).checked()
            after, a1 = cpu_s(srv), children_cpu_s()
            done = report.complete_requests
            per_request = [(y - x) / done * 1e6 for x, y in zip(before, after, strict=True)]
            runs.append((report.requests_per_second, *per_request, (a1 - a0) / done * 1e6))
    cols = list(zip(*runs, strict=True))
    names = ("RPS", "server us/req all", "live", "main", "ab")
    parts = [f"{name} {statistics.median(col):.0f} [{min(col):.0f}-{max(col):.0f}]"
             for name, col in zip(names, cols, strict=True)]
    print(f"{spec.label()} C={concurrency} n={requests}: " + "; ".join(parts), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("shapes", nargs="*", default=list(NAMES))
    parser.add_argument("--sleep", type=float, default=0.0)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    for text in args.shapes:
        measure(parse_shape(text, args.sleep), args.requests, args.concurrency, args.repeats)


if __name__ == "__main__":
    main()
