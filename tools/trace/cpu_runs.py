"""Run-to-run spread of throughput and CPU per request on one running server.

    .venv/bin/python tools/trace/cpu_runs.py KIND WORKERS C1,C2,... REQUESTS REPEATS [SLEEP]

Starts one server (KIND aiohttp, aiohttp-blocking or django), warms it with 20 requests, then
runs ab -n REQUESTS -c C for each C, REPEATS rounds, and prints per run: RPS, the server
group's CPU per request (/proc/<pid>/task/*/schedstat), ab's (getrusage of children), and the
cores both used together (CPU seconds / wall seconds).
"""

from __future__ import annotations

import sys

from asim.lab.abrun import run_ab
from asim.lab.measure import children_cpu_s, group_cpu_s
from asim.lab.procs import ServerSpec, running_server


def main() -> None:
    kind, workers = sys.argv[1], int(sys.argv[2])
    concurrencies = [int(x) for x in sys.argv[3].split(",")]
    requests, repeats = int(sys.argv[4]), int(sys.argv[5])
    sleep_s = float(sys.argv[6]) if len(sys.argv) > 6 else 0.0
    with running_server(ServerSpec(kind=kind, sleep_s=sleep_s, workers=workers)) as srv:
        run_ab(srv.url, requests=20, concurrency=1).checked()
        for _ in range(repeats):
            for c in concurrencies:
                s0, a0 = group_cpu_s(srv), children_cpu_s()
                rep = run_ab(srv.url, requests=requests, concurrency=c).checked()
                s1, a1 = group_cpu_s(srv), children_cpu_s()
                done = rep.complete_requests
                print(
                    f"{kind} w{workers} c{c:4d} rps {rep.requests_per_second:7.0f}"
                    f" server_us {1e6 * (s1 - s0) / done:6.1f} ab_us {1e6 * (a1 - a0) / done:6.1f}"
                    f" cores {(s1 - s0 + a1 - a0) / rep.time_taken_s:4.2f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
