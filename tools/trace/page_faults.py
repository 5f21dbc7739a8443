"""Minor page faults per request of a running server, run after run.

    .venv/bin/python tools/trace/page_faults.py KIND NxC [NxC ...]

Starts one server (KIND aiohttp, aiohttp-blocking or django; sleep 0, one worker), serves 20
requests at C = 1, then runs `ab -n N -c C` for each NxC in order and prints the server
processes' minor faults (/proc/<pid>/stat, field 10) per request and the RPS of each run.
A fresh aiohttp process at C = 1 takes two faults per request until a run with several clients
at once; glibc's MALLOC_MMAP_THRESHOLD_ and MALLOC_TRIM_THRESHOLD_ in the environment reach the
server and show where the faults come from.
"""

from __future__ import annotations

import sys

from asim.lab.abrun import run_ab
from asim.lab.procs import RunningServer, ServerSpec, running_server


def minor_faults(server: RunningServer) -> int:
    total = 0
    for pid in server.pids():
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[7])  # minflt: field 10 of stat, the 8th after "pid (comm)"
    return total


def main() -> None:
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    kind = sys.argv[1]
    plan = [tuple(int(x) for x in arg.split("x")) for arg in sys.argv[2:]]
    with running_server(ServerSpec(kind=kind, sleep_s=0.0, workers=1)) as server:
        run_ab(server.url, requests=20, concurrency=1).checked()
        for n, c in plan:
            before = minor_faults(server)
            report = run_ab(server.url, requests=n, concurrency=c).checked()
            faults = (minor_faults(server) - before) / n
            print(f"ab -n {n} -c {c}: {report.requests_per_second:7.0f} RPS, "
                  f"{faults:.2f} minor faults / request", flush=True)


if __name__ == "__main__":
    main()
