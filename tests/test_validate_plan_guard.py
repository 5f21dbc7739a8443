"""A results folder holds one plan: `validate TASK --resume DIR` (or --out DIR) refuses another
one with one line, before anything is predicted or measured, unless --force."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from asim.errors import InputError
from asim.validate.scenario_file import parse_plan
from asim.validate.store import PLAN_FILE, ResultsDir
from asim.validate.tasks import resolve_plan

TINY = parse_plan('servers = ["aiohttp"]\nsleeps_s = [0.01]\nconcurrencies = [2]\n'
                  "requests = 20\nrepeats = 1\n", default_name="tiny")


def asim(*args):
    return subprocess.run([sys.executable, "-m", "asim", *args], capture_output=True, text=True,
                          timeout=60)


def test_resume_with_another_task_is_refused_and_the_folder_is_untouched(tmp_path: Path):
    ResultsDir.prepare(tmp_path, TINY)
    before = (tmp_path / PLAN_FILE).read_text()
    done = asim("validate", "task7", "--resume", str(tmp_path))
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("asim: error:"), done.stderr
    assert "tiny" in lines[0] and "task7" in lines[0] and "--force" in lines[0]
    assert (tmp_path / PLAN_FILE).read_text() == before
    assert not (tmp_path / "predictions.json").exists()


def test_the_same_plan_with_other_repeats_is_the_same_plan(tmp_path: Path):
    ResultsDir.prepare(tmp_path, TINY)
    store = ResultsDir.prepare(tmp_path, TINY.with_repeats(3))
    assert store.read_plan().repeats == 3


def test_another_plan_in_the_folder_is_refused_unless_forced(tmp_path: Path):
    ResultsDir.prepare(tmp_path, TINY)
    task7 = resolve_plan("task7")
    with pytest.raises(InputError, match="holds the plan 'tiny'"):
        ResultsDir.prepare(tmp_path, task7)
    ResultsDir.prepare(tmp_path, task7, force=True)
    assert json.loads((tmp_path / PLAN_FILE).read_text())["name"] == "task7"


def test_an_unreadable_plan_is_refused_unless_forced(tmp_path: Path):
    (tmp_path / PLAN_FILE).write_text("{}")
    with pytest.raises(InputError, match="unreadable"):
        ResultsDir.prepare(tmp_path, TINY)
    ResultsDir.prepare(tmp_path, TINY, force=True)
    assert ResultsDir.open(tmp_path).read_plan() == TINY
