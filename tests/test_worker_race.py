"""The race between workers for ab's first burst (`asim.sim.race`, measurements 39): where
several workers that keep what they accept shared the burst, the prediction carries the other
extreme, one worker taking all of it; one worker, or sync workers, have no such race."""

from __future__ import annotations

from pathlib import Path

import pytest

from asim.calibration.file import load
from asim.grid import predict
from asim.sim.conn import AcceptQueue, Backlog, Conn
from asim.sim.costs import DEFAULT_COSTS
from asim.sim.model import simulate
from asim.sim.race import SPLIT_EDGE, condition, other_branches, worker_race
from asim.sim.spec import Scenario
from asim.validate.compare import METRICS_BY_KEY, Branch, compare
from asim.validate.fidelity import BAND_WIDEN
from asim.validate.store import ResultsDir

ROOT = Path(__file__).resolve().parents[1]
GTHREAD_C10 = "django-gthread-w2-t8-s0.05-c10-n600"
P100 = METRICS_BY_KEY["p100"]


def gthread(concurrency: int) -> Scenario:
    return Scenario(server="django-gthread", workers=2, threads=8, sleep_s=0.05,
                    concurrency=concurrency, requests=600, cores=2)


def test_two_gthread_workers_share_the_first_burst_and_predict_the_other_extreme():
    p = predict(gthread(300), costs=DEFAULT_COSTS)[0]
    assert p.branch.startswith("the workers accept ab's first 301 connections as ")
    (lopsided,) = p.alternatives
    assert lopsided.condition.startswith("one worker accepts all of ab's first 301 connections")
    # One worker's 8 threads at 50 ms serve at most 160 requests/s, while it holds 301
    # connections the other worker idles: the run is slower.
    assert lopsided.prediction.report.requests_per_second < (
        0.9 * p.report.requests_per_second)


@pytest.mark.parametrize("server", ["django-gthread", "django-asgi"])
def test_the_other_branch_gives_the_whole_burst_to_one_worker(server):
    scenario = Scenario(server=server, workers=2, threads=8 if server == "django-gthread" else None,
                        sleep_s=0.05, concurrency=50, requests=200, cores=2)
    run = simulate(scenario, costs=DEFAULT_COSTS, keep_records=False)
    assert sum(run.first_burst_split) == 51  # connection 0, the burst of 49, 0's successor
    assert worker_race(run)
    for worker in (0, 1):
        other = simulate(scenario, costs=DEFAULT_COSTS, keep_records=False,
                         backlog=Backlog(first_burst_worker=worker))
        expected = (51, 0) if worker == 0 else (0, 51)
        assert other.first_burst_split == expected
        assert "one worker accepts all" in condition(other)
        assert other.report.complete_requests == 200


@pytest.mark.parametrize("scenario", [
    Scenario(server="django-gthread", workers=1, threads=8, sleep_s=0.05, concurrency=300,
             requests=600, cores=2),
    Scenario(server="django-asgi", workers=1, sleep_s=0.05, concurrency=50, requests=200,
             cores=2),
    Scenario(server="django", workers=3, sleep_s=0.05, concurrency=50, requests=200, cores=2),
    Scenario(server="aiohttp", sleep_s=0.05, concurrency=50, requests=200, cores=2),
])
def test_one_worker_or_sync_workers_have_no_race_between_workers(scenario):
    run = simulate(scenario, costs=DEFAULT_COSTS, keep_records=False)
    assert run.first_burst_split == ()
    assert not worker_race(run)
    assert other_branches(scenario, run, costs=DEFAULT_COSTS) == ()


def test_a_split_that_moves_neither_the_rate_nor_the_slowest_request_gives_no_branch():
    # Six clients: ab's first burst and its neighbours, 7 connections, fit in one worker's 8
    # threads either way.
    p = predict(gthread(6), costs=DEFAULT_COSTS)[0]
    assert p.alternatives == ()
    assert p.branch is None


