"""User against system CPU per request of a server, at C = 1 and C = 20 (sleep 0).

    .venv/bin/python tools/trace/usersys.py KIND THREADS N

THREADS 0: the shape's default. One server, a warm-up burst, then ab -n N at C = 1, 20, 1, 20;
per run the process's (all threads, the ended ones too) and its main thread's user and system
time per request from /proc (10 ms ticks: use N large enough for a few seconds of CPU).
docs/notes/measurements.md sections 27.6 and 30.1.
"""

from __future__ import annotations

import sys

from common import user_sys_s

from asim.lab.abrun import run_ab
from asim.lab.procs import ServerSpec, running_server


def main() -> None:
    kind, threads, n = sys.argv[1], int(sys.argv[2]) or None, int(sys.argv[3])
    with running_server(ServerSpec(kind=kind, sleep_s=0.0, workers=1, threads=threads)) as srv:
        pid = srv.pids()[-1]  # the worker (the last member); aiohttp: the only one
        run_ab(srv.url, requests=300, concurrency=20).checked()
        for c in (1, 20, 1, 20):
            paths = (f"/proc/{pid}/stat", f"/proc/{pid}/task/{pid}/stat")
            before = [user_sys_s(p) for p in paths]
            report = run_ab(srv.url, requests=n, concurrency=c).checked()
            after = [user_sys_s(p) for p in paths]
            (user, sys_), (main_user, main_sys) = (
                ((a[0] - b[0]) * 1e6 / n, (a[1] - b[1]) * 1e6 / n)
                for a, b in zip(after, before, strict=True)
            )
            share = 100 * sys_ / max(user + sys_, 1e-9)
            print(f"{kind} c{c}: rps {report.requests_per_second:.0f} process user {user:.0f} "
                  f"sys {sys_:.0f} us/req (sys {share:.0f} %); main user {main_user:.0f} "
                  f"sys {main_sys:.0f}", flush=True)


if __name__ == "__main__":
    main()
