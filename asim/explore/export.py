"""`asim explore --export FILE.html`: the page as one offline file with a precomputed grid.

Lecture halls often have no network and students may have no Python: the file holds plotly's
bundle, the page's script and every point of `ExportGrid` (what ab would print and the Gantt
lanes of its small run), gzipped and base64-encoded; the page unpacks it with the browser's
DecompressionStream. The controls become lists of the precomputed values.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Callable
from dataclasses import dataclass
from itertools import product
from pathlib import Path

from asim.calibration.file import Calibration, resolve
from asim.errors import InputError, PredictedAbortError
from asim.explore.grid import (
    DEFAULTS,
    OVERLAYS,
    SHAPES,
    point_record,
    shape_defaults,
    timeline_payload,
    timeline_scenario,
)
from asim.explore.measured import measured_payload, open_results
from asim.explore.page import PageConfig, offline_page
from asim.explore.texts import check_lang
from asim.grid import DES, predict
from asim.sim.shapes import BLOCKING, THREADS, WORKERS, shape
from asim.sim.spec import Scenario


@dataclass(frozen=True, kw_only=True)
class ExportGrid:
    """The values each control offers in the offline file; every combination is predicted.

    ``threads`` and ``blockings_s`` apply to the shapes that take them; None is the shape's
    default (the page's empty field), and a value equal to it is predicted once. The default
    grid is 11,520 simulated points (about 4 min of CPU) and a file of about 10 MB.
    """

    servers: tuple[str, ...] = SHAPES
    workers: tuple[int, ...] = (1, 2, 4, 8)
    threads: tuple[int | None, ...] = (None, 2, 8)
    blockings_s: tuple[float | None, ...] = (None, 0.005, 0.02)
    sleeps_s: tuple[float, ...] = (0.0, 0.01, 0.05, 0.1, 0.2)
    requests: tuple[int, ...] = (100, 1000)
    concurrencies: tuple[int, ...] = (1, 2, 5, 10, 20, 40, 60, 80, 100)
    keepalive: tuple[bool, ...] = (False, True)
    cores: tuple[int, ...] = (1, 2)

    def scenarios(self) -> list[Scenario]:
        """Every valid combination (C above -n is skipped, as ab would refuse it), each once."""
        out: dict[Scenario, None] = {}
        for server in self.servers:
            s = shape(server)
            for w, t, b, sleep, n, k, cores, c in product(
                self.workers if s.takes(WORKERS) else (1,),
                self.threads if s.takes(THREADS) else (None,),
                self.blockings_s if s.takes(BLOCKING) else (None,),
                self.sleeps_s, self.requests, self.keepalive, self.cores, self.concurrencies,
            ):
                if c <= n:
                    out[Scenario(server=server, workers=w, threads=t, blocking_s=b, sleep_s=sleep,
                                 concurrency=c, requests=n, keepalive=k, cores=cores)] = None
        return list(out)

    def fields(self) -> dict[str, dict[str, object]]:
        """The page's controls: lists of these values, starting at the app's defaults where
        the grid has them."""
        def field(name: str, values: tuple) -> dict[str, object]:
            options = [_text(v) for v in values]
            default = DEFAULTS[name]
            return {"value": default if default in options else options[0], "options": options}

        c_from = field("c_from", self.concurrencies)
        c_to = field("c_to", self.concurrencies)
        out = {"workers": field("workers", self.workers)}
        # T and B only where a shape of the grid takes them
        shapes = [shape(name) for name in self.servers]
        if any(s.takes(THREADS) for s in shapes):
            out["threads"] = field("threads", self.threads)
        if any(s.takes(BLOCKING) for s in shapes):
            out["blocking"] = field("blocking", self.blockings_s)
        return {**out, "sleep": field("sleep", self.sleeps_s),
                "requests": field("requests", self.requests),
                "c_from": c_from, "c_to": c_to, "cores": field("cores", self.cores)}


def build_export(
    *,
    lang: str = "en",
    grid: ExportGrid | None = None,
    results: Path | str | None = None,
    calibration: Calibration | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> str:
    """The offline page's HTML; ``progress(done, total)`` hears about each predicted point."""
    grid = grid or ExportGrid()
    cal = calibration or resolve("auto")
    check_lang(lang)
    for name in grid.servers:
        if name not in SHAPES:
            raise InputError(f"unknown server {name!r}; choose from {', '.join(SHAPES)}")
    points: list[dict[str, object]] = []
    timelines: list[dict[str, object]] = []
    timeline_ids: dict[Scenario, int] = {}
    scenarios = grid.scenarios()
    for done, scenario in enumerate(scenarios, 1):
        try:
            predicted = predict(scenario, method=(DES, *OVERLAYS), costs=cal.costs)
        except PredictedAbortError as exc:
            points += [{**_fields(scenario), "method": m, "error": str(exc)}
                       for m in (DES, *OVERLAYS)]
            continue
        for p in predicted:
            record = point_record(p)
            if p.method == DES:
                small = timeline_scenario(scenario)
                if small not in timeline_ids:
                    timeline_ids[small] = len(timelines)
                    timelines.append(timeline_payload(small, cal.costs))
                record["timeline"] = timeline_ids[small]
            points.append(record)
        if progress:
            progress(done, len(scenarios))
    # the page keys its lookups by the threads and slice a point ran with, so an empty field
    # needs each shape's default on each of the grid's cores
    defaults = {str(cores): shape_defaults(grid.servers, cores) for cores in grid.cores}
    data = {"calibration": cal.describe(), "concurrencies": list(grid.concurrencies),
            "defaults": defaults, "points": points, "timelines": timelines}
    packed = gzip.compress(json.dumps(data, separators=(",", ":")).encode(), mtime=0)
    config = PageConfig(
        mode="offline", lang=lang, calibration=cal.describe(), fields=grid.fields(),
        servers=tuple(s for s in DEFAULTS["server"].split(",") if s in grid.servers)
        or grid.servers[:1],
        measured=None if results is None else measured_payload(open_results(results)),
    )
    return offline_page(config, base64.b64encode(packed).decode("ascii"))


def export_path(path: Path | str) -> Path:
    """``path`` if it names an .html file; InputError otherwise."""
    out = Path(path)
    if out.suffix.lower() not in (".html", ".htm") or out.is_dir():
        raise InputError(f"--export must name an .html file, got {str(path)!r}")
    return out


def write_export(path: Path | str, html: str) -> Path:
    """Write the offline page; InputError when ``path`` is not a writable .html file."""
    out = export_path(path)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(html, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write {out}: {exc.strerror or exc}") from None
    return out


def _fields(s: Scenario) -> dict[str, object]:
    return {"server": s.server, "workers": s.workers, "threads": s.threads,
            "blocking_s": s.blocking_s, "sleep_s": s.sleep_s,
            "concurrency": s.concurrency, "requests": s.requests, "keepalive": s.keepalive,
            "cores": s.cores}


def _text(value: object) -> str:
    """A control's value as the page's field holds it (None, the shape's default: empty)."""
    if value is None:
        return ""
    return f"{value:g}" if isinstance(value, float) else str(value)
