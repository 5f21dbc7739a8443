"""The machine's drift since the calibration: validate measures three of the calibration's own
runs again, before its first measurement and after its last.

A calibration describes the machine as it was while it ran. On this project's machines the
servers' speed moves by up to 8 % within minutes, all of them together, while a pure-Python loop
does not move (docs/notes/measurements.md section 27.1): a CPU-dominated point measured ten
minutes after the calibration can miss by that much although the model reproduces the
calibration's runs. Two passes of validate do not see it (they drift together), so validate
measures the calibration's ``django warm`` and ``aiohttp warm`` runs (C = 1, sleep 0: the server
and ab take turns on the cores) and its ``aiohttp saturated`` run (C = 50: the loop and ab busy
on both cores at once, which is slower by an amount that moves on its own, section 32) again,
with the same ab command and the same number of repeats, and the report prints how far each
moved. Nothing is corrected with it: the predictions stay what the calibration says.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

DRIFT_FILE = "drift.json"
# First-stage runs (`asim.calibration.fit.plan`): two at C = 1, one with both cores busy.
REFERENCE_RUNS = ("django warm", "aiohttp warm", "aiohttp saturated")


@dataclass(frozen=True, kw_only=True)
class Reference:
    """One calibration run to measure again: ab -n ``requests`` -c ``concurrency`` against
    ``server``, sleep 0."""

    name: str
    server: str
    requests: int
    calibrated_rps: float
    concurrency: int = 1


@dataclass(frozen=True, kw_only=True)
class DriftCheck:
    """One reference run measured again during validate (``when``: before or after)."""

    name: str
    when: str
    measured_at: str
    calibrated_rps: float
    measured_rps: float

    @property
    def change_pct(self) -> float:
        return (self.measured_rps / self.calibrated_rps - 1) * 100


def references(measured: Mapping[str, object]) -> tuple[Reference, ...]:
    """The reference runs a calibration file recorded (none from a file without them, or with
    the built-in costs)."""
    out = []
    for name in REFERENCE_RUNS:
        record = measured.get(name)
        if not isinstance(record, dict):
            continue
        try:
            ref = Reference(name=name, server=str(record["server"]),
                            requests=int(record["requests"]),
                            calibrated_rps=float(record["requests_per_second"]),
                            concurrency=int(record.get("concurrency", 1)))
        except (KeyError, TypeError, ValueError):
            continue
        if (min(ref.requests, ref.calibrated_rps, ref.concurrency) > 0
                and ref.concurrency <= ref.requests and record.get("sleep_s") == 0):
            out.append(ref)
    return tuple(out)


def measure(refs: Sequence[Reference], when: str, root: Path) -> list[DriftCheck]:
    """Measure ``refs`` now as the calibration did (`asim.lab.measure.measure_cpu`), each check
    appended to ``root``'s drift file as soon as it is known."""
    from asim.calibration.fit import ROUNDS
    from asim.lab.measure import measure_cpu

    checks = []
    for ref in refs:
        run = measure_cpu(ref.server, 0.0, ref.requests, concurrency=ref.concurrency,
                          repeats=ROUNDS)
        check = DriftCheck(name=ref.name, when=when,
                           measured_at=datetime.now(UTC).isoformat(timespec="seconds"),
                           calibrated_rps=ref.calibrated_rps,
                           measured_rps=run.requests_per_second)
        save(root, [*load(root), check])
        checks.append(check)
    return checks


def load(root: Path) -> list[DriftCheck]:
    path = root / DRIFT_FILE
    if not path.exists():
        return []
    try:
        return [DriftCheck(**row) for row in json.loads(path.read_text(encoding="utf-8"))]
    except (ValueError, TypeError):
        return []  # a damaged file only loses the drift section, never the measurements


def save(root: Path, checks: Sequence[DriftCheck]) -> None:
    (root / DRIFT_FILE).write_text(json.dumps([asdict(c) for c in checks], indent=2) + "\n",
                                   encoding="utf-8")


def drift_lines(checks: Sequence[DriftCheck]) -> list[str]:
    """The report's section: each reference run, calibrated and now, and how far it moved."""
    if not checks:
        return []
    lines = [
        "## The machine since the calibration", "",
        "The calibration's own sleep-0 runs measured again (same ab command and repeats): the "
        "warm runs at C = 1, where the server and ab take turns on the cores, and aiohttp "
        "saturated at C = 50, where both cores are busy at once; the model is not corrected "
        "with them. A CPU-dominated point can miss by this much with the model right about the "
        "calibration's runs.", "",
        "| Run | When | Measured at (UTC) | Calibration, req/s | Now, req/s | Change |",
        "|---|---|---|---|---|---|",
    ]
    for c in checks:
        lines.append(f"| {c.name} | {c.when} | {c.measured_at} | {c.calibrated_rps:.1f} | "
                     f"{c.measured_rps:.1f} | {c.change_pct:+.1f} % |")
    return lines


def summary_line(checks: Sequence[DriftCheck]) -> str | None:
    """One line for the terminal, or None without checks."""
    if not checks:
        return None
    parts = [f"{c.name} {c.when} {c.change_pct:+.1f} %" for c in checks]
    return ("the machine since the calibration (its sleep-0 runs measured again): "
            + ", ".join(parts))
