"""The results folder: runs are appended as they finish, resume finds exactly what is missing."""

import json
from pathlib import Path

import pytest
from validate_helpers import FakeAbRun, synthetic_report

from asim.errors import InputError
from asim.validate.scenario_file import parse_plan
from asim.validate.store import POINTS_FILE, ResultsDir

PLAN = parse_plan(
    'servers = ["aiohttp", "django"]\nsleeps_s = [0.01]\nconcurrencies = [2, 4]\n'
    "requests = 20\nrepeats = 2\n",
    default_name="tiny",
)


def test_prepare_writes_the_plan_and_open_reads_it(tmp_path: Path):
    ResultsDir.prepare(tmp_path / "out", PLAN)
    assert ResultsDir.open(tmp_path / "out").read_plan() == PLAN
    with pytest.raises(InputError, match="not an asim results folder"):
        ResultsDir.open(tmp_path)


def test_append_writes_raw_text_and_one_line_per_run(tmp_path: Path):
    store = ResultsDir.prepare(tmp_path, PLAN)
    point = PLAN.points()[0]
    report = synthetic_report(concurrency=point.concurrency)
    record = store.append(point, 1, FakeAbRun(report=report, raw_text="raw ab text\n"))
    assert (tmp_path / record.raw_path).read_text() == "raw ab text\n"
    assert record.raw_path == f"raw/{point.id}-r1.txt"
    (line,) = (tmp_path / POINTS_FILE).read_text().splitlines()
    data = json.loads(line)
    assert data["point_id"] == point.id and data["repeat"] == 1
    assert data["server"] == point.server and data["concurrency"] == point.concurrency
    assert data["observed"] == report.to_dict()
    assert data["command"].startswith("ab -n 20")
    (back,) = store.records()
    assert back.observed.to_dict() == report.to_dict()
    assert back.point == point and not back.flagged


def test_missing_counts_points_times_repeats_and_shrinks_as_runs_land(tmp_path: Path):
    store = ResultsDir.prepare(tmp_path, PLAN)
    todo = store.missing(PLAN)
    assert len(todo) == len(PLAN.points()) * 2
    point, repeat = todo[0]
    store.append(point, repeat, FakeAbRun(report=synthetic_report(concurrency=point.concurrency)))
    assert (point, repeat) not in store.missing(PLAN)
    assert len(store.missing(PLAN)) == len(todo) - 1


def test_failed_run_is_kept_flagged_and_measured_again(tmp_path: Path):
    store = ResultsDir.prepare(tmp_path, PLAN)
    point = PLAN.points()[0]
    record = store.append(
        point,
        1,
        FakeAbRun(report=None, returncode=1, problems=("ab exited with 1",), stderr="boom"),
    )
    assert record.flagged and not record.complete
    assert (point, 1) in store.missing(PLAN)
    (back,) = store.records()
    assert back.problems == ("ab exited with 1",) and back.stderr == "boom"


def test_line_cut_short_by_an_interruption_is_ignored_then_repaired(tmp_path: Path):
    store = ResultsDir.prepare(tmp_path, PLAN)
    p0, p1 = PLAN.points()[:2]
    store.append(p0, 1, FakeAbRun(report=synthetic_report(concurrency=p0.concurrency)))
    with open(tmp_path / POINTS_FILE, "a") as f:
        f.write('{"point_id": "half a li')
    assert len(store.records()) == 1
    store.append(p1, 1, FakeAbRun(report=synthetic_report(concurrency=p1.concurrency)))
    assert [r.point for r in store.records()] == [p0, p1]


def test_a_corrupt_line_in_the_middle_is_an_error(tmp_path: Path):
    store = ResultsDir.prepare(tmp_path, PLAN)
    p0 = PLAN.points()[0]
    (tmp_path / POINTS_FILE).write_text("not json\n")
    store.append(p0, 1, FakeAbRun(report=synthetic_report(concurrency=p0.concurrency)))
    with pytest.raises(InputError, match=r"points.jsonl:1"):
        store.records()


def test_predictions_round_trip(tmp_path: Path):
    store = ResultsDir.prepare(tmp_path, PLAN)
    reports = {p: synthetic_report(concurrency=p.concurrency) for p in PLAN.points()}
    store.write_predictions(reports)
    back = store.read_predictions()
    assert {k: r.to_dict() for k, r in back.items()} == {
        p.id: r.to_dict() for p, r in reports.items()
    }
