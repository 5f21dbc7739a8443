"""Predicted against observed: the metrics compared, per-point errors and their summary.

The error of a metric is ``(predicted - observed) / observed * 100`` in percent, with the observed
value the median over the repeats of a point (the min and max are kept for the charts' bars).
Runs without a report (ab failed) are not numbers: a point with none has no error, and is listed
as flagged instead.

Near a race (the listen backlog's first burst) the model predicts more than one outcome: the main
report and `Branch` alternatives, each with the condition under which real runs take it. A point
is compared with the branch nearest its measured RPS (`PointComparison.matched`), and every error
of that point, in tables and statistics alike, is its error against that branch. Where the
branches' RPS lie no farther apart than the runs' own (a thread pool, not the accept queue, sets
the rate), the RPS cannot tell which outcome the runs took, and ab's Connect max does: a run that
lost a SYN waited its 1 s retransmission to connect (`lost_syns`).

The observed runs are those of the first pass; `asim validate --passes 2` measures the
CPU-dominated points again later (`later_passes`), and `asim.validate.noise` reads the two apart.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from asim.sim.abclient import SYN_RETRY_S
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


MAIN_BRANCH = "main"


@dataclass(frozen=True, kw_only=True)
class Branch:
    """One outcome the model predicts for a point: ``condition`` says when real runs take it
    (empty for the main prediction)."""

    condition: str
    report: AbReport

    @property
    def name(self) -> str:
        return self.condition or MAIN_BRANCH


@dataclass(frozen=True, kw_only=True)
class PointComparison:
    """One point: the model's report (and its alternatives), every observed run of the first
    pass (and of the later ones), and the problems of those runs."""

    point: StudyPoint
    predicted: AbReport | None
    observed: tuple[AbReport, ...]
    problems: tuple[str, ...] = ()
    failed_runs: int = 0
    alternatives: tuple[Branch, ...] = ()
    later_passes: tuple[tuple[AbReport, ...], ...] = ()
    # The model's busiest CPU resource's busy share (`asim.grid.Prediction.cpu_utilisation`);
    # None when unknown (a report rendered without the simulation).
    cpu_utilisation: float | None = None

    @property
    def flagged(self) -> bool:
        return bool(self.problems) or self.failed_runs > 0 or not self.observed

    @property
    def passes(self) -> int:
        """How many passes measured this point (1 without a later one)."""
        return 1 + len(self.later_passes)

    def pass_runs(self, number: int) -> tuple[AbReport, ...]:
        """The runs of pass ``number`` (1 is `observed`)."""
        return self.observed if number == 1 else self.later_passes[number - 2]

    def branches(self) -> tuple[Branch, ...]:
        """The main prediction first, then its alternatives (none without a prediction)."""
        if self.predicted is None:
            return ()
        return (Branch(condition="", report=self.predicted), *self.alternatives)

    def matched(self, number: int = 1) -> Branch | None:
        """The branch whose RPS lies nearest the median RPS of pass ``number``: the outcome
        that pass took (the main one for a point the model predicts one way). Where the
        branches' RPS lie no farther apart than the pass's runs', the candidates are the
        branches that lost SYNs (`lost_syns`) as most of its runs did."""
        branches = self.branches()
        runs = self.pass_runs(number)
        if len(branches) < 2 or not runs:
            return branches[0] if branches else None
        rps = METRICS_BY_KEY["rps"]
        measured = [rps.value(r) for r in runs]
        rates = [rps.value(b.report) for b in branches]
        if max(rates) - min(rates) <= max(measured) - min(measured):
            branches = _alike_in_syns(branches, runs)
        median = statistics.median(measured)
        return min(branches, key=lambda b: abs(rps.value(b.report) - median))

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
        """The model's value on the branch the measurements matched (`matched`)."""
        branch = self.matched()
        return None if branch is None else metric.value(branch.report)

    def error(self, metric: Metric) -> float | None:
        obs = self.observed_value(metric)
        pred = self.predicted_value(metric)
        if obs is None or pred is None:
            return None
        return error_pct(pred, obs)

    def pass_error(self, metric: Metric, number: int) -> float | None:
        """The model's error against the median of pass ``number``, on that pass's branch."""
        runs = self.pass_runs(number)
        branch = self.matched(number)
        if not runs or branch is None:
            return None
        return error_pct(metric.value(branch.report), statistics.median(
            metric.value(r) for r in runs))


