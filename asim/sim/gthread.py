"""gunicorn's gthread workers: W processes, each a main thread and a pool of T threads.

gunicorn 23+ `gthread.ThreadWorker`: the main thread sleeps in select() on the listening socket
and on the kept-alive client sockets. A connection makes the listener readable in every worker
(each returns from select(); the first to call accept() takes it, the others find nothing); the
winner accepts one connection per readiness event, and hands it to its ThreadPoolExecutor of T
threads once its request has arrived. A pool thread parses the request, runs the Django view
(its time.sleep holds only that thread) and writes the response; without keep-alive it closes
the socket, with keep-alive the connection goes back to the main thread's select(). All threads
of one worker share its GIL (`asim.sim.threads`); work waits in the pool's queue when all T
threads are busy.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import simpy

from asim.sim.conn import AcceptQueue, Conn
from asim.sim.costs import Costs
from asim.sim.machine import Cpu, Thread, call_later
from asim.sim.server import Client, ServerStats
from asim.sim.threads import (
    GTHREAD_MAIN_CALLS,
    GTHREAD_POOL_CALLS,
    Gil,
    ThreadPool,
    calls_per_s,
)
from asim.sim.usage import GIL, THREAD_POOL, Holds, Meter

GUNICORN_BACKLOG = 2048


class GthreadWorker:
    """One gthread worker process: its GIL, its main thread and its pool."""

    def __init__(self, index: int, env: simpy.Environment, cpu: Cpu, costs: Costs, threads: int,
                 holds: Holds):
        self.index = index
        self.gil = Gil(env, cpu, handoff_s=costs.wakeup_s)
        main_calls = calls_per_s(GTHREAD_MAIN_CALLS, costs.gthread_accept_cpu_s)
        self.main = Thread(f"gthread-{index}", cold_s=costs.worker_cold_cpu_s,
                           tau_s=costs.cold_tau_s, onset_s=costs.cold_onset_s,
                           calls_per_s=main_calls)
        self.pool = ThreadPool(env, self.gil, costs, threads=threads, name=f"gthread-{index}",
                               cold_s=costs.worker_cold_cpu_s, holds=holds,
                               calls_per_s=calls_per_s(GTHREAD_POOL_CALLS, costs.worker_cpu_s),
                               views=True)
        self.asleep = True  # the main thread is in select()
        self.listener_ready = False
        self.readable: deque[Conn] = deque()  # kept-alive connections with a new request


class GthreadServer:
    """``workers`` gthread workers of ``threads`` threads behind one listening socket."""

    def __init__(
        self,
        env: simpy.Environment,
        cpu: Cpu,
        costs: Costs,
        *,
        client: Client,
        workers: int,
        threads: int,
        sleep_s: Callable[[], float],
        backlog: int = GUNICORN_BACKLOG,
        somaxconn: int = 4096,
    ) -> None:
        self.env = env
        self.costs = costs
        self.client = client
        self.sleep_s = sleep_s
        self.accept_queue = AcceptQueue(min(backlog, somaxconn) + 1)
        self.holds = Holds()  # every worker's pool threads, one pool for the bottleneck
        self.workers = [GthreadWorker(i, env, cpu, costs, threads, self.holds)
                        for i in range(workers)]
        self.wakes = 0

    # -- the kernel side ---------------------------------------------------------------------
    def syn(self, conn: Conn) -> bool:
        if not self.accept_queue.offer(conn):
            return False
        for worker in self.workers:
            worker.listener_ready = True
            self._wake(worker)
        return True

    def request_data(self, conn: Conn) -> None:
        conn.has_data = True
        if conn.reader_on:
            conn.reader_on = False
            worker = conn.worker
            worker.readable.append(conn)
            self._wake(worker)

    def client_closed(self, conn: Conn) -> None:
        """ab closed its end; the worker closed the socket already (no keep-alive)."""

    shift_safe = True

    def shift(self, dt: float) -> None:
        for worker in self.workers:
            worker.main.shift(dt)
            worker.pool.shift(dt)
            worker.gil.shift(dt)
        self.holds.shift(dt)

    def stats(self) -> ServerStats:
        return ServerStats(wakes=self.wakes)

    def meters(self) -> tuple[Meter, ...]:
        """Each process's GIL, and the W x T pool threads as one pool."""
        workers = self.workers
        units = sum(w.pool.max_threads for w in workers)
        gils = tuple(Meter(GIL, 1, lambda gil=w.gil: gil.busy_s) for w in workers)
        return (*gils, Meter(THREAD_POOL, units, lambda: self.holds.busy_s(self.env.now)))

    # -- each worker's main thread -----------------------------------------------------------
    def _wake(self, worker: GthreadWorker) -> None:
        if worker.asleep:
            worker.asleep = False
            self.wakes += 1
            call_later(self.env, self.costs.wakeup_s, self._select, worker)

    def _select(self, worker: GthreadWorker) -> None:
        """select() returned: serve one ready event, then select() again."""
        if worker.readable:
            conn = worker.readable.popleft()
            worker.gil.run_with(worker.main, self.costs.loop_callback_cpu_s,
                                self._enqueue_then_select, (worker, conn))
        elif worker.listener_ready:
            worker.listener_ready = False
            conn = self.accept_queue.take(worker.index)
            if conn is not None:
                conn.accepted = self.env.now
                conn.worker = worker
                worker.gil.run_with(worker.main, self.costs.gthread_accept_cpu_s, self._accepted,
                                    (worker, conn))
            else:  # another worker took it: accept() raised EAGAIN
                worker.gil.run_with(worker.main, self.costs.worker_herd_cpu_s, self._select,
                                    (worker,))
        else:
            worker.asleep = True

    def _accepted(self, worker: GthreadWorker, conn: Conn) -> None:
        if self.accept_queue.ready_for(worker.index):
            worker.listener_ready = True  # still readable: the next select() returns at once
        if conn.has_data:
            self._enqueue(worker, conn)
        else:
            conn.reader_on = True  # registered for reading; request_data wakes the main thread
        self._select(worker)

    def _enqueue_then_select(self, worker: GthreadWorker, conn: Conn) -> None:
        self._enqueue(worker, conn)
        self._select(worker)

    def _enqueue(self, worker: GthreadWorker, conn: Conn) -> None:
        conn.has_data = False
        costs = self.costs
        worker.pool.submit(
            costs.worker_request_cpu_s,
            costs.time_sleep_s(self.sleep_s()),
            costs.worker_response_cpu_s + costs.worker_close_cpu_s,
            self._responded,
            conn,
        )

    # -- in a pool thread --------------------------------------------------------------------
    def _responded(self, conn: Conn) -> None:
        conn.handler_start = conn.accepted  # the timeline shows the whole hold of a thread
        conn.handler_end = self.env.now
        conn.server_keepalive = self.client.keepalive
        self.client.response_data(conn)
        if conn.server_keepalive:
            conn.reader_on = True  # back to the main thread's select()
            if conn.has_data:
                self.request_data(conn)
        else:
            conn.fin_sent = self.env.now
            self.client.response_eof(conn)
