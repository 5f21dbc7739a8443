"""The second calibration stage (the new shapes' costs), offline: it recovers known costs from
runs the model generated, its section of the calibration file round-trips, and a file without the
section follows the built-in costs."""

import functools
import json
import os
import subprocess
import sys
from dataclasses import replace

import pytest

from asim.calibration import shapes_fit
from asim.calibration.file import Calibration, Check, load, save
from asim.calibration.knobs import model_outcome
from asim.errors import CalibrationError, InputError
from asim.lab.measure import CpuRun
from asim.sim.costs import DEFAULT_COSTS, DJANGO_ASGI_ROUND_TRIPS, UNCALIBRATED

# The new shapes' costs unlike the built-in ones (each moved by 20-60 %), on first-stage costs
# that are not the built-in ones either.
FIRST = replace(DEFAULT_COSTS, worker_request_cpu_s=300e-6, loop_request_cpu_s=45e-6,
                wakeup_s=25e-6)
TRUTH = replace(FIRST, pool_item_cpu_s=60e-6, loop_handoff_cpu_s=140e-6,
                gthread_accept_cpu_s=130e-6, asgi_framework_cpu_s=1700e-6,
                asgi_thread_cpu_s=55e-6, asgi_thread_cold_cpu_s=900e-6,
                asgi_view_thread_cpu_s=110e-6, asgi_view_handoff_cpu_s=60e-6)
# What the model's threads beside the main ones spend per request at C = 1, sleep 0 (each pool
# item and each round trip runs on a thread of its own kind): the "measured" main-thread CPU.
OTHERS = {
    shapes_fit.EXECUTOR: TRUTH.pool_item_cpu_s,
    shapes_fit.GTHREAD: TRUTH.worker_cpu_s,
    shapes_fit.ASGI: DJANGO_ASGI_ROUND_TRIPS * TRUTH.asgi_thread_cpu_s,
    shapes_fit.ASGI_SYNC: (DJANGO_ASGI_ROUND_TRIPS * TRUTH.asgi_thread_cpu_s
                           + TRUTH.asgi_view_thread_cpu_s),
}


def synthetic_runs(costs, servers=shapes_fit.SERVERS):
    runs = {}
    for p in shapes_fit.plan(servers):
        run = CpuRun(server=p.server, sleep_s=p.sleep_s, requests=p.requests, concurrency=1,
                     workers=1, requests_per_second=1.0, server_cpu_s=1.0, ab_cpu_s=1.0,
                     time_per_request_ms=1.0)
        sim = model_outcome(run, costs)
        rps = sim.requests_per_second
        runs[p.name] = replace(run, requests_per_second=rps, server_cpu_s=sim.server_cpu_s,
                               ab_cpu_s=sim.ab_cpu_s,
                               main_cpu_s=sim.server_cpu_s - OTHERS[p.server],
                               time_per_request_ms=1e3 / rps)
    return runs


def test_second_stage_recovers_the_costs_that_generated_the_runs():
    result = shapes_fit.fit_shapes(synthetic_runs(TRUTH), FIRST)
    for name in UNCALIBRATED:
        assert getattr(result.costs, name) == pytest.approx(getattr(TRUTH, name), rel=0.02), name
    assert set(result.section["fitted"]) == {k.name for k in shapes_fit.KNOBS}
    assert set(result.section["closed_form"]) == {"pool_item_cpu_s", "asgi_thread_cpu_s",
                                                  "asgi_view_thread_cpu_s"}
    assert all(r.reproduced for r in result.check_runs)
    # The first stage's costs are kept as they were.
    assert result.costs.worker_request_cpu_s == FIRST.worker_request_cpu_s


