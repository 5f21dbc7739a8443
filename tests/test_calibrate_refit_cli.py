"""`asim calibrate --refit FILE` as a user runs it: FILE is never overwritten unless --out names
it."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

RECORDED = Path(__file__).resolve().parents[1] / "figures" / "holdout-2" / "calibration.json"


def asim(*args, env_extra):
    env = {**os.environ, **env_extra}
    return subprocess.run([sys.executable, "-m", "asim", *args], capture_output=True, text=True,
                          timeout=120, env=env)


@pytest.fixture
def recorded(tmp_path):
    path = tmp_path / "recorded.json"
    shutil.copy(RECORDED, path)
    return path


def test_refit_writes_the_default_calibration_and_leaves_its_input_alone(tmp_path, recorded):
    before = recorded.read_bytes()
    default = tmp_path / "cache" / "calibration.json"
    out = asim("calibrate", "--refit", str(recorded), env_extra={"ASIM_CALIBRATION": str(default)})
    assert out.returncode == 0, out.stderr
    assert recorded.read_bytes() == before
    assert f"wrote {default}" in out.stdout
    refitted = json.loads(default.read_text())
    assert refitted["created"] == json.loads(before)["created"]  # the same measurements


def test_refit_writes_its_input_only_when_out_names_it(tmp_path, recorded):
    default = tmp_path / "cache" / "calibration.json"
    out = asim("calibrate", "--refit", str(recorded), "--out", str(recorded),
               env_extra={"ASIM_CALIBRATION": str(default)})
    assert out.returncode == 0, out.stderr
    assert not default.exists()
    assert f"wrote {recorded}" in out.stdout
