"""`asim calibrate` against the real servers and ab: plumbing and coarse physics.

On a machine like CI's one short CPU-bound run moves by 20-40 % from one minute to the next, so
these tests check what holds by orders of magnitude: costs of the right size, a serialised server
never faster than one request per sleep, an event loop well faster, the model on the same side,
the file written and read back. How close the model comes is measured by `asim validate` and
the benchmarks; the fitting itself is tested offline, on the committed calibration files, in
tests/test_calibration_refit.py.
"""

import json
import subprocess
import sys

import pytest

from asim.calibration.file import load, save
from asim.calibration.fit import ROUNDS, calibrate
from asim.lab.abrun import run_ab
from asim.lab.measure import CpuPlan, measure_rounds
from asim.lab.procs import ServerSpec, running_server
from asim.sim.model import ab_report
from asim.sim.spec import Scenario

pytestmark = pytest.mark.live

# Model and one fresh run agree to within this factor: a gross error (a wrong unit, a server
# that does not serialise, a cost a thousand times too big) is far outside it, a slow minute is
# well inside.
ORDER_OF_MAGNITUDE = 2.0
# ab's clock (gettimeofday) and the sleep's (CLOCK_MONOTONIC) may tick at slightly different
# rates while NTP slews: a bound of one request per sleep gets this much slack.
CLOCK_SLACK = 1.01


@pytest.fixture(scope="module")
def calibration():
    return calibrate(servers=())  # the first stage alone: the second has its own live test


def test_fitted_costs_are_positive_and_physically_plausible(calibration):
    c = calibration.costs
    for name in ("ab_cpu_s", "loop_cpu_s", "worker_cpu_s"):
        per_request = getattr(c, name)
        assert 10e-6 < per_request < 10e-3, (name, per_request)
    for name in ("ab_cold_cpu_s", "loop_cold_cpu_s", "worker_cold_cpu_s", "wakeup_s",
                 "loop_iteration_cpu_s", "ab_poll_cpu_s"):
        assert 0 <= getattr(c, name) < 5e-3, name
    assert 1e-3 <= c.cold_tau_s <= 0.1
    assert 0 <= c.time_sleep_overshoot_s < 5e-3
    assert 0 <= c.timer_overshoot_s < 5e-3
    measured = calibration.measured
    # Back-to-back requests cost less CPU than requests that find the processes cold.
    assert measured["django warm"]["server_cpu_us_per_request"] < (
        measured["django cold"]["server_cpu_us_per_request"]
    )
    assert calibration.machine["cores"] >= 1
    # Every measurement repeats its ab run, once per round, and records how far they lay apart.
    runs = [r for r in measured.values() if isinstance(r, dict)]
    assert all(r["rps_spread_pct"] >= 0 for r in runs)
    assert all(r["repeats"] == ROUNDS == len(r["every_rps"]) for r in runs)
    assert calibration.cpu_spread_pct() is not None


@pytest.mark.parametrize(
    ("kind", "sleep_s", "concurrency", "serialised"),
    [("django", 0.02, 4, True), ("aiohttp-blocking", 0.01, 4, True), ("aiohttp", 0.02, 8, False)],
)
def test_model_and_a_fresh_run_agree_on_the_physics(
    calibration, kind, sleep_s, concurrency, serialised
):
    n = 40
    with running_server(ServerSpec(kind=kind, sleep_s=sleep_s)) as srv:
        run_ab(srv.url, requests=5, concurrency=1).checked()
        observed = run_ab(srv.url, requests=n, concurrency=concurrency).checked()
    assert observed.complete_requests == n and observed.failed_requests == 0
    sc = Scenario(server=kind, sleep_s=sleep_s, concurrency=concurrency, requests=n)
    predicted = ab_report(sc, costs=calibration.costs)
    one_per_sleep = 1 / sleep_s
    for rps in (observed.requests_per_second, predicted.requests_per_second):
        if serialised:  # one worker, or a loop blocked by time.sleep: one sleep at a time
            assert rps <= one_per_sleep * CLOCK_SLACK, (kind, rps)
        else:  # the loop overlaps the clients' sleeps
            assert rps > 2 * one_per_sleep, (kind, rps)
    ratio = predicted.requests_per_second / observed.requests_per_second
    assert 1 / ORDER_OF_MAGNITUDE < ratio < ORDER_OF_MAGNITUDE, (kind, ratio)


def test_predict_uses_and_names_the_calibration_file(calibration, tmp_path):
    path = save(calibration, tmp_path / "cal.json")
    assert load(path).costs == calibration.costs.__class__.from_dict(
        {**calibration.costs.to_dict(), "source": str(path)}
    )
    out = subprocess.run(
        [sys.executable, "-m", "asim", "predict", "--calibration", str(path), "--format", "json",
         "-c", "5"],
        capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert str(path) in json.loads(out.stdout)["calibration"]


def test_calibrate_refit_reads_and_rewrites_a_fresh_file(calibration, tmp_path):
    # `asim calibrate --refit` on the file this machine just wrote: the runs are kept, the costs
    # come out of the same size (the fit's accuracy is tested offline).
    path = save(calibration, tmp_path / "cal.json")
    out = subprocess.run(
        [sys.executable, "-m", "asim", "calibrate", "--refit", str(path),
         "--out", str(tmp_path / "again.json")],
        capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stderr
    again = load(tmp_path / "again.json")
    assert again.measured["aiohttp saturated"] == calibration.measured["aiohttp saturated"]
    for name in ("ab_connect_cpu_s", "loop_request_cpu_s", "worker_request_cpu_s"):
        ratio = getattr(again.costs, name) / getattr(calibration.costs, name)
        assert 1 / ORDER_OF_MAGNITUDE < ratio < ORDER_OF_MAGNITUDE, (name, ratio)
    # the memory section travels with the file through a refit
    assert again.memory.to_dict() == load(path).memory.to_dict()
    assert again.memory_runs == load(path).memory_runs


def test_calibration_measures_the_servers_memory(calibration, tmp_path):
    assert {r["server"] for r in calibration.memory_runs} >= {"aiohttp", "django"}
    for name in ("aiohttp", "django", "django-asgi"):
        m = calibration.memory.of(name)
        assert 10 < m.worker_mb < 200, (name, m)  # a Python web process: tens of MiB
    loop = calibration.memory.of("aiohttp")
    assert 1 < loop.connection_kb < 100  # KiB per connection, not bytes and not MiB
    back = load(save(calibration, tmp_path / "cal.json"))
    assert back.memory.to_dict() == calibration.memory.to_dict()


def test_interleaved_rounds_measure_each_plan_with_its_own_concurrency():
    # Two plans on one server (sleep 20 ms): at C = 5 five sleeps overlap, at C = 1 none do.
    plans = [CpuPlan(name=f"c{c}", kind="aiohttp", sleep_s=0.02, requests=20, concurrency=c)
             for c in (1, 5)]
    runs = measure_rounds(plans, 2)
    assert set(runs) == {"c1", "c5"}
    for name, c in (("c1", 1), ("c5", 5)):
        run = runs[name]
        assert (run.repeats, len(run.every_rps), run.concurrency) == (2, 2, c)
        assert run.requests_per_second <= c / 0.02 * CLOCK_SLACK
        assert run.server_cpu_s > 0 and run.ab_cpu_s > 0
    assert runs["c5"].requests_per_second > 3 * runs["c1"].requests_per_second
