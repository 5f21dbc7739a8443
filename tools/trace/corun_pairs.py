"""What a busy second core costs the lab's own work: one server and its ab pinned to one core,
alone and beside a second such pair on the other core.

    .venv/bin/python tools/trace/corun_pairs.py [KIND] [ROUNDS] [REQUESTS]

Each pair is the lab's KIND server at sleep 0 and ``ab -n REQUESTS -c 1`` pinned together to one
core (C = 1: the two take turns, so the core is busy the whole run and the other core idles).
Each round runs pair 0 alone, pair 1 alone, then both at once, and prints the requests per
second and the ratio of the alone rates to the together rates (1.0: a busy second core costs
nothing; 1.1: the work needs 10 % more time beside it). KIND defaults to aiohttp (django:
one gunicorn worker), ROUNDS to 8, REQUESTS to 3000. Run it on an otherwise idle machine.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import sys
from concurrent.futures import ThreadPoolExecutor

from common import Server, ab, group_members, server

CORES = (0, 1)


def pinned_rate(srv: Server, core: int, requests: int) -> float:
    """``ab -n requests -c 1`` against ``srv`` from this thread pinned to ``core`` (ab inherits
    the calling thread's affinity); its requests per second."""
    os.sched_setaffinity(0, {core})
    run = ab(srv, requests, 1)
    if run.report is None:
        raise SystemExit(f"ab printed no report: {run.stderr.strip()}")
    return run.report.requests_per_second


def main() -> None:
    kind = sys.argv[1] if len(sys.argv) > 1 else "aiohttp"
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    requests = int(sys.argv[3]) if len(sys.argv) > 3 else 3000
    ratios = []
    with contextlib.ExitStack() as stack, ThreadPoolExecutor(len(CORES)) as pool:
        servers = [stack.enter_context(server(kind, 0.0)) for _ in CORES]
        for srv, core in zip(servers, CORES, strict=True):
            for pid in group_members(srv.pid):
                os.sched_setaffinity(pid, {core})
            pinned_rate(srv, core, requests // 3)  # warm up
        pairs = list(zip(servers, CORES, strict=True))
        for _ in range(rounds):
            alone = [pool.submit(pinned_rate, s, c, requests).result() for s, c in pairs]
            together = [f.result() for f in [pool.submit(pinned_rate, s, c, requests)
                                             for s, c in pairs]]
            ratios.append(sum(alone) / sum(together))
            print(f"alone {alone[0]:.0f} / {alone[1]:.0f}, together {together[0]:.0f} / "
                  f"{together[1]:.0f} requests/s, ratio {ratios[-1]:.3f}", flush=True)
    print(f"{kind}: ratio median {statistics.median(ratios):.3f}, min {min(ratios):.3f}, "
          f"max {max(ratios):.3f} over {rounds} rounds")


if __name__ == "__main__":
    main()
