"""Threads inside one Python process: the GIL and a thread pool with its queue.

`Gil` is CPython's global interpreter lock as the model needs it: the CPU bursts of one process's
threads run one at a time (one core's worth of Python per process), and a thread that waits for
the lock is woken by the kernel when the holder lets go (a futex wake, ``wakeup_s``). A thread
blocked in time.sleep, select() or a queue holds no lock. Every burst of the model is shorter than
CPython's 5 ms switch interval, so a burst keeps the lock until it ends.

`ThreadPool` is concurrent.futures.ThreadPoolExecutor (Python 3.11): work items wait in one FIFO
queue; `submit` wakes an idle thread if there is one, otherwise starts a new thread while fewer
than ``threads`` exist (threads are made lazily and never end); a thread that finishes an item
takes the next one at once, without a wake-up. Each item costs its thread ``pool_item_cpu_s`` of
Python before and after a hold that uses no CPU (the item's time.sleep), under the GIL.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

import simpy

from asim.sim.costs import Costs
from asim.sim.machine import Cpu, Thread, call_later, scheduler
from asim.sim.usage import Holds


class Gil:
    """One process's interpreter lock over the machine's cores: ``run`` has `Cpu.run`'s
    signature, so a model runs a thread's burst through the lock where the process has more
    than one thread."""

    def __init__(self, env: simpy.Environment, cpu: Cpu, *, handoff_s: float) -> None:
        self.env = env
        self.cpu = cpu
        self.handoff_s = handoff_s
        self._later = scheduler(env)
        self._end = self._release  # bound once: every burst under the lock is handed it
        self._held = False
        self._waiting: deque[tuple[Thread, float, Callable, tuple]] = deque()
        self.contended = 0  # bursts that had to wait for the lock
        self.busy_s = 0.0  # CPU run under the lock (its utilisation over a run)

    def run(self, thread: Thread, cpu_s: float, fn: Callable, *args: Any) -> None:
        self.run_with(thread, cpu_s, fn, args)

    def run_with(self, thread: Thread, cpu_s: float, fn: Callable, args: tuple) -> None:
        """`run` with the arguments as one tuple."""
        if self._held:
            self.contended += 1
            self._waiting.append((thread, cpu_s, fn, args))
            return
        self._held = True
        self.busy_s += cpu_s
        self.cpu.run_with(thread, cpu_s, self._end, (fn, args))

    def _start(self, thread: Thread, cpu_s: float, fn: Callable, args: tuple) -> None:
        self.busy_s += cpu_s
        self.cpu.run_with(thread, cpu_s, self._end, (fn, args))

    def _release(self, fn: Callable, args: tuple) -> None:
        if self._waiting:
            # The lock passes to the longest waiter, which the kernel has to wake first.
            self._later(self.handoff_s, self._start, self._waiting.popleft())
        else:
            self._held = False
        fn(*args)


class ThreadPool:
    """A ThreadPoolExecutor of at most ``threads`` threads in one process (`Gil`)."""

    def __init__(
        self,
        env: simpy.Environment,
        gil: Gil,
        costs: Costs,
        *,
        threads: int,
        name: str = "pool",
        cold_s: float = 0.0,
        holds: Holds | None = None,
    ) -> None:
        self.env = env
        self.gil = gil
        self.costs = costs
        self._later = scheduler(env)
        self.max_threads = threads
        self.name = name
        self.cold_s = cold_s
        self.threads: list[Thread] = []
        self._idle: deque[Thread] = deque()
        self._queue: deque[tuple[float, float, float, Callable, tuple]] = deque()
        self.peak_queue = 0
        self.busy = 0  # threads holding an item
        self.peak_busy = 0
        # Thread-seconds spent on items (the pool's utilisation); pools that count as one
        # (a gthread worker's each) may share theirs, so its owner shifts it, not `shift`.
        self.holds = Holds() if holds is None else holds
        self._started: dict[str, float] = {}
        # (thread index, start, end, the item's done args) of every item when set to a list (a
        # timeline's pool lanes; off by default: a long run would keep one tuple per request).
        self.hold_log: list[tuple[int, float, float, tuple]] | None = None

    def submit(
        self, before_s: float, hold_s: float, after_s: float, done: Callable, *args: Any
    ) -> None:
        """Queue an item: ``before_s`` of CPU, a hold of ``hold_s`` without CPU, ``after_s`` of
        CPU, then ``done(*args)`` called from the thread."""
        queue = self._queue
        queue.append((before_s, hold_s, after_s, done, args))
        if len(queue) > self.peak_queue:
            self.peak_queue = len(queue)
        if self._idle:
            self._later(self.costs.wakeup_s, self._take, (self._idle.pop(),))
        elif len(self.threads) < self.max_threads:
            thread = Thread(f"{self.name}-{len(self.threads)}", cold_s=self.cold_s,
                            tau_s=self.costs.cold_tau_s, onset_s=self.costs.cold_onset_s)
            self.threads.append(thread)
            call_later(self.env, self.costs.wakeup_s, self._take, thread)

    def _take(self, thread: Thread) -> None:
        if not self._queue:
            self._idle.append(thread)
            return
        before_s, hold_s, after_s, done, args = self._queue.popleft()
        self.busy += 1
        if self.busy > self.peak_busy:
            self.peak_busy = self.busy
        now = self._started[thread.name] = self.env._now
        self.holds.begin(now)
        self.gil.run_with(thread, before_s, self._hold, (thread, hold_s, after_s, done, args))

    def _hold(self, thread: Thread, hold_s: float, after_s: float, done: Callable, args: tuple) -> (
        None
    ):
        if hold_s > 0:
            self._later(hold_s, self.gil.run_with,
                        (thread, after_s, self._done, (thread, done, args)))
        else:
            self.gil.run_with(thread, after_s, self._done, (thread, done, args))

    def _done(self, thread: Thread, done: Callable, args: tuple) -> None:
        self.busy -= 1
        now = self.env._now
        self.holds.end(self._started[thread.name], now)
        if self.hold_log is not None:
            self.hold_log.append((self.threads.index(thread), self._started[thread.name], now,
                                  args))
        done(*args)
        self._take(thread)

    def shift(self, dt: float) -> None:
        for thread in self.threads:
            thread.shift(dt)
        for name in self._started:
            self._started[name] += dt

    def held_s(self) -> float:
        """Thread-seconds spent on items so far, those in progress included."""
        return self.holds.busy_s(self.env.now)
