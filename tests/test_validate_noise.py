"""The noise floor of CPU-dominated points: passes on disk, their arithmetic, and the report.

The two-pass folder is real data: `figures/noise-floor/short` holds the same 18 CPU-dominated
hold-out points measured three times in one session minutes apart (`tools/noise_floor.py`, a
calibration between passes); its pass-1 and pass-2 runs, unchanged but for the `pass` field,
make the folder `asim validate --passes 2` would have written. Only the tests of the arithmetic
use hand-made reports (`synthetic_report`), and say so.
"""

import json
import shutil
import statistics
from pathlib import Path

import pytest
from validate_helpers import FakeAbRun, synthetic_report

from asim.errors import InputError
from asim.render import validate_noise_summary
from asim.validate.compare import METRICS_BY_KEY, PointComparison, compare
from asim.validate.noise import PassedPoint, noise_floor, noise_lines
from asim.validate.report import render_markdown
from asim.validate.run import plan_and_folder, resume
from asim.validate.store import Record, ResultsDir
from asim.validate.study import Plan, StudyPoint
from asim.validate.tasks import resolve_plan

ROOT = Path(__file__).resolve().parents[1]
SHORT = ROOT / "figures" / "noise-floor" / "short"
RPS, TPR = METRICS_BY_KEY["rps"], METRICS_BY_KEY["tpr"]


def two_pass_folder(out: Path) -> Path:
    """Passes 1 and 2 of figures/noise-floor/short as one results folder of two passes."""
    out.mkdir()
    plan = json.loads((SHORT / "pass-1" / "plan.json").read_text())
    (out / "plan.json").write_text(json.dumps({**plan, "passes": 2}))
    lines = []
    for n in (1, 2):
        for line in (SHORT / f"pass-{n}" / "points.jsonl").read_text().splitlines():
            lines.append(json.dumps({**json.loads(line), "pass": n}))
    (out / "points.jsonl").write_text("\n".join(lines) + "\n")
    shutil.copy(SHORT / "pass-1" / "predictions.json", out)
    return out


def comparisons_of(folder: Path) -> tuple[PointComparison, ...]:
    store = ResultsDir.open(folder)
    return compare(store.read_plan(), store.read_predictions(), store.records())


def medians_from_file(path: Path, key: str) -> dict[str, float]:
    """The median RPS of each point of one pass, read straight from its points.jsonl."""
    runs: dict[str, list[float]] = {}
    for line in path.read_text().splitlines():
        data = json.loads(line)
        runs.setdefault(data["point_id"], []).append(data["observed"][key])
    return {pid: statistics.median(v) for pid, v in runs.items()}


# ---------------------------------------------------------------- the files


def test_a_folder_written_before_passes_reads_as_one_pass():
    store = ResultsDir.open(SHORT / "pass-1")
    assert store.read_plan().passes == 1
    records = store.records()
    assert len(records) == 54 and {r.pass_number for r in records} == {1}
    assert all(c.passes == 1 for c in comparisons_of(SHORT / "pass-1"))


def test_a_second_pass_is_stored_apart_and_only_for_cpu_dominated_points(tmp_path: Path):
    cpu = StudyPoint(server="aiohttp", sleep_s=0.0, concurrency=2, requests=20)
    plan = Plan(name="mixed", studies=resolve_plan("holdout").studies, repeats=1, passes=2)
    store = ResultsDir.prepare(tmp_path, plan)
    record = store.append(cpu, 1, FakeAbRun(report=synthetic_report(concurrency=2)),
                          pass_number=2)
    assert record.raw_path == "raw/aiohttp-s0-c2-n20-p2-r1.txt"
    line = json.loads(store.points_path.read_text())
    assert line["pass"] == 2
    assert Record.from_dict(line).pass_number == 2
    later_runs = ResultsDir.open(tmp_path).completed(pass_number=2)
    assert list(later_runs) == [(cpu.id, 1)] and later_runs[(cpu.id, 1)].pass_number == 2
    assert ResultsDir.open(tmp_path).completed() == {}
    later = store.missing(plan, 2)
    assert later and all(p.sleep_s <= 0.002 for p, _ in later)
    assert len(later) == 18  # the hold-out's CPU-dominated points, one repeat
    assert len(store.missing_runs(plan)) == len(plan.points()) + 18


def test_plan_passes_round_trip_and_are_not_another_plan(tmp_path: Path):
    plan = resolve_plan("holdout").with_passes(2)
    assert Plan.from_dict(plan.to_dict()) == plan
    ResultsDir.prepare(tmp_path, plan.with_passes(1))
    ResultsDir.prepare(tmp_path, plan)  # the same plan measured again: not refused
    assert ResultsDir.open(tmp_path).read_plan().passes == 2
    with pytest.raises(InputError, match="passes must be between 1 and 3"):
        plan.with_passes(0)


def test_a_task_measures_two_passes_and_resume_keeps_the_folders(tmp_path: Path):
    plan, _ = plan_and_folder("holdout", repeats=None, out=None, resume_dir=None)
    assert plan.passes == 2
    plan, _ = plan_and_folder("holdout", repeats=None, out=None, resume_dir=None, passes=1)
    assert plan.passes == 1
    old = tmp_path / "old"
    old.mkdir()
    shutil.copy(SHORT / "pass-1" / "plan.json", old)
    plan, _ = plan_and_folder(None, repeats=None, out=None, resume_dir=old)
    assert plan.passes == 1
    plan, _ = plan_and_folder(None, repeats=None, out=None, resume_dir=old, passes=2)
    assert plan.passes == 2


