"""`asim predict` as a user runs it: a real subprocess, its exit code and its output."""

import json
import subprocess
import sys

import pytest

from asim.calibration.file import Calibration, save
from asim.sim.costs import Costs

ASIM = [sys.executable, "-m", "asim"]


def asim(*args):
    return subprocess.run([*ASIM, *args], capture_output=True, text=True, timeout=60)


def test_help_lists_the_commands():
    out = asim("--help")
    assert out.returncode == 0
    assert "predict" in out.stdout


def test_predict_help_documents_the_options():
    out = asim("predict", "--help")
    assert out.returncode == 0
    for option in ("--server", "--workers", "--sleep", "--concurrency", "--requests",
                   "--keepalive", "--cores", "--format"):
        assert option in out.stdout


def test_default_table_has_both_servers_at_the_seed_concurrencies():
    out = asim("predict", "--workers", "1", "--sleep", "0.2")
    assert out.returncode == 0, out.stderr
    assert "aiohttp" in out.stdout and "django" in out.stdout
    for c in ("5", "10", "20", "40"):
        assert f" {c} " in out.stdout


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["-c", "50", "-n", "10"], "exceeds requests"),
        (["-c", "20001", "-n", "30000"], "20000"),
        (["-n", "0", "-c", "1"], "requests must be a positive"),
        (["-n", "-5", "-c", "1"], "requests must be a positive"),
        (["--sleep", "-0.1"], "sleep must be"),
        (["--sleep", "nan"], "sleep must be"),
        (["--workers", "0"], "workers must be"),
        (["--server", "nginx"], "unknown server 'nginx'"),
        (["--sleep", "0.1,,0.2"], "malformed list"),
        (["--concurrency", "5,x"], "'x' is not an integer"),
        (["--sleep", "fast"], "'fast' is not a number"),
        (["--format", "xml"], "--format"),
        (["--cores", "-1"], "--cores"),
        (["--no-such-option"], "No such option"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, needle):
    out = asim("predict", *args)
    assert out.returncode == 2
    assert out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("asim: error:")
    assert needle in lines[0]
    assert "Traceback" not in out.stderr


def test_json_schema():
    out = asim("predict", "--format", "json", "--sleep", "0.1,0.2", "-c", "5,10", "--workers", "2")
    assert out.returncode == 0, out.stderr
    points = json.loads(out.stdout)["points"]
    assert len(points) == 8  # 2 servers x 2 sleeps x 2 concurrencies
    keys = {"server", "workers", "sleep_s", "concurrency", "requests", "keepalive",
            "time_taken_s", "requests_per_second", "time_per_request_ms",
            "time_per_request_all_ms", "connect_ms", "processing_ms", "waiting_ms",
            "total_ms", "percentiles_ms"}
    for p in points:
        assert keys <= p.keys()
        for row in ("connect_ms", "processing_ms", "waiting_ms", "total_ms"):
            assert set(p[row]) == {"min", "mean", "sd", "median", "max"}
        assert list(p["percentiles_ms"]) == ["50", "66", "75", "80", "90", "95", "98", "99", "100"]
        assert p["time_per_request_ms"] == pytest.approx(
            p["concurrency"] * p["time_per_request_all_ms"], rel=1e-3
        )
        assert p["requests_per_second"] == pytest.approx(
            p["requests"] / p["time_taken_s"], rel=1e-3
        )
    assert {p["workers"] for p in points if p["server"] == "django"} == {2}


def test_csv_has_a_header_and_one_row_per_point():
    out = asim("predict", "--format", "csv", "--server", "django", "-c", "5,10")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert lines[0].startswith("method,server,workers,sleep_s,concurrency")
    assert len(lines) == 3


def test_a_run_near_the_listen_backlog_is_flagged_and_counted():
    # 300 clients against aiohttp's 129-connection accept queue with a 1 s sleep: the model fills
    # the queue, and the table says that real runs split at this edge; 10 clients are far from it.
    out = asim("predict", "--server", "aiohttp", "--sleep", "1", "-c", "300", "-n", "600",
               "--calibration", "none")
    assert out.returncode == 0, out.stderr
    assert "near the" in out.stdout and "listen backlog" in out.stdout
    out = asim("predict", "--server", "aiohttp,django", "--sleep", "1", "-c", "10,300", "-n",
               "600", "--calibration", "none", "--format", "json")
    points = {(p["server"], p["concurrency"]): p for p in json.loads(out.stdout)["points"]}
    edge, far = points[("aiohttp", 300)], points[("aiohttp", 10)]
    assert edge["accept_queue_capacity"] == 129
    assert edge["accept_queue_peak"] == 129
    assert far["accept_queue_peak"] <= 10 and far["syns_dropped"] == 0
    assert points[("django", 300)]["accept_queue_capacity"] == 2049  # gunicorn's backlog 2048
    out = asim("predict", "--server", "aiohttp", "--sleep", "1", "-c", "10", "-n", "600",
               "--calibration", "none")
    assert "listen backlog" not in out.stdout


def test_cpu_dominated_points_carry_the_calibrations_run_to_run_spread(tmp_path):
    # A sleep of 2 ms or less follows the machine's CPU speed: the table says how much the
    # calibration's repeated runs of such points spread, or the reference VM's range without one.
    out = asim("predict", "--server", "django", "--sleep", "0.001", "-c", "10", "-n", "200",
               "--calibration", "none")
    assert out.returncode == 0, out.stderr
    assert "CPU-dominated" in out.stdout and "10-40 %" in " ".join(out.stdout.split())
    path = tmp_path / "calibration.json"
    save(Calibration(costs=Costs(), created="now", measured={
        "django warm": {"sleep_s": 0.0, "rps_spread_pct": 23.4},
        "django cold": {"sleep_s": 0.05, "rps_spread_pct": 80.0},  # IO-dominated: not counted
    }), path)
    out = asim("predict", "--server", "django", "--sleep", "0.001", "-c", "10", "-n", "200",
               "--calibration", str(path))
    assert out.returncode == 0, out.stderr
    assert "spread by up to 23 %" in " ".join(out.stdout.split())  # rich wraps long lines
    out = asim("predict", "--server", "django", "--sleep", "0.1", "-c", "10", "-n", "200",
               "--calibration", str(path))
    assert "CPU-dominated" not in out.stdout
