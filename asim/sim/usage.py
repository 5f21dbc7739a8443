"""How busy each resource of a simulated run was, and which one was the busiest: the bottleneck.

A resource is busy while it cannot take more work: a core while it runs a burst; an event loop's
thread while it runs (its CPU) or is held by a blocking ``time.sleep`` (not while it waits in
select()); a process's GIL while a thread runs Python under it; a gunicorn sync worker from the
accept() of a connection until ab has closed it; a pool thread from taking an item until it has
finished it; ab's thread while it runs. Its utilisation is its busy time over the run (ab's
"Time taken") divided by its units (cores, workers, threads). Resources of the same kind in
several processes (one GIL per process, one loop per uvicorn worker) are judged one by one and
the busiest of them speaks for the kind; workers and pool threads are judged together, as the
pool they form. The busiest kind is the bottleneck; between kinds within 1 % of each other,
the more fundamental one (`RESOURCES` order: a held worker may be waiting for a core).

The accept queue is the limit when the run filled it to within `asim.sim.conn.BACKLOG_EDGE` of
its capacity while every other resource stayed less busy than that (ab's bursts of connections,
not a saturated server, filled it); its utilisation is then its peak over its capacity. A
saturated server fills its queue too, but the saturated resource is the cause and is named
instead.

The names are stable strings (README's JSON fields): `RESOURCES`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from asim.sim.conn import BACKLOG_EDGE, near_backlog

CORES = "cores"
AB = "ab"
EVENT_LOOP = "event loop"
GIL = "GIL"
WORKERS = "workers"
THREAD_POOL = "thread pool"
ACCEPT_QUEUE = "accept queue"
# Near-ties go to the first of this order: the more fundamental resource. A worker or a pool
# thread is held while it waits for the GIL or a core, a loop while it waits for a core: when
# both are saturated, the one the others wait for is the limit.
RESOURCES: tuple[str, ...] = (CORES, GIL, EVENT_LOOP, AB, THREAD_POOL, WORKERS, ACCEPT_QUEUE)
# The resources that run CPU (a worker or a pool thread is held while it sleeps too).
CPU_RESOURCES: frozenset[str] = frozenset({CORES, GIL, EVENT_LOOP, AB})
TIE = 0.01  # utilisations within this share of the busiest one's count as equally busy

# Station names of `asim.sim.networks` and the resources they stand for: MVA's and the
# bounds' bottleneck in the words of the simulation's.
STATION_RESOURCES: dict[str, str] = {
    "loop": EVENT_LOOP,
    "loops": EVENT_LOOP,
    "cpu": CORES,  # one core shared by the loop and ab
    "GIL": GIL,  # a process's Python: its loop's and its pool's
    "ab": AB,
    "workers": WORKERS,
    "pool": THREAD_POOL,
    "threads": THREAD_POOL,
}


class Holds:
    """The unit-seconds of holds (a worker from accept to close, a pool thread on an item),
    with the holds in progress counted up to the time asked: a run ends while its last
    requests still hold their workers."""

    __slots__ = ("closed_s", "open", "started_sum")

    def __init__(self) -> None:
        self.closed_s = 0.0
        self.open = 0
        self.started_sum = 0.0  # of the holds in progress

    def begin(self, now: float) -> None:
        self.open += 1
        self.started_sum += now

    def end(self, started: float, now: float) -> None:
        self.open -= 1
        self.started_sum -= started
        self.closed_s += now - started

    def busy_s(self, now: float) -> float:
        return self.closed_s + self.open * now - self.started_sum

    def shift(self, dt: float) -> None:
        """Move the holds in progress ``dt`` seconds later (`asim.sim.fastforward`)."""
        self.started_sum += self.open * dt


@dataclass(frozen=True)
class Meter:
    """One resource of a running model: its kind, its units, and its busy unit-seconds so far
    (read when asked: models keep plain counters on their hot paths)."""

    resource: str
    units: int
    busy_s: Callable[[], float]


@dataclass(frozen=True, kw_only=True)
class Usage:
    """One kind of resource over a run: ``utilisation`` is its busy share (0-1) of the run."""

    resource: str
    utilisation: float


def usages(
    meters: Iterable[Meter],
    busy_s: Iterable[float],
    *,
    run_s: float,
    accept_queue_peak: int,
    accept_queue_capacity: int,
) -> tuple[Usage, ...]:
    """Each kind's utilisation, in `RESOURCES` order: ``busy_s`` holds each meter's busy
    unit-seconds over the whole run (`Meter.busy_s` plus what a skip ahead added)."""
    share: dict[str, float] = {}
    for meter, busy in zip(meters, busy_s, strict=True):
        u = min(1.0, max(0.0, busy / (meter.units * run_s))) if run_s > 0 else 0.0
        share[meter.resource] = max(u, share.get(meter.resource, 0.0))
    # A peak beyond the capacity is a what-if that let ab's first burst in (`asim.sim.race`):
    # nothing was dropped, the queue was no limit.
    within = accept_queue_peak <= accept_queue_capacity
    if within and near_backlog(accept_queue_peak, accept_queue_capacity) and all(
        u < BACKLOG_EDGE for u in share.values()
    ):
        share[ACCEPT_QUEUE] = min(1.0, accept_queue_peak / accept_queue_capacity)
    return tuple(Usage(resource=r, utilisation=share[r]) for r in RESOURCES if r in share)


def busiest(found: Iterable[Usage]) -> Usage | None:
    """The busiest resource, None when there is none; of those within `TIE` of the busiest,
    the first in `RESOURCES` order."""
    found = list(found)
    if not found:
        return None
    top = max(u.utilisation for u in found)
    tied = [u for u in found if u.utilisation >= top * (1 - TIE)]
    return min(tied, key=lambda u: RESOURCES.index(u.resource))
