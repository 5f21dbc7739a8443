"""Skipping whole periods of a deterministic run that has become periodic.

With a deterministic sleep and no jitter the model settles, after ab's start, into a cycle:
every p finished requests the same slots finish with the same Connect, Total and Waiting times,
T seconds after the same requests of the previous cycle. Once the last three cycles agree in
the slots that finish, the gaps between finishes (to a nanosecond: no drift) and the times ab
records (to its microsecond), the state has repeated, and m more cycles would only repeat the
samples, shifted by T. `FastForward` then appends those m·p samples, adds them to ab's
counters (finished, and keep-alive as many as the cycles had), and moves the clock, the event
queue and every stored time m·T later; the run goes on from there and simulates ab's drain
exactly. It skips at most once, keeps two cycles of margin before ab stops opening connections,
and stays off when the server is not shift-invariant (a worker killed on the arbiter's
whole-second clock).
"""

from __future__ import annotations

import heapq
from array import array

import numpy as np
import simpy

from asim.sim.abclient import AbClient
from asim.sim.machine import Cpu

REPEATS = 3
FIRST_CHECK = 64
GAP_TOLERANCE_S = 1e-9


class FastForward:
    """Watches ab's finished requests and skips repeated cycles once (see module docstring)."""

    def __init__(self, env: simpy.Environment, cpu: Cpu, ab: AbClient, server) -> None:
        self.env = env
        self.cpu = cpu
        self.ab = ab
        self.server = server
        self.max_period = 2 * ab.concurrency + 2
        self.next_check = FIRST_CHECK
        self.skipped_requests = 0
        self.keepalive_log = array("q")  # ab's keep-alive count after each finished request
        ab.on_record = self._on_record

    def _on_record(self) -> None:
        ab = self.ab
        self.keepalive_log.append(ab.keepalive_requests)
        if ab.done < self.next_check:
            return
        # Check every few cycles' worth of requests: each check costs O(max_period^2).
        self.next_check = ab.done + max(FIRST_CHECK, (REPEATS + 1) * self.max_period)
        period = self._period()
        if period is not None:
            self._skip(*period)

    def _period(self) -> tuple[int, float] | None:
        ab = self.ab
        n = ab.done
        p_max = min(self.max_period, (n - 1) // REPEATS)
        if p_max < 1:
            return None
        window = REPEATS * p_max
        done = np.frombuffer(ab.done_log, dtype=np.float64)[-window - 1 :]
        gaps = np.diff(done)
        slots = np.frombuffer(ab.slot_log, dtype=np.int32)[-window:]
        stamps = np.stack(
            [
                np.frombuffer(ab.ctime_us, dtype=np.int64)[-window:],
                np.frombuffer(ab.time_us, dtype=np.int64)[-window:],
                np.frombuffer(ab.waittime_us, dtype=np.int64)[-window:],
            ],
            axis=1,
        )
        for p in range(1, p_max + 1):
            k = REPEATS * p
            if not np.array_equal(slots[-k + p :], slots[-k:-p]):
                continue
            # Gaps between finishes must repeat to a nanosecond (no drift); ab's integer
            # microseconds may differ by one where a stamp rounds the other way.
            if np.max(np.abs(gaps[-k + p :] - gaps[-k:-p])) > GAP_TOLERANCE_S:
                continue
            if np.max(np.abs(stamps[-k + p :] - stamps[-k:-p])) > 1:
                continue
            return p, float(done[-1] - done[-1 - p])
        return None

    def _skip(self, p: int, period_s: float) -> None:
        ab, server = self.ab, self.server
        if not server.shift_safe or period_s <= 0:
            self.next_check = float("inf")
            return
        m = (ab.requests - ab.started - 2 * p) // p
        self.next_check = float("inf")  # one skip per run
        if m <= 0:
            return
        for log in (ab.ctime_us, ab.time_us, ab.waittime_us, ab.slot_log):
            log.extend(log[-p:] * m)
        last = ab.done_log[-p:]
        for k in range(1, m + 1):
            ab.done_log.extend(t + k * period_s for t in last)
        skipped = m * p
        kept = self.keepalive_log
        ab.keepalive_requests += m * (kept[-1] - kept[-1 - p])
        ab.started += skipped
        ab.done += skipped
        self.skipped_requests = skipped
        dt = m * period_s
        env = self.env
        env._now += dt
        env._queue = [(t + dt, prio, eid, ev) for t, prio, eid, ev in env._queue]
        heapq.heapify(env._queue)
        ab.shift(dt)
        server.shift(dt)
        self.cpu.shift(dt)
