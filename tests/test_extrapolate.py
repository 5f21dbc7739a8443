"""Steady-state extrapolation: an estimate close to the full simulation, only where it is safe."""

import json
import subprocess
import sys
from array import array
from types import SimpleNamespace

import numpy as np
import pytest

from asim.grid import predict, scenarios
from asim.sim.fastforward import MIN_WINDOW, WINDOWS, FastForward
from asim.sim.model import Jitter, simulate
from asim.sim.spec import Scenario
from asim.validate.tasks import HOLDOUT, resolve_plan

RATE_REL = 0.005  # RPS and time per request
TIME_REL, TIME_ABS_MS = 0.01, 1  # means and percentiles of ab's columns

# Shapes whose runs never repeat exactly under the built-in costs: the workers drift into groups
# of varying size (which ones do depends on the costs: at 0.02 s four workers lock into a cycle).
STEADY = [
    pytest.param("django", 64, 1000, 0.1, 100_000, id="django-w64-c1000"),
    pytest.param("django", 16, 500, 0.05, 80_000, id="django-w16-c500-s0.05"),
    pytest.param("django", 8, 200, 0.1, 80_000, id="django-w8-c200"),
    pytest.param("django", 4, 100, 0.03, 80_000, id="django-w4-c100-s0.03"),
]


def close_ms(estimate, exact):
    return abs(estimate - exact) <= max(TIME_ABS_MS, TIME_REL * exact)


@pytest.mark.slow  # seconds of simulation: `make test` runs it, `make test-fast` does not
@pytest.mark.parametrize(("server", "w", "c", "sleep_s", "n"), STEADY)
def test_extrapolation_is_close_to_the_full_simulation(server, w, c, sleep_s, n):
    sc = Scenario(server=server, workers=w, concurrency=c, sleep_s=sleep_s, requests=n)
    est = simulate(sc, keep_records=False)
    full = simulate(sc, keep_records=False, exact=True)
    assert est.extrapolated_requests >= n // 3 and est.skipped_requests == 0
    assert not est.exact and full.exact and full.extrapolated_requests == 0
    e, x = est.report, full.report
    assert e.complete_requests == x.complete_requests == n
    assert e.failed_requests == x.failed_requests == 0
    assert e.requests_per_second == pytest.approx(x.requests_per_second, rel=RATE_REL)
    assert e.time_per_request_ms == pytest.approx(x.time_per_request_ms, rel=RATE_REL)
    for row in ("connect", "processing", "waiting", "total"):
        assert close_ms(e.row(row).mean_ms, x.row(row).mean_ms), row
        assert close_ms(e.row(row).median_ms, x.row(row).median_ms), row
    for p in (50, 66, 75, 80, 90, 95, 98, 99, 100):
        assert close_ms(e.percentiles_ms[p], x.percentiles_ms[p]), p
    assert e.total.max_ms == e.percentiles_ms[100] >= e.percentiles_ms[99]


def test_the_exact_skip_is_preferred_where_the_run_repeats():
    # Shapes that lock into an exact cycle are skipped exactly, never extrapolated.
    sc = Scenario(server="aiohttp", concurrency=50, sleep_s=0.05, requests=100_000)
    run = simulate(sc, keep_records=False)
    assert run.skipped_requests > 90_000 and run.extrapolated_requests == 0
    short = Scenario(server="django", workers=2, concurrency=50, sleep_s=0.02, requests=100_000)
    run = simulate(short, keep_records=False)
    assert run.skipped_requests > 90_000 and run.extrapolated_requests == 0


def test_no_extrapolation_for_the_lab_grid_nor_the_hold_out_shapes():
    lab = [p.scenario() for p in resolve_plan("all").points()]
    held = [p.scenario() for study in HOLDOUT for p in study.points()]
    assert {sc.requests for sc in lab} == {100} and len(HOLDOUT) == 6
    for sc in lab + held:
        assert simulate(sc, keep_records=False).extrapolated_requests == 0, sc.label()


@pytest.mark.slow  # seconds of simulation: `make test` runs it, `make test-fast` does not
def test_no_extrapolation_with_jitter():
    sc = Scenario(server="django", workers=8, concurrency=200, sleep_s=0.1, requests=70_000)
    jittered = simulate(sc, keep_records=False, jitter=Jitter(kind="uniform", cv=0.01), seed=1)
    assert jittered.extrapolated_requests == 0


# -- the steady-state test on synthetic logs -------------------------------------------------


def fake_run(total_us, *, concurrency=100, requests=10**6):
    """A FastForward watching a made-up ab that has finished ``len(total_us)`` requests, one
    every millisecond, slots in turn."""
    n = len(total_us)
    ab = SimpleNamespace(
        concurrency=concurrency, requests=requests, started=n + concurrency, done=n,
        keepalive_requests=0, length_failures=0, non_2xx=0,
        ctime_us=array("q", [200] * n), time_us=array("q", np.asarray(total_us, np.int64)),
        waittime_us=array("q", np.asarray(total_us, np.int64) - 300),
        slot_log=array("i", np.arange(n) % concurrency),
        done_log=array("d", np.arange(n) * 1e-3),
    )
    return FastForward(None, None, ab, SimpleNamespace(shift_safe=True), extrapolate=True)


