"""The lecture's memory figure: server memory against connected clients, up to C = 10 000.

The seed says a synchronous server holds thousands of connections and an asynchronous one tens
or hundreds of thousands. With the memory model (`asim.sim.memory`, built-in figures) that claim
gets numbers: the event loop pays a few KiB per connection, the worker pool a whole process per
request it serves at once. Markers are measurements of the real servers (peak anonymous PSS
during ``ab -n C -c C`` with a handler that sleeps long enough for all C to be held), kept in
``memory_measured.json`` next to this module with when and how they were taken; the figure never
shows a point that was not measured.

`memory_curves` computes, `plot_memory` draws (pure), `memory_caption` writes the two lines.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources

from matplotlib.axes import Axes
from matplotlib.lines import Line2D

from asim.lecture.captions import fill, number
from asim.sim.memory import DEFAULT_MEMORY, MemoryCosts, held_by, memory_mb

MAX_CLIENTS = 10_000
CLIENTS = tuple(sorted({round(10 ** (k / 8)) for k in range(0, 33)}))  # 1 .. 10 000, log-spaced
FIXED_WORKERS = 8
BUDGET_MB = 1024.0  # "how many connections fit in 1 GiB"
MEASURED_FILE = "memory_measured.json"

_TEXTS = {
    "en": {
        "title": "Server memory against connected clients",
        "x": "Connected clients C (ab -c)",
        "y": "Server memory, MiB (anonymous, all processes)",
        "loop": "aiohttp: one event loop",
        "pool_c": "Django sync: W = C workers (a worker per client)",
        "pool_fixed": "Django sync: W = {w} workers (the rest wait in the kernel)",
        "model": "model (asim predict)",
        "measured": "measured (peak during ab)",
        "caption": (
            "At C = {c} clients the event loop holds {loop_mb} MiB ({conn_kb} KiB per "
            "connection over a {idle_mb} MiB process); a sync worker pool that serves all of "
            "them at once needs C workers, {pool_gb} GiB ({worker_mb} MiB per worker).",
            "In {budget} GiB a worker pool serves {pool_fit} clients at once and the event loop "
            "holds about {loop_fit} connections, {ratio} times as many: the seed's thousands "
            "against hundreds of thousands is this ratio. "
            "A pool of {w} workers stays at {fixed_mb} MiB because its other clients wait in "
            "the kernel's accept queue (kernel socket memory is not in these numbers).",
        ),
    },
    "ru": {
        "title": "Память сервера в зависимости от числа клиентов",
        "x": "Одновременные клиенты C (ab -c)",
        "y": "Память сервера, МиБ (анонимная, все процессы)",
        "loop": "aiohttp: один цикл событий",
        "pool_c": "Django sync: W = C воркеров (воркер на клиента)",
        "pool_fixed": "Django sync: W = {w} воркеров (остальные ждут в ядре)",
        "model": "модель (asim predict)",
        "measured": "измерено (пик во время ab)",
        "caption": (
            "При C = {c} клиентов цикл событий держит {loop_mb} МиБ ({conn_kb} КиБ на "
            "соединение поверх процесса в {idle_mb} МиБ); пулу синхронных воркеров, чтобы "
            "обслуживать их всех сразу, нужно C воркеров: {pool_gb} ГиБ ({worker_mb} МиБ "
            "на воркер).",
            "В {budget} ГиБ помещается пул из {pool_fit:воркера/воркеров/воркеров} (столько "
            "же клиентов одновременно), а цикл событий держит около {loop_fit} соединений, "
            "в {ratio} раз больше: «тысячи против сотен тысяч» из задания и есть это "
            "отношение. Пул из {w} воркеров "
            "остаётся на {fixed_mb} МиБ: его остальные клиенты ждут в очереди accept ядра "
            "(память сокетов ядра в эти числа не входит).",
        ),
    },
}


@dataclass(frozen=True, kw_only=True)
class MemoryCurve:
    """Predicted memory (MiB) of one server configuration at each client count, and the
    measured points of the same configuration (clients, MiB)."""

    key: str  # loop, pool_c or pool_fixed
    clients: tuple[int, ...]
    memory_mb: tuple[float, ...]
    measured: tuple[tuple[int, float], ...] = ()


def _memory(server: str, workers: int, c: int, memory: MemoryCosts) -> float:
    return memory_mb(server, held_by(server, workers=workers, threads=None, concurrency=c),
                     memory)


def measured_points() -> list[dict[str, object]]:
    """The committed measurements (see the module docstring)."""
    text = resources.files("asim.lecture").joinpath(MEASURED_FILE).read_text(encoding="utf-8")
    return list(json.loads(text)["points"])


def memory_curves(memory: MemoryCosts = DEFAULT_MEMORY,
                  measured: Sequence[Mapping[str, object]] = ()) -> tuple[MemoryCurve, ...]:
    """The event loop, a worker per client and a fixed pool, C = 1 .. `MAX_CLIENTS`."""

    def seen(server: str, workers_of) -> tuple[tuple[int, float], ...]:
        return tuple(sorted((int(p["concurrency"]), float(p["memory_mb"])) for p in measured
                            if p["server"] == server
                            and p["workers"] == workers_of(int(p["concurrency"]))))

    loop = [_memory("aiohttp", 1, c, memory) for c in CLIENTS]
    pool_c = [_memory("django", c, c, memory) for c in CLIENTS]
    fixed = [_memory("django", FIXED_WORKERS, c, memory) for c in CLIENTS]
    return (
        MemoryCurve(key="loop", clients=CLIENTS, memory_mb=tuple(loop),
                    measured=seen("aiohttp", lambda c: 1)),
        MemoryCurve(key="pool_c", clients=CLIENTS, memory_mb=tuple(pool_c),
                    measured=seen("django", lambda c: c)),
        MemoryCurve(key="pool_fixed", clients=CLIENTS, memory_mb=tuple(fixed),
                    measured=seen("django", lambda c: FIXED_WORKERS if c > FIXED_WORKERS
                                  else -1)),
    )


def texts(lang: str) -> Mapping[str, object]:
    return _TEXTS[lang]


def plot_memory(ax: Axes, curves: Sequence[MemoryCurve], *, text: Mapping[str, object],
                palette: Sequence[str], line_w: float = 2.8, marker_pt: float = 9,
                sizes: tuple[float, float, float, float] = (19, 17, 14, 13)) -> Axes:
    """Memory against clients on log–log axes: the model as lines, measurements as markers."""
    title_pt, label_pt, tick_pt, legend_pt = sizes
    handles = []
    for colour, c in zip(palette, curves, strict=False):
        style = "--" if c.key == "pool_fixed" else "-"
        ax.plot(c.clients, c.memory_mb, color=colour, lw=line_w, ls=style)
        if c.measured:
            xs, ys = zip(*c.measured, strict=True)
            ax.plot(xs, ys, ls="none", marker="o", ms=marker_pt, color=colour,
                    markeredgecolor="black")
        label = str(text[c.key]).format(w=FIXED_WORKERS)
        handles.append(Line2D([], [], color=colour, lw=line_w, ls=style, label=label))
    handles += [Line2D([], [], color="black", lw=line_w, label=str(text["model"])),
                Line2D([], [], color="black", ls="none", marker="o", ms=marker_pt,
                       label=str(text["measured"]))]
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(str(text["x"]), fontsize=label_pt)
    ax.set_ylabel(str(text["y"]), fontsize=label_pt)
    ax.set_title(str(text["title"]), fontsize=title_pt, pad=10)
    ax.tick_params(labelsize=tick_pt)
    ax.grid(True, which="major", alpha=0.35)
    ax.legend(handles=handles, fontsize=legend_pt, loc="upper left", framealpha=0.9)
    return ax


def memory_caption(lang: str, memory: MemoryCosts = DEFAULT_MEMORY) -> tuple[str, str]:
    """The figure's two caption lines, every number from the model."""
    loop, pool = memory.of("aiohttp"), memory.of("django")
    c = MAX_CLIENTS
    loop_mb = _memory("aiohttp", 1, c, memory)
    pool_mb = _memory("django", c, c, memory)
    fixed_mb = _memory("django", FIXED_WORKERS, c, memory)
    pool_fit = int((BUDGET_MB - pool.master_mb) // pool.worker_mb)
    loop_fit = int((BUDGET_MB - loop.worker_mb) * 1024 // loop.connection_kb)
    first, second = _TEXTS[lang]["caption"]
    numbers = {
        "c": f"{c:,}".replace(",", " "), "loop_mb": number(loop_mb, 0, lang),
        "conn_kb": number(loop.connection_kb, 1, lang), "idle_mb": number(loop.worker_mb, 0, lang),
        "pool_gb": number(pool_mb / 1024, 0, lang), "worker_mb": number(pool.worker_mb, 0, lang),
        "budget": number(BUDGET_MB / 1024, 0, lang), "pool_fit": pool_fit,
        "loop_fit": f"{round(loop_fit, -3):,}".replace(",", " "), "w": FIXED_WORKERS,
        "fixed_mb": number(fixed_mb, 0, lang),
        "ratio": f"{round(loop_fit / pool_fit, -2):,.0f}".replace(",", " "),
    }
    return fill(first, **numbers), fill(second, **numbers)
