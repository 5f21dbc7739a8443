"""Threads inside one Python process: the GIL and a thread pool with its queue.

`Gil` is CPython's global interpreter lock as the model needs it: the CPU bursts of one process's
threads run one at a time (one core's worth of Python per process), and a thread that waits for
the lock is woken by the kernel when the holder lets go (a futex wake, ``wakeup_s``). A thread
blocked in time.sleep, select() or a queue holds no lock. Every burst of the model is shorter than
CPython's 5 ms switch interval, so a burst keeps the lock until it ends.

Within a burst the holder lets go of the lock around each blocking call it makes (recv, send,
accept, epoll, close: ``Thread.calls_per_s``). While another thread waits, each such release
signals the waiter's condition variable; the holder is mostly back from its call before the
waiter runs, takes the lock again, and the waiter sleeps again. A release costs little
(``release_cpu_s``); but where the waiter is another thread of the holder's own pool
(`Thread.peers`: two Django views of gthread's pool) and a core is free for it, the waiter often
does get the lock, and the holder blocks and is woken later, with its request's data gone from
the core's caches. So each call a burst makes while its peers wait costs ``switch_cpu_s`` of its
pool per waiting peer, for at most `SWITCH_PEERS_MAX` of them (`VIEW_SWITCH_CPU_S` for Django's
views, none for the executor's few lines of Python; docs/notes/measurements.md section 54). The
model adds both to the lock's next burst, the one handed the lock, which keeps the lock's busy
time and every core's CPU right (the CPU lands on the next holder's thread rather than the
releasing one).

A share of every burst (`GIL_OFF_LOCK`) is the kernel's work inside those calls, done without the
lock: a thread that comes to wait takes the lock over where that part begins, while the holder
finishes it on its core, so a process whose GIL is its bottleneck keeps a little more than one
core busy, as the real ones do.

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

# What one release of the GIL at a blocking call costs while another thread waits for it:
# gthread with one thread (whose main thread and pool thread wait on each other's calls, 18.7
# times per request in section 53's model at sleep 0, C = 20) spent 6.5 us more CPU per request
# at C = 20 than at C = 1 in the same rounds (docs/notes/measurements.md section 54.1): 0.35 us a
# release.
GIL_RELEASE_CPU_S = 0.35e-6

# What each call of a Django view's pool thread costs more per other thread of its pool waiting
# for the GIL (`ThreadPool`'s ``views``), from gthread with one worker of 1, 2, 4 and 8 threads
# at sleep 0, C = 20 in the same rounds (section 54.1): each block of a pool thread beyond one
# thread's cost it 23.6 us of CPU, and there were 0.61 such blocks per call made while a peer
# waited, per waiting peer (30.6 more blocks per request against the model's 50 such calls over
# the three thread counts): 23.6 x 0.61.
VIEW_SWITCH_CPU_S = 14.4e-6

# The most waiting peers a call pays for: a release signals one waiter (CPython's drop_gil), so a
# call is at most one switch however many wait; the traced thread counts had at most two peers
# waiting per such call in the model, and blocked 1.15 times per call with four threads, 1.49 with
# eight (section 54.1), so two peers' worth is the most the traces support.
SWITCH_PEERS_MAX = 2

# Blocking calls per request of each kind of thread that runs under a GIL: strace of the real
# servers at sleep 0, C = 20 (tools/trace/syscalls.py; docs/notes/measurements.md 52.2 and 53),
# the calls that let go of the GIL (not getpid, setsockopt or futex), time.sleep's own call
# excluded (that is the thread's hold). A model turns each into `Thread.calls_per_s` over its
# CPU per request.
GTHREAD_MAIN_CALLS = 13.5  # ioctl 4, getsockname 2, epoll_wait, utimensat, accept4, ... close
GTHREAD_POOL_CALLS = 10.0  # recvfrom, ioctl 2, epoll_create1/ctl/wait, sendto 2, write, close
EXECUTOR_LOOP_CALLS = 9.9  # getsockname 2, epoll_ctl 2, recvfrom, accept4, ioctl, sendto, close
EXECUTOR_ITEM_CALLS = 1.0  # call_soon_threadsafe's write to the loop's self-pipe
ASGI_LOOP_CALLS = 19.6  # recvfrom 4, sendto 3, getsockname 3, epoll_wait 3, epoll_ctl 2, ...
ASGI_TRIP_CALLS = 1.0  # per sync_to_async round trip: its call_soon_threadsafe

# The share of every burst's CPU that a thread spends without the lock, in the kernel inside its
# blocking calls, while another thread may hold it (`Gil`). A process whose GIL is its
# bottleneck keeps more than one core busy: gthread with one worker of one or of four threads at
# sleep 0, C = 20 kept 1.05-1.08 cores busy (RPS x CPU per request) in eight runs of
# docs/notes/measurements.md section 54, and the model keeps as many at this share (1.00 at 0.06,
# 1.03 at 0.10, 1.06 at 0.14, with the built-in costs).
GIL_OFF_LOCK = 0.14


def calls_per_s(calls: float, cpu_s: float) -> float:
    """``calls`` blocking calls per request over ``cpu_s`` of CPU per request, per CPU second
    (0 for a thread the model gives no CPU)."""
    return calls / cpu_s if cpu_s > 0 else 0.0


class Gil:
    """One process's interpreter lock over the machine's cores: ``run`` has `Cpu.run`'s
    signature, so a model runs a thread's burst through the lock where the process has more
    than one thread."""

    def __init__(self, env: simpy.Environment, cpu: Cpu, *, handoff_s: float,
                 release_cpu_s: float | None = None, off_lock: float | None = None) -> None:
        self.env = env
        self.cpu = cpu
        self.handoff_s = handoff_s
        self.release_cpu_s = GIL_RELEASE_CPU_S if release_cpu_s is None else release_cpu_s
        self.off_lock = GIL_OFF_LOCK if off_lock is None else off_lock
        self._later = scheduler(env)
        self._end = self._release  # bound once: every burst under the lock is handed it
        self._held = False
        self._waiting: deque[tuple[Thread, float, Callable, tuple]] = deque()
        self._waited_since = 0.0  # when the longest of the present waiters began to wait
        self._began = 0.0  # when that burst started, and its CPU
        self._cpu_s = 0.0
        self._owed_s = 0.0  # the releases' and switches' CPU, added to the next burst
        self._holder: Thread | None = None
        self._burst = 0  # the bursts under the lock so far (a stale let-go finds another)
        self._handed = False  # this burst's holder has let go already
        self._letting_go = False  # a let-go is scheduled for this burst
        self._lets_go_at = -1.0  # when its kernel part begins (-1: it runs whole under the lock)
        # Waiting threads by their `Thread.peers`, and when the first of each group began.
        self._peers_waiting: dict[object, int] = {}
        self._peers_since: dict[object, float] = {}
        self.contended = 0  # bursts that had to wait for the lock
        self.released = 0.0  # blocking calls made while another thread waited
        # Those of them made while the holder's peers waited, times how many waited.
        self.switched = 0.0
        self.busy_s = 0.0  # CPU run under the lock (its utilisation over a run)

    def run(self, thread: Thread, cpu_s: float, fn: Callable, *args: Any) -> None:
        self.run_with(thread, cpu_s, fn, args)

    def run_with(self, thread: Thread, cpu_s: float, fn: Callable, args: tuple) -> None:
        """`run` with the arguments as one tuple."""
        if self._held:
            self.contended += 1
            if not self._waiting:
                self._waited_since = self.env._now
            peers = thread.peers
            if peers is not None:
                waiting = self._peers_waiting.get(peers, 0)
                if not waiting:
                    self._peers_since[peers] = self.env._now
                self._peers_waiting[peers] = waiting + 1
            self._waiting.append((thread, cpu_s, fn, args))
            if self._lets_go_at >= 0 and not self._letting_go:
                # The holder lets go where its kernel part begins: at once if it has begun.
                self._letting_go = True
                self._later(max(self._lets_go_at - self.env._now, 0.0), self._let_go,
                            (self._burst,))
            return
        self._held = True
        self._start(thread, cpu_s, fn, args)

    def _start(self, thread: Thread, cpu_s: float, fn: Callable, args: tuple) -> None:
        now = self._began = self.env._now
        self._cpu_s = cpu_s  # the burst's own CPU, whose calls count
        self._holder = thread
        self._burst += 1
        self._handed = self._letting_go = False
        cpu_s += self._owed_s
        self._owed_s = 0.0
        # The kernel's part of the burst (the last `off_lock` of its own CPU) runs without the
        # lock: a waiter takes it over from there. One CPU burst all the same (the hot path),
        # so only where it starts on a free core at once; a burst that waits for a core runs
        # whole under the lock (no core is free for a waiter either).
        ran_s = self.cpu.run_with(thread, cpu_s, self._end, (self._burst, fn, args))
        if ran_s is not None and self.off_lock > 0:
            on_s = ran_s - self._cpu_s * self.off_lock  # its cold penalty under the lock
            self._lets_go_at = now + on_s
            if self._waiting:
                self._letting_go = True
                self._later(on_s, self._let_go, (self._burst,))
        else:
            on_s = cpu_s if ran_s is None else ran_s
            self._lets_go_at = -1.0
        self.busy_s += on_s

    def _let_go(self, burst: int) -> None:
        """The holder's kernel part begins with a thread waiting: the lock passes on."""
        if burst == self._burst and not self._handed:
            self._handed = True
            self._hand_over(self._holder, beside=1)  # type: ignore[arg-type]

    def _release(self, burst: int, fn: Callable, args: tuple) -> None:
        if burst == self._burst and not self._handed:  # not let go early
            self._handed = True
            if self._waiting:
                self._hand_over(self._holder, beside=2)  # type: ignore[arg-type]
            else:
                self._held = False
        fn(*args)

    def _hand_over(self, thread: Thread, *, beside: int) -> None:
        """Pass the lock from ``thread`` to the longest waiter, charging ``thread``'s calls made
        while others waited; ``beside``: the free cores a waiter of its pool needs for a switch
        (2 where the holder's burst has just freed its own)."""
        if thread.calls_per_s > 0:
            # The calls of the part of the burst that others waited on, and of the part that its
            # peers waited on, while a core beside the holder's was free for them.
            calls = self._calls(thread, self._waited_since)
            self.released += calls
            self._owed_s += calls * self.release_cpu_s
            peers = thread.peers
            waiting = self._peers_waiting.get(peers, 0) if peers is not None else 0
            if waiting and self.cpu.free_cores() >= beside:
                switched = (min(waiting, SWITCH_PEERS_MAX)
                            * self._calls(thread, self._peers_since[peers]))
                self.switched += switched
                self._owed_s += switched * peers.switch_cpu_s  # type: ignore[union-attr]
        # The lock passes to the longest waiter, which the kernel has to wake first.
        waiter = self._waiting.popleft()
        peers = waiter[0].peers
        if peers is not None:
            self._peers_waiting[peers] -= 1
        self._later(self.handoff_s, self._start, waiter)

    def _calls(self, holder: Thread, since: float) -> float:
        """The holder's calls in the part of its burst after ``since``."""
        now = self.env._now
        span = now - self._began
        waited = now - max(self._began, since)
        return holder.calls_per_s * self._cpu_s * (waited / span if span > 0 else 1.0)

    def shift(self, dt: float) -> None:
        """Move the times the lock holds ``dt`` seconds later (a skip ahead)."""
        self._began += dt
        self._waited_since += dt
        if self._lets_go_at >= 0:
            self._lets_go_at += dt
        for peers in self._peers_since:
            self._peers_since[peers] += dt


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
        calls_per_s: float = 0.0,
        views: bool = False,
        holds: Holds | None = None,
    ) -> None:
        self.env = env
        self.gil = gil
        self.costs = costs
        self._later = scheduler(env)
        self.max_threads = threads
        self.name = name
        self.cold_s = cold_s
        self.calls_per_s = calls_per_s  # each of its threads' (`Thread.calls_per_s`)
        # What each of its threads' calls costs more per other thread of the pool waiting for
        # the GIL (`Gil`): Django's views (``views``) pay `VIEW_SWITCH_CPU_S`, other items none.
        self.switch_cpu_s = VIEW_SWITCH_CPU_S if views else 0.0
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
                            tau_s=self.costs.cold_tau_s, onset_s=self.costs.cold_onset_s,
                            calls_per_s=self.calls_per_s, peers=self)
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
