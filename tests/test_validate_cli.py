"""`asim validate` refuses bad input with one line and a non-zero exit, before starting anything."""

import subprocess
import sys
from pathlib import Path

import pytest


def asim(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "asim", *args], capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        ((), "give a task"),
        (("task99",), "unknown task 'task99'"),
        (("task7", "--repeat", "0"), "repeat must be between 1"),
        (("task7", "--passes", "0"), "passes must be between 1"),
        (("--resume", "."), "not an asim results folder"),
        (("missing.toml",), "no such scenario file"),
    ],
)
def test_bad_arguments(args, needle, tmp_path: Path):
    done = asim("validate", *args)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("asim: error: ") and done.stderr.count("\n") == 1
    assert needle in done.stderr


def test_bad_scenario_field_is_named_and_nothing_is_created(tmp_path: Path):
    scenario = tmp_path / "bad.toml"
    scenario.write_text('servers = ["aiohttp"]\nsleeps_s = [0.1]\nconcurrencies = [0]\n')
    done = asim("validate", str(scenario), "--out", str(tmp_path / "o"))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "'concurrencies'" in done.stderr
    assert not (tmp_path / "o").exists()


def test_out_and_resume_together_are_refused(tmp_path: Path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "plan.json").write_text("{}")
    done = asim("validate", "--out", str(tmp_path / "b"), "--resume", str(tmp_path / "a"))
    assert done.returncode == 2 and "not both" in done.stderr
