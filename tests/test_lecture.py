"""The lecture's numbers, its figure functions, the folder it writes and the two commands."""

import re
import subprocess
import sys

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from asim.errors import InputError
from asim.lecture import data, figures
from asim.lecture.build import build_lecture
from asim.lecture.captions import FIGURES, caption, number, server_name, texts
from asim.sim.costs import DEFAULT_COSTS, Costs
from asim.sim.model import simulate
from asim.sim.networks import worker_hold_s
from asim.sim.spec import Scenario

S = 0.1
ZERO = Costs(**{f: 0.0 for f in Costs.__dataclass_fields__ if f != "source"})
ASIM = [sys.executable, "-m", "asim"]


def axes():
    fig = Figure()
    FigureCanvasAgg(fig)
    return fig.add_subplot()


def legend_texts(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


# -- the numbers ------------------------------------------------------------------------------
def test_little_check_on_the_exact_one_worker_trace():
    # Intervals 0..S, S..2S, S..3S (tests/test_model_traces.py): L = 4S / 3S; the third request
    # waits S for the worker, so the mean number not yet in the handler is S / 3S.
    run = simulate(Scenario(server="django", sleep_s=S, requests=3, concurrency=2), costs=ZERO)
    check = data.little_check(run)
    assert check.end_s == pytest.approx(3 * S)
    assert check.mean_in_system == pytest.approx(4 / 3)
    assert check.mean_waiting == pytest.approx(1 / 3)
    assert check.throughput_rps * check.mean_response_s == pytest.approx(check.mean_in_system)
    assert check.throughput_rps * check.mean_wait_s == pytest.approx(check.mean_waiting)
    assert max(check.in_system) == 2


@pytest.mark.parametrize("server", ["aiohttp", "aiohttp-blocking", "django"])
def test_little_holds_on_real_cost_runs_and_stays_below_c(server):
    w = 2 if server == "django" else 1
    run = simulate(Scenario(server=server, sleep_s=S, requests=60, concurrency=8, workers=w))
    check = data.little_check(run)
    assert check.throughput_rps * check.mean_response_s == pytest.approx(check.mean_in_system)
    assert 0 < check.mean_in_system <= 8
    assert max(check.in_system) == 8


def test_capacity_curve_bounds_mva_and_finds_the_worker_knee():
    # Four cores for four workers: the pool is four plain servers (no flow-equivalent station).
    c = data.capacity_curve("dj", "django", workers=4, sleep_s=S, costs=DEFAULT_COSTS, cores=4,
                            max_clients=20, des_clients=(2, 10), des_requests=200)
    assert all(x <= u * (1 + 1e-9) for x, u in zip(c.mva_rps, c.upper_rps, strict=True))
    assert 3.5 < c.knee_clients < 4.5  # four workers: N* is about W
    hold_s = worker_hold_s(Scenario(server="django", workers=4, sleep_s=S, cores=4),
                           DEFAULT_COSTS)
    assert c.max_rps == pytest.approx(4 / hold_s, rel=1e-9)  # W / (S + CPU)
    assert len(c.des_rps) == 2 and c.des_rps[1] > c.des_rps[0]


def test_short_runs_lose_throughput_against_the_steady_state():
    c = data.finite_run_curve("a", "aiohttp", sleep_s=S, costs=DEFAULT_COSTS, cores=2,
                              clients=(40,), short_requests=100, long_requests=2000)
    assert c.short_rps[0] < 0.85 * c.mva_rps[0]  # the notes: 25-45 % lower at c=40, n=100
    assert abs(c.long_rps[0] / c.mva_rps[0] - 1) < 0.15


def test_workers_needed_is_the_first_curve_point_at_the_target():
    c = data.workers_curve(sleep_s=S, costs=DEFAULT_COSTS, cores=2, concurrency=40,
                           max_workers=12)
    need = c.workers_needed(50)
    assert need is not None
    assert c.mva_rps[need - 1] >= 50 > c.mva_rps[need - 2]
    assert c.workers_needed(1e6) is None
    assert list(c.mva_rps) == sorted(c.mva_rps)


def test_percentiles_are_ordered_and_a_lone_worker_queues():
    c = data.percentile_curve("d", "django", sleep_s=S, costs=DEFAULT_COSTS, cores=2,
                              clients=(1, 10), requests=50)
    for p50, p90, p100 in zip(c.p50_ms, c.p90_ms, c.p100_ms, strict=True):
        assert p50 <= p90 <= p100
    assert c.p50_ms[1] > 5 * c.p50_ms[0]  # ten clients, one worker: waits of ~10 sleeps


# -- the figure functions ----------------------------------------------------------------------
@pytest.mark.parametrize("lang", ["en", "ru"])
def test_plot_capacity_draws_mva_bound_points_and_knees(lang):
    t = texts(lang)
    curves = [
        data.capacity_curve(server_name(lang, s, w), s, workers=w, sleep_s=S,
                            costs=DEFAULT_COSTS, cores=2, max_clients=30,
                            des_clients=(1, 5), des_requests=100)
        for s, w in (("aiohttp", 1), ("django", 2))
    ]
    ax = figures.plot_capacity(axes(), curves, text=t)
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert ax.get_xlabel() == t["x_clients"] and ax.get_ylabel() == t["y_rps"]
    legend = legend_texts(ax)
    for name in (curves[0].name, curves[1].name, t["mva"], t["bound"], t["des"]):
        assert name in legend
    assert any(a.get_text().startswith("N* ≈ 2") for a in ax.texts)  # django, 2 workers
    assert len(ax.lines) >= 3 * len(curves)


def test_plot_little_shows_both_occupancies_and_their_means():
    run = simulate(Scenario(server="django", sleep_s=S, requests=20, concurrency=4))
    check = data.little_check(run)
    t = texts("en")
    ax = figures.plot_little(axes(), check, text=t)
    assert {t["in_system"], t["waiting"], t["time_average"], t["little"]} <= set(legend_texts(ax))
    levels = sorted(round(line.get_ydata()[0], 9) for line in ax.lines
                    if len(set(line.get_ydata())) == 1 and len(line.get_ydata()) == 2)
    assert round(check.mean_in_system, 9) in levels


def test_plot_finite_run_workers_and_percentiles_label_their_series():
    t = texts("ru")
    finite = [data.finite_run_curve("aiohttp", "aiohttp", sleep_s=S, costs=DEFAULT_COSTS,
                                    cores=2, clients=(5, 20), short_requests=40,
                                    long_requests=200)]
    ax = figures.plot_finite_run(axes(), finite, text=t)
    assert t["des_n"].format(n=40) in legend_texts(ax)
    assert t["des_n"].format(n=200) in legend_texts(ax)

    workers = [data.workers_curve(sleep_s=s, costs=DEFAULT_COSTS, cores=2, concurrency=20,
                                  max_workers=8, des_workers=(2,), des_requests=60)
               for s in (0.05, 0.1)]
    ax = figures.plot_workers(axes(), workers, target_rps=50, text=t)
    legend = legend_texts(ax)
    assert t["sleep_line"].format(sleep_ms=50) in legend
    assert t["target"].format(rps=50) in legend
    assert any(a.get_text() == f"W = {workers[1].workers_needed(50)}" for a in ax.texts)

    pct = [data.percentile_curve("Django", "django", sleep_s=S, costs=DEFAULT_COSTS, cores=2,
                                 clients=(1, 4), requests=20)]
    ax = figures.plot_percentiles(axes(), pct, text=t)
    assert ax.get_yscale() == "log"
    assert {t["p50"], t["p90"], t["p100"], "Django"} <= set(legend_texts(ax))
    assert len(ax.lines) == 3


# -- the folder --------------------------------------------------------------------------------
# Building a lecture takes seconds of simulation and drawing: `make test` runs these, `make
# test-fast` does not.
@pytest.fixture(scope="module",
                params=[pytest.param(lang, marks=pytest.mark.slow) for lang in ("en", "ru")])
def lecture(request, tmp_path_factory):
    return build_lecture(tmp_path_factory.mktemp(f"lecture-{request.param}"), lang=request.param)


def test_lecture_writes_every_figure_as_png_and_svg(lecture):
    assert [f.name for f in lecture.figures] == [
        "capacity", "little", "timelines", "finite-run", "workers", "percentiles", "memory",
        "shapes", "pools"]
    assert len(lecture.figures) == len(FIGURES) + 1  # memory: its words in asim.lecture.memory
    for f in lecture.figures:
        assert f.png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f.png.stat().st_size > 20_000
        assert "<svg" in f.svg.read_text()[:500]


def test_lecture_md_shows_each_figure_with_a_two_line_caption(lecture):
    text = lecture.markdown.read_text(encoding="utf-8")
    for f in lecture.figures:
        block = f"![{f.name}]({f.png.name})\n\n{f.caption[0]}  \n{f.caption[1]}\n"
        assert block in text
        assert all(len(line) > 40 for line in f.caption)
        assert "{" not in f.caption[0] + f.caption[1]


def test_lecture_speaks_its_language(lecture):
    words = " ".join(" ".join(f.caption) for f in lecture.figures)
    cyrillic = len(re.findall(r"[а-яё]", words, flags=re.I))
    if lecture.lang == "ru":
        assert cyrillic > 200
        assert re.search(r"\d,\d", words)  # decimal comma
    else:
        assert cyrillic == 0


def test_captions_quote_the_computed_numbers(lecture):
    lang = lecture.lang
    by_name = {f.name: f for f in lecture.figures}
    run = simulate(Scenario(server="django", workers=2, sleep_s=S, concurrency=10, requests=60))
    check = data.little_check(run)
    assert f"L = {number(check.mean_in_system, 2, lang)}" in by_name["little"].caption[0]
    curve = data.percentile_curve("x", "aiohttp", sleep_s=S, costs=DEFAULT_COSTS, cores=2,
                                  clients=(40,), requests=100)
    assert f"{curve.p50_ms[0]}" in by_name["percentiles"].caption[0]


def test_caption_refuses_an_unknown_language():
    with pytest.raises(InputError, match="--lang"):
        caption("fr", "little")


# -- the commands ------------------------------------------------------------------------------
def asim(*args, cwd=None):
    return subprocess.run([*ASIM, *args], capture_output=True, text=True, timeout=120, cwd=cwd)


def test_timeline_command_writes_png_and_svg(tmp_path):
    out = asim("timeline", "--server", "django", "--workers", "2", "--concurrency", "5",
               "--requests", "12", "--sleep", "0.1", "--out", str(tmp_path / "t.png"))
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "t.png").stat().st_size > 10_000
    assert (tmp_path / "t.svg").exists()
    assert str(tmp_path / "t.png") in out.stdout


