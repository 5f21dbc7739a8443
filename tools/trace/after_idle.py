"""Whether a thread runs slower for a while after it slept: chunk times by position after a gap.

    .venv/bin/python tools/trace/after_idle.py [--chunks 300] [--rounds 40]

One thread sleeps g (time.sleep; 0 = no sleep at all), then runs CHUNKS equal pieces of pure
Python (~4-8 us each) back to back, timing each with perf_counter_ns; five times per gap and
round, the gaps in a new random order every round, so that the machine's drift hits every gap
alike. Prints, per gap, the median time of the chunks at each position after the wake-up,
averaged over windows of positions and divided by the steady chunk (the no-sleep runs' chunks
from position 50 on), and the extra time over all chunks. A frequency or cache-warming ramp
after an idle would show as windows above 1.00 well after the first chunk; a fixed cost of
waking shows in the first chunk alone. No server, no ab; an otherwise idle machine
(docs/notes/measurements.md section 46).
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

GAPS_S = (0.0, 0.2e-3, 0.5e-3, 1e-3, 2e-3, 5e-3, 20e-3)
WINDOWS = ((0, 1), (1, 2), (2, 5), (5, 20), (20, 50), (50, 100), (100, 200), (200, None))
REPEATS = 5


def chunk() -> int:
    total = 0
    for i in range(200):
        total += i * i
    return total


def after(gap_s: float, chunks: int) -> list[int]:
    """Each chunk's duration (ns) after one sleep of ``gap_s``."""
    if gap_s > 0:
        time.sleep(gap_s)
    clock = time.perf_counter_ns
    times, last = [], clock()
    for _ in range(chunks):
        chunk()
        now = clock()
        times.append(now - last)
        last = now
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()
    runs: dict[float, list[list[int]]] = {g: [] for g in GAPS_S}
    for _ in range(args.rounds):
        for gap in random.sample(GAPS_S, len(GAPS_S)):
            runs[gap].extend(after(gap, args.chunks) for _ in range(REPEATS))
    medians = {g: [statistics.median(run[i] for run in rows) for i in range(args.chunks)]
               for g, rows in runs.items()}
    steady = statistics.median(medians[0.0][50:])
    print(f"steady chunk {steady / 1e3:.2f} us; windows of chunk positions: "
          + " ".join(f"{a}-{b if b is not None else args.chunks}" for a, b in WINDOWS))
    for gap, med in medians.items():
        cells = [statistics.mean(med[a:b]) / steady for a, b in WINDOWS]
        extra_us = sum(m - steady for m in med) / 1e3
        print(f"gap {gap * 1e3:4.1f} ms: " + " ".join(f"{c:5.2f}" for c in cells)
              + f"   extra over all chunks {extra_us:6.1f} us", flush=True)


if __name__ == "__main__":
    main()
