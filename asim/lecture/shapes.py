"""The lecture's figures of the server shapes beyond the lab's three: every shape's throughput
against the clients ("which shape for which load"), and timelines of two thread pools (aiohttp's
executor, a gthread worker) with a lane per pool thread.

The lines are the model's (`asim.grid.predict`, the lecture's fixed costs and 2 cores); a dot is
the median RPS of every run recorded in the repository's ``figures/`` folders for the same shape,
options, sleep, ``-c`` and ``-n`` (none when the folders are not there, e.g. an installed copy).
`build.py` registers the two figure makers defined here.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.ticker import ScalarFormatter

from asim.grid import predict
from asim.lecture.build import (
    CORES,
    SLEEP_S,
    LectureFigure,
    _new_figure,
    _saved,
    timeline_title,
)
from asim.lecture.captions import caption, number, texts
from asim.lecture.figures import LABEL_PT, LEGEND_PT, LINE_W, MARKER_PT, _finish
from asim.lecture.timeline import (
    PoolHold,
    Timeline,
    build_timeline,
    plot_timeline,
    with_pool_lanes,
)
from asim.sim.conn import Conn
from asim.sim.costs import Costs
from asim.sim.model import simulate
from asim.sim.spec import Scenario

FIGURES_DIR = Path(__file__).resolve().parents[2] / "figures"

# (server, workers, threads, blocking_s): every shape of the registry once, as a reader would
# first deploy it (None: the shape's default, e.g. the executor's min(32, cores + 4) threads).
SHAPE_RUNS: tuple[tuple[str, int, int | None, float | None], ...] = (
    ("aiohttp", 1, None, None),
    ("aiohttp-mixed", 1, None, 0.001),
    ("aiohttp-executor", 1, None, None),
    ("aiohttp-blocking", 1, None, None),
    ("django", 1, None, None),
    ("django-gthread", 1, 4, None),
    ("django-asgi", 1, None, None),
    ("django-asgi-sync", 1, None, None),
)
SHAPE_CLIENTS = (1, 2, 5, 10, 20, 40, 60, 80, 100)
SHAPE_REQUESTS = 100  # the lab's ab -n, so the measured runs of tasks 7-10 sit on the lines
SHAPE_AT = 40  # the caption's clients: the lab's largest -c
COLOURS = ("#1f6fb4", "#17becf", "#2a9d3a", "#d62728", "#8c564b", "#ff7f0e", "#9467bd",
           "#e377c2")
# Dashed where a line would hide another: the blocking loop serves what one sync worker does.
DASHED = {"aiohttp-blocking": "--"}
RPS_TICKS = (5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)

# The pools' timelines: a small pool behind more clients than threads.
POOL_RUN = {"threads": 4, "concurrency": 8, "requests": 16}


@dataclass(frozen=True, kw_only=True)
class ShapeCurve:
    """One shape's predicted RPS against the clients, and measured medians where recorded."""

    name: str
    scenario: Scenario  # the first point's (its options filled in)
    clients: tuple[int, ...]
    rps: tuple[float, ...]
    measured: Mapping[int, float]  # clients -> median RPS of the recorded runs

    def at(self, clients: int) -> float:
        return self.rps[self.clients.index(clients)]


def shape_name(lang: str, scenario: Scenario) -> str:
    """E.g. "Django gthread, 1 worker × 4 threads" / "Django gthread, 1 воркер × 4 потока"."""
    t = texts(lang)
    return t[f"shape_{scenario.server}"].format(
        threads=scenario.threads, blocking_ms=f"{(scenario.blocking_s or 0) * 1000:g}")


