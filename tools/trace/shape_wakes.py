"""CPU and wake-ups per request of the threaded shapes at C = 1 and under load (sleep 0).

    .venv/bin/python tools/trace/shape_wakes.py [ROUNDS] [--c C]

For aiohttp-executor, django-gthread (1 worker, 4 threads), django-asgi and django-asgi-sync:
one server each (warmed by `asim.lab.measure`'s burst), then ``ab -n N -c 1`` and ``ab -n N -c C``
(default 20) three times each, and per request: RPS, the server's CPU (every thread, the ended
ones too: the processes' CPU clocks), its main threads' CPU, and the voluntary context switches
(the times a thread blocked and was woken again) of the main threads and of the other threads
alive at the end (a per-request thread that ended takes its count with it, so that column is a
floor for the ASGI shapes). ab's CPU from getrusage of children. ROUNDS repeats the whole set,
interleaved. docs/notes/measurements.md section 26 has what it showed.
"""

from __future__ import annotations

import statistics
import sys

from common import switches

from asim.lab.abrun import run_ab
from asim.lab.measure import (
    WARMUP_C,
    WARMUP_N,
    children_cpu_s,
    main_threads_cpu_s,
    process_cpu_s,
)
from asim.lab.procs import ServerSpec, running_server

SHAPES = (("aiohttp-executor", None), ("django-gthread", 4), ("django-asgi", None),
          ("django-asgi-sync", None))
REQUESTS = {"aiohttp-executor": 2000, "django-gthread": 2000, "django-asgi": 600,
            "django-asgi-sync": 600}


def measure(kind: str, threads: int | None, concurrencies: tuple[int, ...]) -> None:
    n = REQUESTS[kind]
    with running_server(ServerSpec(kind=kind, sleep_s=0.0, workers=1, threads=threads)) as srv:
        run_ab(srv.url, requests=WARMUP_N, concurrency=WARMUP_C).checked()
        for c in concurrencies:
            rows = []
            for _ in range(3):
                pids = srv.pids()
                cpu0, main0, ab0 = process_cpu_s(srv), main_threads_cpu_s(srv), children_cpu_s()
                sw0 = switches(pids)
                rep = run_ab(srv.url, requests=n, concurrency=c).checked()
                cpu1, main1, ab1 = process_cpu_s(srv), main_threads_cpu_s(srv), children_cpu_s()
                sw1 = switches(pids)
                done = rep.complete_requests
                rows.append((rep.requests_per_second, 1e6 * (cpu1 - cpu0) / done,
                             1e6 * (main1 - main0) / done, 1e6 * (ab1 - ab0) / done,
                             (sw1[0] - sw0[0]) / done, (sw1[1] - sw0[1]) / done))
            rps, cpu, main, ab, wm, wo = (statistics.median(col) for col in zip(*rows, strict=True))
            print(f"{kind:17} c{c:3} rps {rps:7.0f} (runs {'/'.join(f'{r[0]:.0f}' for r in rows)})"
                  f"  server {cpu:6.0f} us = main {main:6.0f} + others {cpu - main:5.0f}"
                  f"  ab {ab:4.0f} us  wakes/request: main {wm:4.2f} others {wo:4.2f}",
                  flush=True)


def main() -> None:
    args = sys.argv[1:]
    load = int(args[args.index("--c") + 1]) if "--c" in args else 20
    rounds = int(args[0]) if args and not args[0].startswith("--") else 1
    for r in range(rounds):
        print(f"round {r + 1}", flush=True)
        for kind, threads in SHAPES:
            measure(kind, threads, (1, load))


if __name__ == "__main__":
    main()
