"""aiohttp on one asyncio event loop (Python 3.11 selector loop), callback by callback.

asyncio's `BaseEventLoop._run_once` decides the numbers once the loop is busy:
1. select() with timeout 0 if callbacks are ready, else until the next timer, rounded *up* to a
   whole millisecond by the epoll selector (this is the ~0.5 ms overshoot of asyncio.sleep);
2. callbacks of ready file descriptors, then due timers, are appended to the ready queue;
3. exactly the callbacks present now are run, in FIFO order; anything they `call_soon` waits for
   the next iteration.

One request walks through these callbacks (aiohttp 3.14 on Python 3.11, where tasks start lazily):
  accept (listener readable; up to ``backlog`` accepts per call) -> _accept_connection2 task step
  (transport built) -> connection_made (RequestHandler.start() task created) + reader added ->
  start() first step waits; _read_ready parses the request and wakes it -> start() creates the
  handler task -> handler runs until ``await asyncio.sleep(S)`` (a timer) or blocks in
  ``time.sleep(S)`` -> response written -> start() resumes and calls transport.close(), which
  defers the real close with call_soon -> _call_connection_lost closes the socket (FIN).
With a blocking handler every request whose handler step lands in one iteration runs back to back,
and their FINs go out only in a later iteration: that is what stretches Total for the blocked loop.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import simpy

from asim.sim.conn import AcceptQueue, Conn
from asim.sim.costs import Costs
from asim.sim.machine import Cpu, Thread, call_later
from asim.sim.server import Client, ServerStats
from asim.sim.threads import Gil, ThreadPool
from asim.sim.usage import EVENT_LOOP, GIL, THREAD_POOL, Meter

AIOHTTP_BACKLOG = 128


@dataclass(frozen=True, kw_only=True)
class LoopApp:
    """What the handler does besides its CPU, for the shapes built on one event loop.

    ``blocking_s``: time.sleep on the loop thread before the await (a small blocking slice);
    ``sleep_in_pool``: the sleep runs in the loop's thread pool (run_in_executor, or a sync view
    under sync_to_async) instead of as a timer, each item costing its thread ``item_cpu_s``;
    ``keeps_http10``: whether the server keeps an HTTP/1.0 connection that asks for keep-alive.
    ab -k sends HTTP/1.0 with "Connection: Keep-Alive"; aiohttp keeps it, uvicorn's h11 closes
    every HTTP/1.0 connection after its response (measured: ab -k against uvicorn prints
    "Keep-Alive requests: 0", docs/notes/measurements.md section 16).

    Django's ASGI path under uvicorn (docs/notes/measurements.md section 31.5): ``trips_before``,
    ``trips_to_response`` and ``trips_after`` are its sync_to_async round trips through the
    request's own thread before the view, between the view and the response, and after the
    response is sent; each is ``trip_cpu_s`` of that thread's CPU and the loop's taking the result
    back, run as one callback of the loop without a wake-up on either side (the trace's trips
    last the loop's and the thread's CPU to within 5-10 us).
    ``framework_cpu_s`` is Django's CPU on the loop, split by ``framework_shares``: before the
    first trip, over the trips (each trip's share half before it, half after it), and after the
    last. ``view_item_cpu_s`` and ``view_handoff_cpu_s``: what the sync view's own trip through
    the pool costs its thread and the loop (a pool item with its wake-ups, holding the thread for
    the sleep), where it differs from ``item_cpu_s`` and the loop's hand-off (None: the same).
    """

    blocking_s: float = 0.0
    sleep_in_pool: bool = False
    framework_cpu_s: float = 0.0
    framework_shares: tuple[float, float, float] = (1.0, 0.0, 0.0)
    item_cpu_s: float = 0.0
    trip_cpu_s: float = 0.0
    view_item_cpu_s: float | None = None
    view_handoff_cpu_s: float | None = None
    trips_before: int = 0
    trips_to_response: int = 0
    trips_after: int = 0
    keeps_http10: bool = True

    def __post_init__(self) -> None:
        if min(self.framework_shares) < 0 or abs(sum(self.framework_shares) - 1) > 1e-9:
            raise ValueError(f"framework_shares must be three non-negative shares adding up to "
                             f"1, got {self.framework_shares}")
        trips = self.trips_before + self.trips_to_response + self.trips_after
        if min(self.trips_before, self.trips_to_response, self.trips_after) < 0:
            raise ValueError("trips_before, trips_to_response and trips_after must be >= 0")
        if self.framework_shares[1] > 0 and trips == 0:
            raise ValueError("framework_shares gives the trips a share but there are none")
        if self.framework_shares[2] > 0 and self.trips_after == 0:
            raise ValueError("framework_shares gives a share after the last trip but "
                             "trips_after is 0")

    @property
    def trips(self) -> int:
        """Django's round trips per request (the sync view's own not counted)."""
        return self.trips_before + self.trips_to_response + self.trips_after


PLAIN = LoopApp()

# Share of the per-request parse/dispatch CPU spent in each of the three steps before the sleep.
_PARSE_SHARE, _DISPATCH_SHARE, _HANDLER_SHARE = 0.5, 0.25, 0.25


class EventLoopServer:
    """An aiohttp server on one event loop thread; ``blocking`` makes the handler time.sleep."""

    def __init__(
        self,
        env: simpy.Environment,
        cpu: Cpu,
        costs: Costs,
        *,
        client: Client,
        sleep_s: Callable[[], float],
        blocking: bool,
        backlog: int = AIOHTTP_BACKLOG,
        app: LoopApp = PLAIN,
        pool: ThreadPool | None = None,
        gil: Gil | None = None,
        accept_queue: AcceptQueue | None = None,
        index: int = 0,
        calls_per_s: float = 0.0,
        trip_calls_per_s: float = 0.0,
    ) -> None:
        self.env = env
        self.cpu = cpu
        self.costs = costs
        self.sleep_s = sleep_s
        self.blocking = blocking
        # calls_per_s: the loop thread's blocking calls, where it lets go of the GIL when there
        # are threads beside it (`asim.sim.threads`); trip_calls_per_s: the round trips' thread's.
        self.thread = Thread("event loop", cold_s=costs.loop_cold_cpu_s, tau_s=costs.cold_tau_s,
                             onset_s=costs.cold_onset_s, calls_per_s=calls_per_s)
        self.backlog = backlog
        self.client = client
        # Linux holds backlog + 1 connections; a group of loops shares one listening socket.
        self.accept_queue = AcceptQueue(backlog + 1) if accept_queue is None else accept_queue
        self._grouped = accept_queue is not None
        self.app = app
        self.pool = pool
        self.gil = gil
        self.index = index
        self.blocked_s = 0.0  # time.sleep on the loop thread: held, without CPU
        # With threads beside the loop, every burst of the process takes the GIL first.
        self._run = cpu.run if gil is None else gil.run
        self._run_with = cpu.run_with if gil is None else gil.run_with
        self._callback_s = costs.loop_callback_cpu_s
        self._view_item_s = app.item_cpu_s if app.view_item_cpu_s is None else app.view_item_cpu_s
        self._view_handoff_s = (costs.loop_handoff_cpu_s if app.view_handoff_cpu_s is None
                                else app.view_handoff_cpu_s)
        # Django's loop CPU: before the first trip, half a trip's share on each side of a trip,
        # and after the last.
        before, over_trips, after = (share * app.framework_cpu_s for share in app.framework_shares)
        self._before_s, self._after_s = before, after
        self._half_s = over_trips / app.trips / 2 if app.trips else 0.0
        # The requests' own threads as far as their round trips' CPU goes: one request's trips
        # follow each other, and a thread that idled (a sleep between two trips) starts cold.
        self._trip_thread = Thread("round trips", cold_s=0.0 if pool is None else pool.cold_s,
                                   tau_s=costs.cold_tau_s, onset_s=costs.cold_onset_s,
                                   calls_per_s=trip_calls_per_s)
        self._next_step, self._then_step = self._run_next, self._then  # bound once (hot path)
        self._ready: deque[tuple[Callable, object]] = deque()
        self._io: deque[Conn] = deque()  # connections whose reader fired since the last select
        self._timers: list[tuple[float, int, Callable, object]] = []
        self._seq = 0
        self._asleep = True  # in select() with no deadline pending
        self._wake_token = 0
        self._todo = 0
        self.iterations = 0
        self.batches: list[int] = []  # handler steps per iteration (blocking loop), for traces

    # -- the kernel side ---------------------------------------------------------------------
    def syn(self, conn: Conn) -> bool:
        if not self.accept_queue.offer(conn):
            return False
        self._poke()
        return True

    def request_data(self, conn: Conn) -> None:
        conn.has_data = True
        if conn.reader_on:
            self._io.append(conn)
            self._poke()

    def client_closed(self, conn: Conn) -> None:
        """ab closed its end; aiohttp has already closed the socket (no keep-alive)."""

    def shift(self, dt: float) -> None:
        """Move every absolute time the loop holds ``dt`` seconds later."""
        self._timers = [(when + dt, seq, fn, arg) for when, seq, fn, arg in self._timers]
        self.thread.shift(dt)
        self._trip_thread.shift(dt)
        if self.pool is not None:
            self.pool.shift(dt)
            self.pool.holds.shift(dt)
        if self.gil is not None:
            self.gil.shift(dt)

    shift_safe = True  # nothing in the loop depends on absolute time

    def stats(self) -> ServerStats:
        return ServerStats(batches=tuple(self.batches), iterations=self.iterations)

    def meters(self) -> tuple[Meter, ...]:
        """The loop's thread (its CPU and its blocking sleeps), and with threads beside it the
        process's GIL and its pool."""
        thread = self.thread
        out = [Meter(EVENT_LOOP, 1, lambda: thread.busy_s + self.blocked_s)]
        if self.gil is not None:
            out.append(Meter(GIL, 1, lambda: self.gil.busy_s))
        if self.pool is not None:
            pool = self.pool
            out.append(Meter(THREAD_POOL, pool.max_threads, pool.held_s))
        return tuple(out)

    # -- the loop ------------------------------------------------------------------------------
    def _call_soon(self, fn: Callable, arg: object) -> None:
        self._ready.append((fn, arg))

    def _call_later(self, delay: float, fn: Callable, arg: object) -> None:
        self._seq += 1
        heapq.heappush(self._timers, (self.env._now + delay, self._seq, fn, arg))

    def _poke(self) -> None:
        """A file descriptor became ready: a loop asleep in select() wakes up and polls."""
        if self._asleep:
            self._asleep = False
            self._wake_token += 1
            call_later(self.env, self.costs.wakeup_s, self._poll)

    def _iterate(self) -> None:
        if self._ready or self._io or self.accept_queue.ready_for(self.index):
            self._poll()
            return
        if self._timers:
            wait = self._timers[0][0] - self.env._now
            if wait <= 1e-9:
                self._poll()  # a timer is due: select() with timeout 0
                return
            self._asleep = True
            self._wake_token += 1
            # The epoll selector rounds the timeout up to whole milliseconds.
            wait = math.ceil(round(wait * 1e3, 6)) * 1e-3
            wake_s = wait + self.costs.timer_overshoot_s
            call_later(self.env, wake_s, self._timeout, self._wake_token)
        else:
            self._asleep = True
            self._wake_token += 1

    def _timeout(self, token: int) -> None:
        if token == self._wake_token and self._asleep:
            self._asleep = False
            self._poll()

    def _poll(self) -> None:
        self.iterations += 1
        if self.accept_queue.ready_for(self.index):
            self._ready.append((self._accept, None))
        while self._io:
            conn = self._io.popleft()
            self._ready.append((self._read_ready, conn))
        now = self.env._now
        timers = self._timers
        while timers and timers[0][0] <= now + 1e-9:
            _, _, fn, arg = heapq.heappop(timers)
            self._ready.append((fn, arg))
        self._todo = len(self._ready)
        self._handler_steps = 0
        self._run_with(self.thread, self.costs.loop_iteration_cpu_s, self._run_next, ())

    def _run_next(self) -> None:
        if self._todo == 0:
            if self.blocking and self._handler_steps:
                self.batches.append(self._handler_steps)
            self._iterate()
            return
        self._todo -= 1
        fn, arg = self._ready.popleft()
        fn(arg)

    def _step(self, cpu_s: float, then: Callable | None = None, arg: object = None) -> None:
        """Finish the current callback after ``cpu_s`` of CPU (plus the per-callback cost)."""
        if then is None:
            self._run_with(self.thread, self._callback_s + cpu_s, self._next_step, ())
        else:
            self._run_with(self.thread, self._callback_s + cpu_s, self._then_step, (then, arg))

    def _then(self, then: Callable, arg: object) -> None:
        then(arg)
        self._run_next()

    # -- one request's callbacks -------------------------------------------------------------
    def _accept(self, _arg: object) -> None:
        taken, queue = 0, self.accept_queue
        while taken < self.backlog:
            conn = queue.take(self.index)
            if conn is None:
                break
            conn.accepted = self.env._now
            if self._grouped:
                conn.worker = self  # later events of the connection come to this loop
            self._call_soon(self._made, conn)
            taken += 1
        self._step(taken * self.costs.loop_accept_cpu_s)

    def _made(self, conn: Conn) -> None:
        # _accept_connection2 builds the transport; connection_made and _add_reader follow.
        self._call_soon(self._connection_made, conn)
        self._step(0.0)

    def _connection_made(self, conn: Conn) -> None:
        conn.reader_on = True
        conn.waiting = False
        self._call_soon(self._start_first, conn)
        if conn.has_data:
            self._io.append(conn)
        self._step(0.0)

    def _start_first(self, conn: Conn) -> None:
        conn.waiting = True  # start(): no message yet, await the waiter
        self._step(0.0)

    def _read_ready(self, conn: Conn) -> None:
        conn.has_data = False
        if conn.waiting:
            conn.waiting = False
            self._call_soon(self._dispatch, conn)
        else:
            conn.queued = True  # parsed into _messages; start() takes it when it loops
        self._step(_PARSE_SHARE * self.costs.loop_request_cpu_s)

    def _dispatch(self, conn: Conn) -> None:
        self._call_soon(self._handler, conn)  # start() creates the handler task
        self._step(_DISPATCH_SHARE * self.costs.loop_request_cpu_s)

    def _handler(self, conn: Conn) -> None:
        conn.handler_start = self.env._now
        cpu_s = _HANDLER_SHARE * self.costs.loop_request_cpu_s
        app = self.app
        if self.blocking:
            self._handler_steps += 1
            self._run(self.thread, self.costs.loop_callback_cpu_s + cpu_s, self._block, conn)
        elif app is PLAIN:
            self._step(cpu_s, self._start_timer, conn)
        elif app.blocking_s > 0:
            self._run(self.thread, self.costs.loop_callback_cpu_s + cpu_s + app.framework_cpu_s,
                      self._block_slice, conn)
        elif app.trips_before:
            self._step(cpu_s + self._before_s + self._half_s, self._trip,
                       (conn, app.trips_before, self._view, self._half_s))
        else:
            self._step(cpu_s + self._before_s, self._view, conn)

    def _block_slice(self, conn: Conn) -> None:
        # time.sleep(B) holds the loop thread, then the handler goes on to its await.
        hold_s = self.costs.time_sleep_s(self.app.blocking_s)
        self.blocked_s += hold_s
        call_later(self.env, hold_s, self._after_slice, conn)

    def _after_slice(self, conn: Conn) -> None:
        self._view(conn)
        self._run_next()

    def _view(self, conn: Conn) -> None:
        if self.app.sleep_in_pool:
            item_s = self._view_item_s
            self.pool.submit(item_s / 2, self.costs.time_sleep_s(self.sleep_s()), item_s / 2,
                             self._threadsafe, self._set_state, conn)
        else:
            self._start_timer(conn)

    def _trip(self, args: tuple[Conn, int, Callable | None, float]) -> None:
        """One sync_to_async round trip, as one callback of the loop: the request's thread's
        burst and the loop's taking the result back (``args``: the connection, the trips left
        in this run of them, what follows the last, and the loop's CPU of the last one's
        return)."""
        # The thread and the loop share the GIL, so the two bursts never overlap, and the
        # trip has no wake-up on either side (measurements 31.5): one burst, run when the
        # loop's ready queue reaches it, like the call_soon_threadsafe that ends a real trip.
        self._ready.append((self._trip_run, args))

    def _trip_run(self, args: tuple[Conn, int, Callable | None, float]) -> None:
        conn, left, then, last_s = args
        cpu_s = self._callback_s + self.app.trip_cpu_s
        if left > 1:
            self._run_with(self._trip_thread, cpu_s + 2 * self._half_s, self._then_step,
                           (self._trip, (conn, left - 1, then, last_s)))
        elif then is None:
            self._run_with(self._trip_thread, cpu_s + last_s, self._next_step, ())
        else:
            self._run_with(self._trip_thread, cpu_s + last_s, self._then_step, (then, conn))

    def _threadsafe(self, fn: Callable, arg: object) -> None:
        """loop.call_soon_threadsafe from a pool thread: the callback joins the ready queue and
        the self-pipe wakes a loop asleep in select()."""
        self._ready.append((fn, arg))
        self._poke()

    def _set_state(self, conn: Conn) -> None:
        # The executor's future is done: its asyncio future is set, the handler task wakes.
        self._call_soon(self._resume, conn)
        self._step(self._view_handoff_s)

    def _start_timer(self, conn: Conn) -> None:
        delay = self.sleep_s()
        if delay > 0:
            self._call_later(delay, self._resume, conn)
        else:
            self._call_soon(self._resume, conn)  # asyncio.sleep(0) only yields once

    def _block(self, conn: Conn) -> None:
        # time.sleep holds the thread without using the CPU.
        hold_s = self.costs.time_sleep_s(self.sleep_s())
        self.blocked_s += hold_s
        call_later(self.env, hold_s, self._respond, conn)

    def _respond(self, conn: Conn) -> None:
        self._run_with(self.thread, self.costs.loop_response_cpu_s, self._responded, (conn,))

    def _responded(self, conn: Conn) -> None:
        self._write_response(conn)
        self._run_next()

    def _resume(self, conn: Conn) -> None:
        app = self.app
        if app.trips_to_response:
            last_s = self._half_s * (2 if app.trips_after else 1)
            self._step(self.costs.loop_response_cpu_s + self._half_s, self._trip,
                       (conn, app.trips_to_response, self._write_response, last_s))
        else:
            self._step(self.costs.loop_response_cpu_s
                       + (self._half_s if app.trips_after else 0.0), self._write_response, conn)

    def _write_response(self, conn: Conn) -> None:
        conn.handler_end = self.env._now
        conn.server_keepalive = self.client.keepalive and self.app.keeps_http10
        self.client.response_data(conn)
        self._call_soon(self._after_handler, conn)
        if self.app.trips_after:
            self._trip((conn, self.app.trips_after, None, self._half_s + self._after_s))

    def _after_handler(self, conn: Conn) -> None:
        if conn.server_keepalive:
            if conn.queued:
                # The next request arrived during this one: start() creates its handler task
                # without waiting.
                conn.queued = False
                self._call_soon(self._handler, conn)
                self._step(_DISPATCH_SHARE * self.costs.loop_request_cpu_s)
                return
            conn.waiting = True  # keep-alive: start() awaits the next request
        else:
            conn.reader_on = False
            self._call_soon(self._connection_lost, conn)  # transport.close() defers the close
        self._step(0.0)

    def _connection_lost(self, conn: Conn) -> None:
        self._step(self.costs.loop_close_cpu_s, self._fin, conn)

    def _fin(self, conn: Conn) -> None:
        conn.fin_sent = self.env._now
        self.client.response_eof(conn)


