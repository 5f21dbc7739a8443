"""The lecture's figures of the shapes: every shape against the clients (model lines, measured
dots from figures/) and the pools' timelines with a lane per pool thread."""

import json

import pytest

from asim.errors import InputError
from asim.lecture import shapes
from asim.lecture.captions import LANGS, caption, texts
from asim.lecture.timeline import HANDLER, HELD, POOL, POOL_WAIT, SLOT, PoolHold, with_pool_lanes
from asim.sim.costs import DEFAULT_COSTS
from asim.sim.shapes import NAMES
from asim.sim.spec import Scenario


def test_the_shapes_figure_covers_every_shape_of_the_registry():
    assert {server for server, *_ in shapes.SHAPE_RUNS} == set(NAMES)


def test_measured_dots_are_the_medians_of_the_recorded_runs(tmp_path):
    # figures/task10 holds the executor measured at -c 5..40, three runs each (copied alone, so
    # that other recorded folders with the same runs do not move the median)
    recorded = (shapes.FIGURES_DIR / "task10" / "points.jsonl").read_text()
    (tmp_path / "task10").mkdir()
    (tmp_path / "task10" / "points.jsonl").write_text(recorded)
    got = shapes.measured_rps("aiohttp-executor", workers=1, threads=None, blocking_s=None,
                              sleep_s=0.1, requests=100, folder=tmp_path)
    assert sorted(got) == [5, 10, 20, 40]
    runs = [json.loads(line) for line in recorded.splitlines()]
    at10 = sorted(r["observed"]["requests_per_second"] for r in runs
                  if r["server"] == "aiohttp-executor" and r["concurrency"] == 10)
    assert got[10] == at10[1]
    # another -n, or a folder without results: no dots
    assert shapes.measured_rps("aiohttp-executor", workers=1, threads=None, blocking_s=None,
                               sleep_s=0.1, requests=101) == {}
    assert shapes.measured_rps("aiohttp", workers=1, threads=None, blocking_s=None, sleep_s=0.1,
                               requests=100, folder=tmp_path / "empty") == {}


@pytest.mark.parametrize("server", ["aiohttp-executor", "django-gthread"])
def test_a_pool_timeline_has_a_lane_per_thread_and_never_more_holds_than_threads(server):
    sc = Scenario(server=server, threads=3, sleep_s=0.05, concurrency=7, requests=14, cores=2)
    tl = shapes.pool_timeline(sc, DEFAULT_COSTS)
    pool = tl.lanes_of(POOL)
    assert [lane.index for lane in pool] == [0, 1, 2]
    assert not tl.lanes_of("worker")
    holds = sorted((s.start_s, s.end_s) for lane in pool for s in lane.segments)
    assert len(holds) == 14 and all(s.kind == HELD for lane in pool for s in lane.segments)
    for start, _ in holds:  # at any hold's start at most three holds are open
        assert sum(a <= start < b for a, b in holds) <= 3
    # 7 clients, 3 threads: some requests waited for a thread, and each hold names its slot
    waits = [s for lane in tl.lanes_of(SLOT) for s in lane.segments if s.kind == POOL_WAIT]
    assert waits and all(s.label.isdigit() for lane in pool for s in lane.segments)
    assert 0.5 < shapes.busy_share(tl, 3) <= 1.0


def test_pool_lanes_split_the_slot_handler_at_the_hold():
    from asim.lecture.timeline import Lane, Segment, Timeline

    tl = Timeline(server="aiohttp-executor", end_s=1.0, lanes=(
        Lane(role=SLOT, index=0, segments=(Segment(start_s=0.1, end_s=0.9, kind=HANDLER),)),))
    out = with_pool_lanes(tl, [PoolHold(thread=0, start_s=0.4, end_s=0.85, slot=0)])
    slot, pool = out.lanes
    assert [(s.start_s, s.end_s, s.kind) for s in slot.segments] == [
        (0.1, 0.4, POOL_WAIT), (0.4, 0.9, HANDLER)]
    assert pool.role == POOL and pool.segments[0].label == "0"
    with pytest.raises(InputError):
        with_pool_lanes(tl, [])


@pytest.mark.parametrize("lang", LANGS)
def test_the_new_figures_have_words_and_captions_in_both_languages(lang):
    t = texts(lang)
    for key in ("pool", "held", "pool_wait", "measured_dots", "title_shapes", "title_pools"):
        assert t[key]
    for server in NAMES:
        assert t[f"shape_{server}"]
    first, second = caption(lang, "pools", n=16, c=8, t=4, sleep="0.1", ex_t="0.50",
                            gt_t="0.51", ex_busy="80", gt_busy="80", waves=5)
    assert "8" in first and "0.51" in second and "{" not in first + second


@pytest.mark.slow  # seconds of simulation: `make test` runs it, `make test-fast` does not
def test_the_shapes_and_pools_figures_are_written_with_their_numbers(tmp_path):
    made = shapes.shapes_figure(tmp_path, "ru", DEFAULT_COSTS)
    assert made.png.stat().st_size > 20_000 and made.svg.exists()
    curves = {c.scenario.server: c for c in shapes.shape_curves(DEFAULT_COSTS, "ru")}
    executor = curves["aiohttp-executor"]
    assert executor.scenario.threads == 6  # min(32, 2 cores + 4)
    assert f"{executor.at(40):.0f}" in made.caption[0]
    # the sync worker and the blocking loop serve one request at a time: about 1 / S
    assert curves["django"].at(40) == pytest.approx(10, rel=0.05)
    assert curves["aiohttp"].at(40) > curves["aiohttp-executor"].at(40)
    pools = shapes.pools_figure(tmp_path, "en", DEFAULT_COSTS)
    assert pools.png.exists() and "4 threads" in pools.caption[0]