@pytest.mark.live
def test_timeline_command_draws_a_real_run(tmp_path):
    out = asim("timeline", "--server", "aiohttp", "--observed", "--requests", "6",
               "--concurrency", "3", "--sleep", "0.05", "--out", str(tmp_path / "real.png"))
    assert out.returncode == 0, out.stderr
    assert "(measured)" in out.stdout
    assert (tmp_path / "real.png").stat().st_size > 10_000 and (tmp_path / "real.svg").exists()


@pytest.mark.slow  # seconds of simulation: `make test` runs it, `make test-fast` does not
def test_lecture_command_defaults_to_a_lecture_folder(tmp_path):
    out = asim("lecture", "--lang", "ru", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "lecture" / "lecture.md").exists()
    assert len(list((tmp_path / "lecture").glob("*.svg"))) == 9


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("lecture", "--lang", "fr"), "--lang"),
        (("timeline", "--requests", "0"), "requests"),
        (("timeline", "--lang", "de"), "--lang"),
        (("timeline", "--server", "nginx"), "unknown server"),
        (("timeline", "--server", "aiohttp", "--workers", "2"), "--workers"),
        (("timeline", "--requests", "5", "--concurrency", "9"), "exceeds"),
        (("timeline", "--requests", "5000", "--concurrency", "2"), "too many"),
        (("timeline", "--out", "picture.jpg"), ".png"),
        (("timeline", "--sleep", "nan"), "sleep"),
        (("lecture", "--out", "/proc/asim-lecture"), "cannot create"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, needle, tmp_path):
    out = asim(*args, cwd=tmp_path)
    assert out.returncode == 2, (out.stdout, out.stderr)
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], out.stderr
    assert "Traceback" not in out.stderr
    assert list(tmp_path.iterdir()) == []
