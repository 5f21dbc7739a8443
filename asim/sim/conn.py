"""One ab request on one TCP connection, with the timestamps both ends record."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

NOT_YET = -1.0
BACKLOG_EDGE = 0.9  # share of the accept queue from which real runs may or may not drop SYNs

# The stamps of one request: ab's (support/ab.c) and the server's, in simulated seconds.
STAMPS: tuple[str, ...] = (
    "start",
    "connect",
    "endwrite",
    "beginread",
    "done",
    "accepted",
    "handler_start",
    "handler_end",
    "fin_sent",
)


class Conn:
    """A connection opened by ab's slot ``slot``; times are simulated seconds (``NOT_YET``).

    ab's own stamps follow support/ab.c: ``start`` (before connect), ``connect`` (write begins),
    ``endwrite``, ``beginread`` (first response byte), ``done`` (EOF, or the end of the body with
    keep-alive). The server side records ``accepted``, ``handler_start``, ``handler_end`` and
    ``fin_sent`` for traces and timelines.
    """

    __slots__ = (
        "slot",
        *STAMPS,
        "syn_tries",
        "has_data",
        "reader_on",
        "waiting",
        "worker",
        "client_closed",
        "server_keepalive",
        "status_ok",
        "queued",
        "first_burst",
    )

    def __init__(self, slot: int, start: float) -> None:
        self.slot = slot
        self.start = start
        self.connect = NOT_YET
        self.endwrite = NOT_YET
        self.beginread = NOT_YET
        self.done = NOT_YET
        self.accepted = NOT_YET
        self.handler_start = NOT_YET
        self.handler_end = NOT_YET
        self.fin_sent = NOT_YET
        self.syn_tries = 0
        self.has_data = False
        self.reader_on = False
        self.waiting = False
        self.worker = None
        self.client_closed = False
        self.server_keepalive = False
        self.status_ok = True
        self.queued = False
        self.first_burst = False  # opened in ab's first burst (`asim.sim.abclient`)

    def shift(self, dt: float) -> None:
        """Move every stamp already taken ``dt`` seconds later."""
        for name in STAMPS:
            value = getattr(self, name)
            if value >= 0:
                setattr(self, name, value + dt)


class RequestRecord:
    """The stamps of one finished request (simulated seconds), for samples and timelines."""

    __slots__ = ("slot", *STAMPS, "worker", "status_ok")

    def __init__(self, conn: Conn, done: float) -> None:
        self.slot = conn.slot
        for name in STAMPS:
            setattr(self, name, getattr(conn, name))
        self.done = done
        self.worker = getattr(conn.worker, "index", None)
        self.status_ok = conn.status_ok


class AcceptQueue(deque):
    """A listening socket's queue of established connections: Linux holds ``capacity``
    (backlog + 1) of them and drops a SYN that finds it full. Counts its peak and its drops,
    and apart those of ab's first burst of connections (`Conn.first_burst`) with that burst's
    size.

    ``admit_first_burst`` queues the first SYN of each of those connections even beyond the
    capacity: the branch of the race in which the server keeps up with ab's burst;
    ``burst_capacity`` holds those first SYNs to a smaller queue: the branch in which it keeps up
    with none of the burst (`Backlog`).
    """

    def __init__(self, capacity: int) -> None:
        super().__init__()
        self.capacity = capacity
        self.peak = 0
        self.dropped = 0
        self.burst_peak = 0
        self.burst_dropped = 0
        self.burst_size = 0  # connections of the first burst (their first SYNs)
        self.admit_first_burst = False
        self.burst_capacity: int | None = None
        # On a branch of the workers' race (`Backlog`): ab's slot -> the worker that accepts
        # that slot's connections of the first burst; None: any worker.
        self.burst_owner: Callable[[int], int] | None = None
        self.burst_taken: list[int] = []  # connections of the first burst each worker took

    def ready_for(self, worker: int) -> bool:
        """Whether accept() by worker ``worker`` (its index among the server's processes) would
        return a connection: the queue holds one, and its head is not a connection of ab's first
        burst that another worker takes on this branch of the workers' race."""
        if not self:
            return False
        head = self[0]
        return self.burst_owner is None or not head.first_burst or (
            self.burst_owner(head.slot) == worker)

    def take(self, worker: int) -> Conn | None:
        """accept() by worker ``worker``: the longest-queued connection, or None (`ready_for`)."""
        if not self.ready_for(worker):
            return None
        if self[0].first_burst:
            taken = self.burst_taken
            while len(taken) <= worker:
                taken.append(0)
            taken[worker] += 1
        return self.popleft()

    def offer(self, conn: Conn) -> bool:
        """Queue ``conn`` if there is room; False (a dropped SYN) if not."""
        queued = len(self)
        burst = conn.first_burst
        first_syn = burst and conn.syn_tries == 0
        capacity = self.capacity
        if first_syn:
            self.burst_size += 1
            if self.burst_capacity is not None:
                capacity = self.burst_capacity
        if queued >= capacity and not (first_syn and self.admit_first_burst):
            self.dropped += 1
            if burst:
                self.burst_dropped += 1
            return False
        self.append(conn)
        if queued >= self.peak:
            self.peak = queued + 1
        if burst and queued >= self.burst_peak:
            self.burst_peak = queued + 1
        return True


@dataclass(frozen=True, kw_only=True)
class Backlog:
    """A what-if on a server's listening socket, for the other branch of a race near its
    backlog or between its workers.

    ``capacity``: the accept queue holds this many instead of the server's backlog + 1 (a
    smaller one overflows where the real queue only came near it); ``admit_first_burst``: the
    first SYN of each connection of ab's first burst is never dropped (the server keeps up with
    the burst); ``burst_capacity``: those first SYNs find the queue full at this many (the
    server keeps up with none of the burst; the retransmitted SYNs and every later connection
    see the whole queue); ``first_burst_worker``: of several workers behind the socket, only
    this one accepts the connections of ab's first burst (the others find the queue empty while
    one of them is at its head); ``first_burst_shared``: so many workers share the burst evenly,
    ab's slot s going to worker s mod W. See `asim.sim.race`.
    """

    capacity: int | None = None
    admit_first_burst: bool = False
    burst_capacity: int | None = None
    first_burst_worker: int | None = None
    first_burst_shared: int | None = None

    def __post_init__(self) -> None:
        for name in ("capacity", "burst_capacity"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"an accept queue holds at least 1 connection, got {name} "
                                 f"{value}")

    def apply(self, queue: AcceptQueue) -> None:
        """Set ``queue`` up for this branch, before the run starts."""
        if self.capacity is not None:
            queue.capacity = self.capacity
        queue.admit_first_burst = self.admit_first_burst
        queue.burst_capacity = self.burst_capacity
        if self.first_burst_worker is not None:
            worker = self.first_burst_worker
            queue.burst_owner = lambda _slot: worker
        elif self.first_burst_shared:
            workers = self.first_burst_shared
            queue.burst_owner = lambda slot: slot % workers  # ab's slots dealt out in turn


def near_backlog(peak: int, capacity: int) -> bool:
    """A run whose accept queue reached `BACKLOG_EDGE` of its capacity: near the listen
    backlog, real runs split between ones that lose SYNs and ones that do not."""
    return capacity > 0 and peak >= BACKLOG_EDGE * capacity
