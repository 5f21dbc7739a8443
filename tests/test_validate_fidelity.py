"""The accuracy summary: IO- and CPU-dominated groups apart, percentiles against a widened band."""

import pytest
from validate_helpers import synthetic_report

from asim.validate.compare import PointComparison
from asim.validate.fidelity import accuracy_lines, band_accuracy, group_accuracy, is_io_bound
from asim.validate.study import StudyPoint


def comparison(sleep_s, predicted_ms, observed_ms):
    point = StudyPoint(server="aiohttp", sleep_s=sleep_s, concurrency=2, requests=20)
    return PointComparison(
        point=point,
        predicted=synthetic_report(concurrency=2, request_ms=predicted_ms),
        observed=tuple(synthetic_report(concurrency=2, request_ms=ms) for ms in observed_ms),
    )


def test_group_accuracy_takes_the_median_of_repeats():
    c = comparison(0.1, 102.0, [100.0, 101.0, 99.0])  # median 100 -> +2 %
    g = group_accuracy("io", [c])
    assert g.max_abs_pct == pytest.approx(2.0, rel=1e-3)
    assert g.points == 1


def test_band_is_widened_by_five_percent():
    inside = comparison(0.1, 104.0, [100.0, 101.0])  # 104 <= 101 * 1.05
    outside = comparison(0.1, 107.0, [100.0, 101.0])
    assert band_accuracy([inside]).inside == 3  # p50, p90, p100
    band = band_accuracy([outside])
    assert band.inside == 0 and band.total == 3
    assert "model 107" in band.misses[0]


def test_report_lines_split_io_and_cpu_points():
    lines = "\n".join(
        accuracy_lines([comparison(0.1, 101.0, [100.0]), comparison(0.001, 130.0, [100.0])])
    )
    assert "IO-dominated (sleep > 2 ms) | 1 | 1.00 %" in lines
    assert "CPU-dominated (sleep ≤ 2 ms) | 1 | 30.00 %" in lines


def test_repeat_spread_is_reported_next_to_the_error():
    # 100, 110 and 90 ms per request at C=2: RPS 20, 18.18 and 22.22 -> spread 4.04 of 20.
    c = comparison(0.001, 100.0, [100.0, 110.0, 90.0])
    g = group_accuracy("cpu", [c])
    assert g.spread_max_pct == pytest.approx((2000 / 90 - 2000 / 110) / 20 * 100, rel=1e-2)
    assert "20.2 % / 20.2 %" in "\n".join(accuracy_lines([c]))


def test_a_single_run_has_no_spread():
    assert group_accuracy("io", [comparison(0.1, 100.0, [100.0])]).spread_max_pct is None


def test_a_long_sleep_with_a_busy_cpu_is_not_io_bound():
    # Issue 12: IO-dominated means a sleep of 20 ms or more AND no CPU resource of the model
    # busy half the run; a report rendered without the model's utilisation has no such rows.
    from dataclasses import replace

    idle = replace(comparison(0.1, 101.0, [100.0]), cpu_utilisation=0.2)
    busy = replace(comparison(0.1, 112.0, [100.0]), cpu_utilisation=0.85,
                   point=StudyPoint(server="django-asgi", sleep_s=0.1, concurrency=2, requests=20))
    short = replace(comparison(0.01, 103.0, [100.0]), cpu_utilisation=0.1)
    assert [is_io_bound(c) for c in (idle, busy, short)] == [True, False, False]
    assert is_io_bound(comparison(0.1, 101.0, [100.0])) is None
    lines = "\n".join(accuracy_lines([idle, busy, short]))
    assert "IO-dominated (sleep > 2 ms) | 3 |" in lines
    assert "IO-bound (sleep ≥ 20 ms, the model's CPU < 50 % busy) | 1 | 1.00 %" in lines
    assert "loaded (sleep < 20 ms, or the model's CPU ≥ 50 % busy) | 2 |" in lines
    assert "IO-bound" not in "\n".join(accuracy_lines([comparison(0.1, 101.0, [100.0])]))


def test_the_band_is_counted_for_the_io_bound_points_too():
    from dataclasses import replace

    idle = replace(comparison(0.1, 101.0, [100.0, 101.0]), cpu_utilisation=0.2)  # inside
    busy = replace(comparison(0.1, 130.0, [100.0, 101.0]), cpu_utilisation=0.9)  # outside
    lines = "\n".join(accuracy_lines([idle, busy]))
    assert "3 of 6 (50%); of the IO-bound points' 3, 3 (100%)." in lines
    # Without the model's utilisation no point is known to be IO-bound: no clause.
    plain = "\n".join(accuracy_lines([comparison(0.1, 101.0, [100.0, 101.0])]))
    assert "3 of 3 (100%)." in plain and "IO-bound points'" not in plain
