"""`asim calibrate --refit` offline, on the committed calibration files: a refit is a function of
the recorded runs alone, and the command line writes what the library computes. (What the joint
fit finds, and how well it reproduces the runs, is tests/test_calibration_fit.py.)
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

from asim.calibration.file import Calibration, load
from asim.calibration.fit import refit

FIGURES = Path(__file__).resolve().parents[1] / "figures"
# A refit takes seconds of simulation: `make test-fast` refits one file, `make test` both.
FITS = [pytest.param("holdout-3", marks=pytest.mark.slow), "holdout-4"]
# The files keep each measurement to 0.1 us and 0.01 req/s; a refit of the rounded runs moves
# the costs by less than 0.1 % (the bisections stop at 2**-25 of their range).
ROUNDING_REL = 5e-3


def committed(name: str) -> Calibration:
    return load(FIGURES / name / "calibration.json")


@cache
def refitted(name: str) -> Calibration:
    return refit(committed(name))


@pytest.mark.slow
def test_refit_depends_on_the_recorded_runs_only() -> None:
    # A refit keeps the runs as they were recorded, so refitting its result fits the same
    # numbers again: the same costs, to the last bit.
    first = refitted("holdout-4")
    assert refit(first).costs == first.costs


@pytest.mark.slow
def test_calibrate_refit_on_the_command_line(tmp_path: Path) -> None:
    source = tmp_path / "calibration.json"
    shutil.copy(FIGURES / "holdout-4" / "calibration.json", source)
    out = tmp_path / "refitted.json"
    done = subprocess.run(
        [sys.executable, "-m", "asim", "calibrate", "--refit", str(source), "--out", str(out)],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert f"wrote {out}" in done.stdout
    assert json.loads(source.read_text()) == json.loads(
        (FIGURES / "holdout-4" / "calibration.json").read_text()
    )  # --out: the file refitted is left as it was
    written = load(out).costs.to_dict()
    assert written.pop("source") == str(out)  # load names the file the costs came from
    expected = refitted("holdout-4").costs.to_dict()
    expected.pop("source")
    assert written == expected
