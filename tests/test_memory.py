"""Server memory: the model (monotone, in sensible units, a rule for every shape), its figures in
calibration files, the measured peaks in validate's records, and `server_memory_mb` in the
output of `asim predict` and `asim size`."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asim.calibration.file import Calibration, load, save
from asim.errors import CalibrationError
from asim.grid import predict
from asim.sim.costs import Costs
from asim.sim.memory import (
    DEFAULT_MEMORY,
    MemoryCosts,
    ShapeMemory,
    fitted_memory,
    held,
    server_memory_mb,
)
from asim.sim.shapes import NAMES, THREADS, WORKERS, shape
from asim.sim.spec import Scenario
from asim.validate.memory import compare_memory, memory_markdown, memory_summary
from asim.validate.store import Record
from asim.validate.study import Plan, Series, Study

ASIM = [sys.executable, "-m", "asim"]


def scenario(name: str, *, workers: int = 1, threads: int | None = None, c: int = 10) -> Scenario:
    s = shape(name)
    return Scenario(server=name, workers=workers if s.takes(WORKERS) else 1,
                    threads=(threads or 4) if s.takes(THREADS) else None,
                    blocking_s=s.default_blocking_s, sleep_s=0.1, concurrency=c,
                    requests=max(c + 1, 100), cores=2)


@pytest.mark.parametrize("name", NAMES)
def test_every_shape_has_a_rule_and_built_in_figures(name):
    h = held(scenario(name))
    assert h.workers >= 1 and h.connections >= 1
    assert DEFAULT_MEMORY.of(name).worker_mb > 0


@pytest.mark.parametrize("name", NAMES)
def test_built_in_figures_are_in_their_units(name):
    # A Python web process holds tens of MiB; a connection or a thread holds KiB, not MiB
    # (a figure in the wrong unit would be off by 1024).
    m = DEFAULT_MEMORY.of(name)
    assert 10 <= m.worker_mb <= 200
    assert 0 <= m.master_mb <= 100
    assert 0 <= m.connection_kb <= 200
    assert 0 <= m.thread_kb <= 1024


@settings(max_examples=60, deadline=None)
@given(name=st.sampled_from(NAMES), c=st.integers(1, 5000), w=st.integers(1, 64),
       t=st.integers(1, 64))
def test_memory_never_falls_with_more_clients_workers_or_threads(name, c, w, t):
    base = scenario(name, workers=w, threads=t, c=c)
    m = server_memory_mb(base)
    assert server_memory_mb(replace(base, concurrency=c + 1, requests=c + 1)) >= m
    if shape(name).takes(WORKERS):
        assert server_memory_mb(replace(base, workers=w + 1)) > m
    if shape(name).takes(THREADS):
        assert server_memory_mb(replace(base, threads=t + 1)) >= m


def test_an_event_loop_grows_with_clients_and_sync_workers_do_not():
    loop = [server_memory_mb(scenario("aiohttp", c=c)) for c in (10, 1000, 10_000)]
    assert loop[0] < loop[1] < loop[2]
    pool = [server_memory_mb(scenario("django", workers=4, c=c)) for c in (10, 1000, 10_000)]
    assert pool[0] == pool[1] == pool[2]  # the other clients wait in the kernel's queue
    # a worker per client is the sync server's way to hold C at once, and it costs a process each
    assert server_memory_mb(scenario("django", workers=1000, c=1000)) > 20 * loop[1]


def test_sync_workers_hold_at_most_one_connection_each():
    assert held(scenario("django", workers=4, c=100)).connections == 4
    assert held(scenario("django", workers=8, c=3)).connections == 3
    g = held(scenario("django-gthread", workers=2, threads=8, c=5))
    assert g.threads == 2 * 3  # threads start as requests arrive: ceil(5 / 2) per worker
    assert held(scenario("aiohttp-executor", threads=32, c=5)).threads == 5


def test_uvicorn_has_a_supervisor_only_with_several_workers():
    assert held(scenario("django-asgi", workers=1)).masters == 0
    assert held(scenario("django-asgi", workers=2)).masters == 1


def test_fitted_figures_come_from_the_runs():
    runs = [
        {"server": "aiohttp", "workers": 1, "concurrency": 400, "idle_mb": 30.0,
         "peak_mb": 34.0},
        {"server": "django", "workers": 1, "concurrency": 0, "idle_mb": 50.0, "peak_mb": 50.0},
        {"server": "django", "workers": 3, "concurrency": 0, "idle_mb": 110.0, "peak_mb": 110.0},
    ]
    m = fitted_memory(runs, source="test")
    assert m.of("aiohttp").worker_mb == 30.0
    assert m.of("aiohttp").connection_kb == pytest.approx(4.0 * 1024 / 400)
    assert m.of("django").worker_mb == pytest.approx(30.0)
    assert m.of("django").master_mb == pytest.approx(20.0)
    assert m.of("django-gthread").worker_mb == pytest.approx(30.0)
    assert m.of("django-asgi") == DEFAULT_MEMORY.of("django-asgi")  # no runs: built-in


def test_calibration_round_trip_keeps_the_memory_section(tmp_path):
    memory = DEFAULT_MEMORY.with_shapes(
        {"aiohttp": ShapeMemory(worker_mb=12.5, connection_kb=3.25)}, source="test")
    runs = ({"server": "aiohttp", "workers": 1, "concurrency": 400, "idle_mb": 12.5,
             "peak_mb": 13.8},)
    path = save(Calibration(costs=Costs(), memory=memory, memory_runs=runs), tmp_path / "c.json")
    back = load(path)
    assert back.memory.of("aiohttp") == ShapeMemory(worker_mb=12.5, connection_kb=3.25)
    assert back.memory.of("django") == DEFAULT_MEMORY.of("django")
    assert back.memory_runs == runs
    assert back.memory.source == str(path)


def test_an_old_file_without_memory_loads_the_built_in_figures(tmp_path):
    path = save(Calibration(costs=Costs()), tmp_path / "old.json")
    assert "memory" not in json.loads(path.read_text())
    assert load(path).memory is DEFAULT_MEMORY


@pytest.mark.parametrize(("section", "needle"), [
    ([], "'memory' must be an object"),
    ({"aiohttp": {"worker_mb": -1}}, "worker_mb"),
    ({"aiohttp": {"workers_mb": 1}}, "unknown memory cost"),
    ({"aiohttp": {"worker_mb": "x"}}, "must be a number"),
])
def test_a_bad_memory_section_is_one_clear_error(tmp_path, section, needle):
    path = save(Calibration(costs=Costs()), tmp_path / "c.json")
    data = json.loads(path.read_text())
    data["memory"] = section
    path.write_text(json.dumps(data))
    with pytest.raises(CalibrationError, match=needle):
        load(path)


def test_memory_costs_need_every_shape():
    with pytest.raises(CalibrationError, match="lack the shape"):
        MemoryCosts(shapes={"aiohttp": DEFAULT_MEMORY.of("aiohttp")})


def test_predict_points_carry_server_memory():
    (p,) = predict(scenario("django", workers=3), costs=Costs())
    assert p.server_memory_mb == pytest.approx(server_memory_mb(p.scenario))
    assert p.to_dict()["server_memory_mb"] == round(p.server_memory_mb, 2)
    (m,) = predict(scenario("aiohttp"), method="mva", costs=Costs())
    assert m.to_dict()["server_memory_mb"] > 0


def test_predict_and_size_print_server_memory(tmp_path):
    env_args = ["--calibration", "none"]
    out = subprocess.run(
        [*ASIM, "predict", "--server", "aiohttp,django", "--workers", "2", "-c", "10",
         "--sleep", "0.1", "-n", "100", "--format", "json", "-j", "1", *env_args],
        capture_output=True, text=True, timeout=120, check=True).stdout
    points = json.loads(out)["points"]
    assert all(p["server_memory_mb"] > 0 for p in points)
    csv_out = subprocess.run(
        [*ASIM, "predict", "--server", "aiohttp", "-c", "10", "--sleep", "0.1", "-n", "100",
         "--format", "csv", "-j", "1", *env_args],
        capture_output=True, text=True, timeout=120, check=True).stdout
    assert "server_memory_mb" in csv_out.splitlines()[0]
    sized = subprocess.run(
        [*ASIM, "size", "--server", "django", "--sleep", "0.05", "-c", "40",
         "--target-rps", "300", "--p99-ms", "300", "--format", "json", "-j", "1", *env_args],
        capture_output=True, text=True, timeout=120, check=True).stdout
    z = json.loads(sized)["sizings"][0]
    found = z["found"]
    expected = server_memory_mb(Scenario(server="django", workers=found["workers"],
                                         sleep_s=0.05, concurrency=40, requests=400, cores=2))
    assert found["predicted"]["server_memory_mb"] == pytest.approx(expected, abs=0.01)


def _plan() -> Plan:
    study = Study(name="s", title="t", x="concurrency", concurrencies=(1, 10),
                  series=(Series(server="aiohttp"),), sleeps_s=(0.1,), requests=20)
    return Plan(name="p", studies=(study,), repeats=2)


def _record(point, repeat: int, peak: float | None) -> Record:
    return Record(point=point, repeat=repeat, observed=None, command="ab", returncode=0,
                  peak_memory_mb=peak, peak_rss_mb=None if peak is None else peak + 20)


def test_records_keep_the_peak_and_old_records_load_without_it():
    point = _plan().points()[0]
    r = _record(point, 1, 33.3)
    assert Record.from_dict(r.to_dict()).peak_memory_mb == 33.3
    old = r.to_dict()
    del old["peak_memory_mb"], old["peak_rss_mb"]
    assert Record.from_dict(old).peak_memory_mb is None


def test_validate_compares_the_smallest_peak_over_the_repeats():
    plan = _plan()
    small, large = plan.points()
    # a completed run needs a report; take a simulated one
    report = predict(small.scenario(cores=2), costs=Costs())[0].report
    records = [replace(_record(small, 1, 33.0), observed=report),
               replace(_record(small, 2, 40.0), observed=report)]
    comparisons = compare_memory(plan, records)
    by_id = {c.point.id: c for c in comparisons}
    assert by_id[small.id].measured_mb == 33.0
    assert by_id[large.id].measured_mb is None
    assert memory_summary(comparisons)["points"] == 1
    assert any(small.id in line for line in memory_markdown(comparisons))
