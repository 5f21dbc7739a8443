"""Pure plot functions of the lecture figures: each draws on the Axes it is given and returns it.

Texts (axis labels, legend entries) come in as a mapping so that one function draws the English
and the Russian figure; sizes are chosen to be read from the back of a lecture hall. Nothing here
creates a figure, saves a file or touches pyplot's global state.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from matplotlib.axes import Axes
from matplotlib.lines import Line2D

from asim.lecture.data import (
    CapacityCurve,
    FiniteRunCurve,
    LittleCheck,
    PercentileCurve,
    WorkersCurve,
)

TITLE_PT = 19
LABEL_PT = 17
TICK_PT = 14
LEGEND_PT = 13
LINE_W = 2.8
MARKER_PT = 9
PALETTE = ("#1f6fb4", "#2a9d3a", "#d62728", "#9467bd", "#ff7f0e", "#8c564b")


def _finish(ax: Axes, *, x_label: str, y_label: str, title: str) -> None:
    ax.set_xlabel(x_label, fontsize=LABEL_PT)
    ax.set_ylabel(y_label, fontsize=LABEL_PT)
    if title:
        ax.set_title(title, fontsize=TITLE_PT, pad=10)
    ax.tick_params(labelsize=TICK_PT)
    ax.grid(True, which="major", alpha=0.35)


def _key(text: Mapping[str, str], *entries: tuple[str, dict]) -> list[Line2D]:
    """Black legend entries that explain line styles (MVA, bound, simulation...)."""
    return [Line2D([], [], color="black", label=text[name], **style) for name, style in entries]


def plot_capacity(ax: Axes, curves: Sequence[CapacityCurve], *, text: Mapping[str, str]) -> Axes:
    """Throughput against clients on log–log axes: MVA (line), asymptotic bounds (dashed),
    the knee N* (dotted vertical) and simulated ab runs (markers), one colour per server."""
    handles = []
    for colour, c in zip(PALETTE, curves, strict=False):
        ax.plot(c.clients, c.mva_rps, color=colour, lw=LINE_W)
        ax.plot(c.clients, c.upper_rps, color=colour, lw=LINE_W * 0.7, ls="--")
        ax.plot(c.des_clients, c.des_rps, ls="none", marker="o", ms=MARKER_PT, color=colour,
                markeredgecolor="white")
        if math.isfinite(c.knee_clients) and c.clients[0] <= c.knee_clients <= c.clients[-1]:
            ax.axvline(c.knee_clients, color=colour, lw=1.6, ls=":")
            ax.annotate(f"N* ≈ {c.knee_clients:.0f}", (c.knee_clients, c.max_rps),
                        xytext=(6, 8), textcoords="offset points", color=colour,
                        fontsize=LEGEND_PT, fontweight="bold")
        handles.append(Line2D([], [], color=colour, lw=LINE_W, label=c.name))
    ax.set_xscale("log")
    ax.set_yscale("log")
    _finish(ax, x_label=text["x_clients"], y_label=text["y_rps"], title=text["title_capacity"])
    handles += _key(text, ("mva", {"lw": LINE_W}), ("bound", {"lw": LINE_W * 0.7, "ls": "--"}),
                    ("des", {"ls": "none", "marker": "o", "ms": MARKER_PT}))
    ax.legend(handles=handles, fontsize=LEGEND_PT, loc="upper left", framealpha=0.9)
    return ax


def plot_little(ax: Axes, check: LittleCheck, *, text: Mapping[str, str]) -> Axes:
    """Requests in the system and waiting before the handler over time (steps), with their
    time averages L (solid) and Little's X·R (dashed) that must coincide."""
    times = list(check.times_s) + [check.end_s]
    for values, colour, name in ((check.in_system, PALETTE[0], "in_system"),
                                 (check.waiting, PALETTE[2], "waiting")):
        ax.step(times, list(values) + [values[-1]], where="post", color=colour, lw=LINE_W * 0.8,
                label=text[name])
    rows = ((check.mean_in_system, check.throughput_rps * check.mean_response_s, PALETTE[0]),
            (check.mean_waiting, check.throughput_rps * check.mean_wait_s, PALETTE[2]))
    for mean, little, colour in rows:
        ax.axhline(mean, color=colour, lw=LINE_W * 2.5, alpha=0.3)  # wide: X·R lies on it
        ax.axhline(little, color="black", lw=LINE_W * 0.6, ls="--")
    handles, _ = ax.get_legend_handles_labels()
    handles += _key(text, ("time_average", {"lw": LINE_W * 2.5, "alpha": 0.3}),
                    ("little", {"lw": LINE_W * 0.6, "ls": "--"}))
    ax.set_xlim(0, check.end_s)
    ax.set_ylim(0, max(check.in_system) * 1.25)
    _finish(ax, x_label=text["x_time"], y_label=text["y_requests"], title=text["title_little"])
    ax.legend(handles=handles, fontsize=LEGEND_PT, loc="upper right", framealpha=0.9)
    return ax


