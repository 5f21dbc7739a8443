"""How often ab's first burst overflows aiohttp's listen backlog (128), against C.

    .venv/bin/python tools/trace/race_edge.py [RUNS]

For C = 100, 130, 160, 200 and 250 (aiohttp, asyncio.sleep(1), one server per C, as validate
runs a point's repeats), RUNS (default 6) runs of ab -n 3C -c C, each with the system-wide
TcpExtListenOverflows counter read before and after (nstat -az). A run "lost SYNs" when the
counter moved and ab's longest connect is near 1 s or more (a retransmitted SYN). The notes set
these frequencies beside the model's accept-queue peak for the same runs (`asim.sim.race`).
Summary in out/race_edge/summary.json.
"""

from __future__ import annotations

import json
import subprocess
import sys

from common import OUT, ab, log, numbers, server

DIR = OUT / "race_edge"
CONCURRENCY = (100, 130, 160, 200, 250)


def overflows() -> int:
    out = subprocess.run(["nstat", "-az", "TcpExtListenOverflows"],
                         capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        parts = line.split()
        if parts and parts[0] == "TcpExtListenOverflows":
            return int(parts[1])
    raise RuntimeError(f"nstat gave no TcpExtListenOverflows: {out!r}")


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 6
    DIR.mkdir(parents=True, exist_ok=True)
    rows = []
    for c in CONCURRENCY:
        with server("aiohttp", 1.0) as srv:
            for i in range(runs):
                before = overflows()
                r = ab(srv, 3 * c, c)
                dropped = overflows() - before
                p = numbers(r) if r.report is not None else {}
                connect_max = (p.get("connect") or {}).get("max")
                row = {"c": c, "run": i + 1, "overflows": dropped, "connect_max_ms": connect_max,
                       "rps": p.get("rps"), "time_taken_s": p.get("time_taken_s")}
                log(row)
                rows.append(row)
    (DIR / "summary.json").write_text(json.dumps(rows, indent=1))
    for c in CONCURRENCY:
        mine = [r for r in rows if r["c"] == c]
        lost = sum(1 for r in mine if r["overflows"] and (r["connect_max_ms"] or 0) >= 900)
        print(f"C = {c}: {lost} of {len(mine)} runs lost SYNs; requests/s "
              f"{sorted(r['rps'] for r in mine if r['rps'])}")


if __name__ == "__main__":
    main()
