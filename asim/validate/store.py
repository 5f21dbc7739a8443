"""The results folder of `asim validate`: every run is on disk the moment it has been measured.

Layout of a results folder::

    plan.json          what is being measured (written first; `--resume` reads it)
    points.jsonl       one JSON line per ab run: the point, the pass, the repeat, the command,
                       problems, and the observed report (``AbReport.to_dict()``, or null when
                       ab failed); a line without a pass (written before passes) is of pass 1
    raw/<point-id>-r<k>.txt   ab's own text of that run (``-p<n>-r<k>`` in passes beyond the first)
    predictions.json   the model's report for every point
    calibration.json   the calibration file the model predicted with, copied byte for byte before
                       the first measurement (absent with the built-in costs); never replaced:
                       `--resume` predicts with it unless told otherwise
    report.md, *.png, *.svg   written at the end

The raw text is written (atomically) before the JSON line, and the line is flushed to disk before
the next run starts, so an interrupted run loses at most the run that was in progress. A run is
complete when its line carries a report; failed runs stay in the file, flagged, and are measured
again on resume.
"""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from asim.errors import InputError
from asim.sim.abreport import AbReport
from asim.validate.study import Plan, StudyPoint

PLAN_FILE = "plan.json"
POINTS_FILE = "points.jsonl"
PREDICTIONS_FILE = "predictions.json"
CALIBRATION_FILE = "calibration.json"
RAW_DIR = "raw"
STDERR_KEEP_CHARS = 2000
# 2: every run records its `facts` (machine, software, calibration); a file without a format is 1.
FORMAT = 2
READABLE_FORMATS = (1, 2)


class AbRunLike(Protocol):
    """What the store needs of `asim.lab.abrun.AbRun`."""

    command: Any
    raw_text: str
    stderr: str
    returncode: int
    report: AbReport | None
    problems: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class Record:
    """One line of points.jsonl: one ab run of one point."""

    point: StudyPoint
    repeat: int
    observed: AbReport | None
    command: str
    pass_number: int = 1
    returncode: int
    problems: tuple[str, ...] = ()
    raw_path: str = ""
    measured_at: str = ""
    stderr: str = ""
    facts: Mapping[str, str] = field(default_factory=dict)
    # the server group's peak anonymous memory and RSS during the run (MiB, `asim.lab.memory`);
    # None in runs recorded before validate measured memory
    peak_memory_mb: float | None = None
    peak_rss_mb: float | None = None

    @property
    def complete(self) -> bool:
        """The run produced a report (possibly with problems)."""
        return self.observed is not None

    @property
    def flagged(self) -> bool:
        return self.observed is None or bool(self.problems)

    def to_dict(self) -> dict[str, object]:
        data: dict[str, object] = {"format": FORMAT, **self.point.to_dict()}
        data.update(
            repeat=self.repeat,
            **{"pass": self.pass_number},
            measured_at=self.measured_at,
            command=self.command,
            returncode=self.returncode,
            problems=list(self.problems),
            raw=self.raw_path,
            observed=None if self.observed is None else self.observed.to_dict(),
        )
        if self.stderr:
            data["stderr"] = self.stderr
        data["facts"] = dict(self.facts)
        if self.peak_memory_mb is not None:
            data["peak_memory_mb"] = round(self.peak_memory_mb, 2)
        if self.peak_rss_mb is not None:
            data["peak_rss_mb"] = round(self.peak_rss_mb, 2)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Record:
        _check_format(data.get("format", 1))
        point = StudyPoint.from_dict(data)
        observed = data.get("observed")
        if observed is not None and not isinstance(observed, dict):
            raise TypeError(f"'observed' must be an object or null, got {observed!r}")
        return cls(
            point=point,
            repeat=int(data["repeat"]),
            pass_number=int(data.get("pass", 1)),
            observed=(
                None
                if observed is None
                else AbReport.from_dict(observed, concurrency=point.concurrency)
            ),
            command=str(data.get("command", "")),
            returncode=int(data.get("returncode", 0)),
            problems=tuple(str(p) for p in data.get("problems", ())),
            raw_path=str(data.get("raw", "")),
            measured_at=str(data.get("measured_at", "")),
            stderr=str(data.get("stderr", "")),
            facts={str(k): str(v) for k, v in dict(data.get("facts") or {}).items()},
            peak_memory_mb=_optional_mb(data.get("peak_memory_mb")),
            peak_rss_mb=_optional_mb(data.get("peak_rss_mb")),
        )


