"""gthread with one worker of 1, 2, 4 and 8 threads at sleep 0, measured in the same rounds.

    .venv/bin/python tools/trace/gthread_threads.py [--rounds 6] [-c 20] [-n 2000]

Every server runs at once and `asim.lab.measure.measure_rounds` interleaves their ab runs, so the
machine's drift falls on all of them alike: the ratios between thread counts are what this
measures (docs/notes/measurements.md section 53.7). Prints per thread count the median RPS with
its rounds' spread, the server's CPU per request (all threads, and the main thread's), the ratio
of each to one thread's, and the model's RPS and CPU per request with the built-in costs and
their ratios to one thread's. An otherwise idle machine; about three minutes.
"""

from __future__ import annotations

import argparse

from asim.calibration.shapes_fit import GTHREAD
from asim.lab.measure import CpuPlan, measure_rounds
from asim.sim.model import simulate
from asim.sim.spec import Scenario

THREADS = (1, 2, 4, 8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("-c", type=int, default=20)
    parser.add_argument("-n", type=int, default=2000)
    args = parser.parse_args()
    plans = [CpuPlan(name=f"gthread 1 x {t}", kind=GTHREAD, sleep_s=0.0, requests=args.n,
                     concurrency=args.c, threads=t) for t in THREADS]
    runs = measure_rounds(plans, args.rounds, every_thread=True)
    model = {}
    for t in THREADS:
        sim = simulate(Scenario(server=GTHREAD, sleep_s=0.0, concurrency=args.c,
                                requests=args.n, threads=t), keep_records=False)
        model[t] = (sim.report.requests_per_second, sim.server_cpu_s)
    first = runs[plans[0].name]
    print(f"gthread, one worker, sleep 0, ab -n {args.n} -c {args.c}, {args.rounds} rounds")
    print(f"{'threads':>7} {'RPS':>8} {'spread':>7} {'CPU us/req':>10} {'main us':>8} "
          f"{'RPS / 1':>8} {'CPU / 1':>8}   model RPS, CPU us/req, RPS / 1, CPU / 1 (built-in)")
    for plan, t in zip(plans, THREADS, strict=True):
        run = runs[plan.name]
        rps, cpu = model[t]
        print(f"{t:7d} {run.requests_per_second:8.1f} {run.rps_spread_pct:6.1f}% "
              f"{run.server_cpu_s * 1e6:10.0f} {(run.main_cpu_s or 0) * 1e6:8.0f} "
              f"{run.requests_per_second / first.requests_per_second:8.2f} "
              f"{run.server_cpu_s / first.server_cpu_s:8.2f}   {rps:8.1f} {cpu * 1e6:6.0f} "
              f"{rps / model[1][0]:5.2f} {cpu / model[1][1]:5.2f}")


if __name__ == "__main__":
    main()
