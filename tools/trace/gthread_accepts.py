"""Which gthread worker accepts each connection, and how many connections each worker holds.

    .venv/bin/python tools/trace/gthread_accepts.py [SLEEP] [-c 10] [-n 600] [--runs 3]

Starts `asim serve django-gthread`'s server (2 workers of 8 threads, the view sleeping SLEEP,
default 0.05 s) and runs ab -n N -c C against it RUNS times, each under perf's syscall
tracepoints for accept4() and close() in both workers. A connection belongs to the worker whose
main thread accepted it until that main thread closes its descriptor (gunicorn 27's
finish_request closes on the main thread, after close_graceful has seen ab's FIN; the pool
threads' closes are their selectors'). Per run: RPS and ab's longest request, the requests each
worker accepted, the most connections each held at once, the share of the run's time spent at
each split of the connections, and the order of the first 120 accepts (A: the first worker,
B: the second). A worker that holds more connections than its 8 threads queues the rest for a
whole sleep. Root and perf (docs/notes/measurements.md section 46).
"""

from __future__ import annotations

import argparse
import collections
import subprocess
import tempfile
from pathlib import Path

from common import ab
from loop_gaps import mount_tracefs, recording

from asim.lab.procs import ServerSpec, group_members, running_server

EVENTS = ("syscalls:sys_exit_accept4", "syscalls:sys_enter_close")
WORKERS, THREADS = 2, 8


def held(data: Path, workers: list[int]) -> tuple[collections.Counter, dict, dict, str]:
    """Accepts per worker, each worker's peak of connections held, the time share of each
    (A, B) split, and the accept order."""
    text = subprocess.run(["perf", "script", "-i", str(data), "-F", "pid,tid,time,event,trace"],
                          capture_output=True, text=True).stdout
    fds: dict[int, set[int]] = {pid: set() for pid in workers}
    accepted: collections.Counter = collections.Counter()
    peak = dict.fromkeys(workers, 0)
    split_s: collections.Counter = collections.Counter()
    order, last = [], None
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 4:
            continue
        pid, tid = (int(x) for x in fields[0].split("/"))
        if pid not in fds:
            continue
        now = float(fields[1].rstrip(":"))
        if last is not None:
            split_s[tuple(len(fds[w]) for w in workers)] += now - last
        last = now
        value = int(fields[-1], 16)
        if "accept4" in line and value < 1 << 31:  # not an error (EAGAIN: another worker won)
            fds[pid].add(value)
            accepted[pid] += 1
            order.append("AB"[workers.index(pid)])
            peak[pid] = max(peak[pid], len(fds[pid]))
        elif "close" in line and tid == pid:
            fds[pid].discard(value)
    total = sum(split_s.values()) or 1.0
    return accepted, peak, {k: v / total for k, v in split_s.items()}, "".join(order)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sleep", nargs="?", type=float, default=0.05)
    parser.add_argument("-c", type=int, default=10)
    parser.add_argument("-n", type=int, default=600)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    mount_tracefs()
    spec = ServerSpec(kind="django-gthread", sleep_s=args.sleep, workers=WORKERS,
                      threads=THREADS)
    with running_server(spec) as srv, tempfile.TemporaryDirectory() as tmp:
        workers = sorted(p for p in group_members(srv.pid) if p != srv.pid)
        data = Path(tmp) / "perf.data"
        ab(srv, max(100, args.c), args.c)  # every pool thread made, both workers warm
        for _ in range(args.runs):
            with recording(data, events=EVENTS, pids=workers):
                run = ab(srv, args.n, args.c)
            accepted, peak, splits, order = held(data, workers)
            report = run.checked()
            print(f"ab -n {args.n} -c {args.c}: {report.requests_per_second:.1f} requests/s, "
                  f"longest {report.percentiles_ms[100]:.0f} ms; accepted "
                  f"{' / '.join(str(accepted[w]) for w in workers)}, most held at once "
                  f"{' / '.join(str(peak[w]) for w in workers)} (threads: {THREADS} each)")
            top = sorted(splits.items(), key=lambda kv: -kv[1])[:8]
            print("  time at each split: " + ", ".join(f"{a}/{b} {share:.0%}"
                                                       for (a, b), share in top))
            print(f"  accept order: {order[:120]}", flush=True)


if __name__ == "__main__":
    main()