def lost_syns(report: AbReport) -> bool:
    """True when a connection of the run waited a SYN retransmission: ab's Connect max reached
    the first retry's 1 s (on loopback nothing else makes a handshake take that long)."""
    return report.connect.max_ms >= SYN_RETRY_S[0] * 1000


def _alike_in_syns(branches: Sequence[Branch], runs: Sequence[AbReport]) -> Sequence[Branch]:
    """The branches that lost SYNs as most of ``runs`` did; all of them on a tie, or when the
    branches do not differ in it."""
    lost = sum(lost_syns(r) for r in runs)
    if 2 * lost == len(runs):
        return branches
    alike = [b for b in branches if lost_syns(b.report) == (2 * lost > len(runs))]
    return alike or branches


@dataclass(frozen=True, kw_only=True)
class MetricError:
    """How far the model is from the measurements on one metric, over all points."""

    metric: Metric
    points: int
    median_abs_pct: float | None
    max_abs_pct: float | None
    worst_point_id: str | None


def compare(
    plan: Plan,
    predictions: Mapping[str, AbReport],
    records: Iterable[Record],
    alternatives: Mapping[str, Sequence[Branch]] | None = None,
    cpu_busy: Mapping[str, float | None] | None = None,
) -> tuple[PointComparison, ...]:
    """One comparison per point of the plan, from its runs (repeats beyond the plan's are used
    too: a folder measured more often keeps every measurement), with the model's
    ``alternatives`` by point id for the points it predicts more than one way, and its
    ``cpu_busy`` (the busiest CPU resource's share) by point id."""
    by_point: dict[tuple[str, int], list[Record]] = {}
    for r in records:
        by_point.setdefault((r.point.id, r.pass_number), []).append(r)
    last_pass = max((n for _, n in by_point), default=1)
    result = []
    for p in plan.points():
        observed, problems, failed = _pass(by_point.get((p.id, 1), []), "")
        later: list[tuple[AbReport, ...]] = []
        for n in range(2, last_pass + 1):
            runs, more_problems, more_failed = _pass(by_point.get((p.id, n), []), f"p{n} ")
            later.append(runs)
            problems += more_problems
            failed += more_failed
        while later and not later[-1]:
            later.pop()
        result.append(
            PointComparison(
                point=p,
                predicted=predictions.get(p.id),
                observed=observed,
                problems=problems,
                failed_runs=failed,
                alternatives=tuple((alternatives or {}).get(p.id, ())),
                later_passes=tuple(later),
                cpu_utilisation=(cpu_busy or {}).get(p.id),
            )
        )
    return tuple(result)


def _pass(
    runs: Sequence[Record], prefix: str
) -> tuple[tuple[AbReport, ...], tuple[str, ...], int]:
    """The reports of one pass's runs (the latest of each repeat), their problems, and how many
    repeats have no report at all."""
    latest: dict[int, Record] = {}
    failed_repeats: set[int] = set()
    for r in runs:
        if r.complete:
            latest[r.repeat] = r
        else:
            failed_repeats.add(r.repeat)
    kept = [latest[k] for k in sorted(latest)]
    problems = tuple(
        dict.fromkeys(f"{prefix}r{r.repeat}: {msg}" for r in kept for msg in r.problems)
    )
    observed = tuple(r.observed for r in kept if r.observed is not None)
    return observed, problems, len(failed_repeats - set(latest))


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