class LoopGroup:
    """W event-loop processes behind one listening socket (uvicorn ``--workers W``).

    A connection makes the listener readable in every loop, so each loop asleep in select()
    wakes; the first to run its accept callback takes every queued connection (up to its
    backlog), the others find none. A connection stays with the loop that accepted it.
    """

    def __init__(self, loops: list[EventLoopServer]) -> None:
        self.loops = loops
        self.accept_queue = loops[0].accept_queue

    def syn(self, conn: Conn) -> bool:
        if not self.accept_queue.offer(conn):
            return False
        for loop in self.loops:
            loop._poke()
        return True

    def request_data(self, conn: Conn) -> None:
        if conn.worker is None:
            conn.has_data = True  # not accepted yet: the accepting loop finds the data there
        else:
            conn.worker.request_data(conn)

    def client_closed(self, conn: Conn) -> None:
        """Nothing: each loop has closed its connections already (no keep-alive)."""

    shift_safe = True

    def shift(self, dt: float) -> None:
        for loop in self.loops:
            loop.shift(dt)

    def meters(self) -> tuple[Meter, ...]:
        return tuple(m for loop in self.loops for m in loop.meters())

    def stats(self) -> ServerStats:
        return ServerStats(
            batches=tuple(b for loop in self.loops for b in loop.batches),
            iterations=sum(loop.iterations for loop in self.loops),
        )
