"""The explore app's HTTP surface without a browser: what the JSON endpoints answer, the 400s
bad input gets (with the CLI's own messages), what the app refuses to serve, and the
`asim explore` process itself (its URL line, Ctrl-C, the offline export)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gzip
import io
import json
import re
import shutil
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from unittest import mock

import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import event, given, settings
from hypothesis import strategies as st

from asim import cli
from asim.calibration.file import resolve
from asim.errors import InputError
from asim.explore.app import make_app
from asim.explore.export import ExportGrid, build_export
from asim.explore.grid import DEFAULTS, MAX_SIMULATED_REQUESTS, check_work, parse_query
from asim.explore.page import plotly_js
from asim.grid import predict, scenarios

ASIM = [sys.executable, "-m", "asim"]
REPO = Path(__file__).resolve().parent.parent
SEED_RESULTS = REPO / "figures"  # the seed's `asim validate all` folder, committed


def get(path: str, **app_options) -> tuple[int, dict | str, str]:
    """GET ``path`` from a fresh app on a real loopback socket: status, body, content type."""
    async def go():
        async with TestClient(TestServer(make_app(**app_options))) as client:
            response = await client.get(path)
            kind = response.content_type
            body = await (response.json() if kind == "application/json" else response.text())
            return response.status, body, kind

    return asyncio.run(go())


def cli_error(*args: str) -> str:
    """The one-line message `asim predict` prints for these options (without its prefix), from
    the CLI's own entry point run in this process."""
    stderr = io.StringIO()
    with (mock.patch.object(sys, "argv", ["asim", "predict", *args]),
          contextlib.redirect_stderr(stderr), pytest.raises(SystemExit) as exit_):
        cli.main()
    assert exit_.value.code == 2, stderr.getvalue()
    (line,) = stderr.getvalue().strip().splitlines()
    assert line.startswith("asim: error: ")
    return line.removeprefix("asim: error: ")


def test_the_default_answer_is_the_cli_grid_with_abs_text():
    status, body, kind = get("/api/predict")
    assert (status, kind) == (200, "application/json")
    grid = scenarios(servers=("aiohttp", "django"), workers=(1,), sleeps_s=(0.1,),
                     concurrencies=tuple(range(5, 41, 5)), requests=100, cores=2)
    expected = [p.to_dict() for p in predict(grid, costs=resolve("auto").costs)]
    assert [{k: v for k, v in p.items() if k != "ab_text"} for p in body["points"]] == expected
    assert all("Requests per second:" in p["ab_text"] for p in body["points"])
    assert body["calibration"] == resolve("auto").describe()


def test_overlays_add_mva_and_bounds_points():
    status, body, _ = get("/api/predict?server=django&workers=1,4&c_from=10&c_to=30&c_step=10"
                          "&method=mva,bounds")
    assert status == 200
    methods = [(p["workers"], p["concurrency"], p["method"]) for p in body["points"]]
    assert methods == [(w, c, m) for w in (1, 4) for c in (10, 20, 30)
                       for m in ("des", "mva", "bounds")]
    assert all("ab_text" not in p for p in body["points"] if p["method"] != "des")


@pytest.mark.parametrize("query, cli_args", [
    ("sleep=-1", ("--sleep", "-1")),
    ("server=nginx", ("--server", "nginx")),
    ("c_from=50&c_to=150&c_step=50", ("-c", "50,100,150", "-n", "100")),
    ("sleep=abc", ("--sleep", "abc")),
    ("workers=1,,2", ("--workers", "1,,2")),
    ("workers=0&server=django", ("--workers", "0", "--server", "django")),
    ("sleep=nan", ("--sleep", "nan")),
])
def test_bad_input_gets_400_and_the_clis_message(query, cli_args):
    status, body, kind = get(f"/api/predict?{query}")
    assert (status, kind) == (400, "application/json")
    assert body == {"error": cli_error(*cli_args)}