def measured_rps(
    server: str, *, workers: int, threads: int | None, blocking_s: float | None,
    sleep_s: float, requests: int, folder: Path = FIGURES_DIR,
) -> dict[int, float]:
    """Clients -> the median RPS of every complete run of this shape recorded in a
    ``points.jsonl`` under ``folder`` (validate's results folders) at this sleep and ``-n``,
    without -k. Read as plain JSON lines: the lecture does not depend on asim.validate."""
    values: dict[int, list[float]] = {}
    for path in sorted(folder.glob("**/points.jsonl")) if folder.is_dir() else ():
        for line in path.read_text(encoding="utf-8").splitlines():
            run = json.loads(line) if line.strip() else {}
            observed = run.get("observed")
            if (not observed or run.get("problems") or run.get("keepalive")
                    or (run.get("server"), run.get("workers", 1), run.get("threads"),
                        run.get("blocking_s")) != (server, workers, threads, blocking_s)
                    or run.get("sleep_s") != sleep_s or run.get("requests") != requests):
                continue
            values.setdefault(run["concurrency"], []).append(observed["requests_per_second"])
    return {c: statistics.median(v) for c, v in sorted(values.items())}


def shape_curves(costs: Costs, lang: str, *, folder: Path = FIGURES_DIR) -> list[ShapeCurve]:
    curves = []
    for server, workers, threads, blocking_s in SHAPE_RUNS:
        scenarios = [Scenario(server=server, workers=workers, threads=threads,
                              blocking_s=blocking_s, sleep_s=SLEEP_S, concurrency=c,
                              requests=max(SHAPE_REQUESTS, c), cores=CORES)
                     for c in SHAPE_CLIENTS]
        points = predict(scenarios, costs=costs)
        curves.append(ShapeCurve(
            name=shape_name(lang, scenarios[0]), scenario=scenarios[0], clients=SHAPE_CLIENTS,
            rps=tuple(p.requests_per_second for p in points),
            measured=measured_rps(server, workers=workers, threads=threads,
                                  blocking_s=blocking_s, sleep_s=SLEEP_S,
                                  requests=SHAPE_REQUESTS, folder=folder),
        ))
    return curves


