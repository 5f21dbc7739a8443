"""ApacheBench 2.3 (httpd 2.4 support/ab.c) as a simulated single-threaded client.

The schedule follows ab's source, not a closed-loop idealisation:
- `test()` takes ``start`` and opens only connection 0; the other C - 1 connections are opened in
  one burst, inline, when the first response's headers have been parsed (`read_connection`).
- `start_connect` does nothing once ``started`` (requests written) has reached N; `write_request`
  likewise, so ab never writes more than N requests.
- Without keep-alive a request ends at EOF (`close_connection`), which records the sample, closes
  the socket and opens the slot's next connection inline. With keep-alive a response that carried
  "Keep-Alive" ends when Content-Length bytes are read and the next request is written inline on
  the same socket (connect time 0).
- ab's poll loop is modelled as a FIFO of socket events; each event costs ab CPU on the machine.
- A SYN dropped by a full accept queue is retransmitted after 1, 2, 4, ... s (Linux's initial RTO
  of 1 s, doubling), so the Connect column shows ~1000, 3000, 7000 ms.
"""

from __future__ import annotations

from array import array
from collections import deque
from collections.abc import Callable

import numpy as np
import simpy

from asim.errors import PredictedAbortError
from asim.sim.conn import Conn, RequestRecord
from asim.sim.costs import Costs
from asim.sim.machine import Cpu, Thread, call_later
from asim.sim.server import ServerModel

SYN_RETRY_S: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0)
POLL_TIMEOUT_S = 30.0  # ab -s default: apr_pollset_poll gives up after 30 s of silence

_CONNECT, _WRITE, _READ, _EOF = range(4)


