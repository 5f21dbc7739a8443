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
