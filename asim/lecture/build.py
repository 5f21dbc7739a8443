"""`asim lecture` and `asim timeline`: compute, draw and write the figures (PNG and SVG).

This is the only module of `asim.lecture` that creates figures and writes files. A lecture
folder holds one PNG and one SVG per figure and ``lecture.md``, which shows each figure with its
two-line caption. Everything is computed from the model with its default costs on a fixed
2-core machine, so the folder is the same on every computer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from asim.errors import InputError
from asim.lecture import data, figures, memory
from asim.lecture.captions import caption, check_lang, fill, number, server_name, texts
from asim.lecture.timeline import Timeline, build_timeline, plot_timeline
from asim.limits import check_sleeps
from asim.sim.costs import DEFAULT_COSTS, Costs
from asim.sim.model import simulate
from asim.sim.spec import Scenario

SLEEP_S = 0.1
CORES = 2
DPI = 110
MAX_TIMELINE_REQUESTS = 400
MAX_TIMELINE_CONCURRENCY = 64

# What the lecture shows (see docs/lecture.md for why these points).
CAPACITY_MAX_CLIENTS = 300
CAPACITY_DES_CLIENTS = (1, 2, 5, 10, 20, 50, 100, 200, 300)
DES_REQUESTS = 2000
LITTLE_RUN = {"server": "django", "workers": 2, "concurrency": 10, "requests": 60}
TIMELINE_RUN = {"workers": 2, "concurrency": 5, "requests": 12}
FINITE_CLIENTS = (1, 2, 5, 10, 20, 40, 60, 80, 100)
FINITE_SHORT, FINITE_LONG, FINITE_AT = 100, 10000, 40
WORKERS_SLEEPS_S = (0.05, 0.1, 0.2, 0.5)
WORKERS_CLIENTS = 100
WORKERS_MAX = 64
WORKERS_DES = (1, 2, 4, 8, 16, 32, 64)
WORKERS_TARGET_RPS = 200.0
PERCENTILE_CLIENTS = (1, 2, 5, 10, 20, 40, 60, 80, 100)
PERCENTILE_REQUESTS = 100
PERCENTILE_AT = 40

# No creation date or software version in the files, so a re-render of the same numbers
# writes the same bytes.
PNG_METADATA = {"Software": None}
SVG_METADATA = {"Date": None, "Creator": None}


@dataclass(frozen=True, kw_only=True)
class LectureFigure:
    """One written figure: its file stem, the PNG and SVG paths and its two caption lines."""

    name: str
    png: Path
    svg: Path
    caption: tuple[str, str]


@dataclass(frozen=True, kw_only=True)
class Lecture:
    """What `build_lecture` wrote: the figures in order and the ``lecture.md`` that shows them."""

    lang: str
    folder: Path
    figures: tuple[LectureFigure, ...]
    markdown: Path


def _new_figure(width_in: float, height_in: float, rows: int = 1) -> tuple[Figure, list]:
    fig = Figure(figsize=(width_in, height_in), layout="constrained")
    FigureCanvasAgg(fig)
    axes = [fig.add_subplot(rows, 1, 1)]
    for row in range(2, rows + 1):
        axes.append(fig.add_subplot(rows, 1, row, sharex=axes[0]))
    return fig, axes


def save_figure(fig: Figure, png: Path) -> tuple[Path, Path]:
    """Write ``fig`` as ``png`` and as the SVG next to it; returns both paths."""
    svg = png.with_suffix(".svg")
    try:
        png.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(png, dpi=DPI, metadata=PNG_METADATA)
        with matplotlib.rc_context({"svg.hashsalt": "asim"}):  # stable ids: re-renders diff cleanly
            fig.savefig(svg, metadata=SVG_METADATA)
    except OSError as exc:
        raise InputError(f"cannot write {png}: {exc.strerror or exc}") from None
    return png, svg


def check_png(path: Path | str) -> Path:
    """``path`` as a Path if it names a .png file; InputError otherwise."""
    png = Path(path)
    if png.suffix.lower() != ".png":
        raise InputError(f"--out must name a .png file (the .svg is written beside it), "
                         f"got {str(path)!r}")
    if png.exists() and png.is_dir():
        raise InputError(f"--out {str(path)!r} is a folder, not a .png file")
    return png


# -- asim timeline --------------------------------------------------------------------------------
def timeline_scenario(
    server: str, *, workers: int, concurrency: int, requests: int, sleep_s: float,
    cores: int = CORES,
) -> Scenario:
    """The ab run a timeline shows; refuses runs too large to read as one picture."""
    check_sleeps([sleep_s])
    scenario = Scenario(server=server, workers=workers, concurrency=concurrency,
                        requests=requests, sleep_s=sleep_s, cores=cores)
    if requests > MAX_TIMELINE_REQUESTS:
        raise InputError(f"--requests {requests} is too many for one timeline "
                         f"(at most {MAX_TIMELINE_REQUESTS})")
    if concurrency > MAX_TIMELINE_CONCURRENCY:
        raise InputError(f"--concurrency {concurrency} gives too many lanes for one timeline "
                         f"(at most {MAX_TIMELINE_CONCURRENCY})")
    return scenario


def simulated_timeline(scenario: Scenario, costs: Costs = DEFAULT_COSTS) -> Timeline:
    """The timeline of ``scenario`` as the model runs it."""
    run = simulate(scenario, costs=costs)
    return build_timeline(run.records, server=scenario.server, loop_batches=run.loop_batches)


def timeline_title(scenario: Scenario, lang: str, *, observed: bool = False) -> str:
    """E.g. ``Django, 2 workers: ab -n 12 -c 5, sleep 0.1 s``."""
    key = "title_timeline_observed" if observed else "title_timeline"
    sleep = f"{scenario.sleep_s:g}".replace(".", "," if lang == "ru" else ".")
    return texts(lang)[key].format(
        server=server_name(lang, scenario.server, scenario.workers), n=scenario.requests,
        c=scenario.concurrency, sleep=f"{sleep} {'с' if lang == 'ru' else 's'}",
    )


def write_timeline(
    timeline: Timeline, png: Path, *, title: str, lang: str = "en"
) -> tuple[Path, Path]:
    """Draw one timeline and write it as ``png`` and the SVG next to it."""
    png = check_png(png)
    fig, (ax,) = _new_figure(15, 1.6 + 0.42 * len(timeline.lanes))
    plot_timeline(ax, timeline, labels=texts(check_lang(lang)), title=title)
    return save_figure(fig, png)


# -- asim lecture ---------------------------------------------------------------------------------
def build_lecture(
    out_dir: Path | str, *, lang: str = "en", costs: Costs = DEFAULT_COSTS
) -> Lecture:
    """Compute every lecture figure, write its PNG and SVG into ``out_dir``, then lecture.md."""
    check_lang(lang)
    folder = Path(out_dir)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"--out {str(folder)!r} exists and is not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create {folder}: {exc.strerror or exc}") from None
    from asim.lecture.shapes import pools_figure, shapes_figure

    makers: Sequence[Callable[[Path, str, Costs], LectureFigure]] = (
        _capacity, _little, _timelines, _finite, _workers, _percentiles, _memory,
        shapes_figure, pools_figure,
    )
    made = tuple(make(folder, lang, costs) for make in makers)
    t = texts(lang)
    lines = [f"# {t['lecture_title']}", "",
             fill(t["lecture_intro"], sleep=number(SLEEP_S, 1, lang), cores=CORES), ""]
    for i, f in enumerate(made, 1):
        lines += [f"## {i}. {_heading(f.name, lang)}",
                  "", f"![{f.name}]({f.png.name})", "", f.caption[0] + "  ", f.caption[1], ""]
    markdown = folder / "lecture.md"
    markdown.write_text("\n".join(lines), encoding="utf-8")
    return Lecture(lang=lang, folder=folder, figures=made, markdown=markdown)


def _heading(name: str, lang: str) -> str:
    if name == "memory":
        return str(memory.texts(lang)["title"])
    key = {"capacity": "title_capacity", "little": "title_little", "timelines": "title_timelines",
           "finite-run": "title_finite", "workers": "title_workers",
           "percentiles": "title_percentiles", "shapes": "title_shapes",
           "pools": "title_pools"}[name]
    return texts(lang)[key].format(n=PERCENTILE_REQUESTS)


def _saved(folder: Path, name: str, fig: Figure, lines: tuple[str, str]) -> LectureFigure:
    png, svg = save_figure(fig, folder / f"{name}.png")
    return LectureFigure(name=name, png=png, svg=svg, caption=lines)


def _capacity(folder: Path, lang: str, costs: Costs) -> LectureFigure:
    shapes = (("aiohttp", 1), ("django", 1), ("django", 4))
    curves = [
        data.capacity_curve(
            server_name(lang, server, workers), server, workers=workers, sleep_s=SLEEP_S,
            costs=costs, cores=CORES, max_clients=CAPACITY_MAX_CLIENTS,
            des_clients=CAPACITY_DES_CLIENTS, des_requests=DES_REQUESTS,
        )
        for server, workers in shapes
    ]
    fig, (ax,) = _new_figure(12, 7.5)
    figures.plot_capacity(ax, curves, text=texts(lang))
    aio, dj1, dj4 = curves
    n = 100
    des_max = max(aio.des_rps)
    # Whether the simulated loop passes the cold-CPU bound depends on the costs.
    lines = caption(
        lang, "capacity" if des_max > aio.max_rps else "capacity-below",
        dj1_max=number(dj1.max_rps, 1, lang), dj4_max=number(dj4.max_rps, 1, lang),
        dj1_knee=number(dj1.knee_clients, 0, lang), dj4_knee=number(dj4.knee_clients, 0, lang),
        aio_x=number(aio.mva_rps[n - 1], 0, lang), aio_n=n,
        aio_knee=number(aio.knee_clients, 0, lang), aio_max=number(aio.max_rps, 0, lang),
        des_max=number(des_max, 0, lang), des_n=aio.des_clients[aio.des_rps.index(des_max)],
    )
    return _saved(folder, "capacity", fig, lines)


def _little(folder: Path, lang: str, costs: Costs) -> LectureFigure:
    spec = LITTLE_RUN
    scenario = Scenario(server=spec["server"], workers=spec["workers"], sleep_s=SLEEP_S,
                        concurrency=spec["concurrency"], requests=spec["requests"], cores=CORES)
    check = data.little_check(simulate(scenario, costs=costs))
    fig, (ax,) = _new_figure(12, 7)
    figures.plot_little(ax, check, text=texts(lang))
    x = check.throughput_rps
    lines = caption(
        lang, "little",
        label=f"{server_name(lang, scenario.server, scenario.workers)}, ab -n "
              f"{scenario.requests} -c {scenario.concurrency}",
        L=number(check.mean_in_system, 2, lang), X=number(x, 1, lang),
        R=number(check.mean_response_s, 3, lang), XR=number(x * check.mean_response_s, 2, lang),
        Lq=number(check.mean_waiting, 2, lang), Wq=number(check.mean_wait_s, 3, lang),
        XWq=number(x * check.mean_wait_s, 2, lang),
        ab_rps=number(check.ab_rps, 1, lang), ab_total=check.ab_mean_total_ms,
        ab_L=number(check.ab_rps * check.ab_mean_total_ms / 1000, 2, lang),
        c=check.concurrency,
    )
    return _saved(folder, "little", fig, lines)


def _timelines(folder: Path, lang: str, costs: Costs) -> LectureFigure:
    run = TIMELINE_RUN
    shapes = (("aiohttp", 1), ("aiohttp-blocking", 1), ("django", run["workers"]))
    scenarios = [Scenario(server=s, workers=w, sleep_s=SLEEP_S, concurrency=run["concurrency"],
                          requests=run["requests"], cores=CORES) for s, w in shapes]
    timelines = [simulated_timeline(sc, costs) for sc in scenarios]
    lanes = sum(len(t.lanes) for t in timelines)
    fig, axes = _new_figure(15, 2.2 + 0.42 * lanes + 1.2 * len(timelines), rows=len(timelines))
    for ax, sc, tl in zip(axes, scenarios, timelines, strict=True):
        plot_timeline(ax, tl, labels=texts(lang), title=timeline_title(sc, lang))
    end = max(t.end_s for t in timelines)
    axes[0].set_xlim(0, end * 1.01)
    for ax in axes[:-1]:
        ax.set_xlabel("")
    aio, blk, dj = timelines
    sizes = sorted(set(blk.batches))
    lines = caption(
        lang, "timelines", n=run["requests"], c=run["concurrency"],
        sleep=number(SLEEP_S, 1, lang), w=run["workers"],
        aio_t=number(aio.end_s, 2, lang), dj_t=number(dj.end_s, 2, lang),
        blk_t=number(blk.end_s, 2, lang),
        batches=f"{sizes[0]}–{sizes[-1]}" if len(sizes) > 1 else str(sizes[0]),
    )
    return _saved(folder, "timelines", fig, lines)


def _finite(folder: Path, lang: str, costs: Costs) -> LectureFigure:
    shapes = (("aiohttp", 1), ("django", 1))
    curves = [
        data.finite_run_curve(
            server_name(lang, server, workers), server, workers=workers, sleep_s=SLEEP_S,
            costs=costs, cores=CORES, clients=FINITE_CLIENTS, short_requests=FINITE_SHORT,
            long_requests=FINITE_LONG,
        )
        for server, workers in shapes
    ]
    fig, (ax,) = _new_figure(12, 7.5)
    figures.plot_finite_run(ax, curves, text=texts(lang))
    aio, dj = curves
    i = aio.clients.index(FINITE_AT)

    def loss(c: data.FiniteRunCurve) -> float:
        return 100.0 * (1.0 - c.short_rps[i] / c.mva_rps[i])

    lines = caption(
        lang, "finite", n_short=FINITE_SHORT, n_long=FINITE_LONG, c=FINITE_AT,
        aio_short=number(aio.short_rps[i], 0, lang), aio_mva=number(aio.mva_rps[i], 0, lang),
        aio_long=number(aio.long_rps[i], 0, lang), pct=number(loss(aio), 0, lang),
        dj_pct=number(loss(dj), 1, lang),
    )
    return _saved(folder, "finite-run", fig, lines)


def _workers(folder: Path, lang: str, costs: Costs) -> LectureFigure:
    curves = [
        data.workers_curve(
            sleep_s=s, costs=costs, cores=CORES, concurrency=WORKERS_CLIENTS,
            max_workers=WORKERS_MAX, des_workers=WORKERS_DES if s == SLEEP_S else (),
            des_requests=DES_REQUESTS,
        )
        for s in WORKERS_SLEEPS_S
    ]
    fig, (ax,) = _new_figure(12, 7.5)
    figures.plot_workers(ax, curves, target_rps=WORKERS_TARGET_RPS, text=texts(lang))
    needed = [c.workers_needed(WORKERS_TARGET_RPS) for c in curves]
    shown = [(c, w) for c, w in zip(curves, needed, strict=True) if w is not None]
    main = next(c for c in curves if c.des_workers)
    err = max(abs(d / main.mva_rps[w - 1] - 1) for w, d in zip(main.des_workers, main.des_rps,
                                                                strict=True))
    lines = caption(
        lang, "workers", target=f"{WORKERS_TARGET_RPS:g}", c=WORKERS_CLIENTS,
        needed="/".join(str(w) for _, w in shown),
        sleeps="/".join(f"{c.sleep_s * 1000:g}" for c, _ in shown),
        rule="/".join(f"{WORKERS_TARGET_RPS * c.sleep_s:g}" for c, _ in shown),
        cores=CORES, sleep=number(SLEEP_S, 1, lang), n=main.des_requests,
        err=number(100 * err, 1, lang),
    )
    return _saved(folder, "workers", fig, lines)


def _percentiles(folder: Path, lang: str, costs: Costs) -> LectureFigure:
    shapes = (("aiohttp", 1), ("django", 1), ("aiohttp-blocking", 1))
    curves = [
        data.percentile_curve(
            server_name(lang, server, workers), server, workers=workers, sleep_s=SLEEP_S,
            costs=costs, cores=CORES, clients=PERCENTILE_CLIENTS, requests=PERCENTILE_REQUESTS,
        )
        for server, workers in shapes
    ]
    fig, (ax,) = _new_figure(12, 7.5)
    figures.plot_percentiles(ax, curves, text={**texts(lang), "title_percentiles":
                             texts(lang)["title_percentiles"].format(n=PERCENTILE_REQUESTS)})
    aio, dj, blk = curves
    i = aio.clients.index(PERCENTILE_AT)
    lines = caption(
        lang, "percentiles", c=PERCENTILE_AT, n=PERCENTILE_REQUESTS,
        a50=aio.p50_ms[i], a100=aio.p100_ms[i], d50=dj.p50_ms[i], d100=dj.p100_ms[i],
        b50=blk.p50_ms[i], b100=blk.p100_ms[i],
    )
    return _saved(folder, "percentiles", fig, lines)


def _memory(folder: Path, lang: str, costs: Costs) -> LectureFigure:
    # Memory has its own figures (`asim.sim.memory`, built-in like the costs: the lecture is the
    # same on every machine); ``costs`` are the CPU model's and play no part here.
    curves = memory.memory_curves(measured=memory.measured_points())
    fig, (ax,) = _new_figure(12, 7.5)
    memory.plot_memory(ax, curves, text=memory.texts(lang), palette=figures.PALETTE,
                       line_w=figures.LINE_W, marker_pt=figures.MARKER_PT,
                       sizes=(figures.TITLE_PT, figures.LABEL_PT, figures.TICK_PT,
                              figures.LEGEND_PT))
    return _saved(folder, "memory", fig, memory.memory_caption(lang))

