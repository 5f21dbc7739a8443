"""Scenario files: a valid grid becomes studies; every bad field is named in a ScenarioError."""

from pathlib import Path

import pytest

from asim.errors import InputError, ScenarioError
from asim.validate.scenario_file import load_plan, parse_plan
from asim.validate.study import DEFAULT_REPEATS, X_CONCURRENCY, X_SLEEP, Plan, StudyPoint
from asim.validate.tasks import BUILTIN_TASKS, resolve_plan

GOOD = """
servers = ["aiohttp", "django"]
workers = [1, 2]
sleeps_s = [0.1, 0.2]
concurrencies = [5, 10]
requests = 50
repeats = 2
"""


def test_good_grid_becomes_concurrency_and_sleep_studies():
    plan = parse_plan(GOOD, default_name="grid")
    assert plan.name == "grid"
    assert plan.repeats == 2
    xs = [s.x for s in plan.studies]
    assert xs.count(X_CONCURRENCY) == 2 and xs.count(X_SLEEP) == 2
    labels = {s.label for s in plan.studies[0].series}
    assert labels == {"aiohttp", "Django, 1 worker", "Django, 2 workers"}
    # 3 series x 2 sleeps x 2 concurrencies, shared between the studies
    assert len(plan.points()) == 12
    assert all(p.requests == 50 for p in plan.points())


def test_single_values_without_brackets_and_defaults():
    plan = parse_plan('servers = "aiohttp"\nsleeps_s = 0.01\nconcurrencies = 2\n')
    assert plan.repeats == DEFAULT_REPEATS
    (point,) = plan.points()
    assert point == StudyPoint(server="aiohttp", sleep_s=0.01, concurrency=2, requests=100)


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("sleeps_s = [0.1]\nconcurrencies = [5]\n", "servers"),
        ('servers = ["nginx"]\nsleeps_s = [0.1]\nconcurrencies = [5]\n', "servers"),
        ('servers = ["aiohttp", "aiohttp"]\nsleeps_s = [0.1]\nconcurrencies = [5]\n', "servers"),
        ("servers = []\nsleeps_s = [0.1]\nconcurrencies = [5]\n", "servers"),
        ('servers = ["django"]\nworkers = [0]\nsleeps_s = [0.1]\nconcurrencies = [5]\n', "workers"),
        (
            'servers = ["django"]\nworkers = [1.5]\nsleeps_s = [0.1]\nconcurrencies = [5]\n',
            "workers",
        ),
        (
            'servers = ["aiohttp"]\nworkers = [2]\nsleeps_s = [0.1]\nconcurrencies = [5]\n',
            "workers",
        ),
        ('servers = ["aiohttp"]\nsleeps_s = [-0.1]\nconcurrencies = [5]\n', "sleeps_s"),
        ('servers = ["aiohttp"]\nsleeps_s = ["0.1"]\nconcurrencies = [5]\n', "sleeps_s"),
        ('servers = ["aiohttp"]\nsleeps_s = [true]\nconcurrencies = [5]\n', "sleeps_s"),
        ('servers = ["aiohttp"]\nsleeps_s = [nan]\nconcurrencies = [5]\n', "sleeps_s"),
        ('servers = ["aiohttp"]\nsleeps_s = [0.1]\nconcurrencies = [0]\n', "concurrencies"),
        ('servers = ["aiohttp"]\nsleeps_s = [0.1]\nconcurrencies = [20000000]\n', "concurrencies"),
        (
            'servers = ["aiohttp"]\nsleeps_s = [0.1]\nconcurrencies = [50]\nrequests = 20\n',
            "concurrencies",
        ),
        (
            'servers = ["aiohttp"]\nsleeps_s = [0.1]\nconcurrencies = [5]\nrequests = 0\n',
            "requests",
        ),
        (
            'servers = ["aiohttp"]\nsleeps_s = [0.1]\nconcurrencies = [5]\nkeepalive = "yes"\n',
            "keepalive",
        ),
        ('servers = ["aiohttp"]\nsleeps_s = [0.1]\nconcurrencies = [5]\nrepeats = 0\n', "repeats"),
        ('servers = ["aiohttp"]\nsleeps_s = [0.1]\nconcurrencies = [5]\nname = "a b/c"\n', "name"),
        ('servers = ["aiohttp"]\nsleeps = [0.1]\nconcurrencies = [5]\n', "sleeps"),
    ],
)
def test_each_bad_field_is_named(text, field):
    with pytest.raises(ScenarioError) as info:
        parse_plan(text, source="s.toml")
    message = str(info.value)
    assert message.startswith("s.toml: ")
    assert f"'{field}'" in message
    assert "\n" not in message


def test_unknown_field_suggests_the_close_name():
    with pytest.raises(ScenarioError, match="did you mean 'sleeps_s'"):
        parse_plan('servers = ["aiohttp"]\nsleeps = [0.1]\nconcurrencies = [5]\n')


def test_not_toml_and_missing_file(tmp_path: Path):
    with pytest.raises(ScenarioError, match="not valid TOML"):
        parse_plan("servers = [", source="x.toml")
    with pytest.raises(ScenarioError, match="no such scenario file"):
        load_plan(tmp_path / "absent.toml")


def test_resolve_plan_builtins_files_and_unknown(tmp_path: Path):
    assert resolve_plan("task7").repeats == DEFAULT_REPEATS
    assert resolve_plan("task9", repeats=1).repeats == 1
    path = tmp_path / "my grid.toml"
    path.write_text(GOOD)
    plan = resolve_plan(str(path), repeats=4)
    assert plan.name == "my-grid" and plan.repeats == 4
    assert resolve_plan(str(path)).repeats == 2
    with pytest.raises(InputError, match="unknown task"):
        resolve_plan("task99")
    with pytest.raises(InputError, match="repeat"):
        resolve_plan("task7", repeats=0)


def test_builtin_tasks_are_the_seeds():
    (t7,) = BUILTIN_TASKS["task7"]
    (t8,) = BUILTIN_TASKS["task8"]
    (t9,) = BUILTIN_TASKS["task9"]
    assert t7.concurrencies == (5, 10, 20, 40) and t7.sleeps_s == (0.1,)
    assert {s.server for s in t7.series} == {"aiohttp", "django"}
    assert t8.sleeps_s == (0.1, 0.2, 0.3) and t8.concurrencies == (10,)
    assert [s.server for s in t9.series] == ["aiohttp-blocking", "django"]
    assert all(s.workers == 1 for t in (t7, t8, t9) for s in t.series)
    assert all(t.requests == 100 for t in (t7, t8, t9))


def test_all_measures_shared_points_once_and_starts_each_server_once():
    plan = resolve_plan("all")
    points = plan.points()
    # task 7, task 8's two new sleeps, task 9's blocking loop, task 10's five new lines
    assert len({p.id for p in points}) == len(points) == 8 + 4 + 4 + 5 * 4
    keys = [p.server_key for p in points]
    # each server configuration is one contiguous block
    blocks = [k for i, k in enumerate(keys) if i == 0 or keys[i - 1] != k]
    assert len(blocks) == len(set(keys)) == 2 + 4 + 1 + 5
    task9_django = {p.id for p in BUILTIN_TASKS["task9"][0].points() if p.server == "django"}
    task7_django = {p.id for p in BUILTIN_TASKS["task7"][0].points() if p.server == "django"}
    assert task9_django == task7_django


def test_plan_round_trips_through_json():
    plan = parse_plan(GOOD)
    assert Plan.from_dict(plan.to_dict()) == plan
    assert Plan.from_dict(resolve_plan("all").to_dict()) == resolve_plan("all")