def test_resume_of_an_old_folder_renders_and_says_the_floor_was_not_measured(tmp_path: Path):
    old = tmp_path / "old"
    old.mkdir()
    for name in ("plan.json", "points.jsonl"):
        shutil.copy(SHORT / "pass-1" / name, old)
    result = resume(old)  # every run is on disk: nothing is measured
    assert result.measured_runs == 0
    text = result.report_path.read_text()
    assert "The noise floor was not measured" in text
    assert "| noise floor |" not in text
    assert validate_noise_summary(result.comparisons) == []


# ---------------------------------------------------------------- two real passes


def test_each_points_floor_is_the_disagreement_of_its_two_pass_medians(tmp_path: Path):
    comparisons = comparisons_of(two_pass_folder(tmp_path / "two"))
    assert all(c.passes == 2 for c in comparisons)
    nf = noise_floor(comparisons)
    assert nf.unmeasured == ()
    assert len(nf.rows) == 36  # 18 points, RPS and time per request
    first = medians_from_file(SHORT / "pass-1" / "points.jsonl", "requests_per_second")
    second = medians_from_file(SHORT / "pass-2" / "points.jsonl", "requests_per_second")
    found = {c.point.id: c for c in comparisons}
    for row in (r for r in nf.rows if r.metric is RPS):
        a, b = first[row.point_id], second[row.point_id]
        assert row.medians == (a, b)
        assert row.floor_pct == pytest.approx(abs(a - b) / ((a + b) / 2) * 100)
        # The model's error against pass 1 is the error every other table shows.
        assert row.errors_pct[0] == pytest.approx(found[row.point_id].error(RPS))
        assert row.errors_pct[1] == pytest.approx((row.model - b) / b * 100)
    assert nf.median_floor_pct() == pytest.approx(statistics.median(
        abs(first[k] - second[k]) / ((first[k] + second[k]) / 2) * 100 for k in first))


def test_report_and_terminal_show_the_floor_next_to_the_errors(tmp_path: Path):
    comparisons = comparisons_of(two_pass_folder(tmp_path / "two"))
    lines = noise_lines(comparisons)
    header = next(line for line in lines if line.startswith("| Point"))
    assert [cell.strip() for cell in header.strip("|").split("|")][2:9] == [
        "pass 1", "pass 2", "noise floor", "model", "error vs pass 1", "error vs pass 2",
        "within max(10 %, floor)",
    ]
    rows = [line for line in lines if line.startswith("| `")]
    assert len(rows) == 36
    nf = noise_floor(comparisons)
    verdicts = [row.rsplit(" | ", 1)[1] for row in rows]
    assert sum(v == "yes |" for v in verdicts) == len(nf.rows) - len(nf.outside)
    summary = validate_noise_summary(comparisons)
    assert summary[0].startswith("18 CPU-dominated point(s) measured in 2 passes")
    md = render_markdown(resolve_plan("holdout").with_passes(2), comparisons, figures={},
                         meta={"machine": "test"})
    assert "### CPU-dominated points against measuring again (noise floor)" in md
    assert "measured again in 1 later pass(es)" in md
    lab = render_markdown(resolve_plan("task7").with_passes(2), (), figures={}, meta={})
    assert "measured again" not in lab  # the lab has no CPU-dominated point to measure again


# ---------------------------------------------------------------- arithmetic (hand-made)


def point(pid: str, errors: tuple[float, ...], medians: tuple[float, ...]) -> PassedPoint:
    return PassedPoint(point_id=pid, metric=RPS, medians=medians, model=100.0, branch="",
                       errors_pct=errors)


def test_floor_within_and_goal_arithmetic():
    # Hand-made numbers: medians 90 and 110 lie 20 % of their mean apart.
    wide = point("a", (+15.0, -12.0), (90.0, 110.0))
    assert wide.floor_pct == pytest.approx(20.0)
    assert wide.error_pct == 15.0 and wide.within  # 15 % <= max(10 %, 20 %)
    narrow = point("b", (+12.0, +11.0), (100.0, 102.0))
    assert narrow.tolerance_pct == 10.0 and not narrow.within
    assert point("c", (-9.9, +3.0), (100.0, 100.0)).within


def test_hand_made_second_pass_through_the_comparison():
    # Hand-made reports: pass 1 at 100 ms per request, pass 2 at 110 ms, the model at 104 ms.
    p = StudyPoint(server="django", sleep_s=0.001, concurrency=2, requests=20)
    c = PointComparison(
        point=p,
        predicted=synthetic_report(concurrency=2, request_ms=104.0),
        observed=(synthetic_report(concurrency=2, request_ms=100.0),),
        later_passes=((synthetic_report(concurrency=2, request_ms=110.0),),),
    )
    nf = noise_floor([c])
    tpr = next(r for r in nf.rows if r.metric is TPR)
    assert tpr.medians == pytest.approx((100.0, 110.0), rel=1e-3)
    assert tpr.floor_pct == pytest.approx(10 / 105 * 100, rel=1e-3)
    assert tpr.errors_pct == pytest.approx((4.0, 104 / 110 * 100 - 100), rel=1e-3)
    assert nf.goal_met is False  # median error 5.6 % (RPS 5.8, time per request 5.5) > 5 %
    io = PointComparison(point=StudyPoint(server="django", sleep_s=0.1, concurrency=2,
                                          requests=20),
                         predicted=c.predicted, observed=c.observed)
    assert noise_floor([io]).rows == () and noise_lines([io]) == []
