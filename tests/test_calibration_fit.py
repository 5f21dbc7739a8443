"""The calibration fit, offline: it recovers known costs from runs the model generated, it
reproduces the calibration runs recorded in figures/, and its self-check is recorded, read back
and reported by `asim predict`."""

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from asim.calibration.file import Calibration, Check, RunCheck, load, save
from asim.calibration.fit import REQUIRED, expected_range, fit, plan, refit, rps_tolerance
from asim.calibration.knobs import KNOBS, TRACED, apply, knob_values, model_outcome
from asim.errors import CalibrationError
from asim.lab.measure import CpuRun
from asim.sim.costs import DEFAULT_COSTS
from asim.sim.model import simulate
from asim.sim.spec import Scenario

FIGURES = Path(__file__).resolve().parent.parent / "figures"

# Costs unlike the built-in ones: each parameter the runs identify moved by 5-50 %, so the fit
# cannot succeed by staying where it starts; the weakly identified ones at their priors (the
# fit holds them there unless the runs pull them away, see the next test), the ones fixed from
# traces at their fixed values.
PRIORS = {k.name: k.prior for k in KNOBS if k.prior is not None}
FIXED_VALUES = {name: value for name, (value, _) in TRACED.items()}
TRUTH = apply(DEFAULT_COSTS, {
    "ab_cpu_s": 45e-6, "loop_cpu_s": 105e-6, "loop_iteration_cpu_s": 15e-6, **FIXED_VALUES,
    "loop_cold_cpu_s": 600e-6, "worker_cpu_s": 430e-6, "worker_cold_cpu_s": 900e-6,
    "cold_onset_s": 3e-3, **PRIORS,
    # The model never charges ab a cold start at C = 1 (the server still runs when ab wakes),
    # so the fit fixes it from the measured difference, which for these runs is 0.
    "ab_cold_cpu_s": 0.0,
})


def synthetic_runs(costs):
    """The calibration plan's runs as the model with ``costs`` says they come out."""
    runs = {}
    for p in plan():
        shape = CpuRun(server=p.server, sleep_s=p.sleep_s, requests=p.requests,
                       concurrency=p.concurrency, workers=p.workers, requests_per_second=1.0,
                       server_cpu_s=1.0, ab_cpu_s=1.0, time_per_request_ms=1.0)
        out = model_outcome(shape, costs)
        rps = out.requests_per_second
        runs[p.name] = replace(
            shape, requests_per_second=rps, server_cpu_s=out.server_cpu_s,
            ab_cpu_s=out.ab_cpu_s, time_per_request_ms=p.concurrency * 1e3 / rps,
        )
    return runs


def test_fit_recovers_the_costs_that_generated_the_runs():
    # The overshoots handed in as "measured" are wrong on purpose: with the 1 ms runs in the
    # plan the fit must not take them.
    result = fit(synthetic_runs(TRUTH), 130e-6, 250e-6)
    truth, fitted = knob_values(TRUTH), knob_values(result.costs)
    assert set(result.check.fitted) == {k.name for k in KNOBS} - set(TRACED)
    for name in result.check.fitted:
        assert fitted[name] == pytest.approx(truth[name], rel=0.02), name
    assert result.check.passed
    for name, value in FIXED_VALUES.items():
        assert fitted[name] == value and name in result.check.fixed


@pytest.mark.slow
def test_a_knob_fixed_from_traces_is_not_moved_by_the_fit():
    # Runs of a machine whose select() round is 20 us, fitted with the round fixed at 16 us
    # (`traced`, as `TRACED` would fix it): the fit leaves the round where it was put, names it
    # fixed, and the loop's per-request CPU takes up the rounds' missing CPU.
    runs = synthetic_runs(replace(TRUTH, loop_iteration_cpu_s=20e-6))
    held = fit(runs, 130e-6, 250e-6, traced={"loop_iteration_cpu_s": 16e-6})
    assert held.costs.loop_iteration_cpu_s == 16e-6
    assert "loop_iteration_cpu_s" in held.check.fixed
    assert "loop_iteration_cpu_s" not in held.check.fitted
    assert knob_values(held.costs)["loop_cpu_s"] > 1.01 * 105e-6


