"""The machine: a SimPy clock, delayed calls, and K CPU cores shared by processor sharing.

Every actor of the model (ab, the event loop, each gunicorn worker) is one thread that runs one
CPU burst at a time. While n threads are on the CPU each progresses at rate min(1, K / n), which
is how Linux's fair scheduler shares K cores among n runnable threads to a good approximation.

Actors are written as callbacks on SimPy events rather than as SimPy processes: a request passes
through a dozen steps, and a callback costs a fraction of a generator switch.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from typing import Any

import simpy
from simpy.events import NORMAL, Event


class _Call(Event):
    """A SimPy event that calls ``fn(*args)`` when it is processed."""

    def __init__(self, env: simpy.Environment, delay: float, fn: Callable, args: tuple) -> None:
        self.env = env
        self.callbacks = [self._fire]
        self._value = None
        self._ok = True
        self._fn = fn
        self._args = args
        env.schedule(self, NORMAL, delay)

    def _fire(self, _event: Event) -> None:
        self._fn(*self._args)


def call_later(env: simpy.Environment, delay: float, fn: Callable, *args: Any) -> None:
    """Call ``fn(*args)`` after ``delay`` simulated seconds."""
    _Call(env, delay, fn, args)


class Thread:
    """One thread of execution (ab, the event loop, a worker): at most one CPU burst at a time.

    A thread that was off the CPU for a while runs its next burst slower: its caches, TLB and
    branch predictors were taken over by others and the core may have left its fast state. On
    this project's machines the per-request CPU of every process triples between back-to-back
    requests and requests 20-100 ms apart (docs/notes/measurements.md). The model adds
    ``cold_s * (1 - exp(-gap / tau_s))`` of CPU to the first burst after an off-CPU gap.
    """

    __slots__ = ("name", "cold_s", "tau_s", "idle_since")

    def __init__(self, name: str, *, cold_s: float = 0.0, tau_s: float = 0.01) -> None:
        self.name = name
        self.cold_s = cold_s
        self.tau_s = tau_s
        self.idle_since = -1.0  # never ran: no penalty for the very first burst

    def shift(self, dt: float) -> None:
        if self.idle_since >= 0:
            self.idle_since += dt

    def penalty_s(self, now: float) -> float:
        if self.cold_s <= 0 or self.idle_since < 0:
            return 0.0
        gap = now - self.idle_since
        return self.cold_s * -math.expm1(-gap / self.tau_s) if gap > 0 else 0.0


class Cpu:
    """K cores shared by processor sharing among the CPU bursts in progress.

    `run` starts one burst for a thread; the caller guarantees that a thread has at most one
    burst in progress (a thread is sequential).

    Processor sharing is kept in virtual time: ``v`` is the work every burst in progress has
    received so far, growing at the shared rate min(1, K / n). A burst of w seconds started at
    virtual time v finishes at v + w, so a heap of finish tags gives the next completion, and a
    start or a finish only moves one scheduled event however many bursts share the cores.
    With more bursts than cores a share ``switch_loss`` of the machine goes to switching between
    them.
    """

    def __init__(self, env: simpy.Environment, cores: int, *, switch_loss: float = 0.0) -> None:
        if cores < 1:
            raise ValueError(f"cores must be >= 1, got {cores}")
        if not 0 <= switch_loss < 1:
            raise ValueError(f"switch_loss must be in [0, 1), got {switch_loss}")
        self.env = env
        self.cores = cores
        self._oversubscribed = 1.0 - switch_loss
        self._heap: list[tuple[float, int, Thread, Callable, tuple]] = []
        self._v = 0.0  # virtual time: work served to each burst in progress
        self._t = 0.0  # real time at which _v was last brought up to date
        self._seq = 0
        self._token = 0
        self._next_v = math.inf  # finish tag the scheduled completion event is for
        self._firing = False

    def shift(self, dt: float) -> None:
        self._t += dt

    @property
    def rate(self) -> float:
        """Speed of each burst now: 1 while bursts <= cores, beyond that cores / bursts less the
        share lost to time-slicing (context switches and caches refilled after each)."""
        return self._rate(len(self._heap))

    def _rate(self, n: int) -> float:
        return 1.0 if n <= self.cores else self.cores / n * self._oversubscribed

    def _sync(self, now: float) -> None:
        n = len(self._heap)
        if n:
            dt = now - self._t
            self._v += dt if n <= self.cores else dt * self.cores / n * self._oversubscribed
        self._t = now

    # run, _schedule and _fire are the simulator's hot path: plain locals, no properties.
    def run(self, thread: Thread, cpu_s: float, fn: Callable, *args: Any) -> None:
        """Run ``thread`` for ``cpu_s`` seconds of one core (plus its cold penalty), then call
        ``fn(*args)``."""
        now = self.env._now
        heap = self._heap
        n = len(heap)
        self._sync(now)
        if thread.cold_s > 0:
            cpu_s += thread.penalty_s(now)
        self._seq += 1
        finish = self._v + cpu_s
        heapq.heappush(heap, (finish, self._seq, thread, fn, args))
        if self._firing:
            return  # _fire schedules once it has run every callback of this instant
        if n >= self.cores or finish < self._next_v:  # the rate changed, or this ends first
            self._schedule()

    def _schedule(self) -> None:
        self._token += 1
        heap = self._heap
        if not heap:
            self._next_v = math.inf
            return
        finish = heap[0][0]
        self._next_v = finish
        wait = finish - self._v
        _Call(
            self.env,
            wait / self._rate(len(heap)) if wait > 0 else 0.0,
            self._fire,
            (self._token,),
        )

    def _fire(self, token: int) -> None:
        if token != self._token:
            return  # superseded: a start or a finish moved the next completion
        now = self.env._now
        self._sync(now)
        heap = self._heap
        limit = self._seq  # bursts started by these callbacks finish in a later event
        due = self._v + 1e-12
        pop = heapq.heappop
        self._firing = True
        try:
            while heap and heap[0][0] <= due and heap[0][1] <= limit:
                _, _, thread, fn, args = pop(heap)
                thread.idle_since = now
                fn(*args)
        finally:
            self._firing = False
        self._schedule()
