"""The timeline builder on tiny runs whose every interval is known, and its picture."""

from types import SimpleNamespace

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from asim.errors import InputError
from asim.lecture.captions import texts
from asim.lecture.timeline import (
    BLOCKED,
    HANDLER,
    LOOP,
    QUEUED,
    SLOT,
    WORKER,
    build_timeline,
    plot_timeline,
)
from asim.sim.costs import Costs
from asim.sim.model import simulate
from asim.sim.spec import Scenario

S = 0.1
ZERO = Costs(**{f: 0.0 for f in Costs.__dataclass_fields__ if f != "source"})


def run(server, n, c, *, workers=1, costs=ZERO):
    sc = Scenario(server=server, sleep_s=S, requests=n, concurrency=c, workers=workers)
    return simulate(sc, costs=costs)


def timeline_of(r):
    return build_timeline(r.records, server=r.scenario.server, loop_batches=r.loop_batches)


def spans(lane):
    return [(round(s.start_s / S, 6), round(s.end_s / S, 6), s.kind) for s in lane.segments]


def test_one_worker_lanes_follow_the_fifo_trace():
    # tests/test_model_traces.py: slot 0 runs 0..S, slot 1 S..2S, slot 0's second request is
    # queued behind slot 1 and runs 2S..3S. The worker is busy with one request after another.
    tl = timeline_of(run("django", 3, 2))
    slot0, slot1 = tl.lanes_of(SLOT)
    assert spans(slot0) == [(0, 1, HANDLER), (1, 2, QUEUED), (2, 3, HANDLER)]
    assert spans(slot1) == [(1, 2, HANDLER)]
    (worker,) = tl.lanes_of(WORKER)
    assert spans(worker) == [(0, 1, HANDLER), (1, 2, HANDLER), (2, 3, HANDLER)]
    assert tl.lanes_of(LOOP) == ()
    assert tl.end_s == pytest.approx(3 * S)


def test_event_loop_sleeps_concurrently_and_has_no_queue():
    tl = timeline_of(run("aiohttp", 3, 2))
    slot0, slot1 = tl.lanes_of(SLOT)
    assert spans(slot0) == [(0, 1, HANDLER), (1, 2, HANDLER)]
    assert spans(slot1) == [(1, 2, HANDLER)]
    assert tl.lanes_of(WORKER) == () and tl.lanes_of(LOOP) == ()


def test_blocking_loop_lane_shows_one_handler_per_batch_when_staggered():
    r = run("aiohttp-blocking", 3, 2)
    assert r.loop_batches == (1, 1, 1)
    tl = timeline_of(r)
    (loop,) = tl.lanes_of(LOOP)
    assert spans(loop) == [(0, 1, BLOCKED), (1, 2, BLOCKED), (2, 3, BLOCKED)]
    assert [s.label for s in loop.segments] == ["1", "1", "1"]
    assert tl.batches == (1, 1, 1)


def test_blocking_loop_batches_span_their_handlers_back_to_back():
    r = run("aiohttp-blocking", 8, 4)
    tl = timeline_of(r)
    (loop,) = tl.lanes_of(LOOP)
    assert sum(tl.batches) == 8
    assert max(tl.batches) >= 2
    for seg, size in zip(loop.segments, tl.batches, strict=True):
        assert seg.duration_s == pytest.approx(size * S)  # handlers of a batch run back to back
        assert seg.label == str(size)
    ends = [s.end_s for s in loop.segments]
    starts = [s.start_s for s in loop.segments]
    assert all(b >= a - 1e-12 for a, b in zip(ends, starts[1:], strict=False))


