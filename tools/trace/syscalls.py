"""System calls per request of a server's main thread and of its other threads (strace).

    .venv/bin/python tools/trace/syscalls.py KIND C [--threads T] [--requests 1000]

One server of a single process (aiohttp, aiohttp-executor, aiohttp-mixed, django-gthread with one
worker, or django-asgi / django-asgi-sync under uvicorn with one), sleep 0, warmed as `asim
calibrate` warms it; then ``strace -f -p`` on its process (every thread) during one
``ab -n N -c C``. Printed: the calls per request by name, the main thread's and the others' apart.
CPython lets go of the GIL around each blocking call, so the calls other than futex are where a
thread hands the GIL over when others wait for it; the futex calls are those hand-overs and the
pool's queue (their count under strace, which slows every call, is not the count without it).
Root; an otherwise idle machine (docs/notes/measurements.md 52.2 and 53.1).
"""

from __future__ import annotations

import argparse
import re
import signal
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path

from common import Server, ab

from asim.lab.measure import WARMUP_C, WARMUP_N
from asim.lab.procs import ServerSpec, running_server

CALL = re.compile(r"(\d+)\s+(\w+)\(")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind")
    parser.add_argument("concurrency", type=int)
    parser.add_argument("--threads", type=int)
    parser.add_argument("--requests", type=int, default=1000)
    args = parser.parse_args()
    spec = ServerSpec(kind=args.kind, sleep_s=0.0, threads=args.threads)
    with running_server(spec) as running, tempfile.TemporaryDirectory() as tmp:
        srv = Server(args.kind, running.port, running.pid)
        pid = srv.pids()[0]
        ab(srv, WARMUP_N, WARMUP_C)
        out = Path(tmp) / "strace.txt"
        tracer = subprocess.Popen(["strace", "-f", "-qq", "-o", str(out), "-p", str(pid)])
        time.sleep(1.0)  # strace attaches to every thread
        run = ab(srv, args.requests, args.concurrency)
        tracer.send_signal(signal.SIGINT)
        tracer.wait()
        calls: dict[str, Counter[str]] = {"main": Counter(), "others": Counter()}
        for line in out.read_text().splitlines():
            match = CALL.match(line)
            if match:
                calls["main" if match[1] == str(pid) else "others"][match[2]] += 1
    rps = run.report.requests_per_second if run.report else float("nan")
    print(f"{args.kind} (threads {args.threads or 'default'}), C = {args.concurrency}, "
          f"{args.requests} requests, {rps:.0f} requests/s under strace")
    for who, counter in calls.items():
        total = sum(counter.values()) / args.requests
        names = ", ".join(f"{name} {count / args.requests:.2f}"
                          for name, count in counter.most_common())
        print(f"  {who}: {total:.2f} per request: {names}")


if __name__ == "__main__":
    main()
