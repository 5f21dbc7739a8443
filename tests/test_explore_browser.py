"""The explore page in a real headless Chromium, driven like a lecturer drives it.

Each test changes the page's controls, waits for the answer and compares what the charts hold
and what the ab panel shows with `asim predict --format json` for the same scenario. The
offline file is opened from disk with the network cut off. Needs Debian's chromium (``make
chromium``) and Playwright's Python package (``pip install playwright``; no `playwright
install`: it drives the system's Chromium).
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from asim.explore.export import ExportGrid, build_export, write_export
from asim.sim.abtext import parse_ab_text
from asim.sim.shapes import BLOCKING, THREADS, WORKERS, shape

CHROMIUM = Path(shutil.which("chromium") or "/usr/bin/chromium")  # Debian's package
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
ASIM = [sys.executable, "-m", "asim"]
REPO = Path(__file__).resolve().parent.parent
WAIT_MS = 60_000

pytestmark = pytest.mark.browser

if not CHROMIUM.exists():
    pytest.skip(f"browser tests need Chromium at {CHROMIUM}: run `make chromium` (as root it "
                "runs apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip(
    "playwright.sync_api",
    reason="browser tests need Playwright's Python package: pip install playwright "
           "(it drives the system's Chromium; no `playwright install` needed)")


def launch(p):
    return p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    """A copy of the seed's measured runs (figures/, written by `asim validate all`)."""
    folder = tmp_path_factory.mktemp("results")
    shutil.copytree(REPO / "figures" / "raw", folder / "raw")
    for name in ("plan.json", "points.jsonl"):
        shutil.copy(REPO / "figures" / name, folder / name)
    return folder


