"""Malformed input files: one line naming the file and the problem, exit 2, never a traceback.

The command-line cases are the ones a user met; the Hypothesis tests mutate real files (a
calibration asim wrote, a points.jsonl line asim wrote) and throw garbage at the readers, which
may accept a file or refuse it with an `InputError`, nothing else.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from validate_helpers import FakeAbRun, synthetic_report

from asim.calibration.file import Calibration, load
from asim.errors import InputError
from asim.validate.scenario_file import parse_plan
from asim.validate.store import POINTS_FILE, Record, ResultsDir

RECORDED = Path(__file__).resolve().parents[1] / "figures" / "holdout-2" / "calibration.json"
TINY = parse_plan('servers = ["aiohttp"]\nsleeps_s = [0.01]\nconcurrencies = [2]\n'
                  "requests = 20\nrepeats = 1\n", default_name="tiny")


def asim(*args, env=None):
    return subprocess.run([sys.executable, "-m", "asim", *args], capture_output=True, text=True,
                          timeout=120, env={**os.environ, **(env or {})})


def assert_one_line(out, *needles):
    assert out.returncode == 2, (out.returncode, out.stderr)
    assert "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("asim: error:")
    for needle in needles:
        assert needle in lines[0], lines[0]


def calibration_with(tmp_path, **changes):
    data = json.loads(RECORDED.read_text())
    data.update(changes)
    path = tmp_path / "cal.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize("command", [["predict", "-c", "5", "--calibration"],
                                     ["calibrate", "--refit"]])
def test_costs_as_a_list(tmp_path, command):
    path = calibration_with(tmp_path, costs=[1])
    assert_one_line(asim(*command, str(path)), str(path), "costs")


def test_measured_as_a_list_with_a_cpu_dominated_sleep(tmp_path):
    path = calibration_with(tmp_path, measured=[1])
    out = asim("predict", "--sleep", "0", "-c", "5", "--calibration", str(path))
    assert_one_line(out, str(path), "measured")


def test_a_cost_written_as_true_is_refused(tmp_path):
    costs = json.loads(RECORDED.read_text())["costs"]
    path = calibration_with(tmp_path, costs={**costs, "ab_cold_cpu_s": True})
    assert_one_line(asim("predict", "-c", "5", "--calibration", str(path)), str(path),
                    "ab_cold_cpu_s")


def test_refit_without_a_recorded_run(tmp_path):
    measured = json.loads(RECORDED.read_text())["measured"]
    del measured["django herd"]
    path = calibration_with(tmp_path, measured=measured)
    out = asim("calibrate", "--refit", str(path), "--out", str(tmp_path / "x.json"))
    assert_one_line(out, str(path), "django herd")


def test_a_non_utf8_byte_in_points_jsonl_under_resume(tmp_path):
    folder = tmp_path / "run"
    store = ResultsDir.prepare(folder, TINY)
    point = TINY.points()[0]
    store.append(point, 1, FakeAbRun(report=synthetic_report(concurrency=point.concurrency)))
    with open(folder / POINTS_FILE, "ab") as f:
        f.write(b'{"server": "aio\xffhttp"}\n')
    out = asim("validate", "--resume", str(folder), "--calibration", "none")
    assert_one_line(out, f"{folder / POINTS_FILE}:2")


# Fuzzing: JSON values to put anywhere in a file, and mutations of a real file's JSON tree.
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=3),
    max_leaves=6,
)


@st.composite
def mutated(draw, tree):
    """``tree`` with one value somewhere in it replaced (or a key deleted)."""
    tree = json.loads(json.dumps(tree))
    parent, key = None, None
    node = tree
    while isinstance(node, dict | list) and node and draw(st.booleans()):
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        parent, key = node, draw(st.sampled_from(keys))
        node = node[key]
    if parent is None:
        return draw(JSON_VALUES)
    if isinstance(parent, dict) and draw(st.booleans()):
        del parent[key]
    else:
        parent[key] = draw(JSON_VALUES)
    return tree


RECORDED_TREE = json.loads(RECORDED.read_text())
FUZZ = settings(max_examples=300, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


def use_calibration(path):
    """What predict, validate and refit do with a calibration file before fitting."""
    cal = load(path)
    cal.describe()
    cal.cpu_spread_pct()
    cal.recorded_runs()


@FUZZ
@given(tree=mutated(RECORDED_TREE))
def test_fuzz_calibration_files_are_read_or_refused_with_an_input_error(tmp_path, tree):
    path = tmp_path / "cal.json"
    path.write_text(json.dumps(tree))
    try:
        use_calibration(path)
    except InputError as exc:
        assert str(path) in str(exc)


@FUZZ
@given(data=st.binary(max_size=200))
def test_fuzz_garbage_calibration_files_are_refused_with_an_input_error(tmp_path, data):
    path = tmp_path / "cal.json"
    path.write_bytes(data)
    with pytest.raises(InputError, match=str(path)):
        use_calibration(path)


def recorded_line():
    point = TINY.points()[0]
    report = synthetic_report(concurrency=point.concurrency)
    return Record(point=point, repeat=1, observed=report, command="ab -n 20 -c 2",
                  returncode=0).to_dict()


RECORD_TREE = recorded_line()


def read_points(folder, content: bytes):
    (folder / POINTS_FILE).write_bytes(content)
    store = ResultsDir(folder)
    store.missing(TINY)


@FUZZ
@given(tree=mutated(RECORD_TREE))
def test_fuzz_points_jsonl_lines_are_read_or_refused_with_an_input_error(tmp_path, tree):
    line = json.dumps(tree).encode()
    try:
        read_points(tmp_path, line + b"\n" + json.dumps(RECORD_TREE).encode() + b"\n")
    except InputError as exc:
        assert str(tmp_path / POINTS_FILE) in str(exc)


@FUZZ
@given(data=st.binary(max_size=200))
def test_fuzz_garbage_points_jsonl_is_read_or_refused_with_an_input_error(tmp_path, data):
    try:
        read_points(tmp_path, data + b"\n")
    except InputError as exc:
        assert str(tmp_path / POINTS_FILE) in str(exc)


def test_a_good_calibration_still_loads():
    cal = load(RECORDED)
    assert isinstance(cal, Calibration)
    runs, ts_over_s, aio_over_s = cal.recorded_runs()
    assert "django herd" in runs and ts_over_s > 0 and aio_over_s > 0
