"""gthread with one worker of 1, 2, 4 and 8 threads at sleep 0, measured in the same rounds.

    .venv/bin/python tools/trace/gthread_threads.py [--rounds 6] [-c 20] [-n 2000]

All four servers run at once (warmed as `asim calibrate` warms a server) and each round runs one
``ab -n N -c C`` against each in turn, so the machine's drift falls on all of them alike: the
ratios between thread counts are what this measures (docs/notes/measurements.md sections 53.7
and 54). Prints per thread count the medians over the rounds of the RPS (with the rounds'
spread), and per request the server's CPU and blocks (voluntary context switches, `blocks.measure`)
of its main thread and of its pool threads, then the RPS and CPU against one thread's; below, the
model's with the built-in costs: RPS, CPU and wake-ups per request by thread, and the blocking
calls its pool threads make while another pool thread waits for the GIL (`Gil.switched`). An
otherwise idle machine; about three minutes.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics

from blocks import measure, model
from common import Server, ab

from asim.calibration.shapes_fit import GTHREAD
from asim.lab.measure import WARMUP_C, WARMUP_N
from asim.lab.procs import ServerSpec, running_server
from asim.sim import threads as gil_model
from asim.sim.costs import DEFAULT_COSTS

THREADS = (1, 2, 4, 8)
KEYS = ("rps", "main blocks", "main us", "others blocks", "others us")


def _model(concurrency: int, requests: int, threads: int) -> dict[str, float]:
    """`blocks.model`'s row with the built-in costs, and ``switched``: the model's pool-thread
    calls made while other pool threads waited (times how many), per request."""
    made: list[gil_model.Gil] = []
    init = gil_model.Gil.__init__

    def recording(gil, *args, **kwargs):
        init(gil, *args, **kwargs)
        made.append(gil)

    gil_model.Gil.__init__ = recording
    try:
        row = model(DEFAULT_COSTS, GTHREAD, 0.0, concurrency, requests, threads)
    finally:
        gil_model.Gil.__init__ = init
    return {**row, "switched": sum(gil.switched for gil in made) / requests}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("-c", type=int, default=20)
    parser.add_argument("-n", type=int, default=2000)
    args = parser.parse_args()
    rows: dict[int, list[dict[str, float]]] = {t: [] for t in THREADS}
    with contextlib.ExitStack() as stack:
        servers = {}
        for t in THREADS:
            running = stack.enter_context(
                running_server(ServerSpec(kind=GTHREAD, sleep_s=0.0, threads=t)))
            servers[t] = Server(GTHREAD, running.port, running.pid)
            ab(servers[t], WARMUP_N, WARMUP_C)
        for _ in range(args.rounds):
            for t in THREADS:
                rows[t].append(measure(servers[t], args.c, args.n))
    real = {t: {k: statistics.median(r[k] for r in rows[t]) for k in KEYS} for t in THREADS}
    sims = {t: _model(args.c, args.n, t) for t in THREADS}
    print(f"gthread, one worker, sleep 0, ab -n {args.n} -c {args.c}, {args.rounds} rounds; "
          "per request (us, blocks); model with the built-in costs")
    print(f"{'threads':>7} {'':5} {'RPS':>8} {'spread':>7} {'main us':>8} {'main blk':>8} "
          f"{'pool us':>8} {'pool blk':>8} {'CPU us':>7} {'RPS / 1':>8} {'CPU / 1':>8} "
          f"{'switched':>8}")
    for label, table in (("real", real), ("model", sims)):
        one = table[1]
        for t in THREADS:
            row = table[t]
            cpu = row["main us"] + row["others us"]
            values = [r["rps"] for r in rows[t]]
            spread = ((max(values) - min(values)) / statistics.median(values) * 100
                      if label == "real" else 0.0)
            switched = f"{row['switched']:8.1f}" if label == "model" else ""
            print(f"{t:7d} {label:5} {row['rps']:8.1f} {spread:6.1f}% {row['main us']:8.0f} "
                  f"{row['main blocks']:8.2f} {row['others us']:8.0f} "
                  f"{row['others blocks']:8.2f} {cpu:7.0f} {row['rps'] / one['rps']:8.2f} "
                  f"{cpu / (one['main us'] + one['others us']):8.2f} {switched}")


if __name__ == "__main__":
    main()
