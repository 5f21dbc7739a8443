"""Server memory, predicted against measured: validate's check of `asim.sim.memory`.

Each run in points.jsonl records the server group's peak memory during ab (`peak_memory_mb`,
anonymous PSS, `asim.lab.memory`). A point's measured memory is the **smallest** peak over its
repeats: validate runs one server for every concurrency of a series, repeat after repeat, and
what the interpreter took for a larger C earlier is not given back, so a later repeat of a small
C can show the peak of an earlier large one. The first repeat, in ascending C, shows the point's
own. Runs recorded before validate measured memory have none and the point is left out.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from asim.sim.memory import DEFAULT_MEMORY, MemoryCosts, server_memory_mb
from asim.validate.compare import error_pct
from asim.validate.store import Record
from asim.validate.study import Plan, StudyPoint

MEMORY_FILE = "memory.json"


@dataclass(frozen=True, kw_only=True)
class MemoryComparison:
    """One point: the predicted peak memory and the smallest measured peak over its repeats."""

    point: StudyPoint
    predicted_mb: float
    measured_mb: float | None
    measured_rss_mb: float | None = None

    @property
    def error_pct(self) -> float | None:
        if self.measured_mb is None:
            return None
        return error_pct(self.predicted_mb, self.measured_mb)

    def to_dict(self) -> dict[str, object]:
        error = self.error_pct
        return {"point": self.point.id, "server": self.point.server,
                "workers": self.point.workers, "threads": self.point.threads,
                "concurrency": self.point.concurrency,
                "predicted_mb": round(self.predicted_mb, 2),
                "measured_mb": None if self.measured_mb is None else round(self.measured_mb, 2),
                "measured_rss_mb": (None if self.measured_rss_mb is None
                                    else round(self.measured_rss_mb, 2)),
                "error_pct": None if error is None else round(error, 2)}


def compare_memory(
    plan: Plan, records: Iterable[Record], memory: MemoryCosts = DEFAULT_MEMORY, *, cores: int = 2
) -> tuple[MemoryComparison, ...]:
    """One comparison per point of ``plan`` (measured None where no run recorded memory)."""
    peaks: dict[str, list[tuple[float, float | None]]] = {}
    for r in records:
        if r.complete and r.peak_memory_mb is not None:
            peaks.setdefault(r.point.id, []).append((r.peak_memory_mb, r.peak_rss_mb))
    out = []
    for p in plan.points():
        seen = min(peaks[p.id]) if p.id in peaks else (None, None)
        out.append(MemoryComparison(
            point=p, predicted_mb=server_memory_mb(p.scenario(cores=cores), memory),
            measured_mb=seen[0], measured_rss_mb=seen[1],
        ))
    return tuple(out)


def memory_summary(comparisons: Sequence[MemoryComparison]) -> dict[str, object]:
    """Median and max |error| over the points with a measurement, and the worst point."""
    errors = [(abs(e), c.point.id) for c in comparisons if (e := c.error_pct) is not None]
    if not errors:
        return {"points": 0, "median_abs_pct": None, "max_abs_pct": None, "worst_point": None}
    worst = max(errors)
    return {"points": len(errors),
            "median_abs_pct": round(statistics.median(e for e, _ in errors), 2),
            "max_abs_pct": round(worst[0], 2), "worst_point": worst[1]}


def memory_json(comparisons: Sequence[MemoryComparison], memory: MemoryCosts) -> dict[str, object]:
    """memory.json: the summary, the figures' source and every point."""
    return {"quantity": "peak anonymous PSS of the server's process group, MiB",
            "memory_costs": memory.source, "summary": memory_summary(comparisons),
            "points": [c.to_dict() for c in comparisons]}


def memory_markdown(comparisons: Sequence[MemoryComparison]) -> list[str]:
    """report.md's section: a row per measured point, then the summary in one line."""
    rows = [c for c in comparisons if c.measured_mb is not None]
    lines = ["## Server memory", ""]
    if not rows:
        return [*lines, "No run of this folder recorded the server's memory.", ""]
    lines += [
        "Peak anonymous memory (PSS) of the server's processes during each ab run, MiB: the "
        "smallest peak over the repeats, against `asim predict`'s `server_memory_mb` "
        "(RSS, which counts the pages forked workers share once per process, for reference).",
        "",
        "| point | model MiB | measured MiB | error | RSS MiB |",
        "|---|---:|---:|---:|---:|",
    ]
    for c in rows:
        rss = "-" if c.measured_rss_mb is None else f"{c.measured_rss_mb:.1f}"
        lines.append(f"| `{c.point.id}` | {c.predicted_mb:.1f} | {c.measured_mb:.1f} | "
                     f"{c.error_pct:+.1f} % | {rss} |")
    s = memory_summary(comparisons)
    lines += ["", f"Memory over {s['points']} points: median |error| {s['median_abs_pct']:.1f} %, "
              f"max {s['max_abs_pct']:.1f} % (`{s['worst_point']}`); the goal is 10 %.", ""]
    return lines
