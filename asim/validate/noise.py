"""CPU-dominated points against measuring again: the noise floor of `asim validate --passes 2`.

A CPU-dominated point (sleep of 2 ms or less) follows the machine's CPU speed, which drifts by
20-40 % from one minute to the next (docs/notes/measurements.md §11). Its noise floor is how far
two passes of the same point, measured in one session minutes apart on fresh servers, land from
each other: (max − min) / mean of the passes' medians, in %. It is the error of the "oracle" of
`tools/noise_floor.py`, which predicts one pass by the other: no model whose inputs were measured
minutes earlier can be expected to beat it point for point.

Issue 11's goal as judged here, on RPS and time per request: a point's error is the larger of the
model's |errors| against the passes (each on the branch that pass matched, see
`asim.validate.compare`); every point's error is within max(10 %, its noise floor), and the
median of those errors over the points is 5 % or less.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from asim.validate.compare import METRICS_BY_KEY, Metric, PointComparison
from asim.validate.study import cpu_dominated

NOISE_METRICS = ("rps", "tpr")
FLOOR_MIN_PCT = 10.0  # issue 11: no point's error above the larger of 10 % and its floor
MEDIAN_GOAL_PCT = 5.0  # issue 11: the median error over the CPU-dominated points


@dataclass(frozen=True, kw_only=True)
class PassedPoint:
    """One metric of one CPU-dominated point measured in several passes, and the model's error
    against each pass's median."""

    point_id: str
    metric: Metric
    medians: tuple[float, ...]
    model: float
    branch: str
    errors_pct: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.medians) < 2 or len(self.errors_pct) != len(self.medians):
            raise ValueError("a PassedPoint needs two passes or more, with an error for each")

    @property
    def floor_pct(self) -> float:
        """(max − min) / mean of the passes' medians, in %."""
        mean = statistics.mean(self.medians)
        return (max(self.medians) - min(self.medians)) / mean * 100 if mean > 0 else 0.0

    @property
    def tolerance_pct(self) -> float:
        return max(FLOOR_MIN_PCT, self.floor_pct)

    @property
    def error_pct(self) -> float:
        """The larger |error| of the model against the passes."""
        return max(abs(e) for e in self.errors_pct)

    @property
    def within(self) -> bool:
        return self.error_pct <= self.tolerance_pct


@dataclass(frozen=True, kw_only=True)
class NoiseFloor:
    """The CPU-dominated points measured in several passes, and those measured in one."""

    rows: tuple[PassedPoint, ...]
    unmeasured: tuple[str, ...]

    def median_floor_pct(self, key: str = "rps") -> float | None:
        floors = [r.floor_pct for r in self.rows if r.metric.key == key]
        return statistics.median(floors) if floors else None

    @property
    def median_error_pct(self) -> float | None:
        """Median over the rows (RPS and time per request of every point) of `error_pct`."""
        return statistics.median(r.error_pct for r in self.rows) if self.rows else None

    @property
    def outside(self) -> tuple[PassedPoint, ...]:
        return tuple(r for r in self.rows if not r.within)

    @property
    def goal_met(self) -> bool:
        median = self.median_error_pct
        return median is not None and median <= MEDIAN_GOAL_PCT and not self.outside


def noise_floor(comparisons: Sequence[PointComparison]) -> NoiseFloor:
    """The noise floor and the model's errors of every CPU-dominated point with two passes or
    more, each with a report and a prediction; the ids of the other CPU-dominated points."""
    rows: list[PassedPoint] = []
    unmeasured: list[str] = []
    for c in comparisons:
        if not cpu_dominated(c.point):
            continue
        numbers = range(1, c.passes + 1)
        branch = c.matched()
        if c.passes < 2 or branch is None or not all(c.pass_runs(n) for n in numbers):
            unmeasured.append(c.point.id)
            continue
        for key in NOISE_METRICS:
            m = METRICS_BY_KEY[key]
            errors = [c.pass_error(m, n) for n in numbers]
            if any(e is None for e in errors):
                unmeasured.append(c.point.id)
                break
            rows.append(
                PassedPoint(
                    point_id=c.point.id,
                    metric=m,
                    medians=tuple(statistics.median(m.value(r) for r in c.pass_runs(n))
                                  for n in numbers),
                    model=m.value(branch.report),
                    branch=branch.name if c.alternatives else "",
                    errors_pct=tuple(e for e in errors if e is not None),
                )
            )
    return NoiseFloor(rows=tuple(rows), unmeasured=tuple(dict.fromkeys(unmeasured)))


