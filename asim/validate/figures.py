"""The lab's two charts per task, predicted against observed, ready to project.

`plot_time_per_request` and `plot_rps` are pure: they draw on the Axes they are given and return
it. The model's values are lines; measurements are markers (the median over the repeats) with a
bar from the minimum to the maximum. `save_study_figures` is the only function that writes files
(PNG and SVG, Agg renderer, no pyplot state).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import NullFormatter, ScalarFormatter

from asim.sim.abreport import AbReport
from asim.validate.compare import METRICS_BY_KEY, Metric, PointComparison, by_id
from asim.validate.study import X_CONCURRENCY, Study

TITLE_PT = 20
LABEL_PT = 17
TICK_PT = 15
LEGEND_PT = 13
LINE_W = 2.8
MARKER_PT = 10

KNOWN_COLOURS = {
    "aiohttp": "#1f6fb4",
    "aiohttp, blocking sleep": "#d62728",
    "Django, 1 worker": "#2a9d3a",
}
PALETTE = ("#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22")

X_LABELS = {
    X_CONCURRENCY: "Concurrent clients (ab -c)",
    "sleep_s": "IO wait in the handler, sleep (s)",
}

# No creation date or software version in the files, so a re-render of the same numbers
# writes the same bytes.
PNG_METADATA = {"Software": None}
SVG_METADATA = {"Date": None, "Creator": None}


@dataclass(frozen=True, kw_only=True)
class PredictedLine:
    """The model's reports for one server, one per x value."""

    label: str
    xs: tuple[float, ...]
    reports: tuple[AbReport, ...]


@dataclass(frozen=True, kw_only=True)
class ObservedPoints:
    """Measured reports for one server: for each x value, every repeat (possibly none)."""

    label: str
    xs: tuple[float, ...]
    runs: tuple[tuple[AbReport, ...], ...]


def colours_for(labels: Sequence[str]) -> dict[str, str]:
    """A fixed colour for the lab's servers, then palette colours in order of appearance."""
    colours: dict[str, str] = {}
    spare = iter(PALETTE)
    for label in labels:
        if label not in colours:
            colours[label] = KNOWN_COLOURS.get(label) or next(spare, "#333333")
    return colours


def _labels(predicted: Sequence[PredictedLine], observed: Sequence[ObservedPoints]) -> list[str]:
    return [c.label for c in predicted] + [c.label for c in observed]


def _draw_metric(
    ax: Axes,
    metric: Metric,
    predicted: Sequence[PredictedLine],
    observed: Sequence[ObservedPoints],
    *,
    colours: dict[str, str],
    linestyle: str,
    marker: str,
    suffix: str,
) -> None:
    # Servers that behave alike (blocking aiohttp and one Django worker) would hide each other:
    # earlier lines are drawn wider underneath, and markers are nudged apart along x.
    for i, line in enumerate(predicted):
        ax.plot(
            line.xs,
            [metric.value(r) for r in line.reports],
            color=colours[line.label],
            linestyle=linestyle,
            linewidth=LINE_W + 1.4 * max(0, min(len(predicted), 3) - 1 - i),
            label=f"{line.label}{suffix}",
            zorder=2,
        )
    all_xs = [x for pts in observed for x in pts.xs]
    span = (max(all_xs) - min(all_xs)) if all_xs else 0.0
    for i, pts in enumerate(observed):
        nudge = (i - (len(observed) - 1) / 2) * 0.012 * span
        xs, mid, low, high = [], [], [], []
        for x, runs in zip(pts.xs, pts.runs, strict=True):
            if not runs:
                continue
            values = sorted(metric.value(r) for r in runs)
            centre = statistics.median(values)
            xs.append(x + nudge)
            mid.append(centre)
            low.append(centre - values[0])
            high.append(values[-1] - centre)
        if xs:
            ax.errorbar(
                xs,
                mid,
                yerr=[low, high],
                fmt=marker,
                color=colours[pts.label],
                markersize=MARKER_PT,
                markerfacecolor="white",
                markeredgewidth=2.2,
                elinewidth=2.2,
                capsize=6,
                linestyle="none",
                zorder=3,
            )


def _finish(ax: Axes, *, x_label: str, y_label: str, title: str, xs: Sequence[float]) -> None:
    ax.set_xlabel(x_label, fontsize=LABEL_PT)
    ax.set_ylabel(y_label, fontsize=LABEL_PT)
    if title:
        ax.set_title(title, fontsize=TITLE_PT, pad=12)
    ticks = sorted(set(xs))
    if ticks:
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.tick_params(labelsize=TICK_PT)
    ax.grid(True, which="major", alpha=0.35)


def _legend(ax: Axes, *, extra: Sequence[Line2D]) -> None:
    handles, labels = ax.get_legend_handles_labels()
    handles = list(handles) + list(extra)
    labels = list(labels) + [h.get_label() for h in extra]
    # below the plot: inside, a legend of six entries hides measured points
    ax.legend(
        handles,
        labels,
        fontsize=LEGEND_PT,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.14),
        ncol=2,
        frameon=False,
    )


