"""Points the model predicts more than one way: which branch each measured point lies on.

Near the listen backlog real runs split between ones whose first burst overflows the accept
queue (the dropped SYNs are retried after 1 s) and ones where it does not, and the deterministic
model follows one of them; where it sees the race it also predicts the other outcomes
(`asim.grid.Prediction.alternatives`, `asim.validate.compare.Branch`). A measured point counts as
matched when its error against the nearest branch is within its tolerance: `IO_TOLERANCE_PCT`
for an IO-dominated point, max(10 %, its noise floor) for a CPU-dominated one. Every error of a
point predicted several ways, in the tables and the statistics, is its error against its nearest
branch (nearest in RPS; where the RPS cannot tell the branches apart, among the branches that lost
SYNs as most of its runs did: `PointComparison.matched`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from asim.validate.compare import METRICS_BY_KEY, PointComparison, error_pct
from asim.validate.noise import FLOOR_MIN_PCT, noise_floor
from asim.validate.study import cpu_dominated

# Issue 11's largest error for an IO-dominated hold-out point, bimodal ones counted by branch.
IO_TOLERANCE_PCT = 8.0
RPS = METRICS_BY_KEY["rps"]


def tolerance_pct(c: PointComparison, floors_pct: Mapping[str, float]) -> float:
    """How far a point may lie from its branch and still count as matched."""
    if cpu_dominated(c.point):
        return max(FLOOR_MIN_PCT, floors_pct.get(c.point.id, 0.0))
    return IO_TOLERANCE_PCT


def branch_lines(
    comparisons: Sequence[PointComparison], backlog_edges: Mapping[str, str]
) -> list[str]:
    """report.md's lines on the points predicted several ways, and on the points where the
    model came near the listen backlog (``backlog_edges``) without predicting another outcome."""
    bimodal = [c for c in comparisons if c.alternatives]
    floors = {r.point_id: r.floor_pct for r in noise_floor(comparisons).rows
              if r.metric.key == "rps"}
    lines: list[str] = []
    if bimodal:
        lines += [
            "",
            "Points the model predicts more than one way (a race real runs take either way): "
            "a point counts as matched when it lies on either branch, within "
            f"{IO_TOLERANCE_PCT:.0f} % (IO-dominated) or max({FLOOR_MIN_PCT:.0f} %, its noise "
            "floor) (CPU-dominated) of the nearest one. Its errors in every table and statistic "
            "of this report are those against its nearest branch.",
            "",
            "| Point | Measured RPS | Model RPS per branch (error) | Nearest branch | Matched |",
            "|---|---|---|---|---|",
        ]
        for c in bimodal:
            lines.append(_branch_row(c, tolerance_pct(c, floors), backlog_edges.get(c.point.id)))
    near = {pid: text for pid, text in backlog_edges.items()
            if pid not in {c.point.id for c in bimodal}}
    if near:
        lines += [
            "",
            "Near the listen backlog, real runs split between ones that lose SYNs (each waits a "
            "1 s retransmission) and ones that do not; at these points the model came near it "
            "but predicted one outcome, so its prediction can match only one kind:",
            "",
        ]
        lines += [f"- `{pid}`: {text}" for pid, text in near.items()]
    return lines


def _branch_row(c: PointComparison, tolerance: float, edge: str | None) -> str:
    measured = c.observed_value(RPS)
    matched = c.matched()
    cells = []
    for b in c.branches():
        value = RPS.value(b.report)
        error = None if measured is None else error_pct(value, measured)
        cells.append(f"{b.name}: {value:.1f}" + ("" if error is None else f" ({error:+.1f} %)"))
    point = f"`{c.point.id}`" + (f" ({edge})" if edge else "")
    if measured is None or matched is None:
        return f"| {point} | – | {'; '.join(cells)} | – | – |"
    error = error_pct(RPS.value(matched.report), measured)
    within = error is not None and abs(error) <= tolerance
    verdict = "yes" if within else f"**no** (more than {tolerance:.0f} % from every branch)"
    return f"| {point} | {measured:.1f} | {'; '.join(cells)} | {matched.name} | {verdict} |"
