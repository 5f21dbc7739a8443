"""Orchestration without servers: which plan and folder, and the order runs are measured in."""

from pathlib import Path

import pytest

from asim.errors import InputError
from asim.validate.run import _by_server, plan_and_folder
from asim.validate.store import ResultsDir
from asim.validate.tasks import resolve_plan


def test_task_and_default_folder():
    plan, folder = plan_and_folder("task7", repeats=None, out=None, resume_dir=None)
    assert plan.name == "task7" and plan.repeats == 3
    assert folder.parent == Path("results") and folder.name[:2] == "20"


def test_resume_reads_the_folders_plan_and_may_raise_its_repeats(tmp_path: Path):
    ResultsDir.prepare(tmp_path, resolve_plan("task8", repeats=2))
    plan, folder = plan_and_folder(None, repeats=None, out=None, resume_dir=tmp_path)
    assert (plan.name, plan.repeats, folder) == ("task8", 2, tmp_path)
    plan, _ = plan_and_folder(None, repeats=5, out=None, resume_dir=tmp_path)
    assert plan.repeats == 5
    plan, _ = plan_and_folder("task9", repeats=1, out=None, resume_dir=tmp_path)
    assert plan.name == "task9"


def test_refusals(tmp_path: Path):
    with pytest.raises(InputError, match="give a task"):
        plan_and_folder(None, repeats=None, out=None, resume_dir=None)
    with pytest.raises(InputError, match="not an asim results folder"):
        plan_and_folder(None, repeats=None, out=None, resume_dir=tmp_path)
    ResultsDir.prepare(tmp_path, resolve_plan("task7"))
    with pytest.raises(InputError, match="not both"):
        plan_and_folder(None, repeats=None, out=tmp_path / "other", resume_dir=tmp_path)


def test_each_server_once_repeats_sweep_the_concurrency_levels():
    plan = resolve_plan("all", repeats=2)
    todo = [(p, k) for p in plan.points() for k in (1, 2)]
    groups = _by_server(todo)
    assert len(groups) == len({p.server_key for p in plan.points()})
    assert sum(len(g) for g in groups) == len(todo)
    first = groups[0]
    assert {p.server_key for p, _ in first} == {("aiohttp", 0.1, 1, None, None)}
    assert [(p.concurrency, k) for p, k in first] == [
        (5, 1),
        (10, 1),
        (20, 1),
        (40, 1),
        (5, 2),
        (10, 2),
        (20, 2),
        (40, 2),
    ]
