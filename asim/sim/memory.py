"""Server memory: what a scenario's server holds resident, from what it keeps alive.

The quantity is the server group's anonymous memory (``Pss_Anon`` summed over its processes,
`asim.lab.memory`): heaps, Python objects and thread stacks, each page counted once even where
forked workers share it with their master. It is a sum of what the server keeps alive during
the run::

    memory = master_mb * masters + worker_mb * W + thread_kb * threads + connection_kb * held

- ``masters``: gunicorn's arbiter (always), uvicorn's supervisor (only when W > 1); the aiohttp
  process is its own single worker.
- ``threads``: the threads the shape starts besides each process's main thread, at most as many
  as it needs for the C requests in flight: aiohttp-executor's pool min(T, C), gthread's
  W x min(T, ceil(C / W)), asgiref's one thread per request in flight for Django under uvicorn.
- ``held``: the connections the server's processes have accepted and keep state for: every one
  of the C clients for an event loop (and gthread, whose workers poll their kept connections);
  at most W for sync workers, whose other clients wait in the kernel's accept queue, which is
  kernel memory and not the server's.

The run's peak is what is predicted: memory the interpreter has taken is rarely given back, so
the peak of a run is also what the server keeps after it (docs/notes/measurements.md, "Memory").
The figures per shape come from `asim calibrate` (its "memory" section) or the built-in ones
below, measured on the lab machine. No I/O here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from asim.errors import CalibrationError
from asim.sim.shapes import NAMES

if TYPE_CHECKING:
    from asim.sim.spec import Scenario

KIB_PER_MB = 1024.0
GTHREAD_WORKER_CONNECTIONS = 1000  # gunicorn's --worker-connections default


@dataclass(frozen=True, kw_only=True)
class ShapeMemory:
    """What one shape's server keeps resident: each master and worker process idle (MiB), each
    extra live thread and each held connection (KiB)."""

    master_mb: float = 0.0
    worker_mb: float
    thread_kb: float = 0.0
    connection_kb: float = 0.0

    def __post_init__(self) -> None:
        for name in ("master_mb", "worker_mb", "thread_kb", "connection_kb"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise CalibrationError(f"memory cost '{name}' must be a number >= 0, "
                                       f"got {value!r}")

    def to_dict(self) -> dict[str, float]:
        return {"master_mb": round(self.master_mb, 3), "worker_mb": round(self.worker_mb, 3),
                "thread_kb": round(self.thread_kb, 2),
                "connection_kb": round(self.connection_kb, 3)}

    @classmethod
    def from_dict(cls, d: Mapping[str, object], *, base: ShapeMemory) -> ShapeMemory:
        """Read the fields ``d`` has; the others stay ``base``'s."""
        if not isinstance(d, Mapping):
            raise CalibrationError(f"a shape's memory costs must be an object, got {d!r}")
        unknown = set(d) - {"master_mb", "worker_mb", "thread_kb", "connection_kb"}
        if unknown:
            raise CalibrationError(f"unknown memory cost {sorted(unknown)[0]!r}")
        values = {}
        for key, value in d.items():
            if not (isinstance(value, int | float) and not isinstance(value, bool)):
                raise CalibrationError(f"memory cost '{key}' must be a number, got {value!r}")
            values[key] = float(value)
        return replace(base, **values)


@dataclass(frozen=True, kw_only=True)
class MemoryCosts:
    """The memory figures of every shape, and where they came from."""

    shapes: Mapping[str, ShapeMemory]
    source: str = "built-in"

    def __post_init__(self) -> None:
        missing = [name for name in NAMES if name not in self.shapes]
        if missing:
            raise CalibrationError(f"memory costs lack the shape {missing[0]!r}")
        # a plain dict: the figures travel to sweep workers, and a mappingproxy does not pickle
        object.__setattr__(self, "shapes", dict(self.shapes))

    def of(self, name: str) -> ShapeMemory:
        return self.shapes[name]

    def to_dict(self) -> dict[str, dict[str, float]]:
        return {name: m.to_dict() for name, m in self.shapes.items()}

    def with_shapes(self, shapes: Mapping[str, ShapeMemory], *, source: str) -> MemoryCosts:
        """These costs with ``shapes`` replaced (the others kept)."""
        return MemoryCosts(shapes={**self.shapes, **shapes}, source=source)

    @classmethod
    def from_dict(cls, d: object, *, source: str) -> MemoryCosts:
        """A calibration file's "memory" section over the built-in figures: shapes it does not
        name (added after the file was written) keep theirs."""
        if not isinstance(d, Mapping):
            raise CalibrationError(f"'memory' must be an object, got {d!r}")
        shapes = {}
        for name, record in d.items():
            if name not in NAMES:
                continue  # a shape this asim does not know: nothing reads its figures
            try:
                shapes[name] = ShapeMemory.from_dict(record, base=DEFAULT_MEMORY.of(name))
            except CalibrationError as exc:
                raise CalibrationError(f"memory of {name}: {exc}") from None
        return DEFAULT_MEMORY.with_shapes(shapes, source=source)


