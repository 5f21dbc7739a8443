"""One gunicorn worker's request cycle, split at the server trace's timestamps.

    .venv/bin/python tools/trace/worker_cycle.py WORKERS SLEEP CONCURRENCY REQUESTS [--model FILE]

Runs Django under gunicorn (WORKERS sync workers, the view sleeps SLEEP seconds) with the server
trace on, warms it with 20 requests, runs ab -n REQUESTS -c CONCURRENCY, and prints the median
and mean of each part of a worker's cycle from one accept to its next: accept -> request parsed,
parsed -> view start, the view, view end -> the client's close seen (response, ab's read and
close, the worker's wake-up), close -> next accept; and how many other workers started a view
within 0.5 ms of each one (how much the workers move in step).

With ``--model FILE`` it prints the same parts of the model's run with that calibration file's
costs instead (nothing is measured): the model's worker has no separate parse step, so its
first two parts are one, "accept->view"; its view ends when the sleep does, and the wait for a
core after it falls into "view end->close" (a real view ends once its thread runs again).
"""

from __future__ import annotations

import collections
import statistics
import sys
import tempfile
from pathlib import Path

from asim.lab.abrun import run_ab
from asim.lab.procs import ServerSpec, running_server
from asim.sim import workerpool
from asim.sim.model import simulate
from asim.sim.spec import Scenario

PARTS = ("accept->parsed", "parsed->view", "view", "view end->close", "close->next accept")


def print_parts(parts: dict[str, list[float]]) -> None:
    for name, values in parts.items():
        print(f"{name:20s} median {statistics.median(values) / 1000:7.3f} ms"
              f"  mean {statistics.mean(values) / 1000:7.3f} ms")


def model(workers: int, sleep_s: float, concurrency: int, requests: int, path: str) -> None:
    """The model's cycle parts: its worker's steps stamped as the run goes (microseconds)."""
    from asim.calibration.file import load

    stamps: dict[int, list[list[float]]] = collections.defaultdict(list)
    pool = workerpool.WorkerPoolServer

    def stamped(name: str, at: int):
        """``name`` wrapped to stamp column ``at`` of its worker's current row."""
        method = getattr(pool, name)

        def wrapper(self, arg):
            worker = arg if isinstance(arg, workerpool.Worker) else arg.worker
            rows = stamps[worker.index] if worker is not None else None
            if rows and rows[-1][at] is None:
                rows[-1][at] = self.env.now * 1e6
            return method(self, arg)
        return wrapper

    pool._view = stamped("_view", 1)  # the view starts: the request's CPU is done
    pool._respond = stamped("_respond", 2)  # the sleep is over
    pool._closed = stamped("_closed", 3)  # the client's close handled
    accept = pool._accept

    def accepted(self, worker):
        accept(self, worker)
        if worker.conn is not None:
            stamps[worker.index].append([self.env.now * 1e6, None, None, None])
    pool._accept = accepted
    costs = load(Path(path)).costs
    run = simulate(Scenario(server="django", workers=workers, sleep_s=sleep_s,
                            concurrency=concurrency, requests=requests), costs=costs,
                   keep_records=True, fast_forward=False)
    print(f"model: {run.report.requests_per_second:.1f} RPS, p50 {run.report.percentiles_ms[50]}"
          f" ms, p90 {run.report.percentiles_ms[90]} ms")
    parts: dict[str, list[float]] = collections.defaultdict(list)
    for rows in stamps.values():
        rows = [r for r in rows if None not in r]
        for (acc, start, end, close), nxt in zip(rows, rows[1:], strict=False):
            for name, us in zip(("accept->view", "view", "view end->close",
                                 "close->next accept", "cycle"),
                                (start - acc, end - start, close - end, nxt[0] - close,
                                 nxt[0] - acc), strict=True):
                parts[name].append(us)
    print_parts(parts)


def main() -> None:
    workers, sleep_s = int(sys.argv[1]), float(sys.argv[2])
    concurrency, requests = int(sys.argv[3]), int(sys.argv[4])
    if "--model" in sys.argv:
        model(workers, sleep_s, concurrency, requests, sys.argv[sys.argv.index("--model") + 1])
        return
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
        if "-" not in cols[3:8]:  # a request the server did not see through (no stamp)
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
    print_parts(parts)
    starts = sorted((r[2], pid) for pid, rows in by_worker.items() for r in rows)
    near = [sum(1 for t2, p2 in starts if abs(t2 - t) < 500 and p2 != p) for t, p in starts]
    print(f"other workers starting a view within 0.5 ms: {statistics.mean(near):.2f} on average")


if __name__ == "__main__":
    main()
