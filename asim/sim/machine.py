"""The machine: a SimPy clock, delayed calls, and K CPU cores shared by processor sharing.

Every actor of the model (ab, the event loop, each gunicorn worker) is one thread that runs one
CPU burst at a time. While n threads are on the CPU each progresses at rate min(1, K / n), which
is how Linux's fair scheduler shares K cores among n runnable threads to a good approximation.

Actors are written as callbacks on SimPy events rather than as SimPy processes: a request passes
through a dozen steps, and a callback costs a fraction of a generator switch.
"""

from __future__ import annotations

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

    __slots__ = ("name", "cold_s", "tau_s", "idle_since", "busy_s")

    def __init__(self, name: str, *, cold_s: float = 0.0, tau_s: float = 0.01) -> None:
        self.name = name
        self.cold_s = cold_s
        self.tau_s = tau_s
        self.idle_since = -1.0  # never ran: no penalty for the very first burst
        self.busy_s = 0.0

    def shift(self, dt: float) -> None:
        if self.idle_since >= 0:
            self.idle_since += dt

    def penalty_s(self, now: float) -> float:
        if self.cold_s <= 0 or self.idle_since < 0:
            return 0.0
        gap = now - self.idle_since
        return self.cold_s * -math.expm1(-gap / self.tau_s) if gap > 0 else 0.0


class _Burst:
    __slots__ = ("remaining_s", "since", "token", "thread", "fn", "args")

    def __init__(
        self, remaining_s: float, since: float, thread: Thread, fn: Callable, args: tuple
    ) -> None:
        self.remaining_s = remaining_s
        self.since = since
        self.token = 0
        self.thread = thread
        self.fn = fn
        self.args = args


class Cpu:
    """K cores shared by processor sharing among the CPU bursts in progress.

    `run` starts one burst for a thread; the caller guarantees that a thread has at most one
    burst in progress (a thread is sequential).
    """

    def __init__(self, env: simpy.Environment, cores: int) -> None:
        if cores < 1:
            raise ValueError(f"cores must be >= 1, got {cores}")
        self.env = env
        self.cores = cores
        self._bursts: list[_Burst] = []

    def shift(self, dt: float) -> None:
        for b in self._bursts:
            b.since += dt

    @property
    def rate(self) -> float:
        """Speed of each burst now: 1 while bursts <= cores, cores / bursts beyond."""
        n = len(self._bursts)
        return 1.0 if n <= self.cores else self.cores / n

    def run(self, thread: Thread, cpu_s: float, fn: Callable, *args: Any) -> None:
        """Run ``thread`` for ``cpu_s`` seconds of one core (plus its cold penalty), then call
        ``fn(*args)``."""
        now = self.env.now
        cpu_s += thread.penalty_s(now)
        thread.busy_s += cpu_s
        burst = _Burst(cpu_s, now, thread, fn, args)
        bursts = self._bursts
        if len(bursts) + 1 <= self.cores:
            bursts.append(burst)
            _Call(self.env, cpu_s, self._finish, (burst, 0))
            return
        self._advance(now)
        bursts.append(burst)
        self._reschedule()

    def _advance(self, now: float) -> None:
        rate = self.rate
        for b in self._bursts:
            b.remaining_s -= (now - b.since) * rate
            b.since = now

    def _reschedule(self) -> None:
        rate = self.rate
        for b in self._bursts:
            b.token += 1
            _Call(self.env, max(b.remaining_s, 0.0) / rate, self._finish, (b, b.token))

    def _finish(self, burst: _Burst, token: int) -> None:
        if token != burst.token:
            return  # superseded by a reschedule
        bursts = self._bursts
        shared = len(bursts) > self.cores
        if shared:
            self._advance(self.env.now)
        bursts.remove(burst)
        if shared:
            self._reschedule()  # one burst fewer: every other burst speeds up
        burst.thread.idle_since = self.env.now
        burst.fn(*burst.args)
