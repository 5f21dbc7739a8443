"""Calibration files: where they live, how they are read and written, which one is in use.

A calibration file is JSON written by `asim calibrate`: the fitted `Costs`, the raw measurements
behind them, the machine they were taken on, and (format 2) the fit's self-check: every
calibration run's measured and modelled RPS and whether the model reproduced it within its
tolerance. Format 1 files (no self-check) are still read. `predict` and `validate` use the
default file when it exists (``$ASIM_CALIBRATION``, else
``$XDG_CACHE_HOME/asim/calibration.json``) and say which calibration they used;
``--calibration none`` uses the built-in defaults.
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
from asim.sim.costs import DEFAULT_COSTS, DJANGO_ASGI_ROUND_TRIPS, UNCALIBRATED, Costs
from asim.sim.memory import DEFAULT_MEMORY, MemoryCosts
from asim.sim.shapes import NAMES
from asim.sim.spec import CPU_DOMINATED_SLEEP_S

if TYPE_CHECKING:
    from asim.lab.measure import CpuRun

# The second stage's marker of a file fitted with fifteen round trips per request (the count);
# a file without it was fitted with three (`_fifteen_trips`).
ROUND_TRIPS = "asgi_round_trips"
OLD_ROUND_TRIPS = 3

_REQUIRED = object()  # a field without a default
NONE = "none"
AUTO = "auto"
FORMAT = 2
READABLE_FORMATS = (1, 2)  # format 1: no "check" block


def default_path() -> Path:
    env = os.environ.get("ASIM_CALIBRATION")
    if env and env != NONE:
        return Path(env)
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "asim" / "calibration.json"


@dataclass(frozen=True, kw_only=True)
class RunCheck:
    """One calibration run against the fitted model: RPS (the judged residual) and the CPU per
    request of both sides (informative)."""

    name: str
    measured_rps: float
    model_rps: float
    spread_pct: float | None
    tolerance_pct: float  # max(3 %, spread over three repeats), `fit.rps_tolerance`
    server_cpu_error_pct: float
    ab_cpu_error_pct: float

    @property
    def error_pct(self) -> float:
        return (self.model_rps / self.measured_rps - 1) * 100

    @property
    def reproduced(self) -> bool:
        return abs(self.error_pct) <= self.tolerance_pct

    def to_dict(self) -> dict[str, object]:
        return {
            "measured_rps": round(self.measured_rps, 2),
            "model_rps": round(self.model_rps, 2),
            "error_pct": round(self.error_pct, 2),
            "spread_pct": None if self.spread_pct is None else round(self.spread_pct, 1),
            "tolerance_pct": round(self.tolerance_pct, 1),
            "reproduced": self.reproduced,
            "server_cpu_error_pct": round(self.server_cpu_error_pct, 1),
            "ab_cpu_error_pct": round(self.ab_cpu_error_pct, 1),
        }

    @classmethod
    def from_dict(cls, name: str, d: dict[str, object]) -> RunCheck:
        spread = d.get("spread_pct")
        return cls(
            name=name,
            measured_rps=float(d["measured_rps"]),  # type: ignore[arg-type]
            model_rps=float(d["model_rps"]),  # type: ignore[arg-type]
            spread_pct=None if spread is None else float(spread),  # type: ignore[arg-type]
            tolerance_pct=float(d["tolerance_pct"]),  # type: ignore[arg-type]
            server_cpu_error_pct=float(d.get("server_cpu_error_pct", 0.0)),  # type: ignore[arg-type]
            ab_cpu_error_pct=float(d.get("ab_cpu_error_pct", 0.0)),  # type: ignore[arg-type]
        )


@dataclass(frozen=True, kw_only=True)
class Check:
    """The calibration's self-check: each of its runs simulated with the fitted costs."""

    runs: tuple[RunCheck, ...]
    fitted: tuple[str, ...] = ()
    fixed: tuple[str, ...] = ()
    fit_seconds: float = 0.0
    simulations: int = 0
    uncertainty_pct: dict[str, float] = field(default_factory=dict)  # by fitted parameter

    @property
    def failed(self) -> tuple[RunCheck, ...]:
        return tuple(r for r in self.runs if not r.reproduced)

    @property
    def passed(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        """One line: passed, or which runs the model missed and by how much."""
        if self.passed:
            return f"all {len(self.runs)} calibration runs reproduced"
        missed = ", ".join(f"{r.name} {r.error_pct:+.1f} % (tolerance {r.tolerance_pct:.1f} %)"
                           for r in self.failed)
        return f"{len(self.failed)} of {len(self.runs)} calibration runs not reproduced: {missed}"

    def verdict(self) -> dict[str, object]:
        """The self-check in brief, for a prediction's JSON."""
        return {
            "passed": self.passed,
            "runs": len(self.runs),
            "not_reproduced": {r.name: round(r.error_pct, 1) for r in self.failed},
            "summary": self.summary(),
        }

    def to_dict(self) -> dict[str, object]:
        return {
            "passed": self.passed,
            "fitted": list(self.fitted),
            "fixed": list(self.fixed),
            "fit_seconds": round(self.fit_seconds, 2),
            "simulations": self.simulations,
            "uncertainty_pct": self.uncertainty_pct,
            "runs": {r.name: r.to_dict() for r in self.runs},
        }

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> Check:
        runs = d.get("runs", {})
        if not isinstance(runs, dict):
            raise TypeError("check.runs is not an object")
        return cls(
            runs=tuple(RunCheck.from_dict(str(n), r) for n, r in runs.items()),
            fitted=tuple(str(x) for x in d.get("fitted", ())),  # type: ignore[union-attr]
            fixed=tuple(str(x) for x in d.get("fixed", ())),  # type: ignore[union-attr]
            fit_seconds=float(d.get("fit_seconds", 0.0)),  # type: ignore[arg-type]
            simulations=int(d.get("simulations", 0)),  # type: ignore[call-overload]
            uncertainty_pct={str(k): float(v) for k, v in  # type: ignore[union-attr]
                             d.get("uncertainty_pct", {}).items()},
        )


@dataclass(frozen=True, kw_only=True)
class Calibration:
    """Costs fitted on one machine, with the measurements and the machine they came from."""

    costs: Costs
    measured: dict[str, object] = field(default_factory=dict)
    machine: dict[str, object] = field(default_factory=dict)
    created: str = ""
    path: Path | None = None
    check: Check | None = None  # None: a format 1 file, or costs that were never fitted
    # The second stage's section (asim.calibration.shapes_fit): the new shapes' runs and costs;
    # empty: their costs are the built-in ones.
    shapes: dict[str, object] = field(default_factory=dict)
    # the servers' memory figures: the file's "memory" section over the built-in ones (a file
    # written before asim measured memory has none and predicts with the built-in figures)
    memory: MemoryCosts = DEFAULT_MEMORY
    memory_runs: tuple[dict[str, object], ...] = ()  # what the memory figures came from

    def check_note(self) -> str | None:
        """One line when this calibration failed its own check (None when it passed or was
        never checked)."""
        if self.check is None or self.check.passed:
            return None
        return (f"note: this calibration failed its own check ({self.check.summary()}); "
                "predictions of CPU-dominated points inherit that error, run `asim calibrate` "
                "again")

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

        where = self.path or "the calibration"
        runs = {
            name: read_run(r, f"{where}: measured run {name!r}", servers=NAMES)
            for name, r in self.measured.items() if isinstance(r, dict)
        }
        overshoots = _FieldReader(self.measured, f"{where}: measured")
        return (
            runs,
            overshoots.number("time_sleep_overshoot_us", 0, 1e6) / 1e6,
            overshoots.number("asyncio_sleep_overshoot_us", 0, 1e6) / 1e6,
        )

    def to_json(self) -> str:
        doc: dict[str, object] = {
            "format": FORMAT,
            "created": self.created,
            "machine": self.machine,
            # Costs that `asim calibrate` does not measure are left out: a file then follows the
            # built-in values of the asim that reads it, not those of the one that wrote it.
            "costs": {k: v for k, v in self.costs.to_dict().items() if k not in UNCALIBRATED},
            "measured": self.measured,
        }
        if self.check is not None:
            doc["check"] = self.check.to_dict()
        if self.shapes:
            doc["shapes"] = self.shapes
        if self.memory is not DEFAULT_MEMORY:
            doc["memory"] = self.memory.to_dict()
        if self.memory_runs:
            doc["memory_measured"] = list(self.memory_runs)
        return json.dumps(doc, indent=2)


DEFAULTS = Calibration(costs=DEFAULT_COSTS)


def run_record(r: CpuRun, *, main_cpu: bool = False) -> dict[str, object]:
    """One measured calibration run as the file keeps it (``main_cpu``: with its main threads'
    CPU, which the second stage reads)."""
    return {
        "server": r.server,
        "sleep_s": r.sleep_s,
        "requests": r.requests,
        "server_cpu_us_per_request": round(r.server_cpu_s * 1e6, 1),
        **({"main_cpu_us_per_request": round((r.main_cpu_s or 0.0) * 1e6, 1)} if main_cpu else {}),
        "ab_cpu_us_per_request": round(r.ab_cpu_s * 1e6, 1),
        "time_per_request_ms": r.time_per_request_ms,
        "concurrency": r.concurrency,
        "workers": r.workers,
        "requests_per_second": round(r.requests_per_second, 2),
        "repeats": r.repeats,
        **({} if r.rps_spread_pct is None else {"rps_spread_pct": round(r.rps_spread_pct, 1)}),
        **({} if not r.every_rps else {"every_rps": [round(v, 2) for v in r.every_rps]}),
    }


def read_run(r: dict[str, Any], where: str, *, servers: Sequence[str],
             main_cpu: bool = False) -> CpuRun:
    """`run_record`'s inverse, checked field by field (``where`` names the run in messages)."""
    from asim.lab.measure import CpuRun

    field = _FieldReader(r, where)
    run = CpuRun(
        server=field.choice("server", servers),
        sleep_s=field.number("sleep_s", 0, 1),
        requests=field.whole("requests", 1, 100_000),
        concurrency=field.whole("concurrency", 1, 1000),
        workers=field.whole("workers", 1, 64),
        requests_per_second=field.number("requests_per_second", 0, 1e7, positive=True),
        server_cpu_s=field.number("server_cpu_us_per_request", 0, 1e6, positive=True) / 1e6,
        main_cpu_s=field.number("main_cpu_us_per_request", 0, 1e6) / 1e6 if main_cpu else None,
        ab_cpu_s=field.number("ab_cpu_us_per_request", 0, 1e6, positive=True) / 1e6,
        time_per_request_ms=field.number("time_per_request_ms", 0, 1e6, positive=True),
        repeats=field.whole("repeats", 1, 1000, default=1),
        rps_spread_pct=field.number("rps_spread_pct", 0, 1e6, default=None),
        every_rps=tuple(float(v) for v in r.get("every_rps", ()) if isinstance(v, int | float)),
    )
    if run.concurrency > run.requests:
        raise CalibrationError(f"{where}: concurrency exceeds requests")
    return run


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
    if (not isinstance(data, dict) or not _is_number(data.get("format"))
            or data["format"] not in READABLE_FORMATS or "costs" not in data):
        raise CalibrationError(
            f"{path} is not an asim calibration file (format "
            f"{' or '.join(map(str, READABLE_FORMATS))})"
        )
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
    shapes = _shapes_section(data.get("shapes", {}), path)
    try:
        costs = Costs.from_dict({**data["costs"], **shapes.get("costs", {}), "source": str(path)})
    except CalibrationError as exc:
        raise CalibrationError(f"{path}: {exc}") from None
    check = None
    if "check" in data:
        try:
            check = Check.from_dict(data["check"])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise CalibrationError(f"{path}: unreadable self-check block: {exc}") from None
    memory = DEFAULT_MEMORY
    if "memory" in data:
        try:
            memory = MemoryCosts.from_dict(data["memory"], source=str(path))
        except CalibrationError as exc:
            raise CalibrationError(f"{path}: {exc}") from None
    return Calibration(
        costs=costs,
        measured=measured,
        machine=data.get("machine", {}),
        created=str(data.get("created", "")),
        path=path,
        check=check,
        shapes=shapes,
        memory=memory,
        memory_runs=tuple(r for r in data.get("memory_measured", ()) if isinstance(r, dict)),
    )


def _shapes_section(section: object, path: Path) -> dict[str, Any]:
    """The second stage's section as read: an object whose ``costs`` are new-shape costs only
    (the first stage's belong to ``costs``)."""
    if not isinstance(section, dict):
        raise CalibrationError(f"{path}: 'shapes' must be an object, not {_json_type(section)}")
    costs = section.get("costs", {})
    if not isinstance(costs, dict):
        raise CalibrationError(f"{path}: 'shapes.costs' must be an object")
    foreign = sorted(set(costs) - set(UNCALIBRATED))
    if foreign:
        raise CalibrationError(f"{path}: 'shapes.costs' holds costs of the first stage or "
                               f"unknown ones: {', '.join(foreign)}")
    if "asgi_thread_cpu_s" in costs and "asgi_view_thread_cpu_s" not in costs:
        # Fitted before the sync view's round trip had costs of its own (measurements 27.5):
        # that file's model charged it like Django's, which its costs keep meaning.
        costs = {**costs, "asgi_view_thread_cpu_s": costs["asgi_thread_cpu_s"],
                 "asgi_view_handoff_cpu_s": costs.get("loop_handoff_cpu_s",
                                                      DEFAULT_COSTS.loop_handoff_cpu_s)}
        section = {**section, "costs": costs}
    if ROUND_TRIPS not in section and "asgi_thread_cpu_s" in costs:
        # Marked once mapped: a file saved again keeps the meaning it was loaded with.
        section = {**section, "costs": _fifteen_trips(costs),
                   ROUND_TRIPS: DJANGO_ASGI_ROUND_TRIPS}
    return section


def _fifteen_trips(costs: dict[str, Any]) -> dict[str, Any]:
    """An older file's ASGI costs, fitted when the model made three round trips with a hand-off
    each, as the same CPU per request over fifteen without (docs/notes/measurements.md 31.5):
    the thread's CPU spread over the fifteen, the loop's three hand-offs added to Django's."""
    out = {**costs, "asgi_thread_cpu_s": costs["asgi_thread_cpu_s"] * OLD_ROUND_TRIPS
           / DJANGO_ASGI_ROUND_TRIPS}
    if "asgi_framework_cpu_s" in costs:
        handoff_s = costs.get("loop_handoff_cpu_s", DEFAULT_COSTS.loop_handoff_cpu_s)
        out["asgi_framework_cpu_s"] = costs["asgi_framework_cpu_s"] + OLD_ROUND_TRIPS * handoff_s
    return out


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
