"""What makes `asim calibrate` faster without changing what it finds: the fits' simulations in
worker processes (`asim.calibration.simpool`), the fit in the background while the memory runs go
on, and each calibration server started while the one before shuts down
(`asim.lab.procs.DeferredStops`)."""

from pathlib import Path

import pytest

from asim.calibration.file import load
from asim.calibration.fit import _in_background, fit
from asim.calibration.knobs import model_outcome
from asim.calibration.simpool import OutcomePool
from asim.errors import CalibrationError
from asim.lab.procs import DeferredStops, ServerSpec, group_members, running_server
from asim.sim.costs import DEFAULT_COSTS

FIGURES = Path(__file__).resolve().parent.parent / "figures"


def recorded():
    """A recorded calibration's runs (304 simulations to refit)."""
    return load(FIGURES / "holdout-4" / "calibration.json").recorded_runs()


def test_the_pool_gives_the_outcomes_of_this_process():
    runs, _ts, _aio = recorded()
    tasks = [(run, DEFAULT_COSTS, 300) for run in runs.values()]
    with OutcomePool(jobs=2) as pool:
        assert pool.outcomes(tasks) == [model_outcome(*task) for task in tasks]


def test_a_fit_in_two_processes_is_the_fit_in_one():
    # Same simulations, asked for in batches instead of one by one: the optimiser takes the
    # same steps, to the last bit.
    runs, ts_over, aio_over = recorded()
    alone = fit(runs, ts_over, aio_over)
    with OutcomePool(jobs=2) as pool:
        pooled = fit(runs, ts_over, aio_over, pool=pool)
    assert pooled.costs == alone.costs
    assert pooled.check.runs == alone.check.runs
    assert pooled.check.simulations == alone.check.simulations
    assert pooled.check.uncertainty_pct == alone.check.uncertainty_pct


def test_a_closed_pool_stops_the_fit_that_uses_it():
    # calibrate closes the pool when the memory runs fail or Ctrl-C arrives: the fit's thread
    # must end at its next batch instead of fitting on.
    runs, ts_over, aio_over = recorded()
    pool = OutcomePool(jobs=2)
    with pool:
        pass
    with pytest.raises(RuntimeError):
        fit(runs, ts_over, aio_over, pool=pool)


def test_background_work_hands_over_its_result_or_its_error():
    assert _in_background(lambda: 42).result(timeout=10) == 42

    def fails():
        raise CalibrationError("measured RPS is not positive")

    with pytest.raises(CalibrationError, match="not positive"):
        _in_background(fails).result(timeout=10)


@pytest.mark.live
def test_a_deferred_stop_ends_the_server_by_the_wait():
    with DeferredStops() as stops:
        with running_server(ServerSpec(kind="django", sleep_s=0.0), stops=stops) as first:
            pid = first.pid
        with running_server(ServerSpec(kind="aiohttp", sleep_s=0.0), stops=stops) as second:
            stops.wait()  # what measure_cpu does before its warm-up
            assert group_members(pid) == []
            assert second.alive()
        last = second.pid
    assert group_members(last) == []


@pytest.mark.live
def test_a_deferred_stop_survives_an_error_in_the_block():
    pids = []
    with (pytest.raises(ZeroDivisionError), DeferredStops() as stops,
          running_server(ServerSpec(kind="aiohttp", sleep_s=0.0), stops=stops) as srv):
        pids.append(srv.pid)
        1 / 0  # noqa: B018
    assert group_members(pids[0]) == []
