"""The second calibration stage against the real servers and ab: plumbing and coarse physics.

The stage runs end to end (about 25 s on an idle 2-core machine): the new shapes' servers
start, ab runs, their CPU per request is read from the processes' CPU clocks, and the fit gives
costs of the right size that reproduce the runs within a factor. The first stage's costs are the
built-in ones here (tests/test_calibrate_live.py measures those); on a machine like CI's one
short CPU-bound run moves by 20-40 % from one minute to the next, so nothing tighter is asserted.
How well the fit recovers known costs is tested offline (tests/test_shapes_calibration.py).
"""

import math

import pytest

from asim.calibration import shapes_fit
from asim.calibration.file import Calibration, Check
from asim.sim.costs import DEFAULT_COSTS, UNCALIBRATED

pytestmark = [pytest.mark.live, pytest.mark.slow]

ORDER_OF_MAGNITUDE = 2.0  # as in tests/test_calibrate_live.py


@pytest.fixture(scope="module")
def calibration():
    runs = shapes_fit.measure(shapes_fit.SERVERS, lambda _msg: None)
    return shapes_fit.extend(Calibration(costs=DEFAULT_COSTS, check=Check(runs=())), runs)


def test_the_new_shapes_costs_are_positive_finite_and_plausible(calibration):
    for name in UNCALIBRATED:
        value = getattr(calibration.costs, name)
        assert math.isfinite(value) and 0 <= value < 0.05, (name, value)
    # The per-request CPU of the pieces the closed form pins is there and below a request's.
    assert 5e-6 < calibration.costs.pool_item_cpu_s < 2e-3
    assert 20e-6 < calibration.costs.asgi_thread_cpu_s < 5e-3
    measured = calibration.shapes["measured"]
    # Django under uvicorn spends several times a sync worker's CPU per request, and counted
    # with its ended threads more than its main thread alone.
    asgi = measured["asgi warm"]
    assert asgi["server_cpu_us_per_request"] > asgi["main_cpu_us_per_request"] > 300
    assert set(calibration.shapes["servers"]) == set(shapes_fit.SERVERS)


def test_the_runs_are_reproduced_within_a_factor(calibration):
    rows = calibration.check.runs
    assert [r.name for r in rows] == [p.name for p in shapes_fit.PLAN]
    for row in rows:
        ratio = row.model_rps / row.measured_rps
        assert 1 / ORDER_OF_MAGNITUDE < ratio < ORDER_OF_MAGNITUDE, row