def test_a_worker_given_more_connections_than_threads_is_a_branch_of_the_slowest_request():
    # Ten clients: all 11 of the first burst's connections to one worker of 8 threads leave
    # three waiting for a thread, one of them a whole sleep: the rate hardly moves, the slowest
    # request takes about two sleeps.
    p = predict(gthread(10), costs=DEFAULT_COSTS)[0]
    (lopsided,) = p.alternatives
    assert lopsided.condition.startswith("one worker accepts all of ab's first 11 connections")
    other = lopsided.prediction.report
    rate = p.report.requests_per_second
    assert abs(other.requests_per_second - rate) < SPLIT_EDGE * rate
    assert p.report.percentiles_ms[100] < 60
    assert other.percentiles_ms[100] >= 100


def test_the_tail_branch_is_the_one_the_measured_slowest_requests_match():
    # figures/shapes-12: the real runs of 2 gthread workers of 8 threads at 50 ms, C = 10 had a
    # slowest request of 60-102 ms at 187 requests/s; both branches' rates lie within their
    # spread's reach, so the slowest request tells the outcome.
    folder = ResultsDir.open(ROOT / "figures" / "shapes-12")
    costs = load(ROOT / "figures" / "shapes-12" / "calibration.json").costs
    scenario = gthread(10)
    run = simulate(scenario, costs=costs, keep_records=False)
    (tail,) = other_branches(scenario, run, costs=costs)
    point = next(c for c in compare(
        folder.read_plan(), folder.read_predictions(), folder.records(),
        {GTHREAD_C10: (Branch(condition=tail.condition, report=tail.run.report),)},
    ) if c.point.id == GTHREAD_C10)
    assert point.matched().condition == tail.condition
    low, high = point.observed_range(P100)
    assert low <= point.predicted_value(P100) <= high * (1 + BAND_WIDEN)


def test_accept_leaves_the_burst_to_its_worker_and_counts_each_workers_share():
    queue = AcceptQueue(10)
    Backlog(first_burst_worker=1).apply(queue)
    burst, later = Conn(0, 0.0), Conn(1, 0.0)
    burst.first_burst = True
    assert queue.offer(burst) and queue.offer(later)
    assert not queue.ready_for(0) and queue.take(0) is None
    assert queue.ready_for(1) and queue.take(1) is burst
    assert queue.take(0) is later  # not of the burst: any worker takes it
    assert queue.burst_taken == [0, 1]


def test_a_run_that_gave_one_worker_the_whole_burst_predicts_an_even_share():
    scenario = gthread(300)
    lopsided = simulate(scenario, costs=DEFAULT_COSTS, keep_records=False,
                        backlog=Backlog(first_burst_worker=1))
    assert lopsided.first_burst_split == (0, 301)
    (even,) = other_branches(scenario, lopsided, costs=DEFAULT_COSTS)
    # ab's slots dealt out in turn: slot 0 twice (connection 0 and its successor)
    assert even.run.first_burst_split == (151, 150)
    assert even.condition.startswith("the workers accept ab's first 301 connections as 151 / 150")
    assert even.run.report.requests_per_second > 1.1 * lopsided.report.requests_per_second


def test_an_even_share_deals_ab_s_slots_out_in_turn():
    queue = AcceptQueue(10)
    Backlog(first_burst_shared=2).apply(queue)
    conns = [Conn(slot, 0.0) for slot in (0, 1, 2)]
    for conn in conns:
        conn.first_burst = True
        queue.offer(conn)
    assert queue.take(1) is None  # slot 0 is worker 0's
    assert queue.take(0) is conns[0]
    assert queue.take(0) is None and queue.take(1) is conns[1]
    assert queue.burst_taken == [1, 1]


def test_the_table_names_the_workers_branch():
    from asim.render import rows

    p = predict(gthread(300), costs=DEFAULT_COSTS)[0]
    assert [label for _, label in rows([p])] == [None, "one worker takes the burst"]