class AbClient:
    """ab with ``-n requests -c concurrency`` (and ``-k`` when ``keepalive``)."""

    def __init__(
        self,
        env: simpy.Environment,
        cpu: Cpu,
        costs: Costs,
        *,
        requests: int,
        concurrency: int,
        keepalive: bool,
        on_finished: Callable[[], None],
        keep_records: bool = True,
        timeout_s: float = POLL_TIMEOUT_S,
    ) -> None:
        self.env = env
        self.cpu = cpu
        self.costs = costs
        self.requests = requests
        self.concurrency = concurrency
        self.keepalive = keepalive
        self.on_finished = on_finished
        self.thread = Thread("ab", cold_s=costs.ab_cold_cpu_s, tau_s=costs.cold_tau_s,
                             onset_s=costs.cold_onset_s)
        self.server: ServerModel | None = None  # the server `begin` runs against
        self.started = 0
        self.done = 0
        self.keep_records = keep_records
        self.timeout_s = timeout_s
        self.non_2xx = 0
        self.length_failures = 0
        self._first_ok: bool | None = None  # ab compares every body with the first one's length
        self.records: list[RequestRecord] = []
        # ab's stats[] array: integer microseconds, one entry per finished request, except
        # that rows counted again by `count_again` stand for their copies too.
        self.ctime_us = array("q")
        self.time_us = array("q")
        self.waittime_us = array("q")
        self.copies: list[tuple[int, int, int]] = []  # (first row, end, extra times)
        self.keepalive_requests = 0
        self.initialized = False
        self._queue: deque[tuple[int, object]] = deque()
        self._busy = False
        self.wakes = 0
        self._last_event = 0.0
        self.last_activity = 0.0
        self.live: set[Conn] = set()  # connections ab has open
        self.on_record: Callable[[], None] | None = None  # fast-forward's hook
        self.slot_log = array("i")
        self.done_log = array("d")

    # -- socket events arriving at ab's poll loop ------------------------------------------
    def post(self, kind: int, item: object) -> None:
        now = self.env._now
        if now - self._last_event > self.timeout_s:
            raise PredictedAbortError(
                f"ab would abort: no socket event for {now - self._last_event:.1f} s "
                f"(apr_pollset_poll timeout, ab -s {self.timeout_s:g})"
            )
        self._last_event = now
        self._queue.append((kind, item))
        if not self._busy:
            self._wake()

    def _wake(self) -> None:
        """ab sleeps in apr_pollset_poll; an event wakes it after the scheduler's wake-up, and
        the poll call's own CPU is paid once per wake-up, however many events it returns."""
        self._busy = True
        self.wakes += 1
        call_later(self.env, self.costs.wakeup_s, self._polled)

    def _polled(self) -> None:
        self.cpu.run_with(self.thread, self.costs.ab_poll_cpu_s, self._next, ())

    def response_data(self, conn: Conn) -> None:
        """The server wrote the response: POLLIN on the connection."""
        self.post(_READ, conn)

    def response_eof(self, conn: Conn) -> None:
        """The server closed (FIN): the next read returns 0."""
        self.post(_EOF, conn)

    def begin(self, server: ServerModel) -> None:
        """`test()` against ``server``: start = now, open connection 0 only."""
        self.server = server
        self._queue.append((_CONNECT, 0))
        self._next()

    # -- the poll loop ------------------------------------------------------------------------
    def _next(self) -> None:
        queue = self._queue
        while queue:
            kind, item = queue.popleft()
            if kind == _CONNECT:
                if self.started >= self.requests:
                    continue  # start_connect returns at once
                conn = Conn(item, self.env._now)
                # Connection 0, the burst of C - 1 opened at its response, and connection 0's
                # successor, opened right after that burst: ab's first burst of connections.
                conn.first_burst = self.done <= 1
                self.live.add(conn)
                self._busy = True
                self.cpu.run_with(self.thread, self.costs.ab_connect_cpu_s, self._connected,
                                  (conn,))
                return
            conn = item
            if kind == _WRITE:
                if self.started >= self.requests:
                    continue  # write_request returns; the socket stays idle
                conn.connect = self.env._now
                self._busy = True
                self.cpu.run_with(self.thread, self.costs.ab_write_cpu_s, self._written, (conn,))
                return
            if kind == _READ:
                conn.beginread = self.env._now
                self._busy = True
                self.cpu.run_with(self.thread, self.costs.ab_read_cpu_s, self._read, (conn,))
                return
            # _EOF: close_connection stamps done first, then closes and reconnects.
            self._busy = True
            conn.done = self.env._now
            self.cpu.run_with(self.thread, self.costs.ab_close_cpu_s, self._closed, (conn,))
            return
        self._busy = False

    def _connected(self, conn: Conn) -> None:
        self._syn(conn)
        self._next()

    def count_again(self, rows: int, times: int) -> None:
        """Count the last ``rows`` stored samples ``times`` more times in ab's statistics.

        A skip ahead (`asim.sim.fastforward`) adds copies of a steady state this way instead of
        storing them: ab's statistics do not depend on the order of the samples
        (`asim.sim.abreport`), so a long run's memory stops growing once it skips.
        """
        if rows > 0 and times > 0:
            end = len(self.time_us)
            self.copies.append((end - rows, end, times))

    def weights(self) -> np.ndarray | None:
        """How many times each stored sample counts, or None when each counts once."""
        if not self.copies:
            return None
        weights = np.ones(len(self.time_us), dtype=np.int64)
        for first, end, times in self.copies:
            weights[first:end] += times
        return weights

    def shift(self, dt: float) -> None:
        """Move every absolute time ab holds ``dt`` seconds later (see `asim.sim.fastforward`)."""
        self._last_event += dt
        self.last_activity += dt
        self.thread.shift(dt)
        for conn in self.live:
            conn.shift(dt)

    def _syn(self, conn: Conn) -> None:
        if self.server.syn(conn):
            self._queue.append((_WRITE, conn))  # POLLOUT: handshake done
            return
        if conn.syn_tries >= len(SYN_RETRY_S):
            raise PredictedAbortError(
                "ab would abort: connect() timed out after all SYN retransmissions "
                "(the server's accept queue stayed full)"
            )
        delay = SYN_RETRY_S[conn.syn_tries]
        conn.syn_tries += 1
        call_later(self.env, delay, self._syn_retry, conn)

    def _syn_retry(self, conn: Conn) -> None:
        if self.env._now - self._last_event > self.timeout_s:
            self.post(_CONNECT, None)  # raises: ab's poll timed out first
        self._syn(conn)
        if not self._busy and self._queue:
            self._wake()

    def _written(self, conn: Conn) -> None:
        conn.endwrite = self.env._now
        self.started += 1
        self.last_activity = conn.endwrite
        self.server.request_data(conn)
        self._next()

    def _read(self, conn: Conn) -> None:
        now = self.env._now
        self.last_activity = now
        if not self.initialized:
            # Headers of the first response: open connections 1..C-1 inline, before anything else.
            self.initialized = True
            self._queue.extendleft((_CONNECT, i) for i in range(self.concurrency - 1, 0, -1))
        if self.keepalive and conn.server_keepalive:
            self.keepalive_requests += 1
            self._record(conn, now)
            if self.done >= self.requests:
                return
            # Read the clock again: recording may have fast-forwarded it (asim.sim.fastforward).
            conn.start = conn.connect = self.env._now
            conn.endwrite = conn.beginread = -1.0
            self._queue.appendleft((_WRITE, conn))
        self._next()

    def _closed(self, conn: Conn) -> None:
        self.live.discard(conn)
        self._record(conn, conn.done)
        conn.client_closed = True
        self.server.client_closed(conn)
        if self.done >= self.requests:
            return
        self._queue.appendleft((_CONNECT, conn.slot))
        self._next()

    def _record(self, conn: Conn, done_at: float) -> None:
        if self.keep_records:
            self.records.append(RequestRecord(conn, done_at))
        if not conn.status_ok:
            self.non_2xx += 1
        if self._first_ok is None:
            self._first_ok = conn.status_ok
        elif conn.status_ok != self._first_ok:
            self.length_failures += 1  # a 500 page is not "Hello, Anonymous"
        start = round(conn.start * 1e6)
        self.ctime_us.append(max(0, round(conn.connect * 1e6) - start))
        self.time_us.append(max(0, round(done_at * 1e6) - start))
        self.waittime_us.append(max(0, round(conn.beginread * 1e6) - round(conn.endwrite * 1e6)))
        self.done += 1
        self.last_activity = done_at
        if self.on_record is not None:
            self.slot_log.append(conn.slot)
            self.done_log.append(done_at)
            self.on_record()
        if self.done >= self.requests:
            self._busy = True  # ab leaves its loop; nothing more is processed
            self.on_finished()
