"""CPU-dominated hold-out points measured in the same rounds as the calibration runs.

    .venv/bin/python tools/interleaved_holdout.py [--rounds 6] [--out FILE.json]

`asim validate` measures its points minutes after `asim calibrate`, and this machine's speed moves
by 10-40 % in that time, so a CPU-dominated point's error there is the model's and the drift's
together. Here every calibration run (`asim.calibration.fit.plan`) and the hold-out's
CPU-dominated points where the model misses most often (aiohttp at C = 10 with sleeps of 0, 1
and 2 ms; Django with one worker at C = 10 and four at C = 10 with sleeps of 0 and 1 ms) are
measured in the same interleaved rounds (`asim.lab.measure.measure_rounds`, aiohttp's servers
and then Django's): a slow stretch falls on a calibration run and a point alike. The costs are
then fitted to the calibration runs alone (`asim.calibration.fit.fit`, the current fit) and every
point predicted with them. Prints the calibration's self-check, then per point: the measured
median RPS with its rounds' spread, the model's, the error, and the server's and ab's CPU per
request measured and modelled. ``--out`` keeps the measured runs and the fitted costs. An
otherwise idle machine; about two minutes (docs/notes/measurements.md section 48).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from asim.calibration.fit import AIOHTTP, DJANGO, check_lines, fit, plan  # noqa: E402
from asim.calibration.knobs import model_outcome  # noqa: E402
from asim.calibration.simpool import OutcomePool  # noqa: E402
from asim.lab.measure import (  # noqa: E402
    CpuPlan,
    asyncio_sleep_overshoot_s,
    measure_rounds,
    time_sleep_overshoot_s,
)

N = 2000
POINTS = (
    CpuPlan(name="aiohttp s0 C10", kind=AIOHTTP, sleep_s=0.0, requests=N, concurrency=10),
    CpuPlan(name="aiohttp 1ms C10", kind=AIOHTTP, sleep_s=0.001, requests=N, concurrency=10),
    CpuPlan(name="aiohttp 2ms C10", kind=AIOHTTP, sleep_s=0.002, requests=N, concurrency=10),
    CpuPlan(name="django w1 s0 C10", kind=DJANGO, sleep_s=0.0, requests=N, concurrency=10),
    CpuPlan(name="django w4 s0 C10", kind=DJANGO, sleep_s=0.0, requests=N, concurrency=10,
            workers=4),
    CpuPlan(name="django w4 1ms C10", kind=DJANGO, sleep_s=0.001, requests=N, concurrency=10,
            workers=4),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    ts_over, aio_over = time_sleep_overshoot_s(), asyncio_sleep_overshoot_s()
    runs = {}
    for server in (AIOHTTP, DJANGO):
        plans = [p.cpu_plan() for p in plan() if p.server == server]
        plans += [p for p in POINTS if p.kind == server]
        print(f"{server}: {args.rounds} rounds of {len(plans)} runs", flush=True)
        runs.update(measure_rounds(plans, args.rounds))
    calibration_runs = {p.name: runs[p.name] for p in plan()}
    with OutcomePool(None) as pool:
        result = fit(calibration_runs, ts_over, aio_over, pool=pool)
    print("\n".join(check_lines(result.check)))
    print(f"\n{'point':20} {'measured RPS':>12} {'spread':>7} {'model':>8} {'error':>7}"
          f"   server CPU us/req measured / model   ab CPU us/req measured / model")
    for point in POINTS:
        run = runs[point.name]
        out = model_outcome(run, result.costs)
        error = (out.requests_per_second / run.requests_per_second - 1) * 100
        print(f"{point.name:20} {run.requests_per_second:12.1f} {run.rps_spread_pct:6.1f}% "
              f"{out.requests_per_second:8.1f} {error:+6.1f}%   "
              f"{run.server_cpu_s * 1e6:8.0f} / {out.server_cpu_s * 1e6:5.0f}"
              f"{'':22}{run.ab_cpu_s * 1e6:6.0f} / {out.ab_cpu_s * 1e6:5.0f}")
    if args.out:
        args.out.write_text(json.dumps({
            "runs": {name: {"requests_per_second": r.requests_per_second,
                            "every_rps": list(r.every_rps or ()),
                            "server_cpu_s": r.server_cpu_s, "ab_cpu_s": r.ab_cpu_s}
                     for name, r in runs.items()},
            "costs": dataclasses.asdict(result.costs),
        }, indent=1) + "\n")


if __name__ == "__main__":
    main()
