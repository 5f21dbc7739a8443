"""gunicorn sync workers (gunicorn 27, `workers/sync.py`) running a Django view.

Each worker is one process: it accepts from the shared listening socket (a FIFO accept queue of
``backlog + 1`` connections), parses one request, runs the view (``time.sleep(S)`` holds the
worker without using the CPU), writes the response, and closes gracefully (`util.close_graceful`:
shutdown(SHUT_WR) sends the FIN, then it waits for the client to close before it accepts again).
A worker therefore stays busy until ab has read the response and closed its end. After a request
the worker tries accept() again at once and only falls back to select() when the queue is empty.
Every idle worker selects on the same socket, so each new connection wakes them all (the
thundering herd): each pays ``worker_herd_cpu_s`` to return from select() and try accept(), and
the first to get there takes the connection. A worker that finishes a request tries accept() at
once and usually wins that race, so a lightly loaded pool keeps serving from one warm worker.

The arbiter wakes once a second and kills (SIGABRT) a worker that has not notified it for more
than ``--timeout`` seconds; a sync worker notifies only between requests. The SystemExit lands in
the view's sleep, gunicorn's `handle_error` answers 500, the worker exits after its graceful close,
and the master forks a replacement that must import Django again (``worker_boot_s``).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable

import simpy

from asim.sim.conn import AcceptQueue, Conn
from asim.sim.costs import Costs
from asim.sim.machine import Cpu, Thread, call_later
from asim.sim.server import Client, ServerStats
from asim.sim.usage import WORKERS, Holds, Meter

GUNICORN_BACKLOG = 2048


class Worker:
    """One gunicorn sync worker process."""

    __slots__ = ("index", "conn", "served", "thread", "herd_thread", "notified", "doomed", "since")

    def __init__(self, index: int, costs: Costs) -> None:
        self.index = index
        self.notified = 0.0  # last heartbeat to the arbiter
        self.doomed = False
        self.thread = Thread(
            f"worker {index}", cold_s=costs.worker_cold_cpu_s, tau_s=costs.cold_tau_s,
            onset_s=costs.cold_onset_s,
        )
        # A wake-up from select() runs select() and accept() only: it neither pays the view's
        # cold-cache penalty nor warms the caches the next request needs.
        self.herd_thread = Thread(f"worker {index} select")
        self.conn: Conn | None = None
        self.served = 0
        self.since = 0.0  # when it accepted the connection it holds


class WorkerPoolServer:
    """``workers`` gunicorn sync workers behind one listening socket."""

    def __init__(
        self,
        env: simpy.Environment,
        cpu: Cpu,
        costs: Costs,
        *,
        client: Client,
        workers: int,
        sleep_s: Callable[[], float],
        timeout_s: float = 30.0,
        backlog: int = GUNICORN_BACKLOG,
        somaxconn: int = 4096,
    ) -> None:
        self.env = env
        self.cpu = cpu
        self.costs = costs
        self.sleep_s = sleep_s
        self.timeout_s = timeout_s
        self.killed = 0
        self.holds = Holds()  # a worker is held from accept() to the end of its graceful close
        self.wakes = 0  # workers woken from select() by a connection
        self.client = client
        self.accept_queue = AcceptQueue(min(backlog, somaxconn) + 1)
        self.workers = [Worker(i, costs) for i in range(workers)]
        # Idle workers, the one that went idle last at the right end: it wins the next accept.
        self._idle: deque[Worker] = deque(reversed(self.workers))

    def shift(self, dt: float) -> None:
        """Move every absolute time the workers hold ``dt`` seconds later."""
        for w in self.workers:
            w.notified += dt
            w.since += dt
            w.thread.shift(dt)
        self.holds.shift(dt)

    @property
    def shift_safe(self) -> bool:
        """No worker was killed: the arbiter's whole-second checks are not shift-invariant."""
        return self.killed == 0

    def stats(self) -> ServerStats:
        return ServerStats(wakes=self.wakes)

    def meters(self) -> tuple[Meter, ...]:
        """The workers as one pool: each is held from accept() until ab has closed."""
        return (Meter(WORKERS, len(self.workers), lambda: self.holds.busy_s(self.env.now)),)

    # -- the kernel side ---------------------------------------------------------------------
    def syn(self, conn: Conn) -> bool:
        if not self.accept_queue.offer(conn):
            return False
        if self._idle:
            # Idle workers all sleep in select() on the listening socket, and a connection wakes
            # every one of them (the kernel wakes the newest sleeper first). Each returns from
            # select() and calls accept(); the first to get there takes the connection, the
            # others find nothing and go back to select(). A worker finishing its graceful close
            # calls accept() at once, without select(), so it often beats the woken ones and
            # the pool keeps serving from one warm worker (73-87 % of requests at C = 1 in
            # server traces, docs/notes/measurements.md).
            herd, self._idle = self._idle, deque()
            for worker in reversed(herd):
                self._wake(worker)
        return True

    def _wake(self, worker: Worker) -> None:
        if self.costs.wakeup_s > 0:
            call_later(self.env, self.costs.wakeup_s, self._woken, worker)
        else:
            self._woken(worker)

    def _woken(self, worker: Worker) -> None:
        self.wakes += 1
        self.cpu.run(worker.herd_thread, self.costs.worker_herd_cpu_s, self._accept, worker)

    def request_data(self, conn: Conn) -> None:
        conn.has_data = True
        if conn.worker is not None and conn.waiting:
            conn.waiting = False
            call_later(self.env, self.costs.wakeup_s, self._parse, conn)  # blocked in recv()

    def client_closed(self, conn: Conn) -> None:
        worker = conn.worker
        if worker is not None and worker.conn is conn and conn.fin_sent >= 0:
            # close_graceful waits in recv() for the client's FIN.
            call_later(self.env, self.costs.wakeup_s, self._close, worker)

    def _close(self, worker: Worker) -> None:
        self.cpu.run(worker.thread, self.costs.worker_close_cpu_s, self._closed, worker)

    # -- one worker's loop ---------------------------------------------------------------------
    def _accept(self, worker: Worker) -> None:
        if not self.accept_queue:
            worker.conn = None
            self._idle.append(worker)
            return
        conn = self.accept_queue.popleft()
        conn.accepted = worker.notified = worker.since = self.env.now
        self.holds.begin(worker.since)
        conn.worker = worker
        worker.conn = conn
        if conn.has_data:
            self._parse(conn)
        else:
            conn.waiting = True  # blocked in recv() until ab writes the request

    def _parse(self, conn: Conn) -> None:
        self.cpu.run(conn.worker.thread, self.costs.worker_request_cpu_s, self._view, conn)

    def _view(self, conn: Conn) -> None:
        now = conn.handler_start = self.env.now
        delay = self.costs.time_sleep_s(self.sleep_s())
        worker = conn.worker
        # The arbiter's checks fall on whole seconds of its clock (started with the run).
        kill_at = math.floor(worker.notified + self.timeout_s) + 1.0
        if now + delay > kill_at:
            call_later(self.env, kill_at - now, self._abort, conn)
        else:
            call_later(self.env, delay, self._respond, conn)

    def _abort(self, conn: Conn) -> None:
        self.killed += 1
        conn.worker.doomed = True
        conn.status_ok = False  # handle_error writes a 500
        self._respond(conn)

    def _respond(self, conn: Conn) -> None:
        self.cpu.run(conn.worker.thread, self.costs.worker_response_cpu_s, self._responded, conn)

    def _responded(self, conn: Conn) -> None:
        now = self.env.now
        conn.handler_end = now
        conn.fin_sent = now  # the sync worker never keeps a connection alive
        self.client.response_data(conn)
        self.client.response_eof(conn)
        if conn.client_closed:
            worker = conn.worker
            self.cpu.run(worker.thread, self.costs.worker_close_cpu_s, self._closed, worker)

    def _closed(self, worker: Worker) -> None:
        worker.served += 1
        self.holds.end(worker.since, self.env.now)
        if worker.doomed:
            call_later(self.env, self.costs.worker_boot_s, self._reborn, worker.index)
            return
        self._accept(worker)

    def _reborn(self, index: int) -> None:
        worker = Worker(index, self.costs)
        worker.notified = self.env.now
        self.workers[index] = worker
        self._accept(worker)
