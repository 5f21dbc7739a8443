"""CPU per request by sleep (C = 1 by default), split between the main threads and the others.

    PYTHONPATH=. .venv/bin/python tools/trace/thread_cold.py [--sleeps 0,0.05,0.1]
        [--seconds 3] [--repeats 3] [--concurrency 1] [SHAPE ...]

SHAPE as in ``threads.py`` (default: django-asgi, django-asgi-sync, aiohttp-executor,
django-gthread, aiohttp, django). For each shape and sleep a server starts, serves the
calibration warm-up burst, then ``ab -c C`` runs ``--repeats`` times with as many requests as
fill about ``--seconds``. Per request: the whole group's CPU from each process's CPU-time clock
(`asim.lab.measure.process_cpu_s`: every thread, the ended ones too, in nanoseconds), the main
threads' (`main_threads_cpu_s`), and the difference: the pools' and per-request threads'.
A cold penalty of the per-request threads shows as "others" growing with the sleep.
"""

from __future__ import annotations

import argparse
import statistics

from threads import parse_shape

from asim.lab.abrun import run_ab
from asim.lab.measure import WARMUP_C, WARMUP_N, main_threads_cpu_s, process_cpu_s
from asim.lab.procs import ServerSpec, running_server

DEFAULT = ("django-asgi", "django-asgi-sync", "aiohttp-executor", "django-gthread", "aiohttp",
           "django")


def measure(spec: ServerSpec, requests: int, repeats: int, concurrency: int = 1) -> str:
    rows = []
    with running_server(spec) as srv:
        run_ab(srv.url, requests=WARMUP_N, concurrency=WARMUP_C).checked()
        for _ in range(repeats):
            all0, main0 = process_cpu_s(srv), main_threads_cpu_s(srv)
            report = run_ab(srv.url, requests=requests, concurrency=concurrency).checked()
            all1, main1 = process_cpu_s(srv), main_threads_cpu_s(srv)
            n = report.complete_requests
            rows.append((report.requests_per_second, (all1 - all0) / n * 1e6,
                         (main1 - main0) / n * 1e6, (all1 - all0 - main1 + main0) / n * 1e6))
    names = ("RPS", "all us/req", "main", "others")
    return "; ".join(f"{name} {statistics.median(col):.0f} [{min(col):.0f}-{max(col):.0f}]"
                     for name, col in zip(names, zip(*rows, strict=True), strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("shapes", nargs="*", default=list(DEFAULT))
    parser.add_argument("--sleeps", default="0,0.05,0.1")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=1)
    args = parser.parse_args()
    for text in args.shapes:
        for sleep_s in (float(v) for v in args.sleeps.split(",")):
            # ~4 ms per request at sleep 0 (the slowest shape, Django under uvicorn)
            c = args.concurrency
            requests = max(20, c, round(args.seconds * c / (sleep_s + 0.004 * c)))
            spec = parse_shape(text, sleep_s)
            print(f"{spec.label()} C={c} n={requests}: "
                  f"{measure(spec, requests, args.repeats, c)}", flush=True)


if __name__ == "__main__":
    main()
