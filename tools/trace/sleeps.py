"""How long asyncio.sleep(S) and time.sleep(S) really last inside a running event loop, and
what that adds to ab's Total at C=1.

    .venv/bin/python tools/trace/sleeps.py

Part 1: in one asyncio loop (no server), K sleeps of each kind for S = 0.001, 0.01, 0.1;
overshoot = measured - S (perf_counter), mean / p50 / p99 in µs.
Part 2: each server with S, ab -c 1: time taken / n - S and Total mean - S.
Results to out/sleeps/summary.json and stdout.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time

from common import OUT, ab, log, numbers, server

DIR = OUT / "sleeps"
COUNTS = {0.001: 1000, 0.01: 300, 0.1: 50}
AB_N = {0.0: 500, 0.001: 500, 0.01: 200, 0.1: 30}


def pct(v: list[float], p: float) -> float:
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * p / 100))]


def stats_us(over_s: list[float]) -> dict:
    us = [x * 1e6 for x in over_s]
    return {"n": len(us), "mean_us": round(statistics.fmean(us), 1),
            "p50_us": round(statistics.median(us), 1), "p99_us": round(pct(us, 99), 1),
            "min_us": round(min(us), 1), "max_us": round(max(us), 1)}


async def in_loop(sleep_s: float, count: int) -> dict:
    a, t = [], []
    for _ in range(count):
        s = time.perf_counter()
        await asyncio.sleep(sleep_s)
        a.append(time.perf_counter() - s - sleep_s)
    for _ in range(count):
        s = time.perf_counter()
        time.sleep(sleep_s)
        t.append(time.perf_counter() - s - sleep_s)
    return {"asyncio.sleep": stats_us(a), "time.sleep": stats_us(t)}


def main() -> None:
    DIR.mkdir(parents=True, exist_ok=True)
    res: dict = {"in_loop": {}, "ab_c1": []}
    for s, k in COUNTS.items():
        res["in_loop"][str(s)] = asyncio.run(in_loop(s, k))
        log("loop", s, res["in_loop"][str(s)])
    for kind in ("aiohttp", "aiohttp-blocking", "django"):
        for s, n in AB_N.items():
            with server(kind, s) as srv:
                ab(srv, 50 if s < 0.1 else 5, 1)  # warm-up
                p = numbers(ab(srv, n, 1))
            row = {"server": kind, "sleep_s": s, "n": n,
                   "per_req_minus_sleep_us": round((p["time_taken_s"] / n - s) * 1e6, 1),
                   "total_mean_minus_sleep_ms": p["total"]["mean"] - s * 1000,
                   "total_min_ms": p["total"]["min"], "total_max_ms": p["total"]["max"]}
            log("ab", row)
            res["ab_c1"].append(row)
    (DIR / "summary.json").write_text(json.dumps(res, indent=1))
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
