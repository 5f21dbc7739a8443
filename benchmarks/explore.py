"""How fast the explore page's answer comes back: one change of the controls, over HTTP.

    .venv/bin/python benchmarks/explore.py

Starts the explore app on a free loopback port in this process and times ``GET /api/predict``
(the model's points and ab's text for each) and ``GET /api/timeline`` (the clicked point's small
run), best and median of `REPEATS` wall-clock runs. The goal for the seed-sized grid (aiohttp
and Django W=1, sleep 0.1 s, -n 100) is under 0.3 s. On a shared machine wall time also counts
the time other processes held the cores.
"""

from __future__ import annotations

import asyncio
import statistics
import time

from aiohttp.test_utils import TestClient, TestServer

from asim.explore.app import make_app
from asim.explore.grid import MAX_SIMULATED_REQUESTS

REPEATS = 7
GOAL_S = 0.3
CASES = (
    ("seed-sized grid: 2 shapes x 4 C (10..40), -n 100",
     "/api/predict?c_from=10&c_to=40&c_step=10"),
    ("page default: 2 shapes x C 5..40 step 5", "/api/predict"),
    ("with MVA and bounds overlaid", "/api/predict?method=mva,bounds"),
    ("near the limit: 3 shapes, W 1,4, C 5..100 step 5, -n 500",
     "/api/predict?server=aiohttp,aiohttp-blocking,django&workers=1,4&c_from=5&c_to=100"
     "&c_step=5&requests=500"),
    ("timeline of a clicked point (django W=1, C=40)", "/api/timeline?server=django&c=40"),
)


async def timings() -> list[tuple[str, list[float]]]:
    out = []
    async with TestClient(TestServer(make_app())) as client:
        for label, path in CASES:
            runs = []
            for _ in range(REPEATS):
                t0 = time.perf_counter()
                response = await client.get(path)
                await response.read()
                runs.append(time.perf_counter() - t0)
                assert response.status == 200, await response.text()
            out.append((label, runs))
    return out


def main() -> None:
    print(f"explore: wall time of one answer over HTTP, best / median of {REPEATS} "
          f"(page limit {MAX_SIMULATED_REQUESTS:,} simulated requests per change)")
    for label, runs in asyncio.run(timings()):
        best, med = min(runs), statistics.median(runs)
        mark = "  (goal < 0.3 s)" if label.startswith("seed") else ""
        print(f"  {label:58} {best:6.3f} / {med:6.3f} s{mark}")


if __name__ == "__main__":
    main()
