"""Simulator speed and memory, against bare SimPy closed loops measured in the same run.

    .venv/bin/python benchmarks/run.py            # N = 1,000,000, C = 1,000 (a few minutes)
    .venv/bin/python benchmarks/run.py --quick    # N = 100,000

Prints simulated requests per wall second for each server model and two baselines of the same
shape (C clients, N requests, sleep S): the *bare* loop (one SimPy timeout per request) and a
*staged* loop (one process per client making as many timeouts per request as the model
processes events per request), the ratio of each model to both, the model's peak traced memory,
and the wall time of the seed grid (tasks 7, 8 and 9: 18 points).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import simpy

from asim.grid import predict, scenarios
from asim.sim.model import simulate
from asim.sim.spec import Scenario

# At C = 1000 any real sleep in the blocking handler overflows aiohttp's accept queue (129):
# ab's SYNs are dropped until its connects time out, and the model predicts that ab aborts.
# The blocking model is therefore timed with a zero sleep: the same callbacks, no timer.
SLEEP_S = {"aiohttp": 0.1, "aiohttp-blocking": 0.0, "django": 0.1}
WORKERS = {"django": 64}


def bare_loop(n: int, c: int, sleep_s: float, stages: int = 1) -> float:
    env = simpy.Environment()
    left = [n]
    step = sleep_s / stages

    def client():
        while left[0] > 0:
            left[0] -= 1
            for _ in range(stages):
                yield env.timeout(step)

    for _ in range(c):
        env.process(client())
    t0 = time.perf_counter()
    env.run()
    return n / (time.perf_counter() - t0)


def model_rate(sc: Scenario) -> tuple[float, float]:
    """Simulated requests per wall second and peak RSS (MB), in a fresh child process."""
    code = (
        "import json, resource, time, sys\n"
        "from asim.sim.model import simulate\n"
        "from asim.sim.spec import Scenario\n"
        f"sc = Scenario(**{sc.__dict__!r})\n"
        "t0 = time.perf_counter(); simulate(sc, keep_records=False)\n"
        "dt = time.perf_counter() - t0\n"
        "rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\n"
        "print(json.dumps([sc.requests / dt, rss]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    rate, rss_mb = json.loads(out.stdout)
    return rate, rss_mb


def events_per_request(sc: Scenario) -> float:
    small = Scenario(**{**sc.__dict__, "requests": 20_000})
    env_steps = [0]
    orig = simpy.Environment.step

    def counting(self):
        env_steps[0] += 1
        return orig(self)

    simpy.Environment.step = counting
    try:
        simulate(small, keep_records=False)
    finally:
        simpy.Environment.step = orig
    return env_steps[0] / small.requests


def seed_grid_wall_s() -> float:
    grid = (
        scenarios(servers=("aiohttp", "django"), concurrencies=(5, 10, 20, 40), sleeps_s=(0.1,))
        + scenarios(servers=("aiohttp", "django"), concurrencies=(10,), sleeps_s=(0.1, 0.2, 0.3))
        + scenarios(servers=("aiohttp-blocking",), concurrencies=(5, 10, 20, 40))
        + scenarios(servers=("django",), concurrencies=(5, 10, 20, 40))
    )
    t0 = time.perf_counter()
    predict(grid)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="N = 100,000 instead of 1,000,000")
    args = ap.parse_args()
    n, c = (100_000 if args.quick else 1_000_000), 1000
    print(f"N = {n:,}, C = {c:,}")
    print(f"{'model':18} {'sleep s':>8} {'req/s':>9} {'bare':>9} {'ratio':>6} "
          f"{'staged':>9} {'ratio':>6} {'ev/req':>6} {'peak RSS MB':>11}")
    for server, sleep in SLEEP_S.items():
        sc = Scenario(server=server, sleep_s=sleep, concurrency=c, requests=n,
                      workers=WORKERS.get(server, 1))
        epr = events_per_request(sc)
        rate, peak_mb = model_rate(sc)
        bare = bare_loop(n, c, sleep)
        staged = bare_loop(n, c, sleep, stages=max(1, round(epr)))
        print(f"{server:18} {sleep:8g} {rate:9,.0f} {bare:9,.0f} {rate / bare:6.3f} "
              f"{staged:9,.0f} {rate / staged:6.2f} {epr:6.1f} {peak_mb:11.1f}")
    print(f"seed grid (18 points, n=100): {seed_grid_wall_s():.3f} s wall")


if __name__ == "__main__":
    main()