@pytest.mark.parametrize(
    ("server", "workers", "n", "c"),
    [("aiohttp", 1, 30, 7), ("aiohttp-blocking", 1, 20, 5), ("django", 3, 25, 6)],
)
def test_slot_lanes_cover_every_request_without_overlap(server, workers, n, c):
    # With the real (non-zero) costs: each request's segments tile start..done exactly.
    r = run(server, n, c, workers=workers, costs=Costs())
    tl = timeline_of(r)
    lanes = tl.lanes_of(SLOT)
    assert len(lanes) == c
    covered = sum(s.duration_s for lane in lanes for s in lane.segments)
    assert covered == pytest.approx(sum(rec.done - rec.start for rec in r.records))
    for lane in tl.lanes:
        segs = lane.segments
        assert all(a.end_s <= b.start_s + 1e-12 for a, b in zip(segs, segs[1:], strict=False))
    if server == "django":
        assert len(tl.lanes_of(WORKER)) == workers


def test_batches_without_counts_are_cut_where_a_handler_follows_a_close():
    # Two handlers run back to back and both connections close after them (one batch); the
    # third handler starts after those closes, so it is a batch of its own.
    def rec(slot, hs, he, done):
        return SimpleNamespace(slot=slot, start=0.0, connect=0.0, accepted=0.0,
                               handler_start=hs, handler_end=he, done=done, worker=None)

    records = [rec(0, 0.0, 1.0, 2.1), rec(1, 1.0, 2.0, 2.1), rec(0, 2.1, 3.1, 3.2)]
    tl = build_timeline(records, server="aiohttp-blocking", closes_s=[2.05, 2.05, 3.15])
    assert tl.batches == (2, 1)
    (loop,) = tl.lanes_of(LOOP)
    assert [(s.start_s, s.end_s) for s in loop.segments] == [(0.0, 2.0), (2.1, 3.1)]


def test_builder_refuses_what_it_cannot_draw():
    with pytest.raises(InputError, match="at least one"):
        build_timeline([], server="django")
    with pytest.raises(InputError, match="unknown server"):
        build_timeline(run("django", 1, 1).records, server="nginx")
    with pytest.raises(InputError, match="loop_batches"):
        build_timeline(run("aiohttp-blocking", 2, 1).records, server="aiohttp-blocking")


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_plot_names_every_lane_and_labels_the_batches(lang):
    tl = timeline_of(run("aiohttp-blocking", 8, 4))
    fig = Figure()
    FigureCanvasAgg(fig)
    ax = plot_timeline(fig.add_subplot(), tl, labels=texts(lang), title="t")
    names = [t.get_text() for t in ax.get_yticklabels()]
    assert names[0] == texts(lang)["slot"].format(index=0)
    assert names[-1] == texts(lang)["loop"]
    assert len(names) == len(tl.lanes)
    drawn = sorted(t.get_text() for t in ax.texts)
    assert drawn == sorted(str(b) for b in tl.batches)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert texts(lang)["blocked"] in legend and texts(lang)["handler"] in legend


# -- observed runs: the join of a server trace and ab's -g file ------------------------------------
def as_measured(r):
    """What the servers' trace and ab's -g file would hold for simulated run ``r``.

    Client ports grow in the order ab opened the connections, as the kernel hands them out;
    connections opened at one instant (zero costs) are in the order the FIFO server took them.
    """
    from asim.servers.trace import TraceRecord
    from asim.sim.abtext import GnuplotRow

    epoch_us = 1_700_000_000_000_000

    def us(t):
        return epoch_us + round(t * 1e6)

    by_open = sorted(r.records, key=lambda rec: (rec.start, rec.accepted, rec.handler_start))
    trace = [TraceRecord(server=r.scenario.server, pid=4000 + (rec.worker or 0),
                         peer_port=30000 + k, accept_us=us(rec.accepted), recv_us=None,
                         start_us=us(rec.handler_start), end_us=us(rec.handler_end),
                         close_us=us(rec.done))
             for k, rec in enumerate(by_open)]
    rows = [GnuplotRow(start_text="-", start_epoch_s=us(rec.start) // 1_000_000,
                       ctime_ms=round((rec.connect - rec.start) * 1000), dtime_ms=0,
                       ttime_ms=round((rec.done - rec.start) * 1000), wait_ms=0)
            for rec in r.records]
    return trace, rows, epoch_us


