"""CPU-dominated hold-out points measured in the same rounds as the calibration runs.

    .venv/bin/python tools/interleaved_holdout.py [--rounds 6] [--shapes] [--out FILE.json]
    .venv/bin/python tools/interleaved_holdout.py --rejudge FILE.json [FILE.json ...]

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

``--shapes`` does the same for the shapes hold-out's CPU-dominated points (`asim validate
shapes`: the executor's default pool, gthread with one worker of four threads, Django's async and
sync views under uvicorn with one worker, each at sleep 0, C = 20): the second stage's runs
(`asim.calibration.shapes_fit.plan`) with the first stage's warm runs again (its references) and
these points in the same rounds, all six servers running at once; the second stage is fitted on
top of the first stage's fit as `asim calibrate` fits it (its runs put back at the first stage's
speed by the references), and the points are put back the same way before they are compared;
two more gthread points (one worker of one thread, two workers of four) test the GIL's releases
and switches where they weigh differently, and a last column gives each shape point's error with
a plain GIL (its releases and switches free, every burst under the lock); about four minutes
more (sections 52-54).

``--rejudge OUT.json ...`` predicts the points of files that ``--out`` kept again with the current
model and each file's costs, without measuring: a model change judged on runs already made
(tools/trace/out/interleaved_holdout/*.json; section 53.2).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from asim.calibration import shapes_fit  # noqa: E402
from asim.calibration.fit import AIOHTTP, DJANGO, check_lines, fit, plan  # noqa: E402
from asim.calibration.simpool import OutcomePool  # noqa: E402
from asim.lab.measure import (  # noqa: E402
    CpuPlan,
    asyncio_sleep_overshoot_s,
    measure_rounds,
    time_sleep_overshoot_s,
)
from asim.sim import threads  # noqa: E402
from asim.sim.costs import Costs  # noqa: E402
from asim.sim.model import simulate  # noqa: E402
from asim.sim.spec import Scenario  # noqa: E402

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

SHAPES_N = 2000
SHAPE_POINTS = (
    CpuPlan(name="executor s0 C20", kind=shapes_fit.EXECUTOR, sleep_s=0.0, requests=SHAPES_N,
            concurrency=20),
    CpuPlan(name="gthread w1 t4 s0 C20", kind=shapes_fit.GTHREAD, sleep_s=0.0,
            requests=SHAPES_N, concurrency=20, threads=4),
    CpuPlan(name="asgi w1 s0 C20", kind=shapes_fit.ASGI, sleep_s=0.0, requests=SHAPES_N // 4,
            concurrency=20),
    CpuPlan(name="asgi-sync w1 s0 C20", kind=shapes_fit.ASGI_SYNC, sleep_s=0.0,
            requests=SHAPES_N // 4, concurrency=20),
    # Not in the shapes hold-out: gthread with fewer threads and with two workers, where the
    # GIL's releases and switches weigh differently (docs/notes/measurements.md 53.6 and 54).
    CpuPlan(name="gthread w1 t1 s0 C20", kind=shapes_fit.GTHREAD, sleep_s=0.0,
            requests=SHAPES_N, concurrency=20, threads=1),
    CpuPlan(name="gthread w2 t4 s0 C20", kind=shapes_fit.GTHREAD, sleep_s=0.0,
            requests=SHAPES_N, concurrency=20, threads=4, workers=2),
)


def _predicted(point: CpuPlan, costs) -> tuple[float, float, float]:
    """The model's RPS and server and ab CPU per request (s) for one point."""
    sim = simulate(Scenario(server=point.kind, sleep_s=point.sleep_s,
                            concurrency=point.concurrency, requests=point.requests,
                            workers=point.workers, threads=point.threads),
                   costs=costs, keep_records=False)
    return sim.report.requests_per_second, sim.server_cpu_s, sim.ab_cpu_s


PLAIN_LOCK = {"GIL_RELEASE_CPU_S": 0.0, "VIEW_SWITCH_CPU_S": 0.0, "GIL_OFF_LOCK": 0.0}


def _plain_lock(point: CpuPlan, costs) -> float:
    """The model's RPS for one point with a plain GIL (`asim.sim.threads`): its releases and
    switches free, all of a burst under the lock."""
    kept = {name: getattr(threads, name) for name in PLAIN_LOCK}
    for name, value in PLAIN_LOCK.items():
        setattr(threads, name, value)
    try:
        return _predicted(point, costs)[0]
    finally:
        for name, value in kept.items():
            setattr(threads, name, value)


