"""What a busy second core costs a Python thread: the same work timed alone and beside a copy.

    .venv/bin/python tools/trace/corun.py [ROUNDS]

Each round times a fixed piece of Python (JSON encoding and decoding, dict inserts: ~0.7 s on
this project's machine) in a child pinned to core 0 alone, then pinned to core 1 alone, then
both at once, each on its own core; it prints the three times and the ratio of the together
times to the alone times (1.0: a busy second core costs nothing). ROUNDS defaults to 10. Run it
on an otherwise idle machine.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time

ITEMS = 150_000


def work(n: int) -> float:
    """Seconds for ``n`` rounds of encoding, decoding and storing a small object."""
    kept = {}
    start = time.perf_counter()
    for i in range(n):
        text = json.dumps({"a": i, "b": [i, i + 1], "c": "x" * 20})
        kept[text[:10]] = json.loads(text)
    return time.perf_counter() - start


def timed(cores: list[int]) -> list[float]:
    """One child per core in ``cores``, started together; their times."""
    children = [subprocess.Popen([sys.executable, __file__, "--child", str(core)],
                                 stdout=subprocess.PIPE, text=True) for core in cores]
    return [float(child.communicate()[0]) for child in children]


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        os.sched_setaffinity(0, {int(sys.argv[2])})
        print(work(ITEMS))
        return
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    ratios = []
    for _ in range(rounds):
        alone = timed([0]) + timed([1])
        together = timed([0, 1])
        ratios.append(sum(together) / sum(alone))
        print(f"alone {alone[0]:.3f} / {alone[1]:.3f} s, together {together[0]:.3f} / "
              f"{together[1]:.3f} s, ratio {ratios[-1]:.3f}", flush=True)
    print(f"ratio median {statistics.median(ratios):.3f}, min {min(ratios):.3f}, "
          f"max {max(ratios):.3f} over {rounds} rounds")


if __name__ == "__main__":
    main()
