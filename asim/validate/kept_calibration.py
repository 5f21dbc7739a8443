"""The calibration a results folder keeps: which one `asim validate` predicts with, and what the
report says about it.

validate copies the calibration file it predicts with into the results folder, byte for byte,
before the first measurement (`ResultsDir.keep_calibration`), so that the folder can be
predicted again, or its calibration refitted, on a machine without that file. The copy is never
replaced: it is the calibration the folder's first runs were predicted with, and whose own runs
its drift check measured. ``--resume DIR`` predicts with it unless ``--calibration`` names
another; then the given one is used for this prediction, and the copy stays as it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from asim.calibration.file import AUTO, Calibration, load, resolve
from asim.errors import CalibrationError
from asim.validate.store import Record, ResultsDir

BUILT_IN = "built-in defaults"  # what a run's facts and the report say of the built-in costs


def choose(folder: Path, given: str | None, *, resuming: bool) -> tuple[Calibration, str | None]:
    """The calibration to predict with, and one line to print when the folder's copy decided it
    or was passed over (None otherwise).

    ``given`` is ``--calibration`` (None when it was not given: ``auto``, or under
    ``resuming`` the folder's copy when it holds one).
    """
    copy = ResultsDir(Path(folder)).calibration_path
    if not copy.is_file():
        return resolve(AUTO if given is None else given), None
    if given is None and resuming:
        try:
            cal = load(copy)
        except CalibrationError as exc:
            raise CalibrationError(
                f"{exc}; --calibration FILE (or none) predicts with another"
            ) from None
        return cal, ("the results folder's calibration.json, as --resume does; "
                     "--calibration chooses another")
    cal = resolve(AUTO if given is None else given)
    if cal.path is not None and _same_bytes(cal.path, copy):
        return cal, None
    return cal, "not the results folder's calibration.json, which differs; it is kept as it was"


def costs_line(root: Path, used: Path | None, records: Sequence[Record], named: str) -> str:
    """The report's "model costs": ``named`` (what the costs are called), or the folder's copy
    and where it came from when ``used`` (the calibration file predicted with, None for the
    built-in costs) is that copy; with a note when the folder's copy differs."""
    copy = ResultsDir(Path(root)).calibration_path
    if not copy.is_file():
        return named
    if used is None or not _same_bytes(used, copy):
        return f"{named}; not this folder's `calibration.json`, which differs"
    origin = str(used) if not _same_file(used, copy) else _first_measured_with(records, copy)
    return "calibration `calibration.json`, this folder's copy" + (
        f", copied from `{origin}`" if origin else ""
    )


def _first_measured_with(records: Sequence[Record], copy: Path) -> str | None:
    """The calibration file the folder's first run predicted with recorded (where its copy came
    from), unless that is the copy itself."""
    for r in records:
        name = r.facts.get("calibration")
        if name is None or name == BUILT_IN:
            continue
        if Path(name).exists() and _same_file(Path(name), copy):
            return None
        return name
    return None


def _same_bytes(a: Path, b: Path) -> bool:
    try:
        return _same_file(a, b) or a.read_bytes() == b.read_bytes()
    except OSError:
        return False


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.samefile(b)
    except OSError:
        return False
