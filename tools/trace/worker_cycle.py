"""One gunicorn worker's request cycle, split at the server trace's timestamps.

    .venv/bin/python tools/trace/worker_cycle.py WORKERS SLEEP CONCURRENCY REQUESTS

Runs Django under gunicorn (WORKERS sync workers, the view sleeps SLEEP seconds) with the server
trace on, warms it with 20 requests, runs ab -n REQUESTS -c CONCURRENCY, and prints the median
and mean of each part of a worker's cycle from one accept to its next: accept -> request parsed,
parsed -> view start, the view, view end -> the client's close seen (response, ab's read and
close, the worker's wake-up), close -> next accept; and how many other workers started a view
within 0.5 ms of each one (how much the workers move in step).
"""

from __future__ import annotations

import collections
import statistics
import sys
import tempfile
from pathlib import Path

from asim.lab.abrun import run_ab
from asim.lab.procs import ServerSpec, running_server

PARTS = ("accept->parsed", "parsed->view", "view", "view end->close", "close->next accept")


def main() -> None:
    workers, sleep_s = int(sys.argv[1]), float(sys.argv[2])
    concurrency, requests = int(sys.argv[3]), int(sys.argv[4])
    trace = Path(tempfile.mkdtemp()) / "worker.trace"
    trace.touch()
    spec = ServerSpec(kind="django", sleep_s=sleep_s, workers=workers)
    with running_server(spec, trace_file=trace) as srv:
        run_ab(srv.url, requests=20, concurrency=1).checked()
        trace.write_text("")
        report = run_ab(srv.url, requests=requests, concurrency=concurrency).checked()
    print(f"ab -n {requests} -c {concurrency}: {report.requests_per_second:.1f} RPS,"
          f" p50 {report.percentiles_ms[50]} ms, p90 {report.percentiles_ms[90]} ms")
    by_worker: dict[str, list[list[int]]] = collections.defaultdict(list)
    for line in trace.read_text().splitlines():
        cols = line.split("\t")
        by_worker[cols[1]].append([int(x) for x in cols[3:8]])
    parts: dict[str, list[int]] = collections.defaultdict(list)
    for rows in by_worker.values():
        rows.sort()
        for (accept, parsed, start, end, close), nxt in zip(rows, rows[1:], strict=False):
            for name, us in zip(
                (*PARTS, "cycle"),
                (parsed - accept, start - parsed, end - start, close - end, nxt[0] - close,
                 nxt[0] - accept),
                strict=True,
            ):
                parts[name].append(us)
    for name, values in parts.items():
        print(f"{name:20s} median {statistics.median(values) / 1000:7.3f} ms"
              f"  mean {statistics.mean(values) / 1000:7.3f} ms")
    starts = sorted((r[2], pid) for pid, rows in by_worker.items() for r in rows)
    near = [sum(1 for t2, p2 in starts if abs(t2 - t) < 500 and p2 != p) for t, p in starts]
    print(f"other workers starting a view within 0.5 ms: {statistics.mean(near):.2f} on average")


if __name__ == "__main__":
    main()
