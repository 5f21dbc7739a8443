"""Calibration files: round trip, which one is used, and clear errors for bad ones."""

import json

import pytest

from asim.calibration.file import DEFAULTS, Calibration, load, resolve, save
from asim.errors import CalibrationError
from asim.sim.costs import Costs


def test_round_trip_keeps_the_costs(tmp_path):
    cal = Calibration(costs=Costs(worker_cold_cpu_s=1e-3), measured={"x": 1}, created="now")
    path = save(cal, tmp_path / "sub" / "cal.json")
    back = load(path)
    assert back.costs.worker_cold_cpu_s == 1e-3
    assert back.path == path
    assert str(path) in back.describe()


def test_auto_without_a_file_uses_the_defaults(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("ASIM_CALIBRATION", raising=False)
    assert resolve("auto") is DEFAULTS
    assert "built-in defaults" in resolve("none").describe()


def test_auto_with_a_file_uses_it(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("ASIM_CALIBRATION", raising=False)
    save(Calibration(costs=Costs(ab_cold_cpu_s=5e-4)), tmp_path / "asim" / "calibration.json")
    assert resolve("auto").costs.ab_cold_cpu_s == 5e-4
    monkeypatch.setenv("ASIM_CALIBRATION", "none")
    assert resolve("auto") is DEFAULTS


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("not json", "cannot read"),
        ("{}", "not an asim calibration file"),
        (json.dumps({"format": 1, "costs": {"bogus_s": 1}}), "unknown calibration fields"),
        (json.dumps({"format": 1, "costs": {"ab_cold_cpu_s": -1}}), "ab_cold_cpu_s"),
    ],
)
def test_bad_files_give_one_clear_error(tmp_path, content, needle):
    path = tmp_path / "cal.json"
    path.write_text(content)
    with pytest.raises(CalibrationError, match=needle):
        load(path)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(CalibrationError, match="no calibration file"):
        resolve(str(tmp_path / "absent.json"))


def test_the_run_to_run_spread_counts_only_cpu_dominated_runs():
    cal = Calibration(costs=Costs(), measured={
        "aiohttp warm": {"sleep_s": 0.0, "rps_spread_pct": 12.5},
        "django herd": {"sleep_s": 0.0, "rps_spread_pct": 31.0},
        "django cold": {"sleep_s": 0.05, "rps_spread_pct": 90.0},
        "time_sleep_overshoot_us": 120.0,
    })
    assert cal.cpu_spread_pct() == 31.0
    assert DEFAULTS.cpu_spread_pct() is None
    assert Calibration(costs=Costs(), measured={"django warm": {"sleep_s": 0.0}}).cpu_spread_pct(
    ) is None  # a file from before the spread was recorded