@pytest.mark.parametrize(
    ("server", "workers", "n", "c"),
    [("django", 1, 3, 2), ("django", 2, 12, 5), ("aiohttp", 1, 12, 5),
     ("aiohttp-blocking", 1, 12, 5)],
)
def test_observed_join_recovers_slots_and_starts_of_an_exact_run(server, workers, n, c):
    from asim.lecture.observed import observed_records

    r = run(server, n, c, workers=workers)
    trace, rows, epoch_us = as_measured(r)
    got = observed_records(trace, rows, concurrency=c, after_us=epoch_us)

    def key(rec):
        return (rec.slot, round(rec.start, 9), round(rec.done, 9), round(rec.handler_start, 9))

    assert sorted(map(key, got)) == sorted(map(key, r.records))


@pytest.mark.parametrize(("server", "workers"), [("django", 2), ("aiohttp-blocking", 1)])
def test_observed_join_is_within_a_millisecond_with_real_costs(server, workers):
    from asim.lecture.observed import observed_records

    r = run(server, 20, 6, workers=workers, costs=Costs())
    trace, rows, epoch_us = as_measured(r)
    got = sorted(observed_records(trace, rows, concurrency=6, after_us=epoch_us),
                 key=lambda rec: rec.handler_start)
    want = sorted(r.records, key=lambda rec: rec.handler_start)
    t0 = want[0].accepted  # the join counts time from the first accept
    for g, w in zip(got, want, strict=True):
        assert g.slot == w.slot
        assert g.start == pytest.approx(w.start - t0, abs=1e-3)
        assert g.done == pytest.approx(w.done - t0, abs=1e-6)


def test_observed_join_skips_the_probe_and_refuses_an_empty_trace():
    from asim.errors import AbError
    from asim.lecture.observed import observed_records

    r = run("django", 3, 2)
    trace, rows, epoch_us = as_measured(r)
    assert len(observed_records(trace, rows, concurrency=2, after_us=epoch_us + 1)) == 2
    with pytest.raises(AbError, match="no request"):
        observed_records(trace, rows, concurrency=2, after_us=epoch_us + 10**9)


def _most_at_once(intervals):
    """The largest number of the ``(start, end)`` intervals that overlap at one instant."""
    events = sorted([(a, 1) for a, _ in intervals] + [(b, -1) for _, b in intervals])
    most = now = 0
    for _, step in events:  # at a tie the end (-1) sorts first: touching is not overlapping
        now += step
        most = max(most, now)
    return most


@pytest.mark.live
@pytest.mark.parametrize(("server", "workers"), [("django", 2), ("aiohttp-blocking", 1)])
def test_observed_run_of_the_real_server_and_ab(server, workers):
    # Plumbing and coarse physics only: on a loaded machine a real run's timing moves by tens
    # of milliseconds (the join's accuracy is tested above on exact inputs).
    from asim.lecture.observed import observed_run

    sleep_s = 0.05
    obs = observed_run(Scenario(server=server, workers=workers, sleep_s=sleep_s,
                                concurrency=4, requests=10))
    assert len(obs.records) == 10 and len(obs.ab_totals_ms) == 10
    assert {rec.slot for rec in obs.records} == {0, 1, 2, 3}
    for rec in obs.records:
        assert rec.start <= rec.accepted <= rec.handler_start <= rec.handler_end <= rec.done
        assert rec.handler_end - rec.handler_start >= sleep_s * 0.95  # the sleep is inside
    # A blocked loop runs one handler at a time; two workers run at most two.
    handlers = [(rec.handler_start, rec.handler_end) for rec in obs.records]
    assert _most_at_once(handlers) <= workers
    # The rebuilt Totals describe the run ab timed, not one off by whole requests: they differ
    # from ab's own by less than a request's sleep.
    assert obs.total_error_ms < sleep_s * 1000
    tl = obs.timeline()
    assert len(tl.lanes_of(SLOT)) == 4
    if server == "django":
        assert len(tl.lanes_of(WORKER)) == workers
    else:
        assert sum(tl.batches) == 10
