"""Custom grids for `asim validate` from a TOML scenario file.

The file lists values, and every combination is measured::

    name = "tiny"                  # optional; default: the file's stem
    servers = ["aiohttp", "django"]
    workers = [1, 2]               # optional, default [1]; gunicorn sync workers (django only)
    sleeps_s = [0.1, 0.2]          # the handler's IO wait, seconds
    concurrencies = [5, 10]        # ab -c
    requests = 100                 # optional, default 100; ab -n
    keepalive = false              # optional; ab -k
    repeats = 3                    # optional; `--repeat` overrides it

A single value may be written without brackets. The grid becomes studies the way the lab's tasks
are: one chart over concurrency for each sleep (when there are several concurrency levels) and
one chart over sleep for each concurrency level (when there are several sleeps). Every problem is
a `ScenarioError` whose message names the file and the field.
"""

from __future__ import annotations

import difflib
import math
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from asim.errors import InputError, ScenarioError
from asim.limits import MAX_SLEEP_S
from asim.sim.shapes import NAMES, SHAPES, WORKERS
from asim.sim.spec import MAX_CONCURRENCY, MAX_REQUESTS, MAX_WORKERS
from asim.validate.study import (
    DEFAULT_REPEATS,
    MAX_REPEATS,
    X_CONCURRENCY,
    X_SLEEP,
    Plan,
    Series,
    Study,
    format_sleep,
)

FIELDS: tuple[str, ...] = (
    "name",
    "title",
    "servers",
    "workers",
    "sleeps_s",
    "concurrencies",
    "requests",
    "keepalive",
    "repeats",
)
REQUIRED: tuple[str, ...] = ("servers", "sleeps_s", "concurrencies")


def load_plan(path: Path) -> Plan:
    """Read and validate a scenario file; raise `ScenarioError` naming the field at fault."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(f"{path}: no such scenario file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{path}: cannot read the scenario file ({exc})") from None
    stem = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in path.stem)[:64]
    return parse_plan(text, source=str(path), default_name=stem or "scenario")


def parse_plan(text: str, *, source: str = "<scenario>", default_name: str = "scenario") -> Plan:
    """Validate the TOML text of a scenario and build its `Plan`."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{source}: not valid TOML ({exc})") from None
    return _Reader(data, source).plan(default_name)


