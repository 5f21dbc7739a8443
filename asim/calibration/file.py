"""Calibration files: where they live, how they are read and written, which one is in use.

A calibration file is JSON written by `asim calibrate`: the fitted `Costs`, the raw measurements
behind them, and the machine they were taken on. `predict` and `validate` use the default file
when it exists (``$ASIM_CALIBRATION``, else ``$XDG_CACHE_HOME/asim/calibration.json``) and say
which calibration they used; ``--calibration none`` uses the built-in defaults.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from asim.errors import CalibrationError
from asim.sim.costs import DEFAULT_COSTS, Costs
from asim.sim.spec import CPU_DOMINATED_SLEEP_S

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
    if not isinstance(data, dict) or data.get("format") != FORMAT or "costs" not in data:
        raise CalibrationError(f"{path} is not an asim calibration file (format {FORMAT})")
    costs = Costs.from_dict({**data["costs"], "source": str(path)})
    return Calibration(
        costs=costs,
        measured=data.get("measured", {}),
        machine=data.get("machine", {}),
        created=str(data.get("created", "")),
        path=path,
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
