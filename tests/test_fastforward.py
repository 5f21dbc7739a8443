"""Skipping repeated cycles changes nothing ab would print, only how long the model takes."""

from array import array
from types import SimpleNamespace

import numpy as np
import pytest

from asim.sim.fastforward import FastForward
from asim.sim.model import Jitter, simulate
from asim.sim.spec import Scenario
from asim.sim.usage import GIL, Meter

CASES = [
    ("django", 10, 1, 0.1, 1000),
    ("aiohttp", 10, 1, 0.1, 5000),
    ("django", 40, 4, 0.02, 20000),
    ("aiohttp-blocking", 40, 1, 0.1, 2000),
    ("aiohttp", 200, 1, 0.05, 20000),
    ("aiohttp", 50, 1, 0.05, 20000),
    ("django", 7, 3, 0.01, 3000),
    ("aiohttp", 5, 1, 0.02, 2000, True),
    ("aiohttp", 20, 1, 0.02, 4000, True),
]


def printed(report):
    rows = {
        name: (row.min_ms, row.mean_ms, round(row.sd_ms, 1), row.median_ms, row.max_ms)
        for name in ("connect", "processing", "waiting", "total")
        for row in [report.row(name)]
    }
    return (
        round(report.time_taken_s, 3),
        round(report.requests_per_second, 2),
        round(report.time_per_request_ms, 3),
        report.complete_requests,
        rows,
        dict(report.percentiles_ms),
    )


@pytest.mark.parametrize("case", CASES)
def test_fast_forward_prints_what_the_full_simulation_prints(case):
    server, c, w, sleep_s, n, *keepalive = case
    sc = Scenario(
        server=server, concurrency=c, workers=w, sleep_s=sleep_s, requests=n,
        keepalive=bool(keepalive),
    )
    fast = simulate(sc, keep_records=False)
    full = simulate(sc, keep_records=False, fast_forward=False)
    assert full.skipped_requests == 0
    assert printed(fast.report) == printed(full.report)
    assert fast.report.time_taken_s == pytest.approx(full.report.time_taken_s, abs=2e-6)


def test_fast_forward_does_skip_the_steady_lab_shapes():
    skipped = [
        simulate(
            Scenario(server=s, concurrency=c, workers=w, sleep_s=t, requests=n,
                     keepalive=bool(k)),
            keep_records=False,
        ).skipped_requests
        for s, c, w, t, n, *k in CASES
    ]
    assert sum(1 for k in skipped if k > 0) >= 4
    assert max(skipped) > 10_000


def test_fast_forward_stays_off_with_jitter_and_with_records():
    sc = Scenario(server="django", concurrency=10, sleep_s=0.1, requests=1000)
    assert simulate(sc).skipped_requests == 0  # records kept for timelines
    jittered = simulate(sc, keep_records=False, jitter=Jitter(kind="uniform", cv=0.1), seed=1)
    assert jittered.skipped_requests == 0


@pytest.mark.parametrize(("c", "n"), [(5, 2000), (20, 4000)])
def test_fast_forward_counts_the_skipped_keepalive_requests(c, n):
    sc = Scenario(server="aiohttp", concurrency=c, sleep_s=0.02, requests=n, keepalive=True)
    fast = simulate(sc, keep_records=False)
    assert fast.skipped_requests > 0
    assert fast.report.keepalive_requests == n
    assert fast.report.keepalive_requests == simulate(
        sc, keep_records=False, fast_forward=False).report.keepalive_requests


# -- periods longer than two slot cycles, in processes with threads ---------------------------

THREADED = [
    pytest.param("aiohttp-executor", 20, {}, 0.02, 20_000, id="executor-c20"),
    pytest.param("django-gthread", 50, {"workers": 1, "threads": 8}, 0.1, 20_000,
                 id="gthread-1x8-c50"),
]


@pytest.mark.parametrize(("server", "c", "options", "sleep_s", "n"), THREADED)
def test_a_threaded_run_skipped_over_a_long_period_prints_what_the_full_simulation_prints(
    server, c, options, sleep_s, n
):
    sc = Scenario(server=server, concurrency=c, sleep_s=sleep_s, requests=n, **options)
    fast = simulate(sc, keep_records=False, exact=True)
    full = simulate(sc, keep_records=False, fast_forward=False)
    assert printed(fast.report) == printed(full.report)
    assert fast.report.time_taken_s == pytest.approx(full.report.time_taken_s, abs=2e-6)


def test_threaded_runs_are_skipped_over_periods_longer_than_two_slot_cycles():
    # Under the built-in costs these runs repeat only after 3 or more slot cycles (C requests).
    skipped = [
        simulate(Scenario(server=s, concurrency=c, sleep_s=t, requests=n, **o),
                 keep_records=False, exact=True).skipped_requests
        for s, c, o, t, n in (p.values for p in THREADED)
    ]
    assert max(skipped) > 15_000


def _repeating_ab(c: int, period: int, n: int):
    """A made-up ab whose finishes repeat every ``period`` requests: slots, gaps and stamps."""
    idx = np.arange(n)
    gaps = 1e-3 + 1e-4 * ((idx % period) % 7)  # not periodic over a slot cycle alone
    stamps = array("q", (100 + (idx % period) % 11).tolist())
    return SimpleNamespace(
        concurrency=c, requests=10 * n, started=n + c, done=n,
        done_log=array("d", np.concatenate([[0.0], np.cumsum(gaps)])[1:].tolist()),
        slot_log=array("i", (idx % c).tolist()),
        ctime_us=stamps, time_us=stamps, waittime_us=stamps,
    )


@pytest.mark.parametrize(("meters", "found"), [((), None), ((Meter(GIL, 1, float),), 300)])
def test_a_period_of_three_slot_cycles_is_found_where_the_process_has_a_gil(meters, found):
    ab = _repeating_ab(100, 300, 3000)
    ff = FastForward(None, None, ab, SimpleNamespace(shift_safe=True), extrapolate=False,
                     meters=meters)
    period = ff._period()
    assert (period and period[0]) == found
