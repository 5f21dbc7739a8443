"""Which gunicorn worker accepts each connection when several are idle.

    .venv/bin/python tools/trace/herd_order.py WORKERS SLEEP CONCURRENCY

Runs Django under gunicorn with WORKERS sync workers and the server trace on, then
ab -n 1000 -c CONCURRENCY, and prints how often consecutive requests (in accept order) were
served by the same worker, and for each request the worker's rank in most-recently-idle order
(0 = the worker that served the request before, -1 = first request of that worker).
"""

from __future__ import annotations

import collections
import sys
import tempfile
from pathlib import Path

from asim.lab.abrun import run_ab
from asim.lab.procs import ServerSpec, running_server


def main() -> None:
    workers, sleep_s, concurrency = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
    trace = Path(tempfile.mkdtemp()) / "herd.trace"
    trace.touch()
    spec = ServerSpec(kind="django", sleep_s=sleep_s, workers=workers)
    with running_server(spec, trace_file=trace) as srv:
        run_ab(srv.url, requests=20, concurrency=1).checked()
        report = run_ab(srv.url, requests=1000, concurrency=concurrency).checked()
    print(f"ab -n 1000 -c {concurrency}: {report.requests_per_second:.0f} RPS")
    rows = [line.split("\t") for line in trace.read_text().splitlines()][-1000:]
    rows.sort(key=lambda r: int(r[3]))  # accept time
    pids = [r[1] for r in rows]
    same = sum(1 for a, b in zip(pids, pids[1:], strict=False) if a == b)
    print(f"same worker as the request before: {same} / {len(pids) - 1}")
    ranks, recent = [], []
    for pid in pids:
        ranks.append(len(recent) - 1 - recent.index(pid) if pid in recent else -1)
        if pid in recent:
            recent.remove(pid)
        recent.append(pid)
    print("rank in most-recently-idle order:", dict(sorted(collections.Counter(ranks).items())))
    print("requests per worker:", dict(collections.Counter(pids)))


if __name__ == "__main__":
    main()
