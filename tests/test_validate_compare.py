"""Predicted against observed: the error arithmetic, medians over repeats, flags, the summary."""

import pytest
from validate_helpers import synthetic_report

from asim.validate.compare import (
    METRICS,
    METRICS_BY_KEY,
    PointComparison,
    compare,
    error_pct,
    error_summary,
)
from asim.validate.scenario_file import parse_plan
from asim.validate.store import Record

RPS = METRICS_BY_KEY["rps"]
TPR = METRICS_BY_KEY["tpr"]
PLAN = parse_plan(
    'servers = ["aiohttp"]\nsleeps_s = [0.1]\nconcurrencies = [2, 4]\nrequests = 20\n',
    default_name="tiny",
)


def test_error_is_signed_and_relative_to_the_measurement():
    assert error_pct(110.0, 100.0) == pytest.approx(10.0)
    assert error_pct(90.0, 100.0) == pytest.approx(-10.0)
    assert error_pct(5.0, 0.0) is None


def test_metrics_read_the_fields_ab_prints():
    r = synthetic_report(concurrency=4, requests=20, request_ms=100, taken_ms=600)
    values = {m.key: m.value(r) for m in METRICS}
    assert values["rps"] == pytest.approx(20 / 0.6)
    assert values["tpr"] == pytest.approx(4 * 600 / 20)
    assert values["tpr_all"] == pytest.approx(600 / 20)
    assert values["p50"] == r.percentiles_ms[50]
    assert values["p100"] == r.percentiles_ms[100]


def test_observed_is_the_median_of_the_repeats_with_its_range():
    point = PLAN.points()[0]
    runs = tuple(synthetic_report(concurrency=2, taken_ms=t) for t in (1000, 1250, 2000))
    predicted = synthetic_report(concurrency=2, taken_ms=1000)
    c = PointComparison(point=point, predicted=predicted, observed=runs)
    assert c.observed_value(RPS) == pytest.approx(20 / 1.25)
    assert c.observed_range(RPS) == (pytest.approx(10.0), pytest.approx(20.0))
    assert c.error(RPS) == pytest.approx((20 - 16) / 16 * 100)
    assert c.error(TPR) == pytest.approx((100 - 125) / 125 * 100)
    assert not c.flagged


def _record(point, repeat, report, problems=()):
    return Record(
        point=point, repeat=repeat, observed=report, command="ab", returncode=0, problems=problems
    )


def test_compare_uses_the_latest_complete_run_per_repeat_and_flags_problems():
    p2, p4 = PLAN.points()
    preds = {p.id: synthetic_report(concurrency=p.concurrency) for p in (p2, p4)}
    records = [
        _record(p2, 1, None, ("ab exited with 1",)),
        _record(p2, 1, synthetic_report(concurrency=2, taken_ms=2000)),
        _record(p2, 2, synthetic_report(concurrency=2, taken_ms=1000), ("1 failed request",)),
        _record(p4, 1, None, ("ab exited with 1",)),
    ]
    c2, c4 = compare(PLAN, preds, records)
    assert len(c2.observed) == 2
    assert c2.failed_runs == 0  # repeat 1 was measured again successfully
    assert c2.flagged and c2.problems == ("r2: 1 failed request",)
    assert c4.observed == () and c4.failed_runs == 1 and c4.flagged
    assert c4.error(RPS) is None


def test_summary_takes_median_and_max_of_absolute_errors():
    p2, p4 = PLAN.points()
    obs = synthetic_report(concurrency=2, taken_ms=1000)
    comparisons = [
        PointComparison(
            point=p2,
            observed=(obs,),
            predicted=synthetic_report(concurrency=2, taken_ms=1000 / 1.1),
        ),
        PointComparison(
            point=p4,
            observed=(synthetic_report(concurrency=4, taken_ms=1000),),
            predicted=synthetic_report(concurrency=4, taken_ms=1000 / 0.7),
        ),
    ]
    by_key = {e.metric.key: e for e in error_summary(comparisons)}
    rps = by_key["rps"]
    assert rps.points == 2
    assert rps.max_abs_pct == pytest.approx(30.0, abs=0.01)
    assert rps.median_abs_pct == pytest.approx(20.0, abs=0.01)
    assert rps.worst_point_id == p4.id
    empty = error_summary([PointComparison(point=p2, predicted=None, observed=(obs,))])
    assert all(e.points == 0 and e.max_abs_pct is None for e in empty)
