"""Where the model's Total percentiles leave the measured band, on recorded shapes folders.

    .venv/bin/python tools/band_analysis.py DIR [DIR ...] [-v] [--all-percentiles]

DIR holds `plan.json`, `points.jsonl` and `calibration.json` as `asim validate shapes` leaves
them. Each folder's calibration is fitted again by the current code (`asim calibrate --refit`),
every point predicted as validate predicts it (`model_runs`, the race's branches, the matched
branch), and the IO-bound points' (`asim.validate.fidelity.is_io_bound`) Total percentiles
compared with the measured min-max band of the first pass's repeats widened by
`BAND_WIDEN`, as `fidelity.band_accuracy` counts it. Prints, per folder, the band count for
p50/p90/p100, every miss (point, percentile, model, band, signed distance to the band's edge in
%), the IO-bound and the CPU-dominated points' RPS median / max |error| against the median of
the first pass's repeats, and the branch matched at every point the model predicts two ways;
`--all-percentiles` adds ab's whole list (50, 66, 75, 80, 90, 95, 98, 99, 100), `-v` every
IO-bound point's percentiles beside its runs'.
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

from asim.calibration.file import load
from asim.calibration.fit import refit
from asim.validate.compare import METRICS_BY_KEY, compare
from asim.validate.fidelity import BAND_METRICS, BAND_WIDEN, is_cpu_dominated, is_io_bound
from asim.validate.run import model_branches, model_runs
from asim.validate.store import ResultsDir

ALL_PERCENTILES = (50, 66, 75, 80, 90, 95, 98, 99, 100)


def miss_pct(predicted: float, lo: float, hi: float) -> float:
    """Signed distance of ``predicted`` beyond the widened band [lo, hi] in % of the edge it
    passed (0 inside)."""
    lo_w, hi_w = lo * (1 - BAND_WIDEN), hi * (1 + BAND_WIDEN)
    if predicted < lo_w:
        return (predicted - lo_w) / lo_w * 100
    if predicted > hi_w:
        return (predicted - hi_w) / hi_w * 100
    return 0.0


def comparisons(directory: Path):
    store = ResultsDir(directory)
    plan = store.read_plan()
    costs = refit(load(directory / "calibration.json")).costs
    runs = model_runs(plan, costs=costs)
    predictions = {p.id: r.report for p, r in runs.items() if r.report is not None}
    return compare(
        plan, predictions, store.records(), model_branches(runs),
        {p.id: r.cpu_utilisation for p, r in runs.items()},
    )


def main() -> None:
    verbose = "-v" in sys.argv
    every = "--all-percentiles" in sys.argv
    keys = ALL_PERCENTILES if every else tuple(int(k[1:]) for k in BAND_METRICS)
    for name in (a for a in sys.argv[1:] if not a.startswith("-")):
        every_point = comparisons(Path(name))
        io = [c for c in every_point if is_io_bound(c) and c.observed]
        inside = total = 0
        misses = []
        for c in io:
            branch = c.matched()
            if branch is None:
                continue
            for k in keys:
                values = [float(r.percentiles_ms[k]) for r in c.observed]
                predicted = float(branch.report.percentiles_ms[k])
                total += 1
                m = miss_pct(predicted, min(values), max(values))
                if m == 0.0:
                    inside += 1
                else:
                    misses.append((c.point.id, k, predicted, min(values), max(values), m))
            if verbose:
                print(f"  {c.point.id:34s} " + " ".join(
                    f"p{k} {float(branch.report.percentiles_ms[k]):.0f}"
                    f" [{min(float(r.percentiles_ms[k]) for r in c.observed):.0f}-"
                    f"{max(float(r.percentiles_ms[k]) for r in c.observed):.0f}]"
                    for k in keys))
        rps = [abs(e) for c in io if (e := c.error(METRICS_BY_KEY["rps"])) is not None]
        cpu = [abs(e) for c in every_point if is_cpu_dominated(c)
               and (e := c.error(METRICS_BY_KEY["rps"])) is not None]
        cpu_text = (f"; CPU-dominated RPS (pass 1) median {statistics.median(cpu):.2f} %"
                    f" max {max(cpu):.1f} %") if cpu else ""
        print(f"{name}: {len(io)} IO-bound points; band {inside} of {total}"
              f" ({inside / total:.0%}); RPS median {statistics.median(rps):.2f} %"
              f" max {max(rps):.1f} %{cpu_text}")
        for c in every_point:
            if c.alternatives and c.observed:
                print(f"  branch {c.point.id:34s} matched: {c.matched().name}")
        for pid, k, pred, lo, hi, m in misses:
            print(f"  miss {pid:34s} p{k:<3d} model {pred:7.0f}  band {lo:.0f}-{hi:.0f}"
                  f"  {m:+6.1f} %")


if __name__ == "__main__":
    main()
