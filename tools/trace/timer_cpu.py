"""What a nonzero asyncio.sleep costs the loop thread, beside the bare yield of asyncio.sleep(0).

    .venv/bin/python tools/trace/timer_cpu.py [--rounds 7] [--sleeps 2000]

One asyncio loop (the selector loop aiohttp runs on), C tasks that do nothing but sleep, for
three sleeps: 0 (``__sleep0``: a bare yield, the task's step is called soon again), 1 ns (the
timer path: a future, a TimerHandle pushed on the heap, the timer's callback sets the future's
result, the task's wake-up is called soon, but the timer is already due at the next select(),
so the loop never blocks) and 1 ms (the same, and the loop blocks in epoll_wait until the timer
is due). The loop thread's CPU (CLOCK_THREAD_CPUTIME_ID: user and system) per sleep, the median
of interleaved rounds:

    timer path          = cpu(1 ns) - cpu(0)
    a blocking select() = cpu(1 ms) - cpu(1 ns)   (per sleep: C sleeps share one block)

and the loop's rounds per sleep (how many select() calls), to check which callbacks asyncio
makes. Then a bare thread's time.sleep(g) for gaps g from 0 to 50 ms: its CPU per sleep and how
much longer than g each lasts (time.sleep(0) too is a clock_nanosleep that blocks). No server and
no ab: one process alone, on an idle machine (docs/notes/measurements.md section 45).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

SLEEPS = (("sleep(0)", 0.0), ("sleep(1 ns)", 1e-9), ("sleep(1 ms)", 1e-3))
GAPS_S = (0.0, 20e-6, 50e-6, 100e-6, 200e-6, 500e-6, 1e-3, 2e-3, 5e-3, 10e-3, 20e-3, 50e-3)


class _CountingLoop(asyncio.SelectorEventLoop):
    """A selector loop that counts its select() rounds."""

    rounds = 0

    def _run_once(self) -> None:  # type: ignore[override]
        self.rounds += 1
        super()._run_once()


async def _sleeper(delay: float, count: int) -> None:
    for _ in range(count):
        await asyncio.sleep(delay)


def measure(delay: float, clients: int, sleeps: int) -> tuple[float, float]:
    """The loop thread's CPU per sleep (s) and its select() rounds per sleep."""
    loop = _CountingLoop()
    try:
        per_task = sleeps // clients

        async def main() -> None:
            await asyncio.gather(*(_sleeper(delay, per_task) for _ in range(clients)))

        loop.run_until_complete(asyncio.sleep(0))  # the loop's first round, outside the count
        loop.rounds = 0
        start = time.thread_time()
        loop.run_until_complete(main())
        cpu_s = time.thread_time() - start
        return cpu_s / (per_task * clients), loop.rounds / (per_task * clients)
    finally:
        loop.close()


def thread_sleeps(gap_s: float, count: int) -> tuple[float, float]:
    """A bare thread's CPU per time.sleep(gap_s) and how much longer than gap_s each lasts."""
    cpu0, wall0 = time.thread_time(), time.perf_counter()
    for _ in range(count):
        time.sleep(gap_s)
    return ((time.thread_time() - cpu0) / count,
            (time.perf_counter() - wall0) / count - gap_s)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--sleeps", type=int, default=2000)
    args = parser.parse_args()
    for clients in (1, 10):
        cpu: dict[str, list[float]] = {name: [] for name, _ in SLEEPS}
        rounds: dict[str, list[float]] = {name: [] for name, _ in SLEEPS}
        for _ in range(args.rounds):
            for name, delay in SLEEPS:
                c, r = measure(delay, clients, args.sleeps)
                cpu[name].append(c)
                rounds[name].append(r)
        med = {name: statistics.median(v) for name, v in cpu.items()}
        print(f"C = {clients} tasks, {args.sleeps} sleeps per run, {args.rounds} rounds")
        for name, _ in SLEEPS:
            lo, hi = min(cpu[name]) * 1e6, max(cpu[name]) * 1e6
            print(f"  {name:12s} {med[name] * 1e6:7.1f} us per sleep ({lo:.1f}-{hi:.1f}),"
                  f" {statistics.median(rounds[name]):.2f} select() rounds per sleep")
        print(f"  timer path            {(med['sleep(1 ns)'] - med['sleep(0)']) * 1e6:+.1f} us")
        print(f"  blocking select()     {(med['sleep(1 ms)'] - med['sleep(1 ns)']) * 1e6:+.1f} us")
    cpu_by_gap: dict[float, list[float]] = {g: [] for g in GAPS_S}
    late_by_gap: dict[float, list[float]] = {g: [] for g in GAPS_S}
    for _ in range(args.rounds):
        for gap_s in GAPS_S:
            c, late = thread_sleeps(gap_s, max(20, min(2000, int(0.3 / max(gap_s, 1e-4)))))
            cpu_by_gap[gap_s].append(c)
            late_by_gap[gap_s].append(late)
    print(f"a bare thread's time.sleep(g), {args.rounds} rounds (median, min-max)")
    for gap_s in GAPS_S:
        c = cpu_by_gap[gap_s]
        print(f"  g = {gap_s * 1e3:6.2f} ms: CPU per sleep {statistics.median(c) * 1e6:6.1f} us "
              f"({min(c) * 1e6:.1f}-{max(c) * 1e6:.1f}), lasts g + "
              f"{statistics.median(late_by_gap[gap_s]) * 1e6:.0f} us")


if __name__ == "__main__":
    main()
