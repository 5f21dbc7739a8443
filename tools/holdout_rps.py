"""RPS error of the current model on recorded hold-out runs, each with its own calibration
fitted again by the current fitting (`asim calibrate --refit`).

    .venv/bin/python tools/holdout_rps.py DIR [DIR ...] [-v]

DIR holds `points.jsonl` and `calibration.json` as `asim validate holdout` leaves them (the
calibration copied next to the points). Prints, per directory, the fitted switching loss and
herd cost, and the median and max |RPS error| against the median of the repeats for the
IO-dominated (sleep > 2 ms) and CPU-dominated points, and the model's |RPS error| on the
calibration's own runs (which the fit should reproduce); `-v` adds every point.
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

from asim.calibration.file import Calibration, load
from asim.calibration.fit import refit
from asim.sim.model import ab_report
from asim.sim.spec import Scenario
from asim.validate.store import Record, ResultsDir


def points(directory: Path) -> list[tuple[str, Scenario, float]]:
    """Each point's id, scenario and median RPS over its complete runs in ``directory``."""
    runs: dict[str, list[Record]] = {}
    for record in ResultsDir(directory).completed().values():
        runs.setdefault(record.point.id, []).append(record)
    return [
        (point_id, rs[0].point.scenario(),
         statistics.median(r.observed.requests_per_second for r in rs if r.observed))
        for point_id, rs in runs.items()
    ]


def summary(errors: list[float]) -> str:
    if not errors:
        return "none"
    return f"median {statistics.median(errors):.2f} % max {max(errors):.1f} %"


def own(calibration: Calibration) -> list[float]:
    """|RPS error| of the model on the calibration's own runs (what it was fitted on)."""
    out = []
    for run in calibration.measured.values():
        if not isinstance(run, dict):
            continue
        sc = Scenario(
            server=run["server"], workers=run["workers"], sleep_s=run["sleep_s"],
            concurrency=run["concurrency"], requests=run["requests"],
        )
        model = ab_report(sc, costs=calibration.costs).requests_per_second
        out.append(abs(model / run["requests_per_second"] - 1) * 100)
    return out


def main() -> None:
    verbose = "-v" in sys.argv
    for name in (a for a in sys.argv[1:] if a != "-v"):
        directory = Path(name)
        calibration = refit(load(directory / "calibration.json"))
        costs = calibration.costs
        errors = []
        for point_id, sc, measured in points(directory):
            model = ab_report(sc, costs=costs).requests_per_second
            errors.append((point_id, sc.sleep_s > 0.002, (model - measured) / measured * 100))
        io = [abs(e) for _, is_io, e in errors if is_io]
        cpu = [abs(e) for _, is_io, e in errors if not is_io]
        print(
            f"{name}: switch_loss {costs.switch_loss:.2f},"
            f" herd {costs.worker_herd_cpu_s * 1e6:.0f} us;"
            f" IO {summary(io)}; CPU {summary(cpu)}; calibration runs {summary(own(calibration))}"
        )
        if verbose:
            for point_id, is_io, e in errors:
                print(f"  {point_id:32s} {'IO ' if is_io else 'CPU'} {e:+6.1f} %")


if __name__ == "__main__":
    main()