@pytest.mark.parametrize("query, words", [
    ("requests=100000", f"more than the page runs per change ({MAX_SIMULATED_REQUESTS})"),
    ("c_from=1&c_to=100000000000000000000&c_step=1", "the page draws at most"),
    ("c_from=10&c_to=5", "--concurrency to (5) is below from (10)"),
    ("c_step=0", "--concurrency step must be >= 1"),
    ("keepalive=maybe", "--keepalive: 'maybe' is not on or off"),
    ("method=des", "unknown method 'des'"),
    ("cores=0", "--cores must be >= 1"),
    ("sleep=0.1,0.2", "--sleep: one value, not a list"),
    ("path=/etc/passwd", "unknown field 'path'"),
])
def test_page_only_limits_and_hand_crafted_fields_get_one_line_400s(query, words):
    status, body, _ = get(f"/api/predict?{query}")
    assert status == 400
    assert words in body["error"] and "\n" not in body["error"]


def test_the_limit_message_is_returned_quickly_without_simulating():
    status, body, _ = get("/api/predict?server=aiohttp,aiohttp-blocking,django&workers=1,2,4,8"
                          "&c_from=1&c_to=40&c_step=1&requests=50000")
    assert status == 400 and "simulated requests" in body["error"]


def test_a_clicked_point_gets_its_small_run_timeline():
    status, body, _ = get("/api/timeline?server=django&workers=2&c=40&sleep=0.05&requests=100")
    assert status == 200
    assert (body["server"], body["workers"], body["concurrency"], body["requests"]) == (
        "django", 2, 20, 60)
    roles = [lane["role"] for lane in body["lanes"]]
    assert roles.count("slot") == 20 and roles.count("worker") == 2
    handler = body["kinds"].index("handler")
    sleeps = [e - s for lane in body["lanes"] if lane["role"] == "slot"
              for s, e, k, _ in lane["segments"] if k == handler]
    assert len(sleeps) == 60 and min(sleeps) >= 50.0  # each request sleeps S = 50 ms


def test_a_timeline_names_one_point():
    status, body, _ = get("/api/timeline?server=aiohttp,django&c=5")
    assert status == 400 and body["error"] == "a point names one server and one W"
    status, body, _ = get("/api/timeline?server=django")
    assert status == 400 and "missing field 'c'" in body["error"]