@pytest.mark.slow
def test_the_runs_pull_a_weak_parameter_off_its_prior_when_they_need_it():
    # A switching loss and a herd cost twice their priors: held at the priors, the herd and
    # oversubscribed runs come out 5-10 % fast, so the fit must widen those priors until every
    # run is reproduced. What the priors still hold back the identified parameters take up in
    # part, within the runs' tolerance: the worker's CPU 3 % off here.
    truth_costs = replace(TRUTH, switch_loss=0.22, worker_herd_cpu_s=80e-6)
    held = apply(truth_costs, {"switch_loss": PRIORS["switch_loss"],
                               "worker_herd_cpu_s": PRIORS["worker_herd_cpu_s"]})
    runs = synthetic_runs(truth_costs)
    oversubscribed = runs["django oversubscribed"]
    assert model_outcome(oversubscribed, held).requests_per_second > (
        1.03 * oversubscribed.requests_per_second)
    result = fit(runs, 130e-6, 250e-6)
    assert result.check.passed, result.check.summary()
    assert result.costs.switch_loss > 0.17
    truth, fitted = knob_values(truth_costs), knob_values(result.costs)
    for name in ("loop_cpu_s", "worker_cpu_s"):
        assert fitted[name] == pytest.approx(truth[name], rel=0.05), name


@pytest.mark.slow
def test_without_the_1ms_runs_the_overshoots_stay_as_measured():
    runs = {name: r for name, r in synthetic_runs(TRUTH).items() if name in REQUIRED}
    ts_over, aio_over = TRUTH.time_sleep_overshoot_s, TRUTH.timer_overshoot_s
    result = fit(runs, ts_over, aio_over)  # as measured in-process: taken, not fitted
    assert result.costs.timer_overshoot_s == aio_over
    assert result.costs.time_sleep_overshoot_s == ts_over
    # The 5 ms and 50 ms runs still pin the rest (the overshoots given are the true ones).
    truth, fitted = knob_values(TRUTH), knob_values(result.costs)
    for name in result.check.fitted:
        assert fitted[name] == pytest.approx(truth[name], rel=0.02), name
    assert {"timer_overshoot_s", "time_sleep_overshoot_s"} <= set(result.check.fixed)


@pytest.mark.parametrize("name", [
    pytest.param("holdout", marks=pytest.mark.slow),  # seconds of fitting each
    "holdout-4",
    pytest.param("noise-floor/short/pass-2", marks=pytest.mark.slow),
])
def test_refit_reproduces_the_recorded_calibration_runs(name):
    # Committed calibrate-then-measure sets: holdout-4 records each run's spread (its herd
    # run's repeats spread 19.8 %, and the fit leaves it +14 % with the herd cost near its
    # prior), and short/pass-2 reproduces every run only after the fit widens priors. The
    # residuals of all nineteen committed files are in docs/notes/measurements.md, section 16.
    calibration = refit(load(FIGURES / name / "calibration.json"))
    check = calibration.check
    assert {r.name for r in check.runs} == set(REQUIRED)
    assert check.passed, check.summary()


def test_a_missing_run_is_one_clear_error():
    runs = synthetic_runs(TRUTH)
    del runs["django herd"]
    with pytest.raises(CalibrationError, match="django herd"):
        fit(runs, 110e-6, 180e-6)


def test_the_models_cpu_per_request_does_not_depend_on_fast_forward():
    sc = Scenario(server="aiohttp", sleep_s=0.0, concurrency=50, requests=3000)
    quick = simulate(sc, keep_records=False)
    full = simulate(sc, keep_records=False, fast_forward=False)
    assert quick.skipped_requests > 0
    assert quick.server_cpu_s == pytest.approx(full.server_cpu_s, rel=1e-6)
    assert quick.ab_cpu_s == pytest.approx(full.ab_cpu_s, rel=1e-6)
    # ab's CPU per request is its steps and its polls; the server's at least its steps.
    assert DEFAULT_COSTS.ab_cpu_s - DEFAULT_COSTS.ab_poll_cpu_s < full.ab_cpu_s
    assert full.server_cpu_s > DEFAULT_COSTS.loop_cpu_s


