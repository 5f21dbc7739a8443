"""Rendering of predicted points for the terminal and for files: table, JSON, CSV."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from asim.grid import Point
from asim.sim.report import PERCENTS

CSV_FIELDS = (
    "method",
    "server",
    "workers",
    "sleep_s",
    "concurrency",
    "requests",
    "keepalive",
    "cores",
    "time_taken_s",
    "requests_per_second",
    "time_per_request_ms",
    "time_per_request_all_ms",
    *(f"total_{k}_ms" for k in ("min", "mean", "sd", "median", "max")),
    *(f"p{p}_ms" for p in PERCENTS),
)


def to_json(points: Sequence[Point]) -> str:
    return json.dumps({"points": [p.to_dict() for p in points]}, indent=2)


def to_csv(points: Sequence[Point]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for p in points:
        d = p.to_dict()
        row = {k: d[k] for k in CSV_FIELDS[:12]}
        for k, v in d["total_ms"].items():
            row[f"total_{k}_ms"] = v
        for k, v in d["percentiles_ms"].items():
            row[f"p{k}_ms"] = v
        writer.writerow(row)
    return buf.getvalue()


def table(points: Sequence[Point], *, title: str) -> Table:
    t = Table(title=title, title_justify="left", header_style="bold")
    for name, justify in (
        ("server", "left"),
        ("W", "right"),
        ("sleep s", "right"),
        ("C", "right"),
        ("time s", "right"),
        ("RPS", "right"),
        ("ms/req", "right"),
        ("ms/req (all)", "right"),
        ("p50 ms", "right"),
        ("p90 ms", "right"),
        ("p100 ms", "right"),
    ):
        t.add_column(name, justify=justify)
    for p in points:
        s, r = p.scenario, p.report
        t.add_row(
            s.server + (f" [{p.method}]" if p.method != "des" else ""),
            str(s.workers) if s.uses_workers else "-",
            f"{s.sleep_s:g}",
            str(s.concurrency),
            f"{r.time_taken_s:.3f}",
            f"{r.requests_per_second:.2f}",
            f"{r.time_per_request_ms:.3f}",
            f"{r.time_per_request_all_ms:.3f}",
            str(r.percentiles_ms[50]),
            str(r.percentiles_ms[90]),
            str(r.percentiles_ms[100]),
        )
    return t


def print_table(points: Sequence[Point], *, title: str) -> None:
    console = Console()
    if not console.is_terminal:
        console = Console(width=140)  # piped output keeps whole columns
    console.print(table(points, title=title))