def test_one_asgi_run_alone_charges_every_round_trip_alike():
    runs = synthetic_runs(TRUTH, servers=(shapes_fit.ASGI_SYNC,))
    values = shapes_fit.closed_form(runs)
    others = DJANGO_ASGI_ROUND_TRIPS * TRUTH.asgi_thread_cpu_s + TRUTH.asgi_view_thread_cpu_s
    assert values["asgi_thread_cpu_s"] == values["asgi_view_thread_cpu_s"] == pytest.approx(
        others / (DJANGO_ASGI_ROUND_TRIPS + 1))
    # Without the async view's run the loop's side of the view's round trip is not identified.
    assert "asgi_view_handoff_cpu_s" not in {k.name for k in shapes_fit.active_knobs(runs)}


def test_a_subset_fits_only_what_its_runs_pin():
    runs = synthetic_runs(TRUTH, servers=(shapes_fit.GTHREAD,))
    result = shapes_fit.fit_shapes(runs, FIRST)
    assert result.section["fitted"] == ["gthread_accept_cpu_s"]
    assert result.costs.gthread_accept_cpu_s == pytest.approx(TRUTH.gthread_accept_cpu_s,
                                                              rel=0.02)
    for name in ("loop_handoff_cpu_s", "asgi_framework_cpu_s", "pool_item_cpu_s"):
        assert getattr(result.costs, name) == getattr(FIRST, name), name


@pytest.mark.parametrize(("text", "servers"), [
    ("all", shapes_fit.SERVERS),
    ("first", ()),
    ("django-asgi-sync, aiohttp", (shapes_fit.ASGI_SYNC,)),
    ("aiohttp-mixed", ()),  # no cost of its own: the first stage's costs are its costs
])
def test_servers_option(text, servers):
    assert shapes_fit.parse_servers(text) == servers


@pytest.mark.parametrize("text", ["", "django-asgi,nginx"])
def test_servers_option_refuses_what_it_does_not_know(text):
    with pytest.raises(InputError):
        shapes_fit.parse_servers(text)


@functools.cache  # one fit (about a second), shared by the tests that only read it
def _calibration():
    runs = synthetic_runs(TRUTH)
    first_check = Check(runs=(), fitted=("wakeup_s",))
    return shapes_fit.extend(Calibration(costs=FIRST, check=first_check), runs)


def test_calibration_file_round_trip_with_the_section(tmp_path):
    cal = _calibration()
    read = load(save(cal, tmp_path / "c.json"))
    for name in UNCALIBRATED:
        assert getattr(read.costs, name) == pytest.approx(getattr(cal.costs, name)), name
    assert read.shapes == json.loads(json.dumps(cal.shapes))
    # The second stage's runs are in the self-check like the first stage's.
    assert [r.name for r in read.check.runs] == [p.name for p in shapes_fit.PLAN]
    # The recorded runs read back as they were measured: a refit gives the same costs.
    again = shapes_fit.recorded_runs(read)
    assert again.keys() == synthetic_runs(TRUTH).keys()
    refitted = shapes_fit.refit(read, replace(read, shapes={}))
    assert refitted.costs.asgi_framework_cpu_s == pytest.approx(cal.costs.asgi_framework_cpu_s,
                                                                rel=1e-3)


def test_a_file_without_the_section_follows_the_built_in_costs(tmp_path):
    cal = _calibration()
    doc = json.loads(cal.to_json())
    assert set(UNCALIBRATED).isdisjoint(doc["costs"])  # only in the section
    del doc["shapes"]
    path = tmp_path / "old.json"
    path.write_text(json.dumps(doc))
    read = load(path)
    assert read.shapes == {}
    for name in UNCALIBRATED:
        assert getattr(read.costs, name) == getattr(DEFAULT_COSTS, name), name
    assert read.costs.worker_request_cpu_s == FIRST.worker_request_cpu_s
    assert shapes_fit.recorded_runs(read) == {}


def test_a_section_with_first_stage_costs_is_refused(tmp_path):
    doc = json.loads(_calibration().to_json())
    doc["shapes"]["costs"]["worker_request_cpu_s"] = 1e-4
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(CalibrationError, match="first stage"):
        load(path)


