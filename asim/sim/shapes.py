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
from asim.sim.conn import AcceptQueue
from asim.sim.costs import (
    AB_COSTS,
    ASGI_COSTS,
    DJANGO_ASGI_LOOP_SHARES,
    DJANGO_ASGI_TRIPS,
    GTHREAD_COSTS,
    LOOP_COSTS,
    MACHINE_COSTS,
    POOL_COSTS,
    WORKER_COSTS,
    Costs,
)
from asim.sim.eventloop import EventLoopServer, LoopApp, LoopGroup
from asim.sim.gthread import GthreadServer
from asim.sim.machine import Cpu
from asim.sim.mva import Network
from asim.sim.networks import (
    asgi_network,
    asgi_sync_network,
    blocking_loop_network,
    event_loop_network,
    executor_network,
    gthread_network,
    mixed_loop_network,
    worker_pool_network,
)
from asim.sim.server import Client, ServerModel
from asim.sim.threads import (
    ASGI_LOOP_CALLS,
    ASGI_TRIP_CALLS,
    EXECUTOR_ITEM_CALLS,
    EXECUTOR_LOOP_CALLS,
    Gil,
    ThreadPool,
    calls_per_s,
)
from asim.sim.workerpool import WorkerPoolServer

if TYPE_CHECKING:
    from asim.sim.spec import Scenario

WORKERS = "workers"  # the shape runs W worker processes (`--workers`)
THREADS = "threads"  # a pool of T threads per process (`--threads`)
BLOCKING = "blocking"  # the handler blocks its loop for B seconds first (`--blocking`)
OPTIONS: tuple[str, ...] = (WORKERS, THREADS, BLOCKING)
MAX_THREADS = 1024
MAX_BLOCKING_S = 25.0  # a blocking slice stays under ab's 30 s poll timeout (asim.limits)
UVICORN_BACKLOG = 2048  # uvicorn's --backlog default
PER_REQUEST_THREADS = 1 << 20  # asgiref gives every request a thread of its own: no bound

ModelFactory = Callable[
    [simpy.Environment, Cpu, Costs, "Scenario", Callable[[], float], Client], ServerModel
]
NetworkFactory = Callable[["Scenario", Costs], Network]


@dataclass(frozen=True, kw_only=True)
class ServerCommand:
    """How the real server starts: ``python ARGV...`` with the environment ``env``.

    asim.lab.procs fills in the placeholders ``{sleep_s}``, ``{workers}``, ``{host}``, ``{port}``
    and ``{bind}`` (host:port, IPv6 in brackets), ``{threads}`` and ``{blocking_s}``.
    ``ready_lines``: the server logs one line per worker that is ready (`asim.servers.READY_MARK`),
    and readiness waits for all of them (gunicorn, uvicorn). ``traced``: the server has the
    request trace hooks of `asim.servers.trace`.
    """

    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()
    ready_lines: bool = False
    traced: bool = True  # the server writes asim.servers.trace lines when asked


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
    default_threads: Callable[[int], int] | None = None  # of the machine's cores
    default_blocking_s: float | None = None

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


def _executor(env, cpu, costs, scenario, sleep_s, client) -> ServerModel:
    gil = Gil(env, cpu, handoff_s=costs.wakeup_s)
    pool = ThreadPool(env, gil, costs, threads=scenario.threads, name="executor",
                      calls_per_s=calls_per_s(EXECUTOR_ITEM_CALLS, costs.pool_item_cpu_s))
    app = LoopApp(sleep_in_pool=True, item_cpu_s=costs.pool_item_cpu_s)
    loop_calls = calls_per_s(EXECUTOR_LOOP_CALLS, costs.loop_cpu_s + costs.loop_handoff_cpu_s)
    return EventLoopServer(env, cpu, costs, client=client, sleep_s=sleep_s, blocking=False,
                           app=app, pool=pool, gil=gil, calls_per_s=loop_calls)


def _mixed(env, cpu, costs, scenario, sleep_s, client) -> ServerModel:
    return EventLoopServer(env, cpu, costs, client=client, sleep_s=sleep_s, blocking=False,
                           app=LoopApp(blocking_s=scenario.blocking_s))


