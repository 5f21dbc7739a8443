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
import platform
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from asim.errors import CalibrationError
from asim.sim.costs import DEFAULT_COSTS, Costs
from asim.sim.spec import CPU_DOMINATED_SLEEP_S

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
    tolerance_pct: float  # max(3 %, spread)
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

    def to_json(self) -> str:
        doc: dict[str, object] = {
            "format": FORMAT,
            "created": self.created,
            "machine": self.machine,
            "costs": self.costs.to_dict(),
            "measured": self.measured,
        }
        if self.check is not None:
            doc["check"] = self.check.to_dict()
        return json.dumps(doc, indent=2)


DEFAULTS = Calibration(costs=DEFAULT_COSTS)


def machine_facts() -> dict[str, object]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": len(os.sched_getaffinity(0)),
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


def save(calibration: Calibration, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(calibration.to_json() + "\n")
    tmp.replace(path)
    return path


def load(path: Path) -> Calibration:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise CalibrationError(f"no calibration file at {path}") from None
    except (OSError, ValueError) as exc:
        raise CalibrationError(f"cannot read calibration file {path}: {exc}") from None
    if (not isinstance(data, dict) or data.get("format") not in READABLE_FORMATS
            or "costs" not in data):
        raise CalibrationError(
            f"{path} is not an asim calibration file (format "
            f"{' or '.join(map(str, READABLE_FORMATS))})"
        )
    costs = Costs.from_dict({**data["costs"], "source": str(path)})
    check = None
    if "check" in data:
        try:
            check = Check.from_dict(data["check"])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise CalibrationError(f"{path}: unreadable self-check block: {exc}") from None
    return Calibration(
        costs=costs,
        measured=data.get("measured", {}),
        machine=data.get("machine", {}),
        created=str(data.get("created", "")),
        path=path,
        check=check,
    )


def resolve(choice: str = AUTO) -> Calibration:
    """The calibration for ``--calibration``: ``auto`` (default file if present), ``none``, or a
    path to a file."""
    if choice == NONE or (choice == AUTO and os.environ.get("ASIM_CALIBRATION") == NONE):
        return DEFAULTS
    if choice == AUTO:
        path = default_path()
        return load(path) if path.exists() else DEFAULTS
    return load(Path(choice))
