"""The registry of server shapes: the one place that names each shape asim knows.

An entry says everything the rest of asim needs: the name on the command line, the label in
tables and figures, which options it takes, the model that simulates it, the steady-state network
that MVA and the bounds solve, the real server `asim serve` starts, and the cost parameters the
model reads. CLI choices, error messages, `asim serve`, validate's study checks and the lecture
all read this table, so a new shape is one model (or a reuse of one), one entry here and one real
server (docs/shapes.md).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING

import simpy

from asim.errors import InputError
from asim.sim.costs import AB_COSTS, LOOP_COSTS, MACHINE_COSTS, WORKER_COSTS, Costs
from asim.sim.eventloop import EventLoopServer
from asim.sim.machine import Cpu
from asim.sim.mva import Network
from asim.sim.networks import blocking_loop_network, event_loop_network, worker_pool_network
from asim.sim.server import Client, ServerModel
from asim.sim.workerpool import WorkerPoolServer

if TYPE_CHECKING:
    from asim.sim.spec import Scenario

WORKERS = "workers"  # the shape runs W worker processes (`--workers`)
OPTIONS: tuple[str, ...] = (WORKERS,)

ModelFactory = Callable[
    [simpy.Environment, Cpu, Costs, "Scenario", Callable[[], float], Client], ServerModel
]
NetworkFactory = Callable[["Scenario", Costs], Network]


@dataclass(frozen=True, kw_only=True)
class ServerCommand:
    """How the real server starts: ``python ARGV...`` with the environment ``env``.

    asim.lab.procs fills in the placeholders ``{sleep_s}``, ``{workers}``, ``{host}``, ``{port}``
    and ``{bind}`` (host:port, IPv6 in brackets). ``ready_lines``: the server logs one line per
    worker that is ready, and readiness waits for all of them (gunicorn).
    """

    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()
    ready_lines: bool = False


@dataclass(frozen=True, kw_only=True)
class Shape:
    """One server shape: how it is named, simulated, solved, started and calibrated."""

    name: str
    label: str
    summary: str
    options: frozenset[str]
    model: ModelFactory
    network: NetworkFactory | None
    command: ServerCommand
    default_port: int
    costs: tuple[str, ...]

    def series_label(self, workers: int = 1) -> str:
        """The label of one line in a figure, e.g. ``Django, 2 workers``."""
        if WORKERS not in self.options:
            return self.label
        return f"{self.label}, {workers} worker{'s' if workers > 1 else ''}"

    def takes(self, option: str) -> bool:
        return option in self.options


def _event_loop(env, cpu, costs, scenario, sleep_s, client) -> ServerModel:
    return EventLoopServer(env, cpu, costs, client=client, sleep_s=sleep_s, blocking=False)


def _blocking_loop(env, cpu, costs, scenario, sleep_s, client) -> ServerModel:
    return EventLoopServer(env, cpu, costs, client=client, sleep_s=sleep_s, blocking=True)


def _worker_pool(env, cpu, costs, scenario, sleep_s, client) -> ServerModel:
    return WorkerPoolServer(
        env, cpu, costs, client=client, workers=scenario.workers, sleep_s=sleep_s,
        timeout_s=scenario.worker_timeout_s,
    )


_AIO_ARGV = ("-m", "asim.servers.aio", "--sleep", "{sleep_s}", "--host", "{host}",
             "--port", "{port}")

_SHAPES = (
    Shape(
        name="aiohttp",
        label="aiohttp",
        summary="aiohttp, handler awaits asyncio.sleep (one event loop)",
        options=frozenset(),
        model=_event_loop,
        network=event_loop_network,
        command=ServerCommand(argv=_AIO_ARGV),
        default_port=8088,
        costs=AB_COSTS + LOOP_COSTS + MACHINE_COSTS,
    ),
    Shape(
        name="aiohttp-blocking",
        label="aiohttp, blocking sleep",
        summary="aiohttp, handler calls time.sleep (blocks the loop)",
        options=frozenset(),
        model=_blocking_loop,
        network=blocking_loop_network,
        command=ServerCommand(argv=(*_AIO_ARGV, "--blocking")),
        default_port=8088,
        costs=AB_COSTS + LOOP_COSTS + MACHINE_COSTS,
    ),
    Shape(
        name="django",
        label="Django",
        summary="Django under gunicorn sync workers, view calls time.sleep",
        options=frozenset({WORKERS}),
        model=_worker_pool,
        network=worker_pool_network,
        command=ServerCommand(
            argv=("-m", "gunicorn", "-c", "python:asim.servers.gunicorn_conf",
                  "--workers", "{workers}", "--bind", "{bind}", "asim.servers.djlab.wsgi"),
            env=(("ASIM_SLEEP_S", "{sleep_s}"),),
            ready_lines=True,
        ),
        default_port=8089,
        costs=AB_COSTS + WORKER_COSTS + MACHINE_COSTS,
    ),
)

SHAPES: Mapping[str, Shape] = MappingProxyType({s.name: s for s in _SHAPES})
NAMES: tuple[str, ...] = tuple(SHAPES)


def shape(name: str) -> Shape:
    """The shape called ``name``; an unknown name is an `InputError` listing the known ones."""
    try:
        return SHAPES[name]
    except (KeyError, TypeError):
        raise InputError(f"unknown server {name!r}; choose from {', '.join(NAMES)}") from None


def takers(option: str) -> tuple[str, ...]:
    """The names of the shapes that take ``option``."""
    return tuple(s.name for s in _SHAPES if s.takes(option))


def check_workers(name: str, workers: int) -> None:
    """Refuse a worker count other than 1 for a shape without worker processes."""
    if workers != 1 and not shape(name).takes(WORKERS):
        raise InputError(
            f"workers (--workers) apply to {', '.join(takers(WORKERS))} only "
            f"(got {workers} for {name})"
        )


def choices_help() -> str:
    """One line per shape for --help texts: ``name: summary``."""
    return "; ".join(f"{s.name}: {s.summary}" for s in _SHAPES)