def _key_handles() -> list[Line2D]:
    return [
        Line2D([], [], color="#555555", linewidth=LINE_W, label="line: model (asim predict)"),
        Line2D(
            [],
            [],
            color="#555555",
            marker="o",
            markersize=MARKER_PT,
            markerfacecolor="white",
            markeredgewidth=2.2,
            linestyle="none",
            label="marker: measured with ab (bar: min–max)",
        ),
    ]


def plot_time_per_request(
    ax: Axes,
    predicted: Sequence[PredictedLine],
    observed: Sequence[ObservedPoints],
    *,
    x_label: str = X_LABELS[X_CONCURRENCY],
    title: str = "",
) -> Axes:
    """ab's two "Time per request" lines per server on a log scale: per request (solid, circles)
    and across all concurrent requests (dashed, squares)."""
    colours = colours_for(_labels(predicted, observed))
    for key, style, marker, suffix in (
        ("tpr", "-", "o", ": per request"),
        ("tpr_all", "--", "s", ": across all concurrent"),
    ):
        _draw_metric(
            ax,
            METRICS_BY_KEY[key],
            predicted,
            observed,
            colours=colours,
            linestyle=style,
            marker=marker,
            suffix=suffix,
        )
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(ScalarFormatter())
    ax.yaxis.set_minor_formatter(NullFormatter())
    _finish(
        ax,
        x_label=x_label,
        y_label="Time per request (ms, log scale)",
        title=title,
        xs=[x for c in [*predicted, *observed] for x in c.xs],
    )
    _legend(ax, extra=_key_handles())
    return ax


def plot_rps(
    ax: Axes,
    predicted: Sequence[PredictedLine],
    observed: Sequence[ObservedPoints],
    *,
    x_label: str = X_LABELS[X_CONCURRENCY],
    title: str = "",
) -> Axes:
    """Requests per second per server."""
    colours = colours_for(_labels(predicted, observed))
    _draw_metric(
        ax,
        METRICS_BY_KEY["rps"],
        predicted,
        observed,
        colours=colours,
        linestyle="-",
        marker="o",
        suffix="",
    )
    # from zero, with headroom: flat lines (one worker) must not sit on the top edge
    rps = METRICS_BY_KEY["rps"]
    values = [rps.value(r) for c in predicted for r in c.reports]
    values += [rps.value(r) for c in observed for runs in c.runs for r in runs]
    ax.set_ylim(0, max(values, default=1.0) * 1.15 or 1.0)
    _finish(
        ax,
        x_label=x_label,
        y_label="Requests per second (#/s)",
        title=title,
        xs=[x for c in [*predicted, *observed] for x in c.xs],
    )
    _legend(ax, extra=_key_handles())
    return ax


def study_curves(
    study: Study, comparisons: Sequence[PointComparison]
) -> tuple[list[PredictedLine], list[ObservedPoints]]:
    """The lines and markers of one study from its point comparisons."""
    found = by_id(comparisons)
    predicted, observed = [], []
    for series in study.series:
        cmps = [found.get(study.point(series, x).id) for x in study.xs]
        pred = [
            (x, c.predicted)
            for x, c in zip(study.xs, cmps, strict=True)
            if c is not None and c.predicted is not None
        ]
        if pred:
            predicted.append(
                PredictedLine(
                    label=series.label,
                    xs=tuple(x for x, _ in pred),
                    reports=tuple(r for _, r in pred),
                )
            )
        observed.append(
            ObservedPoints(
                label=series.label,
                xs=study.xs,
                runs=tuple(c.observed if c is not None else () for c in cmps),
            )
        )
    return predicted, observed


def figure_names(study: Study) -> tuple[str, str]:
    """File stems of a study's two charts."""
    return (f"{study.name}-time", f"{study.name}-rps")


def save_study_figures(
    study: Study, comparisons: Sequence[PointComparison], out_dir: Path
) -> list[Path]:
    """Draw and save a study's two charts as PNG and SVG; returns the PNG paths."""
    predicted, observed = study_curves(study, comparisons)
    x_label = X_LABELS[study.x]
    charts = (
        (plot_time_per_request, "time per request"),
        (plot_rps, "requests per second"),
    )
    saved = []
    for (plot, what), stem in zip(charts, figure_names(study), strict=True):
        fig = Figure(figsize=(12, 7.5), layout="constrained")
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        plot(
            ax,
            predicted,
            observed,
            x_label=x_label,
            title=f"{study.title}: {what}\n({study.fixed_text})",
        )
        png = Path(out_dir) / f"{stem}.png"
        fig.savefig(png, dpi=110, metadata=PNG_METADATA)
        with matplotlib.rc_context({"svg.hashsalt": "asim"}):  # stable ids: re-renders diff cleanly
            fig.savefig(png.with_suffix(".svg"), metadata=SVG_METADATA)
        saved.append(png)
    return saved
