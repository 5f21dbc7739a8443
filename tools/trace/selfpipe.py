"""The event loop's CPU per call_soon_threadsafe callback: one per loop wake-up vs batches.

A feeder thread calls loop.call_soon_threadsafe(cb) N times, either one at a time with a pause
after each (every callback wakes the loop from select()) or in batches of B with a pause after
each batch (one wake-up per batch). The loop thread's CPU (time.thread_time) over the run,
divided by N, is its cost per callback; the difference between the two, per wake-up saved, is
what a wake-up costs the loop beyond the callback itself.

    .venv/bin/python tools/trace/selfpipe.py [ROUNDS]

docs/notes/measurements.md section 27.7.
"""
from __future__ import annotations

import asyncio
import statistics
import sys
import threading
import time

N = 4000


def per_callback_s(n: int, batch: int, pause_s: float) -> float:
    """The loop thread's CPU per callback when a feeder thread sends ``n`` callbacks in batches
    of ``batch`` with ``pause_s`` (spun, never slept: the feeder never blocks) after each."""

    async def main() -> float:
        loop = asyncio.get_running_loop()
        left = [n]
        done = loop.create_future()

        def callback() -> None:
            left[0] -= 1
            if left[0] == 0:
                done.set_result(None)

        def feed() -> None:
            for _ in range(n // batch):
                for _ in range(batch):
                    loop.call_soon_threadsafe(callback)
                until = time.perf_counter() + pause_s
                while time.perf_counter() < until:
                    pass

        await asyncio.sleep(0.05)
        t0 = time.thread_time()
        feeder = threading.Thread(target=feed)
        feeder.start()
        await done
        cpu_s = time.thread_time() - t0
        feeder.join()
        return cpu_s / n

    return asyncio.run(main())


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    one, twenty = [], []
    for _ in range(rounds):
        one.append(per_callback_s(N, 1, 300e-6))
        twenty.append(per_callback_s(N, 20, 6000e-6))
    m1, m20 = statistics.median(one), statistics.median(twenty)
    print(f"loop CPU per callback: one per wake-up {1e6 * m1:.1f} us "
          f"({', '.join(f'{1e6 * x:.1f}' for x in one)}); 20 per wake-up {1e6 * m20:.1f} us "
          f"({', '.join(f'{1e6 * x:.1f}' for x in twenty)}); per wake-up saved: "
          f"{1e6 * (m1 - m20) * 20 / 19:.1f} us")


if __name__ == "__main__":
    main()
