"""The Python API and the CLI read the same calibration by default."""

import json
import subprocess
import sys
from dataclasses import replace

from asim import Scenario, predict
from asim.calibration.file import Calibration, save
from asim.sim.costs import DEFAULT_COSTS


def test_api_and_cli_give_the_same_numbers_with_the_calibration_from_the_environment(
    tmp_path, monkeypatch
):
    # Costs far from the built-in ones, so that the built-in defaults cannot pass for them.
    costs = replace(DEFAULT_COSTS, loop_request_cpu_s=DEFAULT_COSTS.loop_request_cpu_s * 3)
    path = tmp_path / "calibration.json"
    save(Calibration(costs=costs, created="2026-11-30T00:00:00+00:00"), path)
    monkeypatch.setenv("ASIM_CALIBRATION", str(path))
    scenario = Scenario(server="aiohttp", sleep_s=0.0, concurrency=10, requests=1000, cores=2)

    api = predict(scenario)[0].report.requests_per_second
    cli = subprocess.run(
        [sys.executable, "-m", "asim", "predict", "--server", "aiohttp", "--sleep", "0",
         "-c", "10", "-n", "1000", "--cores", "2", "--format", "json"],
        capture_output=True, text=True, timeout=60, check=True,
    )
    points = json.loads(cli.stdout)["points"]
    assert str(path) in json.loads(cli.stdout)["calibration"]
    assert round(api, 3) == points[0]["requests_per_second"]
    builtin = predict(scenario, calibration="none")[0].report.requests_per_second
    assert abs(builtin - api) / api > 0.05, "the calibration file did not change the numbers"


def test_explicit_costs_win_over_the_calibration(tmp_path, monkeypatch):
    costs = replace(DEFAULT_COSTS, loop_request_cpu_s=DEFAULT_COSTS.loop_request_cpu_s * 3)
    path = tmp_path / "calibration.json"
    save(Calibration(costs=costs, created="2026-11-30T00:00:00+00:00"), path)
    monkeypatch.setenv("ASIM_CALIBRATION", str(path))
    scenario = Scenario(server="aiohttp", sleep_s=0.0, concurrency=10, requests=1000, cores=2)
    given = predict(scenario, costs=DEFAULT_COSTS)[0].report
    assert given == predict(scenario, calibration="none")[0].report
    assert given != predict(scenario, calibration=str(path))[0].report
