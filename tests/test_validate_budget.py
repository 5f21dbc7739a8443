"""`asim validate` says how long a plan will measure before it predicts or measures anything,
and refuses a plan beyond the limit unless --yes."""

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from asim.errors import InputError
from asim.sim.model import simulate
from asim.validate.budget import MAX_MEASURING_S, check_budget, estimate_runs, format_duration
from asim.validate.run import SERVER_START_S
from asim.validate.scenario_file import parse_plan
from asim.validate.tasks import resolve_plan

CLIENTS = ", ".join(str(c) for c in range(1, 101))
HUGE = f"""
servers = ["aiohttp", "aiohttp-blocking", "django"]
workers = [1, 2, 3, 4, 5, 6, 7, 8]
sleeps_s = [0.1, 0.2, 0.3, 0.4, 0.5]
concurrencies = [{CLIENTS}]
requests = 1000
"""


def runs_of(plan):
    return [(p, k) for p in plan.points() for k in range(1, plan.repeats + 1)]


def test_the_estimate_is_a_lower_bound_close_to_the_simulated_time():
    plan = resolve_plan("all", repeats=1)
    estimate = estimate_runs(runs_of(plan))
    servers = {p.server_key for p in plan.points()}
    simulated = sum(simulate(p.scenario(cores=2), keep_records=False).report.time_taken_s
                    for p in plan.points()) + SERVER_START_S * len(servers)
    assert estimate.sampled_points == estimate.points == len(plan.points())
    assert 0.6 * simulated <= estimate.measuring_s <= simulated


def test_a_huge_plan_is_estimated_quickly_from_a_sample_and_refused():
    plan = parse_plan(HUGE, default_name="huge")
    start = time.perf_counter()
    estimate = estimate_runs(runs_of(plan))
    assert time.perf_counter() - start < 30  # a sample, not 30,000 bounds (loaded machine)
    assert estimate.sampled_points < estimate.points == len(plan.points())
    assert estimate.measuring_s > 24 * 3600
    with pytest.raises(InputError, match="--yes") as refused:
        check_budget(estimate, yes=False)
    assert re.search(r"about \d+(\.\d)? (h|days)", str(refused.value))
    check_budget(estimate, yes=True)


def test_a_lab_task_is_within_the_limit():
    estimate = estimate_runs(runs_of(resolve_plan("task7")))
    assert estimate.measuring_s < MAX_MEASURING_S
    check_budget(estimate, yes=False)


def test_validate_refuses_a_huge_plan_in_one_line_and_creates_nothing(tmp_path: Path):
    scenario = tmp_path / "huge.toml"
    scenario.write_text(HUGE)
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "asim", "validate", str(scenario), "--out",
                           str(out)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("asim: error:"), done.stderr
    assert "--yes" in lines[0] and re.search(r"about \d+(\.\d)? (h|days)", lines[0])
    assert not out.exists()


@pytest.mark.parametrize(("seconds", "text"), [(45, "45 s"), (750, "12.5 min"), (3600, "1 h"),
                                               (11520, "3.2 h"), (30 * 86400, "30 days")])
def test_durations_read_short(seconds, text):
    assert format_duration(seconds) == text