def test_measured_points_come_from_the_results_folder_only(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    for name in ("plan.json", "points.jsonl"):
        shutil.copy(SEED_RESULTS / name, folder / name)
    status, body, _ = get("/api/measured", results=folder)
    assert status == 200 and body["folder"] == "run"
    lines = [json.loads(ln) for ln in (folder / "points.jsonl").read_text().splitlines()]
    aio5 = [ln["observed"]["requests_per_second"] for ln in lines
            if ln["point_id"] == "aiohttp-s0.1-c5-n100" and ln["observed"]]
    (point,) = [p for p in body["points"] if p["server"] == "aiohttp" and p["concurrency"] == 5]
    assert point["runs"] == len(aio5)
    assert point["requests_per_second"]["min"] == min(aio5)
    assert point["requests_per_second"]["max"] == max(aio5)
    status, body, _ = get("/api/measured")
    assert status == 400 and "without --results" in body["error"]


@pytest.mark.parametrize("path", [
    "/static/../../../../etc/passwd", "/static/%2e%2e/%2e%2e/etc/passwd", "/../pyproject.toml",
    "/static/explore.css/../../app.py", "/static/page.html", "/api/../app.py",
])
def test_nothing_outside_the_routes_is_served(path):
    status, body, _ = get(path)
    assert status == 404 and body == {"error": "Not Found"}


def test_the_page_and_its_scripts_come_from_the_app():
    status, page, kind = get("/?lang=ru")
    assert (status, kind) == (200, "text/html")
    assert '<html lang="ru">' in page
    assert not re.search(r"""src=["']?(https?:)?//""", page)  # nothing from the internet
    status, script, kind = get("/static/plotly.min.js")
    assert (status, kind) == (200, "text/javascript") and "plotly.js" in script[:2000]
    status, body, _ = get("/?lang=de")
    assert status == 400 and body["error"] == "--lang must be one of en, ru, not 'de'"


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_asim_explore_prints_its_url_and_stops_cleanly(stop):
    child = subprocess.Popen([*ASIM, "explore", "--port", "0"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        line = child.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+/", line).group(0)
        with urllib.request.urlopen(url + "api/predict?server=aiohttp", timeout=30) as r:
            assert r.status == 200
        with pytest.raises(urllib.error.HTTPError) as bad:
            urllib.request.urlopen(url + "api/predict?sleep=-1", timeout=30)
        assert bad.value.code == 400
        child.send_signal(stop)
        out, err = child.communicate(timeout=20)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 0
    assert out.strip() == "stopped" and "Traceback" not in err


def test_a_busy_port_is_one_line_and_exit_2():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        out = subprocess.run([*ASIM, "explore", "--port", str(port)], capture_output=True,
                             text=True, timeout=60)
    assert out.returncode == 2
    assert out.stderr.startswith(f"asim: error: cannot listen on 127.0.0.1:{port}")
    assert len(out.stderr.strip().splitlines()) == 1


def test_the_offline_file_holds_plotly_and_the_models_grid():
    grid = ExportGrid(servers=("aiohttp", "django"), workers=(1, 2), sleeps_s=(0.1,),
                      requests=(100,), concurrencies=(5, 10), keepalive=(False,), cores=(2,))
    html = build_export(grid=grid)
    assert "<script src" not in html and plotly_js()[:500] in html
    packed = re.search(r'<script id="asim-grid" type="application/octet-stream">([^<]+)<',
                       html).group(1)
    data = json.loads(gzip.decompress(base64.b64decode(packed)))
    des = [p for p in data["points"] if p["method"] == "des"]
    expected = predict(grid.scenarios(), costs=resolve("auto").costs)
    assert [{k: v for k, v in p.items() if k not in ("ab_text", "timeline")} for p in des] == [
        p.to_dict() for p in expected]
    assert all(0 <= p["timeline"] < len(data["timelines"]) for p in des)


def test_export_refuses_a_path_that_is_not_html(tmp_path, capsys):
    with (mock.patch.object(sys, "argv", ["asim", "explore", "--export",
                                          str(tmp_path / "x.png")]),
          pytest.raises(SystemExit) as exit_):
        cli.main()
    assert exit_.value.code == 2
    assert capsys.readouterr().err == (f"asim: error: --export must name an .html file, got "
                                       f"'{tmp_path / 'x.png'}'\n")


def test_both_languages_name_every_word_of_the_page():
    from asim.explore.texts import page_texts

    words = page_texts()
    assert set(words) == {"en", "ru"}
    assert set(words["en"]) == set(words["ru"])
    assert all(text.strip() for lang in words.values() for text in lang.values())


def test_a_sleep_ab_would_give_up_on_is_refused_in_one_line():
    # One worker sleeping 40 s: ab would hear nothing for longer than its 30 s poll timeout;
    # the grid's sleep limit (the CLI's) refuses it before anything is simulated.
    status, body, _ = get("/api/predict?server=django&sleep=40&requests=2&c_from=1&c_to=1")
    assert status == 400
    assert body["error"].startswith("--sleep 40: sleep must be between 0 and 25 s")
    assert "\n" not in body["error"]


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(
    st.sampled_from([*DEFAULTS, "lang", "c", "x"]),
    st.one_of(st.text(max_size=12), st.integers(-10**30, 10**30).map(str),
              st.floats(allow_nan=True, allow_infinity=True).map(str),
              st.lists(st.integers(-5, 500), max_size=5).map(lambda v: ",".join(map(str, v)))),
    max_size=6))
def test_any_hand_crafted_fields_are_a_grid_or_one_input_error(fields):
    try:
        query = parse_query(fields)
        grid = query.scenarios()
        check_work(grid)
    except InputError as exc:
        assert str(exc) and "\n" not in str(exc)
        event("refused")
        return
    event("a grid")
    assert len(grid) >= 1 and all(s.concurrency <= s.requests for s in grid)
    assert sum(s.requests for s in grid) <= MAX_SIMULATED_REQUESTS


def test_a_measured_point_shows_what_ab_printed_in_its_median_run(tmp_path):
    folder = tmp_path / "run"
    shutil.copytree(SEED_RESULTS / "raw", folder / "raw")
    for name in ("plan.json", "points.jsonl"):
        shutil.copy(SEED_RESULTS / name, folder / name)
    status, body, _ = get("/api/measured_text?server=django&workers=1&c=10", results=folder)
    assert status == 200
    runs = [json.loads(ln) for ln in (folder / "points.jsonl").read_text().splitlines()]
    runs = sorted((r for r in runs if r["point_id"] == "django-w1-s0.1-c10-n100"),
                  key=lambda r: r["observed"]["requests_per_second"])
    median = runs[(len(runs) - 1) // 2]
    assert body["text"] == (folder / median["raw"]).read_text()
    assert (body["repeat"], body["runs"]) == (median["repeat"], len(runs))
    status, body, _ = get("/api/measured_text?server=django&workers=1&c=15", results=folder)
    assert status == 400 and "has no measured run of django w=1 S=0.1 c=15" in body["error"]


def test_a_measured_text_outside_the_results_folder_is_refused(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    (tmp_path / "secret.txt").write_text("not for the page")
    shutil.copy(SEED_RESULTS / "plan.json", folder / "plan.json")
    lines = (SEED_RESULTS / "points.jsonl").read_text().splitlines()
    forged = []
    for line in lines:
        record = json.loads(line)
        record["raw"] = "../secret.txt"
        forged.append(json.dumps(record))
    (folder / "points.jsonl").write_text("\n".join(forged) + "\n")
    status, body, _ = get("/api/measured_text?server=aiohttp&c=5", results=folder)
    assert status == 400 and "is not in run" in body["error"]
    assert "not for the page" not in json.dumps(body)


def test_threads_and_blocking_slice_are_predicts_options():
    status, body, _ = get("/api/predict?server=django-gthread,aiohttp-executor,aiohttp-mixed,"
                          "aiohttp&workers=1,2&threads=2,8&blocking=0.004&c_from=10&c_to=30"
                          "&c_step=20&sleep=0.05")
    assert status == 200
    grid = scenarios(servers=("django-gthread", "aiohttp-executor", "aiohttp-mixed", "aiohttp"),
                     workers=(1, 2), threads=(2, 8), blockings_s=(0.004,), sleeps_s=(0.05,),
                     concurrencies=(10, 30), requests=100, cores=2)
    expected = [p.to_dict() for p in predict(grid, costs=resolve("auto").costs)]
    assert [{k: v for k, v in p.items() if k != "ab_text"} for p in body["points"]] == expected
    lines = {(p["server"], p["workers"], p["threads"], p["blocking_s"]) for p in expected}
    assert lines == {("django-gthread", w, t, None) for w in (1, 2) for t in (2, 8)} | {
        ("aiohttp-executor", 1, 2, None), ("aiohttp-executor", 1, 8, None),
        ("aiohttp-mixed", 1, None, 0.004), ("aiohttp", 1, None, None)}
    # what the page resolves an empty field to, and a measured run that recorded none
    assert body["defaults"] == {
        "django-gthread": {"threads": 1, "blocking_s": None},
        "aiohttp-executor": {"threads": 6, "blocking_s": None},
        "aiohttp-mixed": {"threads": None, "blocking_s": 0.001},
        "aiohttp": {"threads": None, "blocking_s": None}}


def test_an_empty_threads_field_is_the_shapes_default():
    status, body, _ = get("/api/predict?server=aiohttp-executor,django-gthread&c_from=10"
                          "&c_to=10&cores=1&threads=&blocking=")
    assert status == 200
    assert [(p["server"], p["threads"]) for p in body["points"]] == [
        ("aiohttp-executor", 5), ("django-gthread", 1)]  # min(32, cores + 4); gunicorn's 1


@pytest.mark.parametrize("query, cli_args", [
    ("server=django-gthread&threads=0", ("--server", "django-gthread", "--threads", "0")),
    ("server=aiohttp-executor&threads=2000",
     ("--server", "aiohttp-executor", "--threads", "2000")),
    ("server=aiohttp-mixed&blocking=-1", ("--server", "aiohttp-mixed", "--blocking", "-1")),
    ("server=aiohttp-mixed&blocking=nan", ("--server", "aiohttp-mixed", "--blocking", "nan")),
    ("server=aiohttp&threads=4", ("--server", "aiohttp", "--threads", "4")),
    ("server=django&blocking=0.01", ("--server", "django", "--blocking", "0.01")),
    ("server=django-gthread&threads=x", ("--server", "django-gthread", "--threads", "x")),
    ("server=django-gthread&threads=2,,4", ("--server", "django-gthread", "--threads", "2,,4")),
])
def test_bad_threads_or_blocking_get_400_and_the_clis_message(query, cli_args):
    status, body, _ = get(f"/api/predict?{query}")
    assert status == 400
    assert body == {"error": cli_error(*cli_args)}


def test_a_clicked_point_of_a_threaded_shape_keeps_its_threads():
    status, body, _ = get("/api/timeline?server=django-gthread&workers=2&threads=3&c=10"
                          "&sleep=0.05")
    assert status == 200
    assert (body["server"], body["workers"], body["threads"], body["blocking_s"]) == (
        "django-gthread", 2, 3, None)
    status, body, _ = get("/api/timeline?server=django-gthread&threads=3,4&c=10")
    assert status == 400 and body["error"] == "a point names one T and one B"


def test_measured_runs_of_the_new_shapes_match_by_threads_and_slice(tmp_path):
    folder = tmp_path / "shapes"
    shutil.copytree(SEED_RESULTS / "shapes" / "raw", folder / "raw")
    for name in ("plan.json", "points.jsonl"):
        shutil.copy(SEED_RESULTS / "shapes" / name, folder / name)
    status, body, _ = get("/api/measured", results=folder)
    assert status == 200
    gthread = {(p["workers"], p["threads"]) for p in body["points"]
               if p["server"] == "django-gthread"}
    assert gthread == {(1, 4), (2, 8)}
    assert {p["blocking_s"] for p in body["points"] if p["server"] == "aiohttp-mixed"} == {0.002}
    query = "server=django-gthread&workers=2&threads=8&sleep=0.05&requests=600&c=50"
    status, body, _ = get(f"/api/measured_text?{query}", results=folder)
    assert status == 200 and "Server Software:        gunicorn" in body["text"]
    assert body["runs"] == 3
    status, body, _ = get(f"/api/measured_text?{query.replace('threads=8', 'threads=4')}",
                          results=folder)
    assert status == 400 and "has no measured run of django-gthread w=2 t=4" in body["error"]
    # a run that recorded no threads ran with the shape's default: 6 threads on 2 cores
    query = "server=aiohttp-executor&sleep=0.02&requests=400&c=20&cores=2"
    status, body, _ = get(f"/api/measured_text?{query}&threads=6", results=folder)
    assert status == 200 and body["runs"] == 3
    status, body, _ = get(f"/api/measured_text?{query}&threads=4", results=folder)
    assert status == 400
    status, body, _ = get("/api/measured_text?server=aiohttp-mixed&blocking=0.002&sleep=0.02"
                          "&requests=400&c=20", results=folder)
    assert status == 200 and "Server Software:        Python/" in body["text"]


def test_the_offline_file_holds_the_threads_and_slices_of_its_grid():
    grid = ExportGrid(servers=("aiohttp", "django-gthread", "aiohttp-mixed"), workers=(1,),
                      threads=(None, 1, 4), blockings_s=(None, 0.01), sleeps_s=(0.1,),
                      requests=(100,), concurrencies=(10,), keepalive=(False,), cores=(2,))
    assert grid.fields()["threads"] == {"value": "", "options": ["", "1", "4"]}
    assert grid.fields()["blocking"] == {"value": "", "options": ["", "0.01"]}
    # gunicorn's default is 1 thread: T empty and T=1 are one point, predicted once
    assert [(s.server, s.threads, s.blocking_s) for s in grid.scenarios()] == [
        ("aiohttp", None, None), ("django-gthread", 1, None), ("django-gthread", 4, None),
        ("aiohttp-mixed", None, 0.001), ("aiohttp-mixed", None, 0.01)]
    html = build_export(grid=grid)
    packed = re.search(r'<script id="asim-grid" type="application/octet-stream">([^<]+)<',
                       html).group(1)
    data = json.loads(gzip.decompress(base64.b64decode(packed)))
    assert data["defaults"]["2"]["django-gthread"] == {"threads": 1, "blocking_s": None}
    des = [(p["server"], p["threads"], p["blocking_s"]) for p in data["points"]
           if p["method"] == "des"]
    assert des == [(s.server, s.threads, s.blocking_s) for s in grid.scenarios()]
    assert "threads" not in ExportGrid(servers=("aiohttp", "django")).fields()