class ResultsDir:
    """A results folder on disk; see the module docstring for its layout."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @property
    def points_path(self) -> Path:
        return self.root / POINTS_FILE

    @property
    def plan_path(self) -> Path:
        return self.root / PLAN_FILE

    @property
    def predictions_path(self) -> Path:
        return self.root / PREDICTIONS_FILE

    @property
    def calibration_path(self) -> Path:
        return self.root / CALIBRATION_FILE

    def keep_calibration(self, source: Path) -> bool:
        """Copy the calibration file ``source`` into the folder, byte for byte, unless the folder
        already holds one (its first calibration stays); True when it was copied."""
        if self.calibration_path.exists():
            return False
        try:
            data = Path(source).read_bytes()
        except OSError as exc:
            raise InputError(f"cannot read calibration file {source}: "
                             f"{exc.strerror or exc}") from None
        _write_atomic(self.calibration_path, data)
        return True

    @classmethod
    def prepare(cls, root: Path, plan: Plan, *, force: bool = False) -> ResultsDir:
        """Create (or reuse) the folder and record the plan; runs already in it are kept.

        A folder that records another plan (other than in its repeats or passes), or a
        plan.json that cannot be read, is refused unless ``force``: its runs belong to that plan.
        """
        store = cls(root)
        if store.plan_path.exists() and not force:
            held = store.read_plan()
            if held.with_repeats(plan.repeats).with_passes(plan.passes) != plan:
                raise InputError(
                    f"{root} holds the plan {held.name!r} ({len(held.points())} points), not "
                    f"{plan.name!r}: finish it with `asim validate --resume {root}`, choose "
                    f"another folder, or add --force to measure {plan.name!r} there"
                )
        try:
            (store.root / RAW_DIR).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"cannot create the results folder {root}: {exc}") from None
        plan_data = {"format": FORMAT, **plan.to_dict()}
        _write_atomic(store.plan_path, json.dumps(plan_data, indent=2) + "\n")
        return store

    @classmethod
    def open(cls, root: Path) -> ResultsDir:
        """An existing results folder (for `--resume`)."""
        store = cls(root)
        if not store.plan_path.is_file():
            raise InputError(f"{root} is not an asim results folder (it has no {PLAN_FILE})")
        return store

    def read_plan(self) -> Plan:
        try:
            data = json.loads(self.plan_path.read_text(encoding="utf-8"))
            _check_format(data.get("format", 1))
            return Plan.from_dict(data)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InputError(
                f"{self.plan_path} is unreadable ({_plain(exc)}); --force replaces it"
            ) from None

    def records(self) -> list[Record]:
        """Every run in points.jsonl, in the order measured.

        A last line cut short (the process died while writing it) is ignored; any other bad
        line is an error.
        """
        if not self.points_path.exists():
            return []
        try:
            data = self.points_path.read_bytes()
        except OSError as exc:
            raise InputError(f"cannot read {self.points_path}: {exc.strerror or exc}") from None
        lines = data.split(b"\n")
        records = []
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                records.append(Record.from_dict(_json_object(line.decode("utf-8"))))
            except (ValueError, KeyError, TypeError, OverflowError, RecursionError) as exc:
                if number == len(lines) and not data.endswith(b"\n"):
                    continue
                problem = _plain(exc)
                raise InputError(
                    f"{self.points_path}:{number} is not a valid run: {problem}"
                ) from None
        return records

    def completed(
        self, records: Iterable[Record] | None = None, *, pass_number: int = 1
    ) -> dict[tuple[str, int], Record]:
        """The latest complete run of pass ``pass_number`` for each (point id, repeat)."""
        done: dict[tuple[str, int], Record] = {}
        for r in self.records() if records is None else records:
            if r.complete and r.pass_number == pass_number:
                done[(r.point.id, r.repeat)] = r
        return done

    def missing(self, plan: Plan, pass_number: int = 1) -> list[tuple[StudyPoint, int]]:
        """The (point, repeat) pairs of pass ``pass_number`` of ``plan`` that have no complete
        run yet, in plan order."""
        done = self.completed(pass_number=pass_number)
        return [
            (p, k)
            for p in plan.pass_points(pass_number)
            for k in range(1, plan.repeats + 1)
            if (p.id, k) not in done
        ]

    def missing_runs(self, plan: Plan) -> list[tuple[StudyPoint, int]]:
        """`missing` of every pass of ``plan``, the first pass first (what is left to measure)."""
        return [run for n in range(1, plan.passes + 1) for run in self.missing(plan, n)]

    def append(
        self, point: StudyPoint, repeat: int, run: AbRunLike,
        facts: Mapping[str, str] | None = None,
        *, pass_number: int = 1,
        peak_memory_mb: float | None = None, peak_rss_mb: float | None = None,
    ) -> Record:
        """Store one finished ab run of pass ``pass_number``, with the ``facts`` of where it ran
        and the server's peak memory during it: raw text first, then its line, flushed to disk."""
        in_pass = "" if pass_number == 1 else f"-p{pass_number}"
        raw_rel = f"{RAW_DIR}/{point.id}{in_pass}-r{repeat}.txt"
        (self.root / RAW_DIR).mkdir(parents=True, exist_ok=True)
        _write_atomic(self.root / raw_rel, run.raw_text)
        record = Record(
            point=point,
            repeat=repeat,
            pass_number=pass_number,
            observed=run.report,
            command=_command_text(run.command),
            returncode=run.returncode,
            problems=tuple(run.problems),
            raw_path=raw_rel,
            measured_at=datetime.now(UTC).isoformat(timespec="seconds"),
            stderr=(run.stderr or "")[-STDERR_KEEP_CHARS:].strip(),
            facts=dict(facts or {}),
            peak_memory_mb=peak_memory_mb,
            peak_rss_mb=peak_rss_mb,
        )
        line = json.dumps(record.to_dict(), separators=(",", ":")) + "\n"
        with open(self.points_path, "a+b") as f:
            _drop_cut_line(f)
            f.write(line.encode("utf-8"))
            f.flush()
            os.fsync(f.fileno())
        return record

    def write_predictions(self, predictions: Mapping[StudyPoint, AbReport]) -> None:
        data = {
            p.id: {"point": p.to_dict(), "predicted": r.to_dict()} for p, r in predictions.items()
        }
        _write_atomic(self.predictions_path, json.dumps(data, indent=2) + "\n")

    def read_predictions(self) -> dict[str, AbReport]:
        """Predicted reports by point id (empty when none were written)."""
        if not self.predictions_path.exists():
            return {}
        try:
            data = json.loads(self.predictions_path.read_text(encoding="utf-8"))
            return {
                pid: AbReport.from_dict(
                    entry["predicted"], concurrency=int(entry["point"]["concurrency"])
                )
                for pid, entry in data.items()
            }
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InputError(f"{self.predictions_path} is unreadable: {exc}") from None


