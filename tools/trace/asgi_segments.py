"""Where Django's ASGI path spends the loop thread's CPU between its awaits, per request.

    .venv/bin/python tools/trace/asgi_segments.py [async|sync] [REQUESTS]

Starts uvicorn (one worker, asyncio + h11, as `asim serve django-asgi` does) on
asgi_segments_app.py, the lab's Django application with the loop thread's CPU clock read at
every boundary of a request (sync_to_async out and back, the view's sleep, the application
called and returned), warms it with 200 requests, runs ab -n REQUESTS -c 1 (one request at a
time: nothing else runs on the loop between two marks of a request), stops the server and prints
the median CPU of each segment between consecutive marks, in µs. The view sleeps 1 ms.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from common import HOST, Server, _wait_ready, ab

from asim.lab.procs import free_port

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def traced_run(view: str, sleep_s: float, c: int, n: int):
    """uvicorn (one worker) on asgi_segments_app.py with the view sleeping ``sleep_s``, 200
    requests at ``c`` to warm it, then ab -n ``n`` -c ``c``: that run and every traced event
    (request number, mark, loop CPU clock, wall clock)."""
    port = free_port()
    out = Path(tempfile.mkdtemp()) / "segments.jsonl"
    env = {**os.environ, "ASIM_SLEEP_S": repr(sleep_s), "ASIM_DJANGO_VIEW": view,
           "ASIM_SEGMENTS_OUT": str(out), "PYTHONPATH": f"{ROOT}:{HERE}"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "asgi_segments_app:application", "--host", HOST,
         "--port", str(port), "--workers", "1", "--loop", "asyncio", "--http", "h11",
         "--no-access-log", "--log-level", "warning"], env=env, cwd=HERE,
        start_new_session=True)
    try:
        _wait_ready(port, proc)
        srv = Server("django-asgi", port, proc.pid)
        ab(srv, 200, c)
        run = ab(srv, n, c)
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=20)
    return run, [json.loads(line) for line in out.read_text().splitlines()]


def main() -> None:
    view = sys.argv[1] if len(sys.argv) > 1 else "async"
    requests = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    _, events = traced_run(view, 0.001, 1, requests)
    by_request: dict[int, list] = {}
    for number, name, cpu, wall in events:
        by_request.setdefault(number, []).append((name, cpu, wall))
    requests_marks = [by_request[n] for n in sorted(by_request) if n >= 200]  # not the warm-up
    shapes = {tuple(m[0] for m in r) for r in requests_marks}
    print(f"{len(requests_marks)} requests, {len(shapes)} mark sequence(s)")
    seq = max(shapes, key=lambda s: sum(1 for r in requests_marks
                                         if tuple(m[0] for m in r) == s))
    same = [r for r in requests_marks if tuple(m[0] for m in r) == seq]
    total = []
    for i in range(1, len(seq)):
        cpu = [1e6 * (r[i][1] - r[i - 1][1]) for r in same]
        wall = [1e6 * (r[i][2] - r[i - 1][2]) for r in same]
        total.append(statistics.median(cpu))
        print(f"{seq[i - 1]:>12} -> {seq[i]:<12} CPU {statistics.median(cpu):7.1f} us   "
              f"wall {statistics.median(wall):7.1f} us")
    print(f"loop CPU inside the application, sum of medians: {sum(total):.0f} us "
          f"({len(same)} requests with the sequence above)")


if __name__ == "__main__":
    main()
