"""Exact event traces of tiny runs against timelines derived by hand from ab.c and the servers.

With every CPU cost, overshoot and latency set to zero the timeline is pure arithmetic of the
sleep S; a second set of cases turns on ab's CPU alone to check that ab is one serial thread.
"""

import pytest

from asim.sim.costs import Costs
from asim.sim.model import simulate
from asim.sim.spec import Scenario

S = 0.1
ZERO = Costs(**{f: 0.0 for f in Costs.__dataclass_fields__ if f != "source"})


def run(server, n, c, costs=ZERO, workers=1, cores=2):
    sc = Scenario(server=server, sleep_s=S, requests=n, concurrency=c, workers=workers, cores=cores)
    return simulate(sc, costs=costs)


def by_slot(run_):
    return [(r.slot, round(r.start, 9), round(r.done, 9)) for r in run_.records]


def expect(*rows):
    return [(slot, round(a, 9), round(b, 9)) for slot, a, b in rows]


@pytest.mark.parametrize("server", ["aiohttp", "aiohttp-blocking", "django"])
def test_one_request_takes_the_sleep(server):
    r = run(server, 1, 1)
    assert by_slot(r) == expect((0, 0.0, S))
    assert r.report.time_taken_s == pytest.approx(S)
    assert r.report.total.max_ms == 100


@pytest.mark.parametrize("server", ["aiohttp", "aiohttp-blocking", "django"])
def test_one_slot_runs_requests_back_to_back(server):
    r = run(server, 3, 1)
    assert by_slot(r) == expect((0, 0.0, S), (0, S, 2 * S), (0, 2 * S, 3 * S))
    assert r.report.requests_per_second == pytest.approx(1 / S)


def test_async_server_first_request_alone_then_burst():
    # ab opens connection 0 alone; slot 1 opens when the first response's headers arrive (t=S),
    # slot 0 reconnects at its EOF (also t=S); both sleep concurrently and end at 2S.
    r = run("aiohttp", 3, 2)
    assert by_slot(r) == expect((0, 0.0, S), (1, S, 2 * S), (0, S, 2 * S))
    assert r.report.time_taken_s == pytest.approx(2 * S)


def test_one_worker_serves_burst_in_fifo_order():
    # The worker holds conn 0 until ab closes it; slot 1 (opened inline in the read) is queued
    # before slot 0's new connection, so it is served first.
    r = run("django", 3, 2)
    assert by_slot(r) == expect((0, 0.0, S), (1, S, 2 * S), (0, S, 3 * S))
    assert r.report.time_taken_s == pytest.approx(3 * S)


def test_blocking_loop_runs_one_handler_per_iteration_when_arrivals_are_staggered():
    # Slot 1 is opened (inline, in ab's read) two loop iterations before slot 0 reconnects
    # (at conn 0's FIN), so their handler steps land in different iterations: slot 1 blocks
    # S..2S, its FIN goes out two iterations later, just before slot 0's handler blocks 2S..3S.
    r = run("aiohttp-blocking", 3, 2)
    assert by_slot(r) == expect((0, 0.0, S), (1, S, 2 * S), (0, S, 3 * S))
    assert r.loop_batches == (1, 1, 1)


def test_blocking_loop_batches_handlers_and_holds_their_fins():
    # Three requests whose handler steps land in one iteration run back to back; all three FINs
    # wait for the batch (and the next iteration's handlers), so each Total covers the batch.
    r = run("aiohttp-blocking", 8, 4)
    batches = r.loop_batches
    assert max(batches) >= 2
    firsts = [rec for rec in r.records if rec.start > 0][:3]
    fins = {round(rec.fin_sent, 9) for rec in r.records}
    assert len(fins) < len(r.records)  # some FINs share one instant: the end of a batch
    assert all(rec.done >= rec.handler_end for rec in firsts)


def test_ab_cpu_is_one_serial_thread():
    # 100 us of ab CPU per step: the C-1 burst is opened one connection after another.
    costs = Costs(**{**ZERO.to_dict(), "ab_connect_cpu_s": 100e-6})
    r = run("aiohttp", 4, 4, costs=costs)
    starts = sorted(round(rec.start, 9) for rec in r.records)
    # conn 0 at 0; slots 1..3 start after 0's response (100 us + S) at 100 us intervals.
    first = 100e-6 + S
    assert starts == pytest.approx([0.0, first, first + 100e-6, first + 200e-6])


def test_full_accept_queue_drops_syn_for_one_second():
    # One busy gunicorn worker and ab's burst of 2099 connects: the accept queue holds
    # backlog + 1 = 2049, the rest wait for the SYN retransmission at 1 s (ab's Connect column).
    # Slots whose SYN was dropped keep retrying while the others reconnect into the freed
    # places (ab's started counts writes, not connects), so few late ones finish in the first N.
    r = run("django", 2100, 2100, costs=Costs())
    late = [rec.connect - rec.start for rec in r.records if rec.connect - rec.start >= 0.5]
    assert late
    for ctime in late:
        assert min(abs(ctime - step) for step in (1.0, 3.0, 7.0, 15.0)) < 0.2
    assert r.report.connect.max_ms >= 1000
    assert r.report.connect.min_ms == 0
    # The run counts what it saw of the queue: full, and at least one dropped SYN per late slot.
    assert r.accept_queue_capacity == 2049
    assert r.accept_queue_peak == 2049
    assert r.syns_dropped >= len(late)


def test_never_more_than_n_requests():
    r = run("aiohttp", 7, 5)
    assert len(r.records) == 7
    assert r.report.complete_requests == 7


def test_ab_poll_timeout_is_predicted_as_an_abort():
    # One worker sleeping 40 s: ab sees nothing for more than its 30 s poll timeout.
    from asim.errors import PredictedAbortError

    with pytest.raises(PredictedAbortError, match="no socket event"):
        simulate(Scenario(server="django", sleep_s=40, requests=2, concurrency=1))
