"""`asim calibrate` against the real servers and ab: plausible values, and predictions made with
them land near a fresh real run that calibration never saw."""

import json
import subprocess
import sys

import pytest

from asim.calibration.file import load, save
from asim.calibration.fit import calibrate
from asim.lab.abrun import run_ab
from asim.lab.procs import ServerSpec, running_server
from asim.sim.model import predict
from asim.sim.spec import Scenario

pytestmark = pytest.mark.live

# The machine is shared and noisy: a prediction is judged against one short run with a generous
# tolerance here; tight accuracy goals live in `asim validate`.
FRESH_RUN_REL = 0.15


@pytest.fixture(scope="module")
def calibration():
    return calibrate()


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
    # Every measurement repeats its ab run and records how far the repeats lay apart.
    assert all(r["rps_spread_pct"] >= 0 for r in measured.values() if isinstance(r, dict))
    assert calibration.cpu_spread_pct() is not None


@pytest.mark.parametrize(
    ("kind", "sleep_s", "concurrency"),
    [("django", 0.02, 4), ("aiohttp", 0.02, 8), ("aiohttp-blocking", 0.01, 4)],
)
def test_prediction_lands_near_a_fresh_real_run(calibration, kind, sleep_s, concurrency):
    n = 40
    with running_server(ServerSpec(kind=kind, sleep_s=sleep_s)) as srv:
        run_ab(srv.url, requests=5, concurrency=1).checked()
        observed = run_ab(srv.url, requests=n, concurrency=concurrency).checked()
    sc = Scenario(server=kind, sleep_s=sleep_s, concurrency=concurrency, requests=n)
    predicted = predict(sc, costs=calibration.costs)
    assert predicted.requests_per_second == pytest.approx(
        observed.requests_per_second, rel=FRESH_RUN_REL
    )


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


def test_fitted_model_reproduces_the_saturated_loop_it_was_fitted_on(calibration):
    # The costs are fitted to every calibration run at once: with them the model must land on
    # the saturated loop's run again, and the file records that self-check for every run.
    assert {r.name for r in calibration.check.runs} == set(calibration.measured) - {
        "time_sleep_overshoot_us", "asyncio_sleep_overshoot_us"}
    run = calibration.measured["aiohttp saturated"]
    sc = Scenario(server="aiohttp", sleep_s=0.0, concurrency=run["concurrency"],
                  requests=run["requests"])
    assert predict(sc, costs=calibration.costs).requests_per_second == pytest.approx(
        run["requests_per_second"], rel=FRESH_RUN_REL
    )


def test_refit_of_the_recorded_runs_gives_the_same_costs(calibration, tmp_path):
    from asim.calibration.fit import refit

    again = refit(load(save(calibration, tmp_path / "cal.json")))
    for name, value in calibration.costs.to_dict().items():
        if name != "source":
            # The file keeps measurements to 0.1 us; fits move by as little.
            assert getattr(again.costs, name) == pytest.approx(value, rel=0.02, abs=2e-6), name
