"""Measured points from an `asim validate` results folder, summarised for the explore page.

The page draws each measured point as a marker at the median of its repeats with a bar from the
fastest to the slowest repeat. Only the folder given on the command line is read, through
`asim.validate.store.ResultsDir` (its points.jsonl); nothing the page sends names a file.
"""

from __future__ import annotations

from pathlib import Path
from statistics import median

from asim.validate.store import ResultsDir


def open_results(folder: Path | str) -> ResultsDir:
    """The results folder, or InputError when ``folder`` is not one `asim validate` wrote."""
    store = ResultsDir.open(Path(folder))
    store.records()  # an unreadable points.jsonl is reported now, not on the first page load
    return store


def measured_payload(store: ResultsDir) -> dict[str, object]:
    """One summary per measured point (server, W, sleep, -n, -k, C) of its complete runs."""
    groups: dict[tuple, list] = {}
    for record in store.records():
        if record.observed is None:
            continue
        p = record.point
        key = (p.server, p.workers, p.sleep_s, p.requests, p.keepalive, p.concurrency)
        groups.setdefault(key, []).append(record.observed)
    points = []
    for (server, workers, sleep_s, requests, keepalive, concurrency), reports in groups.items():
        points.append({
            "server": server, "workers": workers, "sleep_s": sleep_s, "requests": requests,
            "keepalive": keepalive, "concurrency": concurrency, "runs": len(reports),
            "requests_per_second": _spread([r.requests_per_second for r in reports]),
            "time_per_request_ms": _spread([r.time_per_request_ms for r in reports]),
        })
    points.sort(key=lambda d: (d["server"], d["workers"], d["sleep_s"], d["requests"],
                               d["keepalive"], d["concurrency"]))
    return {"folder": store.root.name, "points": points}


def _spread(values: list[float]) -> dict[str, float]:
    return {"min": min(values), "median": median(values), "max": max(values)}