def _optional_mb(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise TypeError(f"a peak memory must be a number of MiB >= 0, got {value!r}")
    return float(value)


def _check_format(value: object) -> None:
    if value not in READABLE_FORMATS:
        raise ValueError(
            f"format {value!r} is not one this asim reads "
            f"({', '.join(map(str, READABLE_FORMATS))}); use the asim that wrote it"
        )


def _json_object(text: str) -> Mapping[str, Any]:
    data = json.loads(text)
    if not isinstance(data, dict):
        raise TypeError(f"expected a JSON object, got {type(data).__name__}")
    return data


def _plain(exc: BaseException) -> str:
    """An exception as a short phrase (a KeyError alone prints only the key)."""
    if isinstance(exc, KeyError):
        return f"no field {exc}"
    if isinstance(exc, UnicodeDecodeError):
        return f"not UTF-8 text (byte {exc.object[exc.start]:#04x} at column {exc.start + 1})"
    return str(exc)


def _drop_cut_line(f: BinaryIO) -> None:
    """Truncate a last line left without its newline by an interrupted write."""
    f.seek(0, os.SEEK_END)
    size = f.tell()
    if size == 0:
        return
    f.seek(size - 1)
    if f.read(1) == b"\n":
        return
    f.seek(0)
    data = f.read()
    f.truncate(data.rfind(b"\n") + 1)
    f.seek(0, os.SEEK_END)


def _command_text(command: str | Sequence[str]) -> str:
    if isinstance(command, str):
        return command
    return shlex.join(str(part) for part in command)


def _write_atomic(path: Path, content: str | bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    data = content.encode("utf-8") if isinstance(content, str) else content
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
