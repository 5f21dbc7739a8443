"""How the servers' speed drifts over minutes, beside a pure-Python probe.

    .venv/bin/python tools/trace/drift.py SECONDS OUT.jsonl

Starts Django (one sync worker) and aiohttp, both sleep 0, once; then, for SECONDS, round after
round: a pure-Python probe (a 60,000-iteration dict/str loop, best of three, ns per iteration),
ab -n 1000 -c 1 against each server, ab -n 2000 -c 10 against aiohttp and ab -n 1000 -c 10
against Django, and /proc/stat's steal share over the round. One JSON line per round.
docs/notes/measurements.md section 27.1 has what it showed (minute medians, correlations).
"""

from __future__ import annotations

import json
import sys
import time
from contextlib import ExitStack
from pathlib import Path

from asim.lab.abrun import run_ab
from asim.lab.procs import ServerSpec, running_server

RUNS = (("django_c1", "django", 1000, 1), ("aiohttp_c1", "aiohttp", 1000, 1),
        ("aiohttp_c10", "aiohttp", 2000, 10), ("django_c10", "django", 1000, 10))


def probe_ns() -> float:
    """ns per iteration of a fixed pure-Python loop (dict, str, int work), best of 3 runs."""
    best = 1e9
    for _ in range(3):
        t0 = time.perf_counter_ns()
        d: dict[int, str] = {}
        for i in range(60000):
            d[i & 1023] = str(i)
            d.get(i >> 3)
        best = min(best, (time.perf_counter_ns() - t0) / 60000)
    return best


def cpu_times() -> list[int]:
    return [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]


def main() -> None:
    seconds, out = float(sys.argv[1]), Path(sys.argv[2])
    with ExitStack() as stack, out.open("w") as fh:
        servers = {kind: stack.enter_context(running_server(
            ServerSpec(kind=kind, sleep_s=0.0, workers=1))) for kind in ("django", "aiohttp")}
        for srv in servers.values():  # warm both
            run_ab(srv.url, requests=500, concurrency=1).checked()
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            before = cpu_times()
            row = {"t": time.time(), "probe_ns": probe_ns()}
            for name, kind, n, c in RUNS:
                report = run_ab(servers[kind].url, requests=n, concurrency=c).checked()
                row[name] = report.requests_per_second
            delta = [b - a for a, b in zip(before, cpu_times(), strict=True)]
            row["steal_pct"] = 100 * delta[7] / max(sum(delta), 1)
            fh.write(json.dumps(row) + "\n")
            fh.flush()
            print(json.dumps({k: round(v, 1) for k, v in row.items() if k != "t"}), flush=True)


if __name__ == "__main__":
    main()
