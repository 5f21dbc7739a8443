"""How steady the machine's CPU speed is: a fixed piece of Python timed over and over.

    .venv/bin/python tools/trace/speed_probe.py [SECONDS]

Runs the same pure-Python loop (~2 ms on this project's machine) every 20 ms for SECONDS
(default 60) on an otherwise idle machine, and prints the fastest tenth as the base time, the
share of probes slower than 1.25 x base, a histogram of time / base, and the slow spells
(consecutive slow probes) longer than 0.1 s. A steady machine shows one peak at 1.0.
"""

from __future__ import annotations

import collections
import sys
import time


def work(n: int = 50_000) -> int:
    s = 0
    for i in range(n):
        s += i * i
    return s


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 60.0
    start = time.perf_counter()
    probes: list[tuple[float, float]] = []
    while time.perf_counter() - start < seconds:
        t0 = time.perf_counter()
        work()
        probes.append((t0 - start, time.perf_counter() - t0))
        time.sleep(0.02)
    base = sorted(d for _, d in probes)[len(probes) // 10]
    slow = [d > 1.25 * base for _, d in probes]
    print(f"{len(probes)} probes over {seconds:g} s; base {base * 1e3:.2f} ms; "
          f"slower than 1.25 x base: {sum(slow) / len(probes):.0%}")
    histogram = collections.Counter(round(d / base, 1) for _, d in probes)
    print("time / base: " + ", ".join(f"{k:.1f}: {v}" for k, v in sorted(histogram.items())))
    spells, begin = [], None
    for (t, _), s in zip(probes, slow, strict=True):
        if s and begin is None:
            begin = t
        elif not s and begin is not None:
            spells.append((begin, t))
            begin = None
    long_spells = [(a, b) for a, b in spells if b - a > 0.1]
    print(f"slow spells: {len(spells)}, longer than 0.1 s: {len(long_spells)}"
          + "".join(f"\n  {a:7.2f}-{b:7.2f} s" for a, b in long_spells[:20]))


if __name__ == "__main__":
    main()
