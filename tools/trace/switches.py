"""Context switches, page faults and on-CPU time per request of each server shape (perf stat).

    PYTHONPATH=. .venv/bin/python tools/trace/switches.py [--requests 1000] [--concurrency 1]
        [--sleep 0] [SHAPE ...]

SHAPE as in ``threads.py`` (default: all eight kinds). Each server is warmed as calibration
warms it, then ``perf stat -p <every process of its group>`` counts (all threads, including
the ones that start and end during the run) while ``ab -n N -c C`` runs. A thread hand-off
shows as context switches: the loop's thread sleeps while a pool thread runs, and back.
"""

from __future__ import annotations

import argparse
import re
import signal
import subprocess
import time

from threads import parse_shape

from asim.lab.abrun import run_ab
from asim.lab.measure import WARMUP_C, WARMUP_N
from asim.lab.procs import ServerSpec, running_server
from asim.sim.shapes import NAMES

EVENTS = ("task-clock", "context-switches", "cpu-migrations", "page-faults")


def perf_counts(text: str) -> dict[str, float]:
    """``perf stat``'s counter lines as {event: value}."""
    counts = {}
    for event in EVENTS:
        match = re.search(rf"^\s*([\d.,]+)\s+(?:msec\s+)?{event}\b", text, re.MULTILINE)
        if match:
            counts[event] = float(match.group(1).replace(",", ""))
    return counts


def measure(spec: ServerSpec, requests: int, concurrency: int) -> None:
    with running_server(spec) as srv:
        run_ab(srv.url, requests=WARMUP_N, concurrency=WARMUP_C).checked()
        pids = ",".join(str(p) for p in srv.pids())
        perf = subprocess.Popen(["perf", "stat", "-e", ",".join(EVENTS), "-p", pids],
                                stderr=subprocess.PIPE, text=True)
        time.sleep(0.5)  # perf has opened its counters
        try:
            report = run_ab(srv.url, requests=requests, concurrency=concurrency).checked()
        finally:
            perf.send_signal(signal.SIGINT)
            _, err = perf.communicate()
    done = report.complete_requests
    c = perf_counts(err)
    print(f"{spec.label()} C={concurrency} n={done}: RPS {report.requests_per_second:.0f}; "
          f"per request: on-CPU {c.get('task-clock', 0) * 1e3 / done:.0f} us (perf counts "
          f"the 0.5 s before ab too), context switches {c.get('context-switches', 0) / done:.1f}, "
          f"migrations {c.get('cpu-migrations', 0) / done:.2f}, "
          f"page faults {c.get('page-faults', 0) / done:.2f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("shapes", nargs="*", default=list(NAMES))
    parser.add_argument("--sleep", type=float, default=0.0)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=1)
    args = parser.parse_args()
    for text in args.shapes:
        measure(parse_shape(text, args.sleep), args.requests, args.concurrency)


if __name__ == "__main__":
    main()