def plot_finite_run(
    ax: Axes, curves: Sequence[FiniteRunCurve], *, text: Mapping[str, str]
) -> Axes:
    """RPS against clients: steady state (MVA line), a long ab run (filled markers) and ab's
    short run (hollow markers, dotted), one colour per server."""
    handles = []
    for colour, c in zip(PALETTE, curves, strict=False):
        ax.plot(c.clients, c.mva_rps, color=colour, lw=LINE_W)
        ax.plot(c.clients, c.long_rps, ls="none", marker="o", ms=MARKER_PT, color=colour,
                markeredgecolor="white")
        ax.plot(c.clients, c.short_rps, ls=":", lw=LINE_W * 0.7, marker="o", ms=MARKER_PT,
                color=colour, markerfacecolor="white", markeredgewidth=2)
        handles.append(Line2D([], [], color=colour, lw=LINE_W, label=c.name))
    first = curves[0]
    long_label = text["des_n"].format(n=first.long_requests)
    short_label = text["des_n"].format(n=first.short_requests)
    handles += _key(text, ("mva", {"lw": LINE_W}))
    handles += [
        Line2D([], [], color="black", ls="none", marker="o", ms=MARKER_PT, label=long_label),
        Line2D([], [], color="black", ls=":", marker="o", ms=MARKER_PT,
               markerfacecolor="white", markeredgewidth=2, label=short_label),
    ]
    ax.set_ylim(bottom=0)
    ax.set_xlim(left=0)
    _finish(ax, x_label=text["x_clients"], y_label=text["y_rps"], title=text["title_finite"])
    ax.legend(handles=handles, fontsize=LEGEND_PT, loc="upper left", framealpha=0.9)
    return ax


def plot_workers(
    ax: Axes, curves: Sequence[WorkersCurve], *, target_rps: float, text: Mapping[str, str]
) -> Axes:
    """Django's RPS against its workers, one line per sleep (MVA), simulated points, the target
    RPS (horizontal) and for each sleep the fewest workers that reach it (marked)."""
    for colour, c in zip(PALETTE, curves, strict=False):
        ax.plot(c.workers, c.mva_rps, color=colour, lw=LINE_W,
                label=text["sleep_line"].format(sleep_ms=c.sleep_s * 1000))
        if c.des_workers:
            ax.plot(c.des_workers, c.des_rps, ls="none", marker="o", ms=MARKER_PT, color=colour,
                    markeredgecolor="white")
        need = c.workers_needed(target_rps)
        if need is not None:
            ax.plot([need], [c.mva_rps[need - 1]], marker="D", ms=MARKER_PT * 1.3, color=colour,
                    markeredgecolor="black")
            ax.annotate(f"W = {need}", (need, c.mva_rps[need - 1]), xytext=(8, -22),
                        textcoords="offset points", color=colour, fontsize=LEGEND_PT,
                        fontweight="bold")
    ax.axhline(target_rps, color="black", lw=LINE_W * 0.6, ls="--",
               label=text["target"].format(rps=target_rps))
    handles, _ = ax.get_legend_handles_labels()
    handles += _key(text, ("des", {"ls": "none", "marker": "o", "ms": MARKER_PT}))
    ax.set_xlim(0, max(c.workers[-1] for c in curves) + 1)
    ax.set_ylim(bottom=0)
    _finish(ax, x_label=text["x_workers"], y_label=text["y_rps"], title=text["title_workers"])
    ax.legend(handles=handles, fontsize=LEGEND_PT, loc="upper left", framealpha=0.9)
    return ax


# Percentiles often coincide (a lockstep gives every request the same wait): the widest line
# goes underneath so that the others stay visible on top of it.
PERCENTILE_STYLES = ((50, "p50", "-", LINE_W * 1.6), (90, "p90", "--", LINE_W),
                     (100, "p100", ":", LINE_W))


def plot_percentiles(
    ax: Axes, curves: Sequence[PercentileCurve], *, text: Mapping[str, str]
) -> Axes:
    """ab's Total percentiles against clients (log y): colour per server, style per percentile."""
    handles = []
    for colour, c in zip(PALETTE, curves, strict=False):
        for _, key, style, width in PERCENTILE_STYLES:
            values = getattr(c, f"{key}_ms")
            ax.plot(c.clients, values, color=colour, ls=style, lw=width,
                    marker="o" if key == "p50" else None, ms=MARKER_PT * 0.7,
                    alpha=0.55 if key == "p50" else 1.0)
        handles.append(Line2D([], [], color=colour, lw=LINE_W, label=c.name))
    handles += [Line2D([], [], color="black", ls=style, lw=width, label=text[key])
                for _, key, style, width in PERCENTILE_STYLES]
    ax.set_yscale("log")
    ax.set_xlim(left=0)
    _finish(ax, x_label=text["x_clients"], y_label=text["y_latency"],
            title=text["title_percentiles"])
    ax.legend(handles=handles, fontsize=LEGEND_PT, loc="upper left", framealpha=0.9, ncol=2)
    return ax
