"""Calibration files: where they live, how they are read and written, which one is in use.

A calibration file is JSON written by `asim calibrate`: the fitted `Costs`, the raw measurements
behind them, and the machine they were taken on. `predict` and `validate` use the default file
when it exists (``$ASIM_CALIBRATION``, else ``$XDG_CACHE_HOME/asim/calibration.json``) and say
which calibration they used; ``--calibration none`` uses the built-in defaults.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from asim.errors import CalibrationError
from asim.sim.costs import DEFAULT_COSTS, Costs
from asim.sim.shapes import NAMES
from asim.sim.spec import CPU_DOMINATED_SLEEP_S

if TYPE_CHECKING:
    from asim.lab.measure import CpuRun

_REQUIRED = object()  # a field without a default
NONE = "none"
AUTO = "auto"
FORMAT = 1


def default_path() -> Path:
    env = os.environ.get("ASIM_CALIBRATION")
    if env and env != NONE:
        return Path(env)
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "asim" / "calibration.json"


@dataclass(frozen=True, kw_only=True)
class Calibration:
    """Costs fitted on one machine, with the measurements and the machine they came from."""

    costs: Costs
    measured: dict[str, object] = field(default_factory=dict)
    machine: dict[str, object] = field(default_factory=dict)
    created: str = ""
    path: Path | None = None

    def describe(self) -> str:
        """One line for the user: which calibration is in use."""
        if self.path is None:
            return "calibration: built-in defaults (run `asim calibrate` to measure this machine)"
        return f"calibration: {self.path} (measured {self.created})"

    def cpu_spread_pct(self) -> float | None:
        """The largest run-to-run spread among the calibration's CPU-dominated runs: (max - min)
        / median of the RPS of one ab command's repeats, in %, if the file recorded it."""
        spreads = [
            float(r["rps_spread_pct"])
            for r in self.measured.values()
            if isinstance(r, dict)
            and r.get("rps_spread_pct") is not None
            and float(r.get("sleep_s", 1.0)) <= CPU_DOMINATED_SLEEP_S
        ]
        return max(spreads) if spreads else None

    def recorded_runs(self) -> tuple[dict[str, CpuRun], float, float]:
        """The ab runs and the two sleep overshoots (seconds: time.sleep's, asyncio.sleep's)
        this calibration recorded, checked field by field, for `asim calibrate --refit`."""
        from asim.lab.measure import CpuRun

        where = self.path or "the calibration"
        runs = {}
        for name, r in self.measured.items():
            if not isinstance(r, dict):
                continue
            field = _FieldReader(r, f"{where}: measured run {name!r}")
            runs[name] = CpuRun(
                server=field.choice("server", NAMES),
                sleep_s=field.number("sleep_s", 0, 1),
                requests=field.whole("requests", 1, 100_000),
                concurrency=field.whole("concurrency", 1, 1000),
                workers=field.whole("workers", 1, 64),
                requests_per_second=field.number("requests_per_second", 0, 1e7, positive=True),
                server_cpu_s=field.number("server_cpu_us_per_request", 0, 1e6, positive=True)
                / 1e6,
                ab_cpu_s=field.number("ab_cpu_us_per_request", 0, 1e6, positive=True) / 1e6,
                time_per_request_ms=field.number("time_per_request_ms", 0, 1e6, positive=True),
                repeats=field.whole("repeats", 1, 1000, default=1),
                rps_spread_pct=field.number("rps_spread_pct", 0, 1e6, default=None),
            )
            if runs[name].concurrency > runs[name].requests:
                raise CalibrationError(f"{field.where}: concurrency exceeds requests")
        overshoots = _FieldReader(self.measured, f"{where}: measured")
        return (
            runs,
            overshoots.number("time_sleep_overshoot_us", 0, 1e6) / 1e6,
            overshoots.number("asyncio_sleep_overshoot_us", 0, 1e6) / 1e6,
        )

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": FORMAT,
                "created": self.created,
                "machine": self.machine,
                "costs": self.costs.to_dict(),
                "measured": self.measured,
            },
            indent=2,
        )


DEFAULTS = Calibration(costs=DEFAULT_COSTS)


