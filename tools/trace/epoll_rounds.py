"""How many select() rounds aiohttp's loop makes per request: epoll_wait calls counted by perf's
syscall tracepoint (no strace slowdown) around three ``ab -n N -c C`` runs.

    .venv/bin/python tools/trace/epoll_rounds.py SLEEP C N

Needs perf and the tracefs (mounted here if missing; root). Run it on an otherwise idle machine;
compare with the model's ``SimRun.loop_iterations / N`` (docs/notes/measurements.md 33).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ab, server

TRACEFS = Path("/sys/kernel/tracing")
EVENT = "syscalls:sys_enter_epoll_wait"


def main() -> None:
    sleep_s, concurrency, requests = float(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    if not (TRACEFS / "events").is_dir():
        subprocess.run(["mount", "-t", "tracefs", "nodev", str(TRACEFS)], check=True)
    with server("aiohttp", sleep_s) as srv, tempfile.NamedTemporaryFile("r") as out:
        ab(srv, 500, concurrency)  # warm up
        for _ in range(3):
            perf = subprocess.Popen(["perf", "stat", "-e", EVENT, "-p", str(srv.pid),
                                     "-o", out.name])
            time.sleep(0.3)  # perf attaches
            run = ab(srv, requests, concurrency)
            perf.send_signal(signal.SIGINT)
            perf.wait()
            calls = next(int(line.split()[0].replace(",", ""))
                         for line in Path(out.name).read_text().splitlines() if EVENT in line)
            rps = run.report.requests_per_second if run.report else float("nan")
            print(f"sleep {sleep_s:g} C {concurrency}: {rps:.0f} requests/s, {calls} epoll_wait "
                  f"calls, {calls / requests:.2f} per request")


if __name__ == "__main__":
    main()
