"""What `asim validate` measures, as data: series, points, studies and plans.

A `StudyPoint` is one ab command against one server configuration; a `Study` is one task of the
lab (a results table and two charts over one varied parameter); a `Plan` is what one
`asim validate` call measures: some studies, their points without duplicates, and how often each
is repeated.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from asim.errors import InputError
from asim.sim.shapes import WORKERS, check_options, check_workers, shape
from asim.sim.spec import CPU_DOMINATED_SLEEP_S, Scenario

X_CONCURRENCY = "concurrency"
X_SLEEP = "sleep_s"
X_AXES: tuple[str, ...] = (X_CONCURRENCY, X_SLEEP)

DEFAULT_REPEATS = 3
MAX_REPEATS = 100
# Passes beyond the first measure the CPU-dominated points again, minutes later, as a fresh
# server: their disagreement is the noise floor the model is judged against (docs/validate.md).
MAX_PASSES = 3
# What `asim validate TASK` measures: the CPU-dominated points twice (a plan without any, once).
DEFAULT_PASSES = 2


def format_sleep(sleep_s: float) -> str:
    """A sleep in the shortest exact form, e.g. ``0.1`` -> ``"0.1"``."""
    return f"{sleep_s:g}"


@dataclass(frozen=True, kw_only=True)
class Series:
    """One server configuration drawn as one line: the shape and its options (workers, a
    pool's threads, a blocking slice; None takes the shape's default)."""

    server: str
    workers: int = 1
    threads: int | None = None
    blocking_s: float | None = None

    def __post_init__(self) -> None:
        check_workers(self.server, self.workers)
        check_options(self.server, threads=self.threads, blocking_s=self.blocking_s, cores=1)

    @property
    def label(self) -> str:
        text = shape(self.server).series_label(self.workers)
        if self.threads is not None:
            text += f", {self.threads} threads"
        if self.blocking_s is not None:
            text += f", {self.blocking_s * 1e3:g} ms"
        return text

    @property
    def key(self) -> str:
        key = self.server
        if shape(self.server).takes(WORKERS):
            key += f"-w{self.workers}"
        if self.threads is not None:
            key += f"-t{self.threads}"
        if self.blocking_s is not None:
            key += f"-b{format_sleep(self.blocking_s)}"
        return key

    def options(self) -> dict[str, object]:
        """The options a file records for this series (only those that were given)."""
        given = {"threads": self.threads, "blocking_s": self.blocking_s}
        return {name: value for name, value in given.items() if value is not None}


@dataclass(frozen=True, kw_only=True)
class StudyPoint:
    """One ab command against one running server: ``ab -n requests -c concurrency [-k]``."""

    server: str
    sleep_s: float
    concurrency: int
    workers: int = 1
    requests: int = 100
    keepalive: bool = False
    threads: int | None = None
    blocking_s: float | None = None

    def __post_init__(self) -> None:
        self.series  # noqa: B018 - the series' own checks
        self.scenario()  # the model's own validation of the ab command

    @property
    def series(self) -> Series:
        return Series(server=self.server, workers=self.workers, threads=self.threads,
                      blocking_s=self.blocking_s)

    @property
    def id(self) -> str:
        """A file-name-safe identity, e.g. ``django-w1-s0.1-c10-n100``."""
        k = "-k" if self.keepalive else ""
        return (
            f"{self.series.key}-s{format_sleep(self.sleep_s)}"
            f"-c{self.concurrency}-n{self.requests}{k}"
        )

    @property
    def server_key(self) -> tuple[str, float, int, int | None, float | None]:
        """Points with the same key share one server process."""
        return (self.server, self.sleep_s, self.workers, self.threads, self.blocking_s)

    def scenario(self, *, cores: int = 2) -> Scenario:
        return Scenario(
            server=self.server,
            sleep_s=self.sleep_s,
            concurrency=self.concurrency,
            requests=self.requests,
            workers=self.workers,
            keepalive=self.keepalive,
            cores=cores,
            threads=self.threads,
            blocking_s=self.blocking_s,
        )

    def x_value(self, x: str) -> float:
        return self.concurrency if x == X_CONCURRENCY else self.sleep_s

    def to_dict(self) -> dict[str, object]:
        return {
            "point_id": self.id,
            "server": self.server,
            "workers": self.workers,
            "sleep_s": self.sleep_s,
            "concurrency": self.concurrency,
            "requests": self.requests,
            "keepalive": self.keepalive,
            **self.series.options(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> StudyPoint:
        return cls(
            server=str(data["server"]),
            workers=int(data["workers"]),
            sleep_s=float(data["sleep_s"]),
            concurrency=int(data["concurrency"]),
            requests=int(data["requests"]),
            keepalive=bool(data["keepalive"]),
            **_options(data),
        )


@dataclass(frozen=True, kw_only=True)
class Study:
    """One task of the lab: every series measured at every value of the varied parameter ``x``.

    With ``x == "concurrency"`` the study has one sleep and several concurrency levels; with
    ``x == "sleep_s"`` one concurrency level and several sleeps.
    """

    name: str
    title: str
    x: str
    series: tuple[Series, ...]
    sleeps_s: tuple[float, ...]
    concurrencies: tuple[int, ...]
    requests: int = 100
    keepalive: bool = False

    def __post_init__(self) -> None:
        if self.x not in X_AXES:
            raise InputError(f"x must be one of {', '.join(X_AXES)}, got {self.x!r}")
        if not self.series:
            raise InputError(f"study {self.name} has no servers")
        fixed = self.sleeps_s if self.x == X_CONCURRENCY else self.concurrencies
        if len(fixed) != 1:
            raise InputError(
                f"study {self.name} varies {self.x}, so the other axis needs "
                f"exactly one value, got {len(fixed)}"
            )
        self.points()  # validates every combination

    @property
    def xs(self) -> tuple[float, ...]:
        return tuple(self.concurrencies if self.x == X_CONCURRENCY else self.sleeps_s)

    @property
    def fixed_text(self) -> str:
        """The parameters held constant, e.g. ``sleep 0.1 s, ab -n 100``."""
        k = " -k" if self.keepalive else ""
        if self.x == X_CONCURRENCY:
            return f"sleep {format_sleep(self.sleeps_s[0])} s, ab -n {self.requests}{k}"
        return f"ab -n {self.requests} -c {self.concurrencies[0]}{k}"

    def point(self, series: Series, x: float) -> StudyPoint:
        sleep_s = float(x) if self.x == X_SLEEP else self.sleeps_s[0]
        concurrency = int(x) if self.x == X_CONCURRENCY else self.concurrencies[0]
        return StudyPoint(
            server=series.server,
            workers=series.workers,
            threads=series.threads,
            blocking_s=series.blocking_s,
            sleep_s=sleep_s,
            concurrency=concurrency,
            requests=self.requests,
            keepalive=self.keepalive,
        )

    def points(self) -> tuple[StudyPoint, ...]:
        return tuple(self.point(s, x) for s in self.series for x in self.xs)

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "title": self.title,
            "x": self.x,
            "series": [
                {"server": s.server, "workers": s.workers, **s.options()} for s in self.series
            ],
            "sleeps_s": list(self.sleeps_s),
            "concurrencies": list(self.concurrencies),
            "requests": self.requests,
            "keepalive": self.keepalive,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Study:
        return cls(
            name=str(data["name"]),
            title=str(data["title"]),
            x=str(data["x"]),
            series=tuple(
                Series(server=str(s["server"]), workers=int(s["workers"]), **_options(s))
                for s in data["series"]  # type: ignore[union-attr]
            ),
            sleeps_s=tuple(float(v) for v in data["sleeps_s"]),  # type: ignore[union-attr]
            concurrencies=tuple(int(v) for v in data["concurrencies"]),  # type: ignore[union-attr]
            requests=int(data["requests"]),
            keepalive=bool(data["keepalive"]),
        )


@dataclass(frozen=True, kw_only=True)
class Plan:
    """What one `asim validate` measures: studies, and how many times each point is run."""

    name: str
    studies: tuple[Study, ...]
    repeats: int = DEFAULT_REPEATS
    passes: int = 1

    def __post_init__(self) -> None:
        if not self.studies:
            raise InputError(f"plan {self.name} has no studies")
        if not 1 <= self.repeats <= MAX_REPEATS:
            raise InputError(f"repeat must be between 1 and {MAX_REPEATS}, got {self.repeats}")
        if not 1 <= self.passes <= MAX_PASSES:
            raise InputError(f"passes must be between 1 and {MAX_PASSES}, got {self.passes}")

    def points(self) -> tuple[StudyPoint, ...]:
        """Every distinct point, grouped so that each server is started once.

        Groups keep the order in which the studies first need them; inside a group points run
        from the lowest to the highest concurrency.
        """
        groups: dict[tuple[str, float, int], dict[str, StudyPoint]] = {}
        for study in self.studies:
            for p in study.points():
                groups.setdefault(p.server_key, {}).setdefault(p.id, p)
        ordered: list[StudyPoint] = []
        for group in groups.values():
            ordered.extend(
                sorted(group.values(), key=lambda p: (p.concurrency, p.requests, p.keepalive))
            )
        return tuple(ordered)

    def with_repeats(self, repeats: int) -> Plan:
        return Plan(name=self.name, studies=self.studies, repeats=repeats, passes=self.passes)

    def with_passes(self, passes: int) -> Plan:
        return Plan(name=self.name, studies=self.studies, repeats=self.repeats, passes=passes)

    def pass_points(self, number: int) -> tuple[StudyPoint, ...]:
        """The points measured in pass ``number``: every point in the first, the CPU-dominated
        ones in the later passes (an IO wait does not drift with the machine's speed)."""
        if number == 1:
            return self.points()
        return tuple(p for p in self.points() if cpu_dominated(p))

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "repeats": self.repeats,
            "passes": self.passes,
            "studies": [s.to_dict() for s in self.studies],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Plan:
        """A plan as plan.json holds it; a file written before passes existed measured one."""
        return cls(
            name=str(data["name"]),
            repeats=int(data["repeats"]),  # type: ignore[arg-type]
            passes=int(data.get("passes", 1)),  # type: ignore[call-overload]
            studies=tuple(Study.from_dict(s) for s in data["studies"]),  # type: ignore[union-attr]
        )


def cpu_dominated(point: StudyPoint) -> bool:
    """A sleep of `CPU_DOMINATED_SLEEP_S` or less: the server's and ab's CPU decide the run."""
    return point.sleep_s <= CPU_DOMINATED_SLEEP_S




def _options(data: Mapping[str, object]) -> dict[str, object]:
    """threads and blocking_s as a file recorded them (absent: the shape's default)."""
    out: dict[str, object] = {}
    if data.get("threads") is not None:
        out["threads"] = int(data["threads"])  # type: ignore[call-overload]
    if data.get("blocking_s") is not None:
        out["blocking_s"] = float(data["blocking_s"])  # type: ignore[arg-type]
    return out