def _print_points(points, runs, costs, *, plain_lock: bool = False) -> None:
    print(f"\n{'point':20} {'measured RPS':>12} {'spread':>7} {'model':>8} {'error':>7}"
          f"   server CPU us/req measured / model   ab CPU us/req measured / model"
          + ("   error with a plain GIL" if plain_lock else ""))
    for point in points:
        run = runs[point.name]
        rps, server_s, ab_s = _predicted(point, costs)
        error = (rps / run.requests_per_second - 1) * 100
        free = ""
        if plain_lock:
            free_error = (_plain_lock(point, costs) / run.requests_per_second - 1) * 100
            free = f"   {free_error:+6.1f}%"
        print(f"{point.name:20} {run.requests_per_second:12.1f} {run.rps_spread_pct:6.1f}% "
              f"{rps:8.1f} {error:+6.1f}%   "
              f"{run.server_cpu_s * 1e6:8.0f} / {server_s * 1e6:5.0f}"
              f"{'':22}{run.ab_cpu_s * 1e6:6.0f} / {ab_s * 1e6:5.0f}{free}")


def rejudge(path: Path) -> None:
    """The points an ``--out`` file kept, predicted again by the current model with the file's
    costs (nothing measured, nothing refitted)."""
    saved = json.loads(path.read_text())
    costs = Costs.from_dict(saved["costs"])
    runs = {}
    for name, r in saved["runs"].items():
        every = r.get("every_rps") or [r["requests_per_second"]]
        spread = (max(every) - min(every)) / statistics.median(every) * 100
        runs[name] = SimpleNamespace(rps_spread_pct=spread, **r)
    print(f"{path}: the saved costs and runs, the current model")
    for points, plain_lock in ((POINTS, False), (SHAPE_POINTS, True)):
        present = [p for p in points if p.name in runs]
        if present:
            _print_points(present, runs, costs, plain_lock=plain_lock)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--shapes", action="store_true")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--rejudge", type=Path, nargs="+", metavar="OUT_JSON")
    args = parser.parse_args()
    if args.rejudge:
        for path in args.rejudge:
            rejudge(path)
        return
    ts_over, aio_over = time_sleep_overshoot_s(), asyncio_sleep_overshoot_s()
    runs = {}
    for server in (AIOHTTP, DJANGO):
        plans = [p.cpu_plan() for p in plan() if p.server == server]
        plans += [p for p in POINTS if p.kind == server]
        print(f"{server}: {args.rounds} rounds of {len(plans)} runs", flush=True)
        runs.update(measure_rounds(plans, args.rounds))
    shape_runs = {}
    if args.shapes:
        plans = shapes_fit.cpu_plans(shapes_fit.SERVERS) + list(SHAPE_POINTS)
        print(f"the shapes: {args.rounds} rounds of {len(plans)} runs", flush=True)
        shape_runs = measure_rounds(plans, args.rounds, every_thread=True)
        runs.update(shape_runs)
    calibration_runs = {p.name: runs[p.name] for p in plan()}
    with OutcomePool(None) as pool:
        result = fit(calibration_runs, ts_over, aio_over, pool=pool)
    print("\n".join(check_lines(result.check)))
    _print_points(POINTS, runs, result.costs)
    costs = result.costs
    if shape_runs:
        second = {p.name: shape_runs[p.name] for p in shapes_fit.cpu_plans(shapes_fit.SERVERS)}
        shaped, ratio = shapes_fit.fit_at_first_speed(calibration_runs, result.costs, second)
        print(f"\nthe shapes' rounds against the first stage's: requests per second x "
              f"{1 / ratio.rps:.3f}, CPU per request x {1 / ratio.cpu:.3f}; their runs and points "
              "are put back at the first stage's speed")
        for point in SHAPE_POINTS:
            runs[point.name] = shapes_fit.at_first_speed(shape_runs[point.name], ratio)
        costs = shaped.costs
        print("\nthe second stage's runs: measured RPS (spread), model, error, within tolerance")
        for row in shaped.check_runs:
            print(f"  {row.name:16} {row.measured_rps:8.1f} ({row.spread_pct or 0:.1f} %) "
                  f"{row.model_rps:8.1f} {row.error_pct:+6.1f} % "
                  f"{'yes' if abs(row.error_pct) <= row.tolerance_pct else 'NO'}")
        _print_points(SHAPE_POINTS, runs, costs, plain_lock=True)
    if args.out:
        args.out.write_text(json.dumps({
            "runs": {name: {"requests_per_second": r.requests_per_second,
                            "every_rps": list(r.every_rps or ()),
                            "server_cpu_s": r.server_cpu_s, "ab_cpu_s": r.ab_cpu_s,
                            "main_cpu_s": r.main_cpu_s}
                     for name, r in runs.items()},
            "costs": dataclasses.asdict(costs),
        }, indent=1) + "\n")


if __name__ == "__main__":
    main()