class _FieldReader:
    """Typed fields of one JSON object, refused with a message naming ``where`` and the key."""

    def __init__(self, data: dict[str, Any], where: str) -> None:
        self.data = data
        self.where = where

    def _get(self, key: str, default: object) -> object:
        if key in self.data:
            return self.data[key]
        if default is _REQUIRED:
            raise CalibrationError(f"{self.where} lacks '{key}'")
        return default

    def number(self, key: str, low: float, high: float, *, positive: bool = False,
               default: object = _REQUIRED) -> Any:
        value = self._get(key, default)
        if value is default and default is not _REQUIRED:
            return value
        if not (_is_number(value) and low <= value <= high and (value > 0 or not positive)):
            above = f"above {low:g}" if positive else f"from {low:g}"
            raise CalibrationError(
                f"{self.where}: '{key}' must be a number {above} to {high:g}, got {value!r}"
            )
        return float(value)  # type: ignore[arg-type]

    def whole(self, key: str, low: int, high: int, *, default: object = _REQUIRED) -> Any:
        value = self._get(key, default)
        if value is default and default is not _REQUIRED:
            return value
        whole = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
        if not (_is_number(value) and whole and low <= value <= high):  # type: ignore[operator]
            raise CalibrationError(
                f"{self.where}: '{key}' must be a whole number from {low} to {high}, "
                f"got {value!r}"
            )
        return int(value)  # type: ignore[arg-type]

    def choice(self, key: str, choices: Sequence[str]) -> str:
        value = self._get(key, _REQUIRED)
        if value not in choices:
            raise CalibrationError(
                f"{self.where}: '{key}' must be one of {', '.join(choices)}, got {value!r}"
            )
        return str(value)


def now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


def save(calibration: Calibration, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(calibration.to_json() + "\n")
    tmp.replace(path)
    return path


def load(path: Path) -> Calibration:
    """Read a calibration file; a `CalibrationError` naming the file says what is wrong."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CalibrationError(f"no calibration file at {path}") from None
    except (OSError, ValueError, RecursionError) as exc:
        raise CalibrationError(f"cannot read calibration file {path}: {exc}") from None
    if not isinstance(data, dict) or not _is_number(data.get("format")) or (
        data["format"] != FORMAT or "costs" not in data
    ):
        raise CalibrationError(f"{path} is not an asim calibration file (format {FORMAT})")
    for name, kind in (("costs", dict), ("measured", dict), ("machine", dict), ("created", str)):
        if name in data and not isinstance(data[name], kind):
            what = "an object" if kind is dict else "a string"
            raise CalibrationError(
                f"{path}: '{name}' must be {what}, not {_json_type(data[name])}"
            )
    measured = data.get("measured", {})
    for run, record in measured.items():
        if not isinstance(record, dict):
            continue  # a single figure (an overshoot) or a list (the wake-up fits)
        for key in ("sleep_s", "rps_spread_pct"):  # what `cpu_spread_pct` reads
            value = record.get(key)
            if value is not None and not _is_number(value):
                raise CalibrationError(
                    f"{path}: measured run {run!r}: '{key}' must be a number, got {value!r}"
                )
    try:
        costs = Costs.from_dict({**data["costs"], "source": str(path)})
    except CalibrationError as exc:
        raise CalibrationError(f"{path}: {exc}") from None
    return Calibration(
        costs=costs,
        measured=measured,
        machine=data.get("machine", {}),
        created=str(data.get("created", "")),
        path=path,
    )


def _is_number(value: object) -> bool:
    """A JSON number that is not ``true`` or ``false`` (Python counts bools as ints)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def _json_type(value: object) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "true/false",
             type(None): "null"}
    return names.get(type(value), "a number")


def resolve(choice: str = AUTO) -> Calibration:
    """The calibration for ``--calibration``: ``auto`` (default file if present), ``none``, or a
    path to a file."""
    if choice == NONE or (choice == AUTO and os.environ.get("ASIM_CALIBRATION") == NONE):
        return DEFAULTS
    if choice == AUTO:
        path = default_path()
        return load(path) if path.exists() else DEFAULTS
    return load(Path(choice))
