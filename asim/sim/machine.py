"""The machine: a SimPy clock, delayed calls, and K CPU cores.

Every actor of the model (ab, the event loop, each gunicorn worker) is one thread that runs one
CPU burst at a time. A burst runs to completion on a free core; bursts that find every core busy
wait their turn in arrival order (see `Cpu`).

Actors are written as callbacks on SimPy events rather than as SimPy processes: a request passes
through a dozen steps, and a callback costs a fraction of a generator switch. `simulate` runs
them on a `Clock`, SimPy's environment with a cheaper entry for a delayed call (the same events
in the same order: docs/notes/measurements.md, section 24).
"""

from __future__ import annotations

import gc
import math
from collections import deque
from collections.abc import Callable
from heapq import heapify, heappop, heappush
from typing import Any

import simpy
from simpy.core import StopSimulation
from simpy.events import NORMAL, Event


class _Call:
    """An entry of SimPy's event queue that calls ``fn(*args)`` when it is processed.

    `simpy.Environment.step` only needs ``callbacks`` and ``_ok`` of what it pops, so a slotted
    object stands in for a full `simpy.Event` (one per CPU burst and per delayed call) where the
    machine runs on a plain `simpy.Environment`; on a `Clock` the entry is a tuple.
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
    if env.__class__ is Clock:
        env.later(delay, fn, args)
    else:
        _Call(env, delay, fn, args)


def scheduler(env: simpy.Environment) -> Callable[[float, Callable, tuple], None]:
    """``later(delay, fn, args)``: `call_later` with the arguments as one tuple, bound to
    ``env`` once (the hot paths hold it)."""
    if env.__class__ is Clock:
        return env.later
    return lambda delay, fn, args: _Call(env, delay, fn, args)


class Clock(simpy.Environment):
    """SimPy's environment with a cheaper entry for delayed calls (`later`, `call_later`).

    An entry is a plain ``(fn, args)`` tuple in SimPy's event queue, which `step` and
    ``run(until=event)`` call themselves, without the bookkeeping of a `simpy.Event` (one object,
    its callbacks list, the failure check). And the
    earliest entry scheduled since the last one ran waits in a slot beside the heap, where it
    usually stays only until it runs: a thread's burst that ends before anything else happens
    (the event loop's callbacks one after the other) costs no heap push and pop.

    The order is SimPy's exactly: each entry takes the next event id when it is scheduled, and
    the next to run is the least (time, priority, id) of the heap and the slot, so a run is the
    same event by event, and the ids count the same events.
    """

    def __init__(self, initial_time: float = 0) -> None:
        super().__init__(initial_time)
        self._next: tuple | None = None  # the slot: an entry of the queue kept off the heap

    def later(self, delay: float, fn: Callable, args: tuple) -> None:
        """Call ``fn(*args)`` after ``delay`` simulated seconds."""
        entry = (self._now + delay, NORMAL, next(self._eid), (fn, args))
        held = self._next
        if held is None:
            self._next = entry
        elif entry < held:
            self._next = entry
            heappush(self._queue, held)
        else:
            heappush(self._queue, entry)

    def peek(self) -> float:
        held = self._next
        if held is not None and (not self._queue or held < self._queue[0]):
            return held[0]
        return super().peek()

    def step(self) -> None:
        held, queue = self._next, self._queue
        if held is not None and (not queue or held < queue[0]):
            self._next = None
            self._now = held[0]
            fn, args = held[3]
            fn(*args)
        elif queue and queue[0][3].__class__ is tuple:
            self._now, _, _, (fn, args) = heappop(queue)
            fn(*args)
        else:
            super().step()

    def run(self, until: Any = None) -> Any:
        if not isinstance(until, Event) or until.callbacks is None:
            return super().run(until)
        until.callbacks.append(StopSimulation.callback)
        step = super().step
        # A run allocates a few tuples per event and makes no reference cycles: the cyclic
        # collector, triggered by the allocations alone, would only cost time (5-10 %).
        collecting = gc.isenabled()
        gc.disable()
        try:
            while True:
                held, queue = self._next, self._queue  # a skip ahead replaces the list
                if held is not None and (not queue or held < queue[0]):
                    self._next = None
                    self._now = held[0]
                    fn, args = held[3]
                    fn(*args)
                elif not queue:
                    break
                elif queue[0][3].__class__ is tuple:
                    self._now, _, _, (fn, args) = heappop(queue)
                    fn(*args)
                else:
                    step()
        except StopSimulation as exc:
            return exc.args[0]
        finally:
            if collecting:
                gc.enable()
        # SimPy's own words, which `simulate` passes on.
        raise RuntimeError(
            f'No scheduled events left but "until" event was not triggered: {until}'
        )

    def newest_event_id(self) -> int:
        """The id of the newest entry still waiting (0 if none): how many events were
        scheduled up to it."""
        ids = [eid for _, _, eid, _ in self._queue]
        if self._next is not None:
            ids.append(self._next[2])
        return max(ids, default=0)

    def shift(self, dt: float) -> None:
        """Move the clock and every waiting entry ``dt`` seconds later (a skip ahead)."""
        self._now += dt
        self._queue = [(t + dt, prio, eid, ev) for t, prio, eid, ev in self._queue]
        heapify(self._queue)
        if self._next is not None:
            t, prio, eid, ev = self._next
            self._next = (t + dt, prio, eid, ev)


class Thread:
    """One thread of execution (ab, the event loop, a worker): at most one CPU burst at a time.

    A thread that was off the CPU for a while runs its next burst slower. On this project's
    machines the per-request CPU of every process triples between back-to-back requests and
    requests 20-100 ms apart, but only when the whole machine idled in between: four Django
    workers that each sleep 20 ms while the others and ab keep the cores busy answer almost as
    fast as warm ones (docs/notes/measurements.md, section 9). So the gap that counts is the
    shorter of the thread's own time off the CPU and the time the cores have all been idle
    (`Cpu`): the model adds ``cold_s * (1 - exp(-(gap - onset_s) / tau_s))`` of CPU to the
    first burst after such a gap, nothing for a gap under ``onset_s``. Measured with the
    calibration's own runs, a worker pays next to nothing after 1 ms of idle, 5-14 % of the
    50 ms run's extra after 5 ms (docs/notes/measurements.md, sections 43 and 44).
    """

    __slots__ = ("name", "cold_s", "tau_s", "onset_s", "calls_per_s", "peers", "idle_since",
                 "busy_s")

    def __init__(self, name: str, *, cold_s: float = 0.0, tau_s: float = 0.01,
                 onset_s: float = 0.0, calls_per_s: float = 0.0, peers: object = None) -> None:
        self.name = name
        self.cold_s = cold_s
        self.tau_s = tau_s
        self.onset_s = onset_s
        # Blocking calls into the kernel per second of this thread's CPU: where a Python thread
        # lets go of its process's GIL (`asim.sim.threads.Gil`).
        self.calls_per_s = calls_per_s
        # The threads this one takes turns with on its process's GIL at each of those calls (its
        # thread pool; None for a thread of its own kind).
        self.peers = peers
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
        gap = min(now - self.idle_since, machine_idle_s) - self.onset_s
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

    __slots__ = ("env", "_later", "_end", "cores", "_waited_factor", "_busy", "_queue",
                 "_idle_since", "busy_s")

    def __init__(self, env: simpy.Environment, cores: int, *, switch_loss: float = 0.0) -> None:
        if cores < 1:
            raise ValueError(f"cores must be >= 1, got {cores}")
        if not 0 <= switch_loss < 1:
            raise ValueError(f"switch_loss must be in [0, 1), got {switch_loss}")
        self.env = env
        self._later = scheduler(env)
        self._end = self._done  # bound once: a burst's entry holds it
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

    def free_cores(self) -> int:
        """Cores that run no burst now."""
        return self.cores - self._busy

    # run_with, _start and _done are the simulator's hot path: plain locals, no properties.
    def run(self, thread: Thread, cpu_s: float, fn: Callable, *args: Any) -> None:
        """Run ``thread`` for ``cpu_s`` seconds of one core (plus its cold penalty), then call
        ``fn(*args)``."""
        self.run_with(thread, cpu_s, fn, args)

    def run_with(self, thread: Thread, cpu_s: float, fn: Callable, args: tuple) -> float | None:
        """`run` with the arguments as one tuple; returns the burst's CPU, its cold penalty
        included, where it started on a free core, None where it waits for one."""
        busy = self._busy
        if busy >= self.cores:
            self._queue.append((thread, cpu_s, fn, args))
            return None
        # _start with a factor of 1, written out: most bursts find a free core.
        if busy == 0 and thread.cold_s > 0:
            now = self.env._now
            idle = thread.idle_since
            if 0 <= idle < now and self._idle_since < now:
                cpu_s += thread.penalty_s(now, now - self._idle_since)
        self._busy = busy + 1
        thread.busy_s += cpu_s
        self.busy_s += cpu_s
        self._later(cpu_s, self._end, (thread, fn, args))
        return cpu_s

    def _start(self, thread: Thread, cpu_s: float, fn: Callable, args: tuple, factor: float) -> (
        None
    ):
        # A queued burst starts as another ends: the machine has not idled, so no cold
        # penalty (on one core the count of running bursts is 0 here, but not because the
        # cores idled).
        self._busy += 1
        cpu_s *= factor
        thread.busy_s += cpu_s
        self.busy_s += cpu_s
        self._later(cpu_s, self._end, (thread, fn, args))

    def _done(self, thread: Thread, fn: Callable, args: tuple) -> None:
        now = thread.idle_since = self.env._now
        self._busy -= 1
        if self._queue:
            t, cpu_s, f, a = self._queue.popleft()
            self._start(t, cpu_s, f, a, self._waited_factor)
        elif self._busy == 0:
            self._idle_since = now
        fn(*args)
