"""How a CPU-dominated point's runs move from a fresh server to a warmed one.

    .venv/bin/python tools/trace/fresh_server.py [--rounds 3] [--requests 400]
        [KIND:SLEEP:C[:workers=W,threads=T] ...]

`asim validate` starts a point's server and runs ab against it at once, repeat after repeat; the
model predicts a server in its steady state, and `asim calibrate` warms each server before it
measures (`asim.lab.measure.WARMUP_N` requests at `WARMUP_C`). For each point (default: the
CPU-dominated points of the hold-outs that validate has missed most: aiohttp at C = 10, Django
with four workers at C = 10, the executor and gthread 1 x 4 at C = 20, all at sleep 0): a fresh
server, ``--rounds`` runs of ``ab -n N -c C`` as validate makes them, then the same server
warmed the way calibration warms it, and ``--rounds`` more runs. Printed: each run's requests/s
and the ratio of the warmed runs' median to the fresh runs'. Server after server, never two at
once; an otherwise idle machine (docs/notes/measurements.md section 52).
"""

from __future__ import annotations

import argparse
import statistics

from threads import parse_shape

from asim.lab.abrun import run_ab
from asim.lab.measure import WARMUP_C, WARMUP_N
from asim.lab.procs import ServerSpec, running_server

DEFAULT_POINTS = ("aiohttp:0:10", "django:0:10:workers=4", "aiohttp-executor:0:20",
                  "django-gthread:0:20:threads=4")


def parse(text: str) -> tuple[ServerSpec, int]:
    """``KIND:SLEEP:C[:name=value,...]`` as a server and its concurrency."""
    kind, sleep, concurrency, *options = text.split(":")
    return parse_shape(":".join([kind, *options]), float(sleep)), int(concurrency)


def rps(url: str, requests: int, concurrency: int) -> float:
    report = run_ab(url, requests=requests, concurrency=concurrency).report
    return report.requests_per_second if report else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("points", nargs="*", default=list(DEFAULT_POINTS))
    args = parser.parse_args()
    for text in args.points:
        spec, concurrency = parse(text)
        with running_server(spec) as server:
            fresh = [rps(server.url, args.requests, concurrency) for _ in range(args.rounds)]
            run_ab(server.url, requests=WARMUP_N, concurrency=WARMUP_C)
            warmed = [rps(server.url, args.requests, concurrency) for _ in range(args.rounds)]
        ratio = statistics.median(warmed) / statistics.median(fresh)
        print(f"{text:32} fresh {' '.join(f'{r:7.1f}' for r in fresh)} | warmed "
              f"{' '.join(f'{r:7.1f}' for r in warmed)} | warmed / fresh {ratio:.3f}",
              flush=True)


if __name__ == "__main__":
    main()
