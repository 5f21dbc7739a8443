"""A results folder keeps the calibration it was predicted with (calibration.json), and
`--resume` predicts with it: offline, on committed calibrations and a committed results folder.

The copy is made before the first measurement, so it is there even when the run stops at once:
these tests run validate with no ab on PATH, the real way a run stops before measuring.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from asim.validate.store import CALIBRATION_FILE, ResultsDir
from asim.validate.tasks import resolve_plan

REPO = Path(__file__).resolve().parents[1]
RECORDED = REPO / "figures" / "holdout-11" / "calibration.json"
OTHER = REPO / "figures" / "holdout-6" / "calibration.json"
TASK10 = REPO / "figures" / "task10"  # complete, predicted with the calibration next to it


def asim(*args: str, cwd: Path | None = None, no_ab: bool = False) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200", "PYTHONPATH": str(REPO)}
    if no_ab:
        env["PATH"] = str(cwd or REPO)  # a folder without ab: validate stops before measuring
    return subprocess.run([sys.executable, "-m", "asim", *args], capture_output=True, text=True,
                          timeout=120, cwd=cwd, env=env)


def test_the_store_copies_byte_for_byte_and_never_replaces(tmp_path: Path):
    store = ResultsDir.prepare(tmp_path / "o", resolve_plan("task7"))
    assert store.keep_calibration(RECORDED)
    assert store.calibration_path.read_bytes() == RECORDED.read_bytes()
    assert not store.keep_calibration(OTHER)
    assert store.calibration_path.read_bytes() == RECORDED.read_bytes()


def test_validate_copies_its_calibration_before_the_first_measurement(tmp_path: Path):
    out = tmp_path / "o"
    done = asim("validate", "task7", "--repeat", "1", "--passes", "1", "--out", str(out),
                "--calibration", str(RECORDED), cwd=tmp_path, no_ab=True)
    assert done.returncode == 1 and "ApacheBench (ab) is not installed" in done.stderr
    assert (out / CALIBRATION_FILE).read_bytes() == RECORDED.read_bytes()
    assert not (out / "points.jsonl").exists()

    # Another calibration in the same folder predicts, says so, and leaves the copy alone.
    done = asim("validate", "task7", "--repeat", "1", "--passes", "1", "--out", str(out),
                "--calibration", str(OTHER), cwd=tmp_path, no_ab=True)
    assert f"calibration: {OTHER} (measured" in done.stdout
    assert "not the results folder's calibration.json, which differs" in done.stdout
    assert (out / CALIBRATION_FILE).read_bytes() == RECORDED.read_bytes()


def test_built_in_costs_copy_nothing(tmp_path: Path):
    out = tmp_path / "o"
    asim("validate", "task7", "--repeat", "1", "--passes", "1", "--out", str(out),
         "--calibration", "none", cwd=tmp_path, no_ab=True)
    assert (out / "plan.json").exists() and not (out / CALIBRATION_FILE).exists()


def test_resume_predicts_with_the_folders_copy_unless_told_otherwise(tmp_path: Path):
    folder = tmp_path / "task10"
    shutil.copytree(TASK10, folder)
    kept = (folder / CALIBRATION_FILE).read_bytes()

    # The suite's ASIM_CALIBRATION=none would mean the built-in costs: the copy comes first.
    done = asim("validate", "--resume", "task10", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "calibration: task10/calibration.json (measured 2026-11-30 19:56 UTC)" in done.stdout
    assert "the results folder's calibration.json, as --resume does" in done.stdout
    report = (folder / "report.md").read_text()
    assert ("- model costs: calibration `calibration.json`, this folder's copy, copied from "
            "`figures/task10/calibration.json`") in report

    done = asim("validate", "--resume", "task10", "--calibration", "none", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "calibration: built-in defaults" in done.stdout
    assert "not the results folder's calibration.json, which differs; it is kept" in done.stdout
    report = (folder / "report.md").read_text()
    assert "- model costs: built-in defaults; not this folder's `calibration.json`" in report
    assert (folder / CALIBRATION_FILE).read_bytes() == kept


@pytest.mark.parametrize(
    ("text", "needle"),
    [("{", "cannot read calibration file"), ('{"format": 9}', "not an asim calibration file")],
)
def test_a_corrupt_copy_is_one_line_and_exit_2(tmp_path: Path, text: str, needle: str):
    ResultsDir.prepare(tmp_path, resolve_plan("task7"))
    (tmp_path / CALIBRATION_FILE).write_text(text)
    done = asim("validate", "--resume", str(tmp_path))
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("asim: error: "), done.stderr
    assert str(tmp_path / CALIBRATION_FILE) in lines[0] and needle in lines[0]
    assert "--calibration" in lines[0]
    assert done.stdout == ""