def _gthread(env, cpu, costs, scenario, sleep_s, client) -> ServerModel:
    return GthreadServer(env, cpu, costs, client=client, workers=scenario.workers,
                         threads=scenario.threads, sleep_s=sleep_s)


def _asgi_loops(env, cpu, costs, scenario, sleep_s, client, *, sync_view: bool) -> ServerModel:
    # Django under uvicorn (docs/notes/measurements.md section 31.5): fifteen sync_to_async
    # round trips through the request's own thread, Django's loop CPU between them; a sync
    # view is one more trip, holding that thread for its sleep.
    app = LoopApp(sleep_in_pool=sync_view, framework_cpu_s=costs.asgi_framework_cpu_s,
                  framework_shares=DJANGO_ASGI_LOOP_SHARES, trip_cpu_s=costs.asgi_thread_cpu_s,
                  trips_before=DJANGO_ASGI_TRIPS[0], trips_to_response=DJANGO_ASGI_TRIPS[1],
                  trips_after=DJANGO_ASGI_TRIPS[2], view_item_cpu_s=costs.asgi_view_thread_cpu_s,
                  view_handoff_cpu_s=costs.asgi_view_handoff_cpu_s, keeps_http10=False)
    queue = AcceptQueue(UVICORN_BACKLOG + 1) if scenario.workers > 1 else None
    loop_calls = calls_per_s(ASGI_LOOP_CALLS, costs.loop_cpu_s + costs.asgi_framework_cpu_s)
    trip_calls = calls_per_s(ASGI_TRIP_CALLS, costs.asgi_thread_cpu_s)
    view_calls = calls_per_s(ASGI_TRIP_CALLS, costs.asgi_view_thread_cpu_s)
    loops = []
    for index in range(scenario.workers):
        gil = Gil(env, cpu, handoff_s=costs.wakeup_s)
        pool = ThreadPool(env, gil, costs, threads=PER_REQUEST_THREADS, name=f"asgi-{index}",
                          cold_s=costs.asgi_thread_cold_cpu_s, calls_per_s=view_calls)
        loops.append(EventLoopServer(
            env, cpu, costs, client=client, sleep_s=sleep_s, blocking=False,
            backlog=UVICORN_BACKLOG, app=app, pool=pool, gil=gil, accept_queue=queue,
            index=index, calls_per_s=loop_calls, trip_calls_per_s=trip_calls,
        ))
    return loops[0] if len(loops) == 1 else LoopGroup(loops)


def _asgi(env, cpu, costs, scenario, sleep_s, client) -> ServerModel:
    return _asgi_loops(env, cpu, costs, scenario, sleep_s, client, sync_view=False)


def _asgi_sync(env, cpu, costs, scenario, sleep_s, client) -> ServerModel:
    return _asgi_loops(env, cpu, costs, scenario, sleep_s, client, sync_view=True)


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

_DJANGO_ENV = (("ASIM_SLEEP_S", "{sleep_s}"),)
# Plain uvicorn: asyncio's loop and h11 (aiohttp's loop; no uvloop or httptools even when
# installed), no access log (gunicorn's default), warnings only.
_UVICORN_ARGV = ("-m", "uvicorn", "asim.servers.djlab.asgi:application", "--host", "{host}",
                 "--port", "{port}", "--workers", "{workers}", "--loop", "asyncio", "--http",
                 "h11", "--no-access-log", "--log-level", "warning")