class _Reader:
    """Field-by-field validation with messages of the form ``file: field 'x': problem``."""

    def __init__(self, data: dict[str, Any], source: str) -> None:
        self.data = data
        self.source = source

    def error(self, name: str, problem: str) -> ScenarioError:
        return ScenarioError(f"{self.source}: field '{name}': {problem}")

    def plan(self, default_name: str) -> Plan:
        for key in self.data:
            if key not in FIELDS:
                close = difflib.get_close_matches(key, FIELDS, n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                raise ScenarioError(
                    f"{self.source}: unknown field '{key}'{hint}; fields are {', '.join(FIELDS)}"
                )
        for key in REQUIRED:
            if key not in self.data:
                raise ScenarioError(f"{self.source}: missing required field '{key}'")

        name = self.text("name", default_name)
        title = self.text("title", "")
        servers = self.values("servers", self.server)
        workers = self.values("workers", self.worker, default=[1])
        sleeps = self.values("sleeps_s", self.sleep)
        concurrencies = self.values("concurrencies", self.concurrency)
        requests = self.integer("requests", 100, 1, MAX_REQUESTS)
        keepalive = self.flag("keepalive", False)
        repeats = self.integer("repeats", DEFAULT_REPEATS, 1, MAX_REPEATS)

        too_many = [c for c in concurrencies if c > requests]
        if too_many:
            raise self.error(
                "concurrencies",
                f"{too_many[0]} exceeds requests = {requests}; ab refuses a concurrency level "
                "greater than the number of requests",
            )
        pools = [s for s in servers if SHAPES[s].takes(WORKERS)]
        if not pools and workers != [1]:
            takers = ", ".join(s.name for s in SHAPES.values() if s.takes(WORKERS))
            raise self.error("workers", f"applies to {takers} only, and servers has none of them")

        series: list[Series] = []
        for server in servers:
            for w in workers if server in pools else [1]:
                series.append(Series(server=server, workers=w))

        studies: list[Study] = []
        common = dict(series=tuple(series), requests=requests, keepalive=keepalive)
        if len(concurrencies) > 1 or len(sleeps) == 1:
            for s in sleeps:
                suffix = f"-s{format_sleep(s)}" if len(sleeps) > 1 else ""
                studies.append(
                    Study(
                        name=f"{name}{suffix}",
                        title=(title or name) + (f", sleep {format_sleep(s)} s" if suffix else ""),
                        x=X_CONCURRENCY,
                        sleeps_s=(s,),
                        concurrencies=tuple(concurrencies),
                        **common,
                    )
                )
        if len(sleeps) > 1:
            for c in concurrencies:
                suffix = f"-c{c}" if len(concurrencies) > 1 else ""
                studies.append(
                    Study(
                        name=f"{name}{suffix}",
                        title=(title or name) + (f", {c} clients" if suffix else ""),
                        x=X_SLEEP,
                        sleeps_s=tuple(sleeps),
                        concurrencies=(c,),
                        **common,
                    )
                )
        try:
            return Plan(name=name, studies=tuple(studies), repeats=repeats)
        except InputError as exc:  # a combination the model refuses; name the file
            raise ScenarioError(f"{self.source}: {exc}") from None

    def text(self, name: str, default: str) -> str:
        value = self.data.get(name, default)
        if not isinstance(value, str):
            raise self.error(name, f"must be a string, got {value!r}")
        if name == "name" and not _safe_name(value):
            raise self.error(name, f"must be 1-64 letters, digits, '-', '_' or '.', got {value!r}")
        return value

    def values(
        self, name: str, check: Callable[[str, object], Any], default: list[Any] | None = None
    ) -> list[Any]:
        raw = self.data.get(name, default)
        items = raw if isinstance(raw, list) else [raw]
        if not items:
            raise self.error(name, "must list at least one value")
        checked = [check(name, item) for item in items]
        duplicates = sorted({str(v) for v in checked if checked.count(v) > 1})
        if duplicates:
            raise self.error(name, f"lists {', '.join(duplicates)} more than once")
        return checked

    def server(self, name: str, value: object) -> str:
        if value not in SHAPES:
            raise self.error(name, f"unknown server {value!r}; choose from {', '.join(NAMES)}")
        return str(value)

    def worker(self, name: str, value: object) -> int:
        return self.bounded_int(name, value, 1, MAX_WORKERS, "a worker count")

    def concurrency(self, name: str, value: object) -> int:
        return self.bounded_int(name, value, 1, MAX_CONCURRENCY, "a concurrency level")

    def sleep(self, name: str, value: object) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(name, f"must be seconds as a number, got {value!r}")
        if not (math.isfinite(value) and 0 <= value <= MAX_SLEEP_S):
            raise self.error(
                name, f"must be between 0 and {MAX_SLEEP_S:g} seconds, got {value!r}"
            )
        return float(value)

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        return self.bounded_int(name, self.data.get(name, default), low, high, "an integer")

    def bounded_int(self, name: str, value: object, low: int, high: int, what: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(name, f"must be {what} (a whole number), got {value!r}")
        if not low <= value <= high:
            raise self.error(name, f"must be between {low} and {high}, got {value}")
        return value

    def flag(self, name: str, default: bool) -> bool:
        value = self.data.get(name, default)
        if not isinstance(value, bool):
            raise self.error(name, f"must be true or false, got {value!r}")
        return value


def _safe_name(value: str) -> bool:
    return 0 < len(value) <= 64 and all(ch.isalnum() or ch in "-_." for ch in value)
