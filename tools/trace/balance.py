"""How a multi-worker server shares one ab run between its workers: each process's CPU and
its main thread's voluntary context switches over the run.

    .venv/bin/python tools/trace/balance.py KIND WORKERS SLEEP C N [THREADS]

One server, a warm-up burst, then three runs of ab -n N -c C; per run: RPS, time per request
and, per process of the group (supervisor or master first), CPU seconds (utime + stime) and
its main thread's voluntary context switches. docs/notes/measurements.md sections 27.3 and 27.4.
"""

from __future__ import annotations

import sys
import time

from common import proc_cpu, switches

from asim.lab.abrun import run_ab
from asim.lab.procs import ServerSpec, running_server


def cpu_s(pid: int) -> float:
    utime, stime, _ = proc_cpu(pid)
    return utime + stime


def wakes(pid: int) -> int:
    """The main thread's voluntary context switches so far."""
    return switches([pid])[0]


def main() -> None:
    kind, workers, sleep_s = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    c, n = int(sys.argv[4]), int(sys.argv[5])
    threads = int(sys.argv[6]) if len(sys.argv) > 6 else None
    spec = ServerSpec(kind=kind, sleep_s=sleep_s, workers=workers, threads=threads)
    with running_server(spec) as srv:
        run_ab(srv.url, requests=200, concurrency=20).checked()
        time.sleep(0.5)
        for _ in range(3):
            pids = srv.pids()
            before = {p: (cpu_s(p), wakes(p)) for p in pids}
            report = run_ab(srv.url, requests=n, concurrency=c).checked()
            split = " ".join(f"{p}:{cpu_s(p) - before[p][0]:.2f}s/{wakes(p) - before[p][1]}w"
                             for p in pids)
            print(f"rps {report.requests_per_second:.1f} tpr {report.time_per_request_ms:.1f} "
                  f"{split}", flush=True)


if __name__ == "__main__":
    main()