def test_calibrate_refuses_an_unknown_server_in_one_line():
    out = subprocess.run([sys.executable, "-m", "asim", "calibrate", "--servers", "nginx",
                          "--out", os.devnull], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert "unknown server 'nginx'" in out.stderr and "Traceback" not in out.stderr


def test_summary_names_every_cost_and_how_it_was_found():
    lines = "\n".join(shapes_fit.summary_lines(_calibration()))
    for name in UNCALIBRATED:
        assert name in lines, name
    assert "closed form" in lines and "fitted, ±" in lines
    assert "built-in" in shapes_fit.summary_lines(Calibration(costs=FIRST))[0]


def test_a_cost_the_runs_push_below_zero_is_reported_at_its_bound():
    # A gthread run twice as fast as the first stage's costs allow even without an accept cost:
    # the fit holds the accept cost at 0 and says so instead of giving it an error bar.
    run = synthetic_runs(TRUTH, servers=(shapes_fit.GTHREAD,))["gthread warm"]
    fast = replace(run, requests_per_second=2 * run.requests_per_second,
                   server_cpu_s=run.server_cpu_s / 2, main_cpu_s=run.main_cpu_s / 2)
    result = shapes_fit.fit_shapes({"gthread warm": fast}, FIRST)
    assert result.section["at_bound"] == ["gthread_accept_cpu_s"]
    assert "gthread_accept_cpu_s" not in result.section["uncertainty_pct"]
    assert not result.check_runs[0].reproduced


def test_a_file_from_before_the_views_own_trip_keeps_its_meaning():
    # figures/holdout-7's file was fitted when every round trip cost the same: its sync view's
    # trip costs what its other trips cost, not the built-in values of the view's own trip
    # (and its three trips' thread CPU is spread over fifteen, below).
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "figures/holdout-7/calibration.json"
    raw = json.loads(path.read_text())["shapes"]["costs"]
    assert "asgi_view_thread_cpu_s" not in raw
    costs = load(path).costs
    assert costs.asgi_view_thread_cpu_s == raw["asgi_thread_cpu_s"]
    assert costs.asgi_view_handoff_cpu_s == costs.loop_handoff_cpu_s
    assert costs.asgi_thread_cpu_s == pytest.approx(raw["asgi_thread_cpu_s"] * 3 / 15)


@pytest.mark.parametrize("folder", ["shapes-3", "shapes-9", "holdout-7"])
def test_a_file_fitted_with_three_round_trips_keeps_its_cpu_per_request(folder, tmp_path):
    # Fitted when the model made three round trips with a hand-off each: the same thread CPU
    # and the same loop CPU per request over fifteen trips without hand-offs.
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / f"figures/{folder}/calibration.json"
    section = json.loads(path.read_text())["shapes"]
    assert "asgi_round_trips" not in section
    raw = section["costs"]
    handoff = raw.get("loop_handoff_cpu_s", DEFAULT_COSTS.loop_handoff_cpu_s)
    read = load(path)
    assert DJANGO_ASGI_ROUND_TRIPS * read.costs.asgi_thread_cpu_s == pytest.approx(
        3 * raw["asgi_thread_cpu_s"])
    framework = raw.get("asgi_framework_cpu_s")
    if framework is not None:
        assert read.costs.asgi_framework_cpu_s == pytest.approx(framework + 3 * handoff)
    # Saved again, it is marked and read back the same (not mapped twice).
    again = load(save(read, tmp_path / "again.json"))
    assert again.shapes["asgi_round_trips"] == DJANGO_ASGI_ROUND_TRIPS
    assert again.costs == replace(read.costs, source=again.costs.source)


def test_a_new_file_is_marked_with_its_round_trips():
    assert _calibration().shapes["asgi_round_trips"] == DJANGO_ASGI_ROUND_TRIPS