@dataclass(frozen=True, kw_only=True)
class Held:
    """What a scenario's server keeps alive at its peak: processes, extra threads, connections."""

    masters: int
    workers: int
    threads: int
    connections: int


def held(scenario: Scenario) -> Held:
    """What the server of ``scenario`` (an `asim.sim.spec.Scenario`) holds during its run."""
    return held_by(scenario.server, workers=scenario.workers, threads=scenario.threads,
                   concurrency=scenario.concurrency)


def held_by(name: str, *, workers: int, threads: int | None, concurrency: int) -> Held:
    """What shape ``name`` holds with ``workers``, ``threads`` and C clients (no limits checked:
    the lecture asks about W = C = 10 000, beyond what a scenario may simulate)."""
    w, c, t = workers, concurrency, threads or 0
    if name in ("aiohttp", "aiohttp-blocking", "aiohttp-mixed"):
        return Held(masters=0, workers=1, threads=0, connections=c)
    if name == "aiohttp-executor":
        return Held(masters=0, workers=1, threads=min(t, c), connections=c)
    if name == "django":
        return Held(masters=1, workers=w, threads=0, connections=min(c, w))
    if name == "django-gthread":
        per_worker = min(t, math.ceil(c / w))
        return Held(masters=1, workers=w, threads=w * per_worker,
                    connections=min(c, w * GTHREAD_WORKER_CONNECTIONS))
    if name in ("django-asgi", "django-asgi-sync"):
        return Held(masters=1 if w > 1 else 0, workers=w, threads=c, connections=c)
    raise ValueError(f"no memory rule for the shape {name!r}")


def server_memory_mb(scenario: Scenario, memory_costs: MemoryCosts | None = None) -> float:
    """The predicted peak anonymous memory (MiB) of the server of ``scenario``."""
    return memory_mb(scenario.server, held(scenario), memory_costs)


def memory_mb(name: str, h: Held, memory_costs: MemoryCosts | None = None) -> float:
    """The memory (MiB) of shape ``name`` holding ``h``."""
    m = (memory_costs or DEFAULT_MEMORY).of(name)
    return (m.master_mb * h.masters + m.worker_mb * h.workers
            + (m.thread_kb * h.threads + m.connection_kb * h.connections) / KIB_PER_MB)


