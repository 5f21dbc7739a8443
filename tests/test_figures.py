"""The charts: pure plot functions draw the model as lines and measurements as bars."""

from pathlib import Path

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from validate_helpers import synthetic_report

from asim.validate.compare import PointComparison
from asim.validate.figures import (
    ObservedPoints,
    PredictedLine,
    plot_rps,
    plot_time_per_request,
    save_study_figures,
)
from asim.validate.tasks import BUILTIN_TASKS

XS = (5.0, 10.0, 20.0)


def _axes():
    fig = Figure()
    FigureCanvasAgg(fig)
    return fig.add_subplot()


def _curves():
    predicted = [
        PredictedLine(
            label="aiohttp",
            xs=XS,
            reports=tuple(synthetic_report(concurrency=int(c), request_ms=100) for c in XS),
        ),
        PredictedLine(
            label="Django, 1 worker",
            xs=XS,
            reports=tuple(synthetic_report(concurrency=int(c), taken_ms=2000) for c in XS),
        ),
    ]
    observed = [
        ObservedPoints(
            label="aiohttp",
            xs=XS,
            runs=tuple(
                tuple(synthetic_report(concurrency=int(c), taken_ms=t) for t in (180, 200, 260))
                for c in XS
            ),
        ),
        # one point without any measurement: no marker, no crash
        ObservedPoints(
            label="Django, 1 worker",
            xs=XS,
            runs=(
                (synthetic_report(concurrency=5, taken_ms=2100),),
                (),
                (synthetic_report(concurrency=20, taken_ms=1900),),
            ),
        ),
    ]
    return predicted, observed


def test_rps_chart_lines_are_the_predictions_and_bars_span_the_repeats():
    predicted, observed = _curves()
    ax = _axes()
    assert plot_rps(ax, predicted, observed) is ax
    lines = [ln for ln in ax.get_lines() if ln.get_label() in ("aiohttp", "Django, 1 worker")]
    assert len(lines) == 2
    assert list(lines[0].get_ydata()) == pytest.approx(
        [r.requests_per_second for r in predicted[0].reports]
    )
    assert len(ax.containers) == 2  # one errorbar set per server
    aio_bars = ax.containers[0]
    marker_y = list(aio_bars.lines[0].get_ydata())
    assert marker_y == pytest.approx([20 / 0.2] * 3)  # median of 180, 200, 260 ms runs
    segments = aio_bars.lines[2][0].get_segments()
    low, high = segments[0][0][1], segments[0][1][1]
    assert (low, high) == (pytest.approx(20 / 0.26), pytest.approx(20 / 0.18))
    assert len(ax.containers[1].lines[0].get_xdata()) == 2
    assert "#/s" in ax.get_ylabel()
    assert ax.get_ylim()[0] == 0


def test_time_chart_has_both_time_per_request_lines_for_each_server():
    predicted, observed = _curves()
    ax = plot_time_per_request(_axes(), predicted, observed, title="T")
    labels = [ln.get_label() for ln in ax.get_lines()]
    for server in ("aiohttp", "Django, 1 worker"):
        assert f"{server}: per request" in labels
        assert f"{server}: across all concurrent" in labels
    per_request = next(ln for ln in ax.get_lines() if ln.get_label() == "aiohttp: per request")
    assert list(per_request.get_ydata()) == pytest.approx(
        [r.time_per_request_ms for r in predicted[0].reports]
    )
    assert ax.get_yscale() == "log"
    assert "ms" in ax.get_ylabel() and ax.get_title() == "T"
    assert len(ax.containers) == 4
    legend_texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("model" in t for t in legend_texts) and any("measured" in t for t in legend_texts)


def test_plot_functions_do_not_need_any_measurement():
    predicted, _ = _curves()
    ax = plot_rps(_axes(), predicted, [])
    assert len(ax.containers) == 0 and len(ax.get_lines()) >= 2


def test_save_study_figures_writes_png_and_svg(tmp_path: Path):
    (study,) = BUILTIN_TASKS["task9"]
    comparisons = [
        PointComparison(
            point=p,
            predicted=synthetic_report(concurrency=p.concurrency, requests=100, taken_ms=10_000),
            observed=(synthetic_report(concurrency=p.concurrency, requests=100, taken_ms=10_100),),
        )
        for p in study.points()
    ]
    pngs = save_study_figures(study, comparisons, tmp_path)
    assert [p.name for p in pngs] == ["task9-time.png", "task9-rps.png"]
    for png in pngs:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert png.with_suffix(".svg").read_text().lstrip().startswith("<?xml")
