"""Sweeps: the same points and the same bytes whichever executor ran them; failures kept."""

import json
import subprocess
import sys

import pytest

from asim.errors import SweepError
from asim.grid import predict, scenarios
from asim.render import csv_chunks, json_chunks, stream, to_csv, to_json
from asim.sim.spec import Scenario
from asim.sweep import Job, Sweep, sweep_points

ASIM = [sys.executable, "-m", "asim"]
GRID = scenarios(servers=("aiohttp", "aiohttp-blocking", "django"), workers=(1, 3),
                 sleeps_s=(0.0, 0.05), concurrencies=(4, 20), requests=60, cores=2)
JOB = Job(methods=("des", "mva"))
ABORTS = Scenario(server="django", sleep_s=40, concurrency=1, requests=2)  # ab's -s 30 expires


def sweep_json(**executor) -> str:
    with Sweep(**executor) as sweep:
        return "".join(json_chunks(sweep.run(GRID, JOB), calibration="built-in"))


def test_streamed_json_and_csv_are_the_texts_of_the_whole_grid():
    points = predict(GRID, method=JOB.methods)
    with Sweep(jobs=1) as sweep:
        outcomes = list(sweep.run(GRID, JOB))
    assert "".join(json_chunks(outcomes, calibration="c")) == to_json(points, calibration="c") \
        + "\n"
    assert "".join(csv_chunks(outcomes)) == to_csv(points)
    assert "".join(json_chunks([])) == to_json([]) + "\n"


def test_local_processes_give_byte_identical_json():
    # serial_budget_s=0: every scenario goes to the two worker processes.
    assert sweep_json(jobs=2, serial_budget_s=0) == sweep_json(jobs=1)


def test_a_dask_cluster_gives_byte_identical_json():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(processes=False, n_workers=1, threads_per_worker=2,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        assert sweep_json(scheduler=client) == sweep_json(jobs=1)


def test_outcomes_come_in_grid_order_while_progress_sees_each_once():
    seen = []
    with Sweep(jobs=2, serial_budget_s=0) as sweep:
        order = [o.index for o in sweep.run(GRID, JOB, on_done=seen.append)]
    assert order == list(range(len(GRID)))
    assert sorted(o.index for o in seen) == order


@pytest.mark.parametrize("executor", [{"jobs": 1}, {"jobs": 2, "serial_budget_s": 0}])
def test_a_failed_scenario_is_reported_with_its_scenario_and_the_rest_arrive(executor):
    grid = [GRID[0], ABORTS, GRID[1]]
    with Sweep(**executor) as sweep:
        outcomes = stream(sweep.run(grid, JOB), fmt="json", write=lambda _t: None)
    assert [o.failed for o in outcomes] == [False, True, False]
    assert outcomes[1].scenario == ABORTS and "abort" in outcomes[1].error
    doc = json.loads("".join(json_chunks(outcomes)))
    assert len(doc["points"]) == 4
    assert doc["failed"][0]["scenario"]["sleep_s"] == 40 and "abort" in doc["failed"][0]["error"]


def test_cli_jobs_give_the_same_output_and_a_bad_sleep_is_one_line():
    args = ["predict", "--server", "django,aiohttp", "--workers", "1,2,4", "-c", "5,10",
            "--sleep", "0.05", "--format", "json", "--calibration", "none"]
    one = subprocess.run([*ASIM, *args, "--jobs", "1"], capture_output=True, text=True)
    two = subprocess.run([*ASIM, *args, "--jobs", "2"], capture_output=True, text=True)
    assert one.returncode == two.returncode == 0
    assert one.stdout == two.stdout and json.loads(one.stdout)["points"]
    # A sleep ab would give up on is refused before anything runs (the grid's limit); a
    # scenario that fails while the grid runs is reported with the others kept (above).
    bad = subprocess.run([*ASIM, "predict", "--server", "django", "--sleep", "0.05,40",
                          "-c", "1", "-n", "2", "--calibration", "none", "--format", "csv"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stdout == ""
    assert "--sleep 40: sleep must be between 0 and 25 s" in bad.stderr
    assert "Traceback" not in bad.stderr


@pytest.mark.parametrize(("args", "needle"), [
    (["--jobs", "-1"], "--jobs must be"),
    pytest.param(["--scheduler", "tcp://127.0.0.1:1"], "cannot reach the Dask scheduler",
                 marks=pytest.mark.slow),  # waits for the client's 10 s connect timeout
])
def test_bad_executor_options_are_one_line_and_exit_2(args, needle):
    out = subprocess.run([*ASIM, "predict", *args], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2, out.stderr
    assert needle in out.stderr and out.stderr.count("\n") == 1


def test_sweep_points_are_predicts_points_and_a_failure_names_its_scenario():
    assert sweep_points(GRID, JOB, jobs=2) == predict(GRID, method=JOB.methods)
    with pytest.raises(SweepError, match="django w=1 S=40 c=1 n=2: ab would abort"):
        sweep_points([GRID[0], ABORTS], JOB, jobs=1)


def test_a_profiler_holding_the_models_frames_does_not_break_a_run():
    # Dask's workers sample the frames of running tasks; a frame kept after it returns keeps
    # its locals alive. The fast-forward's reads of ab's logs must not pin their buffers, or
    # ab's next append raises BufferError (seen under `--scheduler`).
    kept = []

    def tracer(frame, event, arg):
        if frame.f_code.co_filename.endswith("fastforward.py"):
            kept.append(frame)

    sc = Scenario(server="aiohttp-blocking", sleep_s=0.0, concurrency=10, requests=3000)
    sys.settrace(tracer)
    try:
        (point,) = predict(sc)
    finally:
        sys.settrace(None)
    assert kept and point.report.complete_requests == 3000
