"""The machine: a SimPy clock, delayed calls, and K CPU cores.

Every actor of the model (ab, the event loop, each gunicorn worker) is one thread that runs one
CPU burst at a time. A burst runs to completion on a free core; bursts that find every core busy
wait their turn in arrival order (see `Cpu`).

Actors are written as callbacks on SimPy events rather than as SimPy processes: a request passes
through a dozen steps, and a callback costs a fraction of a generator switch.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from typing import Any

import simpy
from simpy.events import NORMAL


class _Call:
    """An entry of SimPy's event queue that calls ``fn(*args)`` when it is processed.

    `simpy.Environment.step` only needs ``callbacks`` and ``_ok`` of what it pops, so a slotted
    object stands in for a full `simpy.Event` on the simulator's hot path (one per CPU burst and
    per delayed call).
    """

    __slots__ = ("callbacks", "_ok", "_fn", "_args")

    def __init__(self, env: simpy.Environment, delay: float, fn: Callable, args: tuple) -> None:
        self.callbacks = _FIRE
        self._ok = True
        self._fn = fn
        self._args = args
        env.schedule(self, NORMAL, delay)  # type: ignore[arg-type]


def _fire(call: _Call) -> None:
    call._fn(*call._args)


_FIRE = (_fire,)  # step() iterates the callbacks and then drops them


def call_later(env: simpy.Environment, delay: float, fn: Callable, *args: Any) -> None:
    """Call ``fn(*args)`` after ``delay`` simulated seconds."""
    _Call(env, delay, fn, args)


class Thread:
    """One thread of execution (ab, the event loop, a worker): at most one CPU burst at a time.

    A thread that was off the CPU for a while runs its next burst slower. On this project's
    machines the per-request CPU of every process triples between back-to-back requests and
    requests 20-100 ms apart, but only when the whole machine idled in between: four Django
    workers that each sleep 20 ms while the others and ab keep the cores busy answer almost as
    fast as warm ones (docs/notes/measurements.md, section 9). So the gap that counts is the
    shorter of the thread's own time off the CPU and the time the cores have all been idle
    (`Cpu`): the model adds ``cold_s * (1 - exp(-gap / tau_s))`` of CPU to the first burst
    after such a gap.
    """

    __slots__ = ("name", "cold_s", "tau_s", "idle_since", "busy_s")

    def __init__(self, name: str, *, cold_s: float = 0.0, tau_s: float = 0.01) -> None:
        self.name = name
        self.cold_s = cold_s
        self.tau_s = tau_s
        self.idle_since = -1.0  # never ran: no penalty for the very first burst
        self.busy_s = 0.0  # CPU this thread has been given (calibration compares it with /proc)

    def shift(self, dt: float) -> None:
        if self.idle_since >= 0:
            self.idle_since += dt

    def penalty_s(self, now: float, machine_idle_s: float) -> float:
        """Extra CPU of a burst starting at ``now`` when the cores have all been idle for
        ``machine_idle_s`` (0 while any burst runs)."""
        if self.cold_s <= 0 or self.idle_since < 0:
            return 0.0
        gap = min(now - self.idle_since, machine_idle_s)
        return self.cold_s * -math.expm1(-gap / self.tau_s) if gap > 0 else 0.0


class Cpu:
    """K cores; each runs one CPU burst to completion, and bursts that find every core busy wait
    in one FIFO run queue.

    `run` starts one burst for a thread; the caller guarantees that a thread has at most one
    burst in progress (a thread is sequential).

    Linux (EEVDF since 6.6) lets a woken thread run until it blocks or has used its slice
    (0.75 ms times 1 + log2(cores): 1.5 ms on two cores); every burst of this model (one
    callback of the loop, one step of a worker, one socket event of ab) is shorter than that
    slice, so the kernel runs them to completion rather than sharing a core between them, and a
    thread woken while the cores are busy waits its turn. Three Django workers woken together on
    two cores thus answer at 1, 1 and 2 burst times, not all three at 1.5.

    A burst that had to wait ran after other threads had taken over the core's caches: with
    ``switch_loss`` it needs 1 / (1 - switch_loss) times its CPU. A burst that starts on an idle
    machine pays its thread's cold penalty for the shorter of its own gap and the time every core
    has been idle (`Thread`).
    """

    def __init__(self, env: simpy.Environment, cores: int, *, switch_loss: float = 0.0) -> None:
        if cores < 1:
            raise ValueError(f"cores must be >= 1, got {cores}")
        if not 0 <= switch_loss < 1:
            raise ValueError(f"switch_loss must be in [0, 1), got {switch_loss}")
        self.env = env
        self.cores = cores
        self._waited_factor = 1.0 / (1.0 - switch_loss)
        self._busy = 0
        self._queue: deque[tuple[Thread, float, Callable, tuple]] = deque()
        self._idle_since = 0.0  # when the last burst ended with no other running or waiting
        self.busy_s = 0.0  # CPU given to all threads, penalties and switching losses included

    def shift(self, dt: float) -> None:
        """Move the one time the cores hold (bursts in progress are events on the clock,
        waiting ones hold no time)."""
        self._idle_since += dt

    # run, _start and _done are the simulator's hot path: plain locals, no properties.
    def run(self, thread: Thread, cpu_s: float, fn: Callable, *args: Any) -> None:
        """Run ``thread`` for ``cpu_s`` seconds of one core (plus its cold penalty), then call
        ``fn(*args)``."""
        if self._busy < self.cores:
            self._start(thread, cpu_s, fn, args, 1.0)
        else:
            self._queue.append((thread, cpu_s, fn, args))

    def _start(self, thread: Thread, cpu_s: float, fn: Callable, args: tuple, factor: float) -> (
        None
    ):
        if thread.cold_s > 0:
            now = self.env._now
            cpu_s += thread.penalty_s(now, now - self._idle_since if self._busy == 0 else 0.0)
        self._busy += 1
        cpu_s *= factor
        thread.busy_s += cpu_s
        self.busy_s += cpu_s
        _Call(self.env, cpu_s, self._done, (thread, fn, args))

    def _done(self, thread: Thread, fn: Callable, args: tuple) -> None:
        thread.idle_since = self.env._now
        self._busy -= 1
        if self._queue:
            t, cpu_s, f, a = self._queue.popleft()
            self._start(t, cpu_s, f, a, self._waited_factor)
        elif self._busy == 0:
            self._idle_since = self.env._now
        fn(*args)
