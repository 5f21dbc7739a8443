"""The calibration's reference runs and the drift section, offline."""

from __future__ import annotations

import json
from pathlib import Path

from asim.calibration.file import load as load_calibration
from asim.validate.drift import (
    DriftCheck,
    drift_lines,
    load,
    references,
    save,
    summary_line,
)

FIGURES = Path(__file__).resolve().parent.parent / "figures"
RECORDED = FIGURES / "calibration-check-3" / "calibration-1.json"


def test_a_recorded_calibration_gives_its_warm_and_saturated_runs():
    cal = load_calibration(RECORDED)
    refs = references(cal.measured)
    assert [r.name for r in refs] == ["django warm", "aiohttp warm", "aiohttp saturated"]
    raw = json.loads(RECORDED.read_text())["measured"]
    for r in refs:
        assert r.server == raw[r.name]["server"]
        assert r.requests == raw[r.name]["requests"]
        assert r.concurrency == raw[r.name]["concurrency"]
        assert r.calibrated_rps == raw[r.name]["requests_per_second"]
    assert [(r.requests, r.concurrency) for r in refs] == [(1000, 1), (1000, 1), (5000, 50)]


def test_built_in_costs_and_odd_records_give_none():
    assert references({}) == ()
    assert references({"django warm": [1, 2], "aiohttp warm": {"server": "aiohttp"}}) == ()
    odd = {"server": "aiohttp", "requests": 1000, "requests_per_second": 900.0, "sleep_s": 0.05}
    assert references({"aiohttp warm": odd}) == ()  # not a sleep-0 run
    wide = {**odd, "sleep_s": 0, "concurrency": 2000}
    assert references({"aiohttp saturated": wide}) == ()  # more clients than requests
    assert references({"aiohttp saturated": {**wide, "concurrency": "many"}}) == ()


def test_checks_round_trip_and_read_as_a_table(tmp_path: Path):
    checks = [
        DriftCheck(name="django warm", when="before", measured_at="2026-12-01T03:00:00+00:00",
                   calibrated_rps=1800.0, measured_rps=1710.0),
        DriftCheck(name="django warm", when="after", measured_at="2026-12-01T03:09:00+00:00",
                   calibrated_rps=1800.0, measured_rps=1890.0),
    ]
    save(tmp_path, checks)
    assert load(tmp_path) == checks
    text = "\n".join(drift_lines(checks))
    assert "| django warm | before | 2026-12-01T03:00:00+00:00 | 1800.0 | 1710.0 | -5.0 % |" in text
    assert "+5.0 %" in text
    assert summary_line(checks).endswith("django warm before -5.0 %, django warm after +5.0 %")
    assert drift_lines([]) == [] and summary_line([]) is None


def test_a_damaged_file_loses_only_the_section(tmp_path: Path):
    (tmp_path / "drift.json").write_text("{not json")
    assert load(tmp_path) == []
    assert load(tmp_path / "missing") == []
