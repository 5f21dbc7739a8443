"""Rendering of predicted points for the terminal and for files: table, JSON, CSV."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from asim.grid import Point
from asim.sim.conn import near_backlog
from asim.sim.report import PERCENTS
from asim.sim.spec import CPU_DOMINATED_SLEEP_S

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


def to_json(
    points: Sequence[Point],
    *,
    calibration: str | None = None,
    calibration_check: dict[str, object] | None = None,
) -> str:
    doc: dict[str, object] = {"points": [p.to_dict() for p in points]}
    if calibration_check is not None:  # the calibration's self-check (asim calibrate)
        doc = {"calibration_check": calibration_check, **doc}
    if calibration is not None:
        doc = {"calibration": calibration, **doc}
    return json.dumps(doc, indent=2)


def to_csv(points: Sequence[Point]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for p in points:
        d = p.to_dict()
        row = {k: d[k] for k in CSV_FIELDS[:12]}
        for k, v in (d["total_ms"] or {}).items():
            row[f"total_{k}_ms"] = v
        for k, v in (d["percentiles_ms"] or {}).items():
            row[f"p{k}_ms"] = v
        writer.writerow(row)
    return buf.getvalue()


def table(points: Sequence[Point], *, title: str) -> Table:
    t = Table(title=title, title_justify="left", header_style="bold")
    for name, justify in (
        ("server", "left"),
        ("method", "left"),
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
        bound = p.terms is not None and p.terms.is_bound
        le, ge = ("≤ ", "≥ ") if bound else ("", "")
        pct = [str(r.percentiles_ms[q]) if r else "-" for q in (50, 90, 100)]
        t.add_row(
            s.server,
            p.method,
            str(s.workers) if s.uses_workers else "-",
            f"{s.sleep_s:g}",
            str(s.concurrency),
            f"{ge}{p.time_taken_s:.3f}",
            f"{le}{p.requests_per_second:.2f}",
            f"{ge}{p.time_per_request_ms:.3f}",
            f"{ge}{p.time_per_request_all_ms:.3f}",
            *pct,
        )
    return t


def finite_run_note(points: Sequence[Point]) -> str | None:
    """One sentence on how ab's finite run (DES) differs from steady state (MVA), if both are
    present: the largest gap in RPS and where it is."""
    des = {_key(p): p for p in points if p.method == "des"}
    gaps = []
    for p in points:
        if p.method == "mva" and _key(p) in des:
            d = des[_key(p)]
            gaps.append(((d.requests_per_second / p.requests_per_second - 1) * 100, d.scenario))
    if not gaps:
        return None
    gap, sc = min(gaps, key=lambda g: g[0])
    return (
        f"DES simulates ab's finite run (-n {sc.requests}): the first request runs alone and the "
        f"last wave is partial, so its RPS is {abs(gap):.0f} % below steady-state MVA at "
        f"{sc.server} C={sc.concurrency} S={sc.sleep_s:g}; MVA and bounds hold for long runs."
    )


def extrapolation_note(points: Sequence[Point]) -> str | None:
    """One sentence when some simulated points replicated a measured steady state."""
    shares = [p.extrapolated_requests / p.scenario.requests for p in points
              if p.extrapolated_requests]
    if not shares:
        return None
    runs = "1 simulation" if len(shares) == 1 else f"{len(shares)} simulations"
    return (
        f"{runs} replicated a measured steady state for up to {max(shares) * 100:.0f} % of "
        "the requests (an estimate within about 0.5 %); --exact simulates every request."
    )


def backlog_note(points: Sequence[Point]) -> str | None:
    """One sentence when a simulated run came near the listen backlog or overflowed it."""
    near = [p for p in points if p.report is not None
            and near_backlog(p.accept_queue_peak, p.accept_queue_capacity)]
    if not near:
        return None
    p = max(near, key=lambda q: (q.syns_dropped, q.accept_queue_peak / q.accept_queue_capacity))
    s = p.scenario
    what = (f"dropped {p.syns_dropped} SYNs" if p.syns_dropped
            else f"filled its accept queue to {p.accept_queue_peak} of "
                 f"{p.accept_queue_capacity}")
    more = f" (and {len(near) - 1} more point(s))" if len(near) > 1 else ""
    return (
        f"At {s.server} C={s.concurrency} S={s.sleep_s:g}{more} the model {what}: near the "
        "listen backlog real runs split between ones that lose SYNs (each waits a 1 s "
        "retransmission) and ones that do not, so expect either outcome."
    )


def cpu_speed_note(
    points: Sequence[Point], spread_pct: float | None, *, calibrated: bool
) -> str | None:
    """One sentence when some points are CPU-dominated: they follow the machine's CPU speed,
    and how much that moved between repeated runs during calibration (``spread_pct``, None
    when the calibration did not record it or for the built-in costs, ``calibrated`` False)."""
    if not any(p.scenario.sleep_s <= CPU_DOMINATED_SLEEP_S for p in points):
        return None
    if not calibrated:
        moved = ("the built-in costs come from a 2-core VM where repeated runs of such points "
                 "spread by 10-40 %")
    elif spread_pct is None:
        moved = ("this calibration file does not record how its repeated runs spread (a "
                 "newer `asim calibrate` does); on the reference VM they spread by 10-40 %")
    else:
        moved = (f"in this calibration, repeats of one ab command spread by up to "
                 f"{spread_pct:.0f} %")
    return (
        f"Points with a sleep of {CPU_DOMINATED_SLEEP_S * 1e3:g} ms or less are CPU-dominated "
        f"and follow the machine's CPU speed: {moved}; real runs vary about that much, and a "
        "fresh `asim calibrate` tracks a machine whose speed drifts."
    )


def _key(p: Point) -> tuple:
    s = p.scenario
    return (s.server, s.workers, s.sleep_s, s.concurrency, s.requests, s.keepalive, s.cores)


def print_table(
    points: Sequence[Point],
    *,
    title: str,
    cpu_spread_pct: float | None = None,
    calibrated: bool = False,
) -> None:
    console = Console()
    if not console.is_terminal:
        console = Console(width=150)  # piped output keeps whole columns
    console.print(table(points, title=title))
    notes = (
        finite_run_note(points), extrapolation_note(points), backlog_note(points),
        cpu_speed_note(points, cpu_spread_pct, calibrated=calibrated),
    )
    for note in notes:
        if note:
            console.print(note)