def _num(value: float) -> str:
    """Four significant digits (0.3296 ms, 27.31 ms, 8696 requests/s)."""
    return f"{value:.0f}" if value >= 1000 else f"{value:.4g}"


def _pct(value: float) -> str:
    return f"{round(value, 1) + 0.0:.1f} %"


def _signed(value: float) -> str:
    return f"{round(value, 1) + 0.0:+.1f} %"


def noise_lines(comparisons: Sequence[PointComparison]) -> list[str]:
    """The noise-floor section of report.md (nothing for a plan without CPU-dominated points)."""
    cpu = [c for c in comparisons if cpu_dominated(c.point)]
    if not cpu:
        return []
    nf = noise_floor(comparisons)
    if not nf.rows:
        return [
            f"The noise floor was not measured: this folder holds one pass of its {len(cpu)} "
            "CPU-dominated point(s). `asim validate --resume DIR --passes 2` measures them "
            "again (fresh servers, minutes later) and adds the floor here."
        ]
    passes = max(len(r.medians) for r in nf.rows)
    header = ["Point", "Metric"] + [f"pass {n}" for n in range(1, passes + 1)]
    header += ["noise floor", "model"] + [f"error vs pass {n}" for n in range(1, passes + 1)]
    header += ["within max(10 %, floor)"]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for r in nf.rows:
        pad = ["–"] * (passes - len(r.medians))
        model = _num(r.model) + (f" ({r.branch})" if r.branch else "")
        cells = [f"`{r.point_id}`", f"{r.metric.short} ({r.metric.unit})"]
        cells += [_num(v) for v in r.medians] + pad
        cells += [_pct(r.floor_pct), model]
        cells += [_signed(e) for e in r.errors_pct] + pad
        cells.append("yes" if r.within else f"**no** ({_pct(r.error_pct)} > "
                     f"{_pct(r.tolerance_pct)})")
        lines.append("| " + " | ".join(cells) + " |")
    lines += [""] + summary_lines(nf)
    lines += [
        "",
        "Pass n = the median of that pass's repeats; the later passes measured the "
        "CPU-dominated points again on fresh servers after the first pass of the whole plan. "
        "Noise floor = (max − min) / mean of the passes' medians: how far measuring again lands "
        "(the \"oracle\" of docs/notes/measurements.md §11). A point's error is the larger "
        "|error| against the passes (each on the branch that pass matched); issue 11's goal: "
        f"every point within max({FLOOR_MIN_PCT:.0f} %, its floor), the median ≤ "
        f"{MEDIAN_GOAL_PCT:.0f} %.",
    ]
    return lines


def summary_lines(nf: NoiseFloor) -> list[str]:
    """What the noise-floor table says, in one or two sentences (report and terminal)."""
    if not nf.rows:
        return []
    points = len({r.point_id for r in nf.rows})
    median = nf.median_error_pct
    assert median is not None  # rows exist
    floor = nf.median_floor_pct()
    text = (
        f"{points} CPU-dominated point(s) measured in {max(len(r.medians) for r in nf.rows)} "
        f"passes: noise floor (RPS) median {'–' if floor is None else _pct(floor)}; model "
        f"error median {_pct(median)} (goal ≤ {MEDIAN_GOAL_PCT:.0f} %), "
        f"{len(nf.rows) - len(nf.outside)} of {len(nf.rows)} (point, metric) within "
        f"max({FLOOR_MIN_PCT:.0f} %, floor): issue 11's goal "
        f"{'met' if nf.goal_met else 'NOT met'}."
    )
    out = [text]
    if nf.unmeasured:
        out.append(f"Measured in one pass only (no noise floor): {', '.join(nf.unmeasured)}.")
    return out
