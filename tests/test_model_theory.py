"""The simulation against queueing theory, with named tolerances (see shared notes/queueing.md).

Long runs approach steady state; the finite ab run (-n 100) must show its transients.
"""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asim.sim.costs import Costs
from asim.sim.model import Jitter, simulate
from asim.sim.spec import Scenario

ZERO = Costs(**{f: 0.0 for f in Costs.__dataclass_fields__ if f != "source"})
LONG_RUN_REL = 0.02  # a long run is within 2 % of its steady state


def steady(run_, skip_fraction=0.2):
    """Throughput and mean response time of the middle of a run (start and drain cut off)."""
    recs = sorted(run_.records, key=lambda r: r.done)
    k = int(len(recs) * skip_fraction)
    mid = recs[k : len(recs) - k]
    x = (len(mid) - 1) / (mid[-1].done - mid[0].done)
    r = sum(rec.done - rec.start for rec in mid) / len(mid)
    return x, r


@pytest.mark.parametrize("c", [1, 5, 40])
@pytest.mark.parametrize("sleep_s", [0.05, 0.2])
def test_pure_delay_server_gives_r_equals_s_and_x_equals_c_over_s(c, sleep_s):
    run_ = simulate(
        Scenario(server="aiohttp", sleep_s=sleep_s, concurrency=c, requests=40 * c), costs=ZERO
    )
    x, r = steady(run_)
    assert r == pytest.approx(sleep_s, rel=1e-9)
    assert x == pytest.approx(c / sleep_s, rel=LONG_RUN_REL)


@pytest.mark.parametrize(("c", "w"), [(5, 1), (10, 3), (7, 2), (40, 4)])
def test_worker_pool_with_deterministic_service_is_lockstep(c, w):
    t = 0.1
    run_ = simulate(
        Scenario(server="django", sleep_s=t, concurrency=c, workers=w, requests=50 * c),
        costs=ZERO,
    )
    recs = sorted(run_.records, key=lambda r: r.done)[c * 2 : -c * 2]
    allowed = {round(math.floor(c / w) * t, 6), round(math.ceil(c / w) * t, 6)}
    assert {round(rec.done - rec.start, 6) for rec in recs} <= allowed
    x, r = steady(run_)
    assert r == pytest.approx(c * t / w, rel=LONG_RUN_REL)
    assert x == pytest.approx(w / t, rel=LONG_RUN_REL)


@settings(max_examples=25, deadline=None)
@given(
    server=st.sampled_from(["aiohttp", "aiohttp-blocking", "django"]),
    c=st.integers(1, 30),
    w=st.integers(1, 4),
    sleep_ms=st.integers(1, 100),
    cv=st.sampled_from([0.0, 0.3]),
    seed=st.integers(0, 10_000),
)
def test_littles_law_and_response_time_law_hold_on_long_runs(server, c, w, sleep_ms, cv, seed):
    w = w if server == "django" else 1  # only the worker pool takes workers
    sc = Scenario(server=server, sleep_s=sleep_ms / 1000, concurrency=c, workers=w, requests=30 * c)
    run_ = simulate(sc, jitter=Jitter(kind="lognormal", cv=cv) if cv else None, seed=seed)
    recs = run_.records
    t_end = max(r.done for r in recs)
    # Little's law over the whole run: time-average number in system = X * mean R.
    busy_area = sum(r.done - r.start for r in recs)
    x = len(recs) / t_end
    mean_r = busy_area / len(recs)
    assert busy_area / t_end == pytest.approx(x * mean_r, rel=1e-9)
    # The response-time law R = C / X - Z (Z = 0) in steady state, within the long-run tolerance
    # widened for ab's reconnect gap between a request's end and the next start.
    xs, rs = steady(run_)
    assert rs <= c / xs * (1 + 0.05)
    assert rs >= c / xs * (1 - 0.10)


def test_finite_run_shows_first_request_alone_and_partial_last_wave():
    # ab -n 100 -c 40 against asyncio.sleep(0.1): steady state says 400 RPS; ab's finite run
    # is one lone request, two full waves and a partial one: about 4 sleeps for 100 requests.
    run_ = simulate(Scenario(server="aiohttp", sleep_s=0.1, concurrency=40, requests=100))
    rps = run_.report.requests_per_second
    steady_rps = 40 / 0.1
    assert 0.45 * steady_rps < rps < 0.75 * steady_rps
    starts = sorted(r.start for r in run_.records)
    assert starts[1] - starts[0] >= 0.1  # nothing else starts until the first response
    waves = round(run_.report.time_taken_s / 0.1)
    assert waves == 4
