"""Measure the points the lecture's memory figure overlays on the model, and write them to
asim/lecture/memory_measured.json (with when, where and how they were measured).

    PYTHONPATH=. python tools/memory_points.py [SERVER:WORKERS:CLIENTS ...]

With arguments only those points are measured again; the file keeps the others.

Each point: a fresh server, a warm-up burst, then ``ab -n C -c C`` against a handler that sleeps
long enough for all C requests to be held at once, the group's peak anonymous PSS sampled every
50 ms (`asim.lab.memory.measure_memory`). Only runs that ab finished cleanly are written.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from asim.errors import AsimError
from asim.lab.facts import machine_facts
from asim.lab.memory import measure_memory

OUT = Path(__file__).resolve().parents[1] / "asim" / "lecture" / "memory_measured.json"
# (server, workers, clients, handler sleep s): the event loop up to thousands of clients, a
# worker per client, and a fixed pool of 8 workers under many clients
POINTS = (
    ("aiohttp", 1, 10, 2.0), ("aiohttp", 1, 100, 2.0), ("aiohttp", 1, 1000, 4.0),
    ("aiohttp", 1, 3000, 8.0), ("aiohttp", 1, 10000, 15.0),
    ("django", 1, 1, 1.0), ("django", 4, 4, 1.0), ("django", 16, 16, 1.0),
    ("django", 64, 64, 1.0),
    ("django", 8, 100, 0.1), ("django", 8, 1000, 0.02),
)


def main(only: list[str]) -> int:
    kept = json.loads(OUT.read_text(encoding="utf-8"))["points"] if only and OUT.exists() else []
    chosen = [p for p in POINTS if not only or f"{p[0]}:{p[1]}:{p[2]}" in only]
    kept = [p for p in kept if f"{p['server']}:{p['workers']}:{p['concurrency']}" not in only]
    points = []
    for server, workers, clients, sleep_s in chosen:
        try:
            # 64 gunicorn workers each import Django: minutes on a busy 2-core machine
            run = measure_memory(server, workers=workers, concurrency=clients, sleep_s=sleep_s,
                                 ready_timeout_s=300.0)
        except AsimError as exc:
            print(f"skipped {server} W={workers} C={clients}: {exc}", file=sys.stderr)
            continue
        print(f"{server} W={workers} C={clients}: idle {run.idle_mb:.1f} MiB, "
              f"peak {run.peak_mb:.1f} MiB (RSS {run.peak_rss_mb:.1f})", flush=True)
        points.append({"server": server, "workers": workers, "concurrency": clients,
                       "sleep_s": sleep_s, "memory_mb": round(run.peak_mb, 2),
                       "idle_mb": round(run.idle_mb, 2), "rss_mb": round(run.peak_rss_mb, 2)})
    doc = {
        "quantity": "peak anonymous PSS of the server's process group during ab -n C -c C, MiB",
        "measured": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine_facts(),
        "command": "PYTHONPATH=. python tools/memory_points.py",
        "points": sorted(kept + points, key=lambda p: (p["server"], p["workers"],
                                                       p["concurrency"])),
    }
    OUT.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