def failed_calibration() -> Calibration:
    runs = (
        RunCheck(name="django warm", measured_rps=2000.0, model_rps=1990.0, spread_pct=2.0,
                 tolerance_pct=3.0, server_cpu_error_pct=1.0, ab_cpu_error_pct=-2.0),
        RunCheck(name="django herd", measured_rps=1900.0, model_rps=1750.0, spread_pct=4.0,
                 tolerance_pct=4.0, server_cpu_error_pct=8.0, ab_cpu_error_pct=-10.0),
    )
    return Calibration(costs=DEFAULT_COSTS, created="now",
                       check=Check(runs=runs, fitted=("wakeup_s",), fixed=("worker_boot_s",)))


def test_the_self_check_is_saved_and_read_back(tmp_path):
    path = save(failed_calibration(), tmp_path / "cal.json")
    back = load(path)
    assert not back.check.passed
    assert [r.name for r in back.check.failed] == ["django herd"]
    assert back.check.failed[0].error_pct == pytest.approx(-7.89, abs=0.01)
    assert "django herd -7.9 % (tolerance 4.0 %)" in back.check_note()


def test_a_format_1_file_is_still_read_without_a_check(tmp_path):
    path = tmp_path / "old.json"
    old = json.loads((FIGURES / "holdout" / "calibration.json").read_text())
    assert old["format"] == 1
    path.write_text(json.dumps(old))
    cal = load(path)
    assert cal.check is None and cal.check_note() is None
    assert cal.costs.wakeup_s == old["costs"]["wakeup_s"]


def test_a_broken_check_block_is_one_clear_error(tmp_path):
    path = save(failed_calibration(), tmp_path / "cal.json")
    data = json.loads(path.read_text())
    data["check"]["runs"]["django herd"].pop("model_rps")
    path.write_text(json.dumps(data))
    with pytest.raises(CalibrationError, match="self-check"):
        load(path)


def test_predict_mentions_a_calibration_that_failed_its_check(tmp_path):
    path = save(failed_calibration(), tmp_path / "cal.json")
    common = [sys.executable, "-m", "asim", "predict", "--calibration", str(path),
              "--server", "django", "--sleep", "0", "-c", "1", "-n", "200"]
    table = subprocess.run(common, capture_output=True, text=True, timeout=60)
    assert table.returncode == 0, table.stderr
    notes = [line for line in table.stdout.splitlines() if "failed its own check" in line]
    assert len(notes) == 1 and "django herd" in notes[0]
    doc = json.loads(subprocess.run([*common, "--format", "json"], capture_output=True,
                                    text=True, timeout=60).stdout)
    assert doc["calibration_check"]["passed"] is False
    assert doc["calibration_check"]["not_reproduced"] == {"django herd": -7.9}


def test_recorded_runs_keep_what_the_file_holds():
    cal = load(FIGURES / "holdout-4" / "calibration.json")
    runs, ts_over, aio_over = cal.recorded_runs()
    assert runs["django herd"].workers == 3 and runs["django herd"].rps_spread_pct == 19.8
    assert ts_over == pytest.approx(137.7e-6) and aio_over == pytest.approx(201.6e-6)


@pytest.mark.parametrize(("n", "d2"), [(2, 1.128), (3, 1.693), (6, 2.534), (12, 3.258)])
def test_expected_range_is_the_quality_control_d2_constant(n, d2):
    assert expected_range(n) == pytest.approx(d2, abs=1e-3)


def test_a_run_measured_in_more_rounds_is_judged_by_the_spread_three_would_show():
    def run(repeats: int, spread_pct: float) -> CpuRun:
        return CpuRun(server="aiohttp", sleep_s=0.0, requests=1000, concurrency=1, workers=1,
                      requests_per_second=3000.0, server_cpu_s=2e-4, ab_cpu_s=5e-5,
                      time_per_request_ms=0.33, repeats=repeats, rps_spread_pct=spread_pct)

    assert rps_tolerance(run(3, 15.0)) == pytest.approx(0.15)
    # six draws span 2.534 / 1.693 = 1.5 times what three do, on average
    assert rps_tolerance(run(6, 15.0)) == pytest.approx(0.15 * 1.693 / 2.534, rel=1e-3)
    assert rps_tolerance(run(6, 2.0)) == 0.03  # the floor
    assert rps_tolerance(run(1, 0.0)) == 0.03