def fitted_memory(runs, *, source: str) -> MemoryCosts:
    """The memory figures of `asim calibrate`'s memory runs (`asim.lab.memory.MemoryRun`
    records: server, workers, concurrency, idle_mb, peak_mb), over the built-in ones.

    - aiohttp: the process idle is ``worker_mb`` and the growth with C held connections is
      ``connection_kb``, for every aiohttp shape (one process, one app);
    - gunicorn: a straight line through the idle memory at two sync worker counts gives
      ``worker_mb`` (its slope) and ``master_mb`` (the rest), for the sync and gthread shapes;
    - uvicorn's Django: one process idle is ``worker_mb``; its growth per request in flight is a
      thread and a connection (``connection_kb`` after the built-in ``thread_kb``); with a run
      of two workers idle, what exceeds two workers is the supervisor's ``master_mb`` (without
      one, the built-in figure).
    A shape without its runs keeps the built-in figures.
    """
    by = {(r["server"], r["workers"], bool(r["concurrency"])): r for r in runs}
    shapes: dict[str, ShapeMemory] = {}
    loop = by.get(("aiohttp", 1, True))
    if loop:
        per_connection_kb = max(0.0, loop["peak_mb"] - loop["idle_mb"]) * KIB_PER_MB \
            / loop["concurrency"]
        for name in ("aiohttp", "aiohttp-blocking", "aiohttp-mixed", "aiohttp-executor"):
            shapes[name] = replace(DEFAULT_MEMORY.of(name), worker_mb=loop["idle_mb"],
                                   connection_kb=per_connection_kb)
    pools = sorted((r for (server, _, busy), r in by.items() if server == "django" and not busy),
                   key=lambda r: r["workers"])
    if len(pools) >= 2 and pools[-1]["workers"] > pools[0]["workers"]:
        low, high = pools[0], pools[-1]
        worker_mb = (high["idle_mb"] - low["idle_mb"]) / (high["workers"] - low["workers"])
        master_mb = max(0.0, low["idle_mb"] - worker_mb * low["workers"])
        for name in ("django", "django-gthread"):
            shapes[name] = replace(DEFAULT_MEMORY.of(name), master_mb=master_mb,
                                   worker_mb=max(0.0, worker_mb))
    single = by.get(("django-asgi", 1, True))
    if single:
        built_in = DEFAULT_MEMORY.of("django-asgi")
        per_request_kb = max(0.0, single["peak_mb"] - single["idle_mb"]) * KIB_PER_MB \
            / single["concurrency"]
        two = by.get(("django-asgi", 2, False))
        master_mb = (built_in.master_mb if two is None
                     else max(0.0, two["idle_mb"] - 2 * single["idle_mb"]))
        for name in ("django-asgi", "django-asgi-sync"):
            shapes[name] = replace(DEFAULT_MEMORY.of(name), worker_mb=single["idle_mb"],
                                   master_mb=master_mb,
                                   connection_kb=max(0.0, per_request_kb - built_in.thread_kb))
    return DEFAULT_MEMORY.with_shapes(shapes, source=source)


# Measured on the lab machine (docs/notes/measurements.md, "Memory" and section 26): Python
# 3.11, aiohttp 3.14, Django under gunicorn and uvicorn, each server after a warm-up burst,
# peaks during ab runs; the servers without asim's model in memory (asim's package imports it on
# first use), two idle `asim calibrate` runs of 2026-12-01 agreeing within 0.1 MiB.
_LOOP_MB, _LOOP_CONNECTION_KB = 23.2, 9.6  # idle process; +9.35 MiB at C = 1000
_GUNICORN_MASTER_MB, _SYNC_WORKER_MB = 14.1, 29.5  # line through W = 1 and 3
# W = 1 alone; the supervisor (W = 2 minus two workers) does not import the app, so it was not
# measured again.
_UVICORN_WORKER_MB, _UVICORN_SUPERVISOR_MB = 34.3, 20.4
_BUILT_IN = {
    "aiohttp": ShapeMemory(worker_mb=_LOOP_MB, connection_kb=_LOOP_CONNECTION_KB),
    "aiohttp-blocking": ShapeMemory(worker_mb=_LOOP_MB, connection_kb=_LOOP_CONNECTION_KB),
    "aiohttp-mixed": ShapeMemory(worker_mb=_LOOP_MB, connection_kb=_LOOP_CONNECTION_KB),
    "aiohttp-executor": ShapeMemory(worker_mb=_LOOP_MB, thread_kb=24.0,
                                    connection_kb=_LOOP_CONNECTION_KB),
    "django": ShapeMemory(master_mb=_GUNICORN_MASTER_MB, worker_mb=_SYNC_WORKER_MB),
    "django-gthread": ShapeMemory(master_mb=_GUNICORN_MASTER_MB, worker_mb=_SYNC_WORKER_MB,
                                  thread_kb=40.0, connection_kb=16.0),
    "django-asgi": ShapeMemory(master_mb=_UVICORN_SUPERVISOR_MB, worker_mb=_UVICORN_WORKER_MB,
                               thread_kb=40.0, connection_kb=16.5),
    "django-asgi-sync": ShapeMemory(master_mb=_UVICORN_SUPERVISOR_MB,
                                    worker_mb=_UVICORN_WORKER_MB, thread_kb=40.0,
                                    connection_kb=16.5),
}
DEFAULT_MEMORY = MemoryCosts(shapes=_BUILT_IN)
