"""Predicted against observed: the metrics compared, per-point errors and their summary.

The error of a metric is ``(predicted - observed) / observed * 100`` in percent, with the observed
value the median over the repeats of a point (the min and max are kept for the charts' bars).
Runs without a report (ab failed) are not numbers: a point with none has no error, and is listed
as flagged instead.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from asim.sim.abreport import AbReport
from asim.validate.store import Record
from asim.validate.study import Plan, StudyPoint


@dataclass(frozen=True, kw_only=True)
class Metric:
    """One number of ab's output that the model is judged on."""

    key: str
    label: str
    short: str
    unit: str
    value: Callable[[AbReport], float]


METRICS: tuple[Metric, ...] = (
    Metric(
        key="rps",
        label="Requests per second",
        short="RPS",
        unit="#/s",
        value=lambda r: r.requests_per_second,
    ),
    Metric(
        key="tpr",
        label="Time per request",
        short="per request",
        unit="ms",
        value=lambda r: r.time_per_request_ms,
    ),
    Metric(
        key="tpr_all",
        label="Time per request, across all concurrent",
        short="across all",
        unit="ms",
        value=lambda r: r.time_per_request_all_ms,
    ),
    Metric(
        key="p50",
        label="Total p50",
        short="p50",
        unit="ms",
        value=lambda r: float(r.percentiles_ms[50]),
    ),
    Metric(
        key="p90",
        label="Total p90",
        short="p90",
        unit="ms",
        value=lambda r: float(r.percentiles_ms[90]),
    ),
    Metric(
        key="p100",
        label="Total p100",
        short="p100",
        unit="ms",
        value=lambda r: float(r.percentiles_ms[100]),
    ),
)
METRICS_BY_KEY: dict[str, Metric] = {m.key: m for m in METRICS}


def error_pct(predicted: float, observed: float) -> float | None:
    """Signed relative error of a prediction in percent; None when observed is 0."""
    if observed == 0:
        return None
    return (predicted - observed) / observed * 100.0


@dataclass(frozen=True, kw_only=True)
class PointComparison:
    """One point: the model's report, every observed run, and the problems of those runs."""

    point: StudyPoint
    predicted: AbReport | None
    observed: tuple[AbReport, ...]
    problems: tuple[str, ...] = ()
    failed_runs: int = 0

    @property
    def flagged(self) -> bool:
        return bool(self.problems) or self.failed_runs > 0 or not self.observed

    def observed_values(self, metric: Metric) -> tuple[float, ...]:
        return tuple(metric.value(r) for r in self.observed)

    def observed_value(self, metric: Metric) -> float | None:
        """Median over the repeats."""
        values = self.observed_values(metric)
        return statistics.median(values) if values else None

    def observed_range(self, metric: Metric) -> tuple[float, float] | None:
        values = self.observed_values(metric)
        return (min(values), max(values)) if values else None

    def predicted_value(self, metric: Metric) -> float | None:
        return None if self.predicted is None else metric.value(self.predicted)

    def error(self, metric: Metric) -> float | None:
        obs = self.observed_value(metric)
        pred = self.predicted_value(metric)
        if obs is None or pred is None:
            return None
        return error_pct(pred, obs)


@dataclass(frozen=True, kw_only=True)
class MetricError:
    """How far the model is from the measurements on one metric, over all points."""

    metric: Metric
    points: int
    median_abs_pct: float | None
    max_abs_pct: float | None
    worst_point_id: str | None


def compare(
    plan: Plan, predictions: Mapping[str, AbReport], records: Iterable[Record]
) -> tuple[PointComparison, ...]:
    """One comparison per point of the plan, from its runs (repeats beyond the plan's are used
    too: a folder measured more often keeps every measurement)."""
    by_point: dict[str, list[Record]] = {}
    for r in records:
        by_point.setdefault(r.point.id, []).append(r)
    result = []
    for p in plan.points():
        runs = by_point.get(p.id, [])
        latest: dict[int, Record] = {}
        failed_repeats: set[int] = set()
        for r in runs:
            if r.complete:
                latest[r.repeat] = r
            else:
                failed_repeats.add(r.repeat)
        kept = [latest[k] for k in sorted(latest)]
        problems = tuple(dict.fromkeys(f"r{r.repeat}: {msg}" for r in kept for msg in r.problems))
        result.append(
            PointComparison(
                point=p,
                predicted=predictions.get(p.id),
                observed=tuple(r.observed for r in kept if r.observed is not None),
                problems=problems,
                failed_runs=len(failed_repeats - set(latest)),
            )
        )
    return tuple(result)


def error_summary(
    comparisons: Sequence[PointComparison], metrics: Sequence[Metric] = METRICS
) -> tuple[MetricError, ...]:
    """Median and max |error| per metric over the points that have both numbers."""
    summary = []
    for m in metrics:
        errors = [(abs(e), c.point.id) for c in comparisons if (e := c.error(m)) is not None]
        if errors:
            worst = max(errors)
            summary.append(
                MetricError(
                    metric=m,
                    points=len(errors),
                    median_abs_pct=statistics.median(e for e, _ in errors),
                    max_abs_pct=worst[0],
                    worst_point_id=worst[1],
                )
            )
        else:
            summary.append(
                MetricError(
                    metric=m, points=0, median_abs_pct=None, max_abs_pct=None, worst_point_id=None
                )
            )
    return tuple(summary)


def by_id(comparisons: Iterable[PointComparison]) -> dict[str, PointComparison]:
    return {c.point.id: c for c in comparisons}
