"""Skipping repeated cycles changes nothing ab would print, only how long the model takes."""

import pytest

from asim.sim.model import Jitter, simulate
from asim.sim.spec import Scenario

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