def plot_shapes(
    ax: Axes, curves: Sequence[ShapeCurve], *, text: Mapping[str, str], sleep: str
) -> Axes:
    """RPS against clients on a log RPS axis: the model's line and the measured dots of each
    shape, one colour per shape."""
    for colour, c in zip(COLOURS, curves, strict=False):
        ax.plot(c.clients, c.rps, color=colour, lw=LINE_W, label=c.name,
                ls=DASHED.get(c.scenario.server, "-"))
        if c.measured:
            ax.plot(list(c.measured), list(c.measured.values()), ls="none", marker="o",
                    ms=MARKER_PT * 1.2, color=colour, markeredgecolor="black")
    ax.plot([], [], ls="none", marker="o", ms=MARKER_PT * 1.2, color="white",
            markeredgecolor="black", label=text["measured_dots"])
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(ScalarFormatter())
    ax.set_yticks([t for t in RPS_TICKS if t <= 2 * max(max(c.rps) for c in curves)])
    _finish(ax, x_label=text["x_clients"], y_label=text["y_rps"],
            title=f"{text['title_shapes'].format(n=SHAPE_REQUESTS)}, sleep {sleep}")
    ax.legend(fontsize=LEGEND_PT, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    return ax


def shapes_figure(folder: Path, lang: str, costs: Costs) -> LectureFigure:
    curves = shape_curves(costs, lang)
    fig, (ax,) = _new_figure(15, 7.5)
    plot_shapes(ax, curves, text=texts(lang),
                sleep=f"{number(SLEEP_S, 1, lang)} {'с' if lang == 'ru' else 's'}")
    by = {c.scenario.server: c for c in curves}
    c = SHAPE_AT

    def rps(server: str) -> str:
        return number(by[server].at(c), 0, lang)

    gthread, executor = by["django-gthread"].scenario, by["aiohttp-executor"].scenario
    lines = caption(
        lang, "shapes", n=SHAPE_REQUESTS, sleep=number(SLEEP_S, 1, lang), c=c,
        aio=rps("aiohttp"), mixed=rps("aiohttp-mixed"),
        b=f"{(by['aiohttp-mixed'].scenario.blocking_s or 0) * 1000:g}",
        asgi=rps("django-asgi"), asgi_sync=rps("django-asgi-sync"), ex=rps("aiohttp-executor"),
        gt=rps("django-gthread"), dj=rps("django"), blk=rps("aiohttp-blocking"),
        t=gthread.threads, gt_cap=number(gthread.threads / SLEEP_S, 0, lang),
        pool=executor.threads, ex_cap=number(executor.threads / SLEEP_S, 0, lang),
        dj_cap=number(1 / SLEEP_S, 0, lang),
        k=sum(len(curve.measured) for curve in curves),
    )
    return _saved(folder, "shapes", fig, lines)


# -- the pools' timelines ----------------------------------------------------------------------
def _pools(server: object) -> list:
    """The thread pools of a server model: a gthread server's one per worker, or the loop's."""
    workers = getattr(server, "workers", None)
    if isinstance(workers, list):
        return [w.pool for w in workers]
    pool = getattr(server, "pool", None)
    return [] if pool is None else [pool]


def pool_timeline(scenario: Scenario, costs: Costs) -> Timeline:
    """The timeline of ``scenario`` with a lane per thread of its pools (numbered across the
    pools); a gthread worker's own lane is left out (its threads' lanes replace it)."""
    pools: list = []

    def watch(server: object) -> None:
        pools.extend(_pools(server))
        for pool in pools:
            pool.hold_log = []

    run = simulate(scenario, costs=costs, watch=watch)
    holds, first = [], 0
    for pool in pools:
        for thread, start, end, args in pool.hold_log:
            conn = next((a for a in args if isinstance(a, Conn)), None)
            holds.append(PoolHold(thread=first + thread, start_s=start, end_s=end,
                                  slot=None if conn is None else conn.slot))
        first += pool.max_threads
    timeline = build_timeline(run.records, server=scenario.server, loop_batches=run.loop_batches)
    return with_pool_lanes(timeline, holds, drop_workers=True)


def busy_share(timeline: Timeline, threads: int) -> float:
    """Thread-seconds held over the pool's thread-seconds in the run, 0-1."""
    held = sum(s.duration_s for lane in timeline.lanes_of("pool") for s in lane.segments)
    return held / (threads * timeline.end_s)


def pools_figure(folder: Path, lang: str, costs: Costs) -> LectureFigure:
    run = POOL_RUN
    scenarios = [
        Scenario(server="aiohttp-executor", threads=run["threads"], sleep_s=SLEEP_S,
                 concurrency=run["concurrency"], requests=run["requests"], cores=CORES),
        Scenario(server="django-gthread", workers=1, threads=run["threads"], sleep_s=SLEEP_S,
                 concurrency=run["concurrency"], requests=run["requests"], cores=CORES),
    ]
    timelines = [pool_timeline(sc, costs) for sc in scenarios]
    lanes = sum(len(t.lanes) for t in timelines)
    fig, axes = _new_figure(15, 2.2 + 0.42 * lanes + 1.2 * len(timelines), rows=len(timelines))
    t = texts(lang)
    for ax, sc, tl in zip(axes, scenarios, timelines, strict=True):
        title = timeline_title(sc, lang).split(":", 1)
        name = shape_name(lang, sc)
        plot_timeline(ax, tl, labels=t, title=f"{name}:{title[1]}", label_pt=LABEL_PT * 0.9)
    end = max(tl.end_s for tl in timelines)
    axes[0].set_xlim(0, end * 1.01)
    for ax in axes[:-1]:
        ax.set_xlabel("")
    ex, gt = timelines
    lines = caption(
        lang, "pools", n=run["requests"], c=run["concurrency"], t=run["threads"],
        sleep=number(SLEEP_S, 1, lang),
        ex_t=number(ex.end_s, 2, lang), gt_t=number(gt.end_s, 2, lang),
        ex_busy=number(100 * busy_share(ex, run["threads"]), 0, lang),
        gt_busy=number(100 * busy_share(gt, run["threads"]), 0, lang),
        waves=max(len(lane.segments) for lane in ex.lanes_of("pool")),
    )
    return _saved(folder, "pools", fig, lines)
