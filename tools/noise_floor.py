"""How far two honest measurements of the CPU-dominated hold-out land from each other.

    .venv/bin/python tools/noise_floor.py OUT [--passes K] [--requests N,M] [--longer K] [--analyse]

Each pass runs `asim calibrate` and then the hold-out's two CPU-dominated studies (sleep 0-2 ms,
3 ab runs per point), into OUT/pass-<i>/. At the end it prints, for RPS against the median of
the repeats:

- model:  each pass's prediction (its own calibration, made before its runs) against its runs;
- cross:  each calibration against the other passes' runs;
- oracle: each pass's measured medians used as the prediction of another pass's medians.

The oracle row is the noise floor: no model whose inputs are measured minutes earlier can be
expected to beat, point for point, what the same measurement repeated minutes later gives.
`--analyse` skips the measuring and prints the table for the passes already in OUT (the two
recorded experiments: figures/noise-floor/short, long and warmed).
`--requests N,M` measures the no-sleep study with ab -n N and the 0-2 ms study with -n M
(the hold-out's are 2000, 2000); `--longer K` makes calibration's sleep-0 runs K times longer.
"""

from __future__ import annotations

import dataclasses
import itertools
import statistics
import sys
from pathlib import Path

from holdout_rps import points  # tools/, next to this script

import asim.calibration.fit as calibration_runs
from asim.calibration.file import load, save
from asim.calibration.fit import calibrate
from asim.sim.model import ab_report
from asim.sim.spec import Scenario
from asim.validate.run import validate
from asim.validate.study import Plan
from asim.validate.tasks import HOLDOUT

CPU_STUDIES = tuple(s for s in HOLDOUT if s.name.startswith("holdout-cpu"))


def measure_pass(directory: Path, studies: tuple) -> None:
    calibration = calibrate(lambda msg: print(f"  {msg}", flush=True))
    save(calibration, directory / "calibration.json")
    plan = Plan(name="holdout-cpu", studies=studies, repeats=3)
    validate(plan, directory, costs=calibration.costs)


def summary(errors: list[float]) -> str:
    a = [abs(e) for e in errors]
    return f"median {statistics.median(a):5.1f} %  max {max(a):5.1f} %"


def analyse(root: Path) -> None:
    passes = sorted(p for p in root.glob("pass-*") if (p / "points.jsonl").exists())
    measured = {p.name: {pid: (sc, rps) for pid, sc, rps in points(p)} for p in passes}
    costs = {p.name: load(p / "calibration.json").costs for p in passes}
    predicted = {
        name: {pid: ab_report(sc, costs=c).requests_per_second
               for pid, (sc, _) in measured[name].items()}
        for name, c in costs.items()
    }

    def err(pred: dict[str, float], meas: dict[str, tuple[Scenario, float]]) -> list[float]:
        return [(pred[k] - v) / v * 100 for k, (_, v) in meas.items() if k in pred]

    names = [p.name for p in passes]
    for a in names:
        print(f"model  {a} on {a}:  {summary(err(predicted[a], measured[a]))}")
    for a, b in itertools.permutations(names, 2):
        print(f"cross  {a} on {b}:  {summary(err(predicted[a], measured[b]))}")
    for a, b in itertools.permutations(names, 2):
        oracle = {k: v for k, (_, v) in measured[a].items()}
        print(f"oracle {a} on {b}:  {summary(err(oracle, measured[b]))}")
    print()
    header = "".join(f"{n:>10s}" for n in names)
    header += "".join(f"{'model ' + n[-1]:>10s}" for n in names)
    print(f"{'point':28s}{header}")
    for k in measured[names[0]]:
        row = "".join(f"{measured[n][k][1]:10.0f}" for n in names if k in measured[n])
        row += "".join(f"{predicted[n][k]:10.0f}" for n in names if k in predicted[n])
        print(f"{k:28s}{row}")


def main() -> None:
    args = sys.argv[1:]
    if not args:
        sys.exit(__doc__)
    root = Path(args[0])
    passes = int(args[args.index("--passes") + 1]) if "--passes" in args else 2
    studies = CPU_STUDIES
    if "--requests" in args:
        counts = [int(x) for x in args[args.index("--requests") + 1].split(",")]
        studies = tuple(
            dataclasses.replace(s, requests=n) for s, n in zip(studies, counts, strict=True)
        )
    if "--longer" in args:
        k = int(args[args.index("--longer") + 1])
        for name in ("WARM_N", "SAT_N", "OVER_N"):
            setattr(calibration_runs, name, k * getattr(calibration_runs, name))
    if "--analyse" not in args:
        for i in range(1, passes + 1):
            print(f"pass {i}", flush=True)
            measure_pass(root / f"pass-{i}", studies)
    analyse(root)


if __name__ == "__main__":
    main()