N_SYNTH = 2 * WINDOWS * MIN_WINDOW * 2  # the last half: windows of 2 * MIN_WINDOW requests
RNG = np.random.default_rng(7)
NOISE = RNG.normal(100_000, 1_000, N_SYNTH)  # Total ~100 ms, 1 % noise
PHASES = np.linspace(0, 1, 8, endpoint=False)


def wave(period, phase, amplitude=0.02):
    x = np.arange(N_SYNTH) / period + phase
    return NOISE + amplitude * 100_000 * np.sin(2 * np.pi * x)


def test_steady_noise_passes_the_test():
    assert fake_run(NOISE)._steady_block() == N_SYNTH // 2


@pytest.mark.parametrize("phase", PHASES)
def test_an_oscillation_inside_one_window_is_part_of_the_steady_state(phase):
    assert fake_run(wave(N_SYNTH / 8, phase))._steady_block() == N_SYNTH // 2


@pytest.mark.parametrize("period", [N_SYNTH // 2, N_SYNTH])
@pytest.mark.parametrize("phase", PHASES)
def test_an_oscillation_as_slow_as_the_run_fails_the_test(period, phase):
    assert fake_run(wave(period, phase))._steady_block() is None


def test_a_slow_drift_fails_the_test():
    assert fake_run(NOISE * np.linspace(1.0, 1.03, N_SYNTH))._steady_block() is None


def test_a_retransmitted_syn_in_one_window_or_a_slot_idle_a_whole_window_fails_the_test():
    ff = fake_run(NOISE)
    ff.ab.ctime_us[-10] = 1_000_500
    assert ff._steady_block() is None
    ff = fake_run(NOISE)
    window = N_SYNTH // 2 // WINDOWS
    for i in range(N_SYNTH - window, N_SYNTH):  # slot 0 idle for the whole last window
        if ff.ab.slot_log[i] == 0:
            ff.ab.slot_log[i] = 1
    assert ff._steady_block() is None


def test_a_stationary_overflow_or_slot_imbalance_passes_the_test():
    # A retransmitted SYN in every window, each as long as a request's connect: the overflow
    # lasts all run (the Connect means agree: the noise floor of 100 us holds them).
    ff = fake_run(NOISE)
    window = N_SYNTH // 2 // WINDOWS
    for i in range(N_SYNTH // 2 + window // 2, N_SYNTH, window):
        ff.ab.ctime_us[i] = 1_000_200
    assert ff._steady_block() == N_SYNTH // 2
    # Slot 1 finishes twice as often as slot 0 in every window: uneven, but stationary.
    ff = fake_run(NOISE)
    for i in range(0, N_SYNTH, 200):
        ff.ab.slot_log[i] = 1
    assert ff._steady_block() == N_SYNTH // 2


def test_too_few_requests_left_or_run_too_short():
    assert fake_run(NOISE, requests=N_SYNTH + 200)._steady_block() is None
    assert fake_run(NOISE[: 2 * WINDOWS * MIN_WINDOW - 100])._steady_block() is None


# -- what callers see ------------------------------------------------------------------------


def test_grid_points_carry_the_extrapolated_count():
    sc = scenarios(servers=("django",), workers=(8,), concurrencies=(200,), requests=70_000)
    (point,) = predict(sc)
    assert point.extrapolated_requests > 0
    assert point.to_dict()["extrapolated_requests"] == point.extrapolated_requests


def asim(*args):
    return subprocess.run([sys.executable, "-m", "asim", *args], capture_output=True, text=True,
                          timeout=120)


@pytest.mark.slow  # seconds of simulation: `make test` runs it, `make test-fast` does not
def test_cli_notes_an_extrapolation_and_exact_turns_it_off():
    shape = ("predict", "--server", "django", "--workers", "8", "-c", "200", "-n", "70000",
             "--calibration", "none")
    out = asim(*shape)
    assert out.returncode == 0, out.stderr
    assert "replicated a measured steady state" in out.stdout
    assert "--exact" in out.stdout
    out = asim(*shape, "--exact", "--format", "json")
    assert out.returncode == 0, out.stderr
    (point,) = json.loads(out.stdout)["points"]
    assert point["extrapolated_requests"] == 0


def _with_gaps(gaps_s):
    ff = fake_run(NOISE)
    ff.ab.done_log = array("d", np.cumsum(gaps_s))
    return ff


def test_a_noisy_throughput_passes_within_its_own_standard_error():
    # Each request's gap exponential (a throughput noisy from slot cycle to slot cycle, as a
    # loop starved by its threads): windows differ by more than STEADY_REL, by chance alone.
    gaps = np.random.default_rng(3).exponential(1e-3, N_SYNTH)
    assert _with_gaps(gaps)._steady_block() == N_SYNTH // 2


def test_a_throughput_drifting_beyond_its_noise_fails_the_test():
    gaps = np.random.default_rng(3).exponential(1e-3, N_SYNTH) * np.linspace(1.0, 1.2, N_SYNTH)
    assert _with_gaps(gaps)._steady_block() is None