@contextlib.contextmanager
def explore(results: Path) -> Iterator[str]:
    """`asim explore` as a user starts it, on a free port; stopped with Ctrl-C."""
    child = subprocess.Popen([*ASIM, "explore", "--port", "0", "--results", str(results)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = child.stdout.readline()
        found = re.search(r"http://127\.0\.0\.1:\d+/", line)
        assert found, line + child.stderr.read()
        yield found.group(0)
        child.send_signal(signal.SIGINT)
        child.communicate(timeout=20)
        assert child.returncode == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


@pytest.fixture(scope="module")
def url(results):
    with explore(results) as address:
        yield address


@pytest.fixture(scope="module")
def shapes_url(tmp_path_factory):
    """The app with the new shapes' measured runs (figures/shapes, `asim validate shapes`)."""
    folder = tmp_path_factory.mktemp("shapes")
    shutil.copytree(REPO / "figures" / "shapes" / "raw", folder / "raw")
    for name in ("plan.json", "points.jsonl"):
        shutil.copy(REPO / "figures" / "shapes" / name, folder / name)
    with explore(folder) as address:
        yield address


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    yield pg
    context.close()
    assert errors == []


def predict_json(*args: str) -> list[dict]:
    out = subprocess.run([*ASIM, "predict", "--format", "json", *args], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)["points"]


def settled(pg, before: int) -> None:
    """Wait until the page has answered a change made after it had answered ``before``."""
    pg.wait_for_function("n => window.asimExplore && asimExplore.done > n", arg=before,
                         timeout=WAIT_MS)


def answered(pg) -> int:
    return pg.evaluate("() => window.asimExplore ? asimExplore.done : 0")


def change(pg, action) -> None:
    before = answered(pg)
    action()
    settled(pg, before)


def traces(pg, chart: str) -> list[dict]:
    """The data of one plotly chart, as the page handed it to plotly."""
    return pg.evaluate(
        """id => document.getElementById(id).data.map(t => ({
             name: t.name, meta: t.meta || {}, x: Array.from(t.x), y: Array.from(t.y),
             error_y: t.error_y ? {array: Array.from(t.error_y.array),
                                   arrayminus: Array.from(t.error_y.arrayminus)} : null}))""",
        chart)


def series(point: dict) -> str:
    """The page's name of ``point``'s line: the shape and the options it takes."""
    s = shape(point["server"])
    name = point["server"]
    if s.takes(WORKERS):
        name += f" W={point['workers']}"
    if s.takes(THREADS):
        name += f" T={point['threads']}"
    if s.takes(BLOCKING):
        name += f" B={point['blocking_s']:g} s"
    return name


def assert_charts_match(pg, expected: list[dict]) -> None:
    """Both charts hold one line per shape and method with predict's numbers, nothing more."""
    for chart, key in (("chart-rps", "requests_per_second"),
                       ("chart-time", "time_per_request_ms")):
        drawn = {(t["meta"]["series"], t["meta"]["method"]): (t["x"], t["y"])
                 for t in traces(pg, chart) if t["meta"].get("method") in ("des", "mva", "bounds")}
        want: dict[tuple[str, str], tuple[list, list]] = {}
        for p in expected:
            xs, ys = want.setdefault((series(p), p["method"]), ([], []))
            xs.append(p["concurrency"])
            ys.append(p[key])
        assert drawn == want


def assert_ab_text_matches(text: str, point: dict) -> None:
    """The panel's text is ab's report of ``point``: every number ab prints, at ab's
    precision."""
    report = parse_ab_text(text).report.to_dict()
    for key in ("connect_ms", "processing_ms", "waiting_ms", "total_ms", "percentiles_ms",
                "complete_requests", "failed_requests", "non_2xx_responses",
                "time_per_request_ms", "time_per_request_all_ms"):
        assert report[key] == point[key], key
    assert report["requests_per_second"] == pytest.approx(point["requests_per_second"],
                                                          abs=0.0051)
    assert report["time_taken_s"] == pytest.approx(point["time_taken_s"], abs=0.00051)
    assert f"Concurrency Level:      {point['concurrency']}\n" in text


def point_xy(pg, chart: str, name: str, c: int) -> tuple[float, float]:
    """Where the marker of line ``name`` at C = ``c`` is on the screen."""
    return pg.evaluate(
        """([id, name, c]) => {
             const gd = document.getElementById(id);
             const t = gd._fullData.find(t => t.name === name);
             const i = Array.from(t.x).indexOf(c);
             const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
             const box = gd.getBoundingClientRect();
             return [box.left + xa._offset + xa.l2p(t.x[i]), box.top + ya._offset + ya.l2p(t.y[i])];
           }""", [chart, name, c])


def click_point(pg, chart: str, name: str, c: int) -> None:
    """Click the marker of line ``name`` at C = ``c`` with the mouse, as a user does."""
    before = pg.evaluate("() => asimExplore.timelineDone")
    pg.mouse.click(*point_xy(pg, chart, name, c))
    pg.wait_for_function("n => asimExplore.timelineDone > n", arg=before, timeout=WAIT_MS)


def test_the_first_view_is_predicts_seed_grid_with_its_measurements(page, url):
    page.goto(url)
    settled(page, 0)
    expected = predict_json("--server", "aiohttp,django", "--workers", "1", "--sleep", "0.1",
                            "-c", "5,10,15,20,25,30,35,40", "-n", "100", "--cores", "2")
    assert_charts_match(page, expected)
    selected = page.evaluate("() => asimExplore.selected")
    (point,) = [p for p in expected if series(p) == series(selected)
                and p["concurrency"] == selected["concurrency"]]
    assert_ab_text_matches(page.inner_text("#ab-text"), point)
    measured = [t for t in traces(page, "chart-rps") if t["meta"].get("method") == "measured"]
    assert {t["meta"]["series"] for t in measured} == {"aiohttp", "django W=1"}
    for t in measured:  # the seed measured C = 5, 10, 20, 40 three times each
        assert t["x"] == [5, 10, 20, 40]
        assert all(lo >= 0 and hi >= 0 for lo, hi in zip(t["error_y"]["arrayminus"],
                                                         t["error_y"]["array"], strict=True))
    assert page.get_attribute("#status", "data-state") == "ready"


def test_changing_c_range_shape_and_sleep_repredicts(page, url):
    page.goto(url)
    settled(page, 0)
    change(page, lambda: (page.fill("#f-c_from", "10"), page.fill("#f-c_to", "60"),
                          page.fill("#f-c_step", "25"), page.fill("#f-requests", "200")))
    change(page, lambda: page.uncheck("input[name=server][value=django]"))
    assert page.is_disabled("#f-workers")  # no shape with workers is ticked
    change(page, lambda: page.check("input[name=server][value=django]"))
    assert page.is_enabled("#f-workers")
    change(page, lambda: page.check("input[name=server][value=aiohttp-blocking]"))
    change(page, lambda: page.uncheck("input[name=server][value=aiohttp]"))
    change(page, lambda: (page.fill("#f-sleep", "0.02"), page.fill("#f-workers", "2,4")))
    change(page, lambda: page.check("input[name=method][value=mva]"))
    expected = predict_json("--server", "aiohttp-blocking,django", "--workers", "2,4",
                            "--sleep", "0.02", "-c", "10,35,60", "-n", "200", "--cores", "2",
                            "--method", "all")
    expected = [p for p in expected if p["method"] != "bounds"]
    order = {"aiohttp-blocking": 0, "django": 1}
    expected.sort(key=lambda p: (order[p["server"]], p["workers"], p["method"] != "des"))
    assert_charts_match(page, expected)
    click_point(page, "chart-rps", "django W=4", 35)
    (point,) = [p for p in expected if series(p) == "django W=4" and p["concurrency"] == 35
                and p["method"] == "des"]
    assert_ab_text_matches(page.inner_text("#ab-text"), point)
    assert "ab -n 200 -c 35" in page.inner_text("#ab-command")
    lanes = page.evaluate("() => asimExplore.timeline.lanes.map(l => l.role)")
    assert lanes.count("slot") == 20 and lanes.count("worker") == 4  # the small run: -c 20
    drawn = traces(page, "chart-timeline")
    assert sum(len(t["x"]) for t in drawn) == sum(
        len(lane["segments"]) for lane in page.evaluate("() => asimExplore.timeline.lanes"))


def test_a_measured_point_shows_what_ab_printed(page, url, results):
    page.goto(url)
    settled(page, 0)
    selected = page.evaluate("() => asimExplore.selected")
    assert (selected["server"], selected["concurrency"]) == ("aiohttp", 20)  # measured there
    model_text = page.inner_text("#ab-text")
    page.click("#ab-show-measured")
    page.wait_for_function("() => document.getElementById('ab-panel').dataset.source === "
                           "'measured'", timeout=WAIT_MS)
    runs = [json.loads(ln) for ln in (results / "points.jsonl").read_text().splitlines()]
    runs = sorted((r for r in runs if r["point_id"] == "aiohttp-s0.1-c20-n100"),
                  key=lambda r: r["observed"]["requests_per_second"])
    median = runs[(len(runs) - 1) // 2]
    assert page.text_content("#ab-text") == (results / median["raw"]).read_text()
    assert f"the median of {len(runs)} runs" in page.inner_text("#ab-command")
    page.click("#ab-show-model")
    assert page.inner_text("#ab-text") == model_text
    click_point(page, "chart-rps", "django W=1", 15)  # no measurement at C = 15
    assert page.is_hidden("#ab-source")


def test_hovering_a_point_shows_its_numbers(page, url):
    page.goto(url)
    settled(page, 0)
    expected = predict_json("--server", "aiohttp,django", "--workers", "1", "--sleep", "0.1",
                            "-c", "30", "-n", "100", "--cores", "2")
    (point,) = [p for p in expected if p["server"] == "django"]
    page.mouse.move(*point_xy(page, "chart-time", "django W=1", 30))
    label = page.locator("#chart-time .hoverlayer .hovertext").first
    label.wait_for(timeout=WAIT_MS)
    text = label.text_content()
    assert "C = 30" in text
    assert f"RPS: {point['requests_per_second']:.2f} 1/s" in text
    assert f"time per request: {point['time_per_request_ms']:.3f} ms" in text
    assert f"median: {point['percentiles_ms']['50']} ms" in text


def test_bad_input_shows_the_clis_message_and_keeps_the_charts(page, url):
    page.goto(url)
    settled(page, 0)
    before = traces(page, "chart-rps")
    change(page, lambda: page.fill("#f-sleep", "-1"))
    cli = subprocess.run([*ASIM, "predict", "--sleep", "-1"], capture_output=True, text=True,
                         timeout=60)
    message = cli.stderr.strip().removeprefix("asim: error: ")
    assert page.get_attribute("#status", "data-state") == "error"
    assert page.inner_text("#status") == f"Error: {message}"
    assert traces(page, "chart-rps") == before
    change(page, lambda: (page.fill("#f-sleep", "0.1"), page.fill("#f-c_to", "120")))
    assert "concurrency 105 exceeds requests 100" in page.inner_text("#status")  # ab refuses
    change(page, lambda: (page.fill("#f-sleep", "0.1"), page.fill("#f-c_to", "40")))
    assert page.get_attribute("#status", "data-state") == "ready"


def test_the_page_speaks_russian(page, url):
    page.goto(url)
    settled(page, 0)
    page.click("#lang")
    layout = page.evaluate("() => document.getElementById('chart-rps').layout")
    assert layout["yaxis"]["title"]["text"] == "Запросов в секунду, 1/с"
    assert layout["xaxis"]["title"]["text"] == "Одновременных клиентов C (ab -c)"
    assert page.inner_text("h1").startswith("asim explore: что напечатает ab")
    page.goto(url + "?lang=ru")
    settled(page, 0)
    assert page.evaluate("() => document.documentElement.lang") == "ru"


def test_the_exported_file_draws_offline(browser, tmp_path):
    grid = ExportGrid(servers=("aiohttp", "django"), workers=(1, 2), sleeps_s=(0.05, 0.1),
                      requests=(100,), concurrencies=(5, 10, 20, 40), keepalive=(False,),
                      cores=(2,))
    path = write_export(tmp_path / "explore.html", build_export(grid=grid))
    context = browser.new_context(viewport={"width": 1600, "height": 1000}, offline=True)
    asked: list[str] = []

    def only_the_file(route):
        asked.append(route.request.url)
        if route.request.url.startswith("file:"):
            route.continue_()
        else:
            route.abort()

    context.route("**/*", only_the_file)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        pg.goto(path.as_uri())
        settled(pg, 0)
        expected = predict_json("--server", "aiohttp,django", "--workers", "1", "--sleep",
                                "0.1", "-c", "5,10,20,40", "-n", "100", "--cores", "2")
        assert_charts_match(pg, expected)
        change(pg, lambda: (pg.select_option("#f-sleep", "0.05"),
                            pg.select_option("#f-workers", "2")))
        expected = predict_json("--server", "aiohttp,django", "--workers", "2", "--sleep",
                                "0.05", "-c", "5,10,20,40", "-n", "100", "--cores", "2")
        assert_charts_match(pg, expected)
        selected = pg.evaluate("() => asimExplore.selected")
        (point,) = [p for p in expected if series(p) == series(selected)
                    and p["concurrency"] == selected["concurrency"]]
        pg.wait_for_function("() => asimExplore.timelineDone > 0", timeout=WAIT_MS)
        assert_ab_text_matches(pg.inner_text("#ab-text"), point)
        assert sum(len(t["x"]) for t in traces(pg, "chart-timeline")) > 0
        assert pg.evaluate("() => document.querySelector('#chart-rps .main-svg') !== null")
    finally:
        context.close()
    assert errors == []
    assert asked == [path.as_uri()]


def predict_error(*args: str) -> str:
    """The one-line message `asim predict` gives for these options."""
    out = subprocess.run([*ASIM, "predict", *args], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2, out.stdout + out.stderr
    return out.stderr.strip().removeprefix("asim: error: ")


def test_threads_and_a_blocking_slice_repredict(page, url):
    page.goto(url)
    settled(page, 0)
    # aiohttp and Django take neither: both fields greyed out
    assert page.is_disabled("#f-threads") and page.is_disabled("#f-blocking")
    change(page, lambda: page.check("input[name=server][value=django-gthread]"))
    assert page.is_enabled("#f-threads") and page.is_disabled("#f-blocking")
    change(page, lambda: (page.uncheck("input[name=server][value=aiohttp]"),
                          page.uncheck("input[name=server][value=django]"),
                          page.check("input[name=server][value=aiohttp-executor]"),
                          page.check("input[name=server][value=aiohttp-mixed]")))
    assert page.is_enabled("#f-threads") and page.is_enabled("#f-blocking")
    change(page, lambda: (page.fill("#f-threads", "2,8"), page.fill("#f-blocking", "0.004"),
                          page.fill("#f-workers", "2"), page.fill("#f-sleep", "0.05"),
                          page.fill("#f-c_from", "10"), page.fill("#f-c_to", "40"),
                          page.fill("#f-c_step", "10")))
    assert page.get_attribute("#status", "data-state") == "ready"
    cli = ("--server", "aiohttp-executor,aiohttp-mixed,django-gthread", "--workers", "2",
           "--threads", "2,8", "--blocking", "0.004", "--sleep", "0.05", "-c", "10,20,30,40",
           "-n", "100", "--cores", "2")
    expected = predict_json(*cli)
    assert {series(p) for p in expected} == {
        "aiohttp-executor T=2", "aiohttp-executor T=8", "aiohttp-mixed B=0.004 s",
        "django-gthread W=2 T=2", "django-gthread W=2 T=8"}
    assert_charts_match(page, expected)
    for name, c in (("django-gthread W=2 T=8", 30), ("aiohttp-mixed B=0.004 s", 20)):
        click_point(page, "chart-rps", name, c)
        (point,) = [p for p in expected if series(p) == name and p["concurrency"] == c]
        text = page.inner_text("#ab-text")
        assert_ab_text_matches(text, point)
        assert f"ab -n 100 -c {c}: {name}, sleep 0.05 s" in page.inner_text("#ab-command")
        software = "gunicorn" if name.startswith("django") else "Python/"
        assert f"Server Software:        {software}" in text
    assert page.evaluate("() => document.getElementById('chart-timeline').dataset.shape") == (
        "aiohttp-mixed B=0.004 s c=20")

    for field, value, option in (("#f-threads", "0", "--threads"),
                                 ("#f-blocking", "-1", "--blocking")):
        before = traces(page, "chart-rps")
        with page.expect_response(lambda r: "/api/predict?" in r.url) as answer:
            change(page, lambda: page.fill(field, value))  # noqa: B023 - called at once
        assert answer.value.status == 400
        bad = dict(zip(cli[::2], cli[1::2], strict=True))
        bad[option] = value
        message = predict_error(*(part for pair in bad.items() for part in pair))
        assert page.get_attribute("#status", "data-state") == "error"
        assert page.inner_text("#status") == f"Error: {message}"
        assert "\n" not in message and traces(page, "chart-rps") == before
        change(page, lambda: page.fill(field, "2,8" if option == "--threads" else "0.004"))  # noqa: B023
        assert page.get_attribute("#status", "data-state") == "ready"


def test_an_empty_threads_field_is_the_shapes_default_and_measured_runs_match(page, shapes_url):
    page.goto(shapes_url)
    settled(page, 0)
    change(page, lambda: (page.uncheck("input[name=server][value=aiohttp]"),
                          page.uncheck("input[name=server][value=django]"),
                          page.check("input[name=server][value=aiohttp-executor]"),
                          page.check("input[name=server][value=django-gthread]"),
                          page.fill("#f-sleep", "0.05"), page.fill("#f-requests", "600"),
                          page.fill("#f-c_from", "10"), page.fill("#f-c_to", "50"),
                          page.fill("#f-c_step", "40")))
    assert page.get_attribute("#f-threads", "placeholder") == "the shape's default"
    expected = predict_json("--server", "aiohttp-executor,django-gthread", "--sleep", "0.05",
                            "-c", "10,50", "-n", "600", "--cores", "2")
    assert {series(p) for p in expected} == {"aiohttp-executor T=6", "django-gthread W=1 T=1"}
    assert_charts_match(page, expected)
    measured = [t for t in traces(page, "chart-rps") if t["meta"].get("method") == "measured"]
    assert measured == []  # figures/shapes ran these with 4 threads at 0.05 s
    change(page, lambda: page.fill("#f-threads", "4"))
    measured = {t["meta"]["series"]: t["x"] for t in traces(page, "chart-rps")
                if t["meta"].get("method") == "measured"}
    assert measured == {"aiohttp-executor T=4": [10, 50], "django-gthread W=1 T=4": [10, 50]}
    click_point(page, "chart-rps", "django-gthread W=1 T=4", 50)
    page.click("#ab-show-measured")
    page.wait_for_function("() => document.getElementById('ab-panel').dataset.source === "
                           "'measured'", timeout=WAIT_MS)
    assert "Server Software:        gunicorn" in page.inner_text("#ab-text")
    assert "-c 50" in page.inner_text("#ab-command")


def test_the_exported_file_offers_threads_and_slices(browser, tmp_path):
    grid = ExportGrid(servers=("aiohttp", "django-gthread", "aiohttp-mixed"), workers=(1, 2),
                      threads=(None, 4), blockings_s=(None, 0.01), sleeps_s=(0.1,),
                      requests=(100,), concurrencies=(5, 10, 20), keepalive=(False,),
                      cores=(2,))
    path = write_export(tmp_path / "explore.html", build_export(grid=grid))
    context = browser.new_context(viewport={"width": 1600, "height": 1000}, offline=True)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        pg.goto(path.as_uri())
        settled(pg, 0)
        assert pg.inner_text("#f-threads option[value='']") == "the shape's default"
        change(pg, lambda: (pg.uncheck("input[name=server][value=django]"),
                            pg.check("input[name=server][value=django-gthread]"),
                            pg.check("input[name=server][value=aiohttp-mixed]"),
                            pg.select_option("#f-c_to", "20")))
        expected = predict_json("--server", "aiohttp,aiohttp-mixed,django-gthread", "--sleep",
                                "0.1", "-c", "5,10,20", "-n", "100", "--cores", "2")
        assert_charts_match(pg, expected)
        change(pg, lambda: (pg.select_option("#f-threads", "4"),
                            pg.select_option("#f-blocking", "0.01"),
                            pg.select_option("#f-workers", "2")))
        expected = predict_json("--server", "aiohttp,aiohttp-mixed,django-gthread", "--sleep",
                                "0.1", "-c", "5,10,20", "-n", "100", "--cores", "2",
                                "--workers", "2", "--threads", "4", "--blocking", "0.01")
        assert_charts_match(pg, expected)
        click_point(pg, "chart-rps", "django-gthread W=2 T=4", 10)
        (point,) = [p for p in expected if series(p) == "django-gthread W=2 T=4"
                    and p["concurrency"] == 10]
        assert_ab_text_matches(pg.inner_text("#ab-text"), point)
    finally:
        context.close()
    assert errors == []