_SHAPES += (
    Shape(
        name="aiohttp-executor",
        label="aiohttp, sleep in an executor",
        summary="aiohttp, handler awaits run_in_executor(time.sleep) (a pool of --threads)",
        options=frozenset({THREADS}),
        model=_executor,
        network=executor_network,
        command=ServerCommand(argv=(*_AIO_ARGV, "--executor", "--threads", "{threads}"),
                              traced=False),
        default_port=8088,
        costs=AB_COSTS + LOOP_COSTS + POOL_COSTS + MACHINE_COSTS,
        default_threads=lambda cores: min(32, cores + 4),  # ThreadPoolExecutor's default
    ),
    Shape(
        name="aiohttp-mixed",
        label="aiohttp, blocking slice",
        summary="aiohttp, handler calls time.sleep(--blocking) then awaits asyncio.sleep",
        options=frozenset({BLOCKING}),
        model=_mixed,
        network=mixed_loop_network,
        command=ServerCommand(argv=(*_AIO_ARGV, "--mixed", "{blocking_s}"), traced=False),
        default_port=8088,
        costs=AB_COSTS + LOOP_COSTS + MACHINE_COSTS,
        default_blocking_s=0.001,
    ),
    Shape(
        name="django-gthread",
        label="Django gthread",
        summary="Django under gunicorn gthread workers (--workers x --threads), time.sleep",
        options=frozenset({WORKERS, THREADS}),
        model=_gthread,
        network=gthread_network,
        command=ServerCommand(
            argv=("-m", "gunicorn", "-c", "python:asim.servers.gunicorn_conf",
                  "--workers", "{workers}", "--bind", "{bind}", "--worker-class", "gthread",
                  "--threads", "{threads}", "asim.servers.djlab.wsgi"),
            env=_DJANGO_ENV,
            ready_lines=True,
            traced=False,
        ),
        default_port=8089,
        costs=AB_COSTS + WORKER_COSTS + GTHREAD_COSTS + MACHINE_COSTS,
        default_threads=lambda cores: 1,  # gunicorn's --threads default
    ),
    Shape(
        name="django-asgi",
        label="Django ASGI, async view",
        summary="Django's asgi.py under uvicorn, async view awaits asyncio.sleep",
        options=frozenset({WORKERS}),
        model=_asgi,
        network=asgi_network,
        command=ServerCommand(argv=_UVICORN_ARGV, env=(*_DJANGO_ENV, ("ASIM_DJANGO_VIEW", "async")),
                              ready_lines=True, traced=False),
        default_port=8089,
        costs=AB_COSTS + LOOP_COSTS + ASGI_COSTS + MACHINE_COSTS,
    ),
    Shape(
        name="django-asgi-sync",
        label="Django ASGI, sync view",
        summary="Django's asgi.py under uvicorn, the sync view's time.sleep via sync_to_async",
        options=frozenset({WORKERS}),
        model=_asgi_sync,
        network=asgi_sync_network,
        command=ServerCommand(argv=_UVICORN_ARGV, env=(*_DJANGO_ENV, ("ASIM_DJANGO_VIEW", "sync")),
                              ready_lines=True, traced=False),
        default_port=8089,
        costs=AB_COSTS + LOOP_COSTS + ASGI_COSTS + MACHINE_COSTS,
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


def check_options(
    name: str, *, threads: int | None, blocking_s: float | None, cores: int
) -> tuple[int | None, float | None]:
    """Check ``threads`` and ``blocking_s`` for shape ``name`` and fill in its defaults: the
    values a scenario runs with (None where the shape has no such option)."""
    s = shape(name)
    if s.takes(THREADS):
        if threads is None:
            threads = s.default_threads(cores)
        elif not (isinstance(threads, int) and 1 <= threads <= MAX_THREADS):
            raise InputError(f"threads must be between 1 and {MAX_THREADS}, got {threads}")
    elif threads is not None:
        raise InputError(f"threads (--threads) apply to {', '.join(takers(THREADS))} only "
                         f"(got {threads} for {name})")
    if s.takes(BLOCKING):
        if blocking_s is None:
            blocking_s = s.default_blocking_s
        elif not 0 <= blocking_s <= MAX_BLOCKING_S:
            raise InputError(f"blocking must be between 0 and {MAX_BLOCKING_S:g} s, "
                             f"got {blocking_s:g}")
    elif blocking_s is not None:
        raise InputError(f"blocking (--blocking) applies to {', '.join(takers(BLOCKING))} "
                         f"only (got {blocking_s:g} for {name})")
    return threads, blocking_s


def choices_help() -> str:
    """One line per shape for --help texts: ``name: summary``."""
    return "; ".join(f"{s.name}: {s.summary}" for s in _SHAPES)
