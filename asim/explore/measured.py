"""Measured points from an `asim validate` results folder, summarised for the explore page.

The page draws each measured point as a marker at the median of its repeats with a bar from the
fastest to the slowest repeat; a click on it shows what ab printed in its median run. Only the
folder given on the command line is read, through `asim.validate.store.ResultsDir` (its
points.jsonl and the raw ab texts it names, which must lie inside the folder); nothing the page
sends names a file.
"""

from __future__ import annotations

from pathlib import Path
from statistics import median

from asim.errors import InputError
from asim.sim.shapes import check_options
from asim.sim.spec import Scenario
from asim.validate.store import Record, ResultsDir


def open_results(folder: Path | str) -> ResultsDir:
    """The results folder, or InputError when ``folder`` is not one `asim validate` wrote."""
    store = ResultsDir.open(Path(folder))
    store.records()  # an unreadable points.jsonl is reported now, not on the first page load
    return store


def measured_payload(store: ResultsDir) -> dict[str, object]:
    """One summary per measured point (server, W, T, B, sleep, -n, -k, C) of its complete runs.

    ``threads`` and ``blocking_s`` are as the run recorded them: None where the server ran with
    its shape's default (which depends on the measuring machine's cores, so the page resolves
    it with its own cores, as the model's run in `asim validate` does).
    """
    groups: dict[tuple, list] = {}
    for record in store.records():
        if record.observed is None:
            continue
        p = record.point
        key = (p.server, p.workers, p.threads, p.blocking_s, p.sleep_s, p.requests, p.keepalive,
               p.concurrency)
        groups.setdefault(key, []).append(record.observed)
    points = []
    for key, reports in groups.items():
        server, workers, threads, blocking_s, sleep_s, requests, keepalive, concurrency = key
        points.append({
            "server": server, "workers": workers, "threads": threads, "blocking_s": blocking_s,
            "sleep_s": sleep_s, "requests": requests, "keepalive": keepalive,
            "concurrency": concurrency, "runs": len(reports),
            "requests_per_second": _spread([r.requests_per_second for r in reports]),
            "time_per_request_ms": _spread([r.time_per_request_ms for r in reports]),
        })
    # (None sorts as -1: a shape's default first)
    points.sort(key=lambda d: (d["server"], d["workers"], _or_first(d["threads"]),
                               _or_first(d["blocking_s"]), d["sleep_s"], d["requests"],
                               d["keepalive"], d["concurrency"]))
    return {"folder": store.root.name, "points": points}


def _or_first(value: float | None) -> float:
    return -1 if value is None else value


def _spread(values: list[float]) -> dict[str, float]:
    return {"min": min(values), "median": median(values), "max": max(values)}


def measured_text(store: ResultsDir, scenario: Scenario) -> dict[str, object]:
    """What ab printed in the median run (by RPS) of the measured point ``scenario`` names."""
    runs = sorted((r for r in store.records() if r.observed is not None
                   and _same_point(r, scenario)),
                  key=lambda r: r.observed.requests_per_second)
    if not runs:
        raise InputError(f"{store.root.name} has no measured run of {scenario.label()}")
    run = runs[(len(runs) - 1) // 2]
    root = store.root.resolve()
    path = (root / run.raw_path).resolve()
    if not run.raw_path or not path.is_relative_to(root) or not path.is_file():
        raise InputError(f"the ab text of {run.point.id} run {run.repeat} is not in "
                         f"{store.root.name} (points.jsonl names {run.raw_path!r})")
    return {"text": path.read_text(encoding="utf-8", errors="replace"), "repeat": run.repeat,
            "runs": len(runs), "command": run.command, "measured_at": run.measured_at}


def _same_point(record: Record, s: Scenario) -> bool:
    p = record.point
    if p.server != s.server:
        return False
    # a run that recorded no threads or slice ran with the shape's default: on the page's cores
    ran = check_options(p.server, threads=p.threads, blocking_s=p.blocking_s, cores=s.cores)
    return ((p.workers == s.workers or not s.uses_workers) and ran == (s.threads, s.blocking_s)
            and p.sleep_s == s.sleep_s and p.concurrency == s.concurrency
            and p.requests == s.requests and p.keepalive == s.keepalive)
